//! A libvirt `<domain>` as a profile: `qpmem import --libvirt FILE`,
//! `--domain NAME`, and a domain XML file given as SOURCE.
//!
//! It inverts `render --format libvirt` ([`crate::core::export::libvirt`])
//! and reads what libvirt itself writes (`virsh dumpxml`):
//! - RAM is the NUMA cells' memory (libvirt's initial memory), else
//!   `<memory>` less the memory modules; `<maxMemory>` and its `slots` are
//!   what libvirt gives QEMU (`-m ...,slots=N,maxmem=M`; no `slots`:
//!   `slots=0`), so they become a fixed `maxmem` and `slots`;
//! - cells that split RAM and vCPUs as qpmem does become `numa_nodes`,
//!   others a `numa` list (`-numa node,memdev=ram-nodeN` as libvirt runs it);
//! - each `<memory model='nvdimm'|'dimm'|'virtio-pmem'|'virtio-mem'>` a
//!   device: its source path, size, label, `<alignsize>`, `<pmem/>`,
//!   `access`, `<target><node>`, virtio-mem's `<block>` and `<requested>`;
//!   a DIMM's `<address type='dimm' slot base>` and a virtio device's
//!   `<target><address base>` pinned; the
//!   id from a user alias (`<alias name='ua-nv1'/>`), else qpmem's own
//!   (numbered per kind: `nv1`, `nv2`, `dimm1`, `vpmem1`, ...);
//! - `<qemu:commandline>` arguments are read as the end of QEMU's command
//!   line: its CXL topology, memory devices and `-machine` properties join
//!   the profile, the rest are extra arguments;
//! - everything else qpmem does not model is kept as XML
//!   ([`crate::core::libvirt_kept`]) and written back on export; what can
//!   be neither modelled nor kept (an attribute of an element qpmem owns)
//!   is an import note ([`ImportNoteKind::LibvirtNotCarried`], rule QP025).
//!
//! Sizes take libvirt's units (`unit='KiB'` and the rest, KiB when absent);
//! a bad one is an error naming the element and the value.

use crate::core::arch::{self, Arch};
use crate::core::cmdline::{ImportNote, ImportNoteKind};
use crate::core::device::{virtio_mem, Addr, Backend, Dimm, DimmKind, RAM_BACKEND_ALIGN};
use crate::core::libvirt_kept::{KeptElement, Parent};
use crate::core::profile::{Auto, NumaMemory, NumaNode, Profile, StringError};
use crate::core::size::{align_up, format_qemu, Size, KIB, MIB};
use roxmltree::{Document, Node};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// libvirt's QEMU namespace (`<qemu:commandline>`).
pub const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";

/// Why a domain could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("libvirt domain: not well-formed XML: {0}")]
    Xml(String),
    #[error("libvirt domain: the document is <{0}>, not <domain>")]
    NotDomain(String),
    #[error("libvirt domain: {element}: bad size {value:?}{unit}: {reason}")]
    Size {
        element: String,
        value: String,
        unit: String,
        reason: String,
    },
    #[error("libvirt domain: {element}: bad {what} {value:?}: {reason}")]
    Value {
        element: String,
        what: String,
        value: String,
        reason: String,
    },
    #[error("libvirt domain: {element}: missing {what}")]
    Missing { element: String, what: String },
    #[error("libvirt domain: {0}")]
    Unsupported(String),
    #[error("libvirt domain: {0}")]
    BadString(#[from] StringError),
}

/// Does this text look like a libvirt domain (its first element, after
/// an XML declaration, comments and white space, is `<domain`)?
pub fn is_domain_xml(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            match r.find("?>") {
                Some(end) => rest = r[end + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("<!--") {
            match r.find("-->") {
                Some(end) => rest = r[end + 3..].trim_start(),
                None => return false,
            }
        } else {
            break;
        }
    }
    rest.strip_prefix("<domain").is_some_and(|r| {
        r.chars()
            .next()
            .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
    })
}

/// libvirt's scale for a `unit=` (virScaleInteger: case-insensitive;
/// `b`/`bytes`, a letter or `XiB` powers of 1024, `XB` powers of 1000).
fn unit_scale(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    if matches!(u.as_str(), "b" | "byte" | "bytes") {
        return Some(1);
    }
    let mut chars = u.chars();
    let letter = chars.next()?;
    let base: u64 = match chars.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    let power = "kmgtpe".find(letter)? + 1;
    (0..power).try_fold(1u64, |acc, _| acc.checked_mul(base))
}

/// A size element's or attribute's value in bytes: `value` with `unit`
/// (KiB when absent).
fn scaled(element: &str, value: &str, unit: Option<&str>) -> Result<u64, DomainError> {
    let err = |reason: String| DomainError::Size {
        element: element.to_string(),
        value: value.to_string(),
        unit: unit.map(|u| format!(" unit={u:?}")).unwrap_or_default(),
        reason,
    };
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not a whole number".into()));
    }
    let n: u64 = digits.parse().map_err(|_| err("too large".into()))?;
    let scale = match unit {
        None => KIB,
        Some(u) => unit_scale(u).ok_or_else(|| {
            err("unknown unit (libvirt's are b, bytes, KB, k, KiB, MB, M, MiB, GB, G, GiB, TB, T, TiB, PB, P, PiB, EB, E, EiB)".into())
        })?,
    };
    n.checked_mul(scale)
        .ok_or_else(|| err("too large (more than 2^64 bytes)".into()))
}

