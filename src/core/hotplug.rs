//! Hotplug: where QEMU will put a memory device added to a running VM,
//! what stands in the way, and the QMP arguments that add it.
//!
//! The prediction starts from what QEMU reports (`query-memory-devices`),
//! not from the profile's own prediction: every device already plugged is
//! pinned at its reported address and slot, the VM keeps the `slots=` and
//! `maxmem=` it was started with, and the new device goes last, so the
//! one placement model ([`crate::core::layout`]) does QEMU's first fit
//! around what is really there. The rules ([`crate::core::diagnose`]) run
//! on that same configuration.

use crate::core::device::Addr;
use crate::core::device::Dimm;
use crate::core::diagnose::{check_profile, Diagnostic, Edit, Fix, Severity};
use crate::core::facts::HostFacts;
use crate::core::layout::{layout, PlaceError, Placement};
use crate::core::profile::{Auto, Profile};
use crate::core::qemu::{MemoryDeviceInfo, QemuVersion};
use crate::core::size::{Size, GIB};
use serde_json::Value;

/// The running VM as the prediction sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    /// The launched profile with what this session hotplugged appended,
    /// `slots`/`maxmem` fixed at the values QEMU was started with.
    pub profile: Profile,
    /// QEMU's own report of the plugged devices.
    pub plugged: Vec<MemoryDeviceInfo>,
    /// The running QEMU's release, when known.
    pub qemu: Option<QemuVersion>,
}

impl Running {
    /// The VM started from `launched` (slots and maxmem as its layout
    /// gave them: an automatic value would otherwise grow with the new
    /// device), with `hotplugged` added since and QEMU's report.
    pub fn new(
        launched: &Profile,
        hotplugged: &[Dimm],
        plugged: Vec<MemoryDeviceInfo>,
        qemu: Option<QemuVersion>,
    ) -> Running {
        let mut profile = launched.clone();
        if let Ok(l) = layout(launched, &HostFacts::default()) {
            profile.slots = Auto::Fixed(l.slots);
            profile.maxmem = Auto::Fixed(Size(l.maxmem));
        }
        profile.devices.extend(hotplugged.iter().cloned());
        Running {
            profile,
            plugged,
            qemu,
        }
    }

    /// The profile with every device QEMU reports pinned where it is
    /// (matched by id; a device QEMU does not report is left out, as it
    /// is not in the VM).
    fn pinned(&self) -> Profile {
        let mut p = self.profile.clone();
        p.devices.retain_mut(|d| {
            match self
                .plugged
                .iter()
                .find(|m| m.id.as_deref() == Some(d.id.as_str()))
            {
                Some(m) => {
                    d.addr = Some(Addr(m.addr));
                    d.slot = m.slot.or(d.slot);
                    true
                }
                None => false,
            }
        });
        p
    }
}

/// Adding one device to a running VM, judged before anything happens.
#[derive(Debug, Clone, PartialEq)]
pub struct HotplugPlan {
    /// The device to add.
    pub device: Dimm,
    /// Where QEMU will put it, or why QEMU will refuse it.
    pub placement: Result<Placement, PlaceError>,
    /// The rules' findings about the new device, and every error of the
    /// resulting configuration.
    pub diagnostics: Vec<Diagnostic>,
    /// Why this hotplug cannot be done at all (the kind or the QEMU
    /// release): each blocks it, like an error.
    pub blockers: Vec<String>,
    /// QMP `object-add`'s arguments, in the running release's shape.
    pub object_add: Value,
    /// QMP `device_add`'s arguments.
    pub device_add: Value,
}

impl HotplugPlan {
    /// Everything that stops the hotplug, one message each.
    pub fn errors(&self) -> Vec<String> {
        let mut out = self.blockers.clone();
        if let Err(e) = &self.placement {
            let help = match e {
                PlaceError::NoFreeSlot { .. }
                | PlaceError::NotEnoughSpace { .. }
                | PlaceError::NoDeviceMemory
                | PlaceError::Fragmented => {
                    " (room for hotplug is set at launch: spare slots in the VM form, which also raise an automatic maxmem, or a larger maxmem)"
                }
                _ => "",
            };
            out.push(format!(
                "{}: QEMU will refuse it: {e}{help}",
                self.device.id
            ));
        }
        out.extend(
            self.diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(Diagnostic::render),
        );
        out
    }

    pub fn is_blocked(&self) -> bool {
        !self.errors().is_empty()
    }
}

