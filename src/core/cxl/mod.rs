//! CXL persistent memory on q35: the topology as a tree in the profile.
//!
//! QEMU builds a CXL hierarchy from `-machine cxl=on`, host bridges
//! (`-device pxb-cxl,bus_nr=N`), root ports below them (`cxl-rp`),
//! optional switches (`cxl-upstream` with `cxl-downstream` ports), type-3
//! memory devices (`cxl-type3`, a backend and a label storage area) and
//! fixed memory windows (`-machine cxl-fmw.N.targets.M=HB,cxl-fmw.N.size=`)
//! that interleave guest addresses across host bridges. The profile holds
//! it as a tree (bridge > root port > switch > downstream port > device),
//! so a command line rendered from it always names a parent before its
//! child; [`layout`] places the windows as `pc_memory_init` does, and
//! the rules in `diagnose::cxl` say what QEMU refuses.
//!
//! Which property carries the persistent backend depends on the QEMU:
//! `memdev=` up to 7.2, `persistent-memdev=` from 8.0 (hw/mem/cxl_type3.c;
//! `memdev` is deprecated there), `volatile-memdev=` only from 8.0:
//! [`memdev_property`].

pub mod edit;
pub mod layout;
pub mod render;

pub use layout::{CxlLayout, WindowLayout};

use crate::core::device::Backend;
use crate::core::qemu::version::QemuVersion;
use crate::core::size::{Size, MIB};
use serde::{Deserialize, Serialize};

/// Window sizes and type-3 capacities are multiples of this (the CXL
/// decoders' granule; "Size of a CXL fixed memory window must my a
/// multiple of 256MiB", hw/cxl/cxl-host.c).
pub const CXL_GRANULE: u64 = 256 * MIB;
/// The host register block QEMU maps before the windows (`cxl_host_reg`).
pub const HOST_REGISTERS: u64 = MIB;
/// The interleave granularity of a window without one: 256 bytes
/// (encoded 0).
pub const DEFAULT_GRANULARITY: u64 = 256;
/// `persistent-memdev=` and `volatile-memdev=` came with this release.
pub const SPLIT_MEMDEV: QemuVersion = QemuVersion::new(8, 0, 0);
/// Windows of 12 or 16 targets overflow QEMU's array of 8 host bridges
/// per window (QEMU segfaults; measured on 7.2) until the fix that made
/// it 16 ("hw/cxl: Fix out of bound array access", released in 8.2).
pub const SIXTEEN_WAY_WINDOWS: QemuVersion = QemuVersion::new(8, 2, 0);

/// The whole CXL set-up of a profile: `cxl=on`, the tree, the windows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cxl {
    /// `-device pxb-cxl`, each with what hangs below it.
    #[serde(default)]
    pub host_bridges: Vec<HostBridge>,
    /// `-machine cxl-fmw.N...`, in index order (the order QEMU places
    /// them in).
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// `-device pxb-cxl,bus_nr=N,bus=pcie.0,id=ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostBridge {
    pub id: String,
    /// The first PCI bus number of its hierarchy.
    pub bus_nr: u8,
    /// The bus it sits on: `pcie.0` unless given.
    #[serde(default = "default_bus", skip_serializing_if = "is_default_bus")]
    pub bus: String,
    /// Other properties as written (`numa_node=0`), kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default)]
    pub root_ports: Vec<RootPort>,
}

fn default_bus() -> String {
    "pcie.0".to_string()
}
fn is_default_bus(b: &String) -> bool {
    b == "pcie.0"
}

/// A switch's `-device cxl-downstream,port=P,bus=US,id=ID,chassis=C,slot=S`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub id: String,
    #[serde(default)]
    pub port: u8,
    #[serde(default)]
    pub chassis: u8,
    #[serde(default)]
    pub slot: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Type-3 devices on its secondary bus (one is what a guest can use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Type3>,
}