/// A child element by local name (no namespace).
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace().is_none()
    })
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

fn text(node: Node) -> String {
    node.text().unwrap_or("").trim().to_string()
}

/// `<name unit='..'>N</name>` in bytes.
fn size_of(node: Node, element: &str) -> Result<u64, DomainError> {
    scaled(element, node.text().unwrap_or(""), node.attribute("unit"))
}

fn number<T: std::str::FromStr>(element: &str, what: &str, value: &str) -> Result<T, DomainError> {
    value.trim().parse().map_err(|_| DomainError::Value {
        element: element.to_string(),
        what: what.to_string(),
        value: value.to_string(),
        reason: "not a whole number".into(),
    })
}

/// libvirt's hexadecimal address (`base='0x100000000'`, the `0x` optional).
fn hex(element: &str, value: &str) -> Result<u64, DomainError> {
    let v = value.trim();
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    u64::from_str_radix(digits, 16).map_err(|_| DomainError::Value {
        element: element.to_string(),
        what: "address".into(),
        value: value.to_string(),
        reason: "not a hexadecimal number".into(),
    })
}

/// The element (and everything in it) as XML, each namespace it uses
/// declared on it, comments left out.
pub fn element_xml(node: Node) -> String {
    let mut used = BTreeSet::new();
    for d in node.descendants().filter(|d| d.is_element()) {
        used.extend(d.tag_name().namespace());
        used.extend(d.attributes().filter_map(|a| a.namespace()));
    }
    let mut out = String::new();
    write_node(&mut out, node, None, &used);
    out
}

fn qualified(node: Node, ns: Option<&str>, local: &str) -> String {
    match ns.and_then(|uri| node.lookup_prefix(uri)) {
        Some(prefix) => format!("{prefix}:{local}"),
        None => local.to_string(),
    }
}

fn write_node(out: &mut String, node: Node, parent: Option<Node>, used: &BTreeSet<&str>) {
    if node.is_text() {
        out.push_str(&escape(node.text().unwrap_or("")));
        return;
    }
    if !node.is_element() {
        return;
    }
    let name = qualified(node, node.tag_name().namespace(), node.tag_name().name());
    out.push('<');
    out.push_str(&name);
    for ns in node.namespaces() {
        if !used.contains(ns.uri()) {
            continue;
        }
        let inherited = parent.is_some_and(|p| {
            p.namespaces()
                .any(|q| q.name() == ns.name() && q.uri() == ns.uri())
        });
        if inherited {
            continue;
        }
        match ns.name() {
            Some(prefix) => out.push_str(&format!(" xmlns:{prefix}='{}'", escape(ns.uri()))),
            None => out.push_str(&format!(" xmlns='{}'", escape(ns.uri()))),
        }
    }
    for a in node.attributes() {
        let n = qualified(node, a.namespace(), a.name());
        out.push_str(&format!(" {n}='{}'", escape(a.value())));
    }
    if node.has_children() {
        out.push('>');
        for c in node.children() {
            write_node(out, c, Some(node), used);
        }
        out.push_str(&format!("</{name}>"));
    } else {
        out.push_str("/>");
    }
}

/// XML text and single-quoted attribute escaping.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// What one import collects on the way.
struct Reader {
    notes: Vec<ImportNote>,
    kept: Vec<KeptElement>,
}

impl Reader {
    fn note(&mut self, subject: impl Into<String>, detail: impl Into<String>) {
        self.notes.push(ImportNote {
            kind: ImportNoteKind::LibvirtNotCarried,
            subject: subject.into(),
            detail: detail.into(),
        });
    }

    fn keep(&mut self, parent: Parent, node: Node) {
        self.kept.push(KeptElement {
            parent,
            xml: element_xml(node),
        });
    }

    /// Note each attribute of `node` not in `known`.
    fn attributes(&mut self, subject: &str, node: Node, known: &[&str]) {
        for a in node.attributes() {
            if a.namespace().is_some() || !known.contains(&a.name()) {
                self.note(
                    subject,
                    format!(
                        "{}='{}' is not carried over (qpmem has no place for it)",
                        a.name(),
                        a.value()
                    ),
                );
            }
        }
    }

