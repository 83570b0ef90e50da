//! Start QEMU paused (`-S`, no guest code runs) and ask it over QMP where
//! it put each memory device.
//!
//! The profile's own backing files are never created or changed: a missing
//! one, or an existing empty one (which QEMU would grow to size), is stood
//! in for by a sparse scratch file of the same size in a private run
//! directory ([`crate::rundir`]), removed afterwards. Any other existing
//! one is used as it is, since nothing runs in the guest to write it. Console, monitor and display
//! options kept in `extra_args` are set aside (see [`crate::core::qemu::args`]): they
//! do not change placement and would clash with `-display none`.

use super::qmp::{Qmp, QmpError};
use crate::core::cmdline::render_argv_for;
use crate::core::profile::{Backend, Profile};
use crate::core::qemu::MemoryDeviceInfo;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot start QEMU '{binary}': {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("QEMU refused the configuration:\n{message}")]
    Refused { message: String },
    #[error("QEMU did not open its QMP socket within {0:?}")]
    Timeout(Duration),
    #[error("scratch backing file: {0}")]
    Scratch(std::io::Error),
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
    #[error("interrupted; QEMU was stopped")]
    Cancelled,
}

/// Kills the child when dropped, so no QEMU outlives a probe.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The profile as a probe runs it: without kernel and disks (placement
/// does not depend on them) and without console options.
pub fn placement_only(profile: &Profile) -> Profile {
    let mut p = profile.clone();
    p.kernel = None;
    p.initrd = None;
    p.append = None;
    p.disks.clear();
    p.extra_args = crate::core::qemu::args::without_console_options(&p.extra_args).0;
    p
}

/// [`placement_only`], with missing backing files replaced by scratch
/// files in `dir`.
fn probe_profile(profile: &Profile, dir: &Path) -> Result<Profile, ProbeError> {
    let mut p = placement_only(profile);
    for (i, d) in p.devices.iter_mut().enumerate() {
        if let Backend::File(path) = &d.backend {
            // QEMU takes an empty file for a new one and grows it.
            let empty = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
            if !path.exists() || empty {
                let scratch = dir.join(format!("scratch-{i}"));
                File::create(&scratch)
                    .and_then(|f| f.set_len(d.size.0))
                    .map_err(ProbeError::Scratch)?;
                d.backend = Backend::File(scratch);
            }
        }
    }
    let cxl_memories = p.cxl.iter_mut().flat_map(|c| c.memories_mut());
    for (i, m) in cxl_memories.enumerate() {
        if let Backend::File(path) = &m.backend {
            let empty = std::fs::metadata(path).is_ok_and(|md| md.is_file() && md.len() == 0);
            if !path.exists() || empty {
                let scratch = dir.join(format!("scratch-cxl-{i}"));
                File::create(&scratch)
                    .and_then(|f| f.set_len(m.size.0))
                    .map_err(ProbeError::Scratch)?;
                m.backend = Backend::File(scratch);
            }
        }
    }
    Ok(p)
}

/// Start `binary` with the profile's memory configuration and `-S`, read
/// `query-memory-devices`, and stop it.
pub fn probe(
    profile: &Profile,
    binary: &Path,
    timeout: Duration,
) -> Result<Vec<MemoryDeviceInfo>, ProbeError> {
    probe_cancellable(profile, binary, timeout, &AtomicBool::new(false))
}

/// [`probe`], giving up (QEMU killed, scratch files removed) with
/// [`ProbeError::Cancelled`] once `cancel` is set, e.g. by a signal.
pub fn probe_cancellable(
    profile: &Profile,
    binary: &Path,
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<Vec<MemoryDeviceInfo>, ProbeError> {
    let dir = crate::rundir::RunDir::for_scratch("probe")?;
    let p = probe_profile(profile, dir.path())?;
    let argv = render_argv_for(&p, super::discover::cached_version(binary).ok());
    run_paused(&argv[1..], binary, timeout, cancel, dir.path(), |q| {
        q.query_memory_devices()
    })
}

/// What QEMU reports for a profile with CXL: its memory devices and each
/// `cxl-fixed-memory-region` of `info mtree -f` (HMP through QMP's
/// `human-monitor-command`), as (base, size) in address order.
pub type CxlProbe = (Vec<MemoryDeviceInfo>, Vec<(u64, u64)>);

/// [`probe_cancellable`], also reading where QEMU mapped the CXL windows.
pub fn probe_cxl(
    profile: &Profile,
    binary: &Path,
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<CxlProbe, ProbeError> {
    let dir = crate::rundir::RunDir::for_scratch("probe")?;
    let p = probe_profile(profile, dir.path())?;
    let argv = render_argv_for(&p, super::discover::cached_version(binary).ok());
    run_paused(&argv[1..], binary, timeout, cancel, dir.path(), |q| {
        let devices = q.query_memory_devices()?;
        let mtree = q.execute(
            "human-monitor-command",
            Some(serde_json::json!({"command-line": "info mtree -f"})),
        )?;
        let text = mtree.as_str().unwrap_or_default();
        Ok((devices, crate::core::cxl::mtree_windows(text)))
    })
}

/// Start `binary` with these arguments exactly as given (a pasted line,
/// its backing files used as they are) plus `-S`, and read
/// `query-memory-devices`: real QEMU's verdict on a line as written.
pub fn probe_args(
    args: &[String],
    binary: &Path,
    timeout: Duration,
) -> Result<Vec<MemoryDeviceInfo>, ProbeError> {
    let dir = crate::rundir::RunDir::for_scratch("probe")?;
    run_paused(
        args,
        binary,
        timeout,
        &AtomicBool::new(false),
        dir.path(),
        |q| q.query_memory_devices(),
    )
}

fn run_paused<T>(
    args: &[String],
    binary: &Path,
    timeout: Duration,
    cancel: &AtomicBool,
    dir: &Path,
    ask: impl Fn(&mut Qmp) -> Result<T, QmpError>,
) -> Result<T, ProbeError> {
    let socket = dir.join("qmp.sock");
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .args(["-S", "-nodefaults", "-display", "none", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    super::die_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|source| ProbeError::Spawn {
        binary: binary.display().to_string(),
        source,
    })?;
    let pid = child.id();
    let mut child = Reaper(child);
    let start = Instant::now();
    let result = loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ProbeError::Cancelled);
        }
        if child.0.try_wait().map_err(ProbeError::Scratch)?.is_some() {
            return Err(refusal(&mut child.0));
        }
        if socket.exists() {
            match Qmp::connect(&socket, timeout, pid) {
                Ok(mut qmp) => break ask(&mut qmp).map(|d| (qmp, d)),
                Err(QmpError::Connect { .. }) => {}
                Err(e) => break Err(e),
            }
        }
        if start.elapsed() > timeout {
            return Err(ProbeError::Timeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    match result {
        Ok((mut qmp, devices)) => {
            let _ = qmp.execute("quit", None);
            let _ = child.0.wait();
            Ok(devices)
        }
        // QEMU opens its QMP socket before it creates devices, so a
        // refused configuration often shows up as a connection that
        // drops: if QEMU exits, what it said is the answer.
        Err(e) => match wait_exit(&mut child.0, Duration::from_secs(5)) {
            true => Err(refusal(&mut child.0)),
            false => Err(e.into()),
        },
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn refusal(child: &mut Child) -> ProbeError {
    let mut message = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut message);
    }
    ProbeError::Refused {
        message: message.trim_end().to_string(),
    }
}
