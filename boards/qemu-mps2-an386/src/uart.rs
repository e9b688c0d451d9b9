//! UART0 of the MPS2 (an Arm CMSDK APB UART): the control channel's serial line in the
//! `deploy` image, as a [`ByteStream`] for [`nanobpf_control::Serial`] (COBS framing).
//!
//! The CMSDK UART has a one-byte receive buffer and a one-byte transmit buffer, polled
//! through its state register; QEMU connects it to `-serial` (here a TCP socket on loopback)
//! and holds the line's bytes back while the receive buffer is full, so none is lost however
//! slowly the firmware polls. Register access is this module's only `unsafe`, besides the
//! LAN9118's.
#![allow(unsafe_code)]

use nanobpf_control::ByteStream;

/// UART0's registers in the MPS2 memory map (AN386: the CMSDK APB UART at 0x4000_4000).
const BASE: usize = 0x4000_4000;
const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
/// STATE: transmit buffer full, receive buffer full.
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
/// CTRL: transmitter and receiver enabled.
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
/// The smallest divider the UART takes (QEMU refuses to run one below 16); under QEMU the
/// rate is the socket's anyway.
const DIVIDER: u32 = 16;

/// UART0, as a byte stream. (A unit type: the registers are the state.)
#[derive(Debug)]
pub struct Uart0(());

/// The UART's errors: none (a full transmit buffer is waited out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartError {}

impl Uart0 {
    /// Enables UART0's receiver and transmitter. Only one may exist (the `deploy` image
    /// makes it once, in `main`).
    pub fn start() -> Uart0 {
        let u = Uart0(());
        u.write_reg(BAUDDIV, DIVIDER);
        u.write_reg(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        u
    }

    fn read_reg(&self, off: usize) -> u32 {
        // SAFETY: `BASE` is UART0's register block in the MPS2 memory map and `off` one of the
        // word-aligned register offsets above; a volatile 32-bit read of a device register
        // touches no memory Rust owns.
        unsafe { core::ptr::read_volatile((BASE + off) as *const u32) }
    }

    fn write_reg(&self, off: usize, value: u32) {
        // SAFETY: as in `read_reg`: a word-aligned register of the device's block, which no
        // Rust object occupies.
        unsafe { core::ptr::write_volatile((BASE + off) as *mut u32, value) }
    }
}

impl ByteStream for Uart0 {
    type Error = UartError;

    fn read_byte(&mut self) -> Result<Option<u8>, UartError> {
        if self.read_reg(STATE) & STATE_RX_FULL == 0 {
            return Ok(None);
        }
        Ok(Some(self.read_reg(DATA) as u8))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), UartError> {
        for &b in bytes {
            while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
            self.write_reg(DATA, u32::from(b));
        }
        Ok(())
    }
}