    /// Note each child element of `node` not in `known`.
    fn children(&mut self, subject: &str, node: Node, known: &[&str]) {
        for c in elements(node) {
            if c.tag_name().namespace().is_some() || !known.contains(&c.tag_name().name()) {
                self.note(
                    subject,
                    format!(
                        "<{}> is not carried over (qpmem has no place for it)",
                        c.tag_name().name()
                    ),
                );
            }
        }
    }
}

/// One `<cell>` as read.
struct Cell {
    id: u32,
    cpus: Option<String>,
    memory: u64,
}

/// Read a libvirt domain: the profile, and notes of what it could not
/// carry over.
pub fn import_domain(xml: &str) -> Result<(Profile, Vec<ImportNote>), DomainError> {
    let doc = Document::parse(xml).map_err(|e| DomainError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "domain" || root.tag_name().namespace().is_some() {
        return Err(DomainError::NotDomain(root.tag_name().name().to_string()));
    }
    let mut r = Reader {
        notes: Vec::new(),
        kept: Vec::new(),
    };
    let mut p = Profile::empty("imported");
    p.maxmem = Auto::Auto;
    r.attributes("<domain>", root, &["type", "id"]);
    match root.attribute("type") {
        Some("kvm") => p.machine_options.push("accel=kvm".into()),
        Some("qemu") | None => {}
        Some(other) => r.note(
            "<domain>",
            format!("type='{other}' is not a QEMU domain type; qpmem renders TCG"),
        ),
    }

    let mut total = None;
    let mut max = None;
    let mut cells: Vec<Cell> = Vec::new();
    let mut acpi = false;
    let mut memories = Vec::new();
    let mut loader = None;
    let mut cpu_arg = None;
    let mut gic = None;
    let mut qemu_args = Vec::new();
    // <os> first: the arch decides how <cpu> and <loader> read.
    if let Some(os) = child(root, "os") {
        read_os(&mut r, &mut p, os, &mut loader)?;
    }
    for e in elements(root) {
        let local = e.tag_name().name();
        if e.tag_name().namespace() == Some(QEMU_NS) && local == "commandline" {
            for a in elements(e) {
                match (a.tag_name().name(), a.attribute("value")) {
                    ("arg", Some(v)) => qemu_args.push(v.to_string()),
                    (other, _) => r.note(
                        "<qemu:commandline>",
                        format!("<qemu:{other}> is not carried over (qpmem keeps only <qemu:arg>s, as extra arguments)"),
                    ),
                }
            }
            continue;
        }
        if e.tag_name().namespace().is_some() {
            r.keep(Parent::Domain, e);
            continue;
        }
        match local {
            "name" => p.name = text(e),
            "description" => p.description = e.text().unwrap_or("").to_string(),
            "memory" => total = Some(size_of(e, "<memory>")?),
            "currentMemory" => {
                let current = size_of(e, "<currentMemory>")?;
                if total.is_some_and(|t| t != current) {
                    r.note(
                        "<currentMemory>",
                        format!(
                            "{} (the balloon's target) is not carried over",
                            format_qemu(current)
                        ),
                    );
                }
            }
            "maxMemory" => {
                // Without slots= (virtio memory only) libvirt gives QEMU
                // none: slots=0 (QEMU 7.2 accepts it with maxmem=).
                let slots = match e.attribute("slots") {
                    Some(s) => number::<u32>("<maxMemory>", "slots", s)?,
                    None => 0,
                };
                max = Some((size_of(e, "<maxMemory>")?, slots));
            }
            "vcpu" => {
                p.cpus = number("<vcpu>", "count", &text(e))?;
                r.attributes("<vcpu>", e, &["placement"]);
            }
            "os" => {}
            "features" => {
                for f in elements(e) {
                    match f.tag_name().name() {
                        "acpi" if f.tag_name().namespace().is_none() => acpi = true,
                        "gic" if f.tag_name().namespace().is_none() => {
                            gic = f.attribute("version").map(str::to_string);
                        }
                        _ => r.keep(Parent::Features, f),
                    }
                }
            }
            "cpu" => read_cpu(&mut r, p.arch, e, &mut cells, &mut cpu_arg)?,
            "devices" => {
                for d in elements(e) {
                    match d.tag_name().name() {
                        "emulator" => p.qemu = Some(PathBuf::from(text(d))),
                        "memory" => memories.push(d),
                        "disk" => match qpmem_disk(d, p.disks.len()) {
                            Some(path) => p.disks.push(path),
                            None => r.keep(Parent::Devices, d),
                        },
                        _ => r.keep(Parent::Devices, d),
                    }
                }
            }
            _ => r.keep(Parent::Domain, e),
        }
    }

    // arm64: what libvirt's elements say about -cpu, firmware and the GIC.
    if p.arch == Arch::Aarch64 {
        if let Some(cpu) = cpu_arg {
            p.extra_args.splice(0..0, ["-cpu".to_string(), cpu]);
        }
        if let Some((path, kind)) = loader {
            let args = if kind == "pflash" {
                [
                    "-drive".to_string(),
                    format!(
                        "if=pflash,format=raw,readonly=on,file={}",
                        crate::core::cmdline::escape_value(&path)
                    ),
                ]
            } else {
                ["-bios".to_string(), path]
            };
            p.extra_args.extend(args);
        }
        if let Some(v) = gic {
            p.machine_options.push(format!("gic-version={v}"));
        }
    } else if gic.is_some() {
        r.note("<features>", "<gic> is only read for aarch64 domains");
    }
    if !acpi && !memories.is_empty() {
        r.note(
            "<features>",
            "the domain has no <acpi/>: libvirt starts QEMU with acpi=off and QEMU refuses every memory device (\"memory hotplug is not enabled\"); `render --format libvirt` writes <acpi/>",
        );
    }

    // qpmem's own ids, numbered per kind as qpmem names new devices (nv1,
    // nv2, dimm1, vpmem1, ...), skipping the domain's own names.
    let aliases: Vec<&str> = memories
        .iter()
        .filter_map(|m| child(*m, "alias")?.attribute("name")?.strip_prefix("ua-"))
        .collect();
    let mut counts = [0usize; DimmKind::ALL.len()];
    let mut next_number = |kind: DimmKind| {
        let k = DimmKind::ALL.iter().position(|x| *x == kind).unwrap_or(0);
        loop {
            counts[k] += 1;
            let n = counts[k];
            if !aliases.contains(&format!("{}{n}", kind.spec().id_prefix()).as_str()) {
                return n;
            }
        }
    };
    for (i, m) in memories.iter().enumerate() {
        if let Some(d) = read_memory(&mut r, *m, i, &mut next_number)? {
            p.devices.push(d);
        } else {
            r.keep(Parent::Devices, *m);
        }
    }

    // RAM: the cells' (libvirt's initial memory), else <memory> less the
    // modules.
    let modules = p
        .devices
        .iter()
        .fold(0u64, |a, d| a.saturating_add(d.size.0));
    if cells.is_empty() {
        let total = total.ok_or(DomainError::Missing {
            element: "<domain>".into(),
            what: "<memory>".into(),
        })?;
        p.ram = Size(
            total
                .checked_sub(modules)
                .filter(|r| *r > 0)
                .ok_or_else(|| {
                    DomainError::Unsupported(format!(
                        "<memory> {} leaves no RAM beside the memory modules ({})",
                        format_qemu(total),
                        format_qemu(modules)
                    ))
                })?,
        );
    } else {
        let ram = cells.iter().fold(0u64, |a, c| a.saturating_add(c.memory));
        p.ram = Size(ram);
        if let Some(t) = total {
            if t != ram.saturating_add(modules) {
                r.note(
                    "<memory>",
                    format!(
                        "{} is not the cells' {} plus the modules' {}: libvirt recomputes it, qpmem takes the cells' RAM",
                        format_qemu(t),
                        format_qemu(ram),
                        format_qemu(modules)
                    ),
                );
            }
        }
        numa(&mut p, &cells);
    }
    if let Some((m, slots)) = max {
        p.maxmem = Auto::Fixed(Size(m));
        p.slots = Auto::Fixed(slots);
    } else if !p.devices.is_empty() {
        r.note(
            "<maxMemory>",
            "the domain has memory devices but no <maxMemory>: libvirt refuses it; qpmem chooses slots and maxmem",
        );
    }
    commandline(&mut p, qemu_args, &mut r.notes);
    // A device without a node is on node 0, as libvirt writes it.
    let declares_nodes = p.numa_nodes > 0 || !p.numa.is_empty();
    for d in &mut p.devices {
        if !declares_nodes && d.node == Some(0) {
            d.node = None;
        }
    }
    // Grouped by parent, in document order within each: the order the
    // export writes them back in, so a second import reads the same.
    r.kept.sort_by_key(|k| k.parent);
    p.libvirt = r.kept;
    p.check_strings()?;
    Ok((p, r.notes))
}

/// `<qemu:commandline>`'s arguments, which libvirt appends to QEMU's
/// command line, read as such a line ([`crate::core::cmdline::import`]):
/// the CXL topology, memory devices and `-machine` properties in them
/// join the profile, the rest stays extra arguments, in order. When they
/// set what the domain's own elements say (`-m`, `-smp`, `-numa`, a
/// kernel, a machine type, a device id the domain has), or cannot be read
/// as a line, they all stay extra arguments as written.
fn commandline(p: &mut Profile, args: Vec<String>, notes: &mut Vec<ImportNote>) {
    if args.is_empty() {
        return;
    }
    let binary = p.arch.qemu_binary();
    let read = shlex::try_join(args.iter().map(String::as_str))
        .ok()
        .and_then(|line| crate::core::cmdline::import(&format!("{binary} {line}")).ok());
    let base = crate::core::cmdline::import(binary).ok();
    let Some(((sub, sub_notes), (base, _))) = read.zip(base) else {
        p.extra_args.extend(args);
        return;
    };
    let own = sub.ram != base.ram
        || sub.cpus != base.cpus
        || sub.slots != base.slots
        || sub.maxmem != base.maxmem
        || sub.numa_nodes != base.numa_nodes
        || sub.numa != base.numa
        || sub.numa_distances != base.numa_distances
        || sub.machine != base.machine
        || sub.kernel != base.kernel
        || sub.initrd != base.initrd
        || sub.append != base.append
        || sub.disks != base.disks
        || sub.devices.iter().any(|d| {
            p.devices
                .iter()
                .any(|o| o.id == d.id || o.memdev == d.memdev)
        });
    if own {
        p.extra_args.extend(args);
        return;
    }
    let has_nvdimm = p.devices.iter().any(Dimm::is_nvdimm);
    notes.extend(sub_notes.into_iter().filter(|n| match n.kind {
        // libvirt writes -m with slots= and maxmem= itself, and nvdimm=on
        // for the domain's own NVDIMMs.
        ImportNoteKind::MissingSlots | ImportNoteKind::MissingMaxmem => false,
        ImportNoteKind::MissingNvdimmOn => !has_nvdimm,
        _ => true,
    }));
    p.machine_options.extend(sub.machine_options);
    p.devices.extend(sub.devices);
    p.extra_args.extend(sub.extra_args);
    if sub.cxl.is_some() {
        p.cxl = sub.cxl;
    }
    if sub.syntax != base.syntax {
        p.syntax = sub.syntax;
    }
}

/// The disk as `render --format libvirt` writes one of the profile's
/// `disks` (a virtio file disk, `vda`, `vdb`, ... in order, its format
/// from the file's extension), or `None` for any other disk.
fn qpmem_disk(d: Node, index: usize) -> Option<PathBuf> {
    if d.attribute("type") != Some("file") || d.attribute("device") != Some("disk") {
        return None;
    }
    if d.attributes().count() != 2 || elements(d).count() != 3 {
        return None;
    }
    let driver = child(d, "driver")?;
    let source = child(d, "source")?;
    let target = child(d, "target")?;
    let file = source.attribute("file")?;
    let path = PathBuf::from(file);
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some("qcow2") => "qcow2",
        _ => "raw",
    };
    let dev = format!("vd{}", char::from(b'a' + u8::try_from(index % 26).ok()?));
    let ok = driver.attribute("name") == Some("qemu")
        && driver.attribute("type") == Some(format)
        && driver.attributes().count() == 2
        && source.attributes().count() == 1
        && target.attribute("dev") == Some(dev.as_str())
        && target.attribute("bus") == Some("virtio")
        && target.attributes().count() == 2
        && [driver, source, target]
            .iter()
            .all(|n| elements(*n).count() == 0);
    ok.then_some(path)
}

