//! CXL against real QEMU: generated topologies (1-3 host bridges, 1-4
//! root ports each, optional switches, 1-8 type-3 devices, 1-4 windows of
//! 1-4 targets, RAM with and without device memory, a pc-dimm alongside)
//! rendered for the QEMU here and started with `-S` through
//! `qpmem::qemu::probe_cxl`. Every window's base and size must be what
//! `map --json` predicts (QEMU's `info mtree -f`), and, with one of the
//! ways of breaking a topology applied (or none), QEMU must refuse
//! exactly when `check` reports an error from a QEMU-refuses rule.
//!
//! Skips when QEMU is missing unless `QPMEM_REQUIRE_QEMU=1`.

mod common;

use proptest::prelude::*;
use qpmem::core::cxl::{Cxl, HostBridge, Port, RootPort, Switch, Type3, Window};
use qpmem::core::diagnose::{self, Basis, Severity};
use qpmem::core::facts::{HostFacts, QemuStatus};
use qpmem::core::layout::layout;
use qpmem::core::map;
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::{Size, GIB, MIB};
use qpmem::qemu::{probe_cxl, ProbeError};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A small deterministic generator (xorshift64*), so one proptest seed
/// gives one topology.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn coin(&mut self) -> bool {
        self.next() % 2 == 0
    }
}

/// A topology QEMU accepts: distinct bus_nr with room, distinct
/// chassis/slot pairs, every device with a 256 MiB-multiple backend and
/// an LSA, windows of 256 MiB multiples over 1-4 distinct host bridges.
fn topology(seed: u64, dir: &Path) -> Profile {
    let mut r = Rng(seed | 1);
    let mut p = Profile::empty("cxl-case");
    p.machine = "q35".into();
    p.cpus = 1;
    p.ram = Size::mib(512 * r.range(2, 12));
    if r.coin() {
        p.slots = Auto::Fixed(u32::try_from(r.range(1, 4)).unwrap());
        p.maxmem = Auto::Fixed(Size(p.ram.0 + GIB * r.range(1, 8)));
        if r.coin() {
            p.devices.push(Dimm::pc_dimm(1, Size::mib(512)));
        }
    }
    let hbs = r.range(1, 3);
    let mut slot = 0u16;
    let mut next_slot = || {
        slot += 1;
        slot
    };
    let mut devices = 0u64;
    let want_devices = r.range(1, 8);
    let mut cxl = Cxl::default();
    for h in 0..hbs {
        let mut bridge = HostBridge {
            id: format!("cxl.{h}"),
            bus_nr: u8::try_from(16 + 48 * h).unwrap(),
            bus: "pcie.0".into(),
            options: Vec::new(),
            root_ports: Vec::new(),
        };
        for n in 0..r.range(1, 4) {
            let mut rp = RootPort {
                id: format!("hb{h}rp{n}"),
                port: u8::try_from(n).unwrap(),
                chassis: 0,
                slot: next_slot(),
                options: Vec::new(),
                devices: Vec::new(),
                switches: Vec::new(),
            };
            if r.range(0, 3) == 0 {
                let downstream = (0..r.range(1, 2))
                    .map(|k| Port {
                        id: format!("hb{h}rp{n}dp{k}"),
                        port: u8::try_from(k).unwrap(),
                        chassis: 0,
                        slot: next_slot(),
                        options: Vec::new(),
                        devices: Vec::new(),
                    })
                    .collect();
                rp.switches.push(Switch {
                    id: format!("hb{h}rp{n}us"),
                    options: Vec::new(),
                    downstream,
                });
            }
            bridge.root_ports.push(rp);
        }
        cxl.host_bridges.push(bridge);
    }
    // Devices on free ports, bridge by bridge, until there are enough.
    'fill: for round in 0..2 {
        for h in &mut cxl.host_bridges {
            for rp in &mut h.root_ports {
                let ports: Vec<&mut Vec<Type3>> = if rp.switches.is_empty() {
                    vec![&mut rp.devices]
                } else {
                    rp.switches[0]
                        .downstream
                        .iter_mut()
                        .map(|p| &mut p.devices)
                        .collect()
                };
                for list in ports {
                    if devices >= want_devices {
                        break 'fill;
                    }
                    if list.is_empty() && (round == 1 || r.coin()) {
                        let size = Size(256 * MIB * r.range(1, 2));
                        list.push(Type3::pmem(&format!("t3-{devices}"), dir, size));
                        devices += 1;
                    }
                }
            }
        }
    }
    for n in 0..r.range(1, 4) {
        let ways = r.range(1, hbs.min(4));
        let first = r.range(0, hbs - 1);
        let targets = (0..ways)
            .map(|k| format!("cxl.{}", (first + k) % hbs))
            .collect();
        let granularity = match r.range(0, 3) {
            0 => Some(Size(256 << r.range(0, 6))),
            _ => None,
        };
        let _ = n;
        cxl.windows.push(Window {
            targets,
            size: Size(256 * MIB * r.range(1, 32)),
            granularity,
        });
    }
    p.cxl = Some(cxl);
    p
}

