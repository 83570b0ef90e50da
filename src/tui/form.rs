//! The editor forms' fields: how each DIMM and VM setting is shown, parsed
//! and validated.
//!
//! Every text a user types goes through [`DimmField::parse`] or
//! [`VmField::parse`], which return a changed copy or an error naming the
//! field and the value; the app only ever stores a copy that parsed, so an
//! invalid value never reaches the profile. The line editor they are
//! typed into is [`crate::tui::input::Input`].

use crate::core::device::Setting;
use crate::core::profile::{
    is_valid_id, Addr, Auto, Backend, Dimm, DimmKind, MachineFamily, Profile,
};
use crate::core::size::{format_qemu, parse_size, BareUnit, Size};
use std::path::PathBuf;

fn size_field(name: &str, text: &str, bare: BareUnit) -> Result<Size, String> {
    parse_size(text, bare)
        .map(Size)
        .map_err(|e| format!("{name} \"{}\": {e}", text.trim()))
}

fn opt<T>(text: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        f(text.trim()).map(Some)
    }
}

fn number(name: &str, text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("{name} \"{}\": not a whole number", text.trim()))
}

fn words(name: &str, text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| format!("{name}: unbalanced quotes"))
}

fn join_words(w: &[String]) -> String {
    shlex::try_join(w.iter().map(String::as_str)).unwrap_or_else(|_| w.join(" "))
}

fn onoff(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

/// The fields of the DIMM editor, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimmField {
    Id,
    Memdev,
    Kind,
    Backend,
    Size,
    LabelSize,
    Align,
    Share,
    Pmem,
    Readonly,
    DiscardData,
    Unarmed,
    Node,
    Addr,
    Slot,
    BlockSize,
    RequestedSize,
}

pub const DIMM_FIELDS: &[DimmField] = &[
    DimmField::Id,
    DimmField::Memdev,
    DimmField::Kind,
    DimmField::Backend,
    DimmField::Size,
    DimmField::LabelSize,
    DimmField::Align,
    DimmField::Share,
    DimmField::Pmem,
    DimmField::Readonly,
    DimmField::DiscardData,
    DimmField::Unarmed,
    DimmField::Node,
    DimmField::Addr,
    DimmField::Slot,
    DimmField::BlockSize,
    DimmField::RequestedSize,
];

/// The fields `d`'s form shows: the settings its kind has
/// ([`crate::core::device::Kind::settings`]) and, on a file, the file's.
pub fn dimm_fields(d: &Dimm) -> Vec<DimmField> {
    DIMM_FIELDS
        .iter()
        .copied()
        .filter(|f| f.applies(d))
        .collect()
}

impl DimmField {
    /// The device setting behind this field, for those only some kinds have.
    fn setting(self) -> Option<Setting> {
        Some(match self {
            DimmField::LabelSize => Setting::LabelSize,
            DimmField::Unarmed => Setting::Unarmed,
            DimmField::Node => Setting::Node,
            DimmField::Slot => Setting::Slot,
            DimmField::BlockSize => Setting::BlockSize,
            DimmField::RequestedSize => Setting::RequestedSize,
            _ => return None,
        })
    }

    /// `d` has this field: its kind has the setting; the file's own
    /// properties (`mem-path`, `align`, `pmem`, `readonly`,
    /// `discard-data`) only on a file.
    pub fn applies(self, d: &Dimm) -> bool {
        let on_file = d.backend.path().is_some();
        match self {
            DimmField::Backend
            | DimmField::Align
            | DimmField::Pmem
            | DimmField::Readonly
            | DimmField::DiscardData => on_file,
            f => f.setting().is_none_or(|s| d.kind.spec().has(s)),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DimmField::Id => "id",
            DimmField::Memdev => "memdev",
            DimmField::Kind => "kind",
            DimmField::Backend => "file",
            DimmField::Size => "size",
            DimmField::LabelSize => "label-size",
            DimmField::Align => "align",
            DimmField::Share => "share",
            DimmField::Pmem => "pmem",
            DimmField::Readonly => "readonly",
            DimmField::DiscardData => "discard-data",
            DimmField::Unarmed => "unarmed",
            DimmField::Node => "node",
            DimmField::Addr => "addr",
            DimmField::Slot => "slot",
            DimmField::BlockSize => "block-size",
            DimmField::RequestedSize => "requested-size",
        }
    }

