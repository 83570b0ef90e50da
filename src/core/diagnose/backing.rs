//! Rules about backing files: what QEMU does with the file (size checks,
//! directories, creation), whether what the guest writes persists
//! (share=, tmpfs, DAX, discard-data=), and whether data is at risk (two
//! devices or two VMs on one file, a label over old data, a full disk).
//! The file-system facts come from `crate::host::gather`; without them
//! the rules that need them stay quiet.

use super::{Basis, Context, Edit, Finding, Fix, Flag, Rule, Severity};
use crate::core::cmdline::escape_value;
use crate::core::facts::{Entry, FileFacts, LabelArea};
use crate::core::profile::{Backend, Dimm};
use crate::core::size::{format_human, format_qemu, Size};
use std::collections::BTreeMap;
use std::path::Path;

/// File-backed devices with what is known about their files.
fn files<'a>(
    ctx: &'a Context,
) -> impl Iterator<Item = (&'a Dimm, &'a Path, Option<&'a FileFacts>)> {
    ctx.profile.devices.iter().filter_map(|d| match &d.backend {
        Backend::File(p) => Some((d, p.as_path(), ctx.host.files.get(p))),
        Backend::Ram => None,
    })
}

pub static FILE_TOO_SMALL: Rule = Rule {
    code: "QP300",
    name: "backing-file-too-small",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "QEMU never grows an existing, non-empty backing file: one smaller than size= \
is refused (\"backing store size 0x.. does not match 'size' option 0x..\"). An empty file \
is grown, a missing one created.",
    check: file_too_small,
};

fn file_too_small(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, f)| match f?.entry {
            Entry::File { size, .. } if size > 0 && size < d.size.0 => Some((d, path, size)),
            _ => None,
        })
        .map(|(d, path, fsz)| {
            let message = format!(
                "{} is {}, smaller than {}'s size={}",
                path.display(),
                format_human(fsz),
                d.id,
                format_qemu(d.size.0)
            );
            let grow = format!(
                "grow the file: truncate -s {} {}",
                format_qemu(d.size.0),
                path.display()
            );
            // Shrinking the device to the file only helps when QEMU would
            // accept a device of that size.
            let mut shrunk = d.clone();
            shrunk.size = Size(fsz);
            let usable = crate::core::layout::visible_size(
                &shrunk,
                crate::core::layout::effective_align(&shrunk, ctx.host),
            )
            .is_ok();
            if !usable {
                return Finding::about(Some(&d.id), message, Some(grow));
            }
            Finding::fixed(
                Some(&d.id),
                message,
                Fix::one(
                    format!(
                        "set size={} on {} (the file's size)",
                        format_qemu(fsz),
                        d.id
                    ),
                    Edit::SetSize {
                        device: d.id.clone(),
                        size: Size(fsz),
                    },
                )
                // Or grow the file: which one the user meant, only they know.
                .maybe_incorrect(),
                Some(&format!("or {grow}")),
            )
        })
        .collect()
}

pub static EMPTY_FILE_GROWN: Rule = Rule {
    code: "QP313",
    name: "empty-backing-file-grown",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "QEMU takes an existing empty backing file for a new one and grows it to size= \
(sparse) when it starts: the file is changed, not used as it is. `qpmem launch` lists it \
among the files it will create or grow and asks first; `qpmem probe` stands in a scratch \
file for it.",
    check: empty_file_grown,
};

fn empty_file_grown(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, f)| match f?.entry {
            Entry::File { size: 0, .. } if d.size.0 > 0 => Some((d, path)),
            _ => None,
        })
        .map(|(d, path)| {
            Finding::about(
                Some(&d.id),
                format!(
                    "{} is empty: QEMU will grow it to {}'s size={} when it starts",
                    path.display(),
                    d.id,
                    format_qemu(d.size.0)
                ),
                Some("if the file should hold an image, check the path".into()),
            )
        })
        .collect()
}

