//! Rules about where devices land: QEMU's placement failures
//! ([`PlaceError`], each an error), Linux memory sections, and the file
//! bytes an alignment hides.

use super::{Applicability, Basis, Context, Edit, Finding, Fix, Rule, Severity};
use crate::core::facts::Entry;
use crate::core::layout::{past_section, visible_size, DeviceLayout, PlaceError, Placement};
use crate::core::profile::{Auto, Backend, Dimm};
use crate::core::qemu::caps::Feature;
use crate::core::size::{align_up, format_human, format_qemu, Size, GIB};

/// The guest-kernel nuance every section finding carries.
const SECTION_NUANCE: &str = "Linux 5.3+ guests cope with 2 MiB alignment for pmem; \
older kernels and memory hotplug need whole sections";

pub static SECTION_MISALIGNED: Rule = Rule {
    code: "QP100",
    name: "section-misaligned",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A DIMM that starts or ends off a Linux memory section (128 MiB on x86_64; on \
arm64 128 MiB with 4K and 16K pages, 512 MiB with 64K pages: the profile's \
guest_page_size). \
Linux 5.3+ (sub-section hotplug) copes down to 2 MiB for pmem, but older kernels, \
memory hotplug next to pmem and hotplug memory blocks want whole sections. Setting \
align= of the section size on the backends puts every DIMM on a section boundary.",
    check: check_section,
};

fn check_section(ctx: &Context) -> Vec<Finding> {
    let Some(layout) = ctx.layout else {
        return Vec::new();
    };
    let section = layout.section_size;
    // Not on a QEMU without align=.
    let can_align = ctx
        .qemu_version()
        .is_none_or(|v| Feature::Align.in_version(v));
    // A device without labels shows its whole backend, which QEMU then
    // wants a multiple of the new align (virtio-pmem): only then is
    // align= a fix.
    let alignable = |d: &Dimm| {
        can_align
            && d.backend.path().is_some()
            && d.align.is_none_or(|a| a.0 < section)
            && (d.kind.spec().has_labels() || d.size.0 % section == 0)
    };
    // In address order, so each device's neighbour below is at hand.
    let mut placed: Vec<(usize, &Dimm, &Placement)> = ctx
        .laid_out()
        .enumerate()
        .filter_map(|(n, (d, l))| l.placement().map(|p| (n, d, p)))
        .collect();
    placed.sort_by_key(|(_, _, p)| p.addr);
    let mut out: Vec<(usize, Finding)> = Vec::new();
    for (i, &(n, d, p)) in placed.iter().enumerate() {
        if p.start_aligned && p.end_aligned {
            continue;
        }
        // Aligning the device puts both its edges on sections; aligning
        // the one ending off a section just below it closes the gap too.
        let below = i.checked_sub(1).map(|j| placed[j]).filter(|(_, b, bp)| {
            !p.start_aligned && !bp.end_aligned && bp.end() <= p.addr && alignable(b)
        });
        let to_align: Vec<&str> = below
            .map(|(_, b, _)| b.id.as_str())
            .into_iter()
            .chain(alignable(d).then_some(d.id.as_str()))
            .collect();
        let message = describe(&d.id, p, section);
        if !alignable(d) {
            out.push((
                n,
                Finding::about(
                    Some(&d.id),
                    message,
                    Some(format!(
                        "give {} an addr= on a {} boundary ({:#x}); {SECTION_NUANCE}",
                        d.id,
                        format_human(section),
                        align_up(p.addr, section).unwrap_or(p.addr)
                    )),
                ),
            ));
            continue;
        }
        let fix = Fix {
            summary: format!(
                "set align={} on {}",
                format_qemu(section),
                to_align.join(", ")
            ),
            edits: to_align
                .iter()
                .map(|id| Edit::SetAlign {
                    device: id.to_string(),
                    align: Some(Size(section)),
                })
                .collect(),
            applicability: Applicability::MachineApplicable,
        };
        out.push((
            n,
            Finding::fixed(Some(&d.id), message, fix, Some(SECTION_NUANCE)),
        ));
    }
    // Back to command-line order.
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, f)| f).collect()
}

fn describe(id: &str, p: &Placement, section: u64) -> String {
    if !p.start_aligned {
        format!(
            "{id} starts at {:#x}, {} past a {} section boundary",
            p.addr,
            format_human(past_section(p.addr, section)),
            format_human(section)
        )
    } else {
        format!(
            "{id} ends at {:#x}, {} past a {} section boundary",
            p.end(),
            format_human(past_section(p.end(), section)),
            format_human(section)
        )
    }
}

