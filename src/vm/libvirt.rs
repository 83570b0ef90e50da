//! libvirt as the engine: a profile's domain created, watched and ended
//! through the `virsh` client.
//!
//! `virsh` rather than the libvirt C API (the `virt` crate): no C library
//! at build time, and it reaches every URI libvirt knows, `qemu+ssh://`
//! included, with the user's own ssh set-up. Each call is one short
//! process; the guest console is one long `virsh console` on a
//! pseudo-terminal ([`Domain::console_argv`]).
//!
//! qpmem creates *transient* domains (`virsh create`): nothing stays in
//! libvirt's configuration once the domain ends, and `virsh destroy` is
//! the whole clean-up. To keep one, `virsh dumpxml NAME` and `virsh
//! define` it.
//!
//! The domain is [`crate::core::export::libvirt::render`]'s, with what a
//! run needs besides ([`domain_xml`]): a serial console on a pty, and each
//! memory device's profile id as a libvirt user alias (`ua-ID`), so QEMU
//! reports the devices under the profile's ids and `query-memory-devices`
//! compares with the prediction device by device.

use crate::core::export::libvirt::{escape, render};
use crate::core::export::Export;
use crate::core::profile::{Backend, Profile};
use crate::core::qemu::args::without_console_options;
use crate::core::qemu::MemoryDeviceInfo;
use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The connection used when neither `--connect` nor `LIBVIRT_DEFAULT_URI`
/// names one.
pub const DEFAULT_URI: &str = "qemu:///system";

/// The prefix libvirt requires of a user-chosen device alias.
const USER_ALIAS: &str = "ua-";

/// The connection to use: `--connect`, else `$LIBVIRT_DEFAULT_URI` (as
/// virsh itself), else [`DEFAULT_URI`].
pub fn uri(connect: Option<&str>) -> String {
    connect
        .map(str::to_string)
        .or_else(|| {
            std::env::var("LIBVIRT_DEFAULT_URI")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_URI.to_string())
}

/// The host a URI names (`qemu+ssh://user@host:22/system` -> `host`):
/// the domain runs there and its files are that host's, not this one's.
/// `None` for a local URI (`qemu:///system`, `qemu:///session`).
pub fn remote_host(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    (!host.is_empty()).then_some(host)
}

/// The note for a remote domain's files.
pub fn remote_files_note(host: &str) -> String {
    format!("cannot check remote files on {host}; libvirt will refuse a missing backing file")
}

/// Why libvirt did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LibvirtError {
    #[error("cannot run virsh: {0} (install libvirt-clients)")]
    NoVirsh(std::io::Error),
    #[error("virsh -c {uri} {command}: {message}{}", hint(.message))]
    Virsh {
        uri: String,
        command: String,
        message: String,
    },
    #[error("cannot connect to libvirt at {uri}: {message}")]
    Connect { uri: String, message: String },
    #[error("a libvirt domain named '{name}' already exists on {uri}: rename the profile, or remove the domain (virsh -c {uri} destroy {name}; virsh -c {uri} undefine {name})")]
    Exists { name: String, uri: String },
    #[error("QEMU's monitor through libvirt: {0}")]
    Monitor(String),
    #[error("domain XML: {0}")]
    Xml(std::io::Error),
}

/// What to do about a refusal people meet first.
fn hint(message: &str) -> &'static str {
    if message.contains("Permission denied") {
        "\nhelp: libvirt's QEMU runs as its own user (qemu.conf `user`; Debian: libvirt-qemu): every directory above a backing file must be searchable by it"
    } else if message.contains("virtlogd-sock") {
        "\nhelp: libvirt's QEMU driver logs through virtlogd: start it (virtlogd -d, or systemctl start virtlogd)"
    } else {
        ""
    }
}

/// `virsh -q -c URI ARGS...`: its stdout, or its stderr as the error.
fn virsh(uri: &str, args: &[&str]) -> Result<String, LibvirtError> {
    let out = Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(LibvirtError::NoVirsh)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // virsh repeats "error: " on every line.
    let message: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_start_matches("error: ").trim())
        .filter(|l| !l.is_empty())
        .collect();
    Err(LibvirtError::Virsh {
        uri: uri.to_string(),
        command: args.first().copied().unwrap_or_default().to_string(),
        message: if message.is_empty() {
            format!("exited with {}", out.status)
        } else {
            message.join("\n")
        },
    })
}

