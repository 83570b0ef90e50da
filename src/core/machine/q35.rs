//! The Q35 PC (`q35`, `pc-q35-*`; hw/i386/pc_q35.c).

use super::Family;
use crate::core::size::GIB;

pub struct Q35;

impl Family for Q35 {
    fn name(&self) -> &'static str {
        "q35"
    }

    fn matches(&self, m: &str) -> bool {
        m == "q35" || m.starts_with("pc-q35-")
    }

    /// `pc_q35_init`: 2.75 GiB and up keeps 2 GiB below 4 GiB.
    fn lowmem(&self) -> (u64, u64) {
        (0xb000_0000, 0x8000_0000)
    }

    /// Q35's `pci-hole64-size` default.
    fn pci_hole64(&self) -> u64 {
        32 * GIB
    }

    fn version_prefix(&self) -> &'static str {
        "pc-q35-"
    }
}
