//! The profile: everything qpmem knows about one VM and its memory devices.
//!
//! This is plain data with serde derives: the TUI edits it, the CLI reads
//! it, [`crate::core::layout`](mod@crate::core::layout) places it and [`crate::core::cmdline`] renders it. It is
//! saved as RON (see [`crate::core::profile_ron`]) with sizes in QEMU's syntax so a
//! person can edit the file by hand.

pub use crate::core::arch::Arch;
pub use crate::core::device::{Addr, Backend, Dimm, DimmKind};
pub use crate::core::machine::MachineFamily;
use crate::core::size::{Size, GIB, KIB, MIB};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The profile format version this build writes and understands.
pub const PROFILE_VERSION: u32 = 1;

/// A whole VM set-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version, [`PROFILE_VERSION`] for files this build writes.
    pub version: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `x86_64` (the default) or `aarch64`.
    #[serde(default)]
    pub arch: Arch,
    /// The guest kernel's page size (4K, the default; arm64 kernels also
    /// come with 16K and 64K): Linux's memory section size follows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_page_size: Option<Size>,
    /// `pc`, `q35`, a versioned name such as `pc-i440fx-7.2`; `virt` or
    /// `virt-X.Y` on aarch64.
    #[serde(default = "default_machine")]
    pub machine: String,
    /// Other `-machine` properties (`accel=kvm`), kept verbatim; qpmem
    /// always adds `nvdimm=on` itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_options: Vec<String>,
    /// Boot RAM (`-m`).
    #[serde(default = "default_ram")]
    pub ram: Size,
    /// `-smp`; 0 leaves it to an `-smp` kept in `extra_args`.
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// `slots=`: automatic (devices + spare slots) or fixed.
    #[serde(default)]
    pub slots: Auto<u32>,
    /// `maxmem=`: automatic (RAM + what the devices need) or fixed.
    #[serde(default)]
    pub maxmem: Auto<Size>,
    /// Extra hotplug slots to leave free when `slots` is automatic.
    #[serde(default)]
    pub spare_slots: u32,
    /// Number of NUMA nodes to declare (`-numa node`), each with an equal
    /// share of RAM; 0 declares none. Ignored when `numa` lists the nodes.
    #[serde(default)]
    pub numa_nodes: u32,
    /// NUMA nodes one by one, as a pasted line declares them (`-numa
    /// node,memdev=ram-node0` with its `-object memory-backend-*`), in
    /// command-line order. Empty: `numa_nodes` decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numa: Vec<NumaNode>,
    /// `-numa dist,src=,dst=,val=`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numa_distances: Vec<NumaDistance>,
    /// The QEMU binary; `None` finds `qemu-system-<arch>` on PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<PathBuf>,
    /// Arguments qpmem does not model, kept verbatim and in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// Memory devices in command-line order (the order QEMU places them in).
    #[serde(default)]
    pub devices: Vec<Dimm>,
    /// How `-object`/`-device` are written: QemuOpts (`key=value,...`)
    /// or JSON (what libvirt writes); an imported line keeps its own.
    #[serde(default, skip_serializing_if = "Syntax::is_opts")]
    pub syntax: Syntax,
    /// CXL on q35 (`cxl=on`, host bridges, ports, switches, type-3
    /// devices, fixed memory windows); `None` without CXL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cxl: Option<crate::core::cxl::Cxl>,
    /// Rules silenced for this profile, by code (`QP100`) or name; see
    /// `qpmem check --explain CODE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// What an imported libvirt domain holds that qpmem does not model
    /// (its disks and interfaces, graphics, `<uuid>`, ...), as XML with
    /// the element it sat in; `render --format libvirt` writes it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libvirt: Vec<crate::core::libvirt_kept::KeptElement>,
}

fn default_machine() -> String {
    "pc".to_string()
}
fn default_ram() -> Size {
    Size::gib(2)
}
fn default_cpus() -> u32 {
    2
}

/// The syntax of the memory options on the rendered command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Syntax {
    /// `-object memory-backend-file,id=mem1,...`
    #[default]
    Opts,
    /// `-object '{"qom-type":"memory-backend-file","id":"mem1",...}'`
    Json,
}

impl Syntax {
    fn is_opts(&self) -> bool {
        *self == Syntax::Opts
    }
}

/// A value qpmem picks itself, or one the user fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Auto<T> {
    #[default]
    Auto,
    Fixed(T),
}

