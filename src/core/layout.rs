//! QEMU's placement of memory devices: where each DIMM lands.
//!
//! A pure model of what `qemu-system-x86_64` and `qemu-system-aarch64` do
//! with `-m`, the machine type and the `-device nvdimm`/`pc-dimm`/
//! `virtio-pmem-pci`/`virtio-mem-pci` options (hw/i386/pc.c,
//! hw/arm/virt.c, hw/mem/memory-device.c, hw/mem/pc-dimm.c,
//! hw/mem/nvdimm.c): where RAM starts and the x86 split at the low-memory
//! boundary, the device memory region (the family's base), each
//! device's slot, guest address and visible size, and whether its edges
//! fall on Linux memory sections. The ground-truth tests in
//! `tests/qemu_ground_truth.rs` hold this model against real QEMU.

use crate::core::device::SizeError;
pub use crate::core::device::{effective_align, footprint, PAGE_SIZE, RAM_BACKEND_ALIGN};
use crate::core::facts::HostFacts;
use crate::core::profile::{Dimm, DimmKind, MachineFamily, Profile};
use crate::core::size::{align_up, GIB};
use serde::Serialize;
use std::collections::BTreeSet;

/// QEMU's limit on `slots=` (`ACPI_MAX_RAM_SLOTS`).
pub const MAX_SLOTS: u32 = 256;

/// A range of guest physical addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// One past the last address (saturating).
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// Where one memory device lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// `None` for kinds that take no slot (virtio-pmem, virtio-mem).
    pub slot: Option<u32>,
    pub addr: u64,
    /// What the guest sees: for an NVDIMM, the backend minus its label,
    /// aligned down; for a pc-dimm, the whole backend.
    pub size: u64,
    /// The alignment QEMU used: max(align, the backend's page size).
    pub align: u64,
    /// Offset of the label area in the backing file (its last
    /// `label_size` bytes); equal to the backend size when label-less.
    pub label_offset: u64,
    /// Bytes of the backend that neither the guest nor the label use
    /// (lost to the align-down of the visible size).
    pub unused_tail: u64,
    pub start_aligned: bool,
    pub end_aligned: bool,
}

impl Placement {
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }
}

/// Why QEMU would refuse to place a device. The messages follow QEMU's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PlaceError {
    #[error("the machine has no device memory region: slots and a maxmem above RAM are needed")]
    NoDeviceMemory,
    #[error("invalid slot number {slot}, valid range is [0-{max}]")]
    InvalidSlot { slot: u32, max: u32 },
    #[error("slot {slot} is busy")]
    SlotBusy { slot: u32 },
    #[error("no free slots left (slots={slots})")]
    NoFreeSlot { slots: u32 },
    #[error("the backend ({size:#x}) is too small to contain the label ({label:#x}) and aligned pmem ({visible:#x})")]
    TooSmall { size: u64, label: u64, visible: u64 },
    #[error("backend size {size:#x} must be a multiple of {align:#x}")]
    SizeNotAligned { size: u64, align: u64 },
    #[error("not enough space: {used:#x} in use of {total:#x} for memory devices (maxmem - RAM)")]
    NotEnoughSpace { used: u64, total: u64 },
    #[error("address {addr:#x} must be aligned to {align:#x} bytes")]
    AddrNotAligned { addr: u64, align: u64 },
    #[error("can't add memory device [{addr:#x}:{size:#x}], usable range for memory devices [{base:#x}:{region_size:#x}]")]
    AddrOutside {
        addr: u64,
        size: u64,
        base: u64,
        region_size: u64,
    },
    #[error("address range conflicts with memory device id='{other}'")]
    AddrConflict { other: String },
    #[error("could not find a position in the device memory region: fragmented by alignment")]
    Fragmented,
}

impl From<SizeError> for PlaceError {
    fn from(e: SizeError) -> PlaceError {
        match e {
            SizeError::TooSmall {
                size,
                label,
                visible,
            } => PlaceError::TooSmall {
                size,
                label,
                visible,
            },
            SizeError::NotAligned { size, align } => PlaceError::SizeNotAligned { size, align },
        }
    }
}

