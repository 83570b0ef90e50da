//! CXL speed: placement and the rules for a 16-device, 4-window topology
//! (target: under 100 µs together).

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::core::cxl::{Cxl, HostBridge, RootPort, Type3, Window};
use qpmem::core::diagnose::check_profile;
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Auto, Profile};
use qpmem::core::size::{Size, GIB};
use std::hint::black_box;
use std::path::Path;

/// Four host bridges with four root ports each, a 256 MiB persistent
/// device on every port, four windows (1, 2, 4 and 2 ways).
fn topology() -> Profile {
    let mut p = Profile::empty("bench");
    p.machine = "q35".into();
    p.ram = Size::gib(4);
    p.slots = Auto::Fixed(8);
    p.maxmem = Auto::Fixed(Size::gib(16));
    let dir = Path::new("/vms/cxl");
    let host_bridges = (0..4u8)
        .map(|h| HostBridge {
            id: format!("cxl.{h}"),
            bus_nr: 16 + 32 * h,
            bus: "pcie.0".into(),
            options: Vec::new(),
            root_ports: (0..4u8)
                .map(|n| RootPort {
                    id: format!("hb{h}rp{n}"),
                    port: n,
                    chassis: 0,
                    slot: u16::from(h * 4 + n + 1),
                    options: Vec::new(),
                    devices: vec![Type3::pmem(&format!("mem{h}{n}"), dir, Size::mib(256))],
                    switches: Vec::new(),
                })
                .collect(),
        })
        .collect();
    let window = |targets: &[&str]| Window {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        size: Size(4 * GIB),
        granularity: None,
    };
    p.cxl = Some(Cxl {
        host_bridges,
        windows: vec![
            window(&["cxl.0"]),
            window(&["cxl.0", "cxl.1"]),
            window(&["cxl.0", "cxl.1", "cxl.2", "cxl.3"]),
            window(&["cxl.2", "cxl.3"]),
        ],
    });
    p
}

fn cxl(c: &mut Criterion) {
    let p = topology();
    let host = HostFacts::default();
    c.bench_function("cxl layout 16 devices 4 windows", |b| {
        b.iter(|| layout(black_box(&p), &host))
    });
    c.bench_function("cxl layout + check 16 devices 4 windows", |b| {
        b.iter(|| check_profile(black_box(&p), &[], &host))
    });
}

criterion_group!(benches, cxl);
criterion_main!(benches);