impl<T: Copy> Auto<T> {
    pub fn fixed(self) -> Option<T> {
        match self {
            Auto::Auto => None,
            Auto::Fixed(v) => Some(v),
        }
    }
}

/// One `-numa node` of a pasted line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumaNode {
    /// `nodeid=`; `None` takes the next number, as QEMU does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodeid: Option<u32>,
    /// Each `cpus=` as written (`0-1`); QEMU takes the option repeatedly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<String>,
    /// `memdev=` and the backend it names: the node's RAM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memdev: Option<NumaMemory>,
    /// The legacy `mem=` (machine types up to 5.0 only; QP021).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<Size>,
    /// `initiator=` (HMAT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<u32>,
    /// Other properties as written (`key=value`), kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl NumaNode {
    /// The RAM the node holds: its backend's size, or `mem=`.
    pub fn ram(&self) -> u64 {
        self.memdev
            .as_ref()
            .map_or(0, |m| m.size.0)
            .saturating_add(self.mem.map_or(0, |m| m.0))
    }
}

/// The `-object memory-backend-ram|file|memfd` a NUMA node's `memdev=` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumaMemory {
    pub id: String,
    /// `memory-backend-ram`, `memory-backend-file` or `memory-backend-memfd`.
    #[serde(default = "default_numa_backend")]
    pub backend: String,
    pub size: Size,
    /// The backend's other properties as written (`mem-path=/x`,
    /// `host-nodes=[0]` from JSON), kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn default_numa_backend() -> String {
    "memory-backend-ram".to_string()
}

/// `-numa dist,src=,dst=,val=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumaDistance {
    pub src: u32,
    pub dst: u32,
    pub val: u32,
}

impl Profile {
    /// An empty profile with sensible VM settings and no devices.
    pub fn empty(name: &str) -> Profile {
        Profile {
            version: PROFILE_VERSION,
            name: name.to_string(),
            description: String::new(),
            arch: Arch::X86_64,
            guest_page_size: None,
            machine: default_machine(),
            machine_options: Vec::new(),
            ram: default_ram(),
            cpus: default_cpus(),
            slots: Auto::Auto,
            maxmem: Auto::Auto,
            spare_slots: 0,
            numa_nodes: 0,
            numa: Vec::new(),
            numa_distances: Vec::new(),
            qemu: None,
            kernel: None,
            initrd: None,
            append: None,
            disks: Vec::new(),
            extra_args: Vec::new(),
            devices: Vec::new(),
            syntax: Syntax::Opts,
            cxl: None,
            allow: Vec::new(),
            libvirt: Vec::new(),
        }
    }

    /// The built-in default: the recipe from Ross Zwisler's "pmem in QEMU"
    /// page: two 17 GiB NVDIMMs, label-size 2M, align 128M, shared file
    /// backends under `data_dir`.
    pub fn seed(data_dir: &Path) -> Profile {
        let mut p = Profile::empty("default");
        p.description =
            "Two 17 GiB labelled NVDIMMs, align=128M (the classic pmem-in-QEMU recipe)".to_string();
        p.devices = (1..=2)
            .map(|n| Dimm::nvdimm(n, data_dir.join(format!("nvdimm-{n}")), Size::gib(17)))
            .collect();
        p
    }

    /// The recipe exactly as the "pmem in QEMU" page writes it: `-m
    /// 512M,slots=2,maxmem=40G` and two 17G NVDIMMs with label-size=2M,
    /// with `align` as given (the page uses 128M; without it nv2 misses a
    /// section boundary). Tests, benches and examples start from it.
    pub fn original_recipe(data_dir: &Path, align: Option<Size>) -> Profile {
        let mut p = Profile::seed(data_dir);
        p.ram = Size::mib(512);
        p.slots = Auto::Fixed(2);
        p.maxmem = Auto::Fixed(Size::gib(40));
        for d in &mut p.devices {
            d.align = align;
        }
        p
    }

    pub fn machine_family(&self) -> Option<MachineFamily> {
        MachineFamily::of(&self.machine)
    }

    /// The guest's page size: `guest_page_size`, else 4 KiB.
    pub fn page_size(&self) -> u64 {
        self.guest_page_size.map_or(4 * KIB, |s| s.0)
    }

    /// Linux's memory section size in this guest (its arch and page
    /// size); 128 MiB for a page size the arch does not build (QP605
    /// reports it).
    pub fn section_size(&self) -> u64 {
        self.arch
            .section_size(self.page_size())
            .unwrap_or(128 * MIB)
    }

