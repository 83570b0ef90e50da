//! CXL rules: what QEMU refuses in a CXL topology and what leaves the
//! guest unable to make a region. Each refusal was reproduced with
//! Debian's QEMU 7.2 under `-S`, its message quoted; the sources are
//! hw/cxl/cxl-host.c (windows), hw/mem/cxl_type3.c (type-3 devices),
//! hw/pci-bridge/pci_expander_bridge.c (host bridges), hw/i386/pc.c
//! (placement).

use super::machine::{has_cpu, AMD_HT_START, DEFAULT_PHYS_BITS};
use super::{Basis, Context, Finding, Rule, Severity};
use crate::core::cmdline::ImportNoteKind;
use crate::core::cxl::{
    granularity_supported, ways_supported, Cxl, HostBridge, CXL_GRANULE, SIXTEEN_WAY_WINDOWS,
    SPLIT_MEMDEV,
};
use crate::core::profile::MachineFamily;
use crate::core::qemu::caps::{machine_version, AMD_1TB_HOLE_MACHINES, PHYS_BITS_CHECK};
use crate::core::size::{format_human, format_qemu};
use std::collections::BTreeMap;

pub static CXL_NOT_ENABLED: Rule = Rule {
    code: "QP800",
    name: "cxl-not-enabled",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted line has CXL host bridges (-device pxb-cxl) but no cxl=on on -machine. \
QEMU refuses it: \"CXL host bridges present, but cxl=off\" (QEMU 7.2). `qpmem render` writes \
cxl=on for a profile with CXL.",
    check: cxl_not_enabled,
};

pub static CXL_MACHINE: Rule = Rule {
    code: "QP801",
    name: "cxl-machine",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "CXL host bridges need q35 (pc-q35-*): pxb-cxl sits on the PCI Express root bus \
pcie.0, which i440FX (pc) does not have (QEMU 7.2: \"Bus 'pcie.0' not found\"). arm64 virt \
has CXL only from QEMU 10.1, and qpmem does not model it.",
    check: cxl_machine,
};

pub static WINDOW_SIZE: Rule = Rule {
    code: "QP802",
    name: "cxl-window-size",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A CXL fixed memory window's size must be a multiple of 256 MiB. QEMU refuses \
others: \"Size of a CXL fixed memory window must my a multiple of 256MiB\" \
(hw/cxl/cxl-host.c, QEMU 7.2).",
    check: window_size,
};

pub static WINDOW_TARGET: Rule = Rule {
    code: "QP803",
    name: "cxl-window-target",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Every target of a CXL fixed memory window must be the id of a CXL host bridge \
(pxb-cxl). QEMU refuses anything else, a root port's id included: \"Could not resolve \
CXLFM target ID\" (QEMU 7.2).",
    check: window_target,
};

pub static INTERLEAVE_WAYS: Rule = Rule {
    code: "QP804",
    name: "cxl-interleave-ways",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A window interleaves over its targets: 1, 2, 4, 8 or 16 of them, or 3, 6 or 12 \
(cxl_interleave_ways_enc). QEMU refuses other counts: \"Interleave ways: 5 not supported\". \
QEMU before 8.2 keeps at most 8 targets per window and crashes (segmentation fault, \
measured on 7.2) with 12 or 16.",
    check: interleave_ways,
};

pub static GRANULARITY: Rule = Rule {
    code: "QP805",
    name: "cxl-interleave-granularity",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A window's interleave-granularity must be a power of two from 256 bytes to 16 \
KiB (cxl_interleave_granularity_enc). QEMU refuses others: \"Interleave granularity: 128 \
invalid\" (QEMU 7.2; 128, 300 and 32K measured).",
    check: granularity,
};

pub static BUS_NR: Rule = Rule {
    code: "QP806",
    name: "cxl-bus-nr-in-use",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Two CXL host bridges with the same bus_nr: QEMU refuses the second, \"Bus 12 is \
already in use\" (QEMU 7.2).",
    check: bus_nr,
};

