//! Store speed: loading and saving a 256-DIMM profile (target < 2 ms each).

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::profile_ron::{parse_profile, to_ron};
use qpmem::core::size::Size;
use qpmem::store::{load_profile, save_profile};
use std::hint::black_box;
use std::path::PathBuf;

fn profile_256() -> Profile {
    let mut p = Profile::empty("bench");
    p.slots = Auto::Fixed(256);
    p.devices = (1..=256)
        .map(|i| Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::gib(1)))
        .collect();
    p
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.ron");
    let p = profile_256();
    save_profile(&path, &p).expect("first save");
    c.bench_function("load 256-DIMM profile", |b| {
        b.iter(|| load_profile(black_box(&path)))
    });
    let text = to_ron(&p).expect("ron");
    c.bench_function("parse 256-DIMM profile", |b| {
        b.iter(|| parse_profile(black_box(&text), "bench.ron"))
    });
    c.bench_function("to_ron 256-DIMM profile", |b| {
        b.iter(|| to_ron(black_box(&p)))
    });
    // Two fsyncs (file, directory) dominate this one on most disks.
    c.bench_function("save 256-DIMM profile (atomic, with .bak)", |b| {
        b.iter(|| save_profile(black_box(&path), black_box(&p)))
    });
}

criterion_group!(benches, store);
criterion_main!(benches);