    /// The `-cpu` model in `extra_args` (the part before any `,`), if
    /// one is given.
    pub fn cpu_model(&self) -> Option<&str> {
        self.extra_args
            .windows(2)
            .rev()
            .find(|w| matches!(w[0].as_str(), "-cpu" | "--cpu"))
            .map(|w| w[1].split(',').next().unwrap_or(""))
    }

    /// Firmware the command line loads: `-bios`, `-pflash`, a `-drive`
    /// with `if=pflash`, or `-machine firmware=`.
    pub fn has_firmware(&self) -> bool {
        let args = &self.extra_args;
        let option = |w: &[String], names: &[&str]| {
            let name = w[0].trim_start_matches('-');
            w[0].starts_with('-') && names.contains(&name)
        };
        args.windows(2).any(|w| {
            option(w, &["bios", "pflash"])
                || (option(w, &["drive"]) && w[1].split(',').any(|o| o == "if=pflash"))
        }) || self
            .machine_options
            .iter()
            .any(|o| o.starts_with("firmware="))
    }

    /// An aarch64 profile on the `virt` machine with a 64-bit CPU, as a
    /// new arm64 VM starts out (firmware is added by QP600's fix from what
    /// the host has).
    pub fn make_aarch64(&mut self) {
        self.arch = Arch::Aarch64;
        if MachineFamily::of(&self.machine) != Some(MachineFamily::Virt) {
            self.machine = "virt".to_string();
            self.machine_options.clear();
        }
        if self.cpu_model().is_none() {
            self.extra_args
                .extend(["-cpu".to_string(), "max".to_string()]);
        }
    }

    /// The QEMU binary the profile asks for, or the one for its arch.
    pub fn qemu_binary(&self) -> PathBuf {
        self.qemu
            .clone()
            .unwrap_or_else(|| PathBuf::from(self.arch.qemu_binary()))
    }

    /// `slots=` as rendered: fixed, or the devices that take a slot (DIMMs,
    /// not virtio devices) + spare slots (at least 1).
    pub fn effective_slots(&self) -> u32 {
        match self.slots {
            Auto::Fixed(n) => n,
            Auto::Auto => {
                let dimms = self
                    .devices
                    .iter()
                    .filter(|d| d.kind.spec().takes_slot())
                    .count();
                let n = u32::try_from(dimms).unwrap_or(u32::MAX);
                n.saturating_add(self.spare_slots).max(1)
            }
        }
    }

    /// `maxmem=` as rendered: fixed, or RAM plus every device's footprint in
    /// the device memory region, rounded up to 1 GiB above RAM when there
    /// is nothing to place (QEMU needs maxmem > RAM once slots are given),
    /// plus room for each spare slot to be hotplugged: the largest
    /// device's footprint (1 GiB when there is none) per spare slot.
    pub fn effective_maxmem(&self) -> u64 {
        match self.maxmem {
            Auto::Fixed(m) => m.0,
            Auto::Auto => {
                let footprints: Vec<u64> = self
                    .devices
                    .iter()
                    .map(|d| crate::core::device::footprint(d).unwrap_or(d.size.0))
                    .collect();
                let need = footprints.iter().fold(0u64, |a, b| a.saturating_add(*b));
                let need = if need == 0 { GIB } else { need };
                let spare = footprints
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(GIB)
                    .saturating_mul(u64::from(self.spare_slots));
                let need = need.saturating_add(spare);
                let total = self.ram.0.saturating_add(need);
                crate::core::size::align_up(total, 4096).unwrap_or(total)
            }
        }
    }

    /// Whether the command line has memory hotplug options (`slots=`,
    /// `maxmem=`): when a device needs them, when the user fixed either,
    /// or when spare slots are asked for. A profile without any renders
    /// `-m RAM` alone, as a pasted line without them said.
    pub fn memory_hotplug(&self) -> bool {
        !self.devices.is_empty()
            || self.slots != Auto::Auto
            || self.maxmem != Auto::Auto
            || self.spare_slots > 0
    }

    /// NUMA nodes the command line declares: the listed ones (`numa`) or
    /// qpmem's own (`numa_nodes`), plus any `-numa node` kept in
    /// `extra_args`.
    pub fn declared_numa_nodes(&self) -> u32 {
        let kept = self
            .extra_args
            .windows(2)
            .filter(|w| {
                matches!(w[0].as_str(), "-numa" | "--numa")
                    && (w[1] == "node" || w[1].starts_with("node,"))
            })
            .count();
        let own = if self.numa.is_empty() {
            self.numa_nodes
        } else {
            u32::try_from(self.numa.len()).unwrap_or(u32::MAX)
        };
        own.saturating_add(u32::try_from(kept).unwrap_or(u32::MAX))
    }