fn read_os(
    r: &mut Reader,
    p: &mut Profile,
    os: Node,
    loader: &mut Option<(String, String)>,
) -> Result<(), DomainError> {
    let mut have_loader = None;
    // `<os firmware='efi'>` and the like: libvirt's firmware selection.
    r.attributes("<os>", os, &[]);
    for e in elements(os) {
        match e.tag_name().name() {
            "type" if e.tag_name().namespace().is_none() => {
                if let Some(a) = e.attribute("arch") {
                    p.arch = arch::parse(a).ok_or_else(|| {
                        DomainError::Unsupported(format!(
                            "<os><type arch='{a}'>: qpmem models x86_64 and aarch64 guests"
                        ))
                    })?;
                }
                p.machine = match e.attribute("machine") {
                    Some(m) => m.to_string(),
                    None if p.arch == Arch::Aarch64 => "virt".to_string(),
                    None => "pc".to_string(),
                };
                r.attributes("<os><type>", e, &["arch", "machine"]);
                if text(e) != "hvm" {
                    return Err(DomainError::Unsupported(format!(
                        "<os><type>{}</type>: qpmem runs hvm guests",
                        text(e)
                    )));
                }
            }
            "kernel" => p.kernel = Some(PathBuf::from(text(e))),
            "initrd" => p.initrd = Some(PathBuf::from(text(e))),
            "cmdline" => p.append = Some(e.text().unwrap_or("").to_string()),
            "loader" => have_loader = Some(e),
            _ => r.keep(Parent::Os, e),
        }
    }
    if let Some(l) = have_loader {
        if p.arch == Arch::Aarch64 {
            *loader = Some((text(l), l.attribute("type").unwrap_or("rom").to_string()));
        } else {
            r.keep(Parent::Os, l);
        }
    }
    Ok(())
}

