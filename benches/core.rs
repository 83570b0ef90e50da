//! Core speed: size parsing, placement, rendering.

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::{parse_size, BareUnit, Size};
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

/// 256 devices of every kind in turn (nvdimm, pc-dimm, virtio-pmem,
/// virtio-mem), 1 GiB each: issue 17 wants this within 10% of
/// `layout 256 devices`.
fn placement_mixed(c: &mut Criterion) {
    let host = HostFacts::default();
    let mut p = profile_with(0);
    p.devices = (1..=256)
        .map(|i| match i % 4 {
            1 => Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::gib(1)),
            2 => Dimm::pc_dimm(i, Size::gib(1)),
            3 => Dimm::virtio_pmem(i, PathBuf::from(format!("/vms/vp{i}")), Size::gib(1)),
            _ => Dimm::virtio_mem(i, Size::gib(1)),
        })
        .collect();
    assert!(layout(&p, &host)
        .unwrap()
        .devices
        .iter()
        .all(|d| d.result.is_ok()));
    c.bench_function("layout 256 mixed devices", |b| {
        b.iter(|| layout(black_box(&p), &host))
    });
}

fn render(c: &mut Criterion) {
    let p = profile_with(256);
    c.bench_function("render_shell 256 devices", |b| {
        b.iter(|| qpmem::core::cmdline::render_shell(black_box(&p)))
    });
}

/// Whole-process speed: `qpmem map --json` on the default profile, and
/// `map`/`check` on a 256-DIMM command line, as a user runs them.
fn whole_process(c: &mut Criterion) {
    let exe = env!("CARGO_BIN_EXE_qpmem");
    let home = std::env::temp_dir().join("qpmem-bench-home");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(exe)
            .args(args)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .output()
            .expect("qpmem runs");
        assert!(out.status.code().is_some_and(|c| c <= 1));
    };
    c.bench_function("process: qpmem map --json (default profile)", |b| {
        b.iter(|| run(&["map", "--json"]))
    });
    let line = qpmem::core::cmdline::render_shell(&profile_with(256));
    c.bench_function("process: qpmem map --cmdline (256 DIMMs)", |b| {
        b.iter(|| run(&["map", "--cmdline", &line]))
    });
    // A libvirt-shaped line: 30 NVDIMMs in JSON syntax (issue 15's
    // target: under 5 ms as a whole process).
    let mut json = profile_with(30);
    json.syntax = qpmem::core::profile::Syntax::Json;
    let line = qpmem::core::cmdline::render_shell(&json);
    c.bench_function(
        "process: qpmem check --qemu-version 7.2 --cmdline (30 JSON DIMMs)",
        |b| b.iter(|| run(&["check", "--qemu-version", "7.2", "--cmdline", &line])),
    );
}

criterion_group!(
    benches,
    sizes,
    placement,
    placement_mixed,
    render,
    whole_process
);
criterion_main!(benches);