    /// The node id QEMU gives each listed node, in order: `nodeid=`, or
    /// the number of nodes declared before it (hw/core/numa.c).
    pub fn numa_node_ids(&self) -> Vec<u32> {
        self.numa
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.nodeid
                    .unwrap_or_else(|| u32::try_from(i).unwrap_or(u32::MAX))
            })
            .collect()
    }

    /// Each NUMA node's id and RAM, as the command line gives them: the
    /// listed nodes (RAM from `memdev`'s size or `mem=`), else qpmem's
    /// own equal shares. Empty when the line declares no node.
    pub fn numa_ram(&self) -> Vec<(u32, u64)> {
        if self.numa.is_empty() {
            let n = u64::from(self.numa_nodes);
            return (0..self.numa_nodes)
                .map(|i| {
                    let share = self.ram.0 / n;
                    let last = u64::from(i) + 1 == n;
                    (
                        i,
                        if last {
                            self.ram.0 - share * (n - 1)
                        } else {
                            share
                        },
                    )
                })
                .collect();
        }
        self.numa_node_ids()
            .into_iter()
            .zip(&self.numa)
            .map(|(id, n)| (id, n.ram()))
            .collect()
    }

    /// The next number no kind's new device would clash at: no device has
    /// the id or the memdev any kind names its device `n` with (`nvN`/
    /// `memN`, `dimmN`/`ramN`, `vpmemN`/`vpmem-memN`, `vmemN`/`vmem-ramN`).
    pub fn next_device_number(&self) -> usize {
        (1..)
            .find(|n| {
                DimmKind::ALL.iter().all(|k| {
                    let new = k.spec().new_device(*n, PathBuf::new(), Size(0));
                    !self
                        .devices
                        .iter()
                        .any(|d| d.id == new.id || d.memdev == new.memdev)
                })
            })
            .unwrap_or(1)
    }
}

/// Is this a valid QEMU id? A letter, then letters, digits, `-`, `.`, `_`.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A string in a profile that cannot become a QEMU argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StringError {
    #[error("{field}: {what} contains a NUL byte: \"{value}\"")]
    Nul {
        field: String,
        what: &'static str,
        value: String,
    },
    #[error("{field}: {what} contains a control character: \"{value}\" (a QEMU argument may not hold one)")]
    Control {
        field: String,
        what: &'static str,
        value: String,
    },
    #[error("{field}: not one XML element: {reason}")]
    NotAnElement { field: String, reason: String },
}

/// Refuse a NUL or another control character in one argument string; the
/// value in the error is escaped so printing it is harmless.
fn check_string(
    field: impl Fn() -> String,
    what: &'static str,
    s: &str,
) -> Result<(), StringError> {
    let value = || crate::core::printable::printable(s).into_owned();
    if s.contains('\0') {
        return Err(StringError::Nul {
            field: field(),
            what,
            value: value(),
        });
    }
    if s.chars().any(crate::core::printable::is_control) {
        return Err(StringError::Control {
            field: field(),
            what,
            value: value(),
        });
    }
    Ok(())
}

fn check_path(field: impl Fn() -> String, p: &Path) -> Result<(), StringError> {
    check_string(field, "path", &p.to_string_lossy())
}

