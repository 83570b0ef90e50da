//! One memory device as QEMU sees it: its kind (`-device nvdimm`,
//! `pc-dimm`, `virtio-pmem-pci`, `virtio-mem-pci`), its backend, and the geometry QEMU derives from them (the
//! alignment it uses, the size the guest sees, what it takes of the
//! device memory region; backends/hostmem.c). Placement in the region is
//! `layout`'s; this module knows one device at a time.
//!
//! Each kind is a file of its own implementing [`Kind`] ([`nvdimm`],
//! [`pc_dimm`], [`virtio_pmem`], [`virtio_mem`]); the rest of qpmem asks the kind (`d.kind.spec()`)
//! instead of matching on it. Adding a kind is adding its file, a
//! [`DimmKind`] variant (the name saved in profiles) and its line in
//! [`DimmKind::spec`].

pub mod nvdimm;
pub mod pc_dimm;
pub mod virtio_mem;
pub mod virtio_pmem;

use crate::core::facts::HostFacts;
use crate::core::qemu::props::Group;
use crate::core::size::{Size, MIB};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// Base page size of an ordinary file or anonymous mapping on x86_64.
pub const PAGE_SIZE: u64 = 4096;
/// Alignment QEMU gives anonymous RAM backends on x86_64 Linux hosts
/// (`QEMU_VMALLOC_ALIGN`).
pub const RAM_BACKEND_ALIGN: u64 = 2 * MIB;

/// Why QEMU refuses a device's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("the backend ({size:#x}) is too small to contain the label ({label:#x}) and aligned pmem ({visible:#x})")]
    TooSmall { size: u64, label: u64, visible: u64 },
    #[error("backend size {size:#x} must be a multiple of {align:#x}")]
    NotAligned { size: u64, align: u64 },
}

/// The kind of memory device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimmKind {
    /// `-device nvdimm`: persistent memory.
    #[default]
    Nvdimm,
    /// `-device pc-dimm`: hot-pluggable volatile RAM.
    PcDimm,
    /// `-device virtio-pmem-pci` (QEMU 4.1+): persistent memory without
    /// NFIT or labels, a DAX-capable `/dev/pmemN` in the guest.
    VirtioPmem,
    /// `-device virtio-mem-pci` (QEMU 5.1+): resizable RAM.
    VirtioMem,
}

