//! Rules about one device's own properties: its size against its label
//! and alignment, `label-size`, `align`, ids, `unarmed`, `node`. QEMU
//! checks these while it creates the backend object and realizes the
//! device (hw/mem/nvdimm.c, pc-dimm.c, system/physmem.c).

use super::{Basis, Context, Edit, Finding, Fix, Flag, Rule, Severity};
use crate::core::device::Setting;
use crate::core::layout::{PlaceError, PAGE_SIZE};
use crate::core::profile::{is_valid_id, Backend, Dimm, Profile};
use crate::core::size::{align_up, format_human, format_qemu, Size, KIB, MIB};
use std::collections::HashSet;
use std::path::Path;

/// QEMU's smallest label area (`MIN_NAMESPACE_LABEL_SIZE`).
pub const MIN_LABEL_SIZE: u64 = 128 * KIB;
/// What a label area should be a multiple of, so the pmem behind it ends
/// on the 2 MiB boundary namespaces align to.
pub const LABEL_ALIGN: u64 = 2 * MIB;

pub static TOO_SMALL: Rule = Rule {
    code: "QP200",
    name: "too-small",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "An NVDIMM must keep some aligned pmem after its label: size > label-size and \
ALIGN_DOWN(size - label-size, align) > 0. QEMU refuses otherwise: \"the size of memdev .. \
is too small to contain nvdimm label .. and aligned PMEM ..\". A size of 0 is refused \
outright.",
    check: too_small,
};

fn too_small(ctx: &Context) -> Vec<Finding> {
    let Some(layout) = ctx.layout else {
        return Vec::new();
    };
    layout
        .devices
        .iter()
        .filter_map(|d| match &d.result {
            Err(PlaceError::TooSmall { size, label, .. }) => {
                let align = ctx
                    .device(&d.id)
                    .map(|x| crate::core::layout::effective_align(x, ctx.host))
                    .unwrap_or(PAGE_SIZE);
                let message = if *size == 0 {
                    format!("{} has size 0", d.id)
                } else if size <= label {
                    format!(
                        "{}'s {} backend is no bigger than its {} label",
                        d.id,
                        format_human(*size),
                        format_human(*label)
                    )
                } else {
                    format!(
                        "{}'s {} backend minus its {} label rounds down to nothing at a {} alignment",
                        d.id,
                        format_human(*size),
                        format_human(*label),
                        format_human(align)
                    )
                };
                let least = label.saturating_add(align);
                Some(Finding::about(
                    Some(&d.id),
                    message,
                    Some(format!(
                        "make {} at least {} (label plus one {} unit)",
                        d.id,
                        format_qemu(least),
                        format_human(align)
                    )),
                ))
            }
            _ => None,
        })
        .collect()
}

pub static PC_DIMM_SIZE_UNALIGNED: Rule = Rule {
    code: "QP201",
    name: "pc-dimm-size-unaligned",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A pc-dimm shows the guest its whole backend, which must be a multiple of the \
backend's alignment (2 MiB for memory-backend-ram on x86_64 hosts, the page size or \
align= for a file). QEMU refuses: \"backend memory size must be multiple of 0x200000\". \
virtio-pmem-pci and virtio-mem-pci take their whole backend too and are held to the same \
rule (hw/mem/memory-device.c); virtio-mem's alignment includes its block-size (2 MiB by \
default): \"backend memory size must be multiple of 0x400000\" for 6M with block-size=4M.",
    check: pc_dimm_size_unaligned,
};

fn pc_dimm_size_unaligned(ctx: &Context) -> Vec<Finding> {
    let Some(layout) = ctx.layout else {
        return Vec::new();
    };
    layout
        .devices
        .iter()
        .filter_map(|d| match &d.result {
            Err(PlaceError::SizeNotAligned { size, align }) => {
                let message = format!(
                    "{} is {}, not a multiple of its {} alignment",
                    d.id,
                    if *size == 0 {
                        "0 bytes".to_string()
                    } else {
                        format_qemu(*size)
                    },
                    format_human(*align)
                );
                let Some(up) = align_up((*size).max(1), *align) else {
                    return Some(Finding::about(Some(&d.id), message, None));
                };
                Some(Finding::fixed(
                    Some(&d.id),
                    message,
                    Fix::one(
                        format!("grow {} to {}", d.id, format_qemu(up)),
                        Edit::SetSize {
                            device: d.id.clone(),
                            size: Size(up),
                        },
                    ),
                    None,
                ))
            }
            _ => None,
        })
        .collect()
}

