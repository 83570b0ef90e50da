//! The driver: owns the crossterm terminal, turns terminal events into
//! [`Event`]s, performs the app's [`Effect`]s (save, list, open, copy,
//! QEMU detection, launch) and redraws after each event. It blocks
//! between events: no timer and no redraw while idle (only a running VM's
//! view wakes once a second for its uptime). A launched VM's console view
//! ([`crate::vm::view::LaunchView`]) takes the screen and the keys until
//! it is left; then the editor is back.
//!
//! The terminal is restored on quit, on error, on panic and on
//! SIGTERM/SIGHUP: see [`crate::terminal`].

use super::app::{App, Setup};
use super::event::{Effect, Event, TaskError};
use super::keymap::Keymap;
use super::profiles;
use super::theme::Theme;
use super::ui;
use crate::clipboard;
use crate::console::FramePacer;
use crate::core::facts::HostFacts;
use crate::core::facts::QemuStatus;
use crate::core::profile::Profile;
use crate::host;
use crate::qemu::discover;
use crate::source::Loaded;
use crate::store::{self, Settings, Store};
use crate::terminal;
use crate::verify::{verify_with_progress, VerifyOptions};
use crate::vm::view::{LaunchView, ViewOutcome};
use crate::vm::{preflight, prepare, LaunchOptions, Notify, Vm, VmEvent, VmStatus, SHUTDOWN_GRACE};
use crossterm::event;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::collections::VecDeque;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// What the TUI starts on.
pub struct Options {
    pub loaded: Loaded,
    /// `--theme NAME|PATH`.
    pub theme: Option<String>,
    /// A message for the status bar at start.
    pub status: Option<String>,
}

/// An I/O error with what was being done.
fn context(what: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
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
    let (keys, keys_problem) = Keymap::load(store.as_ref().map(Store::config_dir));
    if let Some(p) = &keys_problem {
        // Also on stderr: it is still there after qpmem quits.
        eprintln!("qpmem: {}", crate::core::printable::printable(p));
    }
    let problems: Vec<String> = [theme_problem, keys_problem]
        .into_iter()
        .flatten()
        .collect();
    let mut app = App::new(Setup {
        profile: opts.loaded.profile,
        path: opts.loaded.path,
        name: opts.loaded.name,
        notes: opts.loaded.notes,
        theme,
        keys,
        profiles_dir: store.as_ref().map(Store::profiles_dir),
        status: (!problems.is_empty())
            .then(|| problems.join("; "))
            .or(opts.status),
    });
    let (tx, rx) = mpsc::channel::<Incoming>();
    let mut driver = Driver {
        store,
        clipboard: clipboard::Env::detect(),
        tx: tx.clone(),
        view: None,
        verify: None,
    };
    let (w, h) = crossterm::terminal::size().map_err(context("cannot read the terminal size"))?;
    app.handle(Event::Resize(w, h));

    let _session = terminal::Session::enter()?;
    let wake = tx.clone();
    terminal::on_terminate(move || {
        let _ = wake.send(Incoming::Terminate);
    });
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    terminal.draw(|f| ui::draw(f, &app))?;
    // After the first frame: nothing slow before the user sees something.
    if let (Some(store), Some(name)) = (&driver.store, &app.doc.name) {
        let _ = Settings::set_last_profile(store, name);
    }
    let start = app.start();
    driver.perform(&mut app, start);
    terminal.draw(|f| ui::draw(f, &app))?;

    // Terminal input arrives from its own thread, VM news from the VM's:
    // the loop blocks until one of them has something.
    std::thread::Builder::new()
        .name("qpmem-input".into())
        .spawn(move || loop {
            let msg = match event::read() {
                Ok(e) => Incoming::Term(e),
                Err(e) => Incoming::InputFailed(e),
            };
            let failed = matches!(msg, Incoming::InputFailed(_));
            if tx.send(msg).is_err() || failed {
                break;
            }
        })?;

    let mut pacer = FramePacer::default();
    while !app.quit {
        // While a VM runs, wake each second for its uptime (or sooner for
        // console output waiting to be drawn); otherwise sleep.
        let msg = if driver.view.is_some() {
            let wait = pacer.wait().unwrap_or(Duration::from_secs(1));
            match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            }
        };
        // A flooding console draws at the pacer's rate; everything else at once.
        let mut draw = true;
        match msg {
            Some(Incoming::InputFailed(e)) => return Err(context("reading the terminal")(e)),
            Some(Incoming::Vm(e)) => {
                if matches!(e, VmEvent::Console) {
                    draw = pacer.output();
                }
                driver.vm_event(&e);
                // What QEMU placed also goes on the editor's map.
                if let (VmEvent::Placement, Some(view)) = (&e, &driver.view) {
                    if let Some(c) = view.vm().placement() {
                        app.handle(Event::QemuPlaced(Box::new(c)));
                    }
                }
            }
            Some(Incoming::App(ev)) => {
                let effects = app.handle(ev);
                driver.perform(&mut app, effects);
            }
            Some(Incoming::Term(e)) => {
                if driver.view.is_some() {
                    if let Some(ev) = driver.view_input(e) {
                        let effects = app.handle(ev);
                        driver.perform(&mut app, effects);
                    }
                } else {
                    let ev = match e {
                        event::Event::Key(k) => Event::Key(k),
                        event::Event::Mouse(m) => Event::Mouse(m),
                        event::Event::Resize(w, h) => Event::Resize(w, h),
                        event::Event::Paste(text) => Event::Paste(text),
                        _ => continue,
                    };
                    let effects = app.handle(ev);
                    driver.perform(&mut app, effects);
                }
            }
            Some(Incoming::Terminate) | None => {}
        }
        // SIGTERM/SIGHUP: power a running guest off with the screen still
        // up, saying so, then leave; main exits 128+signal afterwards.
        if let Some(sig) = terminal::terminating() {
            if let Some(mut view) = driver.view.take() {
                view.on_terminate(sig);
                terminal.draw(|f| view.draw(f, f.area()))?;
                drop(view);
            }
            break;
        }
        if app.quit {
            break;
        }
        if !draw {
            continue;
        }
        match &driver.view {
            Some(view) => terminal.draw(|f| view.draw(f, f.area()))?,
            None => terminal.draw(|f| ui::draw(f, &app))?,
        };
        pacer.drawn();
    }
    driver.cancel_verify();
    Ok(())
}

