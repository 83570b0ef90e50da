//! The properties each option group accepts, by QEMU release: pure data.
//!
//! One table per group (`-machine` pc/q35, `-m`, `-numa`, the memory
//! backends, the memory devices) lists every property a QEMU from 2.6 to
//! 10.x accepts there, with the release that added it and, where one did,
//! the release that removed it. The import reads a pasted line against
//! it: a name in no release is an error with a did-you-mean.
//!
//! The 7.2 column is held against the real binary's own lists
//! (`-machine q35,help`, `-device nvdimm,help`,
//! `-object memory-backend-file,help`, ...) in `tests/props_table.rs`.
//! Entries marked `verified` have their release from QEMU's
//! source, and only those make a line an error on an older (or, past
//! `until`, a newer) QEMU (QP402): the memory properties as
//! ../shared/DOMAIN.md records them from QEMU's history (discard-data
//! 2.11, align 2.12, pmem 3.1, readonly 6.0, offset 8.1, label-size 2.7,
//! unarmed 2.12, uuid 5.0, nvdimm-persistence 3.0), and, checked for this
//! table against qapi/qom.json's `(since X.Y)` notes and the patches that
//! added them: reserve 6.1, prealloc-threads 5.0, prealloc-context 7.2,
//! rom 8.2. Every other release given (the other `-machine` properties,
//! `-numa`'s, the PCI/virtio ones of virtio-pmem-pci and virtio-mem-pci)
//! is the earliest one qpmem knows them in, unchecked: it never refuses
//! anything.

use super::QemuVersion;

/// An option group: what comes after `-machine`, `-m`, `-numa TYPE`,
/// `-object QOM-TYPE`, `-device DRIVER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `-machine pc` / `q35` (and their versioned names).
    Machine,
    /// `-machine virt` (arm64, and its versioned names).
    MachineVirt,
    /// `-m`.
    Memory,
    NumaNode,
    NumaDist,
    NumaCpu,
    NumaHmatLb,
    NumaHmatCache,
    BackendFile,
    BackendRam,
    BackendMemfd,
    Nvdimm,
    PcDimm,
    VirtioPmemPci,
    VirtioMemPci,
    /// `-device pxb-cxl`.
    PxbCxl,
    /// `-device cxl-rp`.
    CxlRootPort,
    /// `-device cxl-upstream`.
    CxlUpstream,
    /// `-device cxl-downstream`.
    CxlDownstream,
    /// `-device cxl-type3`.
    CxlType3,
}

/// One property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    pub name: &'static str,
    /// The first release that accepts it (2.6 stands for "2.6 or older").
    pub since: (u16, u16),
    /// The first release that no longer accepts it.
    pub until: Option<(u16, u16)>,
    /// Whether `,help` lists it: machine properties added per instance
    /// (`nvdimm`), the accelerator's legacy ones (`accel=`) and
    /// read-only ones are accepted (or refused as "not writable") without
    /// being listed.
    pub listed: bool,
    /// Read-only: QEMU reports it but refuses a value ("Property
    /// 'nvdimm.size' is not writable").
    pub read_only: bool,
    /// `since`/`until` come from QEMU's source (see the module docs):
    /// only these are used to refuse a line.
    pub verified: bool,
}

impl Prop {
    /// Is it accepted by `v`?
    pub fn in_version(&self, v: QemuVersion) -> bool {
        let at = |(major, minor): (u16, u16)| QemuVersion::new(major.into(), minor.into(), 0);
        v >= at(self.since) && self.until.is_none_or(|u| v < at(u))
    }
}

const fn p(name: &'static str, since: (u16, u16)) -> Prop {
    Prop {
        name,
        since,
        until: None,
        listed: true,
        read_only: false,
        verified: false,
    }
}

/// An entry whose release was checked against QEMU's source.
const fn verified(prop: Prop) -> Prop {
    Prop {
        verified: true,
        ..prop
    }
}

/// Accepted but not in `,help`.
const fn hidden(name: &'static str, since: (u16, u16)) -> Prop {
    Prop {
        listed: false,
        ..p(name, since)
    }
}

