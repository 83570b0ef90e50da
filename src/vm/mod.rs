//! Running the VM: pre-flight, spawning QEMU on a pseudo-terminal, and the
//! [`Vm`] handle that watches and controls it.
//!
//! QEMU is started directly (no shell) as the leader of a new session
//! whose controlling terminal is the slave side of a fresh pseudo-terminal;
//! the guest's first serial port is QEMU's stdio (`-chardev stdio`, which
//! puts the terminal in raw mode), so the [`Console`] on the master side
//! is the guest's console. QEMU's stderr is a separate pipe, kept as lines
//! ([`Vm::stderr_lines`]) so an error is shown, not lost. A QMP socket in
//! a private run directory ([`crate::rundir`]: 0700, in `$XDG_RUNTIME_DIR`
//! or a checked per-user temporary directory) controls it, and qpmem only
//! talks to it when the peer is this QEMU (`SO_PEERCRED`).
//!
//! With [`Engine::Libvirt`] libvirt runs QEMU instead: qpmem creates a
//! transient domain paused ([`libvirt::Domain`]), runs `virsh console` on
//! the pseudo-terminal in QEMU's place, resumes the domain once the
//! console is attached, and talks to QEMU's monitor through `virsh
//! qemu-monitor-command` ([`Monitor`]). Pause, resume, power-off and
//! force quit are libvirt's `suspend`, `resume`, `shutdown` and
//! `destroy`; `virsh console` exits when the domain ends, so the
//! supervisor watches it as it watches QEMU. Everything above this module
//! (the launch loop and view) sees one [`Vm`] either way.
//!
//! (portable-pty is not used: it points stderr at the terminal too and
//! closes every other descriptor in the child, so QEMU's messages would
//! land in the guest console.)
//!
//! A supervisor thread waits for QMP, asks `query-memory-devices` and
//! compares it with the prediction, follows the run state, and notices
//! QEMU's exit. Everything it learns is announced through the caller's
//! [`Notify`] callback, so an event-driven UI redraws only when something
//! changed. Dropping a [`Vm`] stops the VM it started: ACPI power-off,
//! `quit` after a grace period, then SIGKILL. Should qpmem itself die, the
//! kernel closes the terminal's master side and QEMU, as the session
//! leader, gets SIGHUP and exits.

pub mod hotplug;
pub mod libvirt;
pub mod preflight;

pub use hotplug::{HotplugCheck, HotplugError};
pub use libvirt::LibvirtError;
pub use preflight::{preflight, preflight_remote, prepare, NewFile, Plan, PrepareError, Problem};

use crate::console::{open_pty, Console, InputModes, DEFAULT_SCROLLBACK};
use crate::core::cmdline::render_argv_for;
use crate::core::layout::layout;
use crate::core::profile::Profile;
use crate::core::qemu::args::without_console_options;
use crate::core::qemu::{compare, Comparison, MemoryDeviceInfo};
use crate::host::file_key;
use crate::lock;
use crate::qemu::{Qmp, QmpError};
use crate::rundir::RunDir;
use serde_json::Value;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines of QEMU's stderr kept.
pub const STDERR_LINES: usize = 500;
/// Lines of QEMU's stderr a [`VmState`] carries (the launch view shows
/// the last few).
pub const STDERR_SHOWN: usize = 4;
/// How long [`Vm`]'s drop waits for the guest to power off before `quit`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long QEMU may take to open its QMP socket.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(30);
/// The chardev id of the guest console.
const CONSOLE_CHARDEV: &str = "qpmem-console";

/// Where the VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmStatus {
    /// QEMU is running but its QMP socket is not answering yet.
    Starting,
    Running,
    Paused,
    /// QEMU is gone, with this status.
    Exited(ExitStatus),
}

impl std::fmt::Display for VmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmStatus::Starting => f.write_str("starting"),
            VmStatus::Running => f.write_str("running"),
            VmStatus::Paused => f.write_str("paused"),
            VmStatus::Exited(s) => {
                match (s.code(), std::os::unix::process::ExitStatusExt::signal(s)) {
                    (Some(c), _) => write!(f, "exited (status {c})"),
                    (None, Some(sig)) => write!(f, "exited (killed by signal {sig})"),
                    _ => f.write_str("exited"),
                }
            }
        }
    }
}

