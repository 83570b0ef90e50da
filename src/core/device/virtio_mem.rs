//! `-device virtio-mem-pci` (hw/virtio/virtio-mem.c, QEMU 5.1+): RAM the
//! guest plugs and unplugs in blocks of `block-size`, up to the size of
//! its backend. No slot; placed by hw/mem/memory-device.c in the same
//! device memory region as the DIMMs, aligned to its block size
//! (`get_min_alignment`), first fit, at `memaddr=` when given. The region
//! it takes is its backend's whole size, however much is plugged.

use super::{Dimm, Kind, Setting, RAM_BACKEND_ALIGN};
use crate::core::qemu::props::Group;
use crate::core::size::Size;
use std::path::PathBuf;

pub struct VirtioMem;

/// virtio-mem's default block size on x86_64: the transparent huge page
/// size, or the backend's page size when larger
/// (`virtio_mem_default_block_size`; QEMU 7.2 reports 0x200000).
pub const DEFAULT_BLOCK_SIZE: u64 = RAM_BACKEND_ALIGN;

/// The block size QEMU uses for `dimm` on a backend of page size `page`.
pub fn block_size(dimm: &Dimm, page: u64) -> u64 {
    dimm.block_size
        .map_or_else(|| DEFAULT_BLOCK_SIZE.max(page), |b| b.0)
}

impl Kind for VirtioMem {
    fn driver(&self) -> &'static str {
        "virtio-mem-pci"
    }

    fn name(&self) -> &'static str {
        "virtio-mem"
    }

    fn qmp_type(&self) -> &'static str {
        "virtio-mem"
    }

    fn about(&self) -> &'static str {
        "RAM the guest plugs in blocks, resizable while it runs (QEMU 5.1+)"
    }

    fn id_prefix(&self) -> &'static str {
        "vmem"
    }

    fn new_device(&self, n: usize, _file: PathBuf, size: Size) -> Dimm {
        Dimm::virtio_mem(n, size)
    }

    fn libvirt_model(&self) -> &'static str {
        "virtio-mem"
    }

    fn props(&self) -> Group {
        Group::VirtioMemPci
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting::Node, Setting::BlockSize, Setting::RequestedSize]
    }

    fn is_persistent(&self) -> bool {
        false
    }

    /// The guest onlines plugged blocks as RAM; no range of its own.
    fn guest_reports_range(&self) -> bool {
        false
    }

    fn addr_property(&self) -> &'static str {
        "memaddr"
    }

    fn min_align(&self, dimm: &Dimm, page: u64) -> u64 {
        block_size(dimm, page)
    }
}