pub static FILE_LARGER: Rule = Rule {
    code: "QP301",
    name: "backing-file-larger",
    severity: Severity::Note,
    basis: Basis::Surprise,
    docs: "A backing file larger than size= is not resized: QEMU uses its first size bytes, \
and an NVDIMM's label area is at the end of those, not at the end of the file.",
    check: file_larger,
};

fn file_larger(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, f)| match f?.entry {
            Entry::File { size, .. } if size > d.size.0 => Some((d, path, size)),
            _ => None,
        })
        .map(|(d, path, fsz)| {
            let label = if d.effective_label_size() > 0 {
                format!(
                    ", and the label area sits at {:#x}, not at the file's end",
                    d.size.0.saturating_sub(d.effective_label_size())
                )
            } else {
                String::new()
            };
            Finding::about(
                Some(&d.id),
                format!(
                    "{} uses only the first {} of {}'s {}{label}",
                    d.id,
                    format_human(d.size.0),
                    path.display(),
                    format_human(fsz)
                ),
                Some(format!(
                    "set size={} on {} to use all of it",
                    format_qemu(fsz),
                    d.id
                )),
            )
        })
        .collect()
}

pub static BACKING_IS_DIRECTORY: Rule = Rule {
    code: "QP302",
    name: "backing-is-directory",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A mem-path that is a directory makes QEMU create an unlinked temporary file in \
it: the memory works but nothing persists after QEMU exits.",
    check: backing_is_directory,
};

fn backing_is_directory(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter(|(_, _, f)| f.is_some_and(|f| f.entry == Entry::Directory))
        .map(|(d, path, _)| {
            let file = path.join(format!("{}.img", d.id));
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{}'s mem-path {} is a directory: QEMU backs it with a temporary file, so nothing persists",
                    d.id,
                    path.display()
                ),
                Fix::one(
                    format!("back {} with the file {}", d.id, file.display()),
                    Edit::SetBackingFile {
                        device: d.id.clone(),
                        path: file,
                    },
                )
                // A file name qpmem made up.
                .maybe_incorrect(),
                None,
            )
        })
        .collect()
}

pub static NOT_PERSISTENT: Rule = Rule {
    code: "QP303",
    name: "backing-not-persistent",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A backing file on tmpfs, ramfs or hugetlbfs lives in host RAM: it is gone when \
the host reboots, whatever the guest believes about its persistent memory.",
    check: not_persistent,
};

fn not_persistent(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, f)| {
            let fs = f?.fs.as_ref()?;
            fs.is_volatile().then(|| {
                Finding::about(
                    Some(&d.id),
                    format!(
                        "{}'s file {} is on {} ({}): it lives in host RAM and is gone after a host reboot",
                        d.id,
                        path.display(),
                        fs.fstype,
                        fs.mount_point.display()
                    ),
                    Some("put it on a disk-backed file system (or a DAX one for real pmem)".into()),
                )
            })
        })
        .collect()
}

pub static DIR_MISSING: Rule = Rule {
    code: "QP304",
    name: "backing-dir-missing",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "QEMU creates a missing backing file but not its directory (\"can't open backing \
store .. for guest RAM: No such file or directory\"). `qpmem launch` creates it after \
asking; a command line copied elsewhere needs it made first. A directory inside qpmem's \
own data directory is QP314, a note.",
    check: dir_missing,
};

pub static DATA_DIR_MISSING: Rule = Rule {
    code: "QP314",
    name: "data-dir-missing",
    severity: Severity::Note,
    basis: Basis::Surprise,
    docs: "The backing file's directory is inside qpmem's own data directory \
(`$XDG_DATA_HOME/qpmem`, where `${data}` points) and does not exist yet, as on a first \
run: `qpmem launch` creates it with the file. Only a command line run without qpmem \
needs it made first.",
    check: data_dir_missing,
};

/// The file-backed devices whose file's directory is missing, with that
/// directory, split by whether it is inside qpmem's data directory.
fn missing_dirs<'a>(
    ctx: &'a Context,
    in_data_dir: bool,
) -> impl Iterator<Item = (&'a Dimm, &'a Path)> + 'a {
    files(ctx).filter_map(move |(d, path, f)| {
        let gone = f.is_some_and(|f| {
            f.entry
                == Entry::Missing {
                    parent_exists: false,
                }
        });
        let dir = path.parent().unwrap_or(path);
        (gone && ctx.host.in_data_dir(dir) == in_data_dir).then_some((d, dir))
    })
}

