//! Facts about the host that the rules judge: what the file system says
//! about each backing path (does it exist, how big, which file system,
//! DAX or not, free space, who else has it open, what its label area
//! holds). [`gather`] is the only part of the diagnostics that touches the
//! system; the rules read its answer from [`HostFacts`] and stay pure.

pub mod firmware;
mod inuse;
pub mod libvirt;

use crate::core::facts::{
    Entry, FileFacts, FsFacts, HostFacts, LabelArea, Opener, NSINDEX_SIGNATURE,
};
use crate::core::profile::{Backend, Profile};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What the core's choice of new backing files
/// ([`crate::core::new_dimm`]) needs from the host: the data directory
/// `${data}` stands for, and a look at the disk (anything at a path,
/// even a dangling symlink, makes it taken).
pub fn new_dimm_context(
    data_dir: PathBuf,
    qemu: Option<crate::core::qemu::QemuVersion>,
) -> crate::core::new_dimm::NewDimmContext<'static> {
    fn exists(p: &Path) -> bool {
        p.symlink_metadata().is_ok()
    }
    crate::core::new_dimm::NewDimmContext {
        data_dir,
        qemu,
        exists: &exists,
    }
}

/// Look at the host for every backing path of `profile`. Never fails:
/// what cannot be learnt is left out, and the rules that need it stay
/// quiet. `HostFacts::qemu` is left unchecked (see
/// [`crate::qemu::discover::detect`]). `HostFacts::data_dir` is qpmem's
/// data directory ([`crate::store::dirs::data_dir`]).
pub fn gather(profile: &Profile) -> HostFacts {
    let mounts = read_mountinfo();
    let mut facts = HostFacts {
        data_dir: Some(crate::store::dirs::data_dir()),
        firmware: firmware::find(profile.arch),
        ..HostFacts::default()
    };
    for d in &profile.devices {
        let Backend::File(path) = &d.backend else {
            continue;
        };
        if facts.files.contains_key(path) {
            continue;
        }
        let label = (
            d.size.0 - d.effective_label_size().min(d.size.0),
            d.effective_label_size(),
        );
        facts.identity.insert(path.clone(), file_key(path));
        let f = file_facts(path, &mounts, label);
        if let Some(page) = f.fs.as_ref().and_then(|fs| fs.huge_page) {
            facts.file_page_size.insert(path.clone(), page);
        }
        facts.files.insert(path.clone(), f);
    }
    let wanted: Vec<PathBuf> = facts
        .files
        .iter()
        .filter(|(_, f)| matches!(f.entry, Entry::File { .. }))
        .map(|(p, _)| p.clone())
        .collect();
    for (path, openers) in openers_of(&wanted) {
        if let Some(f) = facts.files.get_mut(&path) {
            f.open_by = openers;
        }
    }
    facts
}

/// Only what placement depends on, cheaply: the huge page size of backing
/// files on hugetlbfs (one `statfs` each; no mount table, no `/proc`
/// scan). For `map`, `render` and `probe`, which must stay fast.
pub fn placement_facts(profile: &Profile) -> HostFacts {
    /// `HUGETLBFS_MAGIC` from linux/magic.h (`f_type` is signed on some
    /// targets: compare the low 32 bits).
    const HUGETLBFS_MAGIC: u64 = 0x9584_58f6;
    let mut facts = HostFacts::default();
    for d in &profile.devices {
        let Backend::File(path) = &d.backend else {
            continue;
        };
        let Some(existing) = nearest_existing(path) else {
            continue;
        };
        if let Ok(sfs) = rustix::fs::statfs(&existing) {
            if (sfs.f_type as u64) & 0xffff_ffff == HUGETLBFS_MAGIC && sfs.f_bsize > 0 {
                facts
                    .file_page_size
                    .insert(path.clone(), sfs.f_bsize as u64);
            }
        }
    }
    facts
}

