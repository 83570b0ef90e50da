//! `check` against real QEMU: a generated set of configurations, valid
//! and broken in each of the ways the rules know, each started with
//! `qemu-system-x86_64 -S -nodefaults -display none` through
//! `qpmem::qemu::probe`. `check` must report an error from a
//! QEMU-refuses rule exactly when QEMU refuses, and, when QEMU accepts,
//! no error at all except from the data-loss rules, and those exactly in
//! the cases built to lose data.
//!
//! Skips with a message when QEMU is missing, unless
//! `QPMEM_REQUIRE_QEMU=1`, which makes a missing QEMU a failure.

use qpmem::core::diagnose::{self, Basis, Severity};
use qpmem::core::facts::HostFacts;
use qpmem::core::facts::QemuStatus;
use qpmem::core::profile::{Addr, Auto, Backend, Dimm, Profile};
use qpmem::core::size::{Size, GIB, KIB, MIB};
use qpmem::host;
use qpmem::qemu::discover;
use qpmem::qemu::{probe, ProbeError};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn qemu() -> Option<PathBuf> {
    match which::which("qemu-system-x86_64") {
        Ok(p) => Some(p),
        Err(_) if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") => {
            panic!("qemu-system-x86_64 is not on PATH and QPMEM_REQUIRE_QEMU=1")
        }
        Err(_) => {
            eprintln!("skipped: qemu-system-x86_64 is not on PATH (set QPMEM_REQUIRE_QEMU=1 to fail instead)");
            None
        }
    }
}

/// One configuration, what it is meant to show.
struct Case {
    name: &'static str,
    profile: Profile,
    /// Rules that must fire (any severity).
    expect: Vec<&'static str>,
    /// Built to lose data: QEMU accepts, and a data-loss error must fire.
    data_loss: bool,
}

/// Two small NVDIMMs in `dir`, `-m 512M,slots=2,maxmem=8G`, align=128M.
fn base(dir: &Path) -> Profile {
    let mut p = Profile::empty("case");
    p.ram = Size::mib(512);
    p.slots = Auto::Fixed(2);
    p.maxmem = Auto::Fixed(Size::gib(8));
    p.cpus = 1;
    p.devices = (1..=2)
        .map(|n| {
            let mut d = Dimm::nvdimm(n, dir.join(format!("nv{n}")), Size::mib(1024 + 2));
            d.align = Some(Size::mib(128));
            d
        })
        .collect();
    p
}

fn sized_file(path: &Path, len: u64) {
    File::create(path).unwrap().set_len(len).unwrap();
}