fn mkdir_help(dir: &Path) -> String {
    format!(
        "mkdir -p {}",
        crate::core::cmdline::shell_quote(&dir.display().to_string())
    )
}

fn dir_missing(ctx: &Context) -> Vec<Finding> {
    missing_dirs(ctx, false)
        .map(|(d, dir)| {
            Finding::about(
                Some(&d.id),
                format!(
                    "the directory {} for {}'s file does not exist: QEMU alone refuses this, `qpmem launch` creates it",
                    dir.display(),
                    d.id
                ),
                Some(mkdir_help(dir)),
            )
        })
        .collect()
}

fn data_dir_missing(ctx: &Context) -> Vec<Finding> {
    missing_dirs(ctx, true)
        .map(|(d, dir)| {
            Finding::about(
                Some(&d.id),
                format!(
                    "{}'s file goes in qpmem's data directory, where {} does not exist yet: `qpmem launch` creates it",
                    d.id,
                    dir.display()
                ),
                Some(format!("{} (only to run the command line without qpmem)", mkdir_help(dir))),
            )
        })
        .collect()
}

pub static SHARED_BACKING_FILE: Rule = Rule {
    code: "QP305",
    name: "shared-backing-file",
    severity: Severity::Error,
    basis: Basis::DataLoss,
    docs: "Two devices backed by the same file both write the same bytes: each corrupts the \
other's data. QEMU does not stop it.",
    check: shared_backing_file,
};

fn shared_backing_file(ctx: &Context) -> Vec<Finding> {
    let mut first: BTreeMap<std::path::PathBuf, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (d, path, f) in files(ctx) {
        // Each device on a directory gets its own temporary file.
        if f.is_some_and(|f| f.entry == Entry::Directory) {
            continue;
        }
        let key = ctx.host.file_identity(path);
        match first.get(&key) {
            Some(owner) => out.push(Finding::about(
                Some(&d.id),
                format!(
                    "{} is backed by {}, the file {} already uses: both write the same bytes",
                    d.id,
                    path.display(),
                    owner
                ),
                Some(format!("give {} a file of its own", d.id)),
            )),
            None => {
                first.insert(key, &d.id);
            }
        }
    }
    out
}

pub static FILE_IN_USE: Rule = Rule {
    code: "QP306",
    name: "backing-file-in-use",
    severity: Severity::Error,
    basis: Basis::DataLoss,
    docs: "Another running process (often another VM) has the backing file open: two VMs on \
one backing file corrupt it. The process is named by its PID.",
    check: file_in_use,
};

fn file_in_use(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, f)| {
            let f = f?;
            let first = f.open_by.first()?;
            let others = match f.open_by.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            Some(Finding::about(
                Some(&d.id),
                format!(
                    "{}'s file {} is open in process {} ({}){others}: two VMs on one backing file corrupt it",
                    d.id,
                    path.display(),
                    first.pid,
                    first.command
                ),
                Some(format!(
                    "stop process {} first, or give {} another file",
                    first.pid, d.id
                )),
            ))
        })
        .collect()
}

pub static DISK_SPACE: Rule = Rule {
    code: "QP307",
    name: "not-enough-disk-space",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "Backing files are sparse: they take disk space as the guest writes (with \
share=on). When the file system fills up, QEMU dies with SIGBUS the moment the guest \
touches a page that cannot be allocated.",
    check: disk_space,
};