const fn gone(name: &'static str, since: (u16, u16), until: (u16, u16)) -> Prop {
    Prop {
        until: Some(until),
        ..p(name, since)
    }
}

const fn read_only(name: &'static str, since: (u16, u16)) -> Prop {
    Prop {
        read_only: true,
        ..p(name, since)
    }
}

const OLD: (u16, u16) = (2, 6);

const MACHINE: &[Prop] = &[
    hidden("type", OLD),
    // The accelerator's properties, still accepted on -machine.
    hidden("accel", OLD),
    hidden("kernel-irqchip", OLD),
    hidden("kvm-shadow-mem", OLD),
    // Per-instance properties of the PC machines.
    hidden("nvdimm", (2, 6)),
    verified(hidden("nvdimm-persistence", (3, 0))),
    hidden("hmat", (5, 0)),
    hidden("cxl", (7, 1)),
    hidden("cxl-fmw", (7, 1)),
    gone("iommu", OLD, (2, 8)),
    p("acpi", (5, 2)),
    p("append", OLD),
    p("boot", (7, 0)),
    p("bus-lock-ratelimit", (7, 1)),
    p("confidential-guest-support", (6, 0)),
    p("default-bus-bypass-iommu", (6, 1)),
    p("dt-compatible", OLD),
    p("dtb", OLD),
    p("dump-guest-core", OLD),
    p("dumpdtb", OLD),
    p("firmware", OLD),
    p("graphics", OLD),
    p("hpet", (7, 0)),
    p("i8042", (7, 2)),
    p("initrd", OLD),
    p("kernel", OLD),
    p("max-fw-size", (5, 2)),
    p("max-ram-below-4g", OLD),
    p("mem-merge", OLD),
    p("memory-backend", (5, 0)),
    p("memory-encryption", (2, 12)),
    p("memory", (7, 0)),
    p("phandle-start", OLD),
    p("pic", (7, 1)),
    p("pit", (5, 2)),
    p("sata", OLD),
    p("sgx-epc", (6, 2)),
    p("smbios-entry-point-type", (7, 0)),
    p("smbus", OLD),
    p("smm", OLD),
    p("smp", (6, 1)),
    p("suppress-vmdesc", OLD),
    p("usb", OLD),
    p("vmport", OLD),
    p("x-oem-id", (5, 2)),
    p("x-oem-table-id", (5, 2)),
];

/// `-machine virt` (hw/arm/virt.c); the 7.2 column from the binary's
/// `-machine virt,help`. `highmem-redists`, `highmem-ecam` and
/// `highmem-mmio` are QEMU 8.0's (7.2 refuses them: "Property
/// 'virt-7.2-machine.highmem-ecam' not found").
const MACHINE_VIRT: &[Prop] = &[
    hidden("type", OLD),
    hidden("accel", OLD),
    hidden("kernel-irqchip", OLD),
    hidden("kvm-shadow-mem", OLD),
    // Per-instance properties: the NVDIMM ones (virt 5.1) and HMAT.
    hidden("nvdimm", (5, 1)),
    hidden("nvdimm-persistence", (5, 1)),
    hidden("hmat", (5, 0)),
    p("acpi", (4, 0)),
    p("append", OLD),
    p("boot", (7, 0)),
    p("confidential-guest-support", (6, 0)),
    p("default-bus-bypass-iommu", (6, 1)),
    p("dt-compatible", OLD),
    p("dtb-kaslr-seed", (6, 2)),
    p("dtb-randomness", (7, 2)),
    p("dtb", OLD),
    p("dump-guest-core", OLD),
    p("dumpdtb", OLD),
    p("firmware", OLD),
    p("gic-version", OLD),
    p("graphics", OLD),
    p("highmem", OLD),
    p("highmem-ecam", (8, 0)),
    p("highmem-mmio", (8, 0)),
    p("highmem-redists", (8, 0)),
    p("initrd", OLD),
    p("iommu", (2, 12)),
    p("its", (2, 8)),
    p("kernel", OLD),
    p("mem-merge", OLD),
    p("memory-backend", (5, 0)),
    p("memory-encryption", (2, 12)),
    p("memory", (7, 0)),
    p("mte", (6, 0)),
    p("phandle-start", OLD),
    p("ras", (5, 0)),
    p("secure", OLD),
    p("smp", (6, 1)),
    p("suppress-vmdesc", OLD),
    p("usb", OLD),
    p("virtualization", (2, 12)),
    p("x-oem-id", (5, 2)),
    p("x-oem-table-id", (5, 2)),
];

