//! libpcap, loaded when it is first needed (`dlopen`), never linked: it compiles tcpdump
//! expressions for `nanobpf filter` and its engine (`pcap_offline_filter`) referees ours. A
//! machine without libpcap builds and runs everything else; [`Libpcap::get`] then says what to
//! install.
//!
//! This is the host tool's only foreign code, so its only `unsafe`. The C declarations are
//! libpcap's stable API (`pcap/pcap.h`, `pcap/bpf.h`), unchanged since libpcap 1.0:
//!
//! ```c
//! pcap_t *pcap_open_dead(int linktype, int snaplen);
//! int pcap_compile(pcap_t *, struct bpf_program *, const char *, int optimize, bpf_u_int32 netmask);
//! void pcap_freecode(struct bpf_program *);
//! int pcap_offline_filter(const struct bpf_program *, const struct pcap_pkthdr *, const u_char *);
//! char *pcap_geterr(pcap_t *);
//! void pcap_close(pcap_t *);
//! const char *pcap_lib_version(void);
//! ```
#![allow(unsafe_code)]

use crate::capture::{Frame, SNAPLEN};
use nanobpf_core::SockFilter;
use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

/// The names tried, in order: the runtime library of current distributions, Debian's
/// `libpcap0.8` package, and the development symlink.
pub const SONAMES: [&str; 3] = ["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"];

/// What to install when libpcap is missing.
pub const INSTALL_HINT: &str =
    "install libpcap (Debian/Ubuntu: apt install libpcap0.8; Fedora: dnf install libpcap)";

/// The variable that turns "libpcap is missing" from a skipped test into a failed one (CI
/// sets it).
pub const REQUIRE_VAR: &str = "NANOBPF_REQUIRE_LIBPCAP";

/// `PCAP_NETMASK_UNKNOWN`: no netmask, as tcpdump uses when reading a file.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct bpf_program`.
#[repr(C)]
struct RawProgram {
    bf_len: c_uint,
    bf_insns: *mut BpfInsn,
}

/// `struct timeval` (Linux and the BSDs: two `long`s).
#[repr(C)]
struct Timeval {
    tv_sec: c_long,
    tv_usec: c_long,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: Timeval,
    caplen: u32,
    len: u32,
}

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Compile =
    unsafe extern "C" fn(*mut c_void, *mut RawProgram, *const c_char, c_int, u32) -> c_int;
type FreeCode = unsafe extern "C" fn(*mut RawProgram);
type OfflineFilter = unsafe extern "C" fn(*const RawProgram, *const PktHdr, *const u8) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type Close = unsafe extern "C" fn(*mut c_void);
type LibVersion = unsafe extern "C" fn() -> *const c_char;

/// A copy of the C string at `p`, or `None` for null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid during the call.
unsafe fn c_string(p: *const c_char) -> Option<String> {
    // SAFETY: the caller's contract, for a pointer that is not null.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The loaded library and the functions nanobpf calls.
#[derive(Debug)]
pub struct Libpcap {
    soname: &'static str,
    version: String,
    open_dead: OpenDead,
    compile: Compile,
    freecode: FreeCode,
    offline_filter: OfflineFilter,
    geterr: GetErr,
    close: Close,
    /// Serialises `pcap_compile` (not reentrant before libpcap 1.8).
    compiling: Mutex<()>,
    /// Keeps the code mapped: the function pointers above point into it.
    _lib: libloading::Library,
}

/// libpcap could not be loaded: what was tried and why the last attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The loader's message for the last name tried.
    pub reason: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "libpcap not found (tried {}): {INSTALL_HINT}",
            SONAMES.join(", ")
        )
    }
}

impl std::error::Error for Missing {}

static LOADED: OnceLock<Result<Libpcap, Missing>> = OnceLock::new();

impl Libpcap {
    /// libpcap, loaded on first use and kept for the life of the process.
    ///
    /// # Errors
    /// [`Missing`] when no library of [`SONAMES`] loads or one lacks a function.
    pub fn get() -> Result<&'static Libpcap, &'static Missing> {
        LOADED.get_or_init(Libpcap::load).as_ref()
    }

    /// Whether the tests that need libpcap must fail, not skip, without it: [`REQUIRE_VAR`]
    /// is `1`.
    pub fn required() -> bool {
        std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
    }

    fn load() -> Result<Libpcap, Missing> {
        let mut reason = String::new();
        for soname in SONAMES {
            // SAFETY: loading libpcap runs its initialisers, which only set up its own state
            // (libpcap has no constructors with preconditions); the name is a fixed soname.
            let lib = match unsafe { libloading::Library::new(soname) } {
                Ok(lib) => lib,
                Err(e) => {
                    reason = e.to_string();
                    continue;
                }
            };
            match Libpcap::bind(soname, lib) {
                Ok(l) => return Ok(l),
                Err(e) => reason = e.to_string(),
            }
        }
        Err(Missing { reason })
    }