pub static ALIGN_WASTE: Rule = Rule {
    code: "QP101",
    name: "align-waste",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "QEMU gives the guest ALIGN_DOWN(size - label-size, align) bytes of an NVDIMM: \
the rest of the file between the visible pmem and the label is never seen. The classic \
recipe (17G, label-size=2M, align=128M) shows 16.88 GiB and hides 126 MiB of each file. \
Growing the backend by the difference makes the guest see whole units; for a file that \
already exists that would move its label area, so no automatic fix is offered then.",
    check: align_waste,
};

fn align_waste(ctx: &Context) -> Vec<Finding> {
    ctx.laid_out()
        .filter_map(|(dimm, d)| d.placement().map(|p| (dimm, d, p)))
        .filter(|(_, _, p)| p.unused_tail > 0)
        .filter_map(|(dimm, d, p)| {
            let cause = match dimm.align {
                Some(a) if a.0 == p.align => format!("align={}", format_qemu(a.0)),
                _ => format!("the {} page size", format_human(p.align)),
            };
            let message = format!(
                "{cause} hides {} of {}'s {} backend: the guest sees {}",
                format_human(p.unused_tail),
                d.id,
                format_human(d.backend_size),
                format_human(p.size)
            );
            let grown = align_up(p.label_offset, p.align)?.checked_add(d.label_size)?;
            let target = grown - d.label_size;
            let exists = dimm
                .backend
                .path()
                .and_then(|path| ctx.host.files.get(path))
                .is_some_and(|f| !matches!(f.entry, Entry::Missing { .. }));
            let summary = format!(
                "grow {} to {} so the guest sees exactly {}",
                d.id,
                format_qemu(grown),
                format_human(target)
            );
            Some(if exists {
                Finding::about(
                    Some(&d.id),
                    message,
                    Some(format!(
                        "the file exists, and a new size moves its label area: keep it, \
or make a new file and {summary}"
                    )),
                )
            } else {
                Finding::fixed(
                    Some(&d.id),
                    message,
                    Fix::one(
                        summary,
                        Edit::SetSize {
                            device: d.id.clone(),
                            size: Size(grown),
                        },
                    ),
                    None,
                )
            })
        })
        .collect()
}

/// The devices QEMU would refuse to place, with why.
fn refused<'a>(ctx: &Context<'a>) -> impl Iterator<Item = (&'a DeviceLayout, &'a PlaceError)> {
    ctx.layout
        .into_iter()
        .flat_map(|l| l.devices.iter())
        .filter_map(|d| d.result.as_ref().err().map(|e| (d, e)))
}

fn clear_addr(id: &str) -> Fix {
    Fix::one(
        format!("remove addr= from {id} (QEMU then places it first-fit)"),
        Edit::SetAddr {
            device: id.to_string(),
            addr: None,
        },
    )
}

fn clear_slot(id: &str) -> Fix {
    Fix::one(
        format!("remove slot= from {id} (QEMU then takes the lowest free slot)"),
        Edit::SetSlot {
            device: id.to_string(),
            slot: None,
        },
    )
}

pub static NO_DEVICE_MEMORY: Rule = Rule {
    code: "QP110",
    name: "no-device-memory",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The machine has no device memory region (maxmem not above RAM, no slots), so \
QEMU cannot plug any memory device.",
    check: no_device_memory,
};

fn no_device_memory(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let (ram, maxmem, slots) = (p.ram.0, p.effective_maxmem(), p.effective_slots());
    // QP010 and QP011 already say it for the whole machine.
    if maxmem < ram || (slots > 0 && maxmem == ram) {
        return Vec::new();
    }
    let already_auto = p.slots == Auto::Auto && p.maxmem == Auto::Auto;
    refused(ctx)
        .filter(|(_, e)| matches!(e, PlaceError::NoDeviceMemory))
        .map(|(d, _)| {
            let message = format!(
                "{} cannot be plugged: with maxmem={} and slots={slots} the machine has no device memory",
                d.id,
                format_qemu(maxmem)
            );
            if already_auto {
                return Finding::about(Some(&d.id), message, None);
            }
            Finding::fixed(
                Some(&d.id),
                message,
                Fix {
                    summary: "let qpmem pick slots and maxmem".into(),
                    edits: vec![
                        Edit::SetSlots { slots: Auto::Auto },
                        Edit::SetMaxmem { maxmem: Auto::Auto },
                    ],
                    applicability: Applicability::MachineApplicable,
                },
                None,
            )
        })
        .collect()
}