/// The devices with a label area (the label rules judge these).
fn nvdimms(p: &Profile) -> impl Iterator<Item = &Dimm> {
    p.devices.iter().filter(|d| d.kind.spec().has_labels())
}

pub static LABEL_TOO_SMALL: Rule = Rule {
    code: "QP202",
    name: "label-too-small",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A label area, when there is one, must be at least 128 KiB. QEMU refuses: \
\"Property 'nvdimm.label-size' (0x10000) is required at least 0x20000\". label-size=0 \
(no labels) is fine.",
    check: label_too_small,
};

fn label_too_small(ctx: &Context) -> Vec<Finding> {
    nvdimms(ctx.profile)
        .filter(|d| d.label_size.0 > 0 && d.label_size.0 < MIN_LABEL_SIZE)
        .map(|d| {
            // 2 MiB keeps the pmem on a 2 MiB boundary; a tiny DIMM gets the minimum.
            let to = if d.size.0 > 2 * LABEL_ALIGN {
                LABEL_ALIGN
            } else {
                MIN_LABEL_SIZE
            };
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has label-size={}, below QEMU's minimum of 128 KiB",
                    d.id,
                    format_qemu(d.label_size.0)
                ),
                Fix::one(
                    format!("set label-size={} on {}", format_qemu(to), d.id),
                    Edit::SetLabelSize {
                        device: d.id.clone(),
                        size: Size(to),
                    },
                ),
                None,
            )
        })
        .collect()
}

pub static LABEL_UNALIGNED: Rule = Rule {
    code: "QP203",
    name: "label-unaligned",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "The label area is the last label-size bytes of the backend, so the pmem the \
guest sees ends where it starts. A label-size that is not a 2 MiB multiple leaves the pmem \
ending off a 2 MiB boundary (unless align= rounds it), and the next DIMM starting off one: \
namespaces want 2 MiB alignment. 2M is the usual size.",
    check: label_unaligned,
};

fn label_unaligned(ctx: &Context) -> Vec<Finding> {
    nvdimms(ctx.profile)
        .filter(|d| d.label_size.0 >= MIN_LABEL_SIZE && d.label_size.0 % LABEL_ALIGN != 0)
        .filter_map(|d| {
            let up = align_up(d.label_size.0, LABEL_ALIGN)?;
            let consequence = match d.align {
                Some(a) if a.0 >= LABEL_ALIGN => format!(
                    "align={} rounds the pmem anyway, so {} of the file is lost instead",
                    format_qemu(a.0),
                    format_human(up - d.label_size.0)
                ),
                _ => format!(
                    "the pmem ends {} short of a 2 MiB boundary",
                    format_human(up - d.label_size.0)
                ),
            };
            Some(Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has label-size={}, not a multiple of 2 MiB: {consequence}",
                    d.id,
                    format_qemu(d.label_size.0)
                ),
                Fix::one(
                    format!("set label-size={} on {}", format_qemu(up), d.id),
                    Edit::SetLabelSize {
                        device: d.id.clone(),
                        size: Size(up),
                    },
                ),
                None,
            ))
        })
        .collect()
}

/// A name `prefix{n}` no device uses as id or memdev.
fn fresh_name(p: &Profile, prefix: &str) -> String {
    let used: HashSet<&str> = p
        .devices
        .iter()
        .flat_map(|d| [d.id.as_str(), d.memdev.as_str()])
        .collect();
    (1..)
        .map(|n| format!("{prefix}{n}"))
        .find(|name| !used.contains(name.as_str()))
        .unwrap_or_else(|| prefix.to_string())
}

fn id_prefix(d: &Dimm) -> &'static str {
    d.kind.spec().id_prefix()
}