/// The outcome for one device, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceLayout {
    pub id: String,
    pub kind: DimmKind,
    pub backend_size: u64,
    pub label_size: u64,
    pub result: Result<Placement, PlaceError>,
}

impl DeviceLayout {
    pub fn placement(&self) -> Option<&Placement> {
        self.result.as_ref().ok()
    }
}

/// The guest physical address map QEMU will build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub family: MachineFamily,
    pub section_size: u64,
    /// Where RAM starts: 0 on the PCs, 1 GiB on arm64 `virt`.
    pub ram_base: u64,
    /// RAM's first range, from `ram_base`: on the PCs what is below 4 GiB,
    /// on `virt` all of it.
    pub ram_below_4g: u64,
    /// RAM mapped from 4 GiB up (the PCs' split; 0 on `virt`).
    pub ram_above_4g: u64,
    /// Where memory devices go; `None` when the machine has none.
    pub device_memory: Option<Region>,
    pub slots: u32,
    pub maxmem: u64,
    pub devices: Vec<DeviceLayout>,
    /// The CXL host registers and fixed memory windows, when the profile
    /// has CXL (`core::cxl::layout`).
    pub cxl: Option<crate::core::cxl::CxlLayout>,
}

impl Layout {
    /// One past RAM's last byte: 4 GiB plus what is above it on a split
    /// PC, else the end of the first range.
    pub fn ram_end(&self) -> u64 {
        if self.ram_above_4g > 0 {
            (4 * GIB).saturating_add(self.ram_above_4g)
        } else {
            self.ram_base.saturating_add(self.ram_below_4g)
        }
    }

    pub fn placements(&self) -> impl Iterator<Item = (&DeviceLayout, &Placement)> {
        self.devices
            .iter()
            .filter_map(|d| d.placement().map(|p| (d, p)))
    }
}

/// Why no layout can be computed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("machine type '{0}' is not modelled: use pc, q35, pc-i440fx-* or pc-q35-* (x86_64), virt or virt-* (aarch64)")]
    UnknownMachine(String),
    #[error("machine type '{machine}' is an {family_arch} machine, but the profile's arch is {arch}: set arch: {family_arch}, or use a machine of {arch}")]
    WrongArch {
        machine: String,
        arch: &'static str,
        family_arch: &'static str,
    },
}

/// Where RAM splits between below and above 4 GiB for a machine family.
/// pc: 3 GiB low when RAM >= 3.5 GiB, else all low; q35: 2 GiB low when
/// RAM >= 2.75 GiB, else all low.
pub fn lowmem_split(family: MachineFamily, ram: u64) -> (u64, u64) {
    let (threshold, low) = family.spec().lowmem();
    if ram >= threshold {
        (low, ram - low)
    } else {
        (ram, 0)
    }
}

/// The device memory region for a machine: base = the family's (PCs:
/// ALIGN_UP(4 GiB + RAM above 4 GiB, 1 GiB); virt: ALIGN_UP(1 GiB + RAM,
/// 1 GiB)), size = (maxmem - RAM) + slots x 1 GiB. `None` when QEMU
/// creates none (maxmem not above RAM).
pub fn device_memory_region(
    family: MachineFamily,
    ram: u64,
    maxmem: u64,
    slots: u32,
) -> Option<Region> {
    if maxmem <= ram {
        return None;
    }
    let base = family.spec().device_memory_base(ram)?;
    let size = (maxmem - ram).checked_add(u64::from(slots).checked_mul(GIB)?)?;
    Some(Region { base, size })
}

/// The guest-visible size of a device, or why QEMU refuses it.
pub fn visible_size(dimm: &Dimm, align: u64) -> Result<u64, PlaceError> {
    crate::core::device::visible_size(dimm, align).map_err(PlaceError::from)
}