pub static NO_FREE_SLOT: Rule = Rule {
    code: "QP111",
    name: "no-free-slot",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Every memory device takes a slot, and slots= has too few. QEMU refuses: \"no \
free slots left\" (or, with slots=0, \"no slots where allocated, please specify the 'slots' \
option\").",
    check: no_free_slot,
};

fn no_free_slot(ctx: &Context) -> Vec<Finding> {
    let n = ctx.profile.devices.len();
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::NoFreeSlot { slots } => Some((d, *slots)),
            _ => None,
        })
        .map(|(d, slots)| {
            let message = if slots == 0 {
                format!("{} has no slot: slots=0", d.id)
            } else {
                format!(
                    "{} has no free slot: slots={slots} are all taken by the devices before it",
                    d.id
                )
            };
            let want = u32::try_from(n)
                .unwrap_or(u32::MAX)
                .max(slots.saturating_add(1));
            Finding::fixed(
                Some(&d.id),
                message,
                Fix::one(
                    format!("set slots={want}"),
                    Edit::SetSlots {
                        slots: Auto::Fixed(want),
                    },
                ),
                None,
            )
        })
        .collect()
}

pub static INVALID_SLOT: Rule = Rule {
    code: "QP112",
    name: "invalid-slot",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A device's slot= is not below slots=. QEMU refuses: \"invalid slot number, valid \
range is [0-N]\".",
    check: invalid_slot,
};

fn invalid_slot(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::InvalidSlot { slot, max } => Some(Finding::fixed(
                Some(&d.id),
                match ctx.profile.effective_slots() {
                    0 => format!("{} asks for slot={slot}, but slots=0 gives no slots", d.id),
                    n => format!(
                        "{} asks for slot={slot}, but slots={n} numbers them 0-{max}",
                        d.id
                    ),
                },
                clear_slot(&d.id),
                None,
            )),
            _ => None,
        })
        .collect()
}

pub static SLOT_BUSY: Rule = Rule {
    code: "QP113",
    name: "slot-busy",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Two devices ask for the same slot=, or a device asks for one an earlier device \
took. QEMU refuses: \"slot N is busy\".",
    check: slot_busy,
};

fn slot_busy(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::SlotBusy { slot } => {
                let owner = ctx
                    .layout
                    .into_iter()
                    .flat_map(|l| l.placements())
                    .find(|(_, p)| p.slot == Some(*slot))
                    .map(|(o, _)| format!(", already taken by {}", o.id))
                    .unwrap_or_default();
                Some(Finding::fixed(
                    Some(&d.id),
                    format!("{} asks for slot={slot}{owner}", d.id),
                    clear_slot(&d.id),
                    None,
                ))
            }
            _ => None,
        })
        .collect()
}

pub static NOT_ENOUGH_SPACE: Rule = Rule {
    code: "QP114",
    name: "not-enough-space",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The devices' visible sizes add up to more than maxmem - RAM. QEMU refuses: \"not \
enough space, currently 0x.. in use of total space for memory devices 0x..\".",
    check: not_enough_space,
};

fn not_enough_space(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let mut findings: Vec<Finding> = Vec::new();
    for (d, e) in refused(ctx) {
        let PlaceError::NotEnoughSpace { used, total } = e else {
            continue;
        };
        let need = ctx
            .device(&d.id)
            .and_then(|x| {
                let a = crate::core::layout::effective_align(x, ctx.host);
                visible_size(x, a).ok()
            })
            .unwrap_or(d.backend_size);
        // Room for every device that has a size QEMU accepts.
        let all: u64 = p
            .devices
            .iter()
            .filter_map(|x| visible_size(x, crate::core::layout::effective_align(x, ctx.host)).ok())
            .fold(0u64, u64::saturating_add);
        let message = format!(
            "{} needs {} but maxmem={} leaves {} for devices above the {} of RAM, {} of it already used",
            d.id,
            format_human(need),
            format_qemu(p.effective_maxmem()),
            format_human(*total),
            format_human(p.ram.0),
            format_human(*used)
        );
        let wanted = p
            .ram
            .0
            .checked_add(all)
            .and_then(|m| align_up(m, GIB))
            .filter(|m| *m > p.effective_maxmem());
        findings.push(match wanted {
            Some(wanted) => Finding::fixed(
                Some(&d.id),
                message,
                Fix::one(
                    format!("raise maxmem to {}", format_qemu(wanted)),
                    Edit::SetMaxmem {
                        maxmem: Auto::Fixed(Size(wanted)),
                    },
                ),
                None,
            ),
            None => Finding::about(Some(&d.id), message, Some("use smaller devices".into())),
        });
    }
    findings
}