const MEMORY: &[Prop] = &[p("size", OLD), p("slots", OLD), p("maxmem", OLD)];

const NUMA_NODE: &[Prop] = &[
    p("type", OLD),
    p("nodeid", OLD),
    p("cpus", OLD),
    // Refused on machine types 5.1+ (QP021), gone in QEMU 5.1 itself for
    // them; older machine types still take it.
    p("mem", OLD),
    p("memdev", OLD),
    p("initiator", (5, 0)),
];
const NUMA_DIST: &[Prop] = &[
    p("type", OLD),
    p("src", (2, 10)),
    p("dst", (2, 10)),
    p("val", (2, 10)),
];
const NUMA_CPU: &[Prop] = &[
    p("type", (2, 10)),
    p("node-id", (2, 10)),
    p("socket-id", (2, 10)),
    p("die-id", (4, 1)),
    p("cluster-id", (7, 0)),
    p("core-id", (2, 10)),
    p("thread-id", (2, 10)),
];
const NUMA_HMAT_LB: &[Prop] = &[
    p("type", (5, 0)),
    p("initiator", (5, 0)),
    p("target", (5, 0)),
    p("hierarchy", (5, 0)),
    p("data-type", (5, 0)),
    p("latency", (5, 0)),
    p("bandwidth", (5, 0)),
];
const NUMA_HMAT_CACHE: &[Prop] = &[
    p("type", (5, 0)),
    p("node-id", (5, 0)),
    p("size", (5, 0)),
    p("level", (5, 0)),
    p("associativity", (5, 0)),
    p("policy", (5, 0)),
    p("line", (5, 0)),
];

/// Every `-object`: `qom-type` (implied) and `id`.
const OBJECT: &[Prop] = &[hidden("qom-type", OLD), hidden("id", OLD)];
/// Every memory backend (backends/hostmem.c).
const BACKEND: &[Prop] = &[
    p("size", OLD),
    p("merge", OLD),
    p("dump", OLD),
    p("host-nodes", OLD),
    p("policy", OLD),
    p("prealloc", OLD),
    verified(p("prealloc-threads", (5, 0))),
    verified(p("prealloc-context", (7, 2))),
    p("share", OLD),
    verified(p("reserve", (6, 1))),
    p("x-use-canonical-path-for-ramblock-id", (4, 0)),
];
const BACKEND_FILE: &[Prop] = &[
    p("mem-path", OLD),
    verified(p("discard-data", (2, 11))),
    verified(p("align", (2, 12))),
    verified(p("pmem", (3, 1))),
    verified(p("readonly", (6, 0))),
    verified(p("offset", (8, 1))),
    verified(p("rom", (8, 2))),
];
const BACKEND_MEMFD: &[Prop] = &[
    p("hugetlb", (2, 12)),
    p("hugetlbsize", (2, 12)),
    p("seal", (2, 12)),
];

