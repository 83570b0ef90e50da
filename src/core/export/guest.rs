//! `--format guest`: the commands to run inside the guest to put each
//! NVDIMM to use with ndctl: `init-labels` for labelled DIMMs, a namespace
//! whose mode and align fit the DIMM, then `mkfs` and `mount -o dax` for
//! fsdax. Also shown in the TUI.
//!
//! The guest numbers its regions in its own order, not the command line's,
//! so the script finds each DIMM's region by the physical address qpmem
//! predicts for it (`/sys/bus/nd/devices/region*/resource`), the DIMM
//! behind it from the region's `mapping0`, and the block device from
//! ndctl's JSON. pc-dimms are volatile RAM and get no commands.

use crate::core::cmdline::shell_quote;
use crate::core::layout::Layout;
use crate::core::profile::{DimmKind, Profile};
use crate::core::size::{format_human, format_qemu, MIB};
use std::fmt::Write;

/// fsdax/devdax namespaces must start on this boundary.
const NAMESPACE_START_ALIGN: u64 = 16 * MIB;
/// Below this a namespace cannot hold fsdax's memmap reservation usefully.
const MIN_FSDAX: u64 = 64 * MIB;

const PREAMBLE: &str = r#"set -eu

# The nd region at physical address $1.
qpmem_region() {
    for r in /sys/bus/nd/devices/region*; do
        [ -r "$r/resource" ] || continue
        if [ $(( $(cat "$r/resource") )) -eq $(( $1 )) ]; then
            echo "${r##*/}"
            return 0
        fi
    done
    echo "no nd region at $1 (see: ndctl list -R)" >&2
    return 1
}
# The DIMM (nmemN) behind region $1.
qpmem_nmem() { cut -d, -f1 "/sys/bus/nd/devices/$1/mapping0"; }
# The block device in ndctl's JSON on stdin.
qpmem_blockdev() { sed -n 's/.*"blockdev": *"\([^"]*\)".*/\1/p'; }
"#;

/// A virtio-pmem device: no NFIT, no labels, no ndctl needed. The
/// guest's `virtio_pmem` driver registers an nd region at its address
/// with one namespace, so `/dev/pmemN` appears on its own.
fn virtio_pmem(s: &mut String, d: &crate::core::profile::Dimm, layout: Option<&Layout>) {
    let placed = layout
        .and_then(|l| l.devices.iter().find(|x| x.id == d.id))
        .and_then(|p| p.placement());
    let Some(p) = placed else {
        let _ = writeln!(
            s,
            "\n# {}: virtio-pmem without a predicted address: find its region with ndctl list -R.",
            d.id
        );
        return;
    };
    let mnt = shell_quote(&format!("/mnt/{}", d.id.replace('/', "_")));
    let _ = writeln!(
        s,
        "\n# {id}: virtio-pmem, {size} at {addr:#x}. Needs CONFIG_VIRTIO_PMEM (module virtio_pmem);\n\
         # /dev/pmemN appears without ndctl. Writes persist only through fsync/msync (a flush\n\
         # to the host); MAP_SYNC is refused on virtio-pmem.\n\
         region=$(qpmem_region {addr:#x})\n\
         dev=/dev/$(ls /sys/bus/nd/devices/\"$region\"/namespace*/block/ 2>/dev/null | head -n 1)\n\
         mkfs.ext4 -F \"$dev\"    # or mkfs.xfs -f -m reflink=0; destroys what is on it\n\
         mkdir -p {mnt} && mount -o dax \"$dev\" {mnt}",
        id = d.id,
        size = format_human(p.size),
        addr = p.addr,
    );
}

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
/// each DIMM's address and visible size; without it no commands can be
/// written, only what to do.
pub fn render(profile: &Profile, layout: Option<&Layout>) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# Inside the guest of the qpmem profile '{}': put the NVDIMMs to use.",
        crate::core::printable::printable(&profile.name)
    );
    s.push_str(
        "# Needs ndctl and a kernel with CONFIG_ACPI_NFIT, CONFIG_BLK_DEV_PMEM, CONFIG_FS_DAX.\n\
         # mkfs destroys what is on the device: run it only on a new DIMM.\n",
    );
    s.push_str(PREAMBLE);
    let mut any = false;
    for d in &profile.devices {
        if d.kind == DimmKind::VirtioPmem {
            any = true;
            virtio_pmem(&mut s, d, layout);
            continue;
        }
        if d.kind != DimmKind::Nvdimm {
            let _ = writeln!(
                s,
                "\n# {}: a pc-dimm (volatile RAM): the kernel onlines it as memory; see lsmem.",
                d.id
            );
            continue;
        }
        any = true;
        let placed = layout.and_then(|l| l.devices.iter().find(|x| x.id == d.id));
        let placement = match placed.map(|p| &p.result) {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let _ = writeln!(
                    s,
                    "\n# {}: QEMU will not start with it ({e}); fix the profile first.",
                    d.id
                );
                continue;
            }
            None => {
                let _ = writeln!(
                    s,
                    "\n# {}: machine type not modelled, so its address is unknown: find its region with ndctl list -R.",
                    d.id
                );
                continue;
            }
        };
        let visible = placement.size;
        let _ = write!(
            s,
            "\n# {}: {} at {:#x}",
            d.id,
            format_human(visible),
            placement.addr
        );
        if d.label_size.0 > 0 {
            let _ = writeln!(s, ", {} label area", format_qemu(d.label_size.0));
        } else {
            s.push_str(", label-less (one raw namespace, no sub-division)\n");
        }
        let mnt = shell_quote(&format!("/mnt/{}", d.id.replace('/', "_")));
        if d.readonly {
            let _ = writeln!(
                s,
                "# Read-only backend: the guest cannot write labels or a file system.\n\
                 # An existing one mounts with: mkdir -p {mnt} && mount -o ro,dax /dev/pmemN {mnt}"
            );
            continue;
        }
        let _ = writeln!(s, "region=$(qpmem_region {:#x})", placement.addr);
        let start_ok = placement.addr % NAMESPACE_START_ALIGN == 0;
        let fsdax = start_ok && visible >= MIN_FSDAX;
        if !start_ok {
            s.push_str("# Not on a 16 MiB boundary: fsdax is refused there; raw mode, no DAX.\n");
        } else if !fsdax {
            s.push_str("# Too small for fsdax's page map: raw mode, no DAX.\n");
        }
        let mode = if fsdax {
            format!("--mode=fsdax --align={}", fsdax_align(visible))
        } else {
            "--mode=raw".to_string()
        };
        let create = if d.label_size.0 > 0 {
            s.push_str(
                "ndctl disable-region \"$region\"\n\
                 ndctl init-labels \"$(qpmem_nmem \"$region\")\"    # only where no valid labels exist\n\
                 ndctl enable-region \"$region\"\n",
            );
            format!("ndctl create-namespace --region=\"$region\" {mode}")
        } else {
            format!("ndctl create-namespace --force --reconfig=\"namespace${{region#region}}.0\" {mode}")
        };
        let _ = writeln!(s, "dev=$({create} | qpmem_blockdev)");
        if fsdax {
            let _ = writeln!(
                s,
                "mkfs.ext4 \"/dev/$dev\"\n\
                 mkdir -p {mnt}\n\
                 mount -o dax \"/dev/$dev\" {mnt}"
            );
        } else {
            let _ = writeln!(s, "echo \"{}: /dev/$dev (no DAX)\"", d.id);
        }
    }
    if let (Some(c), Some(cl)) = (&profile.cxl, layout.and_then(|l| l.cxl.as_ref())) {
        any |= cxl_recipe(&mut s, c, cl);
    }
    if !any {
        s.push_str("\n# No NVDIMMs in this profile: nothing to set up.\n");
    }
    if profile.spare_slots > 0 {
        s.push_str(HOTPLUG_NOTE);
    }
    s
}

