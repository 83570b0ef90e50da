//! Which libvirt will run the export: `virsh -c URI version --daemon`,
//! read into [`LibvirtStatus`] for the libvirt rules (`check --libvirt`).

use crate::core::facts::LibvirtStatus;
use crate::core::libvirt::LibvirtVersion;
use std::process::{Command, Stdio};

/// The URI when none is given: the local system daemon.
pub const DEFAULT_URI: &str = "qemu:///system";

/// Ask the daemon at `uri` for its release.
pub fn status(uri: &str) -> LibvirtStatus {
    let unreachable = |reason: String| LibvirtStatus::Unreachable {
        uri: uri.to_string(),
        reason,
    };
    let out = match Command::new("virsh")
        .args(["-c", uri, "version", "--daemon"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) => return unreachable(format!("virsh: {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return unreachable(format!(
            "virsh exited with {}: {}",
            out.status,
            first.trim()
        ));
    }
    match daemon_version(&text) {
        Some(version) => LibvirtStatus::Found {
            uri: uri.to_string(),
            version,
        },
        None => unreachable("virsh version --daemon printed no daemon version".into()),
    }
}

/// `Running against daemon: 9.0.0` in virsh's answer.
fn daemon_version(text: &str) -> Option<LibvirtVersion> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Running against daemon:"))
        .and_then(LibvirtVersion::parse)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_daemon_line_is_read() {
        let t = "Compiled against library: libvirt 9.0.0\nRunning against daemon: 9.0.0\n";
        assert_eq!(super::daemon_version(t).unwrap().to_string(), "9.0.0");
        assert_eq!(super::daemon_version("Using library: libvirt 9.0.0"), None);
    }
}