    fn bind(soname: &'static str, lib: libloading::Library) -> Result<Libpcap, libloading::Error> {
        // Each `get`: the type given is the C prototype of the symbol in libpcap's headers (see
        // the module documentation), and the pointer copied out stays valid because the
        // `Library` is kept in the same struct and never unloaded before it.
        // SAFETY: as just said.
        let open_dead = *unsafe { lib.get::<OpenDead>(b"pcap_open_dead\0") }?;
        // SAFETY: as above.
        let compile = *unsafe { lib.get::<Compile>(b"pcap_compile\0") }?;
        // SAFETY: as above.
        let freecode = *unsafe { lib.get::<FreeCode>(b"pcap_freecode\0") }?;
        // SAFETY: as above.
        let offline_filter = *unsafe { lib.get::<OfflineFilter>(b"pcap_offline_filter\0") }?;
        // SAFETY: as above.
        let geterr = *unsafe { lib.get::<GetErr>(b"pcap_geterr\0") }?;
        // SAFETY: as above.
        let close = *unsafe { lib.get::<Close>(b"pcap_close\0") }?;
        // SAFETY: as above.
        let lib_version = *unsafe { lib.get::<LibVersion>(b"pcap_lib_version\0") }?;
        // SAFETY: `pcap_lib_version` takes nothing and returns a static string.
        let p = unsafe { lib_version() };
        // SAFETY: the string is static, NUL-terminated (or null, which `c_string` checks).
        let version = unsafe { c_string(p) }.unwrap_or_default();
        Ok(Libpcap {
            soname,
            version,
            open_dead,
            compile,
            freecode,
            offline_filter,
            geterr,
            close,
            compiling: Mutex::new(()),
            _lib: lib,
        })
    }

    /// The name the library was loaded by.
    pub fn soname(&self) -> &'static str {
        self.soname
    }

    /// `pcap_lib_version()`: for example `libpcap version 1.10.3 (with TPACKET_V3)`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Compiles a tcpdump expression, optimised as tcpdump does, for `linktype` (1 is
    /// Ethernet).
    ///
    /// # Errors
    /// libpcap's message for an expression it rejects (or one with a NUL byte).
    pub fn compile(&'static self, expr: &str, linktype: u32) -> Result<BpfProgram, String> {
        let c_expr = CString::new(expr).map_err(|_| format!("'{expr}': contains a NUL byte"))?;
        let linktype = c_int::try_from(linktype).map_err(|_| format!("link type {linktype}"))?;
        let _guard = self.compiling.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: `pcap_open_dead` takes two integers and returns an owned handle or null.
        let handle = unsafe { (self.open_dead)(linktype, SNAPLEN as c_int) };
        if handle.is_null() {
            return Err(format!("'{expr}': pcap_open_dead failed"));
        }
        let mut raw = RawProgram {
            bf_len: 0,
            bf_insns: std::ptr::null_mut(),
        };
        // SAFETY: `handle` is a live handle from `pcap_open_dead`, `raw` a writable
        // `bpf_program`, `c_expr` a NUL-terminated string alive for the call.
        let rc = unsafe { (self.compile)(handle, &mut raw, c_expr.as_ptr(), 1, NETMASK_UNKNOWN) };
        let result = if rc == 0 {
            Ok(BpfProgram { lib: self, raw })
        } else {
            // SAFETY: `handle` is live; `pcap_geterr` returns its error buffer.
            let p = unsafe { (self.geterr)(handle) };
            // SAFETY: the buffer is NUL-terminated and lives until `pcap_close` below; it is
            // copied here.
            let msg = unsafe { c_string(p) }.unwrap_or_else(|| "syntax error".into());
            Err(format!("'{expr}': {msg}"))
        };
        // SAFETY: `handle` came from `pcap_open_dead` and is closed once; a compiled program
        // does not refer to it.
        unsafe { (self.close)(handle) };
        result
    }
}

/// A program compiled by libpcap, freed with `pcap_freecode` when dropped.
pub struct BpfProgram {
    lib: &'static Libpcap,
    raw: RawProgram,
}

// SAFETY: the program is memory libpcap allocated for this value alone; after compilation it
// is only read (by `pcap_offline_filter`, which keeps no state) and freed once, on drop.
unsafe impl Send for BpfProgram {}
// SAFETY: shared access only reads the instructions (see `Send`).
unsafe impl Sync for BpfProgram {}

impl std::fmt::Debug for BpfProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpfProgram")
            .field("insns", &self.raw.bf_len)
            .finish_non_exhaustive()
    }
}

impl BpfProgram {
    /// The classic instructions.
    pub fn instructions(&self) -> Vec<SockFilter> {
        if self.raw.bf_insns.is_null() {
            return Vec::new();
        }
        // SAFETY: a successful `pcap_compile` leaves `bf_insns` pointing to `bf_len`
        // initialised instructions, owned by this value until `pcap_freecode` in `drop`.
        let insns =
            unsafe { std::slice::from_raw_parts(self.raw.bf_insns, self.raw.bf_len as usize) };
        insns
            .iter()
            .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect()
    }

    /// Whether libpcap's own engine (`pcap_offline_filter`) keeps the frame.
    pub fn matches(&self, frame: &Frame) -> bool {
        let caplen = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
        let hdr = PktHdr {
            ts: Timeval {
                tv_sec: c_long::try_from(frame.ts.as_secs()).unwrap_or(c_long::MAX),
                tv_usec: c_long::from(frame.ts.subsec_micros() as i32),
            },
            caplen,
            len: frame.orig_len.max(caplen),
        };
        // SAFETY: the program is live and compiled; `hdr.caplen` is exactly the number of
        // bytes `frame.data` holds, the only bytes the filter reads (libpcap's interpreter
        // checks every load against `caplen`).
        unsafe { (self.lib.offline_filter)(&self.raw, &hdr, frame.data.as_ptr()) != 0 }
    }
}

impl Drop for BpfProgram {
    fn drop(&mut self) {
        // SAFETY: the program came from a successful `pcap_compile` and is freed only here.
        unsafe { (self.lib.freecode)(&mut self.raw) };
    }
}