pub static BUS_RANGE: Rule = Rule {
    code: "QP807",
    name: "cxl-bus-range-overlap",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "Each CXL host bridge numbers the buses below it from its bus_nr: one for the \
bridge, one per root port, and per switch one for its upstream port and one per downstream \
port. When that range reaches the next bridge's bus_nr, QEMU starts (it does not check), \
but the guest's firmware cannot number the buses and devices below go missing. Leave \
room between bus_nr values.",
    check: bus_range,
};

pub static CHASSIS_SLOT: Rule = Rule {
    code: "QP808",
    name: "cxl-chassis-slot-in-use",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Every root port and downstream port (like every PCI Express slot of the machine) \
needs its own (chassis, slot) pair. QEMU refuses a second port on the same pair, across \
host bridges and switches: \"Can't add chassis slot, error -16\" (QEMU 7.2).",
    check: chassis_slot,
};

pub static TYPE3_MEMORY: Rule = Rule {
    code: "QP809",
    name: "cxl-type3-memory",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A cxl-type3 device needs memory: a persistent backend (memdev=, \
persistent-memdev= from QEMU 8.0) or, from 8.0, a volatile one (volatile-memdev=). \
QEMU 7.2 refuses a device without: \"memdev property must be set\"; QEMU before 8.0 \
has no volatile-memdev (\"Property 'cxl-type3.volatile-memdev' not found\").",
    check: type3_memory,
};

pub static LSA_MISSING: Rule = Rule {
    code: "QP810",
    name: "cxl-lsa-missing",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A persistent cxl-type3 device needs a label storage area (lsa=, a memory \
backend): Linux keeps the region and namespace labels there. QEMU 7.2 refuses any type-3 \
device without one (\"lsa property must be set\"); from 8.0 only a persistent one.",
    check: lsa_missing,
};

pub static BACKEND_SIZE: Rule = Rule {
    code: "QP811",
    name: "cxl-backend-size",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A type-3 device's capacity is decoded in 256 MiB units: QEMU 7.2 accepts a \
backend of another size, but the guest can map only whole 256 MiB multiples of it (a \
300M backend gives a 256 MiB region); smaller than 256 MiB, nothing.",
    check: backend_size,
};

pub static WINDOW_TOO_SMALL: Rule = Rule {
    code: "QP812",
    name: "cxl-window-too-small",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A region in the guest (`cxl create-region -d decoderN.M -w WAYS`) takes one \
device below each of the window's targets and interleaves them: it needs the window to \
hold WAYS times the devices' capacity, and a device below every target. A window smaller \
than that, or one over a host bridge with no type-3 device below, lets QEMU start, but \
`cxl create-region` fails (or maps only part of the devices).",
    check: window_too_small,
};

pub static PHYS_BITS: Rule = Rule {
    code: "QP813",
    name: "cxl-phys-bits-too-low",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The CXL windows sit above the device memory region, and the 64-bit PCI hole \
(32 GiB on q35) above them. The default CPU (qemu64) reaches 1 TiB with its 40 physical \
address bits; with machine types 7.1+ and its AMD vendor QEMU moves memory above 1 TiB once \
the highest address reaches the HyperTransport hole at 0xfd00000000, and so refuses from \
there: \"Address space limit 0xffffffffff < 0x20bbfffffff phys-bits too low (40)\" \
(QEMU 7.2, a 1T window; 900G starts). QEMU 10.1 skips windows that do not fit instead; \
qpmem does not model that. Not checked when -cpu is given.",
    check: phys_bits,
};

pub static DUPLICATE_ID: Rule = Rule {
    code: "QP814",
    name: "cxl-duplicate-id",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Every CXL device and backend needs an id of its own, also apart from the DIMMs \
and their backends. QEMU refuses a second: \"Duplicate ID 'cxl.1' for device\" (QEMU 7.2).",
    check: duplicate_id,
};

fn cxl<'a>(ctx: &Context<'a>) -> Option<&'a Cxl> {
    ctx.profile.cxl.as_ref()
}

