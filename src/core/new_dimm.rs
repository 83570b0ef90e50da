//! The defaults of a DIMM added to a profile (the TUI's `a`): a clean
//! NVDIMM, one that draws no warning the moment it is added, on a backing
//! file of its own that no other DIMM and nothing on disk already uses.
//!
//! Pure: what is on disk is asked through [`NewDimmContext::exists`],
//! which the shell supplies.

use crate::core::device::{Dimm, DimmKind};
use crate::core::diagnose::{check_profile, Severity};
use crate::core::facts::HostFacts;
use crate::core::profile::{Backend, Profile};
use crate::core::qemu::QemuVersion;
use crate::core::size::{align_up, Size, GIB, MIB};
use std::path::{Path, PathBuf};

/// The label a new NVDIMM gets (room for the namespace labels ndctl
/// writes; a 2 MiB multiple, as QP203 asks).
pub const NEW_LABEL: u64 = 2 * MIB;
/// The `align` a new NVDIMM gets on x86_64 and 4K/16K-page arm64: one
/// Linux memory section, so that it starts and ends on section boundaries
/// (QP100). A 64K-page arm64 guest gets its 512 MiB section instead
/// ([`Profile::section_size`]).
pub const NEW_ALIGN: u64 = 128 * MIB;

/// What the shell knows that a new DIMM's defaults depend on.
pub struct NewDimmContext<'a> {
    /// qpmem's data directory (where `${data}` points).
    pub data_dir: PathBuf,
    /// The QEMU release that will run the profile, when known: `align`
    /// needs 2.12 (an unknown release gets it; QEMU today has it).
    pub qemu: Option<QemuVersion>,
    /// Is there something at this path on disk?
    pub exists: &'a dyn Fn(&Path) -> bool,
}

/// The next NVDIMM for `profile` ([`new_device`] of an NVDIMM): the `a`
/// of the editor and the launch view's `+`.
pub fn new_nvdimm(profile: &Profile, ctx: &NewDimmContext) -> Dimm {
    new_device(DimmKind::Nvdimm, profile, ctx)
}

/// The next device of `kind` for `profile`: the next number no kind's
/// ids clash at (`nvN`/`memN`, `vpmemN`...); on an NVDIMM label 2M; on a
/// file-backed kind align = one memory section (QEMU 2.12+) and a backing
/// file of its own ([`new_backing_file`], named after the kind); a size
/// the guest sees whole: the previous device's visible size rounded up to
/// the section (else 1 GiB) plus the label, so 1026M for a 1 GiB NVDIMM,
/// falling back to 1 GiB when that size would draw a warning or an error
/// about the new device (no room under a fixed maxmem, say).
pub fn new_device(kind: DimmKind, profile: &Profile, ctx: &NewDimmContext) -> Dimm {
    let spec = kind.spec();
    let n = profile.next_device_number();
    let path = spec
        .is_persistent()
        .then(|| new_backing_file(profile, &format!("{}-{n}", spec.name()), ctx));
    let has_align = path.is_some() && ctx.qemu.is_none_or(|v| v >= QemuVersion::new(2, 12, 0));
    let label = if spec.has_labels() { NEW_LABEL } else { 0 };
    let section = profile.section_size();
    let with_visible = |visible: u64| {
        let file = path.clone().unwrap_or_default();
        let mut d = spec.new_device(n, file, Size(visible.saturating_add(label)));
        d.label_size = Size(label);
        d.align = has_align.then_some(Size(section));
        d
    };
    let previous = profile.devices.last().and_then(|d| {
        let visible = d.size.0.saturating_sub(d.effective_label_size());
        align_up(visible, section).filter(|v| *v > 0)
    });
    let one_gib = with_visible(GIB);
    let Some(visible) = previous.filter(|v| *v != GIB) else {
        return one_gib;
    };
    let candidate = with_visible(visible);
    if is_clean(profile, &candidate) {
        candidate
    } else {
        one_gib
    }
}

/// Adding `d` draws no warning or error about it (judged on the profile
/// alone: no host facts, no QEMU release).
fn is_clean(profile: &Profile, d: &Dimm) -> bool {
    let mut p = profile.clone();
    p.devices.push(d.clone());
    check_profile(&p, &[], &HostFacts::default())
        .iter()
        .all(|x| x.severity == Severity::Note || x.device.as_deref() != Some(d.id.as_str()))
}