/// One way of breaking a topology (0: none); what it breaks, for messages.
fn mutate(p: &mut Profile, how: usize) -> &'static str {
    let cxl = p.cxl.as_mut().unwrap();
    match how {
        1 => {
            cxl.windows[0].size = Size(cxl.windows[0].size.0 + 128 * MIB);
            "window size not a 256 MiB multiple"
        }
        2 => {
            cxl.windows[0].targets[0] = cxl.host_bridges[0].root_ports[0].id.clone();
            "a root port as a window target"
        }
        3 => {
            let t = cxl.windows[0].targets[0].clone();
            cxl.windows[0].targets = vec![t; 5];
            "5 interleave ways"
        }
        4 => {
            cxl.windows[0].granularity = Some(Size(128));
            "granularity 128"
        }
        5 => {
            cxl.windows[0].granularity = Some(Size(32 * 1024));
            "granularity 32K"
        }
        6 => {
            let nr = cxl.host_bridges[0].bus_nr;
            let mut h = cxl.host_bridges[0].clone();
            h.id = "cxl.dup".into();
            h.root_ports.clear();
            h.bus_nr = nr;
            cxl.host_bridges.push(h);
            "two host bridges on one bus_nr"
        }
        7 => {
            let mut rp = cxl.host_bridges[0].root_ports[0].clone();
            rp.id = "rp-dup".into();
            rp.port = 9;
            rp.devices.clear();
            rp.switches.clear();
            cxl.host_bridges[0].root_ports.push(rp);
            "two root ports on one chassis/slot"
        }
        8 => {
            first_device(cxl).lsa = None;
            "a type-3 device without LSA"
        }
        9 => {
            first_device(cxl).persistent = None;
            "a type-3 device without memory"
        }
        10 => {
            cxl.windows[0].size = Size::gib(1024);
            "a 1 TiB window (phys-bits)"
        }
        11 => {
            let id = cxl.host_bridges[0].id.clone();
            first_device(cxl).id = id;
            "a device id that is a host bridge's"
        }
        12 => {
            first_device(cxl).persistent.as_mut().unwrap().size = Size::mib(300);
            "a 300M backend (QEMU accepts)"
        }
        13 => {
            let t = cxl.windows[0].targets[0].clone();
            cxl.windows[0].targets = vec![t; 3];
            "3 interleave ways (QEMU accepts)"
        }
        _ => "nothing",
    }
}

fn first_device(cxl: &mut Cxl) -> &mut Type3 {
    for h in &mut cxl.host_bridges {
        for rp in &mut h.root_ports {
            if let Some(d) = rp.devices.first_mut() {
                return d;
            }
            for sw in &mut rp.switches {
                for p in &mut sw.downstream {
                    if let Some(d) = p.devices.first_mut() {
                        return d;
                    }
                }
            }
        }
    }
    panic!("the topology has a device")
}

/// Run one case; `Ok(true)` when QEMU refused it (and check agreed).
fn run_case(qemu: &Path, seed: u64, how: usize) -> Result<bool, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut p = topology(seed, dir.path());
    let what = mutate(&mut p, how);
    let version = qpmem::qemu::discover::cached_version(qemu).ok();
    let host = HostFacts {
        qemu: QemuStatus::stated(version),
        ..HostFacts::default()
    };
    let errors: Vec<String> = diagnose::check_profile(&p, &[], &host)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .inspect(|d| {
            assert_eq!(
                d.rule().map(|r| r.basis),
                Some(Basis::QemuRefuses),
                "{what}: an error that is not a refusal: {}",
                d.render()
            )
        })
        .map(|d| d.render())
        .collect();
    let argv = qpmem::core::cmdline::render_argv_for(&p, version).join(" ");
    let probed = probe_cxl(&p, qemu, Duration::from_secs(30), &AtomicBool::new(false));
    match probed {
        Err(ProbeError::Refused { message }) => {
            prop_assert!(
                !errors.is_empty(),
                "{what}: QEMU refused but check found no error:\n{message}\n{argv}"
            );
            Ok(true)
        }
        Err(e) => panic!("{what}: probe failed: {e}\n{argv}"),
        Ok((_, windows)) => {
            prop_assert!(
                errors.is_empty(),
                "{what}: QEMU accepted but check errs:\n{}\n{argv}",
                errors.join("\n")
            );
            let l = layout(&p, &HostFacts::default()).unwrap();
            let json = serde_json::to_value(map::to_json(&p, &l)).unwrap();
            let predicted: Vec<(u64, u64)> = json["cxl_windows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| (w["base"].as_u64().unwrap(), w["size"].as_u64().unwrap()))
                .filter(|(_, size)| *size > 0)
                .collect();
            prop_assert_eq!(&windows, &predicted, "{}: {}", what, argv);
            prop_assert!(!windows.is_empty());
            Ok(false)
        }
    }
}