/// The domain qpmem runs for `profile`, named `name`: the libvirt export
/// with the profile's console options set aside (qpmem owns the console),
/// a serial console on a pty, and the profile's ids as user aliases.
pub fn domain_xml(profile: &Profile, name: &str, emulator: Option<&Path>) -> Export {
    let mut p = profile.clone();
    p.name = name.to_string();
    p.extra_args = without_console_options(&p.extra_args).0;
    // Slots pinned to qpmem's map, as the export does, so that libvirt
    // places the devices where the prediction says.
    let layout = crate::core::layout::layout(&p, &crate::core::facts::HostFacts::default()).ok();
    let mut export = render(&p, emulator, layout.as_ref());
    let console = "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n  </devices>";
    export.text = export.text.replacen("  </devices>", console, 1);
    // One `</memory>` closes each device, in the profile's order.
    let closing = "    </memory>\n";
    if export.text.matches(closing).count() == p.devices.len() {
        let mut parts = export.text.split(closing);
        let mut xml = parts.next().unwrap_or_default().to_string();
        for (d, part) in p.devices.iter().zip(parts) {
            if alias_ok(&d.id) {
                xml.push_str(&format!(
                    "      <alias name='{USER_ALIAS}{}'/>\n",
                    escape(&d.id)
                ));
            } else {
                export.notes.push(format!(
                    "{}: not a libvirt alias (letters, digits, _ and - only): QEMU reports libvirt's own id for it",
                    d.id
                ));
            }
            xml.push_str(closing);
            xml.push_str(part);
        }
        export.text = xml;
    }
    export
}

