//! The built-in example profiles (`assets/profiles/*.ron`), compiled into
//! the binary and read-only.
//!
//! Their backing paths start with [`DATA_PLACEHOLDER`] (`${data}`), which
//! [`expand_placeholders`] replaces with qpmem's data directory
//! (`$XDG_DATA_HOME/qpmem`) when a profile is loaded, so no example
//! hard-codes a home directory and render/probe always see absolute paths.
//! The placeholder works in any profile, not only the examples.

use crate::core::profile::{Backend, Profile};
use crate::core::profile_ron::{parse_profile, RonError};
use std::path::{Component, Path, PathBuf};

/// A path whose first component is exactly this is relative to the data
/// directory.
pub const DATA_PLACEHOLDER: &str = "${data}";

/// One built-in example: its name and its RON text (with `${data}`).
#[derive(Debug, Clone, Copy)]
pub struct Example {
    pub name: &'static str,
    pub text: &'static str,
}

/// Every built-in example, in the order `profiles list` shows them.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "default",
        text: include_str!("../../assets/profiles/default.ron"),
    },
    Example {
        name: "small",
        text: include_str!("../../assets/profiles/small.ron"),
    },
    Example {
        name: "numa",
        text: include_str!("../../assets/profiles/numa.ron"),
    },
    Example {
        name: "label-less",
        text: include_str!("../../assets/profiles/label-less.ron"),
    },
    Example {
        name: "arm64",
        text: include_str!("../../assets/profiles/arm64.ron"),
    },
    Example {
        name: "cxl",
        text: include_str!("../../assets/profiles/cxl.ron"),
    },
    Example {
        name: "cxl-run-qemu",
        text: include_str!("../../assets/profiles/cxl-run-qemu.ron"),
    },
    Example {
        name: "virtio-pmem",
        text: include_str!("../../assets/profiles/virtio-pmem.ron"),
    },
];