/// Compute the address map QEMU will build for `profile`.
pub fn layout(profile: &Profile, host: &HostFacts) -> Result<Layout, LayoutError> {
    let family = profile
        .machine_family()
        .ok_or_else(|| LayoutError::UnknownMachine(profile.machine.clone()))?;
    if family.spec().arch() != profile.arch {
        return Err(LayoutError::WrongArch {
            machine: profile.machine.clone(),
            arch: profile.arch.name(),
            family_arch: family.spec().arch().name(),
        });
    }
    let ram = profile.ram.0;
    let slots = profile.effective_slots();
    let maxmem = profile.effective_maxmem();
    let (ram_below_4g, ram_above_4g) = lowmem_split(family, ram);
    let device_memory = device_memory_region(family, ram, maxmem, slots);
    let section_size = profile.section_size();

    let mut placer = Placer {
        devices: &profile.devices,
        region: device_memory,
        total: maxmem.saturating_sub(ram),
        slots,
        used_slots: BTreeSet::new(),
        free_from: 0,
        used_space: 0,
        placed: Vec::with_capacity(profile.devices.len()),
    };
    let devices = profile
        .devices
        .iter()
        .enumerate()
        .map(|(index, dimm)| {
            let result = placer.place(index, host, section_size);
            DeviceLayout {
                id: dimm.id.clone(),
                kind: dimm.kind,
                backend_size: dimm.size.0,
                label_size: dimm.effective_label_size(),
                result,
            }
        })
        .collect();
    let cxl = profile.cxl.as_ref().map(|c| {
        // As rendered: without hotplug options QEMU has maxmem = RAM and
        // no slots.
        let (maxmem, slots) = if profile.memory_hotplug() {
            (maxmem, slots)
        } else {
            (ram, 0)
        };
        let above_end = (4 * GIB).saturating_add(ram_above_4g);
        crate::core::cxl::layout::place(c, above_end, ram, maxmem, slots)
    });
    Ok(Layout {
        family,
        section_size,
        ram_base: family.spec().ram_base(),
        ram_below_4g,
        ram_above_4g,
        device_memory,
        slots,
        maxmem,
        devices,
        cxl,
    })
}

/// QEMU's per-machine placement state while devices are plugged in order.
struct Placer<'p> {
    devices: &'p [Dimm],
    region: Option<Region>,
    total: u64,
    slots: u32,
    used_slots: BTreeSet<u32>,
    /// No slot below this is free (slots are only ever taken).
    free_from: u32,
    used_space: u64,
    /// (start, end, index into `devices`) of placed devices, sorted by start.
    placed: Vec<(u64, u64, usize)>,
}