fn file_facts(path: &Path, mounts: &[Mount], (label_offset, label_size): (u64, u64)) -> FileFacts {
    let entry = match fs::metadata(path) {
        Ok(m) if m.is_dir() => Entry::Directory,
        Ok(m) if m.is_file() || m.file_type().is_block_device() => Entry::File {
            size: m.len(),
            allocated: m.blocks().saturating_mul(512),
        },
        Ok(m) => Entry::Other {
            what: format!("{:?}", m.file_type()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entry::Missing {
            parent_exists: path
                .parent()
                .map(|p| p.as_os_str().is_empty() || p.is_dir())
                .unwrap_or(true),
        },
        Err(e) => Entry::Other {
            what: e.to_string(),
        },
    };
    let existing = nearest_existing(path);
    let fs = existing.as_deref().and_then(|p| fs_facts(p, mounts));
    let label_area = match entry {
        Entry::File { size, .. } if label_size > 0 && size >= label_offset + label_size => {
            read_label_area(path, label_offset, label_size)
        }
        _ => LabelArea::NotChecked,
    };
    FileFacts {
        entry,
        fs,
        open_by: Vec::new(),
        label_area,
    }
}

/// A path as the identity of the file it names, for telling whether two
/// paths are the same file: resolved (symlinks, `..`) where it exists,
/// made absolute where it does not.
pub fn file_key(path: &Path) -> PathBuf {
    fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The path itself if it exists, else the closest directory above it.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    abs.ancestors()
        .find(|p| p.exists())
        .and_then(|p| fs::canonicalize(p).ok())
}

fn fs_facts(existing: &Path, mounts: &[Mount]) -> Option<FsFacts> {
    let meta = fs::metadata(existing).ok()?;
    let vfs = rustix::fs::statvfs(existing).ok()?;
    let sfs = rustix::fs::statfs(existing).ok();
    let mount = mounts
        .iter()
        .filter(|m| existing.starts_with(&m.point))
        // The longest mount point wins; of equals, the later (on top).
        .max_by_key(|m| m.point.as_os_str().len())?;
    let fstype = mount.fstype.clone();
    let dax_mount = mount
        .options
        .iter()
        .any(|o| o == "dax" || o == "dax=always");
    let dax_inode = mount.options.iter().any(|o| o == "dax=inode") && file_has_dax_attr(existing);
    let huge_page = (fstype == "hugetlbfs")
        .then(|| sfs.map(|s| s.f_bsize as u64))
        .flatten()
        .filter(|b| *b > 0);
    Some(FsFacts {
        fstype,
        mount_point: mount.point.clone(),
        dev: meta.dev(),
        free: vfs.f_bavail.saturating_mul(vfs.f_frsize),
        dax: dax_mount || dax_inode,
        huge_page,
    })
}

fn file_has_dax_attr(path: &Path) -> bool {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    statx(CWD, path, AtFlags::empty(), StatxFlags::BASIC_STATS)
        .map(|s| s.stx_attributes.contains(StatxAttributes::DAX))
        .unwrap_or(false)
}

fn read_label_area(path: &Path, offset: u64, len: u64) -> LabelArea {
    let want = len.min(4096) as usize;
    let mut buf = vec![0u8; want];
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut buf)
    });
    match read {
        Err(_) => LabelArea::NotChecked,
        Ok(()) if buf.starts_with(NSINDEX_SIGNATURE) => LabelArea::Labels,
        Ok(()) if buf.iter().all(|b| *b == 0) => LabelArea::Empty,
        Ok(()) => LabelArea::Data,
    }
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    point: PathBuf,
    fstype: String,
    /// Per-mount and per-superblock options together.
    options: Vec<String>,
}

fn read_mountinfo() -> Vec<Mount> {
    fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let point = unescape_mount(left.get(4)?);
            let mut options: Vec<String> = left.get(5)?.split(',').map(str::to_string).collect();
            if let Some(sup) = right.get(2) {
                options.extend(sup.split(',').map(str::to_string));
            }
            Some(Mount {
                point: PathBuf::from(point),
                fstype: right.first()?.to_string(),
                options,
            })
        })
        .collect()
}

