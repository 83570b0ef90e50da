//! The launch loop, one for `qpmem launch` and for the editor's `l`: it
//! starts QEMU ([`Vm::launch`]) with its console the size of the view's
//! pane, shows the [`LaunchView`], performs the view's [`VmEffect`]s
//! against the running [`Vm`] (QMP, the console's pseudo-terminal, force
//! quit), draws console output at most once a frame ([`FramePacer`]), and
//! returns when the user leaves the view or SIGTERM/SIGHUP asks qpmem to
//! exit. Before it returns it stops the VM, the screen still up (the ACPI
//! power button, QMP `quit` after the grace, then SIGKILL), and says how
//! QEMU [`Ended`].
//!
//! Input arrives on the caller's channel as [`Incoming`] messages: the
//! terminal's events from one reader thread ([`spawn_input`]), the VM's
//! news, the signal wake-up ([`wake_on_terminate`]), and the caller's own
//! messages (`Other`), which are handed back untouched.

use super::launch_view::{LaunchView, Scroll, ViewEvent, VmCommand, VmEffect};
use super::theme::Theme;
use crate::console::{Emulator, FramePacer};
use crate::core::profile::{Dimm, Profile};
use crate::core::qemu::Comparison;
use crate::terminal;
use crate::vm::{Engine, LaunchOptions, Notify, Vm, VmError, VmEvent, VmStatus};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::collections::VecDeque;
use std::io;
use std::process::ExitStatus;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How often the view is redrawn when nothing happens (its uptime).
const TICK: Duration = Duration::from_secs(1);

/// What a full-screen loop waits for.
pub enum Incoming<T> {
    /// A terminal event.
    Term(crossterm::event::Event),
    /// The terminal could not be read.
    InputFailed(io::Error),
    /// News from the running VM.
    Vm(VmEvent),
    /// SIGTERM or SIGHUP arrived (see [`terminal::terminating`]).
    Terminate,
    /// The caller's own message (the editor's background work).
    Other(T),
}

/// Read the terminal on a thread of its own, sending each event to `tx`
/// until the receiver is gone or reading fails.
pub fn spawn_input<T: Send + 'static>(tx: Sender<Incoming<T>>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("qpmem-input".into())
        .spawn(move || loop {
            let msg = match crossterm::event::read() {
                Ok(e) => Incoming::Term(e),
                Err(e) => Incoming::InputFailed(e),
            };
            let failed = matches!(msg, Incoming::InputFailed(_));
            if tx.send(msg).is_err() || failed {
                break;
            }
        })?;
    Ok(())
}

/// Wake the loop when SIGTERM or SIGHUP arrives.
pub fn wake_on_terminate<T: Send + 'static>(tx: Sender<Incoming<T>>) {
    terminal::on_terminate(move || {
        let _ = tx.send(Incoming::Terminate);
    });
}

/// What to launch and how to show it.
pub struct Launch {
    pub options: LaunchOptions,
    /// The console pane's title.
    pub title: String,
    pub theme: Theme,
    /// The pre-flight's notes ([`crate::vm::Plan::launch_notes`]).
    pub notes: Vec<String>,
    /// A message for the status line at start.
    pub message: Option<String>,
}

/// How the VM ended.
#[derive(Debug)]
pub struct Ended {
    /// QEMU's exit status, once it is gone.
    pub status: Option<ExitStatus>,
    /// Its last state (`exited (status 0)`...).
    pub state: VmStatus,
    /// QEMU's stderr (the last [`crate::vm::STDERR_LINES`] lines).
    pub stderr: Vec<String>,
    /// What QEMU placed against the prediction, if QMP answered.
    pub placement: Option<Comparison>,
    /// The devices hotplugged in the session (`+`), in order.
    pub hotplugged: Vec<Dimm>,
    /// Changes for the next launch asked for in the view (`f`: room for
    /// a hotplug QEMU refused).
    pub fixes: Vec<crate::core::diagnose::Fix>,
    /// The libvirt domain and connection, when quitting left it running.
    pub left_running: Option<(String, String)>,
}

impl Ended {
    /// QEMU exited with an error code (a signal qpmem sent, as a force
    /// quit does, is not a failure).
    pub fn failed(&self) -> bool {
        self.status
            .is_some_and(|s| s.code().is_some_and(|c| c != 0))
    }
}

/// Why the launch loop stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// QEMU could not be started.
    #[error("{0}")]
    Start(#[from] VmError),
    /// The terminal could not be read or drawn on (the VM was stopped).
    #[error("{0}")]
    Terminal(io::Error),
}