fn disk_space(ctx: &Context) -> Vec<Finding> {
    // Per file system: free bytes, bytes still to be allocated, devices.
    let mut per_fs: BTreeMap<u64, (u64, u64, Vec<&str>, &Path)> = BTreeMap::new();
    for (d, _, f) in files(ctx) {
        let Some(f) = f else { continue };
        let Some(fs) = &f.fs else { continue };
        if !d.share || d.readonly {
            continue;
        }
        let need = match f.entry {
            Entry::Missing { .. } | Entry::Directory => d.size.0,
            Entry::File { allocated, .. } => d.size.0.saturating_sub(allocated),
            Entry::Other { .. } => 0,
        };
        if need == 0 {
            continue;
        }
        let e = per_fs
            .entry(fs.dev)
            .or_insert((fs.free, 0, Vec::new(), fs.mount_point.as_path()));
        e.1 = e.1.saturating_add(need);
        e.2.push(&d.id);
    }
    per_fs
        .into_values()
        .filter(|(free, need, _, _)| need > free)
        .map(|(free, need, ids, mount)| {
            Finding::about(
                ids.first().copied(),
                format!(
                    "the backing files of {} on {} may grow by {}, but only {} is free there",
                    ids.join(", "),
                    mount.display(),
                    format_human(need),
                    format_human(free)
                ),
                Some(format!(
                    "free {} on {}, or move the files: QEMU dies (SIGBUS) when the guest writes past the free space",
                    format_human(need - free),
                    mount.display()
                )),
            )
        })
        .collect()
}

pub static PMEM_NOT_DAX: Rule = Rule {
    code: "QP308",
    name: "pmem-not-dax",
    severity: Severity::Warning,
    basis: Basis::DataLoss,
    docs: "pmem=on promises QEMU the file is on real persistent memory (a DAX file system), \
so it skips the syncing that makes guest writes durable. On an ordinary file QEMU 7.2 warns \
\"Using non DAX backing file with 'pmem=on' option is deprecated\", and a host crash can \
lose or corrupt what the guest believed persistent. (QEMU builds without libpmem refuse \
pmem=on from 6.0.)",
    check: pmem_not_dax,
};

fn pmem_not_dax(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter(|(d, _, _)| d.pmem)
        .filter_map(|(d, path, f)| {
            let fs = f?.fs.as_ref()?;
            (!fs.dax).then(|| {
                Finding::fixed(
                    Some(&d.id),
                    format!(
                        "{} has pmem=on, but {} is on {} without DAX: a host crash can lose what the guest flushed",
                        d.id,
                        path.display(),
                        fs.fstype
                    ),
                    Fix::one(
                        format!("set pmem=off on {}", d.id),
                        Edit::SetFlag {
                            device: d.id.clone(),
                            flag: Flag::Pmem,
                            value: false,
                        },
                    ),
                    Some("or put the file on a file system mounted with -o dax"),
                )
            })
        })
        .collect()
}

pub static LABEL_HIDES_DATA: Rule = Rule {
    code: "QP309",
    name: "label-hides-data",
    severity: Severity::Warning,
    basis: Basis::DataLoss,
    docs: "The label area is the last label-size bytes of the backend. On an existing image \
that was used without labels those bytes are data: with a label the guest no longer sees \
them, and `ndctl init-labels` overwrites them. Detected when the bytes there are neither \
zero nor a namespace index block.",
    check: label_hides_data,
};

fn label_hides_data(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter(|(d, _, f)| {
            d.kind.spec().has_labels() && f.is_some_and(|f| f.label_area == LabelArea::Data)
        })
        .map(|(d, path, _)| {
            let label = d.effective_label_size();
            Finding::fixed(
                Some(&d.id),
                format!(
                    "the last {} of {}'s backend in {} (from {:#x}) hold data, not labels: label-size={} hides them from the guest",
                    format_human(label),
                    d.id,
                    path.display(),
                    d.size.0.saturating_sub(label),
                    format_qemu(label)
                ),
                Fix::one(
                    format!("set label-size=0 on {} (as the image was used)", d.id),
                    Edit::SetLabelSize {
                        device: d.id.clone(),
                        size: Size(0),
                    },
                )
                // Undoes a label the user asked for.
                .maybe_incorrect(),
                Some("`ndctl init-labels` would overwrite those bytes"),
            )
        })
        .collect()
}

pub static SHARE_OFF: Rule = Rule {
    code: "QP310",
    name: "share-off",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "share=off (QEMU's default) maps the backing file privately: guest writes stay in \
QEMU's copy and never reach the file, so nothing persists. Persistent memory wants \
share=on. A read-only backend is left alone.",
    check: share_off,
};

