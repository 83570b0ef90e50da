//! What QEMU really placed (QMP `query-memory-devices`) against qpmem's
//! prediction ([`crate::core::layout`](mod@crate::core::layout)): one row per device, every difference
//! spelled out. `probe` prints it; the launch view shows it.

use crate::core::layout::Layout;
use serde::{Deserialize, Serialize};

/// One entry of `query-memory-devices`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MemoryDeviceInfo {
    /// `nvdimm`, `dimm`, `virtio-pmem` or `virtio-mem`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    /// `None` where QMP gives none (virtio-pmem, virtio-mem have no slot).
    #[serde(default)]
    pub slot: Option<u32>,
    /// `addr`, or virtio-pmem/virtio-mem's `memaddr`.
    pub addr: u64,
    /// The range it takes of the device memory region: `size`, or
    /// virtio-mem's `max-size` (its `size` is what the guest plugged).
    pub size: u64,
    /// `None` where QMP gives none (virtio-pmem).
    #[serde(default)]
    pub node: Option<u32>,
    pub memdev: String,
}

/// Where qpmem predicted a device would land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicted {
    /// `None` for kinds without a slot (virtio-pmem, virtio-mem).
    pub slot: Option<u32>,
    pub addr: u64,
    pub size: u64,
}

/// One device, predicted and actual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceComparison {
    pub id: String,
    /// `None` when qpmem predicted nothing (QEMU reports a device the
    /// profile does not model, or the model says QEMU would refuse it).
    pub predicted: Option<Predicted>,
    /// `None` when QEMU did not report the device.
    pub actual: Option<MemoryDeviceInfo>,
    /// Each difference in words (`addr: QEMU 0x…, predicted 0x…`).
    pub differences: Vec<String>,
}

impl DeviceComparison {
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub devices: Vec<DeviceComparison>,
}

impl Comparison {
    /// Every device is where qpmem predicted.
    pub fn matches(&self) -> bool {
        self.devices.iter().all(DeviceComparison::matches)
    }
}

/// The QMP `type` of a device kind (`pc-dimm` is reported as `dimm`).
fn qmp_type(kind: crate::core::profile::DimmKind) -> &'static str {
    kind.spec().qmp_type()
}

/// Which reported device is which predicted one: by id; a device without
/// `id=` (QMP reports it with none) by kind, first at the predicted
/// address, else the next one of its kind in QEMU's order.
fn pair(layout: &Layout, actual: &[MemoryDeviceInfo]) -> Vec<Option<usize>> {
    let mut taken = vec![false; actual.len()];
    let mut found = vec![None; layout.devices.len()];
    let anon = |a: &MemoryDeviceInfo, d: &crate::core::layout::DeviceLayout| {
        a.id.is_none() && a.kind == qmp_type(d.kind)
    };
    for (i, d) in layout.devices.iter().enumerate() {
        if d.id.is_empty() {
            let addr = d.placement().map(|p| p.addr);
            found[i] = actual
                .iter()
                .enumerate()
                .find(|(j, a)| !taken[*j] && anon(a, d) && Some(a.addr) == addr)
                .map(|(j, _)| j);
        } else {
            found[i] = actual
                .iter()
                .enumerate()
                .find(|(j, a)| !taken[*j] && a.id.as_deref() == Some(d.id.as_str()))
                .map(|(j, _)| j);
        }
        if let Some(j) = found[i] {
            taken[j] = true;
        }
    }
    for (i, d) in layout.devices.iter().enumerate() {
        if d.id.is_empty() && found[i].is_none() {
            found[i] = (0..actual.len()).find(|&j| !taken[j] && anon(&actual[j], d));
            if let Some(j) = found[i] {
                taken[j] = true;
            }
        }
    }
    found
}

