//! The terminal while a full-screen view runs (the editor, `qpmem launch`):
//! raw mode, the alternate screen, bracketed paste and the mouse (both
//! scroll with the wheel). Whatever happens it is put back: when the [`Session`] is
//! dropped (return or error), on panic (a hook) and on SIGTERM/SIGHUP.
//!
//! SIGTERM and SIGHUP (a closed terminal) ask for an orderly exit: a signal
//! thread records the signal ([`terminating`]) and wakes the running loop
//! (callbacks given to [`on_terminate`]), which returns normally so that a
//! running VM gets its ACPI power-down, QMP `quit`, then kill (`Vm`'s
//! `Drop`), runtime directories are removed and the terminal is restored;
//! `main` then exits 128+signal. A second signal, or [`HARD_EXIT_AFTER`]
//! without an exit, restores the terminal and exits at once; QEMU children
//! then die with the process (see [`crate::qemu::die_with_parent`]), which
//! is also what happens on SIGKILL.

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

/// How long an orderly exit after SIGTERM/SIGHUP may take before qpmem
/// exits at once: the VM's power-down grace and its `quit`, with room.
pub const HARD_EXIT_AFTER: Duration = Duration::from_secs(20);

/// The SIGTERM/SIGHUP received, 0 for none.
static TERMINATING: AtomicI32 = AtomicI32::new(0);
type Waker = Box<dyn Fn() + Send>;
static WAKERS: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// The signal (SIGTERM or SIGHUP) qpmem was asked to exit by, if any:
/// loops return when it is set, and `main` exits 128+signal.
pub fn terminating() -> Option<i32> {
    match TERMINATING.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Call `wake` (from the signal thread) when SIGTERM or SIGHUP arrives,
/// so that a loop blocked waiting for input looks at [`terminating`].
pub fn on_terminate(wake: impl Fn() + Send + 'static) {
    crate::lock(&WAKERS).push(Box::new(wake));
}

/// Whether the terminal is in full-screen mode now.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOKS: Once = Once::new();

/// Put the terminal back as it was; safe to call more than once and from
/// any thread.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(
            out,
            DisableMouseCapture,
            DisableBracketedPaste,
            LeaveAlternateScreen,
            cursor::Show
        );
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// An I/O error that says what was being done.
fn context(what: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Full-screen mode, left when dropped.
pub struct Session(());

impl Session {
    /// Enter full-screen mode.
    pub fn enter() -> io::Result<Session> {
        HOOKS.call_once(install_hooks);
        enable_raw_mode().map_err(context("cannot put the terminal in raw mode"))?;
        ACTIVE.store(true, Ordering::SeqCst);
        let session = Session(());
        let mut out = io::stdout();
        execute!(
            out,
            EnterAlternateScreen,
            EnableBracketedPaste,
            EnableMouseCapture,
            cursor::Hide
        )
        .map_err(context("cannot set up the terminal"))?;
        Ok(session)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// A panic hook that restores first (so the message is readable), and a
/// thread that turns SIGTERM and SIGHUP into an orderly exit (see the
/// module docs).
fn install_hooks() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    use signal_hook::consts::{SIGHUP, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP]) {
        let _ = std::thread::Builder::new()
            .name("qpmem-signals".into())
            .spawn(move || {
                let mut forever = signals.forever();
                let Some(sig) = forever.next() else { return };
                TERMINATING.store(sig, Ordering::SeqCst);
                for wake in crate::lock(&WAKERS).iter() {
                    wake();
                }
                // A second signal, or too long: exit now.
                std::thread::spawn(move || {
                    std::thread::sleep(HARD_EXIT_AFTER);
                    restore();
                    std::process::exit(128 + sig);
                });
                if forever.next().is_some() {
                    restore();
                    std::process::exit(128 + sig);
                }
            });
    }
}
