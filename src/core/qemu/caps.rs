//! What each QEMU release can do with memory devices: the properties it
//! knows and the behaviours that changed, by the release that brought
//! them (from QEMU's history; see ../shared/DOMAIN.md). Pure data: the
//! diagnostics ask [`Feature::since`] and compare with the detected
//! version.

use super::QemuVersion;

/// Something a command line may use that not every QEMU has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `-m RAM,slots=N,maxmem=M`, `pc-dimm`, `memory-backend-ram`/`-file`.
    MemoryDevices,
    /// `-device nvdimm` and `-machine nvdimm=on`.
    Nvdimm,
    /// `-device nvdimm,label-size=`.
    LabelSize,
    /// `memory-backend-file,discard-data=`.
    DiscardData,
    /// `memory-backend-file,align=`.
    Align,
    /// `-device nvdimm,unarmed=`.
    Unarmed,
    /// `-machine nvdimm-persistence=`.
    NvdimmPersistence,
    /// `memory-backend-file,pmem=`.
    Pmem,
    /// `-device nvdimm,uuid=`.
    Uuid,
    /// `memory-backend-file,align=` above 1 GiB.
    AlignAbove1G,
    /// `memory-backend-file,readonly=`.
    Readonly,
    /// `memory-backend-file,offset=`.
    Offset,
    /// `memory-backend-file,rom=`.
    Rom,
    /// `-device virtio-pmem-pci` (hw/virtio/virtio-pmem.c, QEMU 4.1).
    VirtioPmem,
    /// `-device virtio-mem-pci` (hw/virtio/virtio-mem.c, QEMU 5.1).
    VirtioMem,
}

impl Feature {
    /// The first release that has it.
    pub const fn since(self) -> QemuVersion {
        let (major, minor) = match self {
            Feature::MemoryDevices => (2, 1),
            Feature::Nvdimm => (2, 6),
            Feature::LabelSize => (2, 7),
            Feature::DiscardData => (2, 11),
            Feature::Align => (2, 12),
            Feature::Unarmed => (2, 12),
            Feature::NvdimmPersistence => (3, 0),
            Feature::Pmem => (3, 1),
            Feature::Uuid => (5, 0),
            Feature::AlignAbove1G => (5, 2),
            Feature::Readonly => (6, 0),
            Feature::Offset => (8, 1),
            Feature::Rom => (8, 2),
            Feature::VirtioPmem => (4, 1),
            Feature::VirtioMem => (5, 1),
        };
        QemuVersion::new(major, minor, 0)
    }

    /// How a person would write it on the command line.
    pub const fn spelling(self) -> &'static str {
        match self {
            Feature::MemoryDevices => "memory devices (-m slots=,maxmem=)",
            Feature::Nvdimm => "-device nvdimm",
            Feature::LabelSize => "label-size=",
            Feature::DiscardData => "discard-data=",
            Feature::Align => "align=",
            Feature::Unarmed => "unarmed=",
            Feature::NvdimmPersistence => "nvdimm-persistence=",
            Feature::Pmem => "pmem=",
            Feature::Uuid => "uuid=",
            Feature::AlignAbove1G => "align= above 1 GiB",
            Feature::Readonly => "readonly=",
            Feature::Offset => "offset=",
            Feature::Rom => "rom=",
            Feature::VirtioPmem => "-device virtio-pmem-pci",
            Feature::VirtioMem => "-device virtio-mem-pci",
        }
    }

    /// Does `version` have it?
    pub fn in_version(self, version: QemuVersion) -> bool {
        version >= self.since()
    }
}

/// Bare booleans (`share` for `share=on`) warn from this release on.
pub const BARE_BOOLEAN_DEPRECATED: QemuVersion = QemuVersion::new(6, 0, 0);
/// ... and `-machine` refuses them from this one ("Expected '=' after
/// parameter 'nvdimm'", measured on 7.2).
pub const BARE_BOOLEAN_MACHINE_REFUSED: QemuVersion = QemuVersion::new(6, 1, 0);
/// QEMU refuses a machine whose highest guest address the CPU's
/// phys-bits cannot reach (pc_memory_init, 7.1+).
pub const PHYS_BITS_CHECK: QemuVersion = QemuVersion::new(7, 1, 0);
/// Machine types from this release on move RAM above 4 GiB (and so the
/// device memory) above 1 TiB when the address space reaches the AMD
/// HyperTransport hole below 1 TiB and the vCPU vendor is AMD (the
/// default `qemu64` is).
pub const AMD_1TB_HOLE_MACHINES: QemuVersion = QemuVersion::new(7, 1, 0);

/// A release as people name it: `2.12`, `6.1`.
pub fn release(v: QemuVersion) -> String {
    format!("{}.{}", v.major, v.minor)
}

/// The version in a versioned machine type name: `pc-i440fx-7.2`,
/// `pc-q35-8.0`, old `pc-1.3`. `None` for the unversioned aliases
/// (`pc`, `q35`), which mean the running QEMU's newest.
pub fn machine_version(machine: &str) -> Option<QemuVersion> {
    let m = machine.trim();
    let v = m
        .strip_prefix("pc-i440fx-")
        .or_else(|| m.strip_prefix("pc-q35-"))
        .or_else(|| m.strip_prefix("pc-"))
        .or_else(|| m.strip_prefix("virt-"))?;
    QemuVersion::parse(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_needs_2_12() {
        assert!(!Feature::Align.in_version(QemuVersion::new(2, 11, 2)));
        assert!(Feature::Align.in_version(QemuVersion::new(2, 12, 0)));
        assert_eq!(Feature::Readonly.since(), QemuVersion::new(6, 0, 0));
        assert_eq!(Feature::Pmem.since().to_string(), "3.1.0");
    }

    #[test]
    fn machine_versions() {
        assert_eq!(
            machine_version("pc-i440fx-7.0"),
            Some(QemuVersion::new(7, 0, 0))
        );
        assert_eq!(
            machine_version("pc-q35-8.2"),
            Some(QemuVersion::new(8, 2, 0))
        );
        assert_eq!(machine_version("pc-1.3"), Some(QemuVersion::new(1, 3, 0)));
        assert_eq!(machine_version("pc"), None);
        assert_eq!(machine_version("q35"), None);
    }
}
