//! The address map for people (a table) and for programs (JSON).
//!
//! Both are views of one [`Layout`]; the TUI's map pane draws the same.

use crate::core::layout::{DeviceLayout, Layout, Placement};
use crate::core::profile::{DimmKind, Profile};
use crate::core::size::{format_human, format_qemu};
use serde::Serialize;
use std::fmt::Write;

/// `qpmem map --json`.
#[derive(Debug, Serialize)]
pub struct MapJson {
    pub machine: String,
    pub section_size: u64,
    /// Where RAM starts: absent on the PCs (0), 1 GiB on arm64 `virt`.
    #[serde(skip_serializing_if = "is_zero")]
    pub ram_base: u64,
    pub ram_below_4g: u64,
    pub ram_above_4g: u64,
    pub slots: u32,
    pub maxmem: u64,
    pub device_memory: Option<RegionJson>,
    /// The NUMA nodes the line declares, with their RAM; absent without `-numa`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub numa: Vec<NodeJson>,
    pub dimms: Vec<DimmJson>,
    /// The CXL host register block (`cxl_host_reg`); absent without CXL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cxl_host_registers: Option<crate::core::cxl::layout::Range>,
    /// The CXL fixed memory windows in index order, in bytes; absent
    /// without CXL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cxl_windows: Option<Vec<CxlWindowJson>>,
}

/// One `cxl-fmw` window: `{"index","base","size","targets","granularity"}`.
#[derive(Debug, Serialize)]
pub struct CxlWindowJson {
    pub index: usize,
    pub base: u64,
    pub size: u64,
    pub targets: Vec<String>,
    pub granularity: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Serialize)]
pub struct NodeJson {
    pub node: u32,
    pub ram: u64,
}

#[derive(Debug, Serialize)]
pub struct RegionJson {
    pub base: u64,
    pub size: u64,
    /// What the devices may use: maxmem - RAM (QEMU's "total space for
    /// memory devices").
    pub usable: u64,
    /// The rest of the region: 1 GiB per slot, which QEMU adds for each
    /// device's alignment.
    pub slot_padding: u64,
}

/// The device memory region's usable space (maxmem - RAM) and its
/// per-slot padding, as QEMU computes the region's size from them.
pub fn region_parts(layout: &Layout) -> Option<(u64, u64)> {
    let r = layout.device_memory?;
    let ram = layout.ram_below_4g.saturating_add(layout.ram_above_4g);
    let usable = layout.maxmem.saturating_sub(ram);
    Some((usable, r.size.saturating_sub(usable)))
}

#[derive(Debug, Serialize)]
pub struct DimmJson {
    pub id: String,
    pub kind: &'static str,
    pub slot: Option<u32>,
    /// The NUMA node QEMU puts it on: `node=`, else 0.
    pub node: u32,
    pub addr: Option<u64>,
    /// What the guest sees.
    pub size: Option<u64>,
    pub label_size: u64,
    pub backend_size: u64,
    pub align: Option<u64>,
    pub unused_tail: Option<u64>,
    pub start_aligned: Option<bool>,
    pub end_aligned: Option<bool>,
    /// Why QEMU would refuse to place it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn kind_name(kind: DimmKind) -> &'static str {
    kind.spec().name()
}

pub fn to_json(profile: &Profile, layout: &Layout) -> MapJson {
    MapJson {
        machine: profile.machine.clone(),
        section_size: layout.section_size,
        ram_base: layout.ram_base,
        ram_below_4g: layout.ram_below_4g,
        ram_above_4g: layout.ram_above_4g,
        slots: layout.slots,
        maxmem: layout.maxmem,
        device_memory: layout.device_memory.zip(region_parts(layout)).map(
            |(r, (usable, slot_padding))| RegionJson {
                base: r.base,
                size: r.size,
                usable,
                slot_padding,
            },
        ),
        numa: profile
            .numa_ram()
            .into_iter()
            .map(|(node, ram)| NodeJson { node, ram })
            .collect(),
        dimms: layout
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| dimm_json(d, node_of(profile, i)))
            .collect(),
        cxl_host_registers: layout.cxl.as_ref().map(|c| c.host_registers),
        cxl_windows: layout.cxl.as_ref().map(|c| {
            c.windows
                .iter()
                .map(|w| CxlWindowJson {
                    index: w.index,
                    base: w.base,
                    size: w.size,
                    targets: w.targets.clone(),
                    granularity: w.granularity,
                })
                .collect()
        }),
    }
}

/// The node of the layout's `i`th device (the layout keeps the profile's
/// device order): its `node=`, else 0, as QEMU reports it.
pub fn node_of(profile: &Profile, i: usize) -> u32 {
    profile.devices.get(i).and_then(|d| d.node).unwrap_or(0)
}

fn dimm_json(d: &DeviceLayout, node: u32) -> DimmJson {
    let p = d.placement();
    DimmJson {
        id: d.id.clone(),
        kind: kind_name(d.kind),
        slot: p.and_then(|p| p.slot),
        node,
        addr: p.map(|p| p.addr),
        size: p.map(|p| p.size),
        label_size: d.label_size,
        backend_size: d.backend_size,
        align: p.map(|p| p.align),
        unused_tail: p.map(|p| p.unused_tail),
        start_aligned: p.map(|p| p.start_aligned),
        end_aligned: p.map(|p| p.end_aligned),
        error: d.result.as_ref().err().map(|e| e.to_string()),
    }
}

