//! `--format guest`: the commands to run inside the guest to put each
//! NVDIMM to use with ndctl: `init-labels` for labelled DIMMs, a namespace
//! whose mode and align fit the DIMM, then `mkfs` and `mount -o dax` for
//! fsdax. Also shown in the TUI.
//!
//! The guest's names (`nmem0`, `region0`, `namespace0.0`, `/dev/pmem0`)
//! are assumed to follow the NVDIMMs' command-line order; the text says
//! how to check. pc-dimms are volatile RAM and get no commands.

use crate::layout::Layout;
use crate::profile::{DimmKind, Profile};
use crate::size::{format_human, format_qemu, MIB};
use std::fmt::Write;

/// fsdax/devdax namespaces must start on this boundary.
const NAMESPACE_START_ALIGN: u64 = 16 * MIB;
/// Below this a namespace cannot hold fsdax's memmap reservation usefully.
const MIN_FSDAX: u64 = 64 * MIB;

/// The namespace align for an fsdax namespace of `visible` bytes: 2 MiB
/// (huge-page mappings) when the size is a whole number of them, else 4 KiB.
pub fn fsdax_align(visible: u64) -> &'static str {
    if visible % (2 * MIB) == 0 {
        "2M"
    } else {
        "4K"
    }
}

/// The guest-side recipe. `layout` (when the machine is modelled) gives
/// each DIMM's visible size and address.
pub fn render(profile: &Profile, layout: Option<&Layout>) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# Inside the guest of the qpmem profile '{}': put the NVDIMMs to use.",
        profile.name.replace(['\n', '\r'], " ")
    );
    s.push_str(
        "# Needs ndctl and a kernel with CONFIG_ACPI_NFIT, CONFIG_BLK_DEV_PMEM, CONFIG_FS_DAX.\n\
         # Names assume the guest numbers the NVDIMMs in command-line order\n\
         # (the first is nmem0/region0/pmem0); check with: ndctl list -D -R -N\n\
         # mkfs destroys what is on the device: run it only on a new DIMM.\n\
         set -eu\n",
    );
    let mut n = 0usize;
    let mut any = false;
    for d in &profile.devices {
        if d.kind != DimmKind::Nvdimm {
            let _ = writeln!(
                s,
                "\n# {}: a pc-dimm (volatile RAM): the kernel onlines it as memory; see lsmem.",
                d.id
            );
            continue;
        }
        any = true;
        let k = n;
        n += 1;
        let placed = layout.and_then(|l| l.devices.iter().find(|x| x.id == d.id));
        if let Some(Err(e)) = placed.map(|p| &p.result) {
            let _ = writeln!(
                s,
                "\n# {}: QEMU will not start with it ({e}); fix the profile first.",
                d.id
            );
            continue;
        }
        let placement = placed.and_then(|p| p.placement());
        let visible = placement.map(|p| p.size);
        let _ = write!(s, "\n# {} -> nmem{k}, region{k}", d.id);
        match visible {
            Some(v) => {
                let _ = write!(s, ": {} visible", format_human(v));
            }
            None => s.push_str(": size unknown (machine type not modelled)"),
        }
        if d.label_size.0 > 0 {
            let _ = writeln!(s, ", {} label area", format_qemu(d.label_size.0));
        } else {
            s.push_str(", label-less (one raw namespace, no sub-division)\n");
        }
        if d.readonly {
            let _ = writeln!(
                s,
                "# Read-only backend: the guest cannot write labels or a file system.\n\
                 # An existing one mounts with: mkdir -p /mnt/pmem{k} && mount -o ro,dax /dev/pmem{k} /mnt/pmem{k}"
            );
            continue;
        }
        let start_ok = placement.is_none_or(|p| p.addr % NAMESPACE_START_ALIGN == 0);
        let big_enough = visible.is_none_or(|v| v >= MIN_FSDAX);
        let (mode, align) = if start_ok && big_enough {
            ("fsdax", visible.map(fsdax_align).unwrap_or("2M"))
        } else {
            if !start_ok {
                let _ = writeln!(
                    s,
                    "# It starts at {:#x}, not on a 16 MiB boundary: fsdax is refused there; raw mode, no DAX.",
                    placement.map(|p| p.addr).unwrap_or(0)
                );
            } else {
                s.push_str("# Too small for fsdax's page map: raw mode, no DAX.\n");
            }
            ("raw", "")
        };
        let align_arg = if align.is_empty() {
            String::new()
        } else {
            format!(" --align={align}")
        };
        if d.label_size.0 > 0 {
            let _ = writeln!(
                s,
                "ndctl disable-region region{k}\n\
                 ndctl init-labels nmem{k}    # only initialises labels that are not valid yet\n\
                 ndctl enable-region region{k}\n\
                 ndctl create-namespace --region=region{k} --mode={mode}{align_arg}"
            );
        } else {
            let _ = writeln!(
                s,
                "ndctl create-namespace --force --reconfig=namespace{k}.0 --mode={mode}{align_arg}"
            );
        }
        if mode == "fsdax" {
            let _ = writeln!(
                s,
                "mkfs.ext4 /dev/pmem{k}\n\
                 mkdir -p /mnt/pmem{k}\n\
                 mount -o dax /dev/pmem{k} /mnt/pmem{k}"
            );
        }
    }
    if !any {
        s.push_str("\n# No NVDIMMs in this profile: nothing to set up.\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{layout, HostFacts};
    use crate::profile::Dimm;
    use crate::size::Size;
    use std::path::Path;

    fn guest(p: &Profile) -> String {
        let l = layout(p, &HostFacts::default()).unwrap();
        render(p, Some(&l))
    }

    #[test]
    fn labelled_dimms_get_labels_a_namespace_and_a_dax_mount() {
        let s = guest(&Profile::seed(Path::new("/vms")));
        assert!(s.contains("ndctl init-labels nmem0"), "{s}");
        assert!(s.contains("ndctl init-labels nmem1"), "{s}");
        assert!(s.contains("ndctl create-namespace --region=region1 --mode=fsdax --align=2M"));
        assert!(s.contains("mount -o dax /dev/pmem1 /mnt/pmem1"));
        assert!(s.contains("16.88 GiB visible"), "{s}");
    }

    #[test]
    fn label_less_dimms_are_reconfigured_without_init_labels() {
        let mut p = Profile::empty("x");
        let mut d = Dimm::nvdimm(1, "/f".into(), Size::gib(4));
        d.label_size = Size(0);
        p.devices.push(d);
        let s = guest(&p);
        assert!(!s.contains("init-labels"), "{s}");
        assert!(
            s.contains("--reconfig=namespace0.0 --mode=fsdax --align=2M"),
            "{s}"
        );
    }

    #[test]
    fn misaligned_tiny_readonly_and_volatile_dimms_are_explained() {
        let mut p = Profile::empty("x");
        p.devices.push(Dimm::pc_dimm(1, Size::gib(1)));
        let mut small = Dimm::nvdimm(2, "/s".into(), Size::mib(34));
        small.align = None;
        p.devices.push(small);
        let mut ro = Dimm::nvdimm(3, "/r".into(), Size::gib(1));
        ro.readonly = true;
        p.devices.push(ro);
        let s = guest(&p);
        assert!(s.contains("dimm1: a pc-dimm"), "{s}");
        assert!(s.contains("nv2 -> nmem0"), "{s}");
        assert!(s.contains("--region=region0 --mode=raw\n"), "{s}");
        assert!(s.contains("mount -o ro,dax /dev/pmem1"), "{s}");
        assert_eq!(fsdax_align(3 * MIB), "4K");
    }
}