/// When the VM has no room for `plan`'s device (no free slot, not enough
/// of maxmem), the change to the launched profile that gives the next
/// launch room for it: one more spare slot (or one more fixed slot), and
/// a fixed maxmem raised by the device's footprint (an automatic one
/// grows with the spare slot). The running VM keeps what it started with:
/// slots and maxmem are fixed at start.
pub fn room_fix(launched: &Profile, plan: &HotplugPlan) -> Option<Fix> {
    match plan.placement {
        Err(
            PlaceError::NoFreeSlot { .. }
            | PlaceError::NotEnoughSpace { .. }
            | PlaceError::NoDeviceMemory
            | PlaceError::Fragmented,
        ) => {}
        _ => return None,
    }
    let mut edits = Vec::new();
    let mut what = Vec::new();
    match launched.slots {
        Auto::Auto => {
            let spare = launched.spare_slots.saturating_add(1);
            edits.push(Edit::SetSpareSlots { spare });
            what.push(format!("spare slots {spare}"));
        }
        Auto::Fixed(n) => {
            edits.push(Edit::SetSlots {
                slots: Auto::Fixed(n.saturating_add(1)),
            });
            what.push(format!("slots {}", n.saturating_add(1)));
        }
    }
    if let Auto::Fixed(m) = launched.maxmem {
        let need = crate::core::device::footprint(&plan.device).unwrap_or(plan.device.size.0);
        let to = crate::core::size::align_up(m.0.saturating_add(need), GIB)
            .unwrap_or(m.0.saturating_add(need));
        edits.push(Edit::SetMaxmem {
            maxmem: Auto::Fixed(Size(to)),
        });
        what.push(format!("maxmem {}", crate::core::size::format_qemu(to)));
    }
    Some(Fix::new(
        format!(
            "for the next launch, room to hotplug {}: {}",
            plan.device.id,
            what.join(", ")
        ),
        edits,
    ))
}

/// NVDIMM hotplug came with QEMU 2.8 (ACPI NFIT notification).
pub const NVDIMM_HOTPLUG: QemuVersion = QemuVersion::new(2, 8, 0);
/// `object-add` took the object's properties flat, beside `qom-type` and
/// `id`, from QEMU 6.0; before, inside `props`.
pub const FLAT_OBJECT_ADD: QemuVersion = QemuVersion::new(6, 0, 0);

/// Judge adding `device` to the running VM.
pub fn plan(running: &Running, device: Dimm, host: &HostFacts) -> HotplugPlan {
    let mut p = running.pinned();
    p.devices.push(device.clone());
    let placement = match layout(&p, host) {
        Ok(l) => match l.devices.last().map(|d| d.result.clone()) {
            Some(r) => r,
            None => Err(PlaceError::NoDeviceMemory),
        },
        Err(_) => Err(PlaceError::NoDeviceMemory),
    };
    let diagnostics = check_profile(&p, &[], host)
        .into_iter()
        .filter(|d| {
            d.device.as_deref() == Some(device.id.as_str())
                || (d.device.is_none() && d.severity == Severity::Error)
        })
        .collect();
    let mut blockers = Vec::new();
    if running.profile.devices.iter().any(|d| d.id == device.id) {
        blockers.push(format!("{}: the VM has a device of that id", device.id));
    }
    if device.is_nvdimm() {
        if let Some(v) = running.qemu.filter(|v| *v < NVDIMM_HOTPLUG) {
            blockers.push(format!(
                "{}: NVDIMM hotplug needs QEMU {NVDIMM_HOTPLUG} or newer; this is {v}",
                device.id
            ));
        }
    }
    let (object, dev) = crate::core::cmdline::qmp_objects(&device);
    HotplugPlan {
        object_add: object_add_args(object, running.qemu),
        device_add: dev,
        device,
        placement,
        diagnostics,
        blockers,
    }
}

/// `object-add`'s arguments: flat (QEMU 6.0+, and when the release is
/// unknown), else the properties under `props`.
fn object_add_args(object: Value, qemu: Option<QemuVersion>) -> Value {
    let old = qemu.is_some_and(|v| v < FLAT_OBJECT_ADD);
    match object {
        Value::Object(mut map) if old => {
            let mut head = serde_json::Map::new();
            for key in ["qom-type", "id"] {
                if let Some(v) = map.remove(key) {
                    head.insert(key.to_string(), v);
                }
            }
            head.insert("props".to_string(), Value::Object(map));
            Value::Object(head)
        }
        other => other,
    }
}

