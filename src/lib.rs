//! qpmem: configure QEMU's emulated persistent memory, see where QEMU
//! will put it, and run the VM.
//!
//! The core, [`core`](mod@self::core), is pure data and functions that do
//! no I/O: [`size`](self::core::size) (QEMU's size syntax),
//! [`profile`](self::core::profile) (the saved set-up),
//! [`device`](self::core::device) and [`machine`](self::core::machine)
//! (one file per device kind and machine family),
//! [`layout`](mod@self::core::layout) (QEMU's placement),
//! [`cmdline`](self::core::cmdline) (argv, shell form, import),
//! [`diagnose`](self::core::diagnose) (the rule table) and
//! [`map`](self::core::map). The shells gather facts and act:
//! [`host`], [`store`], [`qemu`], [`vm`], [`console`], [`guest`] (a
//! throwaway Linux guest to see what the kernel makes of the devices),
//! [`verify`] and [`tui`]; [`files`] guards every file qpmem did not
//! write itself. `tests/architecture.rs` holds that boundary.

// A panic is a bug: outside tests nothing unwraps or expects.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// Unsafe code only where it is allowed by name, with its SAFETY comment
// (the two `pre_exec` closures).
#![deny(unsafe_code)]

pub mod clipboard;
pub mod console;
pub mod core;
pub mod files;
pub mod guest;
pub mod host;
pub mod qemu;
pub mod rundir;
pub mod source;
pub mod store;
pub mod terminal;
pub mod tui;
pub mod verify;
pub mod vm;

pub use self::core::facts::HostFacts;
pub use self::core::layout::{layout, Layout};

/// Lock `m`, taking the value even if a thread panicked while holding it:
/// every value qpmem shares between threads stays usable after a panic
/// (a buffer, a screen, a queue), and its reader must go on.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
pub use self::core::profile::{Dimm, Profile};
pub use self::core::size::Size;

/// What the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod testutil {
    use std::path::Path;

    /// A FIFO at `path` (mode 0600).
    pub fn mkfifo(path: &Path) {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
    }

    /// What `f` returns, run on a thread of its own; panics when it takes
    /// over 5 s (opening a FIFO without a peer blocks forever).
    pub fn promptly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("still running after 5 s: it hangs")
    }
}
