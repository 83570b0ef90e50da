//! The CXL part of the command line as QemuOpts pieces: `cxl=on` and the
//! windows for `-machine`, and each `-object`/`-device` in tree order (a
//! parent before its children, as QEMU needs `bus=` to exist).
//! `cmdline::render` writes the pieces in the profile's syntax.

use super::{memdev_property, Cxl, CxlMemory, Type3};
use crate::core::device::Backend;
use crate::core::qemu::version::QemuVersion;
use crate::core::size::format_qemu;

/// A comma in a value doubled, as QemuOpts reads it (the same rule as
/// `cmdline::escape_value`, which this module may not import: the
/// command line imports it).
fn escape_value(value: &str) -> String {
    value.replace(',', ",,")
}

/// `-machine` properties: `cxl=on`, then every window's targets, size
/// and granularity.
pub fn machine_pieces(cxl: &Cxl) -> Vec<String> {
    let mut out = vec!["cxl=on".to_string()];
    for (n, w) in cxl.windows.iter().enumerate() {
        for (m, t) in w.targets.iter().enumerate() {
            out.push(format!("cxl-fmw.{n}.targets.{m}={}", escape_value(t)));
        }
        out.push(format!("cxl-fmw.{n}.size={}", format_qemu(w.size.0)));
        if let Some(g) = w.granularity {
            out.push(format!(
                "cxl-fmw.{n}.interleave-granularity={}",
                format_qemu(g.0)
            ));
        }
    }
    out
}

/// Which option a group of pieces belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    Object,
    Device,
}

/// Every `-object` and `-device` of the tree, in order, as QemuOpts
/// pieces (the type first).
pub fn groups(cxl: &Cxl, version: Option<QemuVersion>) -> Vec<(OptionKind, Vec<String>)> {
    let mut out = Vec::new();
    let id = |s: &str| format!("id={}", escape_value(s));
    let bus = |s: &str| format!("bus={}", escape_value(s));
    for hb in &cxl.host_bridges {
        let mut d = vec![
            "pxb-cxl".to_string(),
            format!("bus_nr={}", hb.bus_nr),
            bus(&hb.bus),
            id(&hb.id),
        ];
        d.extend(hb.options.iter().cloned());
        out.push((OptionKind::Device, d));
        for rp in &hb.root_ports {
            let mut d = vec![
                "cxl-rp".to_string(),
                format!("port={}", rp.port),
                bus(&hb.id),
                id(&rp.id),
                format!("chassis={}", rp.chassis),
                format!("slot={}", rp.slot),
            ];
            d.extend(rp.options.iter().cloned());
            out.push((OptionKind::Device, d));
            for t in &rp.devices {
                type3(&mut out, t, &rp.id, version);
            }
            for sw in &rp.switches {
                let mut d = vec!["cxl-upstream".to_string(), bus(&rp.id), id(&sw.id)];
                d.extend(sw.options.iter().cloned());
                out.push((OptionKind::Device, d));
                for ds in &sw.downstream {
                    let mut d = vec![
                        "cxl-downstream".to_string(),
                        format!("port={}", ds.port),
                        bus(&sw.id),
                        id(&ds.id),
                        format!("chassis={}", ds.chassis),
                        format!("slot={}", ds.slot),
                    ];
                    d.extend(ds.options.iter().cloned());
                    out.push((OptionKind::Device, d));
                    for t in &ds.devices {
                        type3(&mut out, t, &ds.id, version);
                    }
                }
            }
        }
    }
    out
}

fn backend(m: &CxlMemory) -> Vec<String> {
    let mut o = vec![
        m.backend.qemu_object().to_string(),
        format!("id={}", escape_value(&m.id)),
    ];
    if let Backend::File(path) = &m.backend {
        o.push(format!("share={}", if m.share { "on" } else { "off" }));
        o.push(format!(
            "mem-path={}",
            escape_value(&path.to_string_lossy())
        ));
    } else if m.share {
        o.push("share=on".into());
    }
    o.push(format!("size={}", format_qemu(m.size.0)));
    o.extend(m.options.iter().cloned());
    o
}

fn type3(
    out: &mut Vec<(OptionKind, Vec<String>)>,
    t: &Type3,
    port: &str,
    version: Option<QemuVersion>,
) {
    for m in [&t.persistent, &t.volatile, &t.lsa].into_iter().flatten() {
        out.push((OptionKind::Object, backend(m)));
    }
    let mut d = vec![
        "cxl-type3".to_string(),
        format!("bus={}", escape_value(port)),
    ];
    if let Some(m) = &t.persistent {
        d.push(format!(
            "{}={}",
            memdev_property(version),
            escape_value(&m.id)
        ));
    }
    if let Some(m) = &t.volatile {
        d.push(format!("volatile-memdev={}", escape_value(&m.id)));
    }
    if let Some(m) = &t.lsa {
        d.push(format!("lsa={}", escape_value(&m.id)));
    }
    d.push(format!("id={}", escape_value(&t.id)));
    d.extend(t.options.iter().cloned());
    out.push((OptionKind::Device, d));
}
