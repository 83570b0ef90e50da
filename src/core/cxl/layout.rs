//! Where QEMU puts the CXL host register block and the fixed memory
//! windows on q35 (hw/i386/pc.c of QEMU 7.2: `pc_get_cxl_range_start`,
//! `pc_get_cxl_range_end`, `pc_memory_init`, `pc_pci_hole64_start`).
//!
//! The CXL range starts where the device memory region ends, computed as
//! `pc_get_device_memory_range` does whether or not the machine has
//! device memory: ALIGN_UP(4 GiB + RAM above 4 GiB, 1 GiB) + (maxmem -
//! RAM) + 1 GiB per slot. The 1 MiB host register block is mapped there;
//! the windows follow, in `cxl-fmw` index order, back to back from
//! ALIGN_UP(start + 1 MiB, 256 MiB). The 64-bit PCI hole then starts at
//! ALIGN_UP(end of the last window, 1 GiB). Measured with QEMU 7.2 and
//! `info mtree`: `-m 4G,maxmem=8G,slots=8` and one 4G window put it at
//! 0x490000000-0x58fffffff; `-m 1G` alone puts the registers at
//! 0x100000000 and the window at 0x110000000.

use super::{Cxl, CXL_GRANULE, HOST_REGISTERS};
use crate::core::size::{align_up, GIB};
use serde::Serialize;

/// A range of guest physical addresses (as `layout::Region`, which this
/// module may not import: the layout imports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub base: u64,
    pub size: u64,
}

impl Range {
    /// One past the last address (saturating).
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// One fixed memory window where QEMU maps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowLayout {
    /// Its `cxl-fmw.N` index.
    pub index: usize,
    pub base: u64,
    pub size: u64,
    /// Host bridge ids in interleave order.
    pub targets: Vec<String>,
    /// Interleave granularity in bytes.
    pub granularity: u64,
}

impl WindowLayout {
    /// One past its last byte.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// The CXL part of the guest physical address map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CxlLayout {
    /// `cxl_host_reg`: the host bridges' component registers.
    pub host_registers: Range,
    pub windows: Vec<WindowLayout>,
    /// One past the last CXL address (`pc_get_cxl_range_end`).
    pub end: u64,
}

/// Place `cxl`'s windows. `above_4g_end` is where RAM above 4 GiB ends
/// (4 GiB when there is none); `maxmem` and `slots` as rendered (RAM and
/// 0 when the line has no hotplug options).
pub fn place(cxl: &Cxl, above_4g_end: u64, ram: u64, maxmem: u64, slots: u32) -> CxlLayout {
    let device_end = align_up(above_4g_end, GIB)
        .unwrap_or(above_4g_end)
        .saturating_add(maxmem.saturating_sub(ram))
        .saturating_add(u64::from(slots).saturating_mul(GIB));
    let host_registers = Range {
        base: device_end,
        size: HOST_REGISTERS,
    };
    let mut end = host_registers.end();
    let mut windows = Vec::with_capacity(cxl.windows.len());
    if !cxl.windows.is_empty() {
        let mut base = align_up(end, CXL_GRANULE).unwrap_or(u64::MAX);
        for (index, w) in cxl.windows.iter().enumerate() {
            windows.push(WindowLayout {
                index,
                base,
                size: w.size.0,
                targets: w.targets.clone(),
                granularity: w.granularity(),
            });
            base = base.saturating_add(w.size.0);
        }
        end = base;
    }
    CxlLayout {
        host_registers,
        windows,
        end,
    }
}

impl CxlLayout {
    /// Where the 64-bit PCI hole starts: above the windows, on a 1 GiB
    /// boundary (`pc_pci_hole64_start` with CXL on).
    pub fn pci_hole64_start(&self) -> u64 {
        align_up(self.end, GIB).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cxl::Window;
    use crate::core::size::Size;

    fn one_window(size: Size) -> Cxl {
        Cxl {
            host_bridges: Vec::new(),
            windows: vec![Window {
                targets: vec!["cxl.1".into()],
                size,
                granularity: None,
            }],
        }
    }

    #[test]
    fn qemu_docs_example_on_7_2() {
        // q35 -m 4G,maxmem=8G,slots=8: 2 GiB above 4 GiB, device memory
        // 0x180000000 + 4 GiB + 8 GiB; measured 0x490000000-0x58fffffff.
        let l = place(&one_window(Size::gib(4)), 6 * GIB, 4 * GIB, 8 * GIB, 8);
        assert_eq!(l.host_registers.base, 0x4_8000_0000);
        assert_eq!(l.windows[0].base, 0x4_9000_0000);
        assert_eq!(l.windows[0].end() - 1, 0x5_8fff_ffff);
        assert_eq!(l.pci_hole64_start(), 0x5_c000_0000);
    }

    #[test]
    fn without_device_memory() {
        // -m 1G: measured cxl_host_reg at 0x100000000, window 0x110000000.
        let l = place(&one_window(Size::gib(4)), 4 * GIB, GIB, GIB, 0);
        assert_eq!(l.host_registers.base, 0x1_0000_0000);
        assert_eq!(l.windows[0].base, 0x1_1000_0000);
    }
}