/// Every case in a directory of its own, so that files one case makes
/// (or QEMU grows) are not seen by another.
fn cases(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name, expect: &[&'static str], data_loss, f: &dyn Fn(&mut Profile, &Path)| {
        let dir = root.join(format!("case{}", cases.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = base(&dir);
        f(&mut p, &dir);
        cases.push(Case {
            name,
            profile: p,
            expect: expect.to_vec(),
            data_loss,
        });
    };
    // Accepted, perhaps with warnings.
    add("base", &[], false, &|_, _| {});
    add("seed recipe without align", &["QP100"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::gib(40));
        for d in &mut p.devices {
            d.size = Size::gib(17);
            d.align = None;
        }
    });
    add("seed recipe with align", &["QP101"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::gib(40));
        for d in &mut p.devices {
            d.size = Size::gib(17);
        }
    });
    add("automatic slots and maxmem", &[], false, &|p, _| {
        p.slots = Auto::Auto;
        p.maxmem = Auto::Auto;
    });
    add("q35 with RAM above 4G", &[], false, &|p, _| {
        p.machine = "q35".into();
        p.ram = Size::mib(3584);
        p.maxmem = Auto::Fixed(Size::gib(12));
    });
    add("pc-dimm on RAM", &[], false, &|p, _| {
        p.devices[1] = Dimm::pc_dimm(2, Size::mib(1000));
    });
    add("label 128K", &["QP203"], false, &|p, _| {
        p.devices[0].label_size = Size(128 * KIB)
    });
    add("label-less", &[], false, &|p, _| {
        p.devices[0].label_size = Size(0)
    });
    add("align=0 is the default", &[], false, &|p, _| {
        p.devices[0].align = Some(Size(0))
    });
    add("read-only and unarmed", &[], false, &|p, _| {
        p.devices[0].readonly = true;
        p.devices[0].unarmed = true;
    });
    add("share=off", &["QP310"], false, &|p, _| {
        p.devices[0].share = false
    });
    add(
        "pmem=on on an ordinary file",
        &["QP308"],
        false,
        &|p, dir| {
            sized_file(&dir.join("nv1"), 0);
            p.devices[0].pmem = true;
        },
    );
    add("explicit aligned addr and slot", &[], false, &|p, _| {
        p.devices[0].addr = Some(Addr(0x1_8000_0000));
        p.devices[0].slot = Some(1);
    });
    add("node 0", &[], false, &|p, _| p.devices[0].node = Some(0));
    add(
        "existing file larger than size",
        &["QP301"],
        false,
        &|p, dir| {
            let path = dir.join("big");
            sized_file(&path, 2 * GIB);
            p.devices[0].backend = Backend::File(path);
        },
    );
    add("existing empty file", &[], false, &|p, dir| {
        let path = dir.join("empty");
        sized_file(&path, 0);
        p.devices[0].backend = Backend::File(path);
    });
    add("mem-path is a directory", &["QP302"], false, &|p, dir| {
        let path = dir.join("adir");
        std::fs::create_dir_all(&path).unwrap();
        p.devices[0].backend = Backend::File(path);
    });
    add("comma in the path", &["QP312"], false, &|p, dir| {
        let path = dir.join("a,b");
        sized_file(&path, 0);
        p.devices[0].backend = Backend::File(path);
    });
    add("phys-bits just within reach", &[], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::mib(1_028_608))
    });
    add(
        "phys-bits: 7.0 machine, no HyperTransport move",
        &[],
        false,
        &|p, _| {
            p.machine = "pc-i440fx-7.0".into();
            p.maxmem = Auto::Fixed(Size::mib(1_040_896));
        },
    );
    add("256 slots", &[], false, &|p, _| p.slots = Auto::Fixed(256));

    // Data loss: QEMU accepts.
    add("discard-data=on", &["QP311"], true, &|p, _| {
        p.devices[0].discard_data = true
    });
    add("two devices on one file", &["QP305"], true, &|p, dir| {
        let path = dir.join("shared");
        sized_file(&path, 0);
        for d in &mut p.devices {
            d.backend = Backend::File(path.clone());
        }
    });

    // Refused.
    add("maxmem below RAM", &["QP010"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::mib(256))
    });
    add("maxmem equal to RAM", &["QP011"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::mib(512))
    });
    add("maxmem not a page multiple", &["QP012"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size(8 * GIB + 1))
    });
    add("257 slots", &["QP013"], false, &|p, _| {
        p.slots = Auto::Fixed(257)
    });
    add(
        "phys-bits: HyperTransport hole",
        &["QP014"],
        false,
        &|p, _| p.maxmem = Auto::Fixed(Size::mib(1_028_609)),
    );
    add(
        "phys-bits: q35's 32 GiB PCI hole",
        &["QP014"],
        false,
        &|p, _| {
            p.machine = "q35".into();
            p.maxmem = Auto::Fixed(Size::mib(1_000_000));
        },
    );
    add(
        "phys-bits: beyond 1 TiB on a 7.0 machine",
        &["QP014"],
        false,
        &|p, _| {
            p.machine = "pc-i440fx-7.0".into();
            p.maxmem = Auto::Fixed(Size::mib(1_040_897));
        },
    );
    add("acpi=off", &["QP015"], false, &|p, _| {
        p.machine_options = vec!["acpi=off".into()]
    });
    add("-no-acpi", &["QP015"], false, &|p, _| {
        p.extra_args = vec!["-no-acpi".into()]
    });
    add("slots=0", &["QP111"], false, &|p, _| {
        p.slots = Auto::Fixed(0)
    });
    add("too few slots", &["QP111"], false, &|p, _| {
        p.slots = Auto::Fixed(1)
    });
    add("slot out of range", &["QP112"], false, &|p, _| {
        p.devices[0].slot = Some(2)
    });
    add("slot busy", &["QP113"], false, &|p, _| {
        p.devices[0].slot = Some(1);
        p.devices[1].slot = Some(1);
    });
    add("maxmem too small", &["QP114"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::mib(512 + 1536))
    });
    add("addr off the alignment", &["QP115"], false, &|p, _| {
        p.devices[0].addr = Some(Addr(0x1_0000_0000 + 2 * MIB))
    });
    add("addr outside the region", &["QP116"], false, &|p, _| {
        p.devices[0].addr = Some(Addr(0x40_0000_0000))
    });
    add("addr overlapping", &["QP117"], false, &|p, _| {
        p.devices[1].addr = Some(Addr(0x1_0000_0000))
    });
    add("fragmented by alignment", &["QP118"], false, &|p, _| {
        p.maxmem = Auto::Fixed(Size::mib(512 + 5 * 1024));
        for (d, gib) in p.devices.iter_mut().zip([1, 4]) {
            d.size = Size::gib(gib);
            d.label_size = Size(0);
            d.align = None;
        }
        p.devices[0].addr = Some(Addr(0x1_2000_0000));
        p.devices[1].align = Some(Size::gib(4));
    });
    add("size equal to the label", &["QP200"], false, &|p, _| {
        p.devices[0].size = Size::mib(2)
    });
    add("nothing left after align", &["QP200"], false, &|p, _| {
        p.devices[0].size = Size::gib(1);
        p.devices[0].align = Some(Size::gib(1));
    });
    add(
        "pc-dimm not a 2 MiB multiple",
        &["QP201"],
        false,
        &|p, _| {
            p.devices[1] = Dimm::pc_dimm(2, Size::mib(1001));
        },
    );
    add("label below 128K", &["QP202"], false, &|p, _| {
        p.devices[0].label_size = Size(64 * KIB)
    });
    add("duplicate device id", &["QP204"], false, &|p, _| {
        p.devices[1].id = "nv1".into()
    });
    add("duplicate backend id", &["QP205"], false, &|p, _| {
        p.devices[1].memdev = "mem1".into()
    });
    add("invalid id", &["QP206"], false, &|p, _| {
        p.devices[0].id = "1nv".into()
    });
    add("align not a power of two", &["QP207"], false, &|p, _| {
        p.devices[0].align = Some(Size::mib(3))
    });
    add("align below the page size", &["QP208"], false, &|p, _| {
        p.devices[0].align = Some(Size(2 * KIB))
    });
    add("read-only but armed", &["QP209"], false, &|p, _| {
        p.devices[0].readonly = true
    });
    add("node beyond the NUMA nodes", &["QP210"], false, &|p, _| {
        p.devices[0].node = Some(1)
    });
    add("no device memory at all", &["QP110"], false, &|p, _| {
        p.slots = Auto::Fixed(0);
        p.maxmem = Auto::Fixed(Size::mib(512));
    });
    add(
        "a machine type newer than this QEMU",
        &["QP403"],
        false,
        &|p, _| p.machine = "pc-i440fx-99.0".into(),
    );
    add(
        "a property newer than this QEMU",
        &["QP402"],
        false,
        &|p, _| p.devices[0].backend_options = vec!["rom=off".into()],
    );
    add(
        "existing file smaller than size",
        &["QP300"],
        false,
        &|p, dir| {
            let path = dir.join("small");
            sized_file(&path, 512 * MIB);
            p.devices[0].backend = Backend::File(path);
        },
    );
    // Sizes at the top of u64 (base: -m 512M,slots=2 on pc). QEMU 7.2
    // computes the map in wrapping u64 arithmetic; measured boundaries.
    let top = |m: u64| move |p: &mut Profile, _: &Path| p.maxmem = Auto::Fixed(Size(m));
    add("maxmem 8E", &["QP014"], false, &top(8 << 60));
    add(
        "maxmem 0xffffffff00000000",
        &["QP017"],
        false,
        &top(0xffff_ffff_0000_0000),
    );
    add(
        "maxmem past 2^64 once moved to 1 TiB",
        &["QP017"],
        false,
        &top(0xffff_fffe_0000_0000),
    );
    add(
        "maxmem whose region ends just below 2^64",
        &[],
        false,
        &top(u64::MAX - 4095 - 5 * GIB - 512 * MIB),
    );
    add(
        "maxmem not a page multiple at u64::MAX",
        &["QP012"],
        false,
        &top(u64::MAX),
    );
    add("addr near 2^64", &["QP116"], false, &|p, _| {
        p.devices[0].addr = Some(Addr(0xffff_ffff_c000_0000))
    });
    add("label-size u64::MAX", &["QP200"], false, &|p, _| {
        p.devices[0].label_size = Size(u64::MAX)
    });
    add("align 8E", &["QP200"], false, &|p, _| {
        p.devices[0].align = Some(Size(1 << 63))
    });
    add("a pc-dimm of 16 EiB - 2 MiB", &["QP114"], false, &|p, _| {
        p.devices[1] = Dimm::pc_dimm(2, Size(u64::MAX - 2 * MIB + 1))
    });
    // virtio-mem's block and requested sizes (hw/virtio/virtio-mem.c).
    let vmem = |block: Option<u64>, requested: Option<u64>| {
        move |p: &mut Profile, _: &Path| {
            let mut d = Dimm::virtio_mem(3, Size::gib(1));
            d.block_size = block.map(Size);
            d.requested_size = requested.map(Size);
            p.devices.push(d);
        }
    };
    add(
        "virtio-mem, 4M plugged",
        &[],
        false,
        &vmem(None, Some(4 * MIB)),
    );
    add(
        "virtio-mem block-size 3M",
        &["QP212"],
        false,
        &vmem(Some(3 * MIB), None),
    );
    add(
        "virtio-mem block-size 512K",
        &["QP212"],
        false,
        &vmem(Some(512 * KIB), None),
    );
    add(
        "virtio-mem requested-size 3M",
        &["QP213"],
        false,
        &vmem(None, Some(3 * MIB)),
    );
    add(
        "virtio-mem requested-size 4M of 8M blocks",
        &["QP213"],
        false,
        &vmem(Some(8 * MIB), Some(4 * MIB)),
    );
    add(
        "virtio-mem requested-size above its size",
        &["QP214"],
        false,
        &vmem(None, Some(2 * GIB)),
    );
    // Settings the kind has no property for are left out: QEMU starts.
    add(
        "virtio-pmem with label-size and node",
        &["QP211"],
        false,
        &|p, dir| {
            let mut d = Dimm::virtio_pmem(3, dir.join("vp3"), Size::gib(1));
            d.label_size = Size::mib(2);
            d.node = Some(0);
            p.devices.push(d);
        },
    );
    cases
}

