//! Pre-flight: everything checked before QEMU starts, and the only place
//! qpmem creates files for a VM.
//!
//! [`preflight`] runs the diagnostics, looks at every backing file, the
//! kernel, initrd and disks, and at which other processes hold a backing
//! file open; it changes nothing and returns a [`Plan`]. [`prepare`]
//! carries out the plan's changes (missing parent directories, missing
//! backing files created sparse at exactly their size) and only when the
//! caller passes the user's confirmation. An existing file is never
//! truncated, grown, overwritten or rewritten by qpmem: files are created
//! with `O_CREAT|O_EXCL`. An existing *empty* backing file is listed among
//! the changes too, since QEMU treats it as new and grows it to size.

use crate::core::cmdline::ImportNote;
use crate::core::diagnose::{self, Context, Diagnostic, Severity};
use crate::core::facts::{HostFacts, QemuStatus};
use crate::core::layout::layout;
use crate::core::profile::Profile;
use crate::core::qemu::args::without_console_options;
use crate::core::size::format_qemu;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// A backing file to create, or an existing empty one QEMU will grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub device: String,
    pub path: PathBuf,
    pub size: u64,
    /// The file exists but is empty: QEMU takes a 0-byte file for a new
    /// one and grows it to `size` itself. [`prepare`] leaves it alone.
    pub grows_empty: bool,
}

/// A reason not to start QEMU that the diagnostics do not cover: it
/// concerns the files on this host, now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{device}: backing file {path}: {parent} is not a directory")]
    ParentNotDirectory {
        device: String,
        path: PathBuf,
        parent: PathBuf,
    },
    #[error("{what} {path}: {reason}")]
    Unusable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// What launching would do, and what stands in the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Every finding of [`diagnose::check`]; errors block the launch.
    pub diagnostics: Vec<Diagnostic>,
    /// Problems with files on this host; each blocks the launch.
    pub problems: Vec<Problem>,
    /// Things worth saying that do not block (a directory as mem-path...).
    pub notes: Vec<String>,
    /// Directories to create, parents first.
    pub create_dirs: Vec<PathBuf>,
    /// Backing files to create, sparse, at exactly their size.
    pub create_files: Vec<NewFile>,
    /// Options from `extra_args` that qpmem replaces with its own console,
    /// monitor and display options.
    pub set_aside: Vec<String>,
}

impl Plan {
    /// Everything that blocks the launch, one message each.
    pub fn errors(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(Diagnostic::render)
            .chain(self.problems.iter().map(|p| format!("error: {p}")))
            .collect()
    }

    pub fn is_blocked(&self) -> bool {
        !self.errors().is_empty()
    }

    /// Files or directories would be created: ask first.
    pub fn needs_confirmation(&self) -> bool {
        !self.create_dirs.is_empty() || !self.create_files.is_empty()
    }

    /// What to tell the person launching besides the diagnostics: the
    /// notes, and the options set aside for qpmem's own console. `qpmem
    /// launch` prints them; the TUI shows them in its question and in the
    /// launch view.
    pub fn launch_notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if !self.set_aside.is_empty() {
            notes.push(format!(
                "qpmem owns the console, monitor and display; set aside from the profile: {}",
                self.set_aside.join(" ")
            ));
        }
        notes
    }

    /// The changes in words, for the confirmation prompt.
    pub fn changes(&self) -> Vec<String> {
        self.create_dirs
            .iter()
            .map(|d| format!("create directory {}", d.display()))
            .chain(self.create_files.iter().map(|f| {
                let what = match f.grows_empty {
                    true => "grow the existing empty backing file",
                    false => "create backing file",
                };
                format!(
                    "{what} {} for {} (sparse, {} = {} bytes)",
                    f.path.display(),
                    f.device,
                    format_qemu(f.size),
                    f.size
                )
            }))
            .collect()
    }
}

/// Check a profile for launch. Reads the file system and /proc; changes
/// nothing.
pub fn preflight(profile: &Profile, qemu: &QemuStatus, import_notes: &[ImportNote]) -> Plan {
    // The file system and /proc, read once: the diagnostics judge what
    // is there (too small, in use by another process, a directory...).
    let host = HostFacts {
        qemu: qemu.clone(),
        ..crate::host::gather(profile)
    };
    let mut plan = diagnosed(profile, &host, import_notes);

    plan_files(profile, &mut plan);

    for (what, path) in profile
        .kernel
        .iter()
        .map(|k| ("kernel", k))
        .chain(profile.initrd.iter().map(|i| ("initrd", i)))
        .chain(profile.disks.iter().map(|d| ("disk", d)))
    {
        if let Err(reason) = readable_file(path) {
            plan.problems.push(Problem::Unusable {
                what,
                path: path.clone(),
                reason,
            });
        }
    }
    if profile.kernel.is_none() && profile.disks.is_empty() && !boots_otherwise(profile) {
        plan.notes.push(
            "no kernel and no disk: the guest firmware will find nothing to boot".to_string(),
        );
    }
    plan
}