fn read_cpu(
    r: &mut Reader,
    arch: Arch,
    cpu: Node,
    cells: &mut Vec<Cell>,
    cpu_arg: &mut Option<String>,
) -> Result<(), DomainError> {
    // arm64 domains say -cpu with these; the export writes none on x86.
    let arm = arch == Arch::Aarch64;
    match cpu.attribute("mode") {
        Some("maximum") if arm => *cpu_arg = Some("max".into()),
        Some("host-passthrough") if arm => *cpu_arg = Some("host".into()),
        _ => {}
    }
    // libvirt's defaults (what `virsh dumpxml` adds to a bare `<cpu>`)
    // change nothing; any other value is noted.
    for a in cpu.attributes() {
        let default = matches!(
            (a.name(), a.value()),
            ("mode", "custom") | ("match", "exact") | ("check", "none" | "partial")
        );
        let read = arm && a.name() == "mode" && cpu_arg.is_some();
        if !(default || read) {
            r.note(
                "<cpu>",
                format!(
                    "{}='{}' is not carried over (qpmem has no place for it)",
                    a.name(),
                    a.value()
                ),
            );
        }
    }
    for e in elements(cpu) {
        match e.tag_name().name() {
            "numa" if e.tag_name().namespace().is_none() => {
                for c in elements(e) {
                    if c.tag_name().name() != "cell" {
                        r.note(
                            "<cpu><numa>",
                            format!("<{}> is not carried over", c.tag_name().name()),
                        );
                        continue;
                    }
                    let element = format!("<cell id='{}'>", c.attribute("id").unwrap_or("?"));
                    let id = match c.attribute("id") {
                        Some(id) => number(&element, "id", id)?,
                        None => u32::try_from(cells.len()).unwrap_or(u32::MAX),
                    };
                    let memory = c.attribute("memory").ok_or(DomainError::Missing {
                        element: element.clone(),
                        what: "memory=".into(),
                    })?;
                    r.attributes(&element, c, &["id", "cpus", "memory", "unit"]);
                    r.children(&element, c, &[]);
                    cells.push(Cell {
                        id,
                        cpus: c.attribute("cpus").map(str::to_string),
                        memory: scaled(&element, memory, c.attribute("unit"))?,
                    });
                }
            }
            "model" if e.tag_name().namespace().is_none() && arm && cpu_arg.is_none() => {
                *cpu_arg = Some(text(e));
            }
            _ => r.keep(Parent::Cpu, e),
        }
    }
    Ok(())
}