/// Every `-device`: `driver` (implied), `id`, `bus`, and the hidden
/// `failover_pair_id` of PCI devices is listed with them below.
const DEVICE: &[Prop] = &[hidden("driver", OLD), hidden("id", OLD), hidden("bus", OLD)];
const DIMM: &[Prop] = &[
    p("addr", OLD),
    p("memdev", OLD),
    p("node", OLD),
    p("slot", OLD),
    read_only("size", OLD),
];
const NVDIMM: &[Prop] = &[
    verified(p("label-size", (2, 7))),
    verified(p("unarmed", (2, 12))),
    verified(p("uuid", (5, 0))),
];
/// virtio-*-pci: the PCI and virtio transport's own properties.
const VIRTIO_PCI: &[Prop] = &[
    p("acpi-index", (6, 0)),
    p("addr", OLD),
    p("aer", OLD),
    p("any_layout", OLD),
    p("ats", OLD),
    p("disable-legacy", OLD),
    p("disable-modern", OLD),
    p("event_idx", OLD),
    p("failover_pair_id", (4, 2)),
    p("indirect_desc", OLD),
    p("iommu_platform", OLD),
    p("migrate-extra", OLD),
    p("modern-pio-notify", OLD),
    p("multifunction", OLD),
    p("notify_on_empty", OLD),
    p("packed", (4, 0)),
    p("page-per-vq", OLD),
    p("queue_reset", (7, 2)),
    p("rombar", OLD),
    p("romfile", OLD),
    p("romsize", (5, 2)),
    p("use-disabled-flag", OLD),
    p("use-started", (4, 1)),
    p("virtio-pci-bus-master-bug-migration", OLD),
    p("x-ats-page-aligned", (5, 0)),
    p("x-disable-legacy-check", (6, 2)),
    p("x-disable-pcie", OLD),
    p("x-ignore-backend-features", (5, 1)),
    p("x-pcie-deverr-init", OLD),
    p("x-pcie-extcap-init", OLD),
    p("x-pcie-flr-init", OLD),
    p("x-pcie-lnkctl-init", OLD),
    p("x-pcie-lnksta-dllla", OLD),
    p("x-pcie-pm-init", OLD),
];
const VIRTIO_PMEM: &[Prop] = &[
    p("memaddr", (4, 1)),
    p("memdev", (4, 1)),
    p("virtio-backend", (4, 1)),
];
const VIRTIO_MEM: &[Prop] = &[
    p("memaddr", (5, 1)),
    p("memdev", (5, 1)),
    p("virtio-backend", (5, 1)),
    p("block-size", (5, 1)),
    p("node", (5, 1)),
    p("prealloc", (7, 1)),
    p("requested-size", (5, 1)),
    p("size", (5, 1)),
    p("unplugged-inaccessible", (7, 0)),
];

/// Every PCI device's own properties (hw/pci/pci.c), as the CXL devices
/// list them in 7.2.
const PCI: &[Prop] = &[
    p("acpi-index", (6, 0)),
    p("addr", OLD),
    p("failover_pair_id", (4, 2)),
    p("multifunction", OLD),
    p("rombar", OLD),
    p("romfile", OLD),
    p("romsize", (5, 2)),
    p("x-pcie-extcap-init", OLD),
    p("x-pcie-lnksta-dllla", OLD),
];
/// hw/pci-bridge/pci_expander_bridge.c. CXL came in 7.1 (unchecked).
const PXB_CXL: &[Prop] = &[
    p("bus_nr", (7, 1)),
    p("bypass_iommu", (7, 1)),
    p("numa_node", (7, 1)),
];
/// hw/pci-bridge/cxl_root_port.c (a PCIe root port's properties).
const CXL_RP: &[Prop] = &[
    p("aer_log_max", (7, 1)),
    p("bus-reserve", (7, 1)),
    p("chassis", (7, 1)),
    p("disable-acs", (7, 1)),
    p("hotplug", (7, 1)),
    p("io-reserve", (7, 1)),
    p("mem-reserve", (7, 1)),
    p("port", (7, 1)),
    p("power_controller_present", (7, 1)),
    p("pref32-reserve", (7, 1)),
    p("pref64-reserve", (7, 1)),
    p("slot", (7, 1)),
    p("x-native-hotplug", (7, 1)),
];
/// hw/pci-bridge/cxl_upstream.c.
const CXL_UPSTREAM: &[Prop] = &[
    p("aer_log_max", (7, 1)),
    p("cdat", (7, 2)),
    p("port", (7, 1)),
    p("sn", (9, 0)),
];
/// hw/pci-bridge/cxl_downstream.c.
const CXL_DOWNSTREAM: &[Prop] = &[
    p("aer_log_max", (7, 1)),
    p("chassis", (7, 1)),
    p("hotplug", (7, 1)),
    p("port", (7, 1)),
    p("slot", (7, 1)),
    p("x-native-hotplug", (7, 1)),
];
/// hw/mem/cxl_type3.c: `memdev` (7.1, deprecated from 8.0 for
/// `persistent-memdev`), `volatile-memdev` 8.0; checked against 7.2,
/// which refuses persistent-memdev ("Property
/// 'cxl-type3.persistent-memdev' not found").
const CXL_TYPE3: &[Prop] = &[
    p("memdev", (7, 1)),
    p("lsa", (7, 1)),
    p("sn", (7, 1)),
    p("cdat", (7, 2)),
    verified(p("persistent-memdev", (8, 0))),
    verified(p("volatile-memdev", (8, 0))),
];