/// For a profile with spare slots: what the guest needs to see an NVDIMM
/// hotplugged later (qpmem's `+` in the launch view).
pub const HOTPLUG_NOTE: &str = "
# Hotplug (spare slots): the guest sees an NVDIMM added later (qpmem's + in
# the launch view) once its kernel has memory hotplug (CONFIG_MEMORY_HOTPLUG)
# and the nfit driver (CONFIG_ACPI_NFIT, module nfit) to take the ACPI
# notification; then ndctl list -R shows the new region, set up as above.
";

const CXL_PREAMBLE: &str = r#"
# CXL: needs the cxl tool (ndctl's) and the modules cxl_acpi, cxl_pci,
# cxl_port, cxl_mem, cxl_pmem. Each window is a root decoder
# (decoder0.N) found by its start address; each type-3 device a memdev
# (memN) found below its host bridge, the PCI root bus pci0000:BB of its
# bus_nr; a CXL region's pmem is an nd region at the same address.
modprobe -a cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem 2>/dev/null || true
# The root decoder whose window starts at $1.
qpmem_cxl_decoder() {
    for d in /sys/bus/cxl/devices/decoder0.*; do
        [ -r "$d/start" ] || continue
        if [ $(( $(cat "$d/start") )) -eq $(( $1 )) ]; then
            echo "${d##*/}"
            return 0
        fi
    done
    echo "no CXL root decoder at $1 (see: cxl list -D)" >&2
    return 1
}
# The first memdev below host bridge bus $1 (hex, pci0000:$1) not in $qpmem_used.
qpmem_cxl_mem() {
    for m in /sys/bus/cxl/devices/mem*; do
        case "$(readlink -f "$m")" in */pci0000:$1/*) ;; *) continue ;; esac
        case " $qpmem_used " in *" ${m##*/} "*) continue ;; esac
        qpmem_used="$qpmem_used ${m##*/}"
        echo "${m##*/}"
        return 0
    done
    echo "no free CXL memdev below pci0000:$1 (see: cxl list -M)" >&2
    return 1
}
# The CXL region's name in cxl create-region's JSON on stdin.
qpmem_cxl_region() { sed -n 's/.*"region": *"\([^"]*\)".*/\1/p' | head -n 1; }
qpmem_used=""
cxl list -M -D
"#;

