//! The driver: owns the crossterm terminal, turns terminal events into
//! [`Event`]s, performs the app's [`Effect`]s (save, list, open, copy,
//! QEMU detection, launch) and redraws after each event. It blocks
//! between events: no timer and no redraw while idle. A launch runs the
//! launch loop ([`super::launch::run`], the one `qpmem launch` runs): the
//! VM's view takes the screen and the keys until it is left; then the
//! editor is back, with what QEMU placed on its map.
//!
//! The terminal is restored on quit, on error, on panic and on
//! SIGTERM/SIGHUP: see [`crate::terminal`].

use super::app::{App, Setup};
use super::event::{Effect, Event, LaunchCheck, TaskError};
use super::keymap::Keymap;
use super::launch::{self, Incoming, Launch, LaunchError};
use super::profiles;
use super::theme::Theme;
use super::ui;
use crate::clipboard;
use crate::core::facts::{HostFacts, QemuStatus};
use crate::core::profile::Profile;
use crate::host;
use crate::qemu::discover;
use crate::source::Loaded;
use crate::store::{self, Settings, Store};
use crate::terminal;
use crate::verify::{verify_with_progress, VerifyOptions};
use crate::vm::{preflight, prepare, LaunchOptions};
use crossterm::event;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::collections::VecDeque;
use std::io::{self, IsTerminal, Stdout};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

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
    let (theme, theme_problem) = Theme::for_terminal(opts.theme.as_deref(), store.as_ref());
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
    let (w, h) = crossterm::terminal::size().map_err(context("cannot read the terminal size"))?;
    app.handle(Event::Resize(w, h));

    let _session = terminal::Session::enter()?;
    let (tx, rx) = mpsc::channel::<Incoming<Event>>();
    launch::wake_on_terminate(tx.clone());
    let mut driver = Driver {
        store,
        clipboard: clipboard::Env::detect(),
        tx: tx.clone(),
        rx,
        terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
        verify: None,
        later: Vec::new(),
        broken: None,
    };
    driver.terminal.clear()?;
    driver.terminal.draw(|f| ui::draw(f, &app))?;
    // After the first frame: nothing slow before the user sees something.
    if let (Some(store), Some(name)) = (&driver.store, &app.doc.name) {
        let _ = Settings::set_last_profile(store, name);
    }
    let start = app.start();
    driver.perform(&mut app, start);
    driver.terminal.draw(|f| ui::draw(f, &app))?;

    // Terminal input arrives from its own thread, background work reports
    // on the same channel: the loop blocks until one of them has something.
    launch::spawn_input(tx)?;

    while !app.quit {
        let Ok(msg) = driver.rx.recv() else { break };
        match msg {
            Incoming::InputFailed(e) => return Err(context("reading the terminal")(e)),
            Incoming::Other(ev) => {
                let effects = app.handle(ev);
                driver.perform(&mut app, effects);
            }
            Incoming::Term(e) => {
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
            // News from a VM that has been stopped already.
            Incoming::Vm(_) | Incoming::Terminate => {}
        }
        if let Some(e) = driver.broken.take() {
            return Err(e);
        }
        // SIGTERM/SIGHUP: leave (a running VM was powered off by the
        // launch loop); main exits 128+signal afterwards.
        if terminal::terminating().is_some() || app.quit {
            break;
        }
        driver.terminal.draw(|f| ui::draw(f, &app))?;
    }
    driver.cancel_verify();
    Ok(())
}