/// What qpmem knows about one kind of memory device: one implementation
/// per file in `src/core/device/`.
pub trait Kind: Sync {
    /// QEMU's `-device` driver name.
    fn driver(&self) -> &'static str;
    /// Its name in the address map (`map`'s KIND, `map --json`'s `kind`).
    fn name(&self) -> &'static str {
        self.driver()
    }
    /// The `type` QMP's `query-memory-devices` reports for it.
    fn qmp_type(&self) -> &'static str;
    /// What it is, in a few words (the editor's add-device chooser).
    fn about(&self) -> &'static str;
    /// The prefix of ids qpmem gives new devices (`nv1`, `dimm1`).
    fn id_prefix(&self) -> &'static str;
    /// A new device of this kind numbered `n`, `size` bytes, on `file`
    /// when the kind is persistent (the others are on anonymous RAM and
    /// ignore it), with qpmem's defaults for the kind.
    fn new_device(&self, n: usize, file: PathBuf, size: Size) -> Dimm;
    /// libvirt's `<memory model=...>`.
    fn libvirt_model(&self) -> &'static str;
    /// The property table of its `-device` (`core::qemu::props`).
    fn props(&self) -> Group;
    /// The profile's device settings this kind's `-device` has (QEMU 7.2's
    /// `-device DRIVER,help`); the others are left out of the command line
    /// and a profile that sets them draws QP211.
    fn settings(&self) -> &'static [Setting];
    /// It has `setting`.
    fn has(&self, setting: Setting) -> bool {
        self.settings().contains(&setting)
    }
    /// It has a label area (`label-size=`) at the end of its backend.
    fn has_labels(&self) -> bool {
        self.has(Setting::LabelSize)
    }
    /// The guest sees it as persistent memory.
    fn is_persistent(&self) -> bool;
    /// What the guest sees of `dimm` when QEMU aligns it to `align`, or
    /// why QEMU refuses its size. By default the whole backend, which
    /// must be a multiple of the alignment (`memory_device_get_region_size`
    /// via the backend: pc-dimm, virtio-pmem, virtio-mem; QEMU 7.2:
    /// "backend memory size must be multiple of 0x200000"); an NVDIMM
    /// keeps its label out.
    fn visible_size(&self, dimm: &Dimm, align: u64) -> Result<u64, SizeError> {
        let size = dimm.size.0;
        if size == 0 || size % align != 0 {
            Err(SizeError::NotAligned { size, align })
        } else {
            Ok(size)
        }
    }
    /// The guest kernel reports its range, so `verify` can hold it
    /// against the prediction.
    fn guest_reports_range(&self) -> bool;
    /// It takes one of `-m slots=` (the DIMMs do; virtio devices do not:
    /// measured on QEMU 7.2 with slots equal to the DIMM count plus a
    /// virtio-pmem device, and with no `slots=` at all): the kinds with a
    /// `slot=` property.
    fn takes_slot(&self) -> bool {
        self.has(Setting::Slot)
    }
    /// The `-device` property that fixes its guest physical address
    /// (`addr` on DIMMs; `memaddr` on virtio devices, whose `addr` is
    /// the PCI address).
    fn addr_property(&self) -> &'static str {
        "addr"
    }
    /// An alignment the device itself asks for on top of its backend's
    /// (`MemoryDeviceClass::get_min_alignment`: virtio-mem's block size),
    /// given the backend's page size `page`; 0 when none.
    fn min_align(&self, _dimm: &Dimm, _page: u64) -> u64 {
        0
    }
}

/// A device property of the profile's that only some kinds have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// `label-size=` (NVDIMM).
    LabelSize,
    /// `unarmed=` (NVDIMM).
    Unarmed,
    /// `node=` (the DIMMs, virtio-mem; not virtio-pmem).
    Node,
    /// `slot=` (the DIMMs).
    Slot,
    /// `block-size=` (virtio-mem).
    BlockSize,
    /// `requested-size=` (virtio-mem).
    RequestedSize,
}

impl Setting {
    /// Every setting, in the order the command line has them.
    pub const ALL: &'static [Setting] = &[
        Setting::LabelSize,
        Setting::Unarmed,
        Setting::Node,
        Setting::Slot,
        Setting::BlockSize,
        Setting::RequestedSize,
    ];

    /// QEMU's property name.
    pub fn property(self) -> &'static str {
        match self {
            Setting::LabelSize => "label-size",
            Setting::Unarmed => "unarmed",
            Setting::Node => "node",
            Setting::Slot => "slot",
            Setting::BlockSize => "block-size",
            Setting::RequestedSize => "requested-size",
        }
    }

    /// `d`'s value of it as QEMU writes it, when set.
    pub fn value(self, d: &Dimm) -> Option<String> {
        let size = |s: Option<Size>| s.map(|s| crate::core::size::format_qemu(s.0));
        match self {
            Setting::LabelSize => (d.label_size.0 > 0).then(|| size(Some(d.label_size)))?,
            Setting::Unarmed => d.unarmed.then(|| "on".to_string()),
            Setting::Node => d.node.map(|n| n.to_string()),
            Setting::Slot => d.slot.map(|n| n.to_string()),
            Setting::BlockSize => size(d.block_size),
            Setting::RequestedSize => size(d.requested_size),
        }
    }

    /// `d` without it.
    pub fn clear(self, d: &mut Dimm) {
        match self {
            Setting::LabelSize => d.label_size = Size(0),
            Setting::Unarmed => d.unarmed = false,
            Setting::Node => d.node = None,
            Setting::Slot => d.slot = None,
            Setting::BlockSize => d.block_size = None,
            Setting::RequestedSize => d.requested_size = None,
        }
    }
}