/// Mount points write space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let octal = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .filter(|o| o.bytes().all(|b| (b'0'..=b'7').contains(&b)))
                .and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(v) = octal {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which processes other than this one have each existing file open
/// (compared by device and inode, see [`inuse`]).
fn openers_of(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<Opener>> {
    let ids: Vec<(PathBuf, u64, u64)> = files
        .iter()
        .filter_map(|p| fs::metadata(p).ok().map(|m| (p.clone(), m.dev(), m.ino())))
        .collect();
    let mut found: BTreeMap<PathBuf, Vec<Opener>> = BTreeMap::new();
    for (i, pid, command) in inuse::holders(ids.iter().map(|(_, d, i)| (*d, *i))) {
        if let Some((path, _, _)) = ids.get(i) {
            found
                .entry(path.clone())
                .or_default()
                .push(Opener { pid, command });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;
    use std::io::Write;

    #[test]
    fn mountinfo_lines_are_read_with_both_option_lists() {
        let m = parse_mountinfo(
            "36 35 98:0 / /mnt/pmem\\040x rw,noatime shared:1 - ext4 /dev/pmem0 rw,dax=always\n\
             40 1 0:5 / /dev/hugepages rw,relatime - hugetlbfs hugetlbfs rw,pagesize=2M\n\
             garbage\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].point, PathBuf::from("/mnt/pmem x"));
        assert_eq!(m[0].fstype, "ext4");
        assert!(m[0].options.contains(&"dax=always".to_string()));
        assert!(m[0].options.contains(&"noatime".to_string()));
        assert_eq!(m[1].fstype, "hugetlbfs");
    }

    #[test]
    fn gathers_existence_size_space_and_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("a");
        File::create(&existing).unwrap().set_len(3 << 20).unwrap();
        let mut p = Profile::empty("x");
        p.devices
            .push(Dimm::nvdimm(1, existing.clone(), Size::mib(2)));
        p.devices
            .push(Dimm::nvdimm(2, dir.path().join("b"), Size::gib(1)));
        p.devices
            .push(Dimm::nvdimm(3, dir.path().join("no/c"), Size::gib(1)));
        p.devices
            .push(Dimm::nvdimm(4, dir.path().to_path_buf(), Size::gib(1)));
        let h = gather(&p);
        assert_eq!(
            h.files[&existing].entry,
            Entry::File {
                size: 3 << 20,
                allocated: 0
            }
        );
        assert_eq!(
            h.files[&dir.path().join("b")].entry,
            Entry::Missing {
                parent_exists: true
            }
        );
        assert_eq!(
            h.files[&dir.path().join("no/c")].entry,
            Entry::Missing {
                parent_exists: false
            }
        );
        assert_eq!(h.files[dir.path()].entry, Entry::Directory);
        let fs = h.files[&existing].fs.clone().unwrap();
        assert!(fs.free > 0);
        assert!(!fs.fstype.is_empty());
        // The missing file's facts come from the directory that would hold it.
        assert_eq!(
            h.files[&dir.path().join("no/c")].fs.as_ref().unwrap().dev,
            fs.dev
        );
    }

    #[test]
    fn tmpfs_is_recognised_when_there_is_one() {
        let shm = Path::new("/dev/shm");
        let mounts = read_mountinfo();
        let on_tmpfs = mounts.iter().any(|m| m.point == shm && m.fstype == "tmpfs");
        if !on_tmpfs {
            eprintln!("skipped: /dev/shm is not a tmpfs here");
            return;
        }
        let f = file_facts(&shm.join("qpmem-test-missing"), &mounts, (0, 0));
        let fs = f.fs.unwrap();
        assert_eq!(fs.fstype, "tmpfs");
        assert!(fs.is_volatile());
        assert!(!fs.dax);
    }

    #[test]
    fn label_area_contents_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut f = File::create(&path).unwrap();
        f.set_len(4 << 20).unwrap();
        let facts = |label: u64| file_facts(&path, &[], ((4 << 20) - label, label)).label_area;
        assert_eq!(facts(2 << 20), LabelArea::Empty);
        assert_eq!(facts(0), LabelArea::NotChecked);
        f.seek(SeekFrom::Start(2 << 20)).unwrap();
        f.write_all(b"my precious data").unwrap();
        assert_eq!(facts(2 << 20), LabelArea::Data);
        f.seek(SeekFrom::Start(2 << 20)).unwrap();
        f.write_all(NSINDEX_SIGNATURE).unwrap();
        assert_eq!(facts(2 << 20), LabelArea::Labels);
    }

    #[test]
    fn another_process_holding_the_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        File::create(&path).unwrap().set_len(1 << 20).unwrap();
        let mut p = Profile::empty("x");
        p.devices.push(Dimm::nvdimm(1, path.clone(), Size::mib(1)));
        assert!(gather(&p).files[&path].open_by.is_empty());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdin(File::open(&path).unwrap())
            .spawn()
            .unwrap();
        let pid = child.id();
        let open_by = gather(&p).files[&path].open_by.clone();
        let _ = child.kill();
        let _ = child.wait();
        // Other tests' children may briefly hold it too (a forked child
        // has its parent's descriptors until it execs): ours is named.
        let ours: Vec<_> = open_by.iter().filter(|o| o.pid == pid).collect();
        assert_eq!(ours.len(), 1, "{open_by:?}");
        assert_eq!(ours[0].command, "sleep");
        assert!(open_by.iter().all(|o| o.pid != std::process::id()));
    }
}