#[test]
fn generated_topologies_against_qemu() {
    let Some(qemu) = common::qemu_or_skip("generated_topologies_against_qemu") else {
        return;
    };
    let mut runner = proptest::test_runner::TestRunner::new(common::proptest_config(40));
    runner
        .run(&(any::<u64>(), 0usize..16), |(seed, how)| {
            run_case(&qemu, seed, how).map(|_| ())
        })
        .unwrap();
}

#[test]
fn every_way_of_breaking_a_topology_against_qemu() {
    let Some(qemu) = common::qemu_or_skip("every_way_of_breaking_a_topology_against_qemu") else {
        return;
    };
    for seed in [0x5eed_cafe, 7, 20261202] {
        for how in 0..=13 {
            let refused = run_case(&qemu, seed, how).unwrap();
            // 0, 12 and 13 are accepted; every other way is refused.
            assert_eq!(
                refused,
                !matches!(how, 0 | 12 | 13),
                "seed {seed}, way {how}"
            );
        }
    }
}

/// QEMU's docs example (the built-in `cxl`): measured at
/// 0x490000000-0x58fffffff with `-m 4G,maxmem=8G,slots=8` (the number
/// is QEMU's, from ../shared/DOMAIN.md, not qpmem's).
#[test]
fn the_docs_example_window_where_qemu_7_2_put_it() {
    let p = qpmem::core::examples::find("cxl")
        .unwrap()
        .load(Path::new("/tmp"))
        .unwrap();
    let l = layout(&p, &HostFacts::default()).unwrap();
    let w = &l.cxl.as_ref().unwrap().windows[0];
    assert_eq!((w.base, w.end() - 1), (0x4_9000_0000, 0x5_8fff_ffff));
}

/// What the editor's CXL pane builds (`core::cxl::edit`: two bridges, a
/// root port each, a device on one, a switch with a device on the other,
/// two windows) is a topology QEMU starts, with the windows where
/// `map --json` says.
#[test]
fn a_topology_built_in_the_cxl_pane_against_qemu() {
    use qpmem::core::cxl::edit::{add, add_switch, Node};
    let Some(qemu) = common::qemu_or_skip("a_topology_built_in_the_cxl_pane_against_qemu") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cxl::default();
    for _ in 0..2 {
        let hb = add(&mut c, Node::Bridges, dir.path()).unwrap();
        add(&mut c, hb, dir.path()).unwrap();
    }
    add(&mut c, Node::RootPort(0, 0), dir.path()).unwrap();
    let sw = add_switch(&mut c, Node::RootPort(1, 0)).unwrap();
    let Node::Switch(h, r, s) = sw else {
        panic!("{sw:?}")
    };
    add(&mut c, Node::Downstream(h, r, s, 0), dir.path()).unwrap();
    add(&mut c, Node::Windows, dir.path()).unwrap();
    add(&mut c, Node::Windows, dir.path()).unwrap();
    c.windows[1].targets = vec!["cxl.1".into()];
    let mut p = Profile::empty("pane");
    p.machine = "q35".into();
    p.ram = Size::gib(2);
    p.cxl = Some(c);
    assert_eq!(run_built(&qemu, &p), 2);
}

/// Probe `p` with QEMU: every window where predicted; how many there are.
fn run_built(qemu: &Path, p: &Profile) -> usize {
    let version = qpmem::qemu::discover::cached_version(qemu).ok();
    let host = HostFacts {
        qemu: QemuStatus::stated(version),
        ..HostFacts::default()
    };
    let errors: Vec<String> = diagnose::check_profile(p, &[], &host)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.render())
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    let argv = qpmem::core::cmdline::render_argv_for(p, version).join(" ");
    let (_, windows) = probe_cxl(p, qemu, Duration::from_secs(30), &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("QEMU: {e}\n{argv}"));
    let l = layout(p, &HostFacts::default()).unwrap();
    let json = serde_json::to_value(map::to_json(p, &l)).unwrap();
    let predicted: Vec<(u64, u64)> = json["cxl_windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["base"].as_u64().unwrap(), w["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(windows, predicted, "{argv}");
    windows.len()
}
