//! `-device pc-dimm` (hw/mem/pc-dimm.c): hot-pluggable volatile RAM in the
//! device memory region. No label; the whole backend is guest RAM.

use super::{Dimm, Kind, Setting};
use crate::core::qemu::props::Group;
use crate::core::size::Size;
use std::path::PathBuf;

pub struct PcDimm;

impl Kind for PcDimm {
    fn driver(&self) -> &'static str {
        "pc-dimm"
    }

    fn qmp_type(&self) -> &'static str {
        "dimm"
    }

    fn about(&self) -> &'static str {
        "hot-pluggable RAM in a DIMM slot"
    }

    fn id_prefix(&self) -> &'static str {
        "dimm"
    }

    fn new_device(&self, n: usize, _file: PathBuf, size: Size) -> Dimm {
        Dimm::pc_dimm(n, size)
    }

    fn libvirt_model(&self) -> &'static str {
        "dimm"
    }

    fn props(&self) -> Group {
        Group::PcDimm
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting::Node, Setting::Slot]
    }

    fn is_persistent(&self) -> bool {
        false
    }

    /// The guest onlines it as RAM; `verify` has no range of its own to
    /// hold against the prediction.
    fn guest_reports_range(&self) -> bool {
        false
    }
}