fn memdev_prefix(d: &Dimm) -> &'static str {
    match d.backend {
        Backend::File(_) => "mem",
        Backend::Ram => "ram",
    }
}

pub static DUPLICATE_ID: Rule = Rule {
    code: "QP204",
    name: "duplicate-id",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Two devices share an id. QEMU refuses: \"Duplicate ID 'nv1' for device\".",
    check: duplicate_id,
};

fn duplicate_id(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (index, d) in p.devices.iter().enumerate() {
        // Devices without an id (QEMU allows that) share no name.
        if d.id.is_empty() || seen.insert(d.id.as_str()) {
            continue;
        }
        let id = fresh_name(p, id_prefix(d));
        out.push(Finding::fixed(
            Some(&d.id),
            format!(
                "device {} (the {}) has the id '{}' of an earlier device",
                index + 1,
                nth(index),
                d.id
            ),
            Fix::one(
                format!("rename device {} to {id}", index + 1),
                Edit::RenameDevice { index, id },
            ),
            None,
        ));
    }
    out
}

/// `1st`, `2nd`, ... for the item at `index` (from 0).
pub(super) fn nth(index: usize) -> String {
    let n = index + 1;
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

pub static DUPLICATE_MEMDEV: Rule = Rule {
    code: "QP205",
    name: "duplicate-memdev",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Two backend objects share an id (two devices name the same memdev, or one is \
called like the backend of a NUMA node: the numaN qpmem makes, or one a -numa node's memdev= \
names). QEMU refuses: \"Duplicate ID 'mem1' \
for object\".",
    check: duplicate_memdev,
};

fn duplicate_memdev(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let numa: Vec<String> = if p.numa.is_empty() {
        (0..p.numa_nodes).map(|i| format!("numa{i}")).collect()
    } else {
        p.numa
            .iter()
            .filter_map(|n| n.memdev.as_ref().map(|m| m.id.clone()))
            .collect()
    };
    let mut seen: HashSet<&str> = numa.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for (index, d) in p.devices.iter().enumerate() {
        if seen.insert(d.memdev.as_str()) {
            continue;
        }
        let clash = if numa.contains(&d.memdev) {
            "the backend of a NUMA node".to_string()
        } else {
            p.devices
                .iter()
                .take(index)
                .find(|o| o.memdev == d.memdev)
                .map(|o| format!("the backend of {}", o.id))
                .unwrap_or_default()
        };
        let memdev = fresh_name(p, memdev_prefix(d));
        out.push(Finding::fixed(
            Some(&d.id),
            format!("{}'s backend id '{}' is already {clash}", d.id, d.memdev),
            Fix::one(
                format!("rename {}'s backend to {memdev}", d.id),
                Edit::RenameMemdev { index, memdev },
            ),
            None,
        ));
    }
    out
}

pub static INVALID_ID: Rule = Rule {
    code: "QP206",
    name: "invalid-id",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Ids (device and backend) start with a letter, then letters, digits, '-', '.', \
'_'. QEMU refuses others: \"Parameter 'id' expects an identifier\".",
    check: invalid_id,
};

fn invalid_id(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let mut out = Vec::new();
    for (index, d) in p.devices.iter().enumerate() {
        // No id at all is allowed (an imported `-device nvdimm,memdev=m1`).
        if !d.id.is_empty() && !is_valid_id(&d.id) {
            let id = fresh_name(p, id_prefix(d));
            out.push(Finding::fixed(
                Some(&d.id),
                format!("device id '{}' is not an identifier", d.id),
                Fix::one(
                    format!("rename device '{}' to {id}", d.id),
                    Edit::RenameDevice { index, id },
                ),
                Some("ids start with a letter, then letters, digits, '-', '.', '_'"),
            ));
        }
        if !is_valid_id(&d.memdev) {
            let memdev = fresh_name(p, memdev_prefix(d));
            out.push(Finding::fixed(
                Some(&d.id),
                format!("{}'s backend id '{}' is not an identifier", d.id, d.memdev),
                Fix::one(
                    format!("rename {}'s backend to {memdev}", d.id),
                    Edit::RenameMemdev { index, memdev },
                ),
                Some("ids start with a letter, then letters, digits, '-', '.', '_'"),
            ));
        }
    }
    out
}

/// File-backed devices with a non-zero `align=` (QEMU reads 0 as "default").
fn aligned_files(p: &Profile) -> impl Iterator<Item = (&Dimm, &Path, u64)> {
    p.devices
        .iter()
        .filter_map(|d| match (&d.backend, d.align) {
            (Backend::File(path), Some(a)) if a.0 > 0 => Some((d, path.as_path(), a.0)),
            _ => None,
        })
}

pub static ALIGN_NOT_POWER_OF_TWO: Rule = Rule {
    code: "QP207",
    name: "align-not-power-of-two",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "align= must be a power of two. QEMU refuses: \"alignment 0x300000 must be a power \
of two\".",
    check: align_not_power_of_two,
};

fn align_not_power_of_two(ctx: &Context) -> Vec<Finding> {
    aligned_files(ctx.profile)
        .filter(|(_, _, a)| !a.is_power_of_two())
        .filter_map(|(d, _, a)| {
            let up = a.checked_next_power_of_two()?;
            Some(Finding::fixed(
                Some(&d.id),
                format!("{} has align={}, not a power of two", d.id, format_qemu(a)),
                Fix::one(
                    format!("set align={} on {}", format_qemu(up), d.id),
                    Edit::SetAlign {
                        device: d.id.clone(),
                        align: Some(Size(up)),
                    },
                ),
                None,
            ))
        })
        .collect()
}

pub static ALIGN_BELOW_PAGE: Rule = Rule {
    code: "QP208",
    name: "align-below-page",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "align= must be a multiple of the backing file's page size (4 KiB, or the huge \
page size on hugetlbfs). QEMU refuses: \"alignment 0x800 must be multiples of page size \
0x1000\".",
    check: align_below_page,
};

fn align_below_page(ctx: &Context) -> Vec<Finding> {
    aligned_files(ctx.profile)
        .filter_map(|(d, path, a)| {
            let page = ctx
                .host
                .file_page_size
                .get(path)
                .copied()
                .unwrap_or(PAGE_SIZE);
            if a % page == 0 {
                return None;
            }
            let to = align_up(a, page)?.checked_next_power_of_two()?;
            Some(Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has align={}, not a multiple of its backing file's {} pages",
                    d.id,
                    format_qemu(a),
                    format_human(page)
                ),
                Fix::one(
                    format!("set align={} on {}", format_qemu(to), d.id),
                    Edit::SetAlign {
                        device: d.id.clone(),
                        align: Some(Size(to)),
                    },
                ),
                None,
            ))
        })
        .collect()
}