fn cxl_not_enabled(ctx: &Context) -> Vec<Finding> {
    ctx.import_notes
        .iter()
        .filter(|n| n.kind == ImportNoteKind::MissingCxlOn)
        .map(|_| {
            Finding::about(
                None,
                "the pasted -machine has no cxl=on: QEMU refuses CXL host bridges without it \
(\"CXL host bridges present, but cxl=off\")"
                    .into(),
                Some("add cxl=on to -machine, as `qpmem render` does".into()),
            )
        })
        .collect()
}

fn cxl_machine(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let q35 = ctx.profile.machine_family() == Some(MachineFamily::Q35);
    if q35 || c.host_bridges.is_empty() {
        return Vec::new();
    }
    vec![Finding::about(
        c.host_bridges.first().map(|h| h.id.as_str()),
        format!(
            "CXL host bridges need the q35 machine, not {}: pxb-cxl sits on pcie.0 \
(QEMU: \"Bus 'pcie.0' not found\")",
            ctx.profile.machine
        ),
        Some("set machine to q35".into()),
    )]
}

fn window_size(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    c.windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.size.0 % CXL_GRANULE != 0)
        .map(|(n, w)| {
            let up = w.size.0.div_ceil(CXL_GRANULE).saturating_mul(CXL_GRANULE);
            Finding::about(
                None,
                format!(
                    "CXL window {n}: size {} is not a multiple of 256 MiB (QEMU: \"Size of a \
CXL fixed memory window must my a multiple of 256MiB\")",
                    format_qemu(w.size.0)
                ),
                Some(format!("make it {}", format_qemu(up))),
            )
        })
        .collect()
}

fn window_target(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut out = Vec::new();
    for (n, w) in c.windows.iter().enumerate() {
        for t in &w.targets {
            if c.host_bridge(t).is_none() {
                let known: Vec<&str> = c.host_bridges.iter().map(|h| h.id.as_str()).collect();
                out.push(Finding::about(
                    None,
                    format!(
                        "CXL window {n}: target '{t}' is not a CXL host bridge (QEMU: \"Could \
not resolve CXLFM target {t}\")"
                    ),
                    Some(if known.is_empty() {
                        "add a pxb-cxl host bridge with that id".into()
                    } else {
                        format!("target one of the host bridges: {}", known.join(", "))
                    }),
                ));
            }
        }
    }
    out
}

fn interleave_ways(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let old = ctx.qemu_version().is_none_or(|v| v < SIXTEEN_WAY_WINDOWS);
    let mut out = Vec::new();
    for (n, w) in c.windows.iter().enumerate() {
        let ways = w.targets.len();
        if ways == 0 {
            continue;
        }
        if !ways_supported(ways) {
            out.push(Finding::about(
                None,
                format!("CXL window {n}: {ways} targets (QEMU: \"Interleave ways: {ways} not supported\")"),
                Some("interleave over 1, 2, 3, 4, 6, 8, 12 or 16 host bridges".into()),
            ));
        } else if ways > 8 && old {
            out.push(Finding::about(
                None,
                format!(
                    "CXL window {n}: {ways} targets; QEMU before 8.2 holds at most 8 per window \
and crashes"
                ),
                Some("use at most 8 targets, or QEMU 8.2 or newer".into()),
            ));
        }
    }
    out
}

fn granularity(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    c.windows
        .iter()
        .enumerate()
        .filter_map(|(n, w)| w.granularity.map(|g| (n, g.0)))
        .filter(|(_, g)| !granularity_supported(*g))
        .map(|(n, g)| {
            Finding::about(
                None,
                format!("CXL window {n}: interleave-granularity {g} (QEMU: \"Interleave granularity: {g} invalid\")"),
                Some("use a power of two from 256 to 16K".into()),
            )
        })
        .collect()
}

fn bus_nr(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut seen: BTreeMap<u8, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for h in &c.host_bridges {
        match seen.get(&h.bus_nr) {
            Some(first) => out.push(Finding::about(
                Some(&h.id),
                format!(
                    "host bridge {}: bus_nr={} is {first}'s too (QEMU: \"Bus {} is already in use\")",
                    h.id, h.bus_nr, h.bus_nr
                ),
                Some("give each host bridge its own bus_nr".into()),
            )),
            None => {
                seen.insert(h.bus_nr, &h.id);
            }
        }
    }
    out
}