/// Launch `profile` and run its view on `terminal` until the user leaves
/// or qpmem is asked to exit; the VM is stopped before this returns.
pub fn run<B, T>(
    terminal: &mut Terminal<B>,
    profile: &Profile,
    launch: Launch,
    tx: &Sender<Incoming<T>>,
    rx: &Receiver<Incoming<T>>,
    mut other: impl FnMut(T),
) -> Result<Ended, LaunchError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    T: Send + 'static,
{
    let size = terminal
        .size()
        .map_err(|e| LaunchError::Terminal(io::Error::other(e)))?;
    let mut view = LaunchView::new(launch.title, launch.theme, (size.width, size.height))
        .with_notes(launch.notes)
        .with_message(launch.message);
    let mut opts = launch.options;
    (opts.rows, opts.cols) = view.console_size();
    let vm_tx = tx.clone();
    let notify: Notify = Arc::new(move |e| {
        let _ = vm_tx.send(Incoming::Vm(e));
    });
    if let Engine::Libvirt { uri } = &opts.engine {
        // libvirt may take a while (it probes QEMU, preallocates files):
        // say what is going on.
        let message = view.message().map(str::to_string);
        view = view.with_message(Some(format!(
            "creating libvirt domain {} on {uri} (virsh create)...",
            profile.name
        )));
        let empty = Emulator::new(opts.rows, opts.cols, 0);
        terminal
            .draw(|f| view.draw(f, f.area(), &empty))
            .map_err(|e| LaunchError::Terminal(io::Error::other(e)))?;
        view = view.with_message(message);
    }
    let vm = Vm::launch(profile, &opts, notify)?;
    let shown = drive(terminal, &mut view, &vm, rx, &mut other);
    // Stopped with the screen still up: a SIGTERM's message stays on it
    // while the guest powers off.
    let status = vm.shutdown(opts.shutdown_grace);
    let ended = Ended {
        status,
        state: status.map(VmStatus::Exited).unwrap_or_else(|| vm.status()),
        stderr: vm.stderr_lines(),
        placement: vm.placement(),
        hotplugged: vm.hotplugged(),
        fixes: view.fixes().to_vec(),
        left_running: vm.is_detached().then(|| vm.state().libvirt).flatten(),
    };
    drop(vm);
    shown.map_err(LaunchError::Terminal)?;
    Ok(ended)
}

/// Whether to stay in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Stay,
    Leave,
}

/// What performing one effect led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Performed {
    Done,
    /// Tell the view this.
    Report(ViewEvent),
    Leave,
}

/// Perform one of the view's effects on `vm`.
pub fn perform(vm: &Vm, effect: VmEffect) -> Performed {
    match effect {
        VmEffect::Qmp(command) => {
            let result = match command {
                VmCommand::Pause => vm.pause(),
                VmCommand::Resume => vm.resume(),
                VmCommand::PowerOff => vm.power_off(),
            };
            Performed::Report(ViewEvent::Commanded(
                command,
                result.map_err(|e| e.to_string()),
            ))
        }
        VmEffect::ForceQuit => {
            vm.force_quit();
            Performed::Done
        }
        VmEffect::Detach => match vm.detach() {
            Ok(()) => Performed::Done,
            Err(e) => Performed::Report(ViewEvent::Failed(e.to_string())),
        },
        VmEffect::Scroll(scroll) => {
            let mut screen = vm.console().emulator();
            match scroll {
                Scroll::By(rows) => screen.scroll_by(rows),
                Scroll::Top => screen.scroll_to_top(),
                Scroll::Bottom => screen.scroll_to_bottom(),
            }
            Performed::Done
        }
        VmEffect::Send(bytes) => match vm.console().send(bytes) {
            Ok(()) => Performed::Done,
            Err(e) => Performed::Report(ViewEvent::Failed(e.to_string())),
        },
        VmEffect::ResizeConsole { rows, cols } => match vm.console().resize(rows, cols) {
            Ok(()) => Performed::Done,
            Err(e) => {
                Performed::Report(ViewEvent::Failed(format!("cannot resize the console: {e}")))
            }
        },
        VmEffect::PlanHotplug => Performed::Report(ViewEvent::HotplugPlanned(
            vm.plan_hotplug().map(Box::new).map_err(|e| e.to_string()),
        )),
        VmEffect::Unplug(id) => {
            let result = vm.unplug(&id).map_err(|e| e.to_string());
            Performed::Report(ViewEvent::Unplugged(id, result))
        }
        VmEffect::Resize(id, grow) => {
            let result = vm.resize(&id, grow).map_err(|e| e.to_string());
            Performed::Report(ViewEvent::Resized(id, result))
        }
        VmEffect::CheckHotplug(device) => Performed::Report(ViewEvent::HotplugPlanned(
            vm.running()
                .map(|r| Box::new(vm.check_hotplug(&r, *device)))
                .map_err(|e| e.to_string()),
        )),
        VmEffect::Hotplug(check) => Performed::Report(ViewEvent::Hotplugged(
            vm.hotplug(&check, true)
                .map(|o| (check.plan.device.id.clone(), o))
                .map_err(|e| e.to_string()),
        )),
        VmEffect::Leave => Performed::Leave,
    }
}