fn share_off(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter(|(d, _, f)| {
            !d.share && !d.readonly && !f.is_some_and(|f| f.entry == Entry::Directory)
        })
        .map(|(d, path, _)| {
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has share=off: guest writes never reach {}",
                    d.id,
                    path.display()
                ),
                Fix::one(
                    format!("set share=on on {}", d.id),
                    Edit::SetFlag {
                        device: d.id.clone(),
                        flag: Flag::Share,
                        value: true,
                    },
                ),
                None,
            )
        })
        .collect()
}

pub static DISCARD_DATA: Rule = Rule {
    code: "QP311",
    name: "discard-data",
    severity: Severity::Error,
    basis: Basis::DataLoss,
    docs: "discard-data=on tells QEMU to throw the backing file's contents away when it \
exits: never what persistent memory is for.",
    check: discard_data,
};

fn discard_data(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter(|(d, _, _)| d.discard_data)
        .map(|(d, path, _)| {
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has discard-data=on: QEMU throws away what is in {} when it exits",
                    d.id,
                    path.display()
                ),
                Fix::one(
                    format!("set discard-data=off on {}", d.id),
                    Edit::SetFlag {
                        device: d.id.clone(),
                        flag: Flag::DiscardData,
                        value: false,
                    },
                ),
                None,
            )
        })
        .collect()
}

pub static COMMA_IN_PATH: Rule = Rule {
    code: "QP312",
    name: "comma-in-path",
    severity: Severity::Note,
    basis: Basis::Input,
    docs: "QEMU separates options with commas, so a comma inside mem-path must be doubled \
(a single one starts a new option). qpmem doubles it; a hand-written line must too.",
    check: comma_in_path,
};