/// A guest check running on its own thread.
struct Verifying {
    cancel: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// What the effects need: the profile store, the clipboard helpers, the
/// terminal and the channel (a launch runs its loop on them).
struct Driver {
    store: Option<Store>,
    clipboard: clipboard::Env,
    tx: mpsc::Sender<Incoming<Event>>,
    rx: mpsc::Receiver<Incoming<Event>>,
    terminal: Terminal<CrosstermBackend<Stdout>>,
    verify: Option<Verifying>,
    /// Events for the app that arrived while a VM ran, and what the
    /// launch itself reports, in order.
    later: Vec<Event>,
    /// The terminal failed while a VM ran: the editor ends with it.
    broken: Option<io::Error>,
}

impl Driver {
    /// Perform effects, feeding their results back until none are left.
    fn perform(&mut self, app: &mut App, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let ev = self.perform_one(app, effect);
            let later: Vec<Event> = self.later.drain(..).collect();
            for ev in later.into_iter().chain(ev) {
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
            Effect::SavePicture { path, svg } => Some(Event::PictureSaved(
                crate::store::atomic::write_output(&path, &svg, false)
                    .map(|()| std::path::absolute(&path).unwrap_or(path))
                    .map_err(TaskError::from),
            )),
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
            Effect::Launch(profile) => Some(Event::LaunchChecked(self.check_launch(app, &profile))),
            Effect::StartVm(profile) => Some(self.start_vm(app, &profile)),
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
            Effect::RememberTheme(name) => Some(Event::ThemeRemembered(
                self.store()
                    .and_then(|s| Ok(Settings::set_theme(s, Some(&name))?))
                    .map(|_| name),
            )),
            Effect::Verify(profile) => {
                self.start_verify(profile);
                None
            }
            Effect::CancelVerify => {
                self.cancel_verify();
                None
            }
            Effect::DetectQemu(profile) => {
                Some(Event::QemuDetected(discover::detect(None, &profile)))
            }
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
        match self.store() {
            Ok(store) => store.save_file(path, profile),
            Err(_) => store::save_profile(path, profile),
        }?;
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
                    let _ = tx.send(Incoming::Other(e));
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
                let _ = self.tx.send(Incoming::Other(Event::Verified(Err(
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

    /// Everything that can stop a launch, checked before anything is
    /// created: QEMU is there, and the pre-flight lets it through.
    fn check_launch(&self, app: &App, profile: &Profile) -> Result<LaunchCheck, TaskError> {
        let (_, qemu) = qemu_for(profile)?;
        let plan = preflight(profile, &qemu, &app.doc.notes);
        if plan.is_blocked() {
            return Err(TaskError::Blocked(plan.errors()));
        }
        Ok(LaunchCheck {
            changes: plan.changes(),
            notes: plan.launch_notes(),
        })
    }

    /// Create the missing files and run the VM in the launch loop until
    /// its view is left; what QEMU placed and how it ended (or why it
    /// could not start) are for the app.
    fn start_vm(&mut self, app: &App, profile: &Profile) -> Event {
        let (binary, qemu) = match qemu_for(profile) {
            Ok(found) => found,
            Err(e) => return Event::Launched(Err(e)),
        };
        let plan = preflight(profile, &qemu, &app.doc.notes);
        if let Err(e) = prepare(&plan, true) {
            return Event::Launched(Err(TaskError::Prepare(Arc::new(e))));
        }
        let launch = Launch {
            options: LaunchOptions::new(binary),
            title: format!("guest console: {}", profile.name),
            theme: app.theme.clone(),
            notes: plan.launch_notes(),
            message: None,
        };
        let mut later = Vec::new();
        let ended = launch::run(
            &mut self.terminal,
            profile,
            launch,
            &self.tx,
            &self.rx,
            |ev| later.push(ev),
        );
        self.later.append(&mut later);
        // The terminal may have changed size while the view was shown.
        if let Ok(size) = self.terminal.size() {
            self.later.push(Event::Resize(size.width, size.height));
        }
        match ended {
            Ok(ended) => {
                if let Some(c) = ended.placement.clone() {
                    self.later.push(Event::QemuPlaced(Box::new(c)));
                }
                let state = ended.state;
                let launched = Event::Launched(if ended.failed() {
                    Err(TaskError::QemuFailed {
                        state: state.to_string(),
                        last: ended.stderr.last().cloned(),
                    })
                } else {
                    Ok(format!("QEMU {state}"))
                });
                let mut events = vec![launched];
                if !ended.hotplugged.is_empty() {
                    events.push(Event::Hotplugged(ended.hotplugged));
                }
                if !ended.fixes.is_empty() {
                    events.push(Event::NextLaunch(ended.fixes));
                }
                // The last one's message is the one the status shows.
                let last = events.pop().unwrap_or(Event::Launched(Ok(String::new())));
                self.later.extend(events);
                last
            }
            Err(LaunchError::Start(e)) => Event::Launched(Err(TaskError::Launch(Arc::new(e)))),
            Err(LaunchError::Terminal(e)) => {
                let message =
                    TaskError::Terminal(Arc::new(io::Error::new(e.kind(), e.to_string())));
                self.broken = Some(e);
                Event::Launched(Err(message))
            }
        }
    }
}

/// The QEMU a launch runs, found now as `qpmem launch` requires it: a
/// binary that is there and answers `--version` (its path, and what the
/// pre-flight judges against).
fn qemu_for(profile: &Profile) -> Result<(PathBuf, QemuStatus), TaskError> {
    let status = discover::detect(None, profile);
    match &status {
        QemuStatus::Found { path, .. } => Ok((path.clone(), status.clone())),
        QemuStatus::NotFound { wanted, reason, .. } => Err(TaskError::NoQemu {
            qemu: wanted.clone(),
            reason: reason.clone(),
        }),
        QemuStatus::NoVersion { path, reason } => Err(TaskError::NoQemu {
            qemu: path.display().to_string(),
            reason: reason.clone(),
        }),
        // detect looks for a binary: it never answers these.
        QemuStatus::NotChecked | QemuStatus::Stated { .. } => Err(TaskError::NoQemu {
            qemu: "(none)".into(),
            reason: "no QEMU binary was looked for".into(),
        }),
    }
}
