//! QEMU itself: finding the binary, reading its version (and what that
//! version can do), talking QMP and starting it paused (`-S`) to see what
//! it really placed.

pub mod discover;
pub mod probe;
pub mod qmp;

pub use discover::detect;
pub use probe::{probe, probe_args, probe_cancellable, probe_cxl, CxlProbe, ProbeError};
pub use qmp::{Qmp, QmpError};

use crate::core::qemu::QemuVersion;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why no usable QEMU was found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("QEMU not found: '{name}' is not on PATH (install it: apt-get install qemu-system-x86, dnf install qemu-system-x86-core, pacman -S qemu-system-x86)")]
    NotOnPath { name: String },
    #[error("QEMU '{path}': {source}")]
    Run {
        path: String,
        source: std::io::Error,
    },
    #[error("QEMU '{path}': cannot read a version from --version output: {output:?}")]
    NoVersion { path: String, output: String },
}

/// Resolve a binary name or path: a path with a slash is taken as is, a
/// bare name is looked up on PATH.
pub fn find_binary(name: &Path) -> Result<PathBuf, FindError> {
    if name.components().count() > 1 {
        return Ok(name.to_path_buf());
    }
    which::which(name).map_err(|_| FindError::NotOnPath {
        name: name.display().to_string(),
    })
}

/// Run `binary --version` and parse it.
pub fn read_version(binary: &Path) -> Result<QemuVersion, FindError> {
    let out = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| FindError::Run {
            path: binary.display().to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    QemuVersion::from_version_output(&text).ok_or_else(|| FindError::NoVersion {
        path: binary.display().to_string(),
        output: text.chars().take(200).collect(),
    })
}

/// Have the kernel kill `cmd`'s process (SIGKILL) when the thread that
/// spawned it ends, so that no QEMU outlives qpmem, even when qpmem itself
/// is killed or exits on a signal without running destructors.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure makes one system call (prctl), which is
    // async-signal-safe, and allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest[..1].to_string()))
            .unwrap_or_default()
    }

    /// A child spawned with `die_with_parent` is killed when the spawning
    /// thread ends; one spawned without it lives on.
    #[test]
    fn children_die_with_the_thread_that_spawned_them() {
        let spawn = |guarded: bool| {
            std::thread::spawn(move || {
                let mut cmd = Command::new("sleep");
                cmd.arg("30");
                if guarded {
                    die_with_parent(&mut cmd);
                }
                cmd.spawn().expect("sleep runs")
            })
            .join()
            .expect("thread")
        };
        let mut guarded = spawn(true);
        let mut free = spawn(false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state(guarded.id()) != "Z" && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(state(guarded.id()), "Z", "the guarded child still runs");
        assert_ne!(state(free.id()), "Z", "the unguarded child died too");
        let _ = free.kill();
        let _ = free.wait();
        let _ = guarded.wait();
    }
}