/// Buses below (and including) a host bridge.
fn buses(h: &HostBridge) -> u32 {
    let mut n = 1u32;
    for rp in &h.root_ports {
        n += 1;
        for sw in &rp.switches {
            n += 1 + u32::try_from(sw.downstream.len()).unwrap_or(u32::MAX);
        }
    }
    n
}

fn bus_range(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut sorted: Vec<&HostBridge> = c.host_bridges.iter().collect();
    sorted.sort_by_key(|h| h.bus_nr);
    let mut out = Vec::new();
    for (i, h) in sorted.iter().enumerate() {
        let last = u32::from(h.bus_nr) + buses(h) - 1;
        let next = sorted[i + 1..].iter().find(|n| n.bus_nr != h.bus_nr);
        let limit = next.map_or(255, |n| u32::from(n.bus_nr) - 1);
        if last > limit {
            out.push(Finding::about(
                Some(&h.id),
                format!(
                    "host bridge {}: its {} buses from bus_nr={} reach bus {last}, past {}",
                    h.id,
                    buses(h),
                    h.bus_nr,
                    next.map_or("bus 255".to_string(), |n| format!(
                        "{}'s bus_nr={}",
                        n.id, n.bus_nr
                    ))
                ),
                Some("leave more room between the host bridges' bus_nr values".into()),
            ));
        }
    }
    out
}

fn chassis_slot(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut ports: Vec<(u8, u16, &str)> = Vec::new();
    for h in &c.host_bridges {
        for rp in &h.root_ports {
            ports.push((rp.chassis, rp.slot, &rp.id));
            for sw in &rp.switches {
                for ds in &sw.downstream {
                    ports.push((ds.chassis, ds.slot, &ds.id));
                }
            }
        }
    }
    let mut seen: BTreeMap<(u8, u16), &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (chassis, slot, port) in ports {
        if let Some(first) = seen.get(&(chassis, slot)) {
            out.push(Finding::about(
                Some(port),
                format!(
                    "port {port}: chassis={chassis},slot={slot} is {first}'s too (QEMU: \"Can't \
add chassis slot, error -16\")"
                ),
                Some("give each port its own chassis/slot pair".into()),
            ));
        } else {
            seen.insert((chassis, slot), port);
        }
    }
    out
}

fn type3_memory(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let before_split = ctx.qemu_version().is_some_and(|v| v < SPLIT_MEMDEV);
    let mut out = Vec::new();
    for (d, _) in c.devices() {
        if d.persistent.is_none() && d.volatile.is_none() {
            out.push(Finding::about(
                Some(&d.id),
                format!(
                    "{}: a cxl-type3 device without memory (QEMU: \"memdev property must be set\")",
                    d.id
                ),
                Some("give it a persistent backend".into()),
            ));
        } else if d.volatile.is_some() && before_split {
            out.push(Finding::about(
                Some(&d.id),
                format!(
                    "{}: volatile-memdev needs QEMU 8.0 or newer (QEMU: \"Property \
'cxl-type3.volatile-memdev' not found\")",
                    d.id
                ),
                Some("use a persistent backend, or QEMU 8.0 or newer".into()),
            ));
        }
    }
    out
}

fn lsa_missing(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let before_split = ctx.qemu_version().is_none_or(|v| v < SPLIT_MEMDEV);
    c.devices()
        .into_iter()
        .filter(|(d, _)| d.lsa.is_none() && (d.persistent.is_some() || before_split))
        .map(|(d, _)| {
            Finding::about(
                Some(&d.id),
                format!(
                    "{}: no label storage area (QEMU: \"lsa property must be set\")",
                    d.id
                ),
                Some("add an lsa backend (256M, a file of its own)".into()),
            )
        })
        .collect()
}