pub static ADDR_MISALIGNED: Rule = Rule {
    code: "QP115",
    name: "addr-misaligned",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "An explicit addr= that is not a multiple of the device's alignment (align=, or \
the backing page size). QEMU refuses: \"address must be aligned to 0x.. bytes\".",
    check: addr_misaligned,
};

fn addr_misaligned(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::AddrNotAligned { addr, align } => {
                let next = align_up(*addr, *align).unwrap_or(*addr);
                Some(Finding::fixed(
                    Some(&d.id),
                    format!(
                        "{} has addr={addr:#x}, {} past a {} boundary it must sit on",
                        d.id,
                        format_human(addr % align),
                        format_human(*align)
                    ),
                    clear_addr(&d.id),
                    Some(&format!("or set addr={next:#x}")),
                ))
            }
            _ => None,
        })
        .collect()
}

pub static ADDR_OUTSIDE: Rule = Rule {
    code: "QP116",
    name: "addr-outside",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "An explicit addr= puts the device (partly) outside the device memory region. QEMU \
refuses: \"can't add memory device [..], usable range for memory devices [..]\".",
    check: addr_outside,
};

fn addr_outside(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::AddrOutside {
                addr,
                size,
                base,
                region_size,
            } => Some(Finding::fixed(
                Some(&d.id),
                format!(
                    "{} at addr={addr:#x} ({}) does not lie inside the device memory region {base:#x}-{:#x}",
                    d.id,
                    format_human(*size),
                    base.saturating_add(*region_size).saturating_sub(1)
                ),
                clear_addr(&d.id),
                None,
            )),
            _ => None,
        })
        .collect()
}

pub static ADDR_CONFLICT: Rule = Rule {
    code: "QP117",
    name: "addr-conflict",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "An explicit addr= overlaps a device placed before it. QEMU refuses: \"address \
range conflicts with memory device id='..'\".",
    check: addr_conflict,
};

fn addr_conflict(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter_map(|(d, e)| match e {
            PlaceError::AddrConflict { other } => {
                let addr = ctx
                    .device(&d.id)
                    .and_then(|x| x.addr)
                    .map(|a| a.0)
                    .unwrap_or(0);
                let range = ctx
                    .layout
                    .into_iter()
                    .flat_map(|l| l.placements())
                    .find(|(o, _)| &o.id == other)
                    .map(|(_, p)| format!(" ({:#x}-{:#x})", p.addr, p.end().saturating_sub(1)))
                    .unwrap_or_default();
                Some(Finding::fixed(
                    Some(&d.id),
                    format!("{} at addr={addr:#x} overlaps {other}{range}", d.id),
                    clear_addr(&d.id),
                    None,
                ))
            }
            _ => None,
        })
        .collect()
}

pub static FRAGMENTED: Rule = Rule {
    code: "QP118",
    name: "region-fragmented",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The sizes fit in maxmem - RAM, but the gaps alignment leaves (and explicit \
addresses) leave no hole big enough in the device memory region. QEMU refuses: \"could \
not find position in guest address space for memory device - memory fragmented due to \
alignments\".",
    check: fragmented,
};