    /// On/off and choice fields flip with Enter instead of taking text.
    pub fn is_toggle(self) -> bool {
        matches!(
            self,
            DimmField::Kind
                | DimmField::Share
                | DimmField::Pmem
                | DimmField::Readonly
                | DimmField::DiscardData
                | DimmField::Unarmed
        )
    }

    /// The value as shown, and as put in the input when editing starts.
    pub fn value(self, d: &Dimm) -> String {
        match self {
            DimmField::Id => d.id.clone(),
            DimmField::Memdev => d.memdev.clone(),
            DimmField::Kind => d.kind.device().to_string(),
            DimmField::Backend => match &d.backend {
                Backend::File(p) => p.display().to_string(),
                Backend::Ram => "(RAM)".to_string(),
            },
            DimmField::Size => d.size.to_string(),
            DimmField::LabelSize => d.label_size.to_string(),
            DimmField::Align => d.align.map(|a| a.to_string()).unwrap_or_default(),
            DimmField::Share => onoff(d.share),
            DimmField::Pmem => onoff(d.pmem),
            DimmField::Readonly => onoff(d.readonly),
            DimmField::DiscardData => onoff(d.discard_data),
            DimmField::Unarmed => onoff(d.unarmed),
            DimmField::Node => d.node.map(|n| n.to_string()).unwrap_or_default(),
            DimmField::Addr => d.addr.map(|a| a.to_string()).unwrap_or_default(),
            DimmField::Slot => d.slot.map(|n| n.to_string()).unwrap_or_default(),
            DimmField::BlockSize => d.block_size.map(|s| s.to_string()).unwrap_or_default(),
            DimmField::RequestedSize => d.requested_size.map(|s| s.to_string()).unwrap_or_default(),
        }
    }

    /// What an empty optional field means, shown greyed.
    pub fn placeholder(self) -> &'static str {
        match self {
            DimmField::Align => "QEMU's default",
            DimmField::Node | DimmField::Addr | DimmField::Slot => "auto",
            DimmField::BlockSize => "QEMU's default (2M, or the page size)",
            DimmField::RequestedSize => "0: nothing plugged",
            _ => "",
        }
    }

    /// Device `index` of `profile` with this field set to `text`.
    pub fn parse(self, profile: &Profile, index: usize, text: &str) -> Result<Dimm, String> {
        let mut d = profile
            .devices
            .get(index)
            .cloned()
            .ok_or_else(|| "no DIMM selected".to_string())?;
        let name = self.label();
        let unique = |v: &str, what: fn(&Dimm) -> &str| -> Result<String, String> {
            if !is_valid_id(v) {
                return Err(format!(
                    "{name} \"{v}\": start with a letter, then letters, digits, - . _"
                ));
            }
            let clash = profile
                .devices
                .iter()
                .enumerate()
                .any(|(i, o)| i != index && (what(o) == v));
            if clash {
                return Err(format!("{name} \"{v}\": already used by another DIMM"));
            }
            Ok(v.to_string())
        };
        match self {
            DimmField::Id => d.id = unique(text.trim(), |o| &o.id)?,
            DimmField::Memdev => d.memdev = unique(text.trim(), |o| &o.memdev)?,
            DimmField::Backend => {
                if d.backend == Backend::Ram {
                    return Err("file: a pc-dimm on RAM has no file (change kind first)".into());
                }
                let t = text.trim();
                if t.is_empty() {
                    return Err("file: give the backing file's path".into());
                }
                d.backend = Backend::File(PathBuf::from(t));
            }
            DimmField::Size => {
                let s = size_field(name, text, BareUnit::Bytes)?;
                if s.0 == 0 {
                    return Err("size: must be more than 0".into());
                }
                d.size = s;
            }
            DimmField::LabelSize => d.label_size = size_field(name, text, BareUnit::Bytes)?,
            DimmField::Align => {
                d.align = opt(text, |t| {
                    let a = size_field(name, t, BareUnit::Bytes)?;
                    if !a.0.is_power_of_two() {
                        return Err(format!("align \"{t}\": must be a power of two"));
                    }
                    Ok(a)
                })?
            }
            DimmField::Node => d.node = opt(text, |t| number(name, t))?,
            DimmField::Addr => {
                d.addr = opt(text, |t| {
                    size_field(name, t, BareUnit::Bytes).map(|s| Addr(s.0))
                })?
            }
            DimmField::Slot => d.slot = opt(text, |t| number(name, t))?,
            DimmField::BlockSize => {
                d.block_size = opt(text, |t| size_field(name, t, BareUnit::Bytes))?
            }
            DimmField::RequestedSize => {
                d.requested_size = opt(text, |t| size_field(name, t, BareUnit::Bytes))?
            }
            DimmField::Kind
            | DimmField::Share
            | DimmField::Pmem
            | DimmField::Readonly
            | DimmField::DiscardData
            | DimmField::Unarmed => return Ok(self.toggle(profile, index).unwrap_or(d)),
        }
        Ok(d)
    }

    /// Device `index` with this on/off or choice field flipped.
    pub fn toggle(self, profile: &Profile, index: usize) -> Option<Dimm> {
        let mut d = profile.devices.get(index)?.clone();
        match self {
            DimmField::Kind => {
                // The next kind qpmem offers: persistent kinds on a file
                // of their own, shared; the others on anonymous RAM.
                let all = DimmKind::ALL;
                let at = all.iter().position(|k| *k == d.kind).unwrap_or(0);
                d.kind = all[(at + 1) % all.len()];
                // What the new kind has no property for goes (the form
                // no longer shows it; QP211 would name it).
                let spec = d.kind.spec();
                for s in Setting::ALL.iter().filter(|s| !spec.has(**s)) {
                    s.clear(&mut d);
                }
                if d.kind.spec().is_persistent() {
                    if d.backend == Backend::Ram {
                        d.backend = Backend::File(backing_file_beside(profile, &d.id));
                    }
                    d.share = true;
                } else {
                    d.backend = Backend::Ram;
                    d.align = None;
                    d.share = false;
                }
            }
            DimmField::Share => d.share = !d.share,
            DimmField::Pmem => d.pmem = !d.pmem,
            DimmField::Readonly => d.readonly = !d.readonly,
            DimmField::DiscardData => d.discard_data = !d.discard_data,
            DimmField::Unarmed => d.unarmed = !d.unarmed,
            _ => return None,
        }
        Some(d)
    }
}