pub static UNARMED_REQUIRED: Rule = Rule {
    code: "QP209",
    name: "unarmed-required",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "An NVDIMM on a read-only backend must tell the guest it cannot persist writes. \
QEMU refuses unarmed=off there: \"'unarmed' property must be 'on' since memdev .. is \
read-only\".",
    check: unarmed_required,
};

fn unarmed_required(ctx: &Context) -> Vec<Finding> {
    nvdimms(ctx.profile)
        .filter(|d| d.readonly && !d.unarmed && d.backend.path().is_some())
        .map(|d| {
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has a read-only backend ({}) but is armed (unarmed=off)",
                    d.id, d.memdev
                ),
                Fix::one(
                    format!("set unarmed=on on {}", d.id),
                    Edit::SetFlag {
                        device: d.id.clone(),
                        flag: Flag::Unarmed,
                        value: true,
                    },
                ),
                None,
            )
        })
        .collect()
}

pub static NODE_OUT_OF_RANGE: Rule = Rule {
    code: "QP210",
    name: "node-out-of-range",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "node= must name a NUMA node the machine has. Without -numa, a machine with memory \
hotplug has one node, 0. QEMU refuses others: \"DIMM property node has value 1 which \
exceeds the number of numa nodes: 1\".",
    check: node_out_of_range,
};