impl Group {
    /// The group a `-object` QOM type or `-device` driver opens, if the
    /// table has it.
    pub fn of_object(qom_type: &str) -> Option<Group> {
        match qom_type {
            "memory-backend-file" => Some(Group::BackendFile),
            "memory-backend-ram" => Some(Group::BackendRam),
            "memory-backend-memfd" => Some(Group::BackendMemfd),
            _ => None,
        }
    }

    pub fn of_device(driver: &str) -> Option<Group> {
        match driver {
            "nvdimm" => Some(Group::Nvdimm),
            "pc-dimm" => Some(Group::PcDimm),
            "virtio-pmem-pci" => Some(Group::VirtioPmemPci),
            "virtio-mem-pci" => Some(Group::VirtioMemPci),
            "pxb-cxl" => Some(Group::PxbCxl),
            "cxl-rp" => Some(Group::CxlRootPort),
            "cxl-upstream" => Some(Group::CxlUpstream),
            "cxl-downstream" => Some(Group::CxlDownstream),
            "cxl-type3" => Some(Group::CxlType3),
            _ => None,
        }
    }

    pub fn of_numa(kind: &str) -> Option<Group> {
        match kind {
            "node" => Some(Group::NumaNode),
            "dist" => Some(Group::NumaDist),
            "cpu" => Some(Group::NumaCpu),
            "hmat-lb" => Some(Group::NumaHmatLb),
            "hmat-cache" => Some(Group::NumaHmatCache),
            _ => None,
        }
    }

    /// The `-machine` group of a machine of `arch`.
    pub fn machine(arch: crate::core::arch::Arch) -> Group {
        match arch {
            crate::core::arch::Arch::X86_64 => Group::Machine,
            crate::core::arch::Arch::Aarch64 => Group::MachineVirt,
        }
    }