/// A backing file named `stem` for a DIMM of `profile`: the core's
/// choice ([`crate::core::new_dimm::new_backing_file`]) with what is on disk.
pub fn backing_file_beside(profile: &Profile, stem: &str) -> PathBuf {
    crate::core::new_dimm::new_backing_file(profile, stem, &new_dimm_context(None))
}

/// Where a new CXL device's files go ([`crate::core::new_dimm::cxl_dir`]
/// in qpmem's data directory).
pub fn cxl_dir(profile: &Profile) -> PathBuf {
    crate::core::new_dimm::cxl_dir(profile, &crate::store::dirs::data_dir())
}

/// What the core's choice of a new DIMM needs from the host
/// ([`crate::host::new_dimm_context`] on qpmem's data directory).
pub fn new_dimm_context(
    qemu: Option<crate::core::qemu::QemuVersion>,
) -> crate::core::new_dimm::NewDimmContext<'static> {
    crate::host::new_dimm_context(crate::store::dirs::data_dir(), qemu)
}

/// The fields of the VM editor, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmField {
    Name,
    Arch,
    Machine,
    PageSize,
    Ram,
    Cpus,
    Slots,
    Maxmem,
    SpareSlots,
    NumaNodes,
    Qemu,
    Kernel,
    Initrd,
    Append,
    Disks,
    ExtraArgs,
}

pub const VM_FIELDS: &[VmField] = &[
    VmField::Name,
    VmField::Arch,
    VmField::Machine,
    VmField::PageSize,
    VmField::Ram,
    VmField::Cpus,
    VmField::Slots,
    VmField::Maxmem,
    VmField::SpareSlots,
    VmField::NumaNodes,
    VmField::Qemu,
    VmField::Kernel,
    VmField::Initrd,
    VmField::Append,
    VmField::Disks,
    VmField::ExtraArgs,
];