/// The cells as `numa_nodes` when they split RAM and vCPUs as qpmem's
/// export does, else as the listed `numa` nodes libvirt runs.
fn numa(p: &mut Profile, cells: &[Cell]) {
    let n = u32::try_from(cells.len()).unwrap_or(u32::MAX);
    let mut equal = Profile::empty("");
    equal.ram = p.ram;
    equal.cpus = p.cpus;
    equal.numa_nodes = n;
    let shares = equal.numa_ram();
    let nodes = u64::from(n);
    let cpus = u64::from(p.cpus);
    let matches = cells
        .iter()
        .zip(&shares)
        .enumerate()
        .all(|(i, (c, (id, ram)))| {
            let i = u64::try_from(i).unwrap_or(u64::MAX);
            let (first, last) = (cpus * i / nodes, cpus * (i + 1) / nodes);
            let want = match last.saturating_sub(first) {
                0 => None,
                1 => Some(first.to_string()),
                _ => Some(format!("{first}-{}", last - 1)),
            };
            c.id == *id && c.memory == *ram && c.cpus == want
        });
    if matches {
        p.numa_nodes = n;
        return;
    }
    p.numa = cells
        .iter()
        .map(|c| NumaNode {
            nodeid: Some(c.id),
            cpus: c.cpus.iter().cloned().collect(),
            memdev: Some(NumaMemory {
                id: format!("ram-node{}", c.id),
                backend: "memory-backend-ram".into(),
                size: Size(c.memory),
                options: Vec::new(),
            }),
            mem: None,
            initiator: None,
            options: Vec::new(),
        })
        .collect();
}

