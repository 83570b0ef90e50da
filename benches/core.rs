//! Core speed: size parsing, placement, rendering.

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::layout::{layout, HostFacts};
use qpmem::profile::{Auto, Dimm, Profile};
use qpmem::size::{parse_size, BareUnit, Size};
use std::hint::black_box;
use std::path::PathBuf;

fn profile_with(n: usize) -> Profile {
    let mut p = Profile::empty("bench");
    p.slots = Auto::Fixed(256);
    p.devices = (1..=n)
        .map(|i| Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::gib(1)))
        .collect();
    p
}

fn sizes(c: &mut Criterion) {
    c.bench_function("parse_size 17G", |b| {
        b.iter(|| parse_size(black_box("17G"), BareUnit::Bytes))
    });
}

fn placement(c: &mut Criterion) {
    let host = HostFacts::default();
    for n in [1, 8, 64, 256] {
        let p = profile_with(n);
        c.bench_function(&format!("layout {n} devices"), |b| {
            b.iter(|| layout(black_box(&p), &host))
        });
    }
}

fn render(c: &mut Criterion) {
    let p = profile_with(256);
    c.bench_function("render_shell 256 devices", |b| {
        b.iter(|| qpmem::cmdline::render_shell(black_box(&p)))
    });
}

criterion_group!(benches, sizes, placement, render);
criterion_main!(benches);