impl Placer<'_> {
    fn place(
        &mut self,
        index: usize,
        host: &HostFacts,
        section: u64,
    ) -> Result<Placement, PlaceError> {
        let dimm = &self.devices[index];
        let region = self.region.ok_or(PlaceError::NoDeviceMemory)?;
        let slot = if dimm.kind.spec().takes_slot() {
            Some(self.pick_slot(dimm.slot)?)
        } else {
            None
        };
        let align = effective_align(dimm, host);
        let size = visible_size(dimm, align)?;
        if self.used_space.saturating_add(size) > self.total {
            return Err(PlaceError::NotEnoughSpace {
                used: self.used_space,
                total: self.total,
            });
        }
        let addr = match dimm.addr {
            Some(hint) => self.check_hint(hint.0, size, align, region)?,
            None => self.first_fit(size, align, region)?,
        };
        if let Some(slot) = slot {
            self.used_slots.insert(slot);
        }
        self.used_space += size;
        let pos = self.placed.partition_point(|(a, _, _)| *a <= addr);
        self.placed.insert(pos, (addr, addr + size, index));
        let label = dimm.effective_label_size();
        let label_offset = dimm.size.0 - label;
        Ok(Placement {
            slot,
            addr,
            size,
            align,
            label_offset,
            unused_tail: label_offset - size,
            start_aligned: addr % section == 0,
            end_aligned: (addr + size) % section == 0,
        })
    }

    fn pick_slot(&mut self, hint: Option<u32>) -> Result<u32, PlaceError> {
        match hint {
            Some(slot) if slot >= self.slots => Err(PlaceError::InvalidSlot {
                slot,
                max: self.slots.saturating_sub(1),
            }),
            Some(slot) if self.used_slots.contains(&slot) => Err(PlaceError::SlotBusy { slot }),
            Some(slot) => Ok(slot),
            None => {
                while self.used_slots.contains(&self.free_from) {
                    self.free_from += 1;
                }
                if self.free_from < self.slots {
                    Ok(self.free_from)
                } else {
                    Err(PlaceError::NoFreeSlot { slots: self.slots })
                }
            }
        }
    }

    fn check_hint(
        &self,
        addr: u64,
        size: u64,
        align: u64,
        region: Region,
    ) -> Result<u64, PlaceError> {
        if addr % align != 0 {
            return Err(PlaceError::AddrNotAligned { addr, align });
        }
        let inside = addr >= region.base
            && addr
                .checked_add(size)
                .is_some_and(|end| end <= region.end());
        if !inside {
            return Err(PlaceError::AddrOutside {
                addr,
                size,
                base: region.base,
                region_size: region.size,
            });
        }
        if let Some((_, _, other)) = self
            .placed
            .iter()
            .find(|(a, e, _)| overlaps(*a, e - a, addr, size))
        {
            return Err(PlaceError::AddrConflict {
                other: self.devices[*other].id.clone(),
            });
        }
        Ok(addr)
    }

    /// QEMU's first fit (memory_device_get_free_addr): from the aligned
    /// base, past each placed device (by address) that overlaps, move to
    /// its aligned end. A run of back-to-back devices is crossed in one
    /// step: whichever of them the candidate lands in, walking on ends at
    /// the aligned end of the run's last device, so only that is computed.
    fn first_fit(&self, size: u64, align: u64, region: Region) -> Result<u64, PlaceError> {
        let mut addr = align_up(region.base, align).ok_or(PlaceError::Fragmented)?;
        let placed = &self.placed;
        let mut i = 0;
        while i < placed.len() {
            let (start, end, _) = placed[i];
            if overlaps(start, end - start, addr, size) {
                let mut last = i;
                while last + 1 < placed.len() && placed[last + 1].0 == placed[last].1 {
                    last += 1;
                }
                addr = align_up(placed[last].1, align).ok_or(PlaceError::Fragmented)?;
                i = last + 1;
            } else if start >= addr.saturating_add(size) {
                break;
            } else {
                i += 1;
            }
        }
        match addr.checked_add(size) {
            Some(end) if end <= region.end() => Ok(addr),
            _ => Err(PlaceError::Fragmented),
        }
    }
}

fn overlaps(a: u64, a_size: u64, b: u64, b_size: u64) -> bool {
    a < b.saturating_add(b_size) && b < a.saturating_add(a_size)
}

