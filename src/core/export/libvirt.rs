//! `--format libvirt`: the profile as a complete libvirt `<domain>` that
//! `virt-xml-validate FILE domain` accepts.
//!
//! libvirt describes the same VM differently, and changes some of it:
//! - it needs a NUMA cell for memory devices: a profile with no NUMA nodes
//!   gets one cell holding all RAM and CPUs;
//! - `<memory>` is the total (RAM plus every module) and `<maxMemory>`
//!   must be at least that, where QEMU's `maxmem` only needs to hold the
//!   modules' visible sizes: maxMemory is raised when needed;
//! - on x86 it rounds memory modules up to 2 MiB and RAM, NUMA cells and
//!   maxMemory up to 1 MiB;
//! - it counts virtio memory devices against `slots` too: slots is raised
//!   to the number of devices when needed;
//! - it renames devices and backends and preallocates NVDIMM files
//!   (`core::libvirt::predict`): each device's note says how it will run;
//! - each DIMM's slot is pinned to the one QEMU gives it in qpmem's map
//!   (`<address type='dimm' slot=..>`, with `base=` when the profile pins
//!   `addr=`); libvirt 9.0 has no element for virtio's `memaddr=`;
//! - extra QEMU arguments go into `<qemu:commandline>` (with the CXL
//!   part); what has no element at all (unmodelled device or backend
//!   properties, machine options, `unarmed`) is left out.
//!
//! Every such change is a note, returned and written into an XML comment
//! at the top of the document.

use super::Export;
use crate::core::device::Setting;
use crate::core::layout::Layout;
use crate::core::libvirt::{predict, DevicePrediction, LibvirtVersion, MODULE_ALIGN};
use crate::core::profile::{Arch, Backend, Profile};
use crate::core::size::{align_up, format_qemu, KIB, MIB};
use std::fmt::Write;
use std::path::Path;

/// The emulator when neither the profile nor the caller gives an absolute
/// path (libvirt requires one).
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// [`DEFAULT_EMULATOR`] for the profile's arch.
fn default_emulator(p: &Profile) -> String {
    match p.arch {
        Arch::X86_64 => DEFAULT_EMULATOR.to_string(),
        arch => format!("/usr/bin/{}", arch.qemu_binary()),
    }
}

/// The value of the last `-NAME VALUE` in `extra_args`.
fn extra_value<'p>(p: &'p Profile, name: &str) -> Option<&'p str> {
    p.extra_args
        .windows(2)
        .rev()
        .find(|w| w[0].trim_start_matches('-') == name && w[0].starts_with('-'))
        .map(|w| w[1].as_str())
}

/// arm64's firmware as libvirt's `<loader>`: `-bios FILE` is a ROM, a
/// read-only `-drive if=pflash,file=FILE` a pflash loader.
fn loader(p: &Profile) -> Option<(String, &'static str)> {
    if let Some(bios) = extra_value(p, "bios") {
        return Some((bios.to_string(), "rom"));
    }
    p.extra_args.windows(2).find_map(|w| {
        let opts: Vec<String> = crate::core::cmdline::split_opts(&w[1]);
        (w[0].trim_start_matches('-') == "drive" && opts.iter().any(|o| o == "if=pflash"))
            .then(|| {
                opts.iter()
                    .find_map(|o| o.strip_prefix("file="))
                    .map(|f| (crate::core::cmdline::unescape(f), "pflash"))
            })
            .flatten()
    })
}

/// The arguments libvirt's elements carry for an arm64 domain (`-cpu`,
/// `-bios`, the pflash drive), as pairs to leave out of the "not carried
/// over" note.
fn carried_args(p: &Profile) -> Vec<(String, String)> {
    if p.arch != Arch::Aarch64 {
        return Vec::new();
    }
    p.extra_args
        .windows(2)
        .filter(|w| {
            let name = w[0].trim_start_matches('-');
            w[0].starts_with('-')
                && (name == "cpu"
                    || name == "bios"
                    || (name == "drive" && w[1].split(',').any(|o| o == "if=pflash")))
        })
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect()
}