/// A backing file for a new DIMM: named `stem` (or `stem-1`, `stem-2`...
/// while that is taken), beside the last file-backed DIMM's file; in a
/// profile with none, in the profile's own directory under the data
/// directory, `${data}/<profile>/`, so that profiles never share the
/// built-in default's files. Never a path another DIMM of the profile
/// uses or one that exists on disk.
pub fn new_backing_file(profile: &Profile, stem: &str, ctx: &NewDimmContext) -> PathBuf {
    let dir = profile
        .devices
        .iter()
        .rev()
        .find_map(|d| d.backend.path().and_then(Path::parent).map(PathBuf::from))
        .unwrap_or_else(|| match own_dir_name(&profile.name) {
            Some(name) => ctx.data_dir.join(name),
            None => ctx.data_dir.to_path_buf(),
        });
    free_path(&dir, stem, |p| {
        profile.devices.iter().any(|d| d.backend.path() == Some(p)) || (ctx.exists)(p)
    })
}

/// `dir/stem`, else `dir/stem-1`, `dir/stem-2`... the first not `taken`.
fn free_path(dir: &Path, stem: &str, taken: impl Fn(&Path) -> bool) -> PathBuf {
    (0u32..)
        .map(|n| match n {
            0 => dir.join(stem),
            n => dir.join(format!("{stem}-{n}")),
        })
        .find(|p| !taken(p))
        .unwrap_or_else(|| dir.join(stem))
}

/// A backing file a profile took for itself when it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnFile {
    /// The device's id.
    pub id: String,
    pub from: PathBuf,
    pub to: PathBuf,
}

/// Give a profile that is about to become the stored profile `name` (the
/// first save of a built-in example, an import, a save under a new name)
/// backing files of its own: every file in qpmem's data directory that is
/// not already in `${data}/<name>/` (the examples' `${data}/nvdimm-N`,
/// another profile's `${data}/<other>/...`) moves to `${data}/<name>/`
/// under its own file name (or `-1`, `-2`... while that is taken by
/// another device or on disk). Paths outside the data directory are the
/// user's choice and stay. Returns what moved, in device order; nothing
/// when `name` cannot be a directory name.
pub fn own_backing_files(profile: &mut Profile, name: &str, ctx: &NewDimmContext) -> Vec<OwnFile> {
    let Some(dir) = own_dir_name(name).map(|n| ctx.data_dir.join(n)) else {
        return Vec::new();
    };
    let mut moved = Vec::new();
    for i in 0..profile.devices.len() {
        let Some(from) = profile.devices[i].backend.path().map(Path::to_path_buf) else {
            continue;
        };
        let shared = from.starts_with(&ctx.data_dir) && from.parent() != Some(dir.as_path());
        let Some(stem) = from.file_name().and_then(|s| s.to_str()).filter(|_| shared) else {
            continue;
        };
        let to = free_path(&dir, stem, |p| {
            profile.devices.iter().any(|d| d.backend.path() == Some(p)) || (ctx.exists)(p)
        });
        profile.devices[i].backend = Backend::File(to.clone());
        moved.push(OwnFile {
            id: profile.devices[i].id.clone(),
            from,
            to,
        });
    }
    moved
}

/// Where a new CXL type-3 device's files go: beside the CXL files the
/// profile has, else beside its devices' files, else in its own directory
/// under the data directory, `${data}/<profile>/cxl`.
pub fn cxl_dir(profile: &Profile, data_dir: &Path) -> PathBuf {
    let cxl_file = profile.cxl.as_ref().and_then(|c| {
        c.devices().into_iter().find_map(|(d, _)| {
            [&d.persistent, &d.volatile, &d.lsa]
                .into_iter()
                .flatten()
                .find_map(|m| m.backend.path().and_then(Path::parent).map(PathBuf::from))
        })
    });
    cxl_file
        .or_else(|| {
            profile
                .devices
                .iter()
                .rev()
                .find_map(|d| d.backend.path().and_then(Path::parent).map(PathBuf::from))
        })
        .unwrap_or_else(|| match own_dir_name(&profile.name) {
            Some(name) => data_dir.join(name).join("cxl"),
            None => data_dir.join("cxl"),
        })
}