/// Check a profile that runs on another host (a remote libvirt): the
/// diagnostics without this host's files, which are not the VM's, and a
/// note that they are not checked. Nothing is created.
pub fn preflight_remote(profile: &Profile, host: &str, import_notes: &[ImportNote]) -> Plan {
    let mut plan = diagnosed(profile, &HostFacts::default(), import_notes);
    plan.notes.push(super::libvirt::remote_files_note(host));
    plan
}

/// The diagnostics on `host`'s facts, and the console options set aside.
fn diagnosed(profile: &Profile, host: &HostFacts, import_notes: &[ImportNote]) -> Plan {
    let lay = layout(profile, host).ok();
    Plan {
        diagnostics: diagnose::check(&Context {
            profile,
            layout: lay.as_ref(),
            import_notes,
            host,
        }),
        set_aside: without_console_options(&profile.extra_args).1,
        ..Plan::default()
    }
}

/// The profile's `extra_args` name their own boot media.
fn boots_otherwise(profile: &Profile) -> bool {
    profile.extra_args.iter().any(|a| {
        matches!(
            a.trim_start_matches('-'),
            "drive" | "hda" | "cdrom" | "blockdev" | "kernel" | "bios" | "pflash"
        )
    })
}

fn readable_file(path: &Path) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("is a directory".into());
    }
    fs::File::open(path).map(|_| ()).map_err(|e| e.to_string())
}

/// The ancestors of `path` that do not exist, outermost first; `Err` with
/// the first existing ancestor that is not a directory.
fn missing_dirs(path: &Path) -> Result<Vec<PathBuf>, PathBuf> {
    let mut missing = Vec::new();
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir.as_os_str().is_empty() {
            break;
        }
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => return Err(dir.to_path_buf()),
            Err(_) => missing.push(dir.to_path_buf()),
        }
        cur = dir.parent();
    }
    missing.reverse();
    Ok(missing)
}

/// The backing files `profile` needs created (sparse, at their size) or
/// that QEMU will grow from empty, the directories above them, and what
/// stands in the way, added to `plan`: launch's and hotplug's one file
/// plan.
pub fn plan_files(profile: &Profile, plan: &mut Plan) {
    let mut dirs = BTreeSet::new();
    for d in &profile.devices {
        let Some(path) = d.backend.path() else {
            continue;
        };
        if plan.create_files.iter().any(|f| f.path == path) {
            continue;
        }
        if fs::symlink_metadata(path).is_ok() {
            // QEMU takes an empty regular file for a new one and grows it.
            let empty = fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
            if empty && d.size.0 > 0 {
                plan.create_files.push(NewFile {
                    device: d.id.clone(),
                    path: path.to_path_buf(),
                    size: d.size.0,
                    grows_empty: true,
                });
            }
            continue;
        }
        match missing_dirs(path) {
            Ok(missing) => dirs.extend(missing),
            Err(parent) => {
                plan.problems.push(Problem::ParentNotDirectory {
                    device: d.id.clone(),
                    path: path.to_path_buf(),
                    parent,
                });
                continue;
            }
        }
        plan.create_files.push(NewFile {
            device: d.id.clone(),
            path: path.to_path_buf(),
            size: d.size.0,
            grows_empty: false,
        });
    }
    plan.create_dirs.extend(dirs);
}