/// Perform effects, feeding what they report back to the view, until none
/// are left or one leaves.
pub fn perform_all(vm: &Vm, view: &mut LaunchView, effects: Vec<VmEffect>) -> Flow {
    let mut queue: VecDeque<VmEffect> = effects.into();
    while let Some(effect) = queue.pop_front() {
        match perform(vm, effect) {
            Performed::Done => {}
            Performed::Report(event) => queue.extend(view.handle(event)),
            Performed::Leave => return Flow::Leave,
        }
    }
    Flow::Stay
}

/// Handle one event: the view first sees the VM as it is now.
pub fn feed(vm: &Vm, view: &mut LaunchView, event: ViewEvent) -> Flow {
    let synced = view.handle(ViewEvent::Vm(vm.state()));
    if perform_all(vm, view, synced) == Flow::Leave {
        return Flow::Leave;
    }
    let effects = view.handle(event);
    perform_all(vm, view, effects)
}

/// The view's event for a terminal event.
fn view_event(e: crossterm::event::Event) -> Option<ViewEvent> {
    use crossterm::event::Event;
    match e {
        Event::Key(k) => Some(ViewEvent::Key(k)),
        Event::Mouse(m) => Some(ViewEvent::Mouse(m)),
        Event::Paste(p) => Some(ViewEvent::Paste(p)),
        Event::Resize(w, h) => Some(ViewEvent::Resize(w, h)),
        Event::FocusGained | Event::FocusLost => None,
    }
}

/// Draw the view with the VM as it is now (output drawn is acknowledged).
pub fn frame<B>(terminal: &mut Terminal<B>, view: &mut LaunchView, vm: &Vm) -> io::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let synced = view.handle(ViewEvent::Vm(vm.state()));
    perform_all(vm, view, synced);
    // What is drawn now is seen: output from here on wakes the loop.
    vm.console().ack();
    let view = &*view;
    terminal
        .draw(|f| {
            // Locked only while the screen is copied, not while it is
            // written to the terminal.
            let screen = vm.console().emulator();
            view.draw(f, f.area(), &screen);
        })
        .map_err(io::Error::other)?;
    Ok(())
}

fn drive<B, T>(
    terminal: &mut Terminal<B>,
    view: &mut LaunchView,
    vm: &Vm,
    rx: &Receiver<Incoming<T>>,
    other: &mut impl FnMut(T),
) -> io::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    // A flooding console draws at the pacer's rate; everything else at once.
    let mut pacer = FramePacer::default();
    let mut draw = true;
    loop {
        if draw {
            frame(terminal, view, vm)?;
            pacer.drawn();
        }
        // A tick for the uptime when nothing else happens, sooner when
        // console output waits to be drawn.
        let first = match rx.recv_timeout(pacer.wait().unwrap_or(TICK)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                draw = true;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        draw = false;
        // Handle everything queued before drawing again.
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Incoming::Vm(VmEvent::Console) => draw |= pacer.output(),
                Incoming::Vm(_) | Incoming::Terminate => draw = true,
                Incoming::Term(e) => {
                    draw = true;
                    if let Some(event) = view_event(e) {
                        if feed(vm, view, event) == Flow::Leave {
                            return Ok(());
                        }
                    }
                }
                Incoming::InputFailed(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("reading the terminal: {e}"),
                    ))
                }
                Incoming::Other(t) => other(t),
            }
            // SIGTERM/SIGHUP: say so, and leave; the VM is powered off
            // with the screen still up.
            if let Some(signal) = terminal::terminating() {
                feed(vm, view, ViewEvent::Terminating(signal));
                frame(terminal, view, vm)?;
                return Ok(());
            }
            next = rx.try_recv().ok();
        }
    }
}
