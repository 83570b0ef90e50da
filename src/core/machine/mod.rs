//! Machine families: what each kind of QEMU machine does with memory (its
//! architecture, where RAM starts, the RAM split below 4 GiB, where the
//! device memory region starts, the PCI hole above it). One file per
//! family implementing [`Family`] ([`pc`], [`q35`], [`virt`]); `layout`
//! and the rules ask the family instead of matching on it. Adding a
//! family is adding its file, a [`MachineFamily`] variant and its line in
//! [`MachineFamily::spec`].

pub mod pc;
pub mod q35;
pub mod virt;

use crate::core::arch::Arch;
use crate::core::size::{align_up, GIB};
use serde::Serialize;

/// What qpmem knows about one family of machines.
pub trait Family: Sync {
    /// The plain machine type name (`pc`, `q35`).
    fn name(&self) -> &'static str;
    /// `machine` (a `-machine` type name) belongs to this family.
    fn matches(&self, machine: &str) -> bool;
    /// RAM at or above this size is split: `low` bytes below 4 GiB, the
    /// rest above it (`(threshold, low)`).
    fn lowmem(&self) -> (u64, u64);
    /// The 64-bit PCI hole QEMU reserves above the device memory.
    fn pci_hole64(&self) -> u64;
    /// The guest architecture the machine belongs to.
    fn arch(&self) -> Arch {
        Arch::X86_64
    }
    /// Where RAM starts (its first range).
    fn ram_base(&self) -> u64 {
        0
    }
    /// Where the device memory region starts for `ram` bytes of RAM: on
    /// the PCs ALIGN_UP(4 GiB + RAM above 4 GiB, 1 GiB) (hw/i386/pc.c).
    /// `None` when it would not fit in 64 bits.
    fn device_memory_base(&self, ram: u64) -> Option<u64> {
        let (threshold, low) = self.lowmem();
        let above = if ram >= threshold { ram - low } else { 0 };
        align_up((4 * GIB).checked_add(above)?, GIB)
    }
    /// QEMU's words when it refuses a memory device for want of ACPI.
    fn hotplug_refusal(&self) -> &'static str {
        "memory hotplug is not enabled: missing acpi device or acpi disabled"
    }
    /// What a versioned machine type name starts with (`pc-q35-`).
    fn version_prefix(&self) -> &'static str;
}

/// Which family of machine a machine type name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineFamily {
    /// i440FX: `pc`, `pc-i440fx-*`, old `pc-X.Y`.
    Pc,
    /// Q35: `q35`, `pc-q35-*`.
    Q35,
    /// arm64 `virt`, `virt-*`.
    Virt,
}

impl MachineFamily {
    /// Every family qpmem models.
    pub const ALL: &'static [MachineFamily] =
        &[MachineFamily::Pc, MachineFamily::Q35, MachineFamily::Virt];

    /// What qpmem knows about this family.
    pub fn spec(self) -> &'static dyn Family {
        match self {
            MachineFamily::Pc => &pc::Pc,
            MachineFamily::Q35 => &q35::Q35,
            MachineFamily::Virt => &virt::Virt,
        }
    }

    /// Classify a `-machine` type name; `None` for machines qpmem does not model.
    pub fn of(machine: &str) -> Option<MachineFamily> {
        let m = machine.trim();
        MachineFamily::ALL
            .iter()
            .copied()
            .find(|f| f.spec().matches(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names_map_to_families() {
        assert_eq!(MachineFamily::of("pc"), Some(MachineFamily::Pc));
        assert_eq!(MachineFamily::of("pc-i440fx-7.2"), Some(MachineFamily::Pc));
        assert_eq!(MachineFamily::of("pc-1.3"), Some(MachineFamily::Pc));
        assert_eq!(MachineFamily::of("q35"), Some(MachineFamily::Q35));
        assert_eq!(MachineFamily::of(" pc-q35-8.2"), Some(MachineFamily::Q35));
        assert_eq!(MachineFamily::of("microvm"), None);
        assert_eq!(MachineFamily::of("pc-"), None);
        assert_eq!(MachineFamily::of("virt"), Some(MachineFamily::Virt));
        assert_eq!(MachineFamily::of("virt-5.1"), Some(MachineFamily::Virt));
        assert_eq!(MachineFamily::of("virt-"), None);
        assert_eq!(MachineFamily::of("xlnx-versal-virt"), None);
        for f in MachineFamily::ALL {
            assert_eq!(MachineFamily::of(f.spec().name()), Some(*f));
        }
    }

    #[test]
    fn device_memory_bases_measured_on_qemu_7_2() {
        let virt = MachineFamily::Virt.spec();
        // -M virt -m 1G: nv1 at 0x80000000; RAM from 1 GiB.
        assert_eq!(virt.device_memory_base(GIB), Some(0x8000_0000));
        assert_eq!(virt.device_memory_base(GIB + 1), Some(0xc000_0000));
        assert_eq!(virt.ram_base(), GIB);
        assert_eq!(virt.arch(), Arch::Aarch64);
        let pc = MachineFamily::Pc.spec();
        assert_eq!(pc.device_memory_base(GIB), Some(4 * GIB));
        assert_eq!(pc.arch(), Arch::X86_64);
    }
}
