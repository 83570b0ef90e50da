//! Diagnostics speed: the whole rule table on 256 devices (target: under
//! 1 ms of model time per check).

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::core::diagnose::{check, check_profile, Context};
use qpmem::core::facts::HostFacts;
use qpmem::core::facts::QemuStatus;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::qemu::QemuVersion;
use qpmem::core::size::Size;
use std::hint::black_box;
use std::path::PathBuf;

/// 256 NVDIMMs without align, so every one after the first is off a
/// section boundary and the busiest rules have something to say.
fn profile_with(n: usize) -> Profile {
    let mut p = Profile::empty("bench");
    p.slots = Auto::Fixed(256);
    p.devices = (1..=n)
        .map(|i| {
            let mut d = Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::mib(1000));
            d.align = None;
            d
        })
        .collect();
    p
}

fn diagnose(c: &mut Criterion) {
    let host = HostFacts {
        qemu: QemuStatus::Stated {
            version: QemuVersion::new(7, 2, 0),
        },
        ..HostFacts::default()
    };
    let p = profile_with(256);
    let l = layout(&p, &host).ok();
    let p = &p;
    c.bench_function("check 256 devices (layout given)", |b| {
        b.iter(|| {
            check(black_box(&Context {
                profile: p,
                layout: l.as_ref(),
                import_notes: &[],
                host: &host,
            }))
        })
    });
    // Placement plus the whole rule table, as the TUI does on every change.
    for n in [1, 8, 64, 256] {
        let p = profile_with(n);
        c.bench_function(&format!("check_profile {n} devices (with layout)"), |b| {
            b.iter(|| check_profile(black_box(&p), &[], &host))
        });
    }
}

criterion_group!(benches, diagnose);
criterion_main!(benches);
