//! The driver: owns the crossterm terminal, turns terminal events into
//! [`Event`]s, performs the app's [`Effect`]s (save, list, open, copy,
//! launch, QEMU detection) and redraws after each event. It blocks on the
//! terminal between events: no timer, no redraw while idle.
//!
//! The terminal is restored on quit, on error (the guard's `Drop`), on
//! panic (a panic hook) and on SIGTERM/SIGHUP (a signal thread).

use super::app::{App, Effect, Event, Setup};
use super::profiles;
use super::theme::Theme;
use super::ui;
use crate::clipboard;
use crate::qemu;
use crate::source::Loaded;
use crate::store::{self, Settings, Store};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the TUI starts on.
pub struct Options {
    pub loaded: Loaded,
    /// `--theme NAME|PATH`.
    pub theme: Option<String>,
    /// A message for the status bar at start.
    pub status: Option<String>,
}

/// Whether the terminal is in the TUI's mode (raw, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Put the terminal back as it was; safe to call more than once and from
/// any thread.
pub fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let mut out = std::io::stdout();
        let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
        let _ = out.flush();
    }
}

/// An I/O error with what was being done.
fn context(what: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Restores the terminal when dropped (normal return and errors).
struct Guard;

impl Guard {
    fn enter() -> io::Result<Guard> {
        enable_raw_mode().map_err(context("cannot put the terminal in raw mode"))?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = Guard;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            cursor::Hide
        )
        .map_err(context("cannot set up the terminal"))?;
        Ok(guard)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

/// SIGTERM and SIGHUP: restore the terminal and exit 128+signal.
fn install_signal_thread() {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP]) {
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                restore_terminal();
                std::process::exit(128 + sig);
            }
        });
    }
}

/// Run the TUI until the user quits.
pub fn run(opts: Options) -> io::Result<()> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(io::Error::other(
            "the interactive editor needs a terminal; use `qpmem map` or `qpmem render` in scripts",
        ));
    }
    let store = Store::from_env().ok();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (theme, theme_problem) = Theme::load(
        opts.theme.as_deref(),
        store.as_ref().map(Store::config_dir),
        no_color,
    );
    let mut app = App::new(Setup {
        profile: opts.loaded.profile,
        path: opts.loaded.path,
        name: opts.loaded.name,
        notes: opts.loaded.notes,
        theme,
        profiles_dir: store.as_ref().map(Store::profiles_dir),
        status: theme_problem.or(opts.status),
    });
    let mut driver = Driver {
        store,
        clipboard: clipboard::Env::detect(),
    };
    let (w, h) = crossterm::terminal::size().map_err(context("cannot read the terminal size"))?;
    app.handle(Event::Resize(w, h));

    install_panic_hook();
    let _guard = Guard::enter()?;
    install_signal_thread();
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    terminal.draw(|f| ui::draw(f, &app))?;
    // After the first frame: nothing slow before the user sees something.
    if let (Some(store), Some(name)) = (&driver.store, &app.name) {
        let _ = Settings::set_last_profile(store, name);
    }
    let start = app.start();
    driver.perform(&mut app, start);
    terminal.draw(|f| ui::draw(f, &app))?;

    while !app.quit {
        let ev = match event::read().map_err(context("reading the terminal"))? {
            event::Event::Key(k) => Event::Key(k),
            event::Event::Mouse(m) => Event::Mouse(m),
            event::Event::Resize(w, h) => Event::Resize(w, h),
            _ => continue,
        };
        let effects = app.handle(ev);
        driver.perform(&mut app, effects);
        if app.quit {
            break;
        }
        terminal.draw(|f| ui::draw(f, &app))?;
    }
    Ok(())
}

/// What the effects need: the profile store and the clipboard helpers.
struct Driver {
    store: Option<Store>,
    clipboard: clipboard::Env,
}

impl Driver {
    /// Perform effects, feeding their results back until none are left.
    fn perform(&mut self, app: &mut App, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            if let Some(ev) = self.perform_one(effect) {
                queue.extend(app.handle(ev));
            }
        }
    }

    fn store(&self) -> Result<&Store, String> {
        self.store
            .as_ref()
            .ok_or_else(|| "no home directory: the profile store is unavailable".to_string())
    }

    fn perform_one(&mut self, effect: Effect) -> Option<Event> {
        match effect {
            Effect::Quit => None,
            Effect::Save {
                path,
                name,
                profile,
            } => Some(Event::Saved(self.save(&path, name.as_deref(), &profile))),
            Effect::ListProfiles => {
                Some(Event::ProfilesListed(self.store().and_then(profiles::list)))
            }
            Effect::Open(r) => Some(Event::Opened(
                self.store()
                    .and_then(|s| profiles::load(s, &r))
                    .map(Box::new),
            )),
            Effect::Copy(text) => {
                let report = clipboard::copy(&text, &mut io::stdout(), &self.clipboard);
                let summary = report.summary();
                Some(Event::Copied(if report.ways.is_empty() {
                    Err(summary)
                } else {
                    Ok(summary)
                }))
            }
            Effect::Launch(_) => Some(Event::Launched(launch())),
            Effect::DetectQemu(binary) => Some(Event::QemuDetected(
                qemu::find_binary(&binary)
                    .and_then(|b| qemu::read_version(&b))
                    .map_err(|e| e.to_string()),
            )),
        }
    }

    /// Save as the stored profile `name` (and remember it), or to `path`.
    fn save(
        &self,
        path: &Path,
        name: Option<&str>,
        profile: &crate::profile::Profile,
    ) -> Result<std::path::PathBuf, String> {
        if let (Some(name), Ok(store)) = (name, self.store()) {
            if store.profile_path(name).ok().as_deref() == Some(path) {
                let written = store.save(name, profile).map_err(|e| e.to_string())?;
                let _ = Settings::set_last_profile(store, name);
                return Ok(written);
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        store::save_profile(path, profile).map_err(|e| e.to_string())?;
        Ok(path.to_path_buf())
    }
}

/// Launching lands with issue 6.
fn launch() -> Result<String, String> {
    Err("launch: not available yet".to_string())
}
