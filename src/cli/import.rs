//! `qpmem import`: a pasted command line, a libvirt domain XML file, or a
//! libvirt domain by name (`virsh dumpxml`) as a profile, printed or saved
//! in the store.

use super::common::{out, Failure, Outcome};
use qpmem::core::cmdline::{import, ImportNote};
use qpmem::core::libvirt_import::import_domain;
use qpmem::core::new_dimm::own_backing_files;
use qpmem::core::printable::printable;
use qpmem::core::profile_ron::to_ron;
use qpmem::host;
use qpmem::store::{self, Store, StoreError};
use qpmem::Profile;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// What to import.
pub enum What {
    /// `--cmdline STRING`.
    Cmdline(String),
    /// `--libvirt FILE`.
    LibvirtFile(PathBuf),
    /// `--domain NAME [--connect URI]`.
    Domain {
        name: String,
        connect: Option<String>,
    },
}

/// A domain XML is at most this large (`virsh dumpxml` of a big domain is
/// tens of KiB).
const MAX_DOMAIN_BYTES: u64 = 16 << 20;

pub fn run(what: Option<What>, save: Option<&str>, force: bool) -> Outcome {
    let Some(what) = what else {
        return Err(Failure {
            code: 2,
            message: "import: give --cmdline, --libvirt or --domain".into(),
        });
    };
    // Check the name before the (possibly long) import.
    if let Some(name) = save {
        store::validate_name(name)?;
    }
    let (mut profile, notes) = read(&what)?;
    if !matches!(what, What::Cmdline(_)) {
        for n in &notes {
            eprintln!("note: {}", describe(n));
        }
    }
    let Some(name) = save else {
        return out(&to_ron(&profile)?);
    };
    let store = Store::from_env()?;
    if let Some(existing) = store.stored_path(name)? {
        if !force {
            return Err(StoreError::Exists {
                name: name.to_string(),
                path: format!("{}; pass --force to replace it", existing.display()),
            }
            .into());
        }
    }
    // A new stored profile never shares qpmem's data files with another.
    let ctx = host::new_dimm_context(store.data_dir().to_path_buf(), None);
    let moved = own_backing_files(&mut profile, name, &ctx);
    let path = store.save(name, &profile)?;
    eprintln!("Saved the profile '{name}' to {}", path.display());
    for m in moved {
        eprintln!(
            "{}: a backing file of its own, {} (not {}, in qpmem's data directory)",
            m.id,
            m.to.display(),
            m.from.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(n: &ImportNote) -> String {
    printable(&format!("{}: {}", n.subject, n.detail)).into_owned()
}

fn read(what: &What) -> Result<(Profile, Vec<ImportNote>), Failure> {
    match what {
        What::Cmdline(line) => Ok(import(line)?),
        What::LibvirtFile(path) => {
            let bytes = qpmem::files::read_regular(path, MAX_DOMAIN_BYTES)?;
            let text = String::from_utf8(bytes)
                .map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
            Ok(import_domain(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        What::Domain { name, connect } => {
            let text = dumpxml(name, connect.as_deref())?;
            Ok(import_domain(&text).map_err(|e| format!("domain '{name}': {e}"))?)
        }
    }
}

/// `virsh [-c URI] dumpxml NAME`: the domain's XML as libvirt has it.
fn dumpxml(name: &str, connect: Option<&str>) -> Result<String, Failure> {
    let mut cmd = Command::new("virsh");
    if let Some(uri) = connect {
        cmd.args(["-c", uri]);
    }
    // `--` keeps a name starting with '-' a name.
    cmd.args(["dumpxml", "--", name]);
    let shown = match connect {
        Some(uri) => format!("virsh -c {uri} dumpxml {name}"),
        None => format!("virsh dumpxml {name}"),
    };
    let output = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{shown}: virsh is not installed (apt-get install libvirt-clients)")
        }
        _ => format!("{shown}: {e}"),
    })?;
    if !output.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            output.status,
            printable(String::from_utf8_lossy(&output.stderr).trim())
        )
        .into());
    }
    String::from_utf8(output.stdout).map_err(|e| format!("{shown}: not UTF-8 ({e})").into())
}
