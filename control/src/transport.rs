//! The transport: anything that carries datagrams (UDP through smoltcp or std, a serial line
//! through [`Serial`](crate::Serial), which frames a byte stream with COBS). Kept apart from
//! the state machine, as small as a driver trait.

use nanobpf_hal::Counters;

use crate::device::{Device, Target};
use crate::wire::MAX_FRAME;

/// A datagram transport: whole datagrams in, whole datagrams out, each with its peer.
pub trait Datagrams {
    /// Who sent a datagram, to answer them.
    type Peer: Copy;
    /// The transport's error.
    type Error: core::fmt::Debug;

    /// Receives one datagram into `buf` (truncated to its length); `Ok(None)` when none is
    /// waiting.
    ///
    /// # Errors
    /// The transport's.
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(usize, Self::Peer)>, Self::Error>;

    /// Sends `bytes` as one datagram to `to`.
    ///
    /// # Errors
    /// The transport's.
    fn send(&mut self, bytes: &[u8], to: Self::Peer) -> Result<(), Self::Error>;
}

impl<T: Target, const N: usize> Device<'_, T, N> {
    /// Receives at most one datagram from `io` and answers it; returns whether one arrived.
    /// `counters` are the runner's, for status.
    ///
    /// # Errors
    /// The transport's.
    pub fn poll<D: Datagrams>(
        &mut self,
        io: &mut D,
        counters: &Counters,
    ) -> Result<bool, D::Error> {
        let mut rx = [0u8; MAX_FRAME];
        let Some((len, peer)) = io.recv(&mut rx)? else {
            return Ok(false);
        };
        let mut tx = [0u8; MAX_FRAME];
        let request = rx.get(..len).unwrap_or(&[]);
        if let Some(n) = self.handle(request, &mut tx, counters) {
            io.send(tx.get(..n).unwrap_or(&[]), peer)?;
        }
        Ok(true)
    }
}
