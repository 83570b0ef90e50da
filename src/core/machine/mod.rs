//! Machine families: what each kind of QEMU machine does with memory (the
//! RAM split below 4 GiB, where the device memory region starts, the PCI
//! hole above it). One file per family implementing [`Family`] ([`pc`],
//! [`q35`]); `layout` and the rules ask the family instead of matching on
//! it. Adding a family (arm64 `virt`) is adding its file, a
//! [`MachineFamily`] variant and its line in [`MachineFamily::spec`].

pub mod pc;
pub mod q35;

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
}

/// Which family of machine a machine type name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineFamily {
    /// i440FX: `pc`, `pc-i440fx-*`, old `pc-X.Y`.
    Pc,
    /// Q35: `q35`, `pc-q35-*`.
    Q35,
}

impl MachineFamily {
    /// Every family qpmem models.
    pub const ALL: &'static [MachineFamily] = &[MachineFamily::Pc, MachineFamily::Q35];

    /// What qpmem knows about this family.
    pub fn spec(self) -> &'static dyn Family {
        match self {
            MachineFamily::Pc => &pc::Pc,
            MachineFamily::Q35 => &q35::Q35,
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
        for f in MachineFamily::ALL {
            assert_eq!(MachineFamily::of(f.spec().name()), Some(*f));
        }
    }
}
