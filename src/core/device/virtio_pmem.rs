//! `-device virtio-pmem-pci` (hw/virtio/virtio-pmem.c, QEMU 4.1+):
//! persistent memory the guest reaches through virtio instead of ACPI
//! NFIT. No label area, no slot; placed by hw/mem/memory-device.c in the
//! same device memory region as the DIMMs, first fit, at `memaddr=` when
//! given. The guest's `virtio_pmem` driver registers it as an nd region
//! (`/dev/pmemN`, DAX-capable, no ndctl needed); guest writes persist
//! through fsync/msync (a flush request to the host), never MAP_SYNC.

use super::{Dimm, Kind, Setting};
use crate::core::qemu::props::Group;
use crate::core::size::Size;
use std::path::PathBuf;

pub struct VirtioPmem;

impl Kind for VirtioPmem {
    fn driver(&self) -> &'static str {
        "virtio-pmem-pci"
    }

    fn name(&self) -> &'static str {
        "virtio-pmem"
    }

    fn qmp_type(&self) -> &'static str {
        "virtio-pmem"
    }

    fn about(&self) -> &'static str {
        "persistent memory without NFIT or labels: /dev/pmemN on virtio (QEMU 4.1+)"
    }

    fn id_prefix(&self) -> &'static str {
        "vpmem"
    }

    fn new_device(&self, n: usize, file: PathBuf, size: Size) -> Dimm {
        Dimm::virtio_pmem(n, file, size)
    }

    fn libvirt_model(&self) -> &'static str {
        "virtio-pmem"
    }

    fn props(&self) -> Group {
        Group::VirtioPmemPci
    }

    fn settings(&self) -> &'static [Setting] {
        &[]
    }

    fn is_persistent(&self) -> bool {
        true
    }

    fn guest_reports_range(&self) -> bool {
        true
    }

    fn addr_property(&self) -> &'static str {
        "memaddr"
    }
}