/// Compare, in the profile's device order, then devices only QEMU knows.
pub fn compare(layout: &Layout, actual: &[MemoryDeviceInfo]) -> Comparison {
    let mut devices = Vec::new();
    let pairs = pair(layout, actual);
    for (d, j) in layout.devices.iter().zip(&pairs) {
        let found = j.map(|j| &actual[j]);
        let predicted = d.placement().map(|p| Predicted {
            slot: p.slot,
            addr: p.addr,
            size: p.size,
        });
        let mut differences = Vec::new();
        match (&predicted, found) {
            (Some(p), Some(a)) => {
                if p.addr != a.addr {
                    differences.push(format!("addr: QEMU {:#x}, predicted {:#x}", a.addr, p.addr));
                }
                if p.size != a.size {
                    differences.push(format!("size: QEMU {:#x}, predicted {:#x}", a.size, p.size));
                }
                if a.slot != p.slot {
                    let show =
                        |s: Option<u32>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
                    differences.push(format!(
                        "slot: QEMU {}, predicted {}",
                        show(a.slot),
                        show(p.slot)
                    ));
                }
            }
            (Some(_), None) => differences.push("QEMU did not report this device".into()),
            (None, Some(_)) => {
                differences.push("QEMU placed a device qpmem predicted it would refuse".into())
            }
            (None, None) => {}
        }
        devices.push(DeviceComparison {
            id: if d.id.is_empty() {
                format!("({} without id)", d.kind.device())
            } else {
                d.id.clone()
            },
            predicted,
            actual: found.cloned(),
            differences,
        });
    }
    for (j, a) in actual.iter().enumerate() {
        if !pairs.contains(&Some(j)) {
            devices.push(DeviceComparison {
                id: a
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("({} without id)", a.kind)),
                predicted: None,
                actual: Some(a.clone()),
                differences: vec!["QEMU reports a device the profile does not model".into()],
            });
        }
    }
    Comparison { devices }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use crate::core::profile::{Dimm, Profile};
    use crate::core::size::Size;

    fn info(id: &str, slot: u32, addr: u64, size: u64) -> MemoryDeviceInfo {
        MemoryDeviceInfo {
            kind: "nvdimm".into(),
            id: Some(id.into()),
            slot: Some(slot),
            addr,
            size,
            node: Some(0),
            memdev: "/objects/m".into(),
        }
    }

    #[test]
    fn flags_each_kind_of_difference() {
        let mut p = Profile::empty("x");
        p.ram = Size::mib(512);
        p.devices.push(Dimm::nvdimm(1, "/a".into(), Size::gib(1)));
        p.devices.push(Dimm::nvdimm(2, "/b".into(), Size::gib(1)));
        let l = layout(&p, &HostFacts::default()).unwrap();
        // 512M of RAM on pc: the region starts at 4 GiB; 1G - 2M label,
        // aligned down to 128M, is 896 MiB visible, and nv2 follows at
        // the next 128M boundary, right after it.
        let visible = 896 << 20;
        let good = [
            info("nv1", 0, 0x1_0000_0000, visible),
            info("nv2", 1, 0x1_0000_0000 + visible, visible),
        ];
        let c = compare(&l, &good);
        assert!(c.matches(), "{c:#?}");
        assert_eq!(c.devices.len(), 2);

        let bad = [
            info("nv1", 1, 0x1_0000_0000, visible + 1),
            info("extra", 2, 0x2_0000_0000, 1 << 27),
        ];
        let c = compare(&l, &bad);
        assert!(!c.matches());
        assert_eq!(
            c.devices[0].differences,
            vec![
                format!("size: QEMU {:#x}, predicted {visible:#x}", visible + 1),
                "slot: QEMU 1, predicted 0".to_string()
            ]
        );
        assert_eq!(
            c.devices[1].differences,
            vec!["QEMU did not report this device"]
        );
        assert_eq!(c.devices[2].id, "extra");
        assert!(c.devices[2].predicted.is_none());
        assert!(!c.devices[2].matches());
    }

    /// QEMU reports a device without `id=` with none, in address order:
    /// it is matched by kind and address, then by order.
    #[test]
    fn devices_without_id_are_matched_by_kind_and_order() {
        let mut p = Profile::empty("x");
        p.ram = Size::mib(512);
        p.devices.push(Dimm::nvdimm(1, "/a".into(), Size::gib(1)));
        p.devices.push(Dimm::nvdimm(2, "/b".into(), Size::gib(1)));
        for d in &mut p.devices {
            d.id.clear();
        }
        let l = layout(&p, &HostFacts::default()).unwrap();
        let visible = 896 << 20;
        let anon = |slot, addr| MemoryDeviceInfo {
            id: None,
            ..info("x", slot, addr, visible)
        };
        let c = compare(
            &l,
            &[anon(0, 0x1_0000_0000), anon(1, 0x1_0000_0000 + visible)],
        );
        assert!(c.matches(), "{c:#?}");
        assert_eq!(c.devices.len(), 2);
        assert_eq!(c.devices[0].id, "(nvdimm without id)");
        // One moved: still paired (by order), and the move is reported.
        let c = compare(&l, &[anon(0, 0x1_0000_0000), anon(1, 0x2_0000_0000)]);
        assert_eq!(c.devices.len(), 2, "{c:#?}");
        assert_eq!(
            c.devices[1].differences,
            vec![format!(
                "addr: QEMU 0x200000000, predicted {:#x}",
                0x1_0000_0000u64 + visible
            )]
        );
        // A virtio-pmem device has no slot: QMP's omission is not slot 0.
        let v: Vec<MemoryDeviceInfo> = serde_json::from_str(
            r#"[{"type":"virtio-pmem","id":"vp","addr":1,"size":2,"memdev":"/objects/m"}]"#,
        )
        .unwrap();
        assert_eq!((v[0].slot, v[0].node), (None, None));
    }
}