/// Distance from `addr` back to the section boundary below it, for messages.
pub fn past_section(addr: u64, section: u64) -> u64 {
    addr % section
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Auto;
    use crate::core::size::{Size, MIB};
    use std::path::Path;

    fn seed(align: Option<Size>) -> Profile {
        Profile::original_recipe(Path::new("/vms"), align)
    }

    #[test]
    fn lowmem_thresholds() {
        let pc = MachineFamily::Pc;
        let q35 = MachineFamily::Q35;
        assert_eq!(lowmem_split(pc, 3584 * MIB - 1), (3584 * MIB - 1, 0));
        assert_eq!(lowmem_split(pc, 3584 * MIB), (3 * GIB, 512 * MIB));
        assert_eq!(lowmem_split(q35, 2816 * MIB - 1), (2816 * MIB - 1, 0));
        assert_eq!(lowmem_split(q35, 2816 * MIB), (2 * GIB, 768 * MIB));
    }

    #[test]
    fn device_memory_bases_measured_on_qemu_7_2() {
        let base = |f, ram| device_memory_region(f, ram, 64 * GIB, 2).unwrap().base;
        assert_eq!(base(MachineFamily::Pc, 512 * MIB), 0x1_0000_0000);
        assert_eq!(base(MachineFamily::Pc, 3584 * MIB), 0x1_4000_0000);
        assert_eq!(base(MachineFamily::Q35, 3584 * MIB), 0x1_8000_0000);
        assert_eq!(base(MachineFamily::Pc, 5000 * MIB), 0x1_8000_0000);
        assert_eq!(base(MachineFamily::Q35, 5000 * MIB), 0x1_c000_0000);
        assert_eq!(device_memory_region(MachineFamily::Pc, GIB, GIB, 2), None);
        // virt: -m 1G,slots=4,maxmem=8G puts nv1 at 0x80000000.
        let virt = device_memory_region(MachineFamily::Virt, GIB, 8 * GIB, 4).unwrap();
        assert_eq!(virt.base, 0x8000_0000);
        assert_eq!(virt.size, 11 * GIB);
        assert_eq!(lowmem_split(MachineFamily::Virt, 300 * GIB), (300 * GIB, 0));
    }

    /// The measurement on QEMU 7.2: `-M virt -m 1G,slots=4,maxmem=8G`,
    /// a 1G NVDIMM with a 128K label, then a 512M one.
    #[test]
    fn virt_places_like_qemu_7_2() {
        let mut p = Profile::empty("arm");
        p.make_aarch64();
        p.ram = Size::gib(1);
        p.slots = Auto::Fixed(4);
        p.maxmem = Auto::Fixed(Size::gib(8));
        let mut nv1 = Dimm::nvdimm(1, "/vms/a".into(), Size::gib(1));
        nv1.label_size = Size(128 * 1024);
        nv1.align = None;
        let mut nv2 = Dimm::nvdimm(2, "/vms/b".into(), Size::mib(512));
        nv2.label_size = Size(0);
        nv2.align = None;
        p.devices = vec![nv1, nv2];
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert_eq!(l.ram_base, GIB);
        let got: Vec<(u64, u64)> = l.placements().map(|(_, p)| (p.addr, p.size)).collect();
        assert_eq!(
            got,
            [(0x8000_0000, 0x3ffe_0000), (0xbffe_0000, 0x2000_0000)]
        );
        p.guest_page_size = Some(Size(64 * 1024));
        assert_eq!(
            layout(&p, &HostFacts::default()).unwrap().section_size,
            512 * MIB
        );
    }

    #[test]
    fn seed_without_align_misses_the_section() {
        let l = layout(&seed(None), &HostFacts::default()).unwrap();
        let p: Vec<_> = l.placements().map(|(_, p)| p.clone()).collect();
        assert_eq!(p[0].addr, 0x1_0000_0000);
        assert_eq!(p[0].size, 17 * GIB - 2 * MIB);
        assert_eq!(p[1].addr, 0x5_3fe0_0000);
        assert!(!p[1].start_aligned);
        assert_eq!(past_section(p[1].addr, 128 * MIB), 126 * MIB);
    }

    #[test]
    fn seed_with_align_lands_on_sections_and_wastes_a_tail() {
        let l = layout(&seed(Some(Size::mib(128))), &HostFacts::default()).unwrap();
        let p: Vec<_> = l.placements().map(|(_, p)| p.clone()).collect();
        assert_eq!(p[0].size, 16 * GIB + 896 * MIB);
        assert_eq!(p[1].addr, 0x5_3800_0000);
        assert!(p[1].start_aligned && p[1].end_aligned);
        assert_eq!(p[0].unused_tail, 126 * MIB);
        assert_eq!(p[0].label_offset, 17 * GIB - 2 * MIB);
    }

    #[test]
    fn slots_and_space_are_enforced() {
        let mut p = seed(None);
        p.slots = Auto::Fixed(1);
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert_eq!(
            l.devices[1].result,
            Err(PlaceError::NoFreeSlot { slots: 1 })
        );
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size::gib(20));
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert!(matches!(
            l.devices[1].result,
            Err(PlaceError::NotEnoughSpace { .. })
        ));
    }

    #[test]
    fn automatic_maxmem_fits_the_devices_exactly() {
        let mut p = seed(Some(Size::mib(128)));
        p.slots = Auto::Auto;
        p.maxmem = Auto::Auto;
        assert_eq!(p.effective_maxmem(), 512 * MIB + 2 * (16 * GIB + 896 * MIB));
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert!(l.devices.iter().all(|d| d.result.is_ok()));
    }

    #[test]
    fn explicit_addresses_are_checked_like_qemu() {
        let mut p = seed(None);
        p.devices[0].addr = Some(crate::core::profile::Addr(0x1_0000_1000));
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert_eq!(l.devices[0].result.as_ref().unwrap().addr, 0x1_0000_1000);
        // nv2 then goes first-fit after nv1
        assert_eq!(
            l.devices[1].result.as_ref().unwrap().addr,
            0x1_0000_1000 + 17 * GIB - 2 * MIB
        );
        p.devices[1].addr = Some(crate::core::profile::Addr(0x1_0000_0000));
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert_eq!(
            l.devices[1].result,
            Err(PlaceError::AddrConflict {
                other: "nv1".into()
            })
        );
    }

    /// QEMU's walk as written in memory-device.c, one device at a time.
    fn naive_first_fit(placed: &[(u64, u64)], base: u64, size: u64, align: u64) -> Option<u64> {
        let mut addr = align_up(base, align)?;
        for &(start, end) in placed {
            if overlaps(start, end - start, addr, size) {
                addr = align_up(end, align)?;
            } else if start >= addr.saturating_add(size) {
                break;
            }
        }
        Some(addr)
    }

    /// Placer's first fit and QEMU's walk for ranges in 1 MiB units with
    /// gaps of `gap` MiB (0 = back to back) before each `len` MiB device.
    fn first_fit_and_walk(
        pieces: &[(u64, u64)],
        size_units: u64,
        align_shift: u32,
    ) -> (Option<u64>, Option<u64>) {
        let unit = MIB;
        let base = 4 * GIB;
        let mut at = base;
        let mut placed = Vec::new();
        for &(gap, len) in pieces {
            at += gap * unit;
            placed.push((at, at + len * unit, 0usize));
            at += len * unit;
        }
        let dimms: Vec<Dimm> = Vec::new();
        let region = Region {
            base,
            size: 64 * GIB,
        };
        let placer = Placer {
            devices: &dimms,
            region: Some(region),
            total: 64 * GIB,
            slots: 256,
            used_slots: BTreeSet::new(),
            free_from: 0,
            used_space: 0,
            placed: placed.clone(),
        };
        let align = unit << align_shift;
        let size = size_units * unit;
        let simple: Vec<(u64, u64)> = placed.iter().map(|(a, e, _)| (*a, *e)).collect();
        (
            placer.first_fit(size, align, region).ok(),
            naive_first_fit(&simple, base, size, align),
        )
    }

    /// What the property test below once found: two back-to-back devices.
    #[test]
    fn first_fit_after_two_back_to_back_devices() {
        let (ours, qemu) = first_fit_and_walk(&[(0, 1), (0, 1)], 1, 0);
        assert_eq!(ours, qemu);
        assert_eq!(ours, Some(4 * GIB + 2 * MIB));
    }

    proptest::proptest! {
        // A failure is printed, never written into the tree: keep it as a
        // fixed test like the one above.
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Crossing runs of back-to-back devices in one step finds the
        /// same address as QEMU's device-by-device walk.
        #[test]
        fn first_fit_equals_qemus_walk(
            pieces in proptest::collection::vec((0u64..4, 1u64..6), 0..40),
            size_units in 1u64..6,
            align_shift in 0u32..4,
        ) {
            let (ours, qemu) = first_fit_and_walk(&pieces, size_units, align_shift);
            proptest::prop_assert_eq!(ours, qemu);
        }
    }
}
