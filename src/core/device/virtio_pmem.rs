//! `-device virtio-pmem-pci` (hw/virtio/virtio-pmem.c, QEMU 4.1+): a
//! paravirtual persistent memory device in the same device memory region
//! as the DIMMs, placed by the same first fit (hw/mem/memory-device.c)
//! at `memaddr=` or the first aligned gap. No NFIT and no labels: the
//! guest's `virtio_pmem` driver makes one region of the whole backend,
//! and writes persist when the guest flushes (no MAP_SYNC). It takes no
//! `slots=` entry and has no `node=` (measured on QEMU 7.2: slots=1 holds
//! an NVDIMM and a virtio-pmem device; `node=0` is "not found").

use super::{Dimm, Kind, SizeError};
use crate::core::qemu::props::Group;

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

    fn id_prefix(&self) -> &'static str {
        "vpmem"
    }

    fn libvirt_model(&self) -> &'static str {
        "virtio-pmem"
    }

    fn props(&self) -> Group {
        Group::VirtioPmemPci
    }

    fn has_labels(&self) -> bool {
        false
    }

    fn is_persistent(&self) -> bool {
        true
    }

    fn takes_slot(&self) -> bool {
        false
    }

    fn addr_prop(&self) -> &'static str {
        "memaddr"
    }

    fn has_node(&self) -> bool {
        false
    }

    /// The whole backend, which must be a multiple of its alignment
    /// (QEMU 7.2: "backend memory size must be multiple of 0x200000" for
    /// 129M with align=2M).
    fn visible_size(&self, dimm: &Dimm, align: u64) -> Result<u64, SizeError> {
        let size = dimm.size.0;
        if size == 0 || size % align != 0 {
            Err(SizeError::NotAligned { size, align })
        } else {
            Ok(size)
        }
    }

    /// Not yet held against the guest's own report by `verify`.
    fn guest_reports_range(&self) -> bool {
        false
    }
}