/// One CXL region per window that has a persistent device below each of
/// its targets: `cxl create-region`, then a namespace, mkfs, mount.
fn cxl_recipe(
    s: &mut String,
    c: &crate::core::cxl::Cxl,
    layout: &crate::core::cxl::CxlLayout,
) -> bool {
    if layout.windows.is_empty() {
        s.push_str("\n# CXL without windows: the guest cannot map the type-3 devices.\n");
        return false;
    }
    s.push_str(CXL_PREAMBLE);
    let mut any = false;
    for w in &layout.windows {
        let _ = writeln!(
            s,
            "\n# CXL window {}: {} at {:#x}, {}-way over {}, granularity {}",
            w.index,
            format_human(w.size),
            w.base,
            w.targets.len(),
            w.targets.join(" "),
            w.granularity
        );
        let buses: Option<Vec<u8>> = w
            .targets
            .iter()
            .map(|t| {
                let hb = c.host_bridge(t)?;
                let has_pmem = c.devices_below(t).iter().any(|d| d.persistent.is_some());
                has_pmem.then_some(hb.bus_nr)
            })
            .collect();
        let Some(buses) = buses else {
            s.push_str(
                "# Not every target has a persistent type-3 device below it: no region here.\n",
            );
            continue;
        };
        any = true;
        let _ = writeln!(s, "decoder=$(qpmem_cxl_decoder {:#x})", w.base);
        let mems: Vec<String> = buses
            .iter()
            .map(|b| format!("\"$(qpmem_cxl_mem {b:02x})\""))
            .collect();
        let mnt = format!("/mnt/cxl-window{}", w.index);
        let _ = writeln!(
            s,
            "region=$(cxl create-region -m -d \"$decoder\" -w {} -g {} {} | qpmem_cxl_region)\n\
             nd=$(qpmem_region \"$(cat /sys/bus/cxl/devices/$region/resource)\")\n\
             dev=$(ndctl create-namespace -r \"$nd\" -m fsdax | qpmem_blockdev)\n\
             mkfs.ext4 \"/dev/$dev\"\n\
             mkdir -p {mnt}\n\
             mount -o dax \"/dev/$dev\" {mnt}",
            w.targets.len(),
            w.granularity,
            mems.join(" ")
        );
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;
    use std::path::Path;

    fn guest(p: &Profile) -> String {
        let l = layout(p, &HostFacts::default()).unwrap();
        render(p, Some(&l))
    }

    #[test]
    fn spare_slots_bring_the_hotplug_note() {
        let mut p = Profile::seed(Path::new("/vms"));
        assert!(!guest(&p).contains("# Hotplug (spare slots)"));
        p.spare_slots = 1;
        assert!(guest(&p).contains("# Hotplug (spare slots)"));
    }

    #[test]
    fn labelled_dimms_get_labels_a_namespace_and_a_dax_mount() {
        let s = guest(&Profile::seed(Path::new("/vms")));
        assert_eq!(s.matches("ndctl init-labels").count(), 2, "{s}");
        assert!(s.contains("region=$(qpmem_region 0x538000000)\n"), "{s}");
        assert!(s.contains(
            "dev=$(ndctl create-namespace --region=\"$region\" --mode=fsdax --align=2M | qpmem_blockdev)"
        ));
        assert!(s.contains("mount -o dax \"/dev/$dev\" /mnt/nv2\n"), "{s}");
        assert!(
            s.contains("# nv1: 16.88 GiB at 0x100000000, 2M label area"),
            "{s}"
        );
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
            s.contains("--reconfig=\"namespace${region#region}.0\" --mode=fsdax --align=2M"),
            "{s}"
        );
    }

    #[test]
    fn cxl_windows_get_a_region_each_from_the_decoder_at_their_address() {
        let mut p = Profile::empty("x");
        p.machine = "q35".into();
        p.cxl = Some(crate::core::cxl::Cxl::run_qemu_example(Path::new("/d")));
        let s = guest(&p);
        // run_qemu's windows with -m 2G: 0x110000000 and 0x210000000.
        assert!(
            s.contains("decoder=$(qpmem_cxl_decoder 0x110000000)\n"),
            "{s}"
        );
        assert!(s.contains(
            "cxl create-region -m -d \"$decoder\" -w 2 -g 8192 \"$(qpmem_cxl_mem 35)\" \"$(qpmem_cxl_mem bf)\""
        ), "{s}");
        assert!(
            s.contains("mount -o dax \"/dev/$dev\" /mnt/cxl-window1\n"),
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
        assert!(
            s.contains("--region=\"$region\" --mode=raw | qpmem_blockdev)"),
            "{s}"
        );
        assert!(s.contains("mount -o ro,dax /dev/pmemN /mnt/nv3"), "{s}");
        assert_eq!(s.matches("mkfs").count(), 1, "{s}"); // the header's warning only
        assert_eq!(fsdax_align(3 * MIB), "4K");
    }
}
