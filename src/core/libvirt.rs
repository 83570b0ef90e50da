//! What libvirt changes when it runs the profile's libvirt export
//! (`export::libvirt`): the names it gives devices and backends, the
//! slots it sets, the sizes it rounds, and whether it preallocates the
//! backing file. Measured on libvirt 9.0.0 with `virsh domxml-to-native
//! qemu-argv` (held there by `tests/libvirt_ground_truth.rs`); the version
//! in use is a fact the shell gathers ([`crate::core::facts::LibvirtStatus`]).
//!
//! libvirt 9.0 (src/qemu/qemu_command.c, qemuBuildMemoryBackendProps) adds
//! `prealloc=on` to an NVDIMM's file backend unless the device has
//! `<source><pmem/>` (which also passes `pmem=on`): QEMU then writes every
//! page of the file when it starts. `<memoryBacking><allocation
//! mode='ondemand'/>` does not turn it off (measured). virtio-pmem, pc-dimm
//! and virtio-mem get no prealloc.

use crate::core::layout::Layout;
use crate::core::profile::{DimmKind, Profile};
use crate::core::size::{align_up, MIB};
use serde::Serialize;

pub use crate::core::facts::LibvirtVersion;

/// How libvirt will run one memory device of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevicePrediction {
    /// The profile's id for it (`nv1`).
    pub id: String,
    /// libvirt's id for the `-device` (`nvdimm0`, `dimm1`, `virtiopmem0`).
    pub alias: String,
    /// libvirt's id for the backend object (`memnvdimm0`).
    pub backend: String,
    /// The slot libvirt sets (`None` for virtio devices, or when the
    /// layout is unknown).
    pub slot: Option<u32>,
    /// The backend size libvirt passes: the profile's, rounded up to
    /// 2 MiB.
    pub size: u64,
    /// libvirt adds `prealloc=on` to the backend.
    pub prealloc: bool,
}

/// libvirt's `-device` id prefix for a kind: its model without dashes.
fn alias_prefix(kind: DimmKind) -> String {
    kind.spec().libvirt_model().replace('-', "")
}

/// libvirt rounds memory modules up to 2 MiB (x86, measured; arm64 too).
pub const MODULE_ALIGN: u64 = 2 * MIB;

/// What libvirt does with each device of the profile, in order, given the
/// slots QEMU assigns (`layout`; the export pins them).
pub fn predict(profile: &Profile, layout: Option<&Layout>) -> Vec<DevicePrediction> {
    let mut counters: Vec<(String, u32)> = Vec::new();
    profile
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let kind = d.kind.spec();
            let prefix = alias_prefix(d.kind);
            let slot = if kind.takes_slot() {
                layout
                    .and_then(|l| l.devices.get(i))
                    .and_then(|dl| dl.placement())
                    .and_then(|p| p.slot)
                    .or(d.slot)
            } else {
                None
            };
            // DIMMs are named after their slot; virtio devices count up
            // per model.
            let index = match slot {
                Some(s) => s,
                None => {
                    let at = match counters.iter().position(|(p, _)| *p == prefix) {
                        Some(at) => at,
                        None => {
                            counters.push((prefix.clone(), 0));
                            counters.len() - 1
                        }
                    };
                    counters[at].1 += 1;
                    counters[at].1 - 1
                }
            };
            let alias = format!("{prefix}{index}");
            DevicePrediction {
                id: d.id.clone(),
                backend: format!("mem{alias}"),
                alias,
                slot,
                size: align_up(d.size.0, MODULE_ALIGN).unwrap_or(d.size.0),
                prealloc: d.kind == DimmKind::Nvdimm && d.backend.path().is_some() && !d.pmem,
            }
        })
        .collect()
}

/// libvirt counts every memory device against `slots`, virtio ones too
/// ("memory device count '2' exceeds slots count '1'", measured on 9.0),
/// where QEMU gives slots to DIMMs only: the slots the export writes.
pub fn slots(profile: &Profile) -> u32 {
    let devices = u32::try_from(profile.devices.len()).unwrap_or(u32::MAX);
    profile.effective_slots().max(devices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;

    #[test]
    fn versions_parse_and_only_9_0_is_measured() {
        let v = LibvirtVersion::parse("9.0.0").unwrap();
        assert!(v.is_measured());
        assert_eq!(v.to_string(), "9.0.0");
        assert!(!LibvirtVersion::parse("10.1").unwrap().is_measured());
        assert_eq!(LibvirtVersion::parse("9"), None);
        assert_eq!(LibvirtVersion::parse("9.x.1"), None);
    }

    #[test]
    fn virtio_devices_count_per_model_and_take_a_slot_in_libvirts_count() {
        let mut p = Profile::empty("v");
        p.slots = crate::core::profile::Auto::Fixed(1);
        let mut v1 = Dimm::nvdimm(1, "/x/a".into(), Size::gib(1));
        v1.kind = DimmKind::VirtioPmem;
        let mut v2 = v1.clone();
        v2.id = "vp2".into();
        p.devices = vec![v1, v2];
        let pr = predict(&p, None);
        assert_eq!(pr[0].alias, "virtiopmem0");
        assert_eq!(pr[1].backend, "memvirtiopmem1");
        assert!(!pr[0].prealloc);
        assert_eq!(slots(&p), 2);
    }
}