fn node_out_of_range(ctx: &Context) -> Vec<Finding> {
    let nodes = ctx.profile.declared_numa_nodes().max(1);
    ctx.profile
        .devices
        .iter()
        .filter_map(|d| d.node.filter(|n| *n >= nodes).map(|n| (d, n)))
        .map(|(d, n)| {
            Finding::fixed(
                Some(&d.id),
                format!(
                    "{} is on node={n}, but the machine has {nodes} NUMA node{} (0-{})",
                    d.id,
                    if nodes == 1 { "" } else { "s" },
                    nodes - 1
                ),
                Fix::one(
                    format!("remove node= from {}", d.id),
                    Edit::SetNode {
                        device: d.id.clone(),
                        node: None,
                    },
                )
                // Or add the node the device names.
                .maybe_incorrect(),
                None,
            )
        })
        .collect()
}

pub static SETTING_NOT_ON_KIND: Rule = Rule {
    code: "QP211",
    name: "setting-not-on-kind",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "The profile sets a property the device's kind does not have: label-size and \
unarmed are NVDIMM properties, slot belongs to the DIMMs, virtio-pmem-pci has no node, \
block-size and requested-size are virtio-mem's (QEMU 7.2's `-device DRIVER,help`). qpmem \
leaves it out of the command line (QEMU would refuse it: \"Property 'virtio-pmem-pci.node' \
not found\"), so the value has no effect; the fix takes it off the profile. A kind changed \
in the editor keeps the old kind's values until then.",
    check: setting_not_on_kind,
};

fn setting_not_on_kind(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in &ctx.profile.devices {
        let spec = d.kind.spec();
        for s in Setting::ALL.iter().filter(|s| !spec.has(**s)) {
            let Some(v) = s.value(d) else { continue };
            out.push(Finding::fixed(
                Some(&d.id),
                format!(
                    "{} sets {}={v}, but {} has no {} property: it is left out of the command line",
                    d.id,
                    s.property(),
                    d.kind.device(),
                    s.property()
                ),
                Fix::one(
                    format!("remove {} from {}", s.property(), d.id),
                    Edit::ClearSetting {
                        device: d.id.clone(),
                        setting: *s,
                    },
                ),
                None,
            ));
        }
    }
    out
}

/// virtio-mem's smallest block (`VIRTIO_MEM_MIN_BLOCK_SIZE`).
pub const MIN_BLOCK_SIZE: u64 = MIB;