impl DimmKind {
    /// Every kind, in the order qpmem offers them.
    pub const ALL: &'static [DimmKind] = &[
        DimmKind::Nvdimm,
        DimmKind::PcDimm,
        DimmKind::VirtioPmem,
        DimmKind::VirtioMem,
    ];

    /// What qpmem knows about this kind.
    pub fn spec(self) -> &'static dyn Kind {
        match self {
            DimmKind::Nvdimm => &nvdimm::Nvdimm,
            DimmKind::PcDimm => &pc_dimm::PcDimm,
            DimmKind::VirtioPmem => &virtio_pmem::VirtioPmem,
            DimmKind::VirtioMem => &virtio_mem::VirtioMem,
        }
    }

    /// The QEMU device name.
    pub fn device(self) -> &'static str {
        self.spec().driver()
    }

    /// The kind QEMU's `-device` driver `name` is, if qpmem models it.
    pub fn from_driver(name: &str) -> Option<DimmKind> {
        DimmKind::ALL
            .iter()
            .copied()
            .find(|k| k.spec().driver() == name)
    }
}

/// What backs a memory device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// `memory-backend-file` with this `mem-path`.
    File(PathBuf),
    /// `memory-backend-ram` (anonymous memory; never persistent).
    Ram,
}

impl Backend {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Backend::File(p) => Some(p),
            Backend::Ram => None,
        }
    }
    pub fn qemu_object(&self) -> &'static str {
        match self {
            Backend::File(_) => "memory-backend-file",
            Backend::Ram => "memory-backend-ram",
        }
    }
}

/// One memory device and its backend object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimm {
    #[serde(default)]
    pub kind: DimmKind,
    /// The device id (`-device nvdimm,id=`).
    pub id: String,
    /// The backend object id (`-object ...,id=` and `memdev=`).
    pub memdev: String,
    pub backend: Backend,
    /// Backend size: the whole file, label area included.
    pub size: Size,
    /// NVDIMM label area at the end of the backend; 0 = label-less.
    #[serde(default)]
    pub label_size: Size,
    /// Backend `align=` (QEMU 2.12+); `None` leaves QEMU's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub align: Option<Size>,
    /// `share=on`: guest writes reach the file.
    #[serde(default)]
    pub share: bool,
    /// `pmem=on`: the file is on real persistent memory (DAX).
    #[serde(default)]
    pub pmem: bool,
    /// `readonly=on` on the backend (QEMU 6.0+).
    #[serde(default)]
    pub readonly: bool,
    /// `discard-data=on`: QEMU discards the file's contents at exit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_data: bool,
    /// NVDIMM `unarmed=on`: the guest is told the device cannot persist writes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unarmed: bool,
    /// NUMA node (`node=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// Explicit guest physical address (`addr=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Addr>,
    /// Explicit slot (`slot=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    /// Backend properties qpmem does not model (`prealloc=on`), verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_options: Vec<String>,
    /// virtio-mem `block-size=`; `None` leaves QEMU's default (2 MiB on
    /// x86_64, or the backend's page size when larger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<Size>,
    /// virtio-mem `requested-size=`: how much of it the guest is asked to
    /// plug (`None`: QEMU's 0, nothing plugged until it is raised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_size: Option<Size>,
    /// Device properties qpmem does not model (`uuid=...`), verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_options: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A guest physical address, written in hex in profiles (`"0x140000000"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub u64);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Size::deserialize(d).map(|s| Addr(s.0))
    }
}