/// One `<memory model=...>`: a device, or `None` for a model qpmem does
/// not place (kept, with a note).
fn read_memory(
    r: &mut Reader,
    m: Node,
    index: usize,
    next_number: &mut dyn FnMut(DimmKind) -> usize,
) -> Result<Option<Dimm>, DomainError> {
    let model = m.attribute("model").unwrap_or("");
    let Some(kind) = DimmKind::ALL
        .iter()
        .copied()
        .find(|k| k.spec().libvirt_model() == model)
    else {
        r.note(
            format!("<memory model='{model}'>"),
            "a memory model qpmem does not place: kept and written back on export, but the map does not show it and every address after it may be wrong",
        );
        return Ok(None);
    };
    let spec = kind.spec();
    let element = format!("<memory model='{model}'> #{}", index + 1);
    let target = child(m, "target").ok_or(DomainError::Missing {
        element: element.clone(),
        what: "<target>".into(),
    })?;
    let size_node = child(target, "size").ok_or(DomainError::Missing {
        element: element.clone(),
        what: "<target><size>".into(),
    })?;
    let size = Size(size_of(size_node, &format!("{element} <target><size>"))?);
    let source = child(m, "source");
    let path = source
        .and_then(|s| child(s, "path"))
        .map(|p| PathBuf::from(text(p)));
    // qpmem's own numbering, unless the domain names the device itself
    // (libvirt's own aliases, `nvdimm0`, are not names it lets QEMU keep).
    let alias = child(m, "alias")
        .and_then(|a| a.attribute("name"))
        .and_then(|a| a.strip_prefix("ua-"))
        .filter(|id| crate::core::profile::is_valid_id(id));
    let n = if alias.is_some() {
        0
    } else {
        next_number(kind)
    };
    let mut d = match (kind, path) {
        (DimmKind::Nvdimm, Some(path)) => Dimm::nvdimm(n, path, size),
        (DimmKind::VirtioPmem, Some(path)) => Dimm::virtio_pmem(n, path, size),
        (DimmKind::Nvdimm | DimmKind::VirtioPmem, None) => {
            return Err(DomainError::Missing {
                element,
                what: "<source><path> (libvirt needs a backing file for it)".into(),
            })
        }
        (DimmKind::PcDimm, _) => Dimm::pc_dimm(n, size),
        (DimmKind::VirtioMem, _) => Dimm::virtio_mem(n, size),
    };
    if let Some(id) = alias {
        d.id = id.to_string();
        d.memdev = format!("mem-{id}");
    }
    let subject = d.id.clone();
    d.label_size = Size(0);
    d.align = None;
    d.share = match m.attribute("access") {
        Some("shared") => true,
        Some("private") | None => false,
        Some(other) => {
            return Err(DomainError::Value {
                element,
                what: "access".into(),
                value: other.into(),
                reason: "libvirt's are 'shared' and 'private'".into(),
            })
        }
    };
    d.discard_data = m.attribute("discard") == Some("yes");
    r.attributes(&subject, m, &["model", "access", "discard"]);
    r.children(&subject, m, &["source", "target", "address", "alias"]);
    if let Some(s) = source {
        for e in elements(s) {
            match e.tag_name().name() {
                "path" if d.backend != Backend::Ram => {}
                "alignsize" => {
                    d.align = Some(Size(size_of(e, &format!("{element} <source><alignsize>"))?));
                }
                "pmem" => d.pmem = true,
                other => r.note(&subject, format!("<source><{other}> is not carried over")),
            }
        }
    }
    r.attributes(&subject, target, &[]);
    for e in elements(target) {
        let name = e.tag_name().name();
        let here = format!("{element} <target><{name}>");
        match name {
            "size" => {}
            "node" if kind != DimmKind::VirtioPmem => {
                d.node = Some(number(&here, "node", &text(e))?)
            }
            "label" if spec.has_labels() => {
                let s = child(e, "size").ok_or(DomainError::Missing {
                    element: here.clone(),
                    what: "<size>".into(),
                })?;
                d.label_size = Size(size_of(s, &format!("{here}<size>"))?);
            }
            "readonly" if spec.has_labels() => d.readonly = true,
            "block" if kind == DimmKind::VirtioMem => {
                let block = size_of(e, &here)?;
                let default = virtio_mem::block_size(&d, RAM_BACKEND_ALIGN);
                d.block_size = (block != default).then_some(Size(block));
            }
            "requested" if kind == DimmKind::VirtioMem => {
                let requested = size_of(e, &here)?;
                d.requested_size = (requested != 0).then_some(Size(requested));
            }
            "address" if !spec.takes_slot() => {
                if let Some(b) = e.attribute("base") {
                    d.addr = Some(Addr(hex(&here, b)?));
                }
            }
            other => r.note(&subject, format!("<target><{other}> is not carried over")),
        }
    }
    if let Some(a) = child(m, "address") {
        let here = format!("{element} <address>");
        match a.attribute("type") {
            Some("dimm") if spec.takes_slot() => {
                if let Some(s) = a.attribute("slot") {
                    d.slot = Some(number(&here, "slot", s)?);
                }
                if let Some(b) = a.attribute("base") {
                    d.addr = Some(Addr(hex(&here, b)?));
                }
            }
            Some(t) => r.note(
                &subject,
                format!("<address type='{t}'> is not carried over: QEMU chooses it"),
            ),
            None => {}
        }
    }
    if d.size.0 % (2 * MIB) != 0 {
        r.note(
            &subject,
            format!(
                "libvirt rounds its size {} up to {} (2 MiB); qpmem keeps the size as written",
                format_qemu(d.size.0),
                format_qemu(align_up(d.size.0, 2 * MIB).unwrap_or(d.size.0))
            ),
        );
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_libvirts() {
        assert_eq!(scaled("e", "1", None), Ok(KIB));
        assert_eq!(scaled("e", "1", Some("b")), Ok(1));
        assert_eq!(scaled("e", "7", Some("bytes")), Ok(7));
        assert_eq!(scaled("e", "1", Some("KB")), Ok(1000));
        assert_eq!(scaled("e", "1", Some("k")), Ok(1024));
        assert_eq!(scaled("e", "1", Some("KiB")), Ok(1024));
        assert_eq!(scaled("e", "2", Some("MB")), Ok(2_000_000));
        assert_eq!(scaled("e", "2", Some("M")), Ok(2 * MIB));
        assert_eq!(scaled("e", "2", Some("mib")), Ok(2 * MIB));
        assert_eq!(scaled("e", "1", Some("GiB")), Ok(1 << 30));
        assert_eq!(scaled("e", "1", Some("G")), Ok(1 << 30));
        assert_eq!(scaled("e", "1", Some("TB")), Ok(1_000_000_000_000));
        assert_eq!(scaled("e", "1", Some("E")), Ok(1 << 60));
        let bad = scaled("<memory>", "12", Some("XiB"))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("<memory>") && bad.contains("\"12\"") && bad.contains("XiB"),
            "{bad}"
        );
        assert!(scaled("e", "-1", None).is_err());
        assert!(scaled("e", "1.5", Some("G")).is_err());
        assert!(scaled("e", "16", Some("EiB")).is_err());
        assert!(scaled("e", "", None).is_err());
    }

    #[test]
    fn domains_are_recognised_after_declarations_and_comments() {
        assert!(is_domain_xml("<domain type='kvm'>"));
        assert!(is_domain_xml(
            "\u{feff}<?xml version='1.0'?>\n<!-- a\n comment -->\n  <domain>"
        ));
        assert!(!is_domain_xml("<domainx>"));
        assert!(!is_domain_xml("(version: 1)"));
        assert!(!is_domain_xml("<!-- unterminated <domain>"));
    }

    #[test]
    fn ids_are_numbered_per_kind_around_the_domains_own_names() {
        let nv = |alias: &str| {
            format!("<memory model='nvdimm'><source><path>/x</path></source><target><size unit='MiB'>256</size></target>{alias}</memory>")
        };
        let xml = format!(
            "<domain><memory unit='GiB'>2</memory><devices>{}{}<memory model='dimm'><target><size unit='MiB'>256</size></target></memory>{}</devices></domain>",
            nv(""),
            nv("<alias name='ua-nv1'/>"),
            nv("<alias name='nvdimm2'/>")
        );
        let (p, _) = import_domain(&xml).unwrap();
        let ids: Vec<&str> = p.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["nv2", "nv1", "dimm1", "nv3"]);
        assert_eq!(p.ram, Size(2 * (1 << 30) - 4 * 256 * MIB));
    }

    #[test]
    fn kept_elements_declare_their_namespaces() {
        let doc = Document::parse(
            "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><metadata><a:x xmlns:a='urn:a' v='1&amp;2'>t</a:x></metadata><qemu:capabilities><qemu:add capability='x'/></qemu:capabilities><uuid>u</uuid></domain>",
        )
        .unwrap();
        let els: Vec<_> = elements(doc.root_element()).map(element_xml).collect();
        assert_eq!(
            els[0],
            "<metadata><a:x xmlns:a='urn:a' v='1&amp;2'>t</a:x></metadata>"
        );
        assert_eq!(
            els[1],
            format!("<qemu:capabilities xmlns:qemu='{QEMU_NS}'><qemu:add capability='x'/></qemu:capabilities>")
        );
        assert_eq!(els[2], "<uuid>u</uuid>");
    }
}
