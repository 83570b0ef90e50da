//! `-device nvdimm` (hw/mem/nvdimm.c): emulated persistent memory with an
//! optional label area at the end of its backend, described to the guest
//! by ACPI NFIT and managed there with ndctl.

use super::{Dimm, Kind, Setting, SizeError};
use crate::core::qemu::props::Group;
use crate::core::size::align_down;
use crate::core::size::Size;
use std::path::PathBuf;

pub struct Nvdimm;

impl Kind for Nvdimm {
    fn driver(&self) -> &'static str {
        "nvdimm"
    }

    fn qmp_type(&self) -> &'static str {
        "nvdimm"
    }

    fn about(&self) -> &'static str {
        "persistent memory with labels and NFIT: namespaces through ndctl"
    }

    fn id_prefix(&self) -> &'static str {
        "nv"
    }

    fn new_device(&self, n: usize, file: PathBuf, size: Size) -> Dimm {
        Dimm::nvdimm(n, file, size)
    }

    fn libvirt_model(&self) -> &'static str {
        "nvdimm"
    }

    fn props(&self) -> Group {
        Group::Nvdimm
    }

    fn settings(&self) -> &'static [Setting] {
        &[
            Setting::LabelSize,
            Setting::Unarmed,
            Setting::Node,
            Setting::Slot,
        ]
    }

    fn is_persistent(&self) -> bool {
        true
    }

    /// `nvdimm_prepare_memory_region`: the backend minus the label,
    /// aligned down to the device's alignment; refused when nothing is
    /// left.
    fn visible_size(&self, dimm: &Dimm, align: u64) -> Result<u64, SizeError> {
        let size = dimm.size.0;
        let label = dimm.label_size.0;
        let visible = align_down(size.saturating_sub(label), align);
        if size <= label || visible == 0 {
            Err(SizeError::TooSmall {
                size,
                label,
                visible,
            })
        } else {
            Ok(visible)
        }
    }

    fn guest_reports_range(&self) -> bool {
        true
    }
}