/// What QEMU did with a hotplugged device against the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Where predicted.
    AsPredicted { addr: u64, slot: Option<u32> },
    /// Plugged, but elsewhere (or with another size) than predicted.
    Differs {
        predicted: (u64, u64),
        actual: (u64, u64),
    },
    /// QEMU does not report it after `device_add` said yes.
    Missing,
}

/// Compare QEMU's report after the hotplug with the plan.
pub fn outcome(plan: &HotplugPlan, after: &[MemoryDeviceInfo]) -> Outcome {
    let Some(m) = after
        .iter()
        .find(|m| m.id.as_deref() == Some(plan.device.id.as_str()))
    else {
        return Outcome::Missing;
    };
    match &plan.placement {
        Ok(p) if p.addr == m.addr && p.size == m.size => Outcome::AsPredicted {
            addr: m.addr,
            slot: m.slot,
        },
        Ok(p) => Outcome::Differs {
            predicted: (p.addr, p.size),
            actual: (m.addr, m.size),
        },
        Err(_) => Outcome::Differs {
            predicted: (0, 0),
            actual: (m.addr, m.size),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::size::{GIB, MIB};
    use std::path::PathBuf;

    fn launched() -> Profile {
        let mut p = Profile::empty("hp");
        p.ram = Size::mib(512);
        p.slots = Auto::Fixed(4);
        p.maxmem = Auto::Fixed(Size::gib(8));
        let mut d = Dimm::nvdimm(1, PathBuf::from("/vms/nv1"), Size::gib(1));
        d.align = None;
        p.devices.push(d);
        p
    }

    fn reported(id: &str, slot: u32, addr: u64, size: u64) -> MemoryDeviceInfo {
        MemoryDeviceInfo {
            kind: "nvdimm".into(),
            id: Some(id.into()),
            slot: Some(slot),
            addr,
            size,
            node: Some(0),
            memdev: "/objects/mem1".into(),
        }
    }

    /// QEMU's report of `p` as launched: every device where placed.
    fn as_placed(p: &Profile) -> Vec<MemoryDeviceInfo> {
        layout(p, &HostFacts::default())
            .unwrap()
            .devices
            .iter()
            .map(|d| {
                let at = d.placement().unwrap();
                reported(&d.id, at.slot.unwrap(), at.addr, at.size)
            })
            .collect()
    }

    fn nv(n: usize, size: Size) -> Dimm {
        Dimm::nvdimm(n, PathBuf::from(format!("/vms/nv{n}")), size)
    }

    #[test]
    fn the_new_device_goes_where_qemu_says_there_is_room() {
        // QEMU 7.2 with -m 512M,slots=4,maxmem=8G and nv1 (1G, label 2M):
        // nv1 at 0x100000000, and a hotplugged 1G nvdimm with align=128M
        // at 0x140000000, slot 1.
        let r = Running::new(
            &launched(),
            &[],
            vec![reported("nv1", 0, 0x1_0000_0000, GIB - 2 * MIB)],
            Some(QemuVersion::new(7, 2, 0)),
        );
        let mut d = nv(2, Size::gib(1));
        d.align = Some(Size::mib(128));
        let plan = plan(&r, d, &HostFacts::default());
        let p = plan.placement.as_ref().unwrap();
        assert_eq!((p.addr, p.slot), (0x1_4000_0000, Some(1)));
        // Pinned where QEMU put it: moving nv1 in the report moves the
        // new device.
        let r = Running::new(
            &launched(),
            &[],
            vec![reported("nv1", 2, 0x2_0000_0000, GIB - 2 * MIB)],
            None,
        );
        let plan = super::plan(&r, nv(2, Size::gib(1)), &HostFacts::default());
        let p = plan.placement.as_ref().unwrap();
        assert_eq!((p.addr, p.slot), (0x1_0000_0000, Some(0)));
    }

    #[test]
    fn no_room_and_old_qemu_block_it() {
        let full = Running::new(
            &launched(),
            &[
                nv(2, Size::gib(1)),
                nv(3, Size::gib(1)),
                nv(4, Size::gib(1)),
            ],
            (1..=4)
                .map(|n| {
                    reported(
                        &format!("nv{n}"),
                        n - 1,
                        u64::from(n) * 0x4000_0000 + 0xC000_0000,
                        GIB - 2 * MIB,
                    )
                })
                .collect(),
            None,
        );
        let plan = plan(&full, nv(5, Size::gib(1)), &HostFacts::default());
        assert!(
            matches!(plan.placement, Err(PlaceError::NoFreeSlot { .. })),
            "{:?}",
            plan.placement
        );
        assert!(plan.is_blocked());
        let big = Running::new(
            &launched(),
            &[],
            vec![reported("nv1", 0, 0x1_0000_0000, GIB - 2 * MIB)],
            None,
        );
        let plan = super::plan(&big, nv(2, Size::gib(8)), &HostFacts::default());
        assert!(plan.placement.is_err(), "{:?}", plan.placement);
        let old = Running {
            qemu: Some(QemuVersion::new(2, 7, 0)),
            ..big.clone()
        };
        let plan = super::plan(&old, nv(2, Size::gib(1)), &HostFacts::default());
        assert!(
            plan.errors().iter().any(|e| e.contains("2.8")),
            "{:?}",
            plan.errors()
        );
    }

    #[test]
    fn object_add_takes_the_shape_of_the_release() {
        let r = Running::new(
            &launched(),
            &[],
            Vec::new(),
            Some(QemuVersion::new(7, 2, 0)),
        );
        let mut d = nv(2, Size::gib(1));
        d.align = Some(Size::mib(128));
        let plan = super::plan(&r, d.clone(), &HostFacts::default());
        assert_eq!(plan.object_add["qom-type"], "memory-backend-file");
        assert_eq!(plan.object_add["id"], "mem2");
        assert_eq!(plan.object_add["size"], GIB);
        assert_eq!(plan.object_add["align"], 128 * MIB);
        assert_eq!(plan.object_add["share"], true);
        assert_eq!(plan.device_add["driver"], "nvdimm");
        assert_eq!(plan.device_add["memdev"], "mem2");
        assert_eq!(plan.device_add["label-size"], 2 * MIB);
        let old = Running {
            qemu: Some(QemuVersion::new(5, 2, 0)),
            ..r
        };
        let plan = super::plan(&old, d, &HostFacts::default());
        assert_eq!(plan.object_add["id"], "mem2");
        assert_eq!(plan.object_add["props"]["size"], GIB);
        assert!(plan.object_add.get("size").is_none());
    }

    #[test]
    fn the_outcome_is_loud_when_qemu_disagrees() {
        let r = Running::new(
            &launched(),
            &[],
            vec![reported("nv1", 0, 0x1_0000_0000, GIB - 2 * MIB)],
            None,
        );
        let plan = plan(&r, nv(2, Size::gib(1)), &HostFacts::default());
        let p = plan.placement.clone().unwrap();
        let at = |addr| vec![reported("nv2", 1, addr, p.size)];
        assert_eq!(
            outcome(&plan, &at(p.addr)),
            Outcome::AsPredicted {
                addr: p.addr,
                slot: Some(1)
            }
        );
        assert!(matches!(
            outcome(&plan, &at(p.addr + GIB)),
            Outcome::Differs { .. }
        ));
        assert_eq!(outcome(&plan, &[]), Outcome::Missing);
    }

    #[test]
    fn no_room_gives_a_fix_for_the_next_launch_that_makes_room() {
        // Two slots, both taken at launch: the third DIMM has no slot.
        let mut launched = Profile::empty("room");
        launched.ram = Size::mib(512);
        launched.devices = vec![nv(1, Size::gib(1)), nv(2, Size::gib(1))];
        let running = Running::new(&launched, &[], as_placed(&launched), None);
        let third = nv(3, Size::gib(1));
        let blocked = plan(&running, third.clone(), &HostFacts::default());
        assert!(blocked.is_blocked(), "{:?}", blocked.errors());
        let fix = room_fix(&launched, &blocked).expect("a fix");
        assert_eq!(fix.edits, [Edit::SetSpareSlots { spare: 1 }]);
        let mut next = launched.clone();
        for e in &fix.edits {
            assert!(e.apply(&mut next));
        }
        // The next launch has room: the same hotplug fits.
        let running = Running::new(&next, &[], as_placed(&next), None);
        let fits = plan(&running, third.clone(), &HostFacts::default());
        assert!(!fits.is_blocked(), "{:?}", fits.errors());
        assert_eq!(room_fix(&next, &fits), None, "nothing to fix");

        // A fixed maxmem is raised by the device's footprint too.
        launched.maxmem = Auto::Fixed(Size::mib(512 + 2 * 1026));
        let fix = room_fix(&launched, &blocked).unwrap();
        assert!(
            fix.edits
                .iter()
                .any(|e| matches!(e, Edit::SetMaxmem { .. })),
            "{fix:?}"
        );
    }
}