    /// How the option is written on the command line, for messages.
    pub fn option(self) -> &'static str {
        match self {
            Group::Machine | Group::MachineVirt => "-machine",
            Group::Memory => "-m",
            Group::NumaNode => "-numa node",
            Group::NumaDist => "-numa dist",
            Group::NumaCpu => "-numa cpu",
            Group::NumaHmatLb => "-numa hmat-lb",
            Group::NumaHmatCache => "-numa hmat-cache",
            Group::BackendFile | Group::BackendRam | Group::BackendMemfd => {
                "-object memory-backend-*"
            }
            Group::Nvdimm => "-device nvdimm",
            Group::PcDimm => "-device pc-dimm",
            Group::VirtioPmemPci => "-device virtio-pmem-pci",
            Group::VirtioMemPci => "-device virtio-mem-pci",
            Group::PxbCxl => "-device pxb-cxl",
            Group::CxlRootPort => "-device cxl-rp",
            Group::CxlUpstream => "-device cxl-upstream",
            Group::CxlDownstream => "-device cxl-downstream",
            Group::CxlType3 => "-device cxl-type3",
        }
    }

    /// The tables that make up the group, in order.
    fn parts(self) -> &'static [&'static [Prop]] {
        match self {
            Group::Machine => &[MACHINE],
            Group::MachineVirt => &[MACHINE_VIRT],
            Group::Memory => &[MEMORY],
            Group::NumaNode => &[NUMA_NODE],
            Group::NumaDist => &[NUMA_DIST],
            Group::NumaCpu => &[NUMA_CPU],
            Group::NumaHmatLb => &[NUMA_HMAT_LB],
            Group::NumaHmatCache => &[NUMA_HMAT_CACHE],
            Group::BackendFile => &[OBJECT, BACKEND, BACKEND_FILE],
            Group::BackendRam => &[OBJECT, BACKEND],
            Group::BackendMemfd => &[OBJECT, BACKEND, BACKEND_MEMFD],
            Group::Nvdimm => &[DEVICE, DIMM, NVDIMM],
            Group::PcDimm => &[DEVICE, DIMM],
            Group::VirtioPmemPci => &[DEVICE, VIRTIO_PCI, VIRTIO_PMEM],
            Group::VirtioMemPci => &[DEVICE, VIRTIO_PCI, VIRTIO_MEM],
            Group::PxbCxl => &[DEVICE, PCI, PXB_CXL],
            Group::CxlRootPort => &[DEVICE, PCI, CXL_RP],
            Group::CxlUpstream => &[DEVICE, PCI, CXL_UPSTREAM],
            Group::CxlDownstream => &[DEVICE, PCI, CXL_DOWNSTREAM],
            Group::CxlType3 => &[DEVICE, PCI, CXL_TYPE3],
        }
    }

    /// Every property of the group, in any release.
    pub fn props(self) -> impl Iterator<Item = &'static Prop> {
        self.parts().iter().flat_map(|t| t.iter())
    }

    /// The property named `name`: on -machine a dotted key
    /// (`smp.cpus`, `cxl-fmw.0.size`) is found by its first part.
    pub fn find(self, name: &str) -> Option<&'static Prop> {
        let name = if matches!(self, Group::Machine | Group::MachineVirt) {
            name.split('.').next().unwrap_or(name)
        } else {
            name
        };
        self.props().find(|p| p.name == name)
    }

    /// The property a misspelt `name` most likely meant: the closest name
    /// within two edits (`lable-size` -> `label-size`).
    pub fn suggest(self, name: &str) -> Option<&'static str> {
        self.props()
            .map(|p| (edit_distance(name, p.name), p.name))
            .filter(|(d, _)| *d <= 2 && *d * 2 <= name.len())
            .min_by_key(|(d, _)| *d)
            .map(|(_, n)| n)
    }
}

/// Levenshtein distance, with a swap of two neighbours counted as one
/// edit (`lable` and `label`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_and_suggests_near_misses() {
        assert!(Group::Nvdimm.find("label-size").is_some());
        assert!(Group::Nvdimm.find("lable-size").is_none());
        assert_eq!(Group::Nvdimm.suggest("lable-size"), Some("label-size"));
        assert_eq!(Group::BackendFile.suggest("mempath"), Some("mem-path"));
        assert_eq!(Group::BackendFile.suggest("1"), None);
        assert!(Group::Machine.find("smp.cpus").is_some());
        assert!(Group::Machine.find("cxl-fmw.0.size").is_some());
        assert!(Group::BackendRam.find("mem-path").is_none());
    }

    #[test]
    fn releases() {
        let rom = Group::BackendFile.find("rom").unwrap();
        assert!(!rom.in_version(QemuVersion::new(8, 1, 0)));
        assert!(rom.in_version(QemuVersion::new(8, 2, 0)));
        assert!(rom.verified);
        // An unchecked release never refuses: not verified.
        assert!(!Group::Machine.find("acpi").unwrap().verified);
        let iommu = Group::Machine.find("iommu").unwrap();
        assert!(iommu.in_version(QemuVersion::new(2, 7, 0)));
        assert!(!iommu.in_version(QemuVersion::new(7, 2, 0)));
    }
}
