//! The i440FX PC (`pc`, `pc-i440fx-*`, early `pc-X.Y`; hw/i386/pc_piix.c).

use super::Family;
use crate::core::size::GIB;

pub struct Pc;

impl Family for Pc {
    fn name(&self) -> &'static str {
        "pc"
    }

    fn matches(&self, m: &str) -> bool {
        m == "pc" || m.starts_with("pc-i440fx-") || is_old_pc_name(m)
    }

    /// `pc_init1`: 3.5 GiB and up keeps 3 GiB below 4 GiB.
    fn lowmem(&self) -> (u64, u64) {
        (0xe000_0000, 0xc000_0000)
    }

    /// i440FX's `pci-hole64-size` default.
    fn pci_hole64(&self) -> u64 {
        2 * GIB
    }

    fn version_prefix(&self) -> &'static str {
        "pc-i440fx-"
    }
}

/// `pc-1.3`-style names of early i440FX machine types.
fn is_old_pc_name(m: &str) -> bool {
    m.strip_prefix("pc-")
        .map(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .unwrap_or(false)
}
