//! QEMU itself: finding the binary, reading its version (and what that
//! version can do), talking QMP and starting it paused (`-S`) to see what
//! it really placed.

pub mod args;
pub mod caps;
pub mod compare;
pub mod discover;
pub mod probe;
pub mod qmp;
pub mod version;

pub use compare::{compare, Comparison, DeviceComparison};
pub use discover::{detect, QemuStatus};
pub use probe::{probe, ProbeError};
pub use qmp::{MemoryDeviceInfo, Qmp, QmpError};
pub use version::QemuVersion;

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