/// What the VM tells its host. Sent from the VM's threads; the callback
/// must not block (send on a channel, wake a loop).
#[derive(Debug, Clone, PartialEq)]
pub enum VmEvent {
    /// New console output (at most one outstanding until [`Console::ack`]).
    Console,
    Status(VmStatus),
    /// A line QEMU wrote to stderr.
    Stderr(String),
    /// QMP answered `query-memory-devices`: see [`Vm::placement`].
    Placement,
    /// Something went wrong talking to QEMU (the VM may still run).
    Notice(String),
}

/// What a view of the VM shows, read at one moment ([`Vm::state`]): a
/// plain copy, so drawing and key handling never reach into the VM.
#[derive(Debug, Clone, PartialEq)]
pub struct VmState {
    pub status: VmStatus,
    pub pid: u32,
    /// Time since QEMU started, frozen when it exited.
    pub uptime: Duration,
    /// Actual against predicted placement, once QMP answered.
    pub placement: Option<Comparison>,
    /// The last [`STDERR_SHOWN`] lines of QEMU's stderr.
    pub stderr: Vec<String>,
    /// Why the console log stopped, if it did.
    pub log_error: Option<String>,
    /// The guest console's key modes (cursor keys, bracketed paste).
    pub input_modes: InputModes,
    /// The ids of the devices hotplugged in this session and still
    /// there, in order.
    pub hotplugged: Vec<String>,
    /// The libvirt domain and connection, when libvirt runs the VM
    /// ([`Engine::Libvirt`]): quitting may leave it running.
    pub libvirt: Option<(String, String)>,
}

impl Default for VmState {
    /// A VM not started yet.
    fn default() -> VmState {
        VmState {
            status: VmStatus::Starting,
            pid: 0,
            uptime: Duration::ZERO,
            placement: None,
            stderr: Vec::new(),
            log_error: None,
            input_modes: InputModes::default(),
            hotplugged: Vec::new(),
            libvirt: None,
        }
    }
}

/// The host's callback for [`VmEvent`]s.
pub type Notify = Arc<dyn Fn(VmEvent) + Send + Sync>;

/// Who starts QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// qpmem, as a child process.
    Qemu,
    /// libvirt, as the transient domain named after the profile on this
    /// connection.
    Libvirt { uri: String },
}

/// How to start QEMU.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The QEMU binary (already resolved; see [`crate::qemu::find_binary`]);
    /// libvirt's `<emulator>` when the connection is local.
    pub qemu: PathBuf,
    pub engine: Engine,
    /// Initial console size; the pane resizes it.
    pub rows: u16,
    pub cols: u16,
    pub scrollback: usize,
    /// Where to make the private runtime directory; `None`:
    /// `$XDG_RUNTIME_DIR`, else the per-user temporary parent (see
    /// [`crate::rundir`]).
    pub runtime_parent: Option<PathBuf>,
    /// How long dropping the [`Vm`] waits for an ACPI power-off before
    /// `quit`.
    pub shutdown_grace: Duration,
    /// Append everything the guest writes on its console to this file
    /// (see [`check_console_log`]).
    pub console_log: Option<PathBuf>,
}

impl LaunchOptions {
    pub fn new(qemu: PathBuf) -> LaunchOptions {
        LaunchOptions {
            qemu,
            engine: Engine::Qemu,
            rows: 24,
            cols: 80,
            scrollback: DEFAULT_SCROLLBACK,
            runtime_parent: None,
            shutdown_grace: SHUTDOWN_GRACE,
            console_log: None,
        }
    }
}

