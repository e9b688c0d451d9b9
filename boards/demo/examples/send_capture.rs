//! Sends the demo's capture, one UDP datagram per frame, to a QEMU `socket` netdev on the
//! loopback interface: the host side of the `lan9118` board image. Frames shorter than an
//! Ethernet header are not sent (the controller would discard them). Both addresses must be
//! loopback addresses; anything else is refused.
//!
//! Usage: `send_capture TO FROM` (QEMU's `localaddr=TO`, `udp=FROM`), for example
//! `send_capture 127.0.0.1:47012 127.0.0.1:47011`.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use nanobpf_board_demo::{Capture, CAPTURE};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [to, from] = args.as_slice() else {
        eprintln!("usage: send_capture TO FROM (loopback addresses, host:port)");
        std::process::exit(2);
    };
    let parse = |s: &str| -> SocketAddr {
        let a: SocketAddr = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(a.ip().is_loopback(), "{a} is not a loopback address");
        a
    };
    let (to, from) = (parse(to), parse(from));
    let socket = UdpSocket::bind(from).unwrap_or_else(|e| panic!("bind {from}: {e}"));
    let mut sent = 0;
    for frame in Capture::parse(&CAPTURE).expect("capture").frames() {
        let frame = frame.expect("frame");
        if frame.len() < 14 {
            continue;
        }
        socket
            .send_to(frame, to)
            .unwrap_or_else(|e| panic!("send to {to}: {e}"));
        sent += 1;
        // The controller's receive FIFO holds about 10 KiB: pace the frames so the firmware
        // drains it long before it fills.
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("sent {sent} frames to {to}");
}