/// The virtio-mem devices of the profile, with the block size QEMU uses.
fn virtio_mems<'a>(ctx: &'a Context) -> impl Iterator<Item = (&'a Dimm, u64)> + 'a {
    ctx.profile
        .devices
        .iter()
        .filter(|d| d.kind.spec().has(Setting::BlockSize))
        .map(|d| {
            let page = crate::core::device::page_size(ctx.host, &d.backend);
            (d, crate::core::device::virtio_mem::block_size(d, page))
        })
}

pub static BLOCK_SIZE_INVALID: Rule = Rule {
    code: "QP212",
    name: "block-size-invalid",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "virtio-mem's block-size must be a power of two of at least 1 MiB \
(hw/virtio/virtio-mem.c). QEMU 7.2 refuses others: \"'block-size' property has to be a \
power of two\", \"'block-size' property has to be at least 0x100000\". (Below the default, \
2 MiB on x86_64, QEMU only warns.)",
    check: block_size_invalid,
};

fn block_size_invalid(ctx: &Context) -> Vec<Finding> {
    virtio_mems(ctx)
        .filter_map(|(d, _)| {
            let b = d.block_size?.0;
            let why = if !b.is_power_of_two() {
                "not a power of two"
            } else if b < MIN_BLOCK_SIZE {
                "below 1M"
            } else {
                return None;
            };
            let to = b.max(MIN_BLOCK_SIZE).checked_next_power_of_two()?;
            Some(Finding::fixed(
                Some(&d.id),
                format!("{} has block-size={}, {why}", d.id, format_qemu(b)),
                Fix::one(
                    format!("set block-size={} on {}", format_qemu(to), d.id),
                    Edit::SetBlockSize {
                        device: d.id.clone(),
                        size: Some(Size(to)),
                    },
                )
                .maybe_incorrect(),
                None,
            ))
        })
        .collect()
}

pub static REQUESTED_SIZE_UNALIGNED: Rule = Rule {
    code: "QP213",
    name: "requested-size-unaligned",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "virtio-mem plugs memory in whole blocks: requested-size must be a multiple of the \
block size (block-size=, else 2 MiB on x86_64 or the backend's page size). QEMU 7.2 refuses \
others: \"'requested-size' property has to be multiples of 'block-size' (0x200000)\".",
    check: requested_size_unaligned,
};

fn requested_size_unaligned(ctx: &Context) -> Vec<Finding> {
    virtio_mems(ctx)
        .filter(|(_, b)| b.is_power_of_two())
        .filter_map(|(d, b)| {
            let r = d.requested_size?.0;
            if r % b == 0 {
                return None;
            }
            let up = align_up(r, b)?;
            let to = if up > d.size.0 { r - r % b } else { up };
            Some(Finding::fixed(
                Some(&d.id),
                format!(
                    "{} has requested-size={}, not a multiple of its {} blocks",
                    d.id,
                    format_qemu(r),
                    format_qemu(b)
                ),
                Fix::one(
                    format!("set requested-size={} on {}", format_qemu(to), d.id),
                    Edit::SetRequestedSize {
                        device: d.id.clone(),
                        size: Some(Size(to)),
                    },
                ),
                None,
            ))
        })
        .collect()
}

pub static REQUESTED_SIZE_OVER_SIZE: Rule = Rule {
    code: "QP214",
    name: "requested-size-over-size",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "virtio-mem's requested-size is how much of its backend the guest is asked to plug; \
it cannot be more than the backend's size. QEMU 7.2 starts with a larger one (measured: \
requested-size=2G on a 1G backend, reported back as 2G by QMP), but the guest can plug at \
most the backend's size, and changing it later with qom-set is refused (\"'requested-size' \
cannot exceed the memory backend size\"). The fix asks for the whole backend.",
    check: requested_size_over_size,
};

fn requested_size_over_size(ctx: &Context) -> Vec<Finding> {
    virtio_mems(ctx)
        .filter_map(|(d, _)| {
            let r = d.requested_size?.0;
            (r > d.size.0).then(|| {
                Finding::fixed(
                    Some(&d.id),
                    format!(
                        "{} asks the guest to plug requested-size={} of a {} backend",
                        d.id,
                        format_qemu(r),
                        format_qemu(d.size.0)
                    ),
                    Fix::one(
                        format!("set requested-size={} on {}", format_qemu(d.size.0), d.id),
                        Edit::SetRequestedSize {
                            device: d.id.clone(),
                            size: Some(d.size),
                        },
                    ),
                    None,
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

    #[test]
    fn too_small_devices() {
        assert!(only(&run(&seed(None)), "QP200").is_empty());
        let mut p = seed(None);
        p.devices[0].size = Size::mib(2);
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP200")[0].message,
            "nv1's 2 MiB backend is no bigger than its 2 MiB label"
        );
        p.devices[0].size = Size(0);
        assert_eq!(only(&run(&p), "QP200")[0].message, "nv1 has size 0");
        let mut p = seed(Some(Size::gib(1)));
        p.devices[0].size = Size::gib(1);
        let ds = run(&p);
        let e = only(&ds, "QP200");
        assert!(
            e[0].message.contains("rounds down to nothing at a 1 GiB"),
            "{}",
            e[0].message
        );
        assert_eq!(
            e[0].help.as_deref(),
            Some("make nv1 at least 1026M (label plus one 1 GiB unit)")
        );
    }

    #[test]
    fn pc_dimm_sizes_must_be_2m_multiples() {
        let mut p = seed(None);
        p.devices = vec![Dimm::pc_dimm(1, Size::mib(1000))];
        assert!(only(&run(&p), "QP201").is_empty());
        p.devices[0].size = Size::mib(1001);
        let ds = run(&p);
        let e = only(&ds, "QP201");
        assert_eq!(
            e[0].message,
            "dimm1 is 1001M, not a multiple of its 2 MiB alignment"
        );
        assert_eq!(e[0].help.as_deref(), Some("grow dimm1 to 1002M"));
    }

    #[test]
    fn label_size_minimum_and_alignment() {
        let mut p = seed(None);
        p.devices[0].label_size = Size(64 * KIB);
        let ds = run(&p);
        let e = only(&ds, "QP202");
        assert_eq!(
            e[0].message,
            "nv1 has label-size=64K, below QEMU's minimum of 128 KiB"
        );
        assert_eq!(e[0].help.as_deref(), Some("set label-size=2M on nv1"));
        assert!(only(&ds, "QP203").is_empty());
        p.devices[0].label_size = Size(0);
        assert!(only(&run(&p), "QP202").is_empty());

        p.devices[0].label_size = Size(128 * KIB);
        let ds = run(&p);
        let w = only(&ds, "QP203");
        assert_eq!(
            w[0].message,
            "nv1 has label-size=128K, not a multiple of 2 MiB: the pmem ends 1.88 MiB short of a 2 MiB boundary"
        );
        assert_eq!(w[0].help.as_deref(), Some("set label-size=2M on nv1"));
        p.devices[0].label_size = Size::mib(4);
        assert!(only(&run(&p), "QP203").is_empty());
    }

    #[test]
    fn duplicate_and_invalid_ids() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP204").is_empty());
        assert!(only(&run(&p), "QP205").is_empty());
        p.devices[1].id = "nv1".into();
        p.devices[1].memdev = "mem1".into();
        let ds = run(&p);
        let e = only(&ds, "QP204");
        assert_eq!(
            e[0].message,
            "device 2 (the 2nd) has the id 'nv1' of an earlier device"
        );
        assert_eq!(e[0].help.as_deref(), Some("rename device 2 to nv2"));
        let m = only(&ds, "QP205");
        assert_eq!(
            m[0].message,
            "nv1's backend id 'mem1' is already the backend of nv1"
        );
        let mut q = p.clone();
        e[0].fix.as_ref().unwrap().apply(&mut q);
        m[0].fix.as_ref().unwrap().apply(&mut q);
        assert_eq!(
            (q.devices[1].id.as_str(), q.devices[1].memdev.as_str()),
            ("nv2", "mem2")
        );

        let mut p = seed(None);
        p.numa_nodes = 2;
        p.devices[0].memdev = "numa1".into();
        assert!(only(&run(&p), "QP205")[0].message.contains("NUMA node"));

        let mut p = seed(None);
        p.devices[0].id = "1nv".into();
        p.devices[1].memdev = "m,2".into();
        let ds = run(&p);
        let e = only(&ds, "QP206");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message, "device id '1nv' is not an identifier");
        assert!(e[1].message.contains("'m,2'"));
    }

    #[test]
    fn align_must_be_a_power_of_two_and_a_page_multiple() {
        let mut p = seed(Some(Size::mib(3)));
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP207")[0].help.as_deref(),
            Some("set align=4M on nv1")
        );
        assert!(only(&ds, "QP208").is_empty());
        p.devices[0].align = Some(Size(2 * KIB));
        p.devices[1].align = Some(Size(0));
        let ds = run(&p);
        assert_eq!(only(&ds, "QP208").len(), 1);
        assert!(only(&ds, "QP207").is_empty());
        // On hugetlbfs the page is 2 MiB.
        let mut p = seed(Some(Size::mib(1)));
        let mut host = HostFacts::default();
        host.file_page_size.insert("/vms/nvdimm-1".into(), 2 * MIB);
        let ds = run_with(&p, &[], &host, None);
        let e = only(&ds, "QP208");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].help.as_deref(), Some("set align=2M on nv1"));
        p.devices[0].align = Some(Size::mib(128));
        assert!(only(&run_with(&p, &[], &host, None), "QP208").is_empty());
    }

    #[test]
    fn read_only_needs_unarmed() {
        let mut p = seed(None);
        p.devices[0].readonly = true;
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP209")[0].help.as_deref(),
            Some("set unarmed=on on nv1")
        );
        p.devices[0].unarmed = true;
        assert!(only(&run(&p), "QP209").is_empty());
    }

    #[test]
    fn nodes_must_exist() {
        let mut p = seed(None);
        p.devices[0].node = Some(0);
        assert!(only(&run(&p), "QP210").is_empty());
        p.devices[0].node = Some(1);
        assert_eq!(
            only(&run(&p), "QP210")[0].message,
            "nv1 is on node=1, but the machine has 1 NUMA node (0-0)"
        );
        p.numa_nodes = 2;
        assert!(only(&run(&p), "QP210").is_empty());
    }

    #[test]
    fn settings_a_kind_lacks_are_named_and_fixed_away() {
        let mut p = seed(None);
        let mut vp = Dimm::virtio_pmem(3, "/vms/vp3".into(), Size::gib(1));
        vp.label_size = Size::mib(2);
        vp.node = Some(0);
        let mut pc = Dimm::pc_dimm(4, Size::gib(1));
        pc.block_size = Some(Size::mib(4));
        p.devices.extend([vp, pc]);
        let ds = run(&p);
        let w: Vec<&str> = only(&ds, "QP211")
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            w,
            [
                "vpmem3 sets label-size=2M, but virtio-pmem-pci has no label-size property: it is left out of the command line",
                "vpmem3 sets node=0, but virtio-pmem-pci has no node property: it is left out of the command line",
                "dimm4 sets block-size=4M, but pc-dimm has no block-size property: it is left out of the command line",
            ]
        );
        // The NVDIMMs' labels are their own.
        assert!(only(&ds, "QP211")
            .iter()
            .all(|d| d.device.as_deref() != Some("nv1")));
        let mut fixed = p.clone();
        for d in only(&ds, "QP211") {
            for e in &d.fix.as_ref().unwrap().edits {
                assert!(e.apply(&mut fixed));
            }
        }
        assert!(only(&run(&fixed), "QP211").is_empty());
        assert_eq!(fixed.devices[2].label_size, Size(0));
        assert_eq!(fixed.devices[2].node, None);
        assert_eq!(fixed.devices[3].block_size, None);
    }

    #[test]
    fn virtio_mem_block_and_requested_sizes() {
        let mut p = seed(None);
        let mut vm = Dimm::virtio_mem(3, Size::gib(1));
        vm.block_size = Some(Size::mib(3));
        p.devices.push(vm);
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP212")[0].message,
            "vmem3 has block-size=3M, not a power of two"
        );
        p.devices[2].block_size = Some(Size(512 * KIB));
        assert_eq!(
            only(&run(&p), "QP212")[0].help.as_deref(),
            Some("set block-size=1M on vmem3")
        );
        p.devices[2].block_size = None;
        assert!(only(&run(&p), "QP212").is_empty());

        // The default block, 2 MiB: 3M is refused, 4M is fine.
        p.devices[2].requested_size = Some(Size::mib(3));
        let ds = run(&p);
        let e = only(&ds, "QP213");
        assert_eq!(
            e[0].message,
            "vmem3 has requested-size=3M, not a multiple of its 2M blocks"
        );
        assert_eq!(e[0].help.as_deref(), Some("set requested-size=4M on vmem3"));
        p.devices[2].requested_size = Some(Size::mib(4));
        assert!(only(&run(&p), "QP213").is_empty());
        p.devices[2].block_size = Some(Size::mib(8));
        assert!(!only(&run(&p), "QP213").is_empty(), "4M of 8M blocks");

        p.devices[2].block_size = None;
        p.devices[2].requested_size = Some(Size::gib(2));
        let ds = run(&p);
        let w = only(&ds, "QP214");
        assert_eq!(
            w[0].message,
            "vmem3 asks the guest to plug requested-size=2G of a 1G backend"
        );
        assert_eq!(w[0].help.as_deref(), Some("set requested-size=1G on vmem3"));
        p.devices[2].requested_size = Some(Size::gib(1));
        assert!(only(&run(&p), "QP214").is_empty());
    }
}
