//! What QEMU really placed (QMP `query-memory-devices`) against qpmem's
//! prediction ([`crate::core::layout`](mod@crate::core::layout)): one row per device, every difference
//! spelled out. `probe` prints it; the launch view shows it.

use crate::core::layout::Layout;
use serde::{Deserialize, Serialize};

/// One entry of `query-memory-devices`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MemoryDeviceInfo {
    /// `nvdimm` or `dimm`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    /// 0 for virtio-pmem/virtio-mem, which have no slot.
    #[serde(default)]
    pub slot: u32,
    /// `addr`, or virtio-pmem/virtio-mem's `memaddr`.
    pub addr: u64,
    pub size: u64,
    /// 0 when QEMU reports none (virtio-pmem).
    #[serde(default)]
    pub node: u32,
    pub memdev: String,
}

/// Where qpmem predicted a device would land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicted {
    pub slot: u32,
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

/// Compare, in the profile's device order, then devices only QEMU knows.
pub fn compare(layout: &Layout, actual: &[MemoryDeviceInfo]) -> Comparison {
    let mut devices = Vec::new();
    for d in &layout.devices {
        let found = actual.iter().find(|a| a.id.as_deref() == Some(&d.id));
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
                if p.slot != a.slot {
                    differences.push(format!("slot: QEMU {}, predicted {}", a.slot, p.slot));
                }
            }
            (Some(_), None) => differences.push("QEMU did not report this device".into()),
            (None, Some(_)) => {
                differences.push("QEMU placed a device qpmem predicted it would refuse".into())
            }
            (None, None) => {}
        }
        devices.push(DeviceComparison {
            id: d.id.clone(),
            predicted,
            actual: found.cloned(),
            differences,
        });
    }
    for a in actual {
        let known =
            a.id.as_deref()
                .is_some_and(|id| layout.devices.iter().any(|d| d.id == id));
        if !known {
            devices.push(DeviceComparison {
                id: a.id.clone().unwrap_or_else(|| "(no id)".into()),
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
            slot,
            addr,
            size,
            node: 0,
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
}