/// The profile's name as a directory name, when it can be one: one
/// plain path component.
fn own_dir_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.trim() == name
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(crate::core::printable::is_control);
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::diagnose::check_profile;
    use crate::core::layout::layout;
    use crate::core::profile::Auto;
    use std::collections::HashSet;

    fn ctx<'a>(exists: &'a dyn Fn(&Path) -> bool) -> NewDimmContext<'a> {
        NewDimmContext {
            data_dir: PathBuf::from("/data"),
            qemu: None,
            exists,
        }
    }

    /// Every diagnostic about `id` that is not a note.
    fn complaints(p: &Profile, id: &str) -> Vec<String> {
        check_profile(p, &[], &HostFacts::default())
            .into_iter()
            .filter(|d| d.device.as_deref() == Some(id) && d.severity != Severity::Note)
            .map(|d| d.render())
            .collect()
    }

    #[test]
    fn a_new_dimm_in_an_empty_profile_is_clean_and_in_the_profiles_own_directory() {
        let nothing = |_: &Path| false;
        let mut p = Profile::empty("mine");
        let d = new_nvdimm(&p, &ctx(&nothing));
        assert_eq!(d.id, "nv1");
        assert_eq!(d.backend, Backend::File("/data/mine/nvdimm-1".into()));
        assert_eq!(
            (d.size, d.label_size, d.align),
            (Size::mib(1026), Size::mib(2), Some(Size::mib(128)))
        );
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv1"), Vec::<String>::new());
        let l = layout(&p, &HostFacts::default()).unwrap();
        let placed = l.devices[0].placement().unwrap();
        assert_eq!(placed.size, GIB);
        assert_eq!(placed.unused_tail, 0);
        // A second one sits beside the first, and is clean too.
        let d = new_nvdimm(&p, &ctx(&nothing));
        assert_eq!(d.backend, Backend::File("/data/mine/nvdimm-2".into()));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv2"), Vec::<String>::new());
    }

    #[test]
    fn a_64k_page_arm64_guest_gets_its_512m_section_as_align() {
        let nothing = |_: &Path| false;
        let mut p = Profile::empty("arm");
        p.make_aarch64();
        p.extra_args.extend(["-bios".into(), "/fw.fd".into()]);
        p.guest_page_size = Some(Size(64 * 1024));
        let d = new_nvdimm(&p, &ctx(&nothing));
        assert_eq!(d.align, Some(Size::mib(512)));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv1"), Vec::<String>::new());
        let d = new_nvdimm(&p, &ctx(&nothing));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv2"), Vec::<String>::new());
    }

    #[test]
    fn the_previous_dimms_size_is_kept_whole_unless_it_does_not_fit() {
        let nothing = |_: &Path| false;
        // The default's 17G DIMMs (which hide 126 MiB each): the new one
        // shows 17 GiB whole.
        let mut p = Profile::seed(Path::new("/data"));
        let d = new_nvdimm(&p, &ctx(&nothing));
        assert_eq!(d.size, Size(17 * GIB + 2 * MIB));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv3"), Vec::<String>::new());
        // Under the recipe's fixed maxmem=40G a third 17G does not fit: 1 GiB does.
        let mut p = Profile::original_recipe(Path::new("/data"), Some(Size::mib(128)));
        p.slots = Auto::Fixed(3);
        let d = new_nvdimm(&p, &ctx(&nothing));
        assert_eq!(d.size, Size::mib(1026));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv3"), Vec::<String>::new());
    }

    #[test]
    fn a_new_dimm_never_takes_a_path_in_use_or_on_disk() {
        let on_disk: HashSet<PathBuf> = ["/data/mine/nvdimm-1", "/data/mine/nvdimm-1-1"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let exists = |p: &Path| on_disk.contains(p);
        let p = Profile::empty("mine");
        let d = new_nvdimm(&p, &ctx(&exists));
        assert_eq!(d.backend, Backend::File("/data/mine/nvdimm-1-2".into()));
        // In the profile: a DIMM named otherwise holding nvdimm-2's file.
        let mut p = Profile::empty("mine");
        let mut other = Dimm::nvdimm(1, "/data/mine/nvdimm-2".into(), Size::gib(1));
        other.id = "a".into();
        other.memdev = "m".into();
        p.devices.push(other);
        let d = new_nvdimm(&p, &ctx(&exists));
        assert_eq!(d.id, "nv1");
        assert_eq!(d.backend, Backend::File("/data/mine/nvdimm-1-2".into()));
        let mut p2 = p.clone();
        p2.devices[0].id = "nv1".into();
        let d = new_nvdimm(&p2, &ctx(&exists));
        assert_eq!(d.id, "nv2");
        assert_eq!(d.backend, Backend::File("/data/mine/nvdimm-2-1".into()));
    }

    #[test]
    fn a_new_stored_profile_takes_the_shared_files_for_itself() {
        let on_disk: HashSet<PathBuf> = ["/data/mine/nvdimm-2"].iter().map(PathBuf::from).collect();
        let exists = |p: &Path| on_disk.contains(p);
        // The default's two files in ${data}/, a file of another profile,
        // one of the user's own elsewhere, one already in ${data}/mine/ and
        // a RAM-backed DIMM.
        let mut p = Profile::seed(Path::new("/data"));
        let other = Dimm::nvdimm(3, "/data/theirs/nvdimm-1".into(), Size::gib(1));
        let users = Dimm::nvdimm(4, "/srv/pmem/big".into(), Size::gib(1));
        let own = Dimm::nvdimm(5, "/data/mine/keep".into(), Size::gib(1));
        let mut ram = Dimm::nvdimm(6, "/unused".into(), Size::gib(1));
        ram.backend = Backend::Ram;
        p.devices.extend([other, users, own, ram]);
        let moved = own_backing_files(&mut p, "mine", &ctx(&exists));
        let paths: Vec<Option<&Path>> = p.devices.iter().map(|d| d.backend.path()).collect();
        assert_eq!(
            paths,
            [
                Some(Path::new("/data/mine/nvdimm-1")),
                // nvdimm-2 is on disk already; nvdimm-1 is nv1's now.
                Some(Path::new("/data/mine/nvdimm-2-1")),
                Some(Path::new("/data/mine/nvdimm-1-1")),
                Some(Path::new("/srv/pmem/big")),
                Some(Path::new("/data/mine/keep")),
                None,
            ]
        );
        let ids: Vec<&str> = moved.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["nv1", "nv2", "nv3"]);
        assert_eq!(moved[1].from, PathBuf::from("/data/nvdimm-2"));
        // Saved again under the same name: nothing moves.
        assert_eq!(own_backing_files(&mut p, "mine", &ctx(&exists)), []);
        // A name that is no directory: nothing moves.
        let mut q = Profile::seed(Path::new("/data"));
        assert_eq!(own_backing_files(&mut q, "../up", &ctx(&exists)), []);
    }

    #[test]
    fn names_that_are_no_directory_and_old_qemu() {
        let nothing = |_: &Path| false;
        for name in ["", "../up", ".hidden", "a/b"] {
            let d = new_nvdimm(&Profile::empty(name), &ctx(&nothing));
            assert_eq!(
                d.backend,
                Backend::File("/data/nvdimm-1".into()),
                "{name:?}"
            );
        }
        let old = NewDimmContext {
            qemu: Some(QemuVersion::new(2, 11, 0)),
            ..ctx(&nothing)
        };
        let mut p = Profile::empty("old");
        let d = new_nvdimm(&p, &old);
        assert_eq!(d.align, None);
        assert_eq!(d.size, Size::mib(1026));
        p.devices.push(d);
        assert_eq!(complaints(&p, "nv1"), Vec::<String>::new());
    }

    #[test]
    fn every_kind_comes_clean_with_ids_and_a_file_of_its_own() {
        let nothing = |_: &Path| false;
        let mut p = Profile::empty("mine");
        for kind in DimmKind::ALL.iter().chain(DimmKind::ALL) {
            let d = new_device(*kind, &p, &ctx(&nothing));
            assert_eq!(d.kind, *kind);
            let spec = kind.spec();
            assert!(d.id.starts_with(spec.id_prefix()), "{}", d.id);
            if spec.is_persistent() {
                let f = d.backend.path().expect("a persistent kind has a file");
                assert!(
                    f.starts_with("/data/mine")
                        && f.file_name()
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .starts_with(spec.name()),
                    "{f:?}"
                );
                assert_eq!(d.align, Some(Size::mib(128)));
            } else {
                assert_eq!((d.backend.clone(), d.align), (Backend::Ram, None));
            }
            assert_eq!(d.label_size.0 > 0, spec.has_labels());
            let id = d.id.clone();
            p.devices.push(d);
            assert_eq!(complaints(&p, &id), Vec::<String>::new(), "{kind:?}");
        }
        let ids: HashSet<&str> = p.devices.iter().map(|d| d.id.as_str()).collect();
        let memdevs: HashSet<&str> = p.devices.iter().map(|d| d.memdev.as_str()).collect();
        assert_eq!((ids.len(), memdevs.len()), (8, 8));
        assert!(layout(&p, &HostFacts::default()).is_ok());
    }
}
