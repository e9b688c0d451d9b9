//! Progress on long work: a bar over the frames of a long replay, a spinner on a long
//! verification. Drawn on stderr, and only when both stdout and stderr are terminals, so
//! nothing reaches a pipe, a file or a `--json` consumer.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether progress may be drawn: stdout and stderr are both terminals.
pub fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// A bar over `len` steps labelled `what`, when `wanted` and [`interactive`].
pub fn bar(wanted: bool, len: u64, what: &str) -> Option<ProgressBar> {
    if !wanted || !interactive() {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} frames, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    Some(bar)
}

/// A ticking spinner with the message `what()`, when `wanted` and [`interactive`].
pub fn spinner(wanted: bool, what: impl FnOnce() -> String) -> Option<ProgressBar> {
    if !wanted || !interactive() {
        return None;
    }
    let s = ProgressBar::new_spinner();
    s.set_message(what());
    s.enable_steady_tick(Duration::from_millis(100));
    Some(s)
}

/// A bar over `len` bytes labelled `what`, when [`interactive`].
pub fn bytes_bar(len: u64, what: &str) -> Option<ProgressBar> {
    if !interactive() {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    Some(bar)
}