fn fragmented(ctx: &Context) -> Vec<Finding> {
    refused(ctx)
        .filter(|(_, e)| matches!(e, PlaceError::Fragmented))
        .map(|(d, _)| {
            let region = ctx
                .layout
                .and_then(|l| l.device_memory)
                .map(|r| format!(" {:#x}-{:#x}", r.base, r.end().saturating_sub(1)))
                .unwrap_or_default();
            let file = ctx
                .device(&d.id)
                .is_some_and(|x| matches!(x.backend, Backend::File(_)));
            Finding::about(
                Some(&d.id),
                format!(
                    "{} finds no aligned hole of {} in the device memory region{region}",
                    d.id,
                    format_human(d.backend_size)
                ),
                Some(if file {
                    "add slots (each adds 1 GiB to the region), lower align=, or remove addr= hints"
                        .into()
                } else {
                    "add slots (each adds 1 GiB to the region) or remove addr= hints".into()
                }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::facts::FileFacts;
    use crate::core::facts::HostFacts;
    use crate::core::profile::{Addr, Dimm};
    use crate::core::size::MIB;

    #[test]
    fn seed_without_align_warns_about_nv2_with_the_nuance() {
        let ds = run(&seed(None));
        let all = only(&ds, "QP100");
        // nv1 ends where nv2 starts: both edges miss.
        assert_eq!(all.len(), 2, "{ds:#?}");
        assert!(all[0].message.starts_with("nv1 ends at 0x53fe00000"));
        let s = &all[1..];
        assert_eq!(s[0].device.as_deref(), Some("nv2"));
        assert_eq!(
            s[0].message,
            "nv2 starts at 0x53fe00000, 126 MiB past a 128 MiB section boundary"
        );
        let help = s[0].help.as_deref().unwrap();
        assert!(help.starts_with("set align=128M on nv1, nv2"), "{help}");
        assert!(
            help.contains("Linux 5.3+") && help.contains("hotplug"),
            "{help}"
        );
        let mut p = seed(None);
        assert!(s[0].fix.as_ref().unwrap().apply(&mut p));
        assert!(only(&run(&p), "QP100").is_empty());
    }

    #[test]
    fn no_align_fix_on_a_qemu_without_align() {
        let old = Some(crate::core::qemu::QemuVersion::new(2, 11, 0));
        let ds = run_with(&seed(None), &[], &HostFacts::default(), old);
        let s = only(&ds, "QP100");
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|d| d.fix.is_none()));
        assert!(s[1]
            .help
            .as_deref()
            .unwrap()
            .starts_with("give nv2 an addr= on a 128 MiB boundary (0x540000000)"));
    }

    #[test]
    fn seed_with_align_is_on_sections() {
        assert!(only(&run(&seed(Some(Size::mib(128)))), "QP100").is_empty());
    }

    #[test]
    fn virtio_pmem_off_sections_gets_align_only_when_its_size_allows() {
        let mut p = seed(None);
        p.devices = vec![
            Dimm::virtio_pmem(1, "/vms/vp1".into(), Size::mib(130)),
            Dimm::virtio_pmem(2, "/vms/vp2".into(), Size::mib(256)),
        ];
        let ds = run(&p);
        let s = only(&ds, "QP100");
        // vp1 ends off a section; align=128M would make QEMU refuse its
        // 130M (not a multiple), so no align fix names it.
        assert!(s.iter().all(|d| d
            .fix
            .as_ref()
            .is_none_or(|f| !format!("{f:?}").contains("vpmem1"))));
        assert!(!s.is_empty(), "{ds:#?}");
    }

    #[test]
    fn ram_dimms_get_an_address_hint_instead() {
        let mut p = seed(None);
        p.devices = vec![
            Dimm::pc_dimm(1, Size::mib(130)),
            Dimm::pc_dimm(2, Size::mib(128)),
        ];
        let ds = run(&p);
        let s = only(&ds, "QP100");
        assert_eq!(s.len(), 2);
        assert!(
            s[0].message.starts_with("dimm1 ends at 0x108200000"),
            "{}",
            s[0].message
        );
        assert!(s[1].fix.is_none());
        assert!(s[1].help.as_deref().unwrap().contains("0x110000000"));
    }

    #[test]
    fn align_waste_offers_to_grow_the_seed_to_17410m() {
        let ds = run(&seed(Some(Size::mib(128))));
        let w = only(&ds, "QP101");
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0].message,
            "align=128M hides 126 MiB of nv1's 17 GiB backend: the guest sees 16.88 GiB"
        );
        assert_eq!(
            w[0].help.as_deref(),
            Some("grow nv1 to 17410M so the guest sees exactly 17 GiB")
        );
        let mut p = seed(Some(Size::mib(128)));
        assert!(w[0].fix.as_ref().unwrap().apply(&mut p));
        assert_eq!(p.devices[0].size, Size::mib(17410));
        // Without align nothing is hidden.
        assert!(only(&run(&seed(None)), "QP101").is_empty());
    }

    #[test]
    fn align_waste_on_an_existing_file_has_no_fix() {
        let p = seed(Some(Size::mib(128)));
        let mut host = HostFacts::default();
        host.files.insert(
            "/vms/nvdimm-1".into(),
            FileFacts {
                entry: Entry::File {
                    size: 17 << 30,
                    allocated: 0,
                },
                fs: None,
                open_by: Vec::new(),
                label_area: Default::default(),
            },
        );
        let ds = run_with(&p, &[], &host, None);
        let w = only(&ds, "QP101");
        assert!(w[0].fix.is_none());
        assert!(w[0].help.as_deref().unwrap().contains("label area"));
        assert!(w[1].fix.is_some());
    }

    #[test]
    fn placement_failures_each_become_an_error() {
        // no device memory: slots=0 and maxmem=RAM
        let mut p = seed(None);
        p.slots = Auto::Fixed(0);
        p.maxmem = Auto::Fixed(Size::mib(512));
        assert_eq!(only(&run(&p), "QP110").len(), 2);
        assert!(only(&run(&seed(None)), "QP110").is_empty());

        // too few slots
        let mut p = seed(None);
        p.slots = Auto::Fixed(1);
        let ds = run(&p);
        let e = only(&ds, "QP111");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].device.as_deref(), Some("nv2"));
        assert_eq!(e[0].help.as_deref(), Some("set slots=2"));
        p.slots = Auto::Fixed(0);
        assert_eq!(
            only(&run(&p), "QP111")[0].message,
            "nv1 has no slot: slots=0"
        );

        // slot out of range, slot busy
        let mut p = seed(None);
        p.devices[0].slot = Some(2);
        assert!(only(&run(&p), "QP112")[0]
            .message
            .contains("numbers them 0-1"));
        p.devices[0].slot = Some(1);
        p.devices[1].slot = Some(1);
        let ds = run(&p);
        assert_eq!(
            only(&ds, "QP113")[0].message,
            "nv2 asks for slot=1, already taken by nv1"
        );

        // maxmem too small
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size::gib(20));
        let ds = run(&p);
        let e = only(&ds, "QP114");
        assert_eq!(e[0].device.as_deref(), Some("nv2"));
        assert_eq!(e[0].help.as_deref(), Some("raise maxmem to 35G"));
        let mut q = p.clone();
        e[0].fix.as_ref().unwrap().apply(&mut q);
        assert!(only(&run(&q), "QP114").is_empty());

        // explicit addresses
        let mut p = seed(Some(Size::mib(128)));
        p.devices[0].addr = Some(Addr(0x1_0000_0000 + MIB));
        let ds = run(&p);
        let e = only(&ds, "QP115");
        assert!(e[0]
            .help
            .as_deref()
            .unwrap()
            .contains("or set addr=0x108000000"));
        p.devices[0].addr = Some(Addr(0x80_0000_0000));
        assert_eq!(only(&run(&p), "QP116").len(), 1);
        p.devices[0].addr = None;
        p.devices[1].addr = Some(Addr(0x1_0000_0000));
        let ds = run(&p);
        assert!(only(&ds, "QP117")[0]
            .message
            .contains("overlaps nv1 (0x100000000-"));
        for code in [
            "QP112", "QP113", "QP114", "QP115", "QP116", "QP117", "QP118",
        ] {
            assert!(only(&run(&seed(None)), code).is_empty(), "{code}");
        }
    }

    #[test]
    fn fragmentation() {
        // Region [4G, 11G): nv1 (1 GiB) at 4.5G pushes the 4 GiB-aligned
        // nv2 to 8G, past the end, though 5 GiB of devices fit in maxmem.
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size::mib(512 + 5 * 1024));
        for (d, gib) in p.devices.iter_mut().zip([1, 4]) {
            d.size = Size::gib(gib);
            d.label_size = Size(0);
        }
        p.devices[0].addr = Some(Addr(0x1_2000_0000));
        assert!(only(&run(&p), "QP118").is_empty());
        p.devices[1].align = Some(Size::gib(4));
        let ds = run(&p);
        let e = only(&ds, "QP118");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert_eq!(e[0].device.as_deref(), Some("nv2"));
        assert!(
            e[0].message.contains("0x100000000-0x2bfffffff"),
            "{}",
            e[0].message
        );
    }
}