fn alias_ok(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The profile's backing files that do not exist or are empty: a domain
/// run for a probe is not given files of its own (libvirt's QEMU, running
/// as its own user, cannot reach qpmem's private scratch directory), and
/// an empty one QEMU would grow.
pub fn missing_backing_files(profile: &Profile) -> Vec<String> {
    profile
        .devices
        .iter()
        .filter_map(|d| match &d.backend {
            Backend::File(path)
                if !std::fs::metadata(path).is_ok_and(|m| m.len() > 0 || m.is_dir()) =>
            {
                Some(format!(
                    "{}: backing file {} is missing or empty (create it first: qpmem launch --libvirt creates it, or truncate -s {} {})",
                    d.id,
                    path.display(),
                    crate::core::size::format_qemu(d.size.0),
                    path.display()
                ))
            }
            _ => None,
        })
        .collect()
}

/// The connection answers and knows no domain named `name` (running or
/// defined): a launch can create it. Checked before anything else, so a
/// failing connection is said as such, not as a refusal.
pub fn check_free(uri: &str, name: &str) -> Result<(), LibvirtError> {
    if let Err(LibvirtError::Virsh { message, .. }) = virsh(uri, &["uri"]) {
        return Err(LibvirtError::Connect {
            uri: uri.to_string(),
            message,
        });
    }
    if virsh(uri, &["domstate", name]).is_ok() {
        return Err(LibvirtError::Exists {
            name: name.to_string(),
            uri: uri.to_string(),
        });
    }
    Ok(())
}

/// A domain qpmem created on a connection.
#[derive(Debug, Clone)]
pub struct Domain {
    uri: String,
    name: String,
}

impl Domain {
    /// Create the transient domain `name` from `xml` (paused: no guest
    /// code runs). A domain of that name already there is refused.
    pub fn create(uri: &str, name: &str, xml: &str, paused: bool) -> Result<Domain, LibvirtError> {
        let domain = Domain {
            uri: uri.to_string(),
            name: name.to_string(),
        };
        check_free(uri, name)?;
        // virsh reads the file here and sends the XML to the daemon.
        let mut file = tempfile::Builder::new()
            .prefix("qpmem-domain-")
            .suffix(".xml")
            .tempfile()
            .map_err(LibvirtError::Xml)?;
        file.write_all(xml.as_bytes()).map_err(LibvirtError::Xml)?;
        let path = file.path().to_string_lossy().into_owned();
        let mut args = vec!["create", path.as_str()];
        if paused {
            args.push("--paused");
        }
        match virsh(uri, &args) {
            Ok(_) => Ok(domain),
            Err(LibvirtError::Virsh { message, .. }) if message.contains("already exists") => {
                Err(domain.exists_error())
            }
            Err(e) => Err(e),
        }
    }

    fn exists_error(&self) -> LibvirtError {
        LibvirtError::Exists {
            name: self.name.clone(),
            uri: self.uri.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The domain runs (or is paused): it has a QEMU.
    pub fn is_active(&self) -> bool {
        virsh(&self.uri, &["domstate", &self.name])
            .is_ok_and(|s| !matches!(s.trim(), "shut off" | "crashed" | ""))
    }

    /// A QMP command through `virsh qemu-monitor-command`: its `return`.
    pub fn monitor(&self, command: &str, arguments: Option<Value>) -> Result<Value, LibvirtError> {
        let mut request = serde_json::json!({ "execute": command });
        if let Some(a) = arguments {
            request["arguments"] = a;
        }
        let text = virsh(
            &self.uri,
            &["qemu-monitor-command", &self.name, &request.to_string()],
        )?;
        let answer: Value = serde_json::from_str(text.trim())
            .map_err(|e| LibvirtError::Monitor(format!("{e}: {}", text.trim())))?;
        if let Some(r) = answer.get("return") {
            return Ok(r.clone());
        }
        Err(LibvirtError::Monitor(
            answer["error"]["desc"]
                .as_str()
                .map_or_else(|| answer.to_string(), str::to_string),
        ))
    }

    /// `query-memory-devices`, with the profile's ids where qpmem gave
    /// libvirt user aliases (`ua-nv1` is `nv1`).
    pub fn query_memory_devices(&self) -> Result<Vec<MemoryDeviceInfo>, LibvirtError> {
        let ret = self.monitor("query-memory-devices", None)?;
        let mut devices = crate::qemu::qmp::parse_memory_devices(&ret)
            .map_err(|e| LibvirtError::Monitor(e.to_string()))?;
        for d in &mut devices {
            if let Some(id) = d.id.as_mut() {
                if let Some(own) = id.strip_prefix(USER_ALIAS) {
                    *id = own.to_string();
                }
            }
        }
        Ok(devices)
    }

    fn lifecycle(&self, args: &[&str]) -> Result<(), LibvirtError> {
        let mut all = args.to_vec();
        all.insert(1, &self.name);
        virsh(&self.uri, &all).map(drop)
    }

    /// `virsh suspend`.
    pub fn suspend(&self) -> Result<(), LibvirtError> {
        self.lifecycle(&["suspend"])
    }

    /// `virsh resume`.
    pub fn resume(&self) -> Result<(), LibvirtError> {
        self.lifecycle(&["resume"])
    }

    /// `virsh shutdown --mode acpi`: the ACPI power button.
    pub fn shutdown(&self) -> Result<(), LibvirtError> {
        self.lifecycle(&["shutdown", "--mode", "acpi"])
    }

    /// `virsh destroy`: QEMU is killed; the transient domain is gone.
    pub fn destroy(&self) -> Result<(), LibvirtError> {
        self.lifecycle(&["destroy"])
    }

    /// `virsh -c URI console --force NAME`: the guest's serial console,
    /// for a pseudo-terminal ([`crate::vm::Vm`] runs it). It says
    /// [`CONSOLE_CONNECTED`] once attached, and exits when the domain ends.
    pub fn console_argv(&self) -> Vec<OsString> {
        ["virsh", "-c", &self.uri, "console", "--force", &self.name]
            .into_iter()
            .map(OsString::from)
            .collect()
    }
}

/// What `virsh console` writes once it is attached to the guest's console.
pub const CONSOLE_CONNECTED: &str = "Escape character is";

/// Destroys its domain when dropped, unless disarmed: a domain qpmem
/// created never outlives a probe or a launch that failed half-way.
pub struct Destroyer {
    domain: Domain,
    armed: bool,
}

impl Destroyer {
    pub fn new(domain: Domain) -> Destroyer {
        Destroyer {
            domain,
            armed: true,
        }
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Keep the domain: someone else ends it now.
    pub fn disarm(mut self) -> Domain {
        self.armed = false;
        self.domain.clone()
    }
}

impl Drop for Destroyer {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.domain.destroy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;

    #[test]
    fn a_uri_with_a_host_is_remote() {
        assert_eq!(remote_host("qemu:///system"), None);
        assert_eq!(remote_host("qemu:///session"), None);
        assert_eq!(
            remote_host("qemu+ssh://h.example/system"),
            Some("h.example")
        );
        assert_eq!(
            remote_host("qemu+ssh://me@h:2222/system?keyfile=/k"),
            Some("h")
        );
        assert_eq!(
            remote_host("qemu+tcp://[fe80::1]:16509/system"),
            Some("fe80::1")
        );
        assert_eq!(remote_host("test:///default"), None);
    }

    #[test]
    fn the_domain_has_a_console_and_the_profiles_ids() {
        let mut p = Profile::empty("t");
        p.devices
            .push(Dimm::nvdimm(1, "/v/nv1".into(), Size::gib(1)));
        p.devices
            .push(Dimm::nvdimm(2, "/v/nv2".into(), Size::gib(1)));
        p.devices[1].id = "odd.id".into();
        p.extra_args = vec!["-nographic".into()];
        let e = domain_xml(&p, "qpmem-x", None);
        let doc = roxmltree::Document::parse(&e.text).unwrap();
        let name = doc.descendants().find(|n| n.has_tag_name("name")).unwrap();
        assert_eq!(name.text(), Some("qpmem-x"));
        let aliases: Vec<Option<&str>> = doc
            .descendants()
            .filter(|n| n.has_tag_name("memory") && n.attribute("model").is_some())
            .map(|m| {
                m.children()
                    .find(|c| c.has_tag_name("alias"))
                    .and_then(|a| a.attribute("name"))
            })
            .collect();
        assert_eq!(aliases, [Some("ua-nv1"), None]);
        assert!(e
            .notes
            .iter()
            .any(|n| n.starts_with("odd.id: not a libvirt alias")));
        let serial = doc
            .descendants()
            .find(|n| n.has_tag_name("serial"))
            .unwrap();
        assert_eq!(serial.attribute("type"), Some("pty"));
        assert!(!e.text.contains("nographic"), "{}", e.text);
    }

    #[test]
    fn missing_and_empty_backing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full");
        std::fs::write(&full, b"x").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let mut p = Profile::empty("t");
        for (i, path) in [&full, &empty, &dir.path().join("none")].iter().enumerate() {
            p.devices
                .push(Dimm::nvdimm(i + 1, path.to_path_buf(), Size::gib(1)));
        }
        let m = missing_backing_files(&p);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("nv2: backing file "), "{m:?}");
        assert!(m[1].starts_with("nv3: backing file "), "{m:?}");
    }
}