/// Why the plan's changes were not made.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("the launch is blocked:\n{}", .0.join("\n"))]
    Blocked(Vec<String>),
    #[error("creating files needs confirmation:\n{}", .0.join("\n"))]
    NotConfirmed(Vec<String>),
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create backing file {path}: {source}")]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Carry out the plan: create its directories and sparse backing files.
/// `confirmed` is the user's answer to [`Plan::changes`]; without it
/// nothing is created. A file that appeared since the check is left alone
/// and reported.
pub fn prepare(plan: &Plan, confirmed: bool) -> Result<(), PrepareError> {
    if plan.is_blocked() {
        return Err(PrepareError::Blocked(plan.errors()));
    }
    if plan.needs_confirmation() && !confirmed {
        return Err(PrepareError::NotConfirmed(plan.changes()));
    }
    for dir in &plan.create_dirs {
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(source) => {
                return Err(PrepareError::CreateDir {
                    path: dir.clone(),
                    source,
                })
            }
        }
    }
    for f in plan.create_files.iter().filter(|f| !f.grows_empty) {
        let err = |source| PrepareError::CreateFile {
            path: f.path.clone(),
            source,
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&f.path)
            .map_err(err)?;
        file.set_len(f.size).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn plans_missing_files_and_dirs_and_creates_them_only_when_confirmed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/nv1");
        let mut p = Profile::empty("t");
        p.devices.push(Dimm::nvdimm(1, path.clone(), Size::gib(1)));
        let plan = preflight(&p, &QemuStatus::NotChecked, &[]);
        assert!(!plan.is_blocked(), "{:?}", plan.errors());
        assert_eq!(
            plan.create_dirs,
            vec![tmp.path().join("a"), tmp.path().join("a/b")]
        );
        assert_eq!(plan.create_files.len(), 1);
        assert!(plan.needs_confirmation());
        assert!(matches!(
            prepare(&plan, false),
            Err(PrepareError::NotConfirmed(_))
        ));
        assert!(!tmp.path().join("a").exists());
        prepare(&plan, true).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 1 << 30);
        // Sparse: almost no blocks allocated.
        assert!(meta.blocks() * 512 < 1 << 20, "{} blocks", meta.blocks());
        let again = preflight(&p, &QemuStatus::NotChecked, &[]);
        assert!(!again.needs_confirmation());
        assert!(!again.is_blocked());
    }

    #[test]
    fn never_touches_an_existing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let small = tmp.path().join("small");
        fs::write(&small, b"precious").unwrap();
        let big = tmp.path().join("big");
        fs::write(&big, vec![7u8; 3 << 20]).unwrap();
        let mut p = Profile::empty("t");
        p.devices.push(Dimm::nvdimm(1, small.clone(), Size::gib(1)));
        let mut d2 = Dimm::nvdimm(2, big.clone(), Size::mib(2));
        d2.label_size = Size(0);
        d2.align = None;
        p.devices.push(d2);
        let plan = preflight(&p, &QemuStatus::NotChecked, &[]);
        assert!(plan.is_blocked());
        assert!(
            plan.errors()
                .iter()
                .any(|e| e.contains("nv1") && e.contains("smaller than") && e.contains("8 B")),
            "{:?}",
            plan.errors()
        );
        // The larger file is worth a word, not a refusal.
        assert!(plan
            .diagnostics
            .iter()
            .any(|d| d.device.as_deref() == Some("nv2") && d.severity != Severity::Error));
        assert!(plan.create_files.is_empty());
        assert!(matches!(
            prepare(&plan, true),
            Err(PrepareError::Blocked(_))
        ));
        assert_eq!(fs::read(&small).unwrap(), b"precious");
        assert_eq!(fs::metadata(&big).unwrap().len(), 3 << 20);
    }

    #[test]
    fn an_existing_empty_file_is_listed_as_grown_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("nv1");
        fs::write(&path, b"").unwrap();
        let mut p = Profile::empty("t");
        p.devices.push(Dimm::nvdimm(1, path.clone(), Size::gib(1)));
        let plan = preflight(&p, &QemuStatus::NotChecked, &[]);
        assert!(!plan.is_blocked(), "{:?}", plan.errors());
        assert_eq!(
            plan.create_files,
            vec![NewFile {
                device: "nv1".into(),
                path: path.clone(),
                size: 1 << 30,
                grows_empty: true,
            }]
        );
        assert!(plan.needs_confirmation());
        assert!(plan.changes()[0].starts_with("grow the existing empty backing file"));
        assert!(matches!(
            prepare(&plan, false),
            Err(PrepareError::NotConfirmed(_))
        ));
        // QEMU grows it; qpmem itself does not touch it.
        prepare(&plan, true).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_file_that_appeared_since_the_check_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("nv1");
        let mut p = Profile::empty("t");
        p.devices.push(Dimm::nvdimm(1, path.clone(), Size::gib(1)));
        let plan = preflight(&p, &QemuStatus::NotChecked, &[]);
        fs::write(&path, b"mine").unwrap();
        let err = prepare(&plan, true).unwrap_err();
        assert!(err.to_string().contains("nv1"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"mine");
    }

    #[test]
    fn missing_kernel_and_parent_that_is_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let mut p = Profile::empty("t");
        p.kernel = Some(tmp.path().join("no-such-vmlinuz"));
        p.devices
            .push(Dimm::nvdimm(1, file.join("nv1"), Size::gib(1)));
        let errors = preflight(&p, &QemuStatus::NotChecked, &[]).errors();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("kernel") && e.contains("no-such-vmlinuz")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("is not a directory") && e.contains("plain")),
            "{errors:?}"
        );
    }
}
