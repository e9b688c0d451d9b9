//! Little-endian reads from untrusted bytes: every read is bounds-checked and returns `None`
//! past the end, never panics.

/// `len` bytes at `off`, if they are all inside `bytes`.
#[inline]
pub(super) fn slice(bytes: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    bytes.get(start..start.checked_add(len)?)
}

#[inline]
fn array<const N: usize>(bytes: &[u8], off: u64) -> Option<[u8; N]> {
    slice(bytes, off, N as u64)?.try_into().ok()
}

/// The `u8` at `off`.
#[inline]
pub(super) fn u8_at(bytes: &[u8], off: u64) -> Option<u8> {
    bytes.get(usize::try_from(off).ok()?).copied()
}

/// The little-endian `u16` at `off`.
#[inline]
pub(super) fn u16_at(bytes: &[u8], off: u64) -> Option<u16> {
    array(bytes, off).map(u16::from_le_bytes)
}

/// The little-endian `u32` at `off`.
#[inline]
pub(super) fn u32_at(bytes: &[u8], off: u64) -> Option<u32> {
    array(bytes, off).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `off`.
#[inline]
pub(super) fn u64_at(bytes: &[u8], off: u64) -> Option<u64> {
    array(bytes, off).map(u64::from_le_bytes)
}

/// Why a string could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StrError {
    /// The offset is past the end of the table, or the string has no terminating NUL.
    OutOfBounds,
    /// The bytes are not UTF-8.
    NotUtf8,
}

/// The NUL-terminated string at `off` of a string table.
pub(super) fn cstr(table: &[u8], off: u64) -> Result<&str, StrError> {
    let start = usize::try_from(off).map_err(|_| StrError::OutOfBounds)?;
    let rest = table.get(start..).ok_or(StrError::OutOfBounds)?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(StrError::OutOfBounds)?;
    let bytes = rest.get(..len).ok_or(StrError::OutOfBounds)?;
    core::str::from_utf8(bytes).map_err(|_| StrError::NotUtf8)
}