/// Why QEMU could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("runtime directory: {0}")]
    RuntimeDir(#[from] crate::rundir::RunDirError),
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(std::io::Error),
    #[error("cannot start QEMU '{binary}': {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("QEMU's monitor (QMP) is not connected yet")]
    NotReady,
    #[error("QEMU has exited")]
    Exited,
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("console log {path}: {why}")]
    ConsoleLog { path: PathBuf, why: String },
    #[error(transparent)]
    Libvirt(#[from] LibvirtError),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// QEMU's monitor: its QMP socket, or QMP through libvirt.
pub enum Monitor {
    Qmp(Qmp),
    Libvirt(libvirt::Domain),
}

impl Monitor {
    /// A QMP command; its `return`.
    pub fn execute(&mut self, command: &str, args: Option<Value>) -> Result<Value, VmError> {
        Ok(match self {
            Monitor::Qmp(q) => q.execute(command, args)?,
            Monitor::Libvirt(d) => d.monitor(command, args)?,
        })
    }

    /// `query-memory-devices`, under the profile's ids.
    pub fn query_memory_devices(&mut self) -> Result<Vec<MemoryDeviceInfo>, VmError> {
        Ok(match self {
            Monitor::Qmp(q) => q.query_memory_devices()?,
            Monitor::Libvirt(d) => d.query_memory_devices()?,
        })
    }
}

/// Refuse a console log that is one of the files the profile names (a
/// backing file, the kernel, the initrd, a disk): logging into it would
/// destroy it. Paths are compared by [`file_key`],
/// as the shared-backing-file rule compares them.
pub fn check_console_log(profile: &Profile, log: &Path) -> Result<(), VmError> {
    let refuse = |why: String| VmError::ConsoleLog {
        path: log.to_path_buf(),
        why,
    };
    // Only a regular file is appended to (see [`open_console_log`]).
    match std::fs::metadata(log).map(|m| crate::files::Kind::of(&m)) {
        Ok(crate::files::Kind::Regular) | Err(_) => {}
        Ok(kind) => return Err(refuse(not_regular(kind))),
    }
    let named = profile
        .devices
        .iter()
        .filter_map(|d| {
            let p = d.backend.path()?;
            Some((p, format!("the backing file of {}", d.id)))
        })
        .chain(
            profile
                .kernel
                .as_deref()
                .map(|p| (p, "the kernel".to_string())),
        )
        .chain(
            profile
                .initrd
                .as_deref()
                .map(|p| (p, "the initrd".to_string())),
        )
        .chain(
            profile
                .disks
                .iter()
                .enumerate()
                .map(|(i, p)| (p.as_path(), format!("disk {}", i + 1))),
        );
    let key = file_key(log);
    for (path, what) in named {
        if file_key(path) == key {
            return Err(refuse(format!("is {what}; choose another file")));
        }
    }
    Ok(())
}

fn not_regular(kind: crate::files::Kind) -> String {
    format!("is {kind}, not a regular file; the log is appended to a regular file")
}

/// Open the console log for appending, creating it if needed. Only a
/// regular file is appended to: a FIFO (which could block the console) or
/// a device is refused ([`crate::files::open_append_regular`]).
fn open_console_log(profile: &Profile, path: &Path) -> Result<std::fs::File, VmError> {
    check_console_log(profile, path)?;
    crate::files::open_append_regular(path).map_err(|e| VmError::ConsoleLog {
        path: path.to_path_buf(),
        why: match e {
            crate::files::FileError::NotRegular { kind, .. } => not_regular(kind),
            crate::files::FileError::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        },
    })
}

/// The QEMU command line for a launch: the profile's, with its console
/// options set aside, plus qpmem's console on stdio, no display, and QMP
/// on `qmp_socket`.
pub fn launch_argv(profile: &Profile, qemu: &Path, qmp_socket: &Path) -> Vec<OsString> {
    let mut p = profile.clone();
    p.extra_args = without_console_options(&p.extra_args).0;
    // The release matters for CXL (memdev= or persistent-memdev=).
    let version = crate::qemu::discover::cached_version(qemu).ok();
    let mut argv: Vec<OsString> = render_argv_for(&p, version)
        .into_iter()
        .map(OsString::from)
        .collect();
    if let Some(first) = argv.first_mut() {
        *first = qemu.as_os_str().to_owned();
    }
    let socket = qmp_socket.to_string_lossy().replace(',', ",,");
    for a in [
        "-display".to_string(),
        "none".into(),
        "-monitor".into(),
        "none".into(),
        "-chardev".into(),
        format!("stdio,id={CONSOLE_CHARDEV},signal=off"),
        "-serial".into(),
        format!("chardev:{CONSOLE_CHARDEV}"),
        "-qmp".into(),
        format!("unix:{socket},server=on,wait=off"),
    ] {
        argv.push(a.into());
    }
    argv
}

struct Shared {
    status: VmStatus,
    started: Instant,
    ended: Option<Instant>,
    stderr: VecDeque<String>,
    placement: Option<Comparison>,
    actual: Option<Vec<MemoryDeviceInfo>>,
}

/// Record a new status and tell the UI; an exited VM stays exited.
fn set_status(shared: &Mutex<Shared>, notify: &Notify, status: VmStatus) {
    let changed = {
        let mut s = lock(shared);
        let changed = s.status != status && !matches!(s.status, VmStatus::Exited(_));
        if changed {
            s.status = status;
        }
        changed
    };
    if changed {
        notify(VmEvent::Status(status));
    }
}

/// A running (or finished) QEMU that this process started.
pub struct Vm {
    shared: Arc<Mutex<Shared>>,
    child: Arc<Mutex<Child>>,
    qmp: Arc<Mutex<Option<Monitor>>>,
    /// The domain, when libvirt runs the VM.
    domain: Option<libvirt::Domain>,
    /// Left running in libvirt's hands ([`Vm::detach`]).
    detached: AtomicBool,
    console: Console,
    notify: Notify,
    stop: Arc<AtomicBool>,
    supervisor: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<()>>,
    pid: u32,
    argv: Vec<OsString>,
    shutdown_grace: Duration,
    runtime: RunDir,
    /// The profile QEMU was started from.
    profile: Profile,
    /// The devices hotplugged since, in order.
    hotplugged: Mutex<Vec<crate::core::device::Dimm>>,
}

impl Vm {
    /// Start QEMU for `profile`. Run [`preflight`](fn@preflight) and [`prepare`] first:
    /// this only starts the process.
    pub fn launch(profile: &Profile, opts: &LaunchOptions, notify: Notify) -> Result<Vm, VmError> {
        // 0700 whatever the umask, in a parent only we can write.
        let runtime = match &opts.runtime_parent {
            Some(parent) => RunDir::new_in(parent, "vm"),
            None => RunDir::for_sockets("vm"),
        }?;
        let socket = runtime.path().join("qmp.sock");
        // Another host's files are not this one's (hugetlbfs page sizes).
        let facts = match &opts.engine {
            Engine::Libvirt { uri } if libvirt::remote_host(uri).is_some() => Default::default(),
            _ => crate::host::placement_facts(profile),
        };
        let predicted = layout(profile, &facts).ok();
        // Created paused, destroyed if anything below fails.
        let domain = match &opts.engine {
            Engine::Qemu => None,
            Engine::Libvirt { uri } => {
                let local = libvirt::remote_host(uri).is_none();
                let export =
                    libvirt::domain_xml(profile, &profile.name, local.then_some(&*opts.qemu));
                Some(libvirt::Destroyer::new(libvirt::Domain::create(
                    uri,
                    &profile.name,
                    &export.text,
                    true,
                )?))
            }
        };
        let argv = match &domain {
            None => launch_argv(profile, &opts.qemu, &socket),
            Some(d) => d.domain().console_argv(),
        };

        let log = opts
            .console_log
            .as_deref()
            .map(|p| open_console_log(profile, p))
            .transpose()?;
        let pty = open_pty(opts.rows, opts.cols).map_err(VmError::Pty)?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::from(pty.slave.try_clone().map_err(VmError::Pty)?))
            .stdout(Stdio::from(pty.slave.try_clone().map_err(VmError::Pty)?))
            .stderr(Stdio::piped());
        // SAFETY: the closure only makes system calls (setsid, ioctl),
        // which are async-signal-safe, and allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                let stdin = std::os::fd::BorrowedFd::borrow_raw(0);
                rustix::process::ioctl_tiocsctty(stdin)?;
                Ok(())
            });
        }
        crate::qemu::die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| VmError::Spawn {
            binary: argv[0].to_string_lossy().into_owned(),
            source,
        })?;
        // QEMU holds the slave now; ours would keep the console open after
        // QEMU exits.
        drop(pty.slave);
        let pid = child.id();
        let stderr = child.stderr.take();

        let shared = Arc::new(Mutex::new(Shared {
            status: VmStatus::Starting,
            started: Instant::now(),
            ended: None,
            stderr: VecDeque::new(),
            placement: None,
            actual: None,
        }));
        let child = Arc::new(Mutex::new(child));
        let qmp = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));

        let console_notify = Arc::clone(&notify);
        let console = match Console::new(
            pty.master,
            opts.rows,
            opts.cols,
            opts.scrollback,
            Arc::new(move || console_notify(VmEvent::Console)),
            log,
        ) {
            Ok(c) => c,
            Err(e) => {
                let mut c = lock(&child);
                let _ = c.kill();
                let _ = c.wait();
                return Err(VmError::Pty(e));
            }
        };
        let domain = match domain {
            None => None,
            Some(d) => match attach(&console, &child, d.domain()) {
                Ok(()) => Some(d.disarm()),
                Err(e) => {
                    let mut c = lock(&child);
                    let _ = c.kill();
                    let _ = c.wait();
                    return Err(e);
                }
            },
        };

        let stderr_done = Arc::new(AtomicBool::new(false));
        let stderr_reader = stderr.and_then(|pipe| {
            let shared = Arc::clone(&shared);
            let notify = Arc::clone(&notify);
            let done = Arc::clone(&stderr_done);
            std::thread::Builder::new()
                .name("qpmem-qemu-stderr".into())
                .spawn(move || {
                    let mut reader = BufReader::new(pipe);
                    let mut buf = Vec::new();
                    while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        buf.clear();
                        {
                            let mut s = lock(&shared);
                            if s.stderr.len() == STDERR_LINES {
                                s.stderr.pop_front();
                            }
                            s.stderr.push_back(line.clone());
                        }
                        notify(VmEvent::Stderr(line));
                    }
                    done.store(true, Ordering::Release);
                })
                .ok()
        });
        if stderr_reader.is_none() {
            stderr_done.store(true, Ordering::Release);
        }

        let supervisor = {
            let sup = Supervisor {
                shared: Arc::clone(&shared),
                child: Arc::clone(&child),
                qmp: Arc::clone(&qmp),
                notify: Arc::clone(&notify),
                stop: Arc::clone(&stop),
                stderr_done,
                socket,
                domain: domain.clone(),
                pid,
                predicted,
            };
            std::thread::Builder::new()
                .name("qpmem-vm".into())
                .spawn(move || sup.run())?
        };

        Ok(Vm {
            shared,
            child,
            qmp,
            domain,
            detached: AtomicBool::new(false),
            console,
            notify,
            stop,
            supervisor: Some(supervisor),
            stderr_reader,
            pid,
            argv,
            shutdown_grace: opts.shutdown_grace,
            runtime,
            profile: profile.clone(),
            hotplugged: Mutex::new(Vec::new()),
        })
    }

    pub fn console(&self) -> &Console {
        &self.console
    }

    pub fn status(&self) -> VmStatus {
        lock(&self.shared).status
    }

    /// Time since QEMU started, frozen when it exits.
    pub fn uptime(&self) -> Duration {
        let s = lock(&self.shared);
        s.ended.unwrap_or_else(Instant::now) - s.started
    }

    /// QEMU's stderr so far (the last [`STDERR_LINES`] lines).
    pub fn stderr_lines(&self) -> Vec<String> {
        lock(&self.shared).stderr.iter().cloned().collect()
    }

    /// Everything a view shows, read now.
    pub fn state(&self) -> VmState {
        let (status, uptime, placement, stderr) = {
            let s = lock(&self.shared);
            let skip = s.stderr.len().saturating_sub(STDERR_SHOWN);
            (
                s.status,
                s.ended.unwrap_or_else(Instant::now) - s.started,
                s.placement.clone(),
                s.stderr.iter().skip(skip).cloned().collect(),
            )
        };
        VmState {
            status,
            pid: self.pid,
            uptime,
            placement,
            stderr,
            log_error: self.console.log_error(),
            input_modes: self.console.input_modes(),
            hotplugged: lock(&self.hotplugged)
                .iter()
                .map(|d| d.id.clone())
                .collect(),
            libvirt: self
                .domain
                .as_ref()
                .map(|d| (d.name().to_string(), d.uri().to_string())),
        }
    }

    /// Actual against predicted placement, once QMP answered.
    pub fn placement(&self) -> Option<Comparison> {
        lock(&self.shared).placement.clone()
    }

    /// QEMU's own `query-memory-devices` answer, once QMP answered.
    pub fn memory_devices(&self) -> Option<Vec<MemoryDeviceInfo>> {
        lock(&self.shared).actual.clone()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command QEMU was started with.
    pub fn argv(&self) -> &[OsString] {
        &self.argv
    }

    /// The private directory holding the QMP socket.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    fn qmp_command(&self, command: &str) -> Result<(), VmError> {
        self.qmp(command, None).map(drop)
    }

    fn set_status(&self, status: VmStatus) {
        set_status(&self.shared, &self.notify, status);
    }

    /// Stop the guest's CPUs (QMP `stop`; `virsh suspend`).
    pub fn pause(&self) -> Result<(), VmError> {
        match &self.domain {
            Some(d) => d.suspend()?,
            None => self.qmp_command("stop")?,
        }
        self.set_status(VmStatus::Paused);
        Ok(())
    }

    /// Let the guest run again (QMP `cont`; `virsh resume`).
    pub fn resume(&self) -> Result<(), VmError> {
        match &self.domain {
            Some(d) => d.resume()?,
            None => self.qmp_command("cont")?,
        }
        self.set_status(VmStatus::Running);
        Ok(())
    }

    /// Pause a running guest, resume a paused one.
    pub fn toggle_pause(&self) -> Result<(), VmError> {
        match self.status() {
            VmStatus::Paused => self.resume(),
            VmStatus::Running => self.pause(),
            VmStatus::Starting => Err(VmError::NotReady),
            VmStatus::Exited(_) => Err(VmError::Exited),
        }
    }

    /// Press the ACPI power button (QMP `system_powerdown`; `virsh
    /// shutdown --mode acpi`); the guest decides what to do.
    pub fn power_off(&self) -> Result<(), VmError> {
        match &self.domain {
            Some(d) => Ok(d.shutdown()?),
            None => self.qmp_command("system_powerdown"),
        }
    }

    /// Leave a libvirt domain running when this [`Vm`] goes: only the
    /// console is closed. A VM qpmem started itself cannot be left.
    pub fn detach(&self) -> Result<(), VmError> {
        if self.domain.is_none() {
            return Err(VmError::Unsupported(
                "only a libvirt domain can be left running",
            ));
        }
        self.detached.store(true, Ordering::Release);
        Ok(())
    }

    /// The domain was left running ([`Vm::detach`]).
    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    /// Wait up to `timeout` for QEMU to exit.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = lock(&self.child).try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// End QEMU now: QMP `quit`, then SIGKILL if it is still there after
    /// two seconds. Returns its exit status.
    pub fn force_quit(&self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = lock(&self.child).try_wait() {
            return Some(status);
        }
        match &self.domain {
            Some(d) => {
                let _ = d.destroy();
            }
            None => {
                if let Some(qmp) = lock(&self.qmp).as_mut() {
                    let _ = qmp.execute("quit", None);
                }
            }
        }
        if let Some(s) = self.wait_exit(Duration::from_secs(2)) {
            return Some(s);
        }
        let mut child = lock(&self.child);
        // try_wait and kill under one lock: the pid cannot be reused.
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
        }
        child.wait().ok()
    }

    /// Stop the VM politely: resume it if paused, press the power button,
    /// wait up to `grace`, then [`Vm::force_quit`]. A detached domain is
    /// left alone.
    pub fn shutdown(&self, grace: Duration) -> Option<ExitStatus> {
        if self.is_detached() {
            return None;
        }
        match self.status() {
            VmStatus::Exited(s) => return Some(s),
            VmStatus::Paused => {
                let _ = self.resume();
            }
            _ => {}
        }
        if self.power_off().is_ok() {
            if let Some(s) = self.wait_exit(grace) {
                return Some(s);
            }
        }
        self.force_quit()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.shutdown(self.shutdown_grace);
        // A detached domain's `virsh console` is still there.
        {
            let mut child = lock(&self.child);
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.stop.store(true, Ordering::Release);
        if let Some(s) = self.supervisor.take() {
            let _ = s.join();
        }
        if let Some(r) = self.stderr_reader.take() {
            let _ = r.join();
        }
    }
}