fn backend_size(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut out = Vec::new();
    for (d, _) in c.devices() {
        for m in [&d.persistent, &d.volatile].into_iter().flatten() {
            if m.size.0 % CXL_GRANULE != 0 {
                let usable = m.size.0 - m.size.0 % CXL_GRANULE;
                out.push(Finding::about(
                    Some(&d.id),
                    format!(
                        "{}: backend {} is {}, not a multiple of 256 MiB: the guest can map {}",
                        d.id,
                        m.id,
                        format_qemu(m.size.0),
                        format_human(usable)
                    ),
                    Some(format!(
                        "make it {}",
                        format_qemu(m.size.0.div_ceil(CXL_GRANULE) * CXL_GRANULE)
                    )),
                ));
            }
        }
    }
    out
}

fn window_too_small(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut out = Vec::new();
    for (n, w) in c.windows.iter().enumerate() {
        if w.targets.iter().any(|t| c.host_bridge(t).is_none()) {
            continue; // QP803
        }
        let mut smallest: Option<u64> = None;
        for t in &w.targets {
            let sizes: Vec<u64> = c
                .devices_below(t)
                .iter()
                .filter_map(|d| d.persistent.as_ref().map(|m| m.size.0))
                .map(|s| s - s % CXL_GRANULE)
                .filter(|s| *s > 0)
                .collect();
            match sizes.iter().max() {
                None => {
                    out.push(Finding::about(
                        None,
                        format!(
                            "CXL window {n}: host bridge {t} has no persistent type-3 device \
below it: the guest cannot make a region in this window"
                        ),
                        Some(format!(
                            "add a type-3 device below a root port of {t}, or drop it from the window"
                        )),
                    ));
                }
                Some(m) => smallest = Some(smallest.map_or(*m, |s| s.min(*m))),
            }
        }
        let ways = u64::try_from(w.targets.len()).unwrap_or(u64::MAX);
        if let Some(s) = smallest {
            let need = s.saturating_mul(ways);
            if w.size.0 < need && w.size.0 % CXL_GRANULE == 0 {
                out.push(Finding::about(
                    None,
                    format!(
                        "CXL window {n}: {} is smaller than a {ways}-way region of its devices, {}",
                        format_human(w.size.0),
                        format_human(need)
                    ),
                    Some(format!("make the window at least {}", format_qemu(need))),
                ));
            }
        }
    }
    out
}

fn phys_bits(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let old_qemu = ctx.qemu_version().is_some_and(|v| v < PHYS_BITS_CHECK);
    let Some(c) = ctx.layout.and_then(|l| l.cxl.as_ref()) else {
        return Vec::new();
    };
    if has_cpu(p) || old_qemu || p.machine_family().is_none() {
        return Vec::new();
    }
    let family = ctx.layout.map(|l| l.family).unwrap_or(MachineFamily::Q35);
    let used = c
        .pci_hole64_start()
        .saturating_add(family.spec().pci_hole64() - 1);
    let machine = machine_version(&p.machine).or(ctx.qemu_version());
    let limit = if machine.is_none_or(|v| v >= AMD_1TB_HOLE_MACHINES) {
        AMD_HT_START - 1
    } else {
        (1u64 << DEFAULT_PHYS_BITS) - 1
    };
    if used <= limit {
        return Vec::new();
    }
    vec![Finding::about(
        None,
        format!(
            "the highest guest address, {used:#x} (the CXL windows' end plus the 64-bit PCI \
hole), is beyond what the default CPU's {DEFAULT_PHYS_BITS} physical address bits reach \
(QEMU: \"phys-bits too low (40)\")"
        ),
        Some(
            "make the CXL windows smaller, or add -cpu qemu64,phys-bits=42 (or -cpu host) to the extra arguments"
                .into(),
        ),
    )]
}

fn duplicate_id(ctx: &Context) -> Vec<Finding> {
    let Some(c) = cxl(ctx) else { return Vec::new() };
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    for d in &ctx.profile.devices {
        seen.insert(d.id.as_str(), ());
        seen.insert(d.memdev.as_str(), ());
    }
    let mut out = Vec::new();
    for id in c.ids() {
        if seen.insert(id, ()).is_some() {
            out.push(Finding::about(
                Some(id),
                format!(
                    "'{id}' is the id of two devices or backends (QEMU: \"Duplicate ID '{id}'\")"
                ),
                Some("give each CXL device and backend an id of its own".into()),
            ));
        }
    }
    out
}
