//! The arm64 `virt` machine (`virt`, `virt-X.Y`; hw/arm/virt.c).
//!
//! RAM starts at 1 GiB (`base_memmap[VIRT_MEM]`) in one piece; the device
//! memory region starts at ROUND_UP(1 GiB + RAM, 1 GiB) and is (maxmem -
//! RAM) + 1 GiB per slot long (`virt_set_memmap`), as measured on QEMU
//! 7.2. Memory devices are announced through ACPI by the Generic Event
//! Device, which QEMU creates only for a 64-bit CPU with firmware loaded
//! and ACPI on, on machine types 4.2 and later.

use super::Family;
use crate::core::arch::Arch;
use crate::core::size::{align_up, GIB};

pub struct Virt;

/// Where RAM starts on `virt`.
pub const RAM_BASE: u64 = GIB;

impl Family for Virt {
    fn name(&self) -> &'static str {
        "virt"
    }

    fn matches(&self, m: &str) -> bool {
        m == "virt"
            || m.strip_prefix("virt-")
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    }

    fn arch(&self) -> Arch {
        Arch::Aarch64
    }

    fn ram_base(&self) -> u64 {
        RAM_BASE
    }

    /// No split: RAM is one range from 1 GiB.
    fn lowmem(&self) -> (u64, u64) {
        (u64::MAX, 0)
    }

    /// The PCIe window above the device memory (`VIRT_HIGH_PCIE_MMIO`)
    /// is part of the high memory map; no x86-style hole is added.
    fn pci_hole64(&self) -> u64 {
        0
    }

    fn device_memory_base(&self, ram: u64) -> Option<u64> {
        align_up(RAM_BASE.checked_add(ram)?, GIB)
    }

    fn hotplug_refusal(&self) -> &'static str {
        "memory hotplug is not enabled: missing acpi-ged device"
    }

    fn version_prefix(&self) -> &'static str {
        "virt-"
    }
}