/// What the main loop waits for.
enum Incoming {
    Term(event::Event),
    InputFailed(io::Error),
    Vm(VmEvent),
    /// An effect that runs in the background reports back.
    App(Event),
    /// SIGTERM or SIGHUP arrived (see [`terminal::terminating`]).
    Terminate,
}

/// A guest check running on its own thread.
struct Verifying {
    cancel: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// What the effects need: the profile store, the clipboard helpers, and
/// the running VM's view when there is one.
struct Driver {
    store: Option<Store>,
    clipboard: clipboard::Env,
    tx: mpsc::Sender<Incoming>,
    view: Option<LaunchView>,
    verify: Option<Verifying>,
}

impl Driver {
    /// Perform effects, feeding their results back until none are left.
    fn perform(&mut self, app: &mut App, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            if let Some(ev) = self.perform_one(app, effect) {
                queue.extend(app.handle(ev));
            }
        }
    }

    fn store(&self) -> Result<&Store, TaskError> {
        self.store.as_ref().ok_or(TaskError::NoStore)
    }

    fn perform_one(&mut self, app: &App, effect: Effect) -> Option<Event> {
        match effect {
            Effect::Quit => None,
            Effect::Save {
                path,
                name,
                profile,
            } => Some(Event::Saved(self.save(&path, name.as_deref(), &profile))),
            Effect::ListProfiles => Some(Event::ProfilesListed(
                self.store().and_then(|s| Ok(profiles::list(s)?)),
            )),
            Effect::Open(r) => Some(Event::Opened(
                self.store()
                    .and_then(|s| Ok(profiles::load(s, &r)?))
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
            Effect::Launch(profile) => {
                let plan = preflight(&profile, app.doc.qemu_version, &app.doc.notes);
                Some(Event::LaunchChecked(if plan.is_blocked() {
                    Err(TaskError::Blocked(plan.errors()))
                } else {
                    Ok(plan.changes())
                }))
            }
            Effect::StartVm(profile) => self.start_vm(app, &profile).err().map(Event::Launched),
            Effect::GatherHost(profile) => Some(Event::HostGathered(Box::new(HostFacts {
                qemu: discover::detect(None, &profile),
                ..host::gather(&profile)
            }))),
            Effect::RemoveProfile(name) => Some(Event::ProfileRemoved(
                self.store()
                    .and_then(|s| Ok(s.remove(&name)?))
                    .map(|_| name),
            )),
            Effect::RenameProfile { from, to } => Some(Event::ProfileRenamed(
                self.store()
                    .and_then(|s| Ok(s.rename(&from, &to)?))
                    .map(|path| (from, to, path)),
            )),
            Effect::Verify(profile) => {
                self.start_verify(profile);
                None
            }
            Effect::CancelVerify => {
                self.cancel_verify();
                None
            }
            Effect::DetectQemu(profile) => Some(Event::QemuDetected(
                match discover::detect(None, &profile) {
                    QemuStatus::Found { version, .. } => Ok(version),
                    QemuStatus::NotFound { wanted, reason, .. } => {
                        Err(TaskError::QemuNotFound { wanted, reason })
                    }
                    QemuStatus::NoVersion { path, reason } => {
                        Err(TaskError::QemuNoVersion { path, reason })
                    }
                    QemuStatus::NotChecked => Err(TaskError::QemuNotChecked),
                },
            )),
        }
    }

    /// Save as the stored profile `name` (and remember it), or to `path`.
    fn save(
        &self,
        path: &Path,
        name: Option<&str>,
        profile: &crate::core::profile::Profile,
    ) -> Result<std::path::PathBuf, TaskError> {
        if let (Some(name), Ok(store)) = (name, self.store()) {
            if store.profile_path(name).ok().as_deref() == Some(path) {
                let written = store.save(name, profile)?;
                let _ = Settings::set_last_profile(store, name);
                return Ok(written);
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| TaskError::CreateDir {
                path: dir.to_path_buf(),
                source: Arc::new(e),
            })?;
        }
        store::save_profile(path, profile)?;
        Ok(path.to_path_buf())
    }
}

impl Driver {
    /// Boot the guest check on its own thread; it reports stages and its
    /// verdict through the main loop's channel.
    fn start_verify(&mut self, profile: Profile) {
        self.cancel_verify();
        let cancel = Arc::new(AtomicBool::new(false));
        let tx = self.tx.clone();
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("qpmem-verify".into())
            .spawn(move || {
                let send = |e: Event| {
                    let _ = tx.send(Incoming::App(e));
                };
                let result = VerifyOptions::for_profile(&profile).and_then(|mut opts| {
                    opts.cancel = Some(flag);
                    verify_with_progress(&profile, &opts, |stage| {
                        send(Event::VerifyStage(stage.label().to_string()))
                    })
                });
                send(Event::Verified(
                    result
                        .map(Box::new)
                        .map_err(|e| TaskError::Verify(Arc::new(e))),
                ));
            });
        match spawned {
            Ok(thread) => self.verify = Some(Verifying { cancel, thread }),
            Err(e) => {
                let _ = self.tx.send(Incoming::App(Event::Verified(Err(
                    TaskError::VerifyThread(Arc::new(e)),
                ))));
            }
        }
    }

    /// Stop a running guest check and wait for its QEMU to be gone.
    fn cancel_verify(&mut self) {
        if let Some(v) = self.verify.take() {
            v.cancel.store(true, Ordering::SeqCst);
            let _ = v.thread.join();
        }
    }

    /// Create the missing files and start QEMU with its console view; the
    /// event to send when that fails.
    fn start_vm(&mut self, app: &App, profile: &Profile) -> Result<(), Result<String, TaskError>> {
        let fail = |e: TaskError| Err(Err(e));
        let plan = preflight(profile, app.doc.qemu_version, &app.doc.notes);
        if let Err(e) = prepare(&plan, true) {
            return fail(TaskError::Prepare(Arc::new(e)));
        }
        let binary = match discover::resolve(None, profile) {
            Ok(b) => b,
            Err(e) => return fail(TaskError::FindQemu(Arc::new(e))),
        };
        let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
        let mut opts = LaunchOptions::new(binary);
        // The console pane inside the view: borders and two status lines.
        opts.rows = rows.saturating_sub(4).max(1);
        opts.cols = cols.saturating_sub(2).max(1);
        let tx = self.tx.clone();
        let notify: Notify = Arc::new(move |e| {
            let _ = tx.send(Incoming::Vm(e));
        });
        match Vm::launch(profile, &opts, notify) {
            Ok(vm) => {
                self.view = Some(LaunchView::new(
                    vm,
                    format!("guest console: {}", profile.name),
                ));
                Ok(())
            }
            Err(e) => fail(TaskError::Launch(Arc::new(e))),
        }
    }

    fn vm_event(&mut self, e: &VmEvent) {
        if let Some(view) = &mut self.view {
            // Console output is drawn (and acknowledged) by the view.
            if !matches!(e, VmEvent::Console) {
                view.on_event(e);
            }
        }
    }

    /// Terminal input while the VM view is shown; the event for the app
    /// when the view is left.
    fn view_input(&mut self, e: event::Event) -> Option<Event> {
        let view = self.view.as_mut()?;
        match e {
            event::Event::Key(k) if view.handle_key(k) == ViewOutcome::Leave => {
                return self.view.take().map(finish_vm);
            }
            event::Event::Paste(p) => view.handle_paste(&p),
            event::Event::Mouse(m) => view.handle_mouse(m),
            _ => {}
        }
        None
    }
}

/// Stop the VM if it still runs and say how QEMU ended.
fn finish_vm(view: LaunchView) -> Event {
    let vm = view.into_vm();
    let status = vm.shutdown(SHUTDOWN_GRACE);
    let state = status.map(VmStatus::Exited).unwrap_or_else(|| vm.status());
    let stderr = vm.stderr_lines();
    drop(vm);
    Event::Launched(match status {
        Some(s) if s.code().is_some_and(|c| c != 0) => Err(TaskError::QemuFailed {
            state: state.to_string(),
            last: stderr.last().cloned(),
        }),
        _ => Ok(format!("QEMU {state}")),
    })
}