/// The extra arguments no libvirt element carries, in order: they go into
/// `<qemu:commandline>`.
fn passed_args<'p>(p: &'p Profile, carried: &[(String, String)]) -> Vec<&'p str> {
    let mut rest = Vec::new();
    let mut i = 0;
    while i < p.extra_args.len() {
        let pair = p.extra_args.get(i..i + 2);
        if pair.is_some_and(|w| carried.iter().any(|(a, b)| *a == w[0] && *b == w[1])) {
            i += 2;
            continue;
        }
        rest.push(p.extra_args[i].as_str());
        i += 1;
    }
    rest
}

/// Escape text for XML content and single-quoted attributes; characters
/// XML 1.0 cannot hold at all become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `<tag unit='KiB'>n</tag>`, in bytes when not a whole number of KiB.
fn sized(tag: &str, bytes: u64, attrs: &str) -> String {
    if bytes % KIB == 0 {
        format!("<{tag}{attrs} unit='KiB'>{}</{tag}>", bytes / KIB)
    } else {
        format!("<{tag}{attrs} unit='bytes'>{bytes}</{tag}>")
    }
}

fn round_up(v: u64, a: u64) -> u64 {
    align_up(v, a).unwrap_or(v)
}

/// Render the domain. `emulator` is the QEMU binary as found on this host
/// (used when the profile names none by absolute path); `layout` is
/// qpmem's map of the profile, whose slots the export pins (libvirt
/// chooses them when it is `None`).
pub fn render(profile: &Profile, emulator: Option<&Path>, layout: Option<&Layout>) -> Export {
    let mut notes = Vec::new();
    let mut x = String::new();
    let p = profile;
    let predicted = predict(p, layout);
    let carried = carried_args(p);
    let passed = passed_args(p, &carried);

    let kvm = p.machine_options.iter().any(|o| o == "accel=kvm")
        || p.extra_args.iter().any(|a| a == "-enable-kvm");
    let qemu_ns = if p.cxl.is_some() || !passed.is_empty() {
        " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
    } else {
        ""
    };
    let _ = writeln!(
        x,
        "<domain type='{}'{qemu_ns}>",
        if kvm { "kvm" } else { "qemu" }
    );
    if !kvm {
        notes.push("type='qemu' (TCG, as the rendered command line runs); use type='kvm' for hardware acceleration".into());
    }

    let mut name = if p.name.trim().is_empty() {
        "qpmem".to_string()
    } else {
        p.name.clone()
    };
    if name.contains('/') || name.contains('\n') {
        name = name.replace(['/', '\n'], "-");
        notes.push(format!(
            "domain name {:?} changed to {name:?}: libvirt names cannot contain '/' or newlines",
            p.name
        ));
    }
    let _ = writeln!(x, "  <name>{}</name>", escape(&name));
    if !p.description.is_empty() {
        let _ = writeln!(x, "  <description>{}</description>", escape(&p.description));
    }

    // Memory: RAM + modules (as libvirt rounds them), maxMemory >= that.
    let ram = p.ram.0;
    if ram % MIB != 0 {
        notes.push(format!(
            "libvirt rounds RAM {} up to {} (1 MiB)",
            format_qemu(ram),
            format_qemu(round_up(ram, MIB))
        ));
    }
    let mut modules = 0u64;
    for d in &p.devices {
        let size = round_up(d.size.0, MODULE_ALIGN);
        if size != d.size.0 {
            notes.push(format!(
                "libvirt rounds {}'s size {} up to {} ({} memory modules are 2 MiB aligned); QEMU then needs a backing file of at least that size",
                d.id,
                format_qemu(d.size.0),
                format_qemu(size),
                p.arch.name()
            ));
        }
        modules = modules.saturating_add(size);
    }
    let total = round_up(ram, MIB).saturating_add(modules);
    let qemu_max = p.effective_maxmem();
    let mut max = round_up(qemu_max, MIB);
    if max != qemu_max {
        notes.push(format!(
            "libvirt rounds maxMemory {} up to {} (1 MiB)",
            format_qemu(qemu_max),
            format_qemu(max)
        ));
    }
    if max < total {
        notes.push(format!(
            "maxMemory raised from QEMU's maxmem={} to {}: libvirt counts each module's full size (label and unaligned tail included), QEMU only what the guest sees",
            format_qemu(qemu_max),
            format_qemu(total)
        ));
        max = total;
    }
    let slots = crate::core::libvirt::slots(p);
    if slots != p.effective_slots() {
        notes.push(format!(
            "slots raised from {} to {slots}: libvirt counts virtio memory devices against slots too (\"memory device count '{slots}' exceeds slots count '{}'\"), QEMU only DIMMs",
            p.effective_slots(),
            p.effective_slots()
        ));
    }
    let _ = writeln!(
        x,
        "  {}",
        sized("maxMemory", max, &format!(" slots='{slots}'"))
    );
    let _ = writeln!(x, "  {}", sized("memory", total, ""));

    let cpus = if p.cpus == 0 {
        notes.push(
            "cpus is 0 (left to -smp in extra arguments): libvirt needs a count; 1 vCPU written"
                .into(),
        );
        1
    } else {
        p.cpus
    };
    let _ = writeln!(x, "  <vcpu placement='static'>{cpus}</vcpu>");

    let _ = writeln!(x, "  <os>");
    let _ = writeln!(
        x,
        "    <type arch='{}' machine='{}'>hvm</type>",
        p.arch.name(),
        escape(&p.machine)
    );
    if let Some((path, kind)) = loader(p) {
        let _ = writeln!(
            x,
            "    <loader readonly='yes' type='{kind}'>{}</loader>",
            escape(&path)
        );
    }
    if let Some(k) = &p.kernel {
        let _ = writeln!(x, "    <kernel>{}</kernel>", escape(&k.to_string_lossy()));
    }
    if let Some(i) = &p.initrd {
        let _ = writeln!(x, "    <initrd>{}</initrd>", escape(&i.to_string_lossy()));
    }
    if let Some(a) = &p.append {
        let _ = writeln!(x, "    <cmdline>{}</cmdline>", escape(a));
    }
    let _ = writeln!(x, "  </os>");
    // ACPI is what memory devices hang off on every machine (the x86 ACPI
    // memory hotplug device, virt's GED): without `<acpi/>` libvirt starts
    // QEMU with `acpi=off` and QEMU refuses every DIMM ("memory hotplug is
    // not enabled: missing acpi device or acpi disabled").
    let gic = p
        .machine_options
        .iter()
        .find_map(|o| o.strip_prefix("gic-version="))
        .filter(|_| p.arch == Arch::Aarch64)
        .map(|v| format!("\n    <gic version='{}'/>", escape(v)))
        .unwrap_or_default();
    let _ = writeln!(x, "  <features>\n    <acpi/>{gic}\n  </features>");

    // NUMA cells, split as the command line splits them.
    let nodes = u64::from(p.numa_nodes.max(1));
    if p.numa_nodes == 0 {
        notes.push("libvirt requires a NUMA cell for NVDIMMs: cell 0 holds all RAM and CPUs (QEMU's default without -numa)".into());
    }
    let cpu_mode = match (p.arch, p.cpu_model()) {
        (Arch::Aarch64, Some("max")) => " mode='maximum'".to_string(),
        (Arch::Aarch64, Some("host")) => " mode='host-passthrough'".to_string(),
        _ => String::new(),
    };
    let _ = writeln!(x, "  <cpu{cpu_mode}>");
    if let (Arch::Aarch64, Some(model)) = (p.arch, p.cpu_model()) {
        if cpu_mode.is_empty() {
            let _ = writeln!(x, "    <model>{}</model>", escape(model));
        }
    }
    let _ = writeln!(x, "    <numa>");
    let share = ram / nodes;
    for i in 0..nodes {
        let mem = if i == nodes - 1 {
            ram - share * (nodes - 1)
        } else {
            share
        };
        let first = u64::from(cpus) * i / nodes;
        let last = u64::from(cpus) * (i + 1) / nodes;
        let cpu_attr = match last.saturating_sub(first) {
            0 => String::new(),
            1 => format!(" cpus='{first}'"),
            _ => format!(" cpus='{first}-{}'", last - 1),
        };
        // Rounded to 1 MiB as libvirt does, so always whole KiB.
        let _ = writeln!(
            x,
            "      <cell id='{i}'{cpu_attr} memory='{}' unit='KiB'/>",
            round_up(mem, MIB) / KIB
        );
    }
    let _ = writeln!(x, "    </numa>\n  </cpu>");

    let _ = writeln!(x, "  <devices>");
    let emu = match (&p.qemu, emulator) {
        (Some(q), _) if q.is_absolute() => q.to_string_lossy().into_owned(),
        (_, Some(e)) if e.is_absolute() => e.to_string_lossy().into_owned(),
        _ => {
            let emu = default_emulator(p);
            notes.push(format!(
                "emulator {emu} assumed ({} was not found as an absolute path)",
                p.qemu_binary().display()
            ));
            emu
        }
    };
    let _ = writeln!(x, "    <emulator>{}</emulator>", escape(&emu));
    for (i, disk) in p.disks.iter().enumerate() {
        let format = match disk.extension().and_then(|e| e.to_str()) {
            Some("qcow2") => "qcow2",
            _ => "raw",
        };
        let dev = format!("vd{}", char::from(b'a' + u8::try_from(i % 26).unwrap_or(0)));
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='{format}'/>\n      <source file='{}'/>\n      <target dev='{dev}' bus='virtio'/>\n    </disk>",
            escape(&disk.to_string_lossy())
        );
    }
    for (d, pr) in p.devices.iter().zip(&predicted) {
        memory_device(&mut x, &mut notes, p, d, pr);
    }
    let _ = writeln!(x, "  </devices>");
    // What libvirt has no element for, as QEMU arguments of its own: the
    // CXL part, then the profile's extra arguments.
    let mut args = Vec::new();
    if let Some(cxl) = &p.cxl {
        notes.push("libvirt has no CXL model: the CXL part (cxl=on, the windows, host bridges, ports, switches, type-3 devices and their backends) is passed through <qemu:commandline>, for a QEMU that takes memdev= (7.x; 8.0+ still accepts it)".into());
        args.push("-machine".to_string());
        args.push(crate::core::cxl::render::machine_pieces(cxl).join(","));
        for (kind, pieces) in crate::core::cxl::render::groups(cxl, None) {
            args.push(match kind {
                crate::core::cxl::render::OptionKind::Object => "-object".into(),
                crate::core::cxl::render::OptionKind::Device => "-device".into(),
            });
            args.push(pieces.join(","));
        }
    }
    if !passed.is_empty() {
        notes.push(format!(
            "extra QEMU arguments passed through <qemu:commandline> as they are (libvirt does not check them against what it sets itself): {}",
            passed.join(" ")
        ));
        args.extend(passed.iter().map(|a| a.to_string()));
    }
    if !args.is_empty() {
        let _ = writeln!(x, "  <qemu:commandline>");
        for a in args {
            let _ = writeln!(x, "    <qemu:arg value='{}'/>", escape(&a));
        }
        let _ = writeln!(x, "  </qemu:commandline>");
    }
    let _ = writeln!(x, "</domain>");
    let x = crate::core::libvirt_kept::write_back(&x, &p.libvirt);
    let other_machine: Vec<_> = p
        .machine_options
        .iter()
        .filter(|o| o.as_str() != "accel=kvm")
        .filter(|o| p.arch != Arch::Aarch64 || !o.starts_with("gic-version="))
        .collect();
    if !other_machine.is_empty() {
        notes.push(format!(
            "machine options not carried over: {}",
            other_machine
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }

    let mut text = String::from("<!--\n  libvirt domain for the qpmem profile '");
    text.push_str(&comment_safe(&p.name));
    text.push_str("'. Validate with: virt-xml-validate FILE domain\n");
    if !notes.is_empty() {
        text.push_str("  Notes:\n");
        for n in &notes {
            text.push_str("  - ");
            text.push_str(&comment_safe(n));
            text.push('\n');
        }
    }
    text.push_str("-->\n");
    text.push_str(&x);
    Export { text, notes }
}

/// Text that cannot end an XML comment or break its lines (entities are
/// not read inside comments, so nothing else is escaped).
fn comment_safe(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    while t.contains("--") {
        t = t.replace("--", "- -");
    }
    t
}

fn memory_device(
    x: &mut String,
    notes: &mut Vec<String>,
    p: &Profile,
    d: &crate::core::profile::Dimm,
    pr: &DevicePrediction,
) {
    let kind = d.kind.spec();
    let mut attrs = format!(" model='{}'", kind.libvirt_model());
    if kind.is_persistent() || d.share {
        attrs.push_str(if d.share {
            " access='shared'"
        } else {
            " access='private'"
        });
    }
    if d.discard_data {
        attrs.push_str(" discard='yes'");
    }
    let _ = writeln!(x, "    <memory{attrs}>");
    match (&d.backend, kind.is_persistent()) {
        (Backend::File(path), true) => {
            let _ = writeln!(x, "      <source>");
            let _ = writeln!(
                x,
                "        <path>{}</path>",
                escape(&path.to_string_lossy())
            );
            if let Some(a) = d.align {
                let _ = writeln!(x, "        {}", sized("alignsize", a.0, ""));
            }
            if d.pmem {
                let _ = writeln!(x, "        <pmem/>");
            }
            let _ = writeln!(x, "      </source>");
            if path.is_relative() {
                notes.push(format!(
                    "{}: libvirt needs an absolute backing path, not {}",
                    d.id,
                    path.display()
                ));
            }
        }
        (Backend::File(path), false) => notes.push(format!(
            "{}: libvirt's dimm model has no file backend; {} is not used (anonymous RAM instead)",
            d.id,
            path.display()
        )),
        (Backend::Ram, true) => notes.push(format!(
            "{}: an NVDIMM needs a file backend in libvirt",
            d.id
        )),
        (Backend::Ram, false) => {}
    }
    let _ = writeln!(x, "      <target>");
    let _ = writeln!(x, "        {}", sized("size", pr.size, ""));
    let node = d.node.unwrap_or(0);
    if node >= p.numa_nodes.max(1) {
        notes.push(format!(
            "{}: node {node} does not exist (the profile declares {} NUMA node(s)); libvirt will refuse it",
            d.id,
            p.numa_nodes
        ));
    }
    // virtio-pmem has no NUMA node (no node= property in QEMU).
    if kind.has(Setting::Node) {
        let _ = writeln!(x, "        <node>{node}</node>");
    }
    if kind.has(Setting::BlockSize) {
        let page = crate::core::device::RAM_BACKEND_ALIGN;
        let block = crate::core::device::virtio_mem::block_size(d, page);
        let _ = writeln!(x, "        {}", sized("block", block, ""));
    }
    if kind.has(Setting::RequestedSize) {
        let requested = d.requested_size.map_or(0, |s| s.0);
        let _ = writeln!(x, "        {}", sized("requested", requested, ""));
    }
    if kind.has_labels() {
        if d.label_size.0 > 0 {
            let _ = writeln!(
                x,
                "        <label>\n          {}\n        </label>",
                sized("size", d.label_size.0, "")
            );
        }
        if d.readonly {
            let _ = writeln!(x, "        <readonly/>");
        }
    }
    let _ = writeln!(x, "      </target>");
    if !kind.takes_slot() && d.addr.is_some() {
        notes.push(format!(
            "{}: memaddr= is not carried over: libvirt {} has no element for a virtio device's address (<target><address base=..> is refused by its schema), so QEMU places it first fit",
            d.id,
            LibvirtVersion::MEASURED
        ));
    } else if pr.slot.is_some() || d.addr.is_some() {
        let mut a = String::from("      <address type='dimm'");
        if let Some(s) = pr.slot {
            let _ = write!(a, " slot='{s}'");
        }
        if let Some(b) = d.addr {
            let _ = write!(a, " base='{b}'");
        }
        a.push_str("/>");
        let _ = writeln!(x, "{a}");
    }
    let _ = writeln!(x, "    </memory>");
    let slot = pr.slot.map(|s| format!(" in slot {s}")).unwrap_or_default();
    let prealloc = if pr.prealloc {
        format!(
            "; with prealloc=on: QEMU writes every page of its {} file when it starts (<source><pmem/> turns it off)",
            format_qemu(pr.size)
        )
    } else {
        String::new()
    };
    notes.push(format!(
        "{}: libvirt {} runs it as {} (backend {}){slot}{prealloc}",
        d.id,
        LibvirtVersion::MEASURED,
        pr.alias,
        pr.backend
    ));
    if d.unarmed {
        notes.push(format!(
            "{}: unarmed=on has no libvirt element; left out",
            d.id
        ));
    }
    if !d.backend_options.is_empty() || !d.device_options.is_empty() {
        notes.push(format!(
            "{}: properties not carried over: {}",
            d.id,
            d.backend_options
                .iter()
                .chain(&d.device_options)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::size::Size;

    #[test]
    fn seed_becomes_a_domain_with_one_nvdimm_element_each() {
        let p = Profile::seed(Path::new("/vms"));
        let e = render(&p, Some(Path::new("/usr/bin/qemu-system-x86_64")), None);
        let t = &e.text;
        assert_eq!(
            t.matches("<memory model='nvdimm' access='shared'>").count(),
            2
        );
        assert!(t.contains("<path>/vms/nvdimm-1</path>"));
        assert!(t.contains("<alignsize unit='KiB'>131072</alignsize>"));
        assert!(t.contains("<size unit='KiB'>17825792</size>"), "{t}");
        assert!(t.contains("<label>\n          <size unit='KiB'>2048</size>"));
        assert!(t.contains("<maxMemory slots='2' unit='KiB'>"));
        assert!(t.contains("<features>\n    <acpi/>\n  </features>"), "{t}");
        assert!(
            t.contains("<cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>"),
            "{t}"
        );
        assert!(t.contains("machine='pc'>hvm</type>"));
        // 2G + 2 x 17G > QEMU's maxmem (2G + 2 x 16.875G): raised, with a note.
        assert!(t.contains("<memory unit='KiB'>37748736</memory>"), "{t}");
        assert!(
            e.notes.iter().any(|n| n.contains("maxMemory raised")),
            "{:?}",
            e.notes
        );
    }

    #[test]
    fn rounding_and_dropped_things_are_noted() {
        let mut p = Profile::empty("a/b");
        let mut d = crate::core::profile::Dimm::nvdimm(1, "/x".into(), Size::mib(1025));
        d.unarmed = true;
        d.device_options.push("uuid=1".into());
        p.devices.push(d);
        p.extra_args.push("-nographic".into());
        let e = render(&p, None, None);
        let all = e.notes.join("\n");
        assert!(all.contains("1025M up to 1026M"), "{all}");
        assert!(all.contains("unarmed"), "{all}");
        assert!(all.contains("uuid=1"), "{all}");
        assert!(all.contains("-nographic"), "{all}");
        assert!(
            e.text
                .contains("<qemu:commandline>\n    <qemu:arg value='-nographic'/>"),
            "{}",
            e.text
        );
        assert!(e.text.contains("xmlns:qemu="), "{}", e.text);
        assert!(
            all.contains(
                "nv1: libvirt 9.0.0 runs it as nvdimm0 (backend memnvdimm0); with prealloc=on"
            ),
            "{all}"
        );
        assert!(all.contains(DEFAULT_EMULATOR), "{all}");
        assert!(e.text.contains("<name>a-b</name>"));
        assert!(e.text.contains("<size unit='KiB'>1050624</size>"));
        // Notes are in the leading comment too.
        let comment_end = e.text.find("-->").unwrap();
        assert!(e.text[..comment_end].contains("1025M up to 1026M"));
    }

    #[test]
    fn escaping_covers_markup_and_impossible_characters() {
        assert_eq!(escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
        assert_eq!(escape("x\u{1}y"), "x\u{FFFD}y");
        assert_eq!(comment_safe("a--b"), "a- -b");
        assert_eq!(comment_safe("a---b\n"), "a- - -b ");
    }
}