impl Dimm {
    /// A new NVDIMM named `nv{n}` on `mem{n}` backed by `path`.
    pub fn nvdimm(n: usize, path: PathBuf, size: Size) -> Dimm {
        Dimm {
            kind: DimmKind::Nvdimm,
            id: format!("nv{n}"),
            memdev: format!("mem{n}"),
            backend: Backend::File(path),
            size,
            label_size: Size::mib(2),
            align: Some(Size::mib(128)),
            share: true,
            pmem: false,
            readonly: false,
            discard_data: false,
            unarmed: false,
            node: None,
            addr: None,
            slot: None,
            backend_options: Vec::new(),
            block_size: None,
            requested_size: None,
            device_options: Vec::new(),
        }
    }

    /// A pc-dimm named `dimm{n}` on `ram{n}` (memory-backend-ram).
    pub fn pc_dimm(n: usize, size: Size) -> Dimm {
        Dimm {
            kind: DimmKind::PcDimm,
            id: format!("dimm{n}"),
            memdev: format!("ram{n}"),
            backend: Backend::Ram,
            size,
            label_size: Size(0),
            align: None,
            share: false,
            pmem: false,
            readonly: false,
            discard_data: false,
            unarmed: false,
            node: None,
            addr: None,
            slot: None,
            backend_options: Vec::new(),
            block_size: None,
            requested_size: None,
            device_options: Vec::new(),
        }
    }

    /// A virtio-pmem device named `vpmem{n}` on `vpmem-mem{n}` backed by
    /// `path` (shared, so guest writes reach the file).
    pub fn virtio_pmem(n: usize, path: PathBuf, size: Size) -> Dimm {
        Dimm {
            kind: DimmKind::VirtioPmem,
            id: format!("vpmem{n}"),
            memdev: format!("vpmem-mem{n}"),
            label_size: Size(0),
            align: None,
            ..Dimm::nvdimm(n, path, size)
        }
    }

    /// A virtio-mem device named `vmem{n}` on `vmem-ram{n}`
    /// (memory-backend-ram).
    pub fn virtio_mem(n: usize, size: Size) -> Dimm {
        Dimm {
            kind: DimmKind::VirtioMem,
            id: format!("vmem{n}"),
            memdev: format!("vmem-ram{n}"),
            ..Dimm::pc_dimm(n, size)
        }
    }

    pub fn is_nvdimm(&self) -> bool {
        self.kind == DimmKind::Nvdimm
    }

    /// The label size QEMU will use (kinds without labels have none).
    pub fn effective_label_size(&self) -> u64 {
        if self.kind.spec().has_labels() {
            self.label_size.0
        } else {
            0
        }
    }
}

/// The page size QEMU aligns `backend` to: hugetlbfs files their huge
/// page, other files 4 KiB, RAM backends `QEMU_VMALLOC_ALIGN`.
pub fn page_size(host: &HostFacts, backend: &Backend) -> u64 {
    match backend {
        Backend::File(p) => host.file_page_size.get(p).copied().unwrap_or(PAGE_SIZE),
        Backend::Ram => RAM_BACKEND_ALIGN,
    }
}

/// The alignment QEMU uses for a device: max(align, backend page size,
/// what the device itself asks for; memory_device_pre_plug).
pub fn effective_align(dimm: &Dimm, host: &HostFacts) -> u64 {
    let page = page_size(host, &dimm.backend);
    let backend = match (&dimm.backend, dimm.align) {
        (Backend::File(_), Some(a)) => a.0.max(page),
        _ => page,
    };
    backend.max(dimm.kind.spec().min_align(dimm, page))
}

/// The guest-visible size of a device, or why QEMU refuses it.
pub fn visible_size(dimm: &Dimm, align: u64) -> Result<u64, SizeError> {
    dimm.kind.spec().visible_size(dimm, align)
}

/// What a device takes of `maxmem - RAM` with default host facts, or
/// `None` when QEMU would refuse its size.
pub fn footprint(dimm: &Dimm) -> Option<u64> {
    let host = HostFacts::default();
    visible_size(dimm, effective_align(dimm, &host)).ok()
}