/// The example called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// The example names, comma-separated (for messages).
pub fn names() -> String {
    EXAMPLES
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Example {
    /// Where errors say it came from.
    pub fn origin(&self) -> String {
        format!("built-in:{}", self.name)
    }

    /// The example as written (placeholders not expanded).
    pub fn parse(&self) -> Result<Profile, RonError> {
        parse_profile(self.text, &self.origin())
    }

    /// The example ready to use: placeholders expanded against `data_dir`.
    pub fn load(&self, data_dir: &Path) -> Result<Profile, RonError> {
        let mut p = self.parse()?;
        expand_placeholders(&mut p, data_dir);
        Ok(p)
    }
}

/// Replace a leading `${data}` in every path of the profile (backing files,
/// kernel, initrd, disks) with `data_dir`.
pub fn expand_placeholders(profile: &mut Profile, data_dir: &Path) {
    let expand = |p: &mut PathBuf| {
        if let Some(e) = expand_path(p, data_dir) {
            *p = e;
        }
    };
    for d in &mut profile.devices {
        if let Backend::File(p) = &mut d.backend {
            expand(p);
        }
    }
    for m in profile.cxl.iter_mut().flat_map(|c| c.memories_mut()) {
        if let Backend::File(p) = &mut m.backend {
            expand(p);
        }
    }
    for p in profile
        .kernel
        .iter_mut()
        .chain(profile.initrd.iter_mut())
        .chain(profile.disks.iter_mut())
    {
        expand(p);
    }
}

/// The inverse of [`expand_placeholders`], for saving: every path inside
/// `data_dir` is written `${data}/...` again, so a saved profile moves
/// between machines and users. Other paths are left as they are.
pub fn collapse_placeholders(profile: &mut Profile, data_dir: &Path) {
    let collapse = |p: &mut PathBuf| {
        if let Ok(rest) = p.strip_prefix(data_dir) {
            if !data_dir.as_os_str().is_empty() {
                *p = Path::new(DATA_PLACEHOLDER).join(rest);
            }
        }
    };
    for d in &mut profile.devices {
        if let Backend::File(p) = &mut d.backend {
            collapse(p);
        }
    }
    for m in profile.cxl.iter_mut().flat_map(|c| c.memories_mut()) {
        if let Backend::File(p) = &mut m.backend {
            collapse(p);
        }
    }
    for p in profile
        .kernel
        .iter_mut()
        .chain(profile.initrd.iter_mut())
        .chain(profile.disks.iter_mut())
    {
        collapse(p);
    }
}

fn expand_path(path: &Path, data_dir: &Path) -> Option<PathBuf> {
    let mut components = path.components();
    match components.next() {
        Some(Component::Normal(first)) if first == DATA_PLACEHOLDER => {
            Some(data_dir.join(components.as_path()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use crate::core::profile::DimmKind;

    #[test]
    fn every_example_parses_places_and_uses_only_absolute_paths() {
        let data = Path::new("/data/qpmem");
        for e in EXAMPLES {
            let p = e
                .load(data)
                .unwrap_or_else(|err| panic!("{}: {err}", e.name));
            assert_eq!(p.name, e.name, "file name and profile name agree");
            let l = layout(&p, &HostFacts::default()).unwrap();
            for d in &l.devices {
                assert!(d.result.is_ok(), "{} {}: {:?}", e.name, d.id, d.result);
            }
            for d in &p.devices {
                let path = d.backend.path().unwrap();
                assert!(path.starts_with(data), "{}: {}", e.name, path.display());
            }
            assert!(!e.text.contains("/home/"), "{}", e.name);
        }
    }

    #[test]
    fn default_example_is_the_seed_recipe() {
        let data = Path::new("/d");
        let p = find("default").unwrap().load(data).unwrap();
        assert_eq!(p, Profile::seed(data));
    }

    #[test]
    fn examples_have_what_their_names_promise() {
        let d = Path::new("/d");
        let small = find("small").unwrap().load(d).unwrap();
        assert_eq!(small.devices.len(), 1);
        let numa = find("numa").unwrap().load(d).unwrap();
        assert_eq!(numa.numa_nodes, 2);
        assert_eq!(numa.devices.len(), 4);
        let nodes: Vec<_> = numa.devices.iter().map(|d| d.node).collect();
        assert_eq!(nodes, [Some(0), Some(0), Some(1), Some(1)]);
        let ll = find("label-less").unwrap().load(d).unwrap();
        assert_eq!(ll.devices[0].label_size.0, 0);
        let vp = find("virtio-pmem").unwrap().load(d).unwrap();
        let kinds: Vec<_> = vp.devices.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DimmKind::Nvdimm, DimmKind::VirtioPmem]);
        assert!(find("nope").is_none());
    }

    #[test]
    fn collapsing_undoes_expanding_and_leaves_other_paths() {
        let d = Path::new("/data/qpmem");
        let mut p = find("default").unwrap().load(d).unwrap();
        p.kernel = Some(PathBuf::from("/data/qpmem/k/vmlinuz"));
        p.initrd = Some(PathBuf::from("/data/qpmemx/initrd"));
        p.disks = vec![PathBuf::from("/vms/disk.img")];
        collapse_placeholders(&mut p, d);
        let f = |i: usize| p.devices[i].backend.path().unwrap().to_path_buf();
        assert_eq!(f(0), PathBuf::from("${data}/nvdimm-1"));
        assert_eq!(f(1), PathBuf::from("${data}/nvdimm-2"));
        assert_eq!(p.kernel, Some(PathBuf::from("${data}/k/vmlinuz")));
        // Not inside the directory, only a name that starts the same.
        assert_eq!(p.initrd, Some(PathBuf::from("/data/qpmemx/initrd")));
        assert_eq!(p.disks, [PathBuf::from("/vms/disk.img")]);
        assert_eq!(find("default").unwrap().parse().unwrap(), {
            let mut q = p.clone();
            q.kernel = None;
            q.initrd = None;
            q.disks.clear();
            q
        });
    }

    #[test]
    fn only_a_leading_placeholder_component_expands() {
        let d = Path::new("/data");
        assert_eq!(
            expand_path(Path::new("${data}/a/b"), d),
            Some(PathBuf::from("/data/a/b"))
        );
        assert_eq!(expand_path(Path::new("/x/${data}/a"), d), None);
        assert_eq!(expand_path(Path::new("${data}x/a"), d), None);
        assert_eq!(expand_path(Path::new("rel/a"), d), None);
    }
}
