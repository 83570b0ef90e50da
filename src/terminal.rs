//! The terminal while a full-screen view runs (the editor, `qpmem launch`):
//! raw mode, the alternate screen, bracketed paste and the mouse (both
//! scroll with the wheel). Whatever happens it is put back: when the [`Session`] is
//! dropped (return or error), on panic (a hook) and on SIGTERM/SIGHUP (a
//! signal thread that restores, then exits 128+signal; QEMU children die
//! with the process, see [`crate::qemu::die_with_parent`]).

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

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
/// thread that turns SIGTERM and SIGHUP into restore-and-exit.
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
                if let Some(sig) = signals.forever().next() {
                    restore();
                    std::process::exit(128 + sig);
                }
            });
    }
}