fn comma_in_path(ctx: &Context) -> Vec<Finding> {
    files(ctx)
        .filter_map(|(d, path, _)| {
            let text = path.to_str()?;
            text.contains(',').then(|| {
                Finding::about(
                    Some(&d.id),
                    format!("{}'s path {} holds a comma", d.id, path.display()),
                    Some(format!(
                        "qpmem writes it as mem-path={}; write it so by hand too",
                        escape_value(text)
                    )),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::facts::{FsFacts, Opener};
    use crate::core::size::GIB;

    fn fs(fstype: &str, free: u64, dax: bool) -> FsFacts {
        FsFacts {
            fstype: fstype.into(),
            mount_point: "/vms".into(),
            dev: 7,
            free,
            dax,
            huge_page: None,
        }
    }

    fn facts(entry: Entry) -> FileFacts {
        FileFacts {
            entry,
            fs: Some(fs("ext4", 1 << 40, false)),
            open_by: Vec::new(),
            label_area: LabelArea::NotChecked,
        }
    }

    /// Host facts for the seed: nv1's file as given, nv2's missing.
    fn host(nv1: FileFacts) -> HostFacts {
        let mut h = HostFacts::default();
        h.files.insert("/vms/nvdimm-1".into(), nv1);
        h.files.insert(
            "/vms/nvdimm-2".into(),
            facts(Entry::Missing {
                parent_exists: true,
            }),
        );
        h
    }

    fn diags(p: &crate::core::profile::Profile, h: &HostFacts) -> Vec<super::super::Diagnostic> {
        run_with(p, &[], h, None)
    }

    fn file(size: u64) -> FileFacts {
        facts(Entry::File {
            size,
            allocated: size,
        })
    }

    #[test]
    fn existing_file_smaller_or_larger_than_size() {
        let p = seed(Some(Size::mib(128)));
        let ds = diags(&p, &host(file(GIB / 2)));
        let e = only(&ds, "QP300");
        assert_eq!(
            e[0].message,
            "/vms/nvdimm-1 is 512 MiB, smaller than nv1's size=17G"
        );
        assert!(e[0]
            .help
            .as_deref()
            .unwrap()
            .starts_with("set size=512M on nv1"));
        assert!(only(&ds, "QP301").is_empty());
        // A file too small to hold even the label gets no shrink fix.
        let tiny = diags(&p, &host(file(8)));
        let e = only(&tiny, "QP300");
        assert!(e[0].fix.is_none());
        assert!(e[0].help.as_deref().unwrap().contains("truncate -s 17G"));
        // An empty file is grown by QEMU (a warning of its own); an exact
        // one is fine.
        let empty = diags(&p, &host(file(0)));
        let w = only(&empty, "QP313");
        assert_eq!(
            w[0].message,
            "/vms/nvdimm-1 is empty: QEMU will grow it to nv1's size=17G when it starts"
        );
        assert!(only(&diags(&p, &host(file(17 * GIB))), "QP313").is_empty());
        for ok in [0, 17 * GIB] {
            assert!(only(&diags(&p, &host(file(ok))), "QP300").is_empty());
        }
        let ds = diags(&p, &host(file(20 * GIB)));
        let n = only(&ds, "QP301");
        assert!(
            n[0].message.contains("label area sits at 0x43fe00000"),
            "{}",
            n[0].message
        );
        assert!(only(&ds, "QP300").is_empty());
    }

    #[test]
    fn directories_and_volatile_file_systems() {
        let p = seed(None);
        let ds = diags(&p, &host(facts(Entry::Directory)));
        let w = only(&ds, "QP302");
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].help.as_deref(),
            Some("back nv1 with the file /vms/nvdimm-1/nv1.img")
        );
        assert!(only(&ds, "QP305").is_empty());

        let mut tmp = file(17 * GIB);
        tmp.fs = Some(fs("tmpfs", 1 << 40, false));
        let ds = diags(&p, &host(tmp));
        assert!(only(&ds, "QP303")[0].message.contains("on tmpfs"));
        assert!(only(&diags(&p, &host(file(17 * GIB))), "QP303").is_empty());
    }

    #[test]
    fn missing_directory() {
        let p = seed(None);
        let gone = facts(Entry::Missing {
            parent_exists: false,
        });
        let ds = diags(&p, &host(gone));
        assert_eq!(only(&ds, "QP304")[0].help.as_deref(), Some("mkdir -p /vms"));
        assert!(only(&ds, "QP314").is_empty());
        assert!(only(&diags(&p, &host(file(0))), "QP304").is_empty());
    }

    #[test]
    fn a_missing_directory_inside_qpmems_data_directory_is_a_note() {
        let p = seed(None);
        let gone = facts(Entry::Missing {
            parent_exists: false,
        });
        // The seed's files are in /vms: qpmem's data directory, or above it.
        for data in ["/vms", "/vms/", "/"] {
            let h = HostFacts {
                data_dir: Some(data.into()),
                ..host(gone.clone())
            };
            let ds = diags(&p, &h);
            assert!(only(&ds, "QP304").is_empty(), "{data}");
            let n = only(&ds, "QP314");
            assert_eq!(n.len(), 1, "{data}");
            assert_eq!(n[0].severity, Severity::Note);
            assert_eq!(
                n[0].message,
                "nv1's file goes in qpmem's data directory, where /vms does not exist yet: `qpmem launch` creates it"
            );
        }
        // A data directory elsewhere, or below the file's directory, changes nothing.
        for data in ["/data/qpmem", "/vms/qpmem", "/vmsx"] {
            let h = HostFacts {
                data_dir: Some(data.into()),
                ..host(gone.clone())
            };
            let ds = diags(&p, &h);
            assert_eq!(only(&ds, "QP304").len(), 1, "{data}");
            assert!(only(&ds, "QP314").is_empty(), "{data}");
        }
    }

    #[test]
    fn two_devices_on_one_file() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP305").is_empty());
        p.devices[1].backend = Backend::File("/vms/nvdimm-1".into());
        let ds = run(&p);
        let e = only(&ds, "QP305");
        assert_eq!(e[0].device.as_deref(), Some("nv2"));
        assert_eq!(e[0].severity, Severity::Error);
    }

    #[test]
    fn file_open_elsewhere_names_the_pid() {
        let p = seed(None);
        let mut f = file(17 * GIB);
        assert!(only(&diags(&p, &host(f.clone())), "QP306").is_empty());
        f.open_by = vec![Opener {
            pid: 4242,
            command: "qemu-system-x86".into(),
        }];
        let ds = diags(&p, &host(f));
        let e = only(&ds, "QP306");
        assert!(
            e[0].message.contains("process 4242 (qemu-system-x86)"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn free_space_for_sparse_files() {
        let p = seed(None);
        // nv2 is missing (17 GiB to write), nv1 exists fully allocated.
        let mut h = host(file(17 * GIB));
        assert!(only(&diags(&p, &h), "QP307").is_empty());
        for f in h.files.values_mut() {
            f.fs.as_mut().unwrap().free = 10 * GIB;
        }
        let ds = diags(&p, &h);
        let w = only(&ds, "QP307");
        assert_eq!(
            w[0].message,
            "the backing files of nv2 on /vms may grow by 17 GiB, but only 10 GiB is free there"
        );
        // A sparse nv1 needs its share too.
        h.files.insert(
            "/vms/nvdimm-1".into(),
            FileFacts {
                entry: Entry::File {
                    size: 17 * GIB,
                    allocated: 16 * GIB,
                },
                ..h.files["/vms/nvdimm-2".as_ref() as &Path].clone()
            },
        );
        let ds = diags(&p, &h);
        assert!(only(&ds, "QP307")[0].message.contains("nv1, nv2"));
    }

    #[test]
    fn pmem_on_needs_dax() {
        let mut p = seed(None);
        p.devices[0].pmem = true;
        let ds = diags(&p, &host(file(0)));
        assert_eq!(
            only(&ds, "QP308")[0]
                .help
                .as_deref()
                .map(|h| h.starts_with("set pmem=off on nv1")),
            Some(true)
        );
        let mut dax = file(0);
        dax.fs = Some(fs("xfs", 1 << 40, true));
        assert!(only(&diags(&p, &host(dax)), "QP308").is_empty());
        // Unknown file system: not judged.
        assert!(only(&run(&p), "QP308").is_empty());
    }

    #[test]
    fn a_label_over_old_data() {
        let p = seed(None);
        let mut f = file(17 * GIB);
        f.label_area = LabelArea::Data;
        let ds = diags(&p, &host(f.clone()));
        let w = only(&ds, "QP309");
        assert!(
            w[0].message.starts_with("the last 2 MiB of nv1's backend"),
            "{}",
            w[0].message
        );
        assert!(w[0].message.contains("0x43fe00000"));
        for ok in [LabelArea::Labels, LabelArea::Empty, LabelArea::NotChecked] {
            f.label_area = ok;
            assert!(only(&diags(&p, &host(f.clone())), "QP309").is_empty());
        }
    }

    #[test]
    fn share_off_and_discard_data() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP310").is_empty());
        assert!(only(&run(&p), "QP311").is_empty());
        p.devices[0].share = false;
        p.devices[1].discard_data = true;
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP310")[0].message,
            "nv1 has share=off: guest writes never reach /vms/nvdimm-1"
        );
        assert_eq!(
            only(&ds, "QP311")[0].help.as_deref(),
            Some("set discard-data=off on nv2")
        );
        p.devices[0].readonly = true;
        p.devices[0].unarmed = true;
        assert!(only(&run(&p), "QP310").is_empty());
        // virtio-pmem too: its guest writes reach the file only shared.
        let mut v = crate::core::profile::Dimm::virtio_pmem(3, "/vms/vp3".into(), Size::gib(1));
        v.share = false;
        p.devices.push(v);
        assert_eq!(
            only(&run(&p), "QP310")[0].message,
            "vpmem3 has share=off: guest writes never reach /vms/vp3"
        );
    }

    #[test]
    fn commas_in_paths() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP312").is_empty());
        p.devices[0].backend = Backend::File("/vms/a,b".into());
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP312")[0].help.as_deref(),
            Some("qpmem writes it as mem-path=/vms/a,,b; write it so by hand too")
        );
    }
}