/// A root port (`cxl-rp`): a [`Port`]'s properties, and switches too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootPort {
    pub id: String,
    #[serde(default)]
    pub port: u8,
    #[serde(default)]
    pub chassis: u8,
    #[serde(default)]
    pub slot: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Type3>,
    /// `cxl-upstream` switches on its secondary bus.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<Switch>,
}

/// `-device cxl-upstream,bus=RP,id=ID` and its `cxl-downstream` ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default)]
    pub downstream: Vec<Port>,
}

/// `-device cxl-type3,bus=PORT,memdev=M,lsa=L,id=ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Type3 {
    pub id: String,
    /// The persistent capacity (`memdev=` / `persistent-memdev=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<CxlMemory>,
    /// The volatile capacity (`volatile-memdev=`, QEMU 8.0+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<CxlMemory>,
    /// The label storage area (`lsa=`); QEMU 7.2 requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsa: Option<CxlMemory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One `-object memory-backend-*` a type-3 device uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CxlMemory {
    pub id: String,
    pub backend: Backend,
    pub size: Size,
    #[serde(default = "yes")]
    pub share: bool,
    /// Other backend properties as written, kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn yes() -> bool {
    true
}

/// `-machine cxl-fmw.N.targets.M=HB,...,cxl-fmw.N.size=S[,cxl-fmw.N.interleave-granularity=G]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Host bridge ids, interleaved in this order.
    pub targets: Vec<String>,
    pub size: Size,
    /// Bytes per interleave step; `None` is QEMU's 256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Size>,
}

impl Window {
    /// The granularity QEMU uses.
    pub fn granularity(&self) -> u64 {
        self.granularity.map_or(DEFAULT_GRANULARITY, |g| g.0)
    }
}

/// Where a type-3 device sits: its host bridge, root port, and the
/// switch and downstream port when it is below one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment<'a> {
    pub host_bridge: &'a HostBridge,
    pub root_port: &'a RootPort,
    pub switch: Option<(&'a Switch, &'a Port)>,
}

impl Attachment<'_> {
    /// The id of the port the device is plugged into (its `bus=`).
    pub fn port_id(&self) -> &str {
        match self.switch {
            Some((_, p)) => &p.id,
            None => &self.root_port.id,
        }
    }
}