impl VmField {
    pub fn label(self) -> &'static str {
        match self {
            VmField::Name => "name",
            VmField::Arch => "arch",
            VmField::Machine => "machine",
            VmField::PageSize => "page size",
            VmField::Ram => "RAM",
            VmField::Cpus => "CPUs",
            VmField::Slots => "slots",
            VmField::Maxmem => "maxmem",
            VmField::SpareSlots => "spare slots",
            VmField::NumaNodes => "NUMA nodes",
            VmField::Qemu => "QEMU",
            VmField::Kernel => "kernel",
            VmField::Initrd => "initrd",
            VmField::Append => "append",
            VmField::Disks => "disks",
            VmField::ExtraArgs => "extra args",
        }
    }

    pub fn value(self, p: &Profile) -> String {
        let path = |o: &Option<PathBuf>| o.as_ref().map(|p| p.display().to_string());
        match self {
            VmField::Name => p.name.clone(),
            VmField::Arch => p.arch.name().to_string(),
            VmField::Machine => p.machine.clone(),
            VmField::PageSize => format!(
                "{}K (sections {})",
                p.page_size() / 1024,
                crate::core::size::format_human(p.section_size())
            ),
            VmField::Ram => p.ram.to_string(),
            VmField::Cpus => p.cpus.to_string(),
            VmField::Slots => match p.slots {
                Auto::Auto => format!("auto ({})", p.effective_slots()),
                Auto::Fixed(n) => n.to_string(),
            },
            VmField::Maxmem => match p.maxmem {
                Auto::Auto => format!("auto ({})", format_qemu(p.effective_maxmem())),
                Auto::Fixed(m) => m.to_string(),
            },
            VmField::SpareSlots => p.spare_slots.to_string(),
            VmField::NumaNodes if !p.numa.is_empty() => {
                let nodes: Vec<String> = p
                    .numa_ram()
                    .iter()
                    .map(|(id, ram)| format!("node {id} {}", format_qemu(*ram)))
                    .collect();
                format!("{} listed: {}", p.numa.len(), nodes.join(", "))
            }
            VmField::NumaNodes => p.numa_nodes.to_string(),
            VmField::Qemu => path(&p.qemu).unwrap_or_default(),
            VmField::Kernel => path(&p.kernel).unwrap_or_default(),
            VmField::Initrd => path(&p.initrd).unwrap_or_default(),
            VmField::Append => p.append.clone().unwrap_or_default(),
            VmField::Disks => join_words(
                &p.disks
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>(),
            ),
            VmField::ExtraArgs => join_words(&p.extra_args),
        }
    }

    /// The text put in the input when editing starts.
    pub fn edit_value(self, p: &Profile) -> String {
        match self {
            VmField::PageSize => format!("{}K", p.page_size() / 1024),
            VmField::Slots if p.slots == Auto::Auto => "auto".into(),
            VmField::Maxmem if p.maxmem == Auto::Auto => "auto".into(),
            _ => self.value(p),
        }
    }

    pub fn placeholder(self, _profile: &Profile) -> String {
        match self {
            // Short, so the detected version beside it stays visible.
            VmField::Qemu => "auto (PATH)".into(),
            VmField::Kernel | VmField::Initrd | VmField::Append => "none".into(),
            VmField::Disks | VmField::ExtraArgs => "none".into(),
            _ => String::new(),
        }
    }

    /// `profile` with this field set to `text`.
    pub fn parse(self, profile: &Profile, text: &str) -> Result<Profile, String> {
        let mut p = profile.clone();
        let name = self.label();
        let t = text.trim();
        let path = |t: &str| -> Option<PathBuf> { (!t.is_empty()).then(|| PathBuf::from(t)) };
        match self {
            VmField::Name => {
                if t.is_empty() {
                    return Err("name: give the profile a name".into());
                }
                p.name = t.to_string();
            }
            VmField::Arch => {
                let Some(arch) = crate::core::arch::parse(t) else {
                    return Err(format!("arch \"{t}\": use x86_64 or aarch64"));
                };
                match arch {
                    crate::core::arch::Arch::Aarch64 => p.make_aarch64(),
                    other => {
                        p.arch = other;
                        if p.machine_family().is_some_and(|f| f.spec().arch() != other) {
                            p.machine = "pc".to_string();
                            p.machine_options.clear();
                        }
                    }
                }
                if p.arch.section_size(p.page_size()).is_none() {
                    p.guest_page_size = None;
                }
            }
            VmField::Machine => {
                let Some(family) = MachineFamily::of(t) else {
                    return Err(format!(
                        "machine \"{t}\": not modelled; use {}",
                        p.arch.machines_hint()
                    ));
                };
                if family.spec().arch() != p.arch {
                    return Err(format!(
                        "machine \"{t}\": an {} machine, but arch is {}; set arch first (or use {})",
                        family.spec().arch().name(),
                        p.arch.name(),
                        p.arch.machines_hint()
                    ));
                }
                p.machine = t.to_string();
            }
            VmField::PageSize => {
                let s = size_field(name, t, BareUnit::Bytes)?;
                if p.arch.section_size(s.0).is_none() {
                    let sizes: Vec<String> = p
                        .arch
                        .page_sizes()
                        .iter()
                        .map(|s| format!("{}K", s / 1024))
                        .collect();
                    return Err(format!(
                        "page size \"{t}\": {} Linux uses {}",
                        p.arch.name(),
                        sizes.join(", ")
                    ));
                }
                p.guest_page_size = (s.0 != 4096).then_some(s);
            }
            VmField::Ram => {
                let s = size_field(name, t, BareUnit::Mebibytes)?;
                if s.0 == 0 {
                    return Err("RAM: must be more than 0".into());
                }
                p.ram = s;
            }
            VmField::Cpus => p.cpus = number(name, t)?,
            VmField::Slots => {
                p.slots = if t.eq_ignore_ascii_case("auto") || t.is_empty() {
                    Auto::Auto
                } else {
                    let n = number(name, t)?;
                    if n == 0 || n > crate::core::layout::MAX_SLOTS {
                        return Err(format!("slots \"{t}\": must be 1 to 256 (or auto)"));
                    }
                    Auto::Fixed(n)
                }
            }
            VmField::Maxmem => {
                p.maxmem = if t.eq_ignore_ascii_case("auto") || t.is_empty() {
                    Auto::Auto
                } else {
                    let m = size_field(name, t, BareUnit::Bytes)?;
                    if m.0 % 4096 != 0 {
                        return Err(format!("maxmem \"{t}\": must be a multiple of 4K"));
                    }
                    Auto::Fixed(m)
                }
            }
            VmField::SpareSlots => p.spare_slots = number(name, t)?,
            VmField::NumaNodes if !p.numa.is_empty() => {
                return Err(format!(
                    "{name}: the profile lists its nodes one by one (-numa node,memdev=...): edit them in the profile file"
                ))
            }
            VmField::NumaNodes => p.numa_nodes = number(name, t)?,
            VmField::Qemu => p.qemu = path(t),
            VmField::Kernel => p.kernel = path(t),
            VmField::Initrd => p.initrd = path(t),
            VmField::Append => p.append = (!t.is_empty()).then(|| t.to_string()),
            VmField::Disks => p.disks = words(name, text)?.into_iter().map(PathBuf::from).collect(),
            VmField::ExtraArgs => p.extra_args = words(name, text)?,
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn sizes_are_validated_with_the_field_and_value_named() {
        let p = Profile::seed(Path::new("/vms"));
        let e = DimmField::Size.parse(&p, 0, "17X").unwrap_err();
        assert!(e.starts_with("size \"17X\""), "{e}");
        assert_eq!(
            DimmField::Size.parse(&p, 0, "4G").unwrap().size,
            Size::gib(4)
        );
        assert!(DimmField::Align.parse(&p, 0, "3M").is_err());
        assert_eq!(DimmField::Align.parse(&p, 0, "").unwrap().align, None);
        let e = DimmField::Id.parse(&p, 0, "nv2").unwrap_err();
        assert!(e.contains("already used"), "{e}");
        assert!(VmField::Ram.parse(&p, "512").unwrap().ram == Size::mib(512));
        assert!(VmField::Machine.parse(&p, "microvm").is_err());
        let e = VmField::Machine.parse(&p, "virt").unwrap_err();
        assert!(e.contains("set arch first"), "{e}");
        let arm = VmField::Arch.parse(&p, "aarch64").unwrap();
        assert_eq!(arm.machine, "virt");
        assert_eq!(arm.cpu_model(), Some("max"));
        assert!(VmField::Machine.parse(&arm, "virt-7.2").is_ok());
        assert!(VmField::PageSize.parse(&p, "64K").is_err());
        let big = VmField::PageSize.parse(&arm, "64K").unwrap();
        assert_eq!(big.section_size(), 512 << 20);
        assert_eq!(VmField::PageSize.value(&big), "64K (sections 512 MiB)");
        let back = VmField::Arch.parse(&big, "x86_64").unwrap();
        assert_eq!((back.machine.as_str(), back.guest_page_size), ("pc", None));
        assert!(VmField::Arch.parse(&p, "riscv64").is_err());
        assert_eq!(VmField::Slots.parse(&p, "8").unwrap().slots, Auto::Fixed(8));
        assert!(VmField::Slots.parse(&p, "257").is_err());
    }

    #[test]
    fn kind_toggle_switches_backend() {
        let p = Profile::seed(Path::new("/vms"));
        let d = DimmField::Kind.toggle(&p, 0).unwrap();
        assert_eq!(d.backend, Backend::Ram);
        let mut q = p.clone();
        q.devices[0] = d;
        let back = DimmField::Kind.toggle(&q, 0).unwrap();
        assert_eq!(back.backend, Backend::File("/vms/nv1".into()));
    }
}