/// The thread that connects QMP and watches QEMU.
struct Supervisor {
    shared: Arc<Mutex<Shared>>,
    child: Arc<Mutex<Child>>,
    qmp: Arc<Mutex<Option<Monitor>>>,
    notify: Notify,
    stop: Arc<AtomicBool>,
    stderr_done: Arc<AtomicBool>,
    socket: PathBuf,
    /// The libvirt domain: its monitor is there at once.
    domain: Option<libvirt::Domain>,
    /// QEMU's pid: the only peer the QMP socket may have.
    pid: u32,
    predicted: Option<crate::core::layout::Layout>,
}

impl Supervisor {
    fn run(self) {
        if self.connect() {
            self.watch();
        }
    }

    /// QEMU's exit status if it has exited.
    fn exited(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    fn finish(&self, status: ExitStatus) {
        // Let the last stderr lines arrive before announcing the exit.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.stderr_done.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        lock(&self.qmp).take();
        if self.domain.as_ref().is_some_and(libvirt::Domain::is_active) {
            (self.notify)(VmEvent::Notice(
                "virsh console ended, but the domain still runs".into(),
            ));
        }
        {
            let mut s = lock(&self.shared);
            s.status = VmStatus::Exited(status);
            s.ended = Some(Instant::now());
        }
        (self.notify)(VmEvent::Status(VmStatus::Exited(status)));
    }

    /// Wait for the QMP socket and read the placement; `false` when QEMU
    /// exited (or we were told to stop) first.
    fn connect(&self) -> bool {
        let start = Instant::now();
        let mut qmp = loop {
            if let Some(d) = &self.domain {
                break Monitor::Libvirt(d.clone());
            }
            if let Some(status) = self.exited() {
                self.finish(status);
                return false;
            }
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            if self.socket.exists() {
                match Qmp::connect(&self.socket, Duration::from_secs(5), self.pid) {
                    Ok(q) => break Monitor::Qmp(q),
                    Err(QmpError::Connect { .. }) => {}
                    Err(e) => {
                        (self.notify)(VmEvent::Notice(format!("QMP: {e}")));
                        return self.wait_only();
                    }
                }
            }
            if start.elapsed() > QMP_TIMEOUT {
                (self.notify)(VmEvent::Notice(format!(
                    "QEMU did not open its QMP socket within {QMP_TIMEOUT:?}"
                )));
                return self.wait_only();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match qmp.query_memory_devices() {
            Ok(actual) => {
                let mut s = lock(&self.shared);
                s.placement = self.predicted.as_ref().map(|l| compare(l, &actual));
                s.actual = Some(actual);
                drop(s);
                (self.notify)(VmEvent::Placement);
            }
            Err(e) => (self.notify)(VmEvent::Notice(format!("QMP query-memory-devices: {e}"))),
        }
        let status = run_state(&mut qmp).unwrap_or(VmStatus::Running);
        *lock(&self.qmp) = Some(qmp);
        self.update(status);
        true
    }

    /// Without QMP: only wait for the exit.
    fn wait_only(&self) -> bool {
        while !self.stop.load(Ordering::Acquire) {
            if let Some(status) = self.exited() {
                self.finish(status);
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn update(&self, status: VmStatus) {
        set_status(&self.shared, &self.notify, status);
    }

    /// Follow the run state (the guest may stop itself) until QEMU exits.
    fn watch(&self) {
        let mut last_poll = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            if let Some(status) = self.exited() {
                self.finish(status);
                return;
            }
            if last_poll.elapsed() >= Duration::from_millis(500) {
                last_poll = Instant::now();
                // Never wait behind a command the UI is running.
                let polled = match self.qmp.try_lock() {
                    Ok(mut guard) => guard.as_mut().and_then(|q| run_state(q).ok()),
                    Err(_) => None,
                };
                if let Some(status) = polled {
                    self.update(status);
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Wait (up to [`QMP_TIMEOUT`]) for `virsh console` to attach, then let
/// the paused domain run: the guest's first words reach the pane.
fn attach(
    console: &Console,
    child: &Mutex<Child>,
    domain: &libvirt::Domain,
) -> Result<(), VmError> {
    let start = Instant::now();
    while !console.contents().contains(libvirt::CONSOLE_CONNECTED) {
        if let Ok(Some(status)) = lock(child).try_wait() {
            return Err(VmError::Libvirt(LibvirtError::Monitor(format!(
                "virsh console {} exited with {status} before attaching",
                domain.name()
            ))));
        }
        if start.elapsed() > QMP_TIMEOUT {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(domain.resume()?)
}

/// QMP `query-status` as a [`VmStatus`].
fn run_state(qmp: &mut Monitor) -> Result<VmStatus, VmError> {
    let v = qmp.execute("query-status", None)?;
    Ok(
        if v.get("running").and_then(|r| r.as_bool()).unwrap_or(false) {
            VmStatus::Running
        } else {
            VmStatus::Paused
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;

    #[test]
    fn launch_argv_owns_console_monitor_display_and_qmp() {
        let mut p = Profile::empty("t");
        p.devices
            .push(Dimm::nvdimm(1, "/v/nv1".into(), Size::gib(1)));
        p.extra_args = vec!["-nographic".into(), "-enable-kvm".into()];
        let argv = launch_argv(&p, Path::new("/opt/q/qemu"), Path::new("/run/a,b/qmp.sock"));
        let s: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(s[0], "/opt/q/qemu");
        assert!(!s.contains(&"-nographic".to_string()));
        assert!(s.contains(&"-enable-kvm".to_string()));
        let tail = &s[s.len() - 10..];
        assert_eq!(
            tail,
            [
                "-display",
                "none",
                "-monitor",
                "none",
                "-chardev",
                "stdio,id=qpmem-console,signal=off",
                "-serial",
                "chardev:qpmem-console",
                "-qmp",
                "unix:/run/a,,b/qmp.sock,server=on,wait=off"
            ]
        );
    }

    #[test]
    fn status_reads_well() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(VmStatus::Paused.to_string(), "paused");
        assert_eq!(
            VmStatus::Exited(ExitStatus::from_raw(1 << 8)).to_string(),
            "exited (status 1)"
        );
        assert_eq!(
            VmStatus::Exited(ExitStatus::from_raw(9)).to_string(),
            "exited (killed by signal 9)"
        );
    }

    #[test]
    fn the_console_log_is_appended_to_a_regular_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::empty("t");
        let fifo = dir.path().join("fifo");
        crate::testutil::mkfifo(&fifo);
        // Without a reader a plain open for writing waits forever.
        let (q, f) = (p.clone(), fifo.clone());
        let e =
            crate::testutil::promptly(move || open_console_log(&q, &f).map(|_| ())).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "console log {}: is a FIFO, not a regular file; the log is appended to a regular file",
                fifo.display()
            )
        );
        let log = dir.path().join("log");
        std::fs::write(&log, "before\n").unwrap();
        let mut f = open_console_log(&p, &log).unwrap();
        std::io::Write::write_all(&mut f, b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "before\nafter\n");
    }
}