impl Profile {
    /// Check every string that becomes a QEMU argument, and each kept
    /// libvirt element (one well-formed element, so writing it back cannot
    /// break the domain around it). No argument may hold a NUL
    /// (argv cannot carry one, so the script and the JSON argv would differ)
    /// or another control character (printing the script would send it to
    /// the terminal). Loading a file ([`crate::core::profile_ron::parse_profile`]) and
    /// importing a command line ([`crate::core::cmdline::import`]) both call this.
    /// The name and description are not arguments; they are escaped where
    /// they are shown.
    pub fn check_strings(&self) -> Result<(), StringError> {
        let f = |s: &'static str| move || s.to_string();
        check_string(f("machine"), "value", &self.machine)?;
        for (i, o) in self.machine_options.iter().enumerate() {
            check_string(|| format!("machine_options[{i}]"), "option", o)?;
        }
        for (field, p) in [
            ("qemu", &self.qemu),
            ("kernel", &self.kernel),
            ("initrd", &self.initrd),
        ] {
            if let Some(p) = p {
                check_path(f(field), p)?;
            }
        }
        if let Some(a) = &self.append {
            check_string(f("append"), "value", a)?;
        }
        for (i, d) in self.disks.iter().enumerate() {
            check_path(|| format!("disks[{i}]"), d)?;
        }
        for (i, a) in self.extra_args.iter().enumerate() {
            check_string(|| format!("extra_args[{i}]"), "argument", a)?;
        }
        for (i, n) in self.numa.iter().enumerate() {
            for (j, c) in n.cpus.iter().enumerate() {
                check_string(|| format!("numa[{i}].cpus[{j}]"), "value", c)?;
            }
            for (j, o) in n.options.iter().enumerate() {
                check_string(|| format!("numa[{i}].options[{j}]"), "option", o)?;
            }
            if let Some(m) = &n.memdev {
                check_string(|| format!("numa[{i}].memdev.id"), "id", &m.id)?;
                check_string(|| format!("numa[{i}].memdev.backend"), "value", &m.backend)?;
                for (j, o) in m.options.iter().enumerate() {
                    check_string(|| format!("numa[{i}].memdev.options[{j}]"), "option", o)?;
                }
            }
        }
        if let Some(cxl) = &self.cxl {
            for (i, id) in cxl.ids().into_iter().enumerate() {
                check_string(|| format!("cxl id #{i}"), "id", id)?;
            }
            for (d, _) in cxl.devices() {
                for m in [&d.persistent, &d.volatile, &d.lsa].into_iter().flatten() {
                    if let Some(p) = m.backend.path() {
                        check_path(|| format!("cxl {}: {}", d.id, m.id), p)?;
                    }
                    for o in &m.options {
                        check_string(|| format!("cxl {}: {}", d.id, m.id), "option", o)?;
                    }
                }
                for o in &d.options {
                    check_string(|| format!("cxl {}", d.id), "option", o)?;
                }
            }
            for hb in &cxl.host_bridges {
                check_string(|| format!("cxl {}.bus", hb.id), "id", &hb.bus)?;
            }
            for (n, w) in cxl.windows.iter().enumerate() {
                for t in &w.targets {
                    check_string(|| format!("cxl windows[{n}].targets"), "id", t)?;
                }
            }
        }
        for (i, k) in self.libvirt.iter().enumerate() {
            crate::core::libvirt_kept::check(&k.xml).map_err(|reason| {
                StringError::NotAnElement {
                    field: format!("libvirt[{i}].xml"),
                    reason,
                }
            })?;
        }
        for (i, d) in self.devices.iter().enumerate() {
            check_string(|| format!("devices[{i}].id"), "id", &d.id)?;
            check_string(|| format!("devices[{i}].memdev"), "id", &d.memdev)?;
            if let Some(p) = d.backend.path() {
                check_path(|| format!("devices[{i}].backend"), p)?;
            }
            for (j, o) in d.backend_options.iter().enumerate() {
                check_string(|| format!("devices[{i}].backend_options[{j}]"), "option", o)?;
            }
            for (j, o) in d.device_options.iter().enumerate() {
                check_string(|| format!("devices[{i}].device_options[{j}]"), "option", o)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("nv1"));
        assert!(is_valid_id("a-b.c_d"));
        assert!(!is_valid_id("1nv"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("nv 1"));
        assert!(!is_valid_id("nv,1"));
    }

    #[test]
    fn automatic_slots_count_devices_and_spares() {
        let mut p = Profile::seed(Path::new("/tmp"));
        assert_eq!(p.effective_slots(), 2);
        p.spare_slots = 2;
        assert_eq!(p.effective_slots(), 4);
        p.devices.clear();
        p.spare_slots = 0;
        assert_eq!(p.effective_slots(), 1);
        p.slots = Auto::Fixed(8);
        assert_eq!(p.effective_slots(), 8);
    }

    #[test]
    fn automatic_maxmem_leaves_room_for_each_spare_slot() {
        let mut p = Profile::seed(Path::new("/tmp"));
        let without = p.effective_maxmem();
        p.spare_slots = 2;
        let footprint = crate::core::device::footprint(&p.devices[0]).unwrap();
        assert_eq!(p.effective_maxmem(), without + 2 * footprint);
        p.devices.clear();
        assert_eq!(p.effective_maxmem(), p.ram.0 + GIB + 2 * GIB);
    }

    #[test]
    fn next_device_number_skips_used_names() {
        let p = Profile::seed(Path::new("/tmp"));
        assert_eq!(p.next_device_number(), 3);
        assert_eq!(Profile::empty("x").next_device_number(), 1);
    }
}