/// How a range sits against the section grid: `ok (17 sections)`, or
/// which edge misses and by how much.
pub fn section_note(p: &Placement, section: u64) -> String {
    let start_off = p.addr % section;
    let end_off = p.end() % section;
    let mut parts = Vec::new();
    if start_off != 0 {
        parts.push(format!(
            "start {} past {:#x}",
            format_human(start_off),
            p.addr - start_off
        ));
    }
    if end_off != 0 {
        parts.push(format!(
            "end {} short of {:#x}",
            format_human(section - end_off),
            p.end() - end_off + section
        ));
    }
    if parts.is_empty() {
        format!("ok ({} sections)", p.size / section)
    } else {
        parts.join(", ")
    }
}

/// The map as a table.
pub fn to_table(profile: &Profile, layout: &Layout) -> String {
    let mut out = String::new();
    let section = layout.section_size;
    let _ = writeln!(
        out,
        "{} machine, RAM {}, slots={}, maxmem={}, section size {}",
        profile.machine,
        format_human(profile.ram.0),
        layout.slots,
        format_qemu(layout.maxmem),
        format_human(section)
    );
    let _ = writeln!(
        out,
        "  RAM            {:#014x}-{:#014x}  {}",
        layout.ram_base,
        (layout.ram_base + layout.ram_below_4g).saturating_sub(1),
        format_human(layout.ram_below_4g)
    );
    if layout.ram_above_4g > 0 {
        let _ = writeln!(
            out,
            "  RAM above 4G   {:#014x}-{:#014x}  {}",
            1u64 << 32,
            (1u64 << 32) + layout.ram_above_4g - 1,
            format_human(layout.ram_above_4g)
        );
    }
    let nodes = profile.numa_ram();
    if !nodes.is_empty() {
        let parts: Vec<String> = nodes
            .iter()
            .map(|(id, ram)| format!("node {id} {}", format_human(*ram)))
            .collect();
        let _ = writeln!(out, "  NUMA           {}", parts.join(", "));
    }
    match layout.device_memory {
        Some(r) => {
            let (usable, padding) = region_parts(layout).unwrap_or((r.size, 0));
            let _ = writeln!(
                out,
                "  device memory  {:#014x}-{:#014x}  {}: {} for devices (maxmem - RAM), {} padding ({} per slot)",
                r.base,
                r.end() - 1,
                format_human(r.size),
                format_human(usable),
                format_human(padding),
                format_human(crate::core::size::GIB)
            );
        }
        None => {
            let _ = writeln!(out, "  device memory  none (maxmem is not above RAM)");
        }
    }
    if let (Some(c), Some(cxl)) = (&layout.cxl, &profile.cxl) {
        cxl_rows(&mut out, c, cxl);
    }
    if layout.devices.is_empty() {
        let _ = writeln!(out, "\nno memory devices");
        return out;
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:<11} {:>4} {:>4}  {:<14} {:<14} {:>10}  {:>6}  {:>6}  SECTIONS",
        "ID", "KIND", "SLOT", "NODE", "START", "END", "VISIBLE", "LABEL", "ALIGN"
    );
    for (i, d) in layout.devices.iter().enumerate() {
        let node = node_of(profile, i);
        match &d.result {
            Ok(p) => {
                let _ = writeln!(
                    out,
                    "{:<10} {:<11} {:>4} {:>4}  {:#014x} {:#014x} {:>10}  {:>6}  {:>6}  {}",
                    d.id,
                    kind_name(d.kind),
                    p.slot.map_or_else(|| "-".to_string(), |s| s.to_string()),
                    node,
                    p.addr,
                    p.end() - 1,
                    format_human(p.size),
                    format_qemu(d.label_size),
                    format_qemu(p.align),
                    section_note(p, section)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{:<10} {:<11} {:>4} {:>4}  not placed: {e}",
                    d.id,
                    kind_name(d.kind),
                    "-",
                    node
                );
            }
        }
    }
    out
}

/// The CXL host registers and each window, with the type-3 capacity
/// below the window's targets, and where the 64-bit PCI hole moves.
fn cxl_rows(out: &mut String, c: &crate::core::cxl::CxlLayout, cxl: &crate::core::cxl::Cxl) {
    let r = c.host_registers;
    let _ = writeln!(
        out,
        "  CXL registers  {:#014x}-{:#014x}  {}",
        r.base,
        r.end() - 1,
        format_human(r.size)
    );
    for w in &c.windows {
        let capacity: u64 = w
            .targets
            .iter()
            .flat_map(|t| cxl.devices_below(t))
            .filter_map(|d| d.persistent.as_ref().map(|m| m.size.0))
            .fold(0u64, u64::saturating_add);
        let _ = writeln!(
            out,
            "  CXL window {:<3} {:#014x}-{:#014x}  {}: {} way(s) over {}, granularity {}, {} pmem below",
            w.index,
            w.base,
            w.end().saturating_sub(1),
            format_human(w.size),
            w.targets.len(),
            w.targets.join("+"),
            format_qemu(w.granularity),
            format_human(capacity)
        );
    }
    let _ = writeln!(
        out,
        "  64-bit PCI     from {:#014x} (above the CXL windows)",
        c.pci_hole64_start()
    );
}