impl Cxl {
    /// Every type-3 device with where it sits, in command-line order.
    pub fn devices(&self) -> Vec<(&Type3, Attachment<'_>)> {
        let mut out = Vec::new();
        for hb in &self.host_bridges {
            for rp in &hb.root_ports {
                for d in &rp.devices {
                    out.push((
                        d,
                        Attachment {
                            host_bridge: hb,
                            root_port: rp,
                            switch: None,
                        },
                    ));
                }
                for sw in &rp.switches {
                    for ds in &sw.downstream {
                        for d in &ds.devices {
                            out.push((
                                d,
                                Attachment {
                                    host_bridge: hb,
                                    root_port: rp,
                                    switch: Some((sw, ds)),
                                },
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// Every id the tree gives a QEMU device or object, in order.
    pub fn ids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for hb in &self.host_bridges {
            out.push(hb.id.as_str());
            for rp in &hb.root_ports {
                out.push(rp.id.as_str());
                for sw in &rp.switches {
                    out.push(sw.id.as_str());
                    out.extend(sw.downstream.iter().map(|p| p.id.as_str()));
                }
            }
        }
        for (d, _) in self.devices() {
            out.push(d.id.as_str());
            for m in [&d.persistent, &d.volatile, &d.lsa].into_iter().flatten() {
                out.push(m.id.as_str());
            }
        }
        out
    }

    /// Every backend of every type-3 device, to edit (paths, sizes).
    pub fn memories_mut(&mut self) -> Vec<&mut CxlMemory> {
        let mut out = Vec::new();
        for hb in &mut self.host_bridges {
            for rp in &mut hb.root_ports {
                let below = rp
                    .switches
                    .iter_mut()
                    .flat_map(|s| s.downstream.iter_mut())
                    .flat_map(|p| p.devices.iter_mut());
                for d in rp.devices.iter_mut().chain(below) {
                    for m in [&mut d.persistent, &mut d.volatile, &mut d.lsa]
                        .into_iter()
                        .flatten()
                    {
                        out.push(m);
                    }
                }
            }
        }
        out
    }

    /// The host bridge with this id.
    pub fn host_bridge(&self, id: &str) -> Option<&HostBridge> {
        self.host_bridges.iter().find(|h| h.id == id)
    }

    /// The type-3 devices below host bridge `id`.
    pub fn devices_below(&self, id: &str) -> Vec<&Type3> {
        self.devices()
            .into_iter()
            .filter(|(_, a)| a.host_bridge.id == id)
            .map(|(d, _)| d)
            .collect()
    }
}

fn file_memory(id: &str, path: std::path::PathBuf, size: Size) -> CxlMemory {
    CxlMemory {
        id: id.to_string(),
        backend: Backend::File(path),
        size,
        share: true,
        options: Vec::new(),
    }
}

impl Type3 {
    /// A persistent type-3 device `id` with a 256 MiB label storage area,
    /// both on shared files in `dir` (`ID.mem`, `ID.lsa`).
    pub fn pmem(id: &str, dir: &std::path::Path, size: Size) -> Type3 {
        Type3 {
            id: id.to_string(),
            persistent: Some(file_memory(
                &format!("{id}-mem"),
                dir.join(format!("{id}.mem")),
                size,
            )),
            volatile: None,
            lsa: Some(file_memory(
                &format!("{id}-lsa"),
                dir.join(format!("{id}.lsa")),
                Size(CXL_GRANULE),
            )),
            options: Vec::new(),
        }
    }
}

impl Cxl {
    /// QEMU's docs/system/devices/cxl.rst single-device example: one host
    /// bridge (`cxl.1`, bus 12), one root port, one 256 MiB persistent
    /// type-3 device with its LSA, one 4 GiB window on the bridge.
    pub fn docs_example(dir: &std::path::Path) -> Cxl {
        Cxl {
            host_bridges: vec![HostBridge {
                id: "cxl.1".into(),
                bus_nr: 12,
                bus: default_bus(),
                options: Vec::new(),
                root_ports: vec![RootPort {
                    id: "root_port13".into(),
                    port: 0,
                    chassis: 0,
                    slot: 2,
                    options: Vec::new(),
                    devices: vec![Type3::pmem("cxl-pmem0", dir, Size(CXL_GRANULE))],
                    switches: Vec::new(),
                }],
            }],
            windows: vec![Window {
                targets: vec!["cxl.1".into()],
                size: Size::gib(4),
                granularity: None,
            }],
        }
    }

    /// pmem/run_qemu's `--cxl` topology: two host bridges (`cxl.0` on
    /// bus 53, `cxl.1` on bus 191) with two root ports each; a switch
    /// (`cxl-up0`, `cxl-up1`) with four downstream ports below the first
    /// root port of each; a 256 MiB persistent device on every other
    /// downstream port (four in all); a 4 GiB window on `cxl.0` and a
    /// 4 GiB window interleaved over both bridges, each at 8 KiB
    /// granularity.
    pub fn run_qemu_example(dir: &std::path::Path) -> Cxl {
        let rp = |id: &str, port: u8, slot: u16, switches: Vec<Switch>| RootPort {
            id: id.into(),
            port,
            chassis: 0,
            slot,
            options: Vec::new(),
            devices: Vec::new(),
            switches,
        };
        let switch = |n: u16| Switch {
            id: format!("cxl-up{n}"),
            options: vec!["port=4".into()],
            downstream: (0..4u16)
                .map(|p| {
                    let k = n * 4 + p;
                    Port {
                        id: format!("swport{k}"),
                        port: u8::try_from(p).unwrap_or(0),
                        chassis: 0,
                        slot: 4 + k,
                        options: Vec::new(),
                        devices: if p % 2 == 0 {
                            vec![Type3::pmem(
                                &format!("cxl-pmem{}", k / 2),
                                dir,
                                Size(CXL_GRANULE),
                            )]
                        } else {
                            Vec::new()
                        },
                    }
                })
                .collect(),
        };
        let bridge = |n: u16, bus_nr: u8| HostBridge {
            id: format!("cxl.{n}"),
            bus_nr,
            bus: default_bus(),
            options: Vec::new(),
            root_ports: vec![
                rp(&format!("hb{n}rp0"), 0, n * 2, vec![switch(n)]),
                rp(&format!("hb{n}rp1"), 1, n * 2 + 1, Vec::new()),
            ],
        };
        let window = |targets: &[&str]| Window {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            size: Size::gib(4),
            granularity: Some(Size(8 * 1024)),
        };
        Cxl {
            host_bridges: vec![bridge(0, 53), bridge(1, 191)],
            windows: vec![window(&["cxl.0"]), window(&["cxl.0", "cxl.1"])],
        }
    }
}

/// Every `cxl-fixed-memory-region` in the text of HMP's `info mtree -f`
/// (lines `0000000490000000-000000058fffffff (prio 0, i/o):
/// cxl-fixed-memory-region`), as (base, size), each once, in address
/// order.
pub fn mtree_windows(text: &str) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = text
        .lines()
        .filter(|l| l.trim_end().ends_with(": cxl-fixed-memory-region"))
        .filter_map(|l| {
            let (start, rest) = l.trim().split_once('-')?;
            let end = rest.split_whitespace().next()?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            Some((start, end.checked_sub(start)?.checked_add(1)?))
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The `-device cxl-type3` property that takes the persistent backend on
/// `version` (`memdev` when unknown: 7.x takes nothing else, and later
/// releases still accept it).
pub fn memdev_property(version: Option<QemuVersion>) -> &'static str {
    match version {
        Some(v) if v >= SPLIT_MEMDEV => "persistent-memdev",
        _ => "memdev",
    }
}

/// Interleave ways QEMU encodes (hw/cxl/cxl-component-utils.c,
/// `cxl_interleave_ways_enc`): powers of two up to 16 and 3, 6, 12.
pub fn ways_supported(ways: usize) -> bool {
    matches!(ways, 1 | 2 | 4 | 8 | 16 | 3 | 6 | 12)
}

/// Granularities QEMU encodes (`cxl_interleave_granularity_enc`): a power
/// of two from 256 bytes to 16 KiB.
pub fn granularity_supported(g: u64) -> bool {
    g.is_power_of_two() && (256..=16 * 1024).contains(&g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memdev_property_follows_the_release() {
        assert_eq!(memdev_property(None), "memdev");
        assert_eq!(memdev_property(Some(QemuVersion::new(7, 2, 0))), "memdev");
        assert_eq!(
            memdev_property(Some(QemuVersion::new(8, 0, 0))),
            "persistent-memdev"
        );
    }

    #[test]
    fn mtree_lines_become_windows() {
        let text = "FlatView #3\n AS \"memory\", root: system\n  \
0000000480000000-00000004800fffff (prio 0, i/o): cxl_host_reg\n  \
0000000490000000-000000058fffffff (prio 0, i/o): cxl-fixed-memory-region\n\
FlatView #4\n  0000000490000000-000000058fffffff (prio 0, i/o): cxl-fixed-memory-region\n";
        assert_eq!(mtree_windows(text), vec![(0x4_9000_0000, 0x1_0000_0000)]);
        assert!(mtree_windows("").is_empty());
    }

    #[test]
    fn ways_and_granularities() {
        for w in [1, 2, 3, 4, 6, 8, 12, 16] {
            assert!(ways_supported(w), "{w}");
        }
        for w in [0, 5, 7, 9, 10, 32] {
            assert!(!ways_supported(w), "{w}");
        }
        assert!(granularity_supported(256));
        assert!(granularity_supported(16384));
        assert!(!granularity_supported(128));
        assert!(!granularity_supported(300));
        assert!(!granularity_supported(32768));
    }
}