#[test]
fn check_reports_an_error_exactly_when_qemu_refuses() {
    let Some(binary) = qemu() else { return };
    let version = discover::cached_version(&binary).ok();
    assert!(
        version.is_some(),
        "cannot read {}'s version",
        binary.display()
    );
    let mut failures = Vec::new();
    let mut refusals = 0;
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(dir.path());
    for case in &cases {
        let host = HostFacts {
            qemu: QemuStatus::stated(version),
            ..host::gather(&case.profile)
        };
        let ds = diagnose::check_profile(&case.profile, &[], &host);
        let qemu_errors: Vec<_> = ds
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .filter(|d| d.rule().map(|r| r.basis) == Some(Basis::QemuRefuses))
            .collect();
        let loss_errors: Vec<_> = ds
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .filter(|d| d.rule().map(|r| r.basis) != Some(Basis::QemuRefuses))
            .collect();
        let verdict = probe(&case.profile, &binary, Duration::from_secs(30));
        let refused = match &verdict {
            Ok(_) => None,
            Err(ProbeError::Refused { message }) => Some(message.clone()),
            Err(e) => panic!("{}: probe failed: {e}", case.name),
        };
        refusals += usize::from(refused.is_some());
        let codes: Vec<&str> = ds.iter().map(|d| d.code).collect();
        let mut problems = Vec::new();
        let check_refuses = !qemu_errors.is_empty();
        if refused.is_some() != check_refuses {
            problems.push(format!(
                "QEMU {} but check's QEMU-refuses errors are {:?}",
                refused
                    .as_ref()
                    .map(|m| format!("refused: {m}"))
                    .unwrap_or("accepted".into()),
                qemu_errors.iter().map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
        let check_loses_data = !loss_errors.is_empty();
        if case.data_loss != check_loses_data {
            problems.push(format!(
                "data_loss={} but the other errors are {:?}",
                case.data_loss,
                loss_errors.iter().map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
        for want in &case.expect {
            if !codes.contains(want) {
                problems.push(format!("{want} did not fire (got {codes:?})"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", case.name, problems.join("\n    ")));
        }
    }
    eprintln!(
        "check_vs_qemu: {} configurations, {refusals} refused by QEMU",
        cases.len()
    );
    assert!(
        refusals >= 20,
        "only {refusals} refusals: the generated set lost its broken cases"
    );
    assert!(
        failures.is_empty(),
        "check and QEMU disagree:\n{}",
        failures.join("\n")
    );
}
