//! Ground truth for arm64: the `virt` model against real
//! `qemu-system-aarch64 -S -nodefaults -display none` with UEFI firmware,
//! asked over QMP (`query-memory-devices`) where it put every device.
//!
//! For each generated configuration (RAM sizes, maxmem, labels, align,
//! explicit addr and slot, pc-dimms, machine versions, and the ways a
//! line goes wrong on arm64): every device's id, slot, addr and size must
//! equal what `qpmem map --json` prints (`map::to_json`), and `check`
//! must report an error from a QEMU-refuses rule exactly when QEMU
//! refuses. Skips when qemu-system-aarch64 or the firmware is missing,
//! unless `QPMEM_REQUIRE_QEMU=1`.

mod common;

use qpmem::core::diagnose::{self, Basis, Severity};
use qpmem::core::facts::{HostFacts, QemuStatus};
use qpmem::core::layout::layout;
use qpmem::core::map::to_json;
use qpmem::core::profile::{Addr, Auto, Dimm, Profile};
use qpmem::core::size::{Size, GIB, MIB};
use qpmem::qemu::{discover, probe, ProbeError};
use std::path::Path;
use std::time::Duration;

struct Case {
    name: String,
    profile: Profile,
    /// Rules that must fire.
    expect: Vec<&'static str>,
}

/// `-M virt -cpu max -bios FIRMWARE -m RAM,slots=N,maxmem=M`.
fn base(firmware: &Path, machine: &str, ram: u64, slots: u32, maxmem: u64) -> Profile {
    let mut p = Profile::empty("gt-arm");
    p.make_aarch64();
    p.machine = machine.to_string();
    p.extra_args
        .extend(["-bios".to_string(), firmware.display().to_string()]);
    p.ram = Size(ram);
    p.cpus = 1;
    p.slots = Auto::Fixed(slots);
    p.maxmem = Auto::Fixed(Size(maxmem));
    p
}

fn nv(n: usize, dir: &Path, size: u64, label: u64, align: Option<u64>) -> Dimm {
    let mut d = Dimm::nvdimm(n, dir.join(format!("nv{n}")), Size(size));
    d.label_size = Size(label);
    d.align = align.map(Size);
    d
}

fn cases(dir: &Path, fw: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |name: String, profile: Profile, expect: &[&'static str]| {
        out.push(Case {
            name,
            profile,
            expect: expect.to_vec(),
        })
    };

    // The issue's measurement: a 1G NVDIMM (label 128K) and a 512M one.
    {
        let mut p = base(fw, "virt", GIB, 4, 8 * GIB);
        p.machine_options = vec!["gic-version=3".into()];
        p.devices = vec![
            nv(1, dir, GIB, 128 * 1024, None),
            nv(2, dir, 512 * MIB, 0, None),
        ];
        add("issue: 1G+512M".into(), p, &[]);
    }
    // RAM sizes: the device memory base follows ROUND_UP(1 GiB + RAM, 1 GiB).
    for ram in [
        512 * MIB,
        GIB,
        GIB + 2 * MIB,
        2 * GIB,
        3584 * MIB,
        5000 * MIB,
    ] {
        let mut p = base(fw, "virt", ram, 3, ram + 8 * GIB);
        p.devices = vec![
            nv(1, dir, GIB + 4 * MIB, 2 * MIB, None),
            nv(2, dir, GIB, 128 * 1024, None),
            Dimm::pc_dimm(3, Size(512 * MIB)),
        ];
        add(format!("ram={}M", ram / MIB), p, &[]);
    }
    // Labels x alignments.
    for label in [0, 128 * 1024, 2 * MIB] {
        for align in [None, Some(2 * MIB), Some(128 * MIB), Some(GIB)] {
            let mut p = base(fw, "virt", GIB, 3, 12 * GIB);
            p.devices = vec![
                nv(1, dir, 3 * GIB + 200 * MIB, label, align),
                nv(2, dir, 2 * GIB + 6 * MIB, label, align),
                nv(3, dir, GIB, label, None),
            ];
            add(format!("label={label} align={align:?}"), p, &[]);
        }
    }
    // maxmem just enough, and generous with many slots.
    {
        let mut p = base(fw, "virt", GIB, 2, 3 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None), nv(2, dir, GIB, 0, None)];
        add("maxmem exactly enough".into(), p, &[]);
        let mut p = base(fw, "virt", 2 * GIB, 16, 200 * GIB);
        p.devices = vec![nv(1, dir, 4 * GIB, 2 * MIB, Some(128 * MIB))];
        add("maxmem 200G, 16 slots".into(), p, &[]);
    }
    // The -m checks: slots at most 256, maxmem above RAM; an unaligned
    // maxmem is accepted on arm64 (not on x86).
    {
        let mut p = base(fw, "virt", GIB, 257, 8 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None)];
        add("refused: slots=257".into(), p, &["QP013"]);
        let mut p = base(fw, "virt", GIB, 2, GIB);
        p.devices.clear();
        add(
            "refused: maxmem equals RAM with slots".into(),
            p,
            &["QP011"],
        );
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB + 1);
        p.devices = vec![nv(1, dir, GIB, 0, None)];
        add("maxmem 8G+1".into(), p, &[]);
    }
    // Explicit addr and slot; later devices fit around them.
    {
        let mut p = base(fw, "virt", GIB, 4, 16 * GIB);
        let mut a = nv(1, dir, 2 * GIB, 2 * MIB, None);
        a.addr = Some(Addr(0x1_0000_0000));
        a.slot = Some(3);
        let mut b = nv(2, dir, GIB, 2 * MIB, Some(128 * MIB));
        b.slot = Some(1);
        let c = nv(3, dir, 3 * GIB, 0, None);
        p.devices = vec![a, b, c];
        add("explicit addr and slot".into(), p, &[]);
    }
    // pc-dimms between NVDIMMs.
    {
        let mut p = base(fw, "virt", 2 * GIB, 4, 16 * GIB);
        p.devices = vec![
            Dimm::pc_dimm(1, Size(GIB + 2 * MIB)),
            nv(1, dir, 2 * GIB, 2 * MIB, None),
            Dimm::pc_dimm(2, Size(512 * MIB)),
            nv(2, dir, GIB, 2 * MIB, Some(128 * MIB)),
        ];
        add("pc-dimms mixed".into(), p, &[]);
    }
    // Machine versions: the GED (memory devices) since virt-4.2.
    for machine in ["virt-7.2", "virt-6.2", "virt-5.1", "virt-5.0", "virt-4.2"] {
        let mut p = base(fw, machine, GIB, 2, 8 * GIB);
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None), nv(2, dir, GIB, 0, None)];
        add(format!("machine {machine}"), p, &[]);
    }
    for machine in ["virt-4.1", "virt-3.1", "virt-2.12"] {
        let mut p = base(fw, machine, GIB, 2, 8 * GIB);
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add(format!("refused: machine {machine}"), p, &["QP602"]);
    }
    // CPUs and their address bits.
    for cpu in [
        "cortex-a57",
        "cortex-a72",
        "cortex-a53",
        "neoverse-n1",
        "a64fx",
    ] {
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args[1] = cpu.into();
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add(format!("cpu {cpu}"), p, &[]);
    }
    {
        let mut p = base(fw, "virt", GIB, 4, 1000 * GIB);
        p.extra_args[1] = "a64fx".into();
        p.devices = vec![nv(1, dir, GIB, 0, None)];
        add("a64fx maxmem=1000G".into(), p, &[]);
        let mut p = base(fw, "virt", GIB, 4, 1020 * GIB);
        p.extra_args[1] = "a64fx".into();
        p.devices = vec![nv(1, dir, GIB, 0, None)];
        add("refused: a64fx maxmem=1020G".into(), p, &["QP604"]);
        let mut p = base(fw, "virt", GIB, 4, 17000 * GIB);
        p.extra_args[1] = "cortex-a57".into();
        p.devices = vec![nv(1, dir, GIB, 0, None)];
        add("refused: cortex-a57 maxmem=17000G".into(), p, &["QP604"]);
        let mut p = base(fw, "virt", GIB, 1, 2 * GIB);
        p.machine_options = vec!["highmem=off".into()];
        p.devices = vec![nv(1, dir, 512 * MIB, 0, None)];
        add("highmem=off, 1 slot, maxmem=2G".into(), p, &[]);
        let mut p = base(fw, "virt", GIB, 4, 2 * GIB);
        p.machine_options = vec!["highmem=off".into()];
        p.devices = vec![nv(1, dir, 512 * MIB, 0, None)];
        add("refused: highmem=off, 4 slots".into(), p, &["QP604"]);
    }
    // What the GED needs: firmware, a 64-bit CPU, ACPI.
    {
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args.truncate(2);
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add("refused: no firmware".into(), p, &["QP600"]);
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args.drain(0..2);
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add("refused: default CPU".into(), p, &["QP601"]);
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args[1] = "cortex-a15".into();
        p.devices = vec![Dimm::pc_dimm(1, Size(GIB))];
        add("refused: cortex-a15".into(), p, &["QP601"]);
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.machine_options = vec!["acpi=off".into()];
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add("refused: acpi=off".into(), p, &["QP015"]);
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args.push("-no-acpi".into());
        p.devices = vec![nv(1, dir, GIB, 2 * MIB, None)];
        add("refused: -no-acpi".into(), p, &["QP015"]);
        // Without devices none of that matters.
        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.extra_args.clear();
        add("no devices, no firmware, default CPU".into(), p, &[]);
    }
    // Placement refusals, as on x86.
    {
        let mut p = base(fw, "virt", GIB, 2, 4 * GIB);
        let mut a = nv(1, dir, GIB, 2 * MIB, Some(2 * MIB));
        a.addr = Some(Addr(0x8010_0000));
        p.devices = vec![a];
        add("refused: misaligned addr".into(), p, &["QP115"]);

        let mut p = base(fw, "virt", GIB, 1, 8 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None), nv(2, dir, GIB, 0, None)];
        add("refused: no free slot".into(), p, &["QP111"]);

        let mut p = base(fw, "virt", GIB, 2, 2 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None), nv(2, dir, GIB, 0, None)];
        add("refused: not enough space".into(), p, &[]);

        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        let mut b = nv(2, dir, GIB, 0, None);
        b.addr = Some(Addr(0x8000_0000));
        p.devices = vec![nv(1, dir, GIB, 0, None), b];
        add("refused: overlapping addr".into(), p, &[]);

        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        p.devices = vec![Dimm::pc_dimm(1, Size(GIB + MIB))];
        add("refused: pc-dimm not 2M multiple".into(), p, &["QP201"]);

        let mut p = base(fw, "virt", GIB, 2, 8 * GIB);
        let mut a = nv(1, dir, GIB, 0, None);
        a.addr = Some(Addr(0x4000_0000));
        p.devices = vec![a];
        add("refused: addr in RAM".into(), p, &[]);
    }
    out
}

#[test]
fn virt_placement_and_check_match_real_qemu() {
    let test = "virt_placement_and_check_match_real_qemu";
    let Some(qemu) = common::aarch64_qemu_or_skip(test) else {
        return;
    };
    let Some(firmware) = common::aarch64_firmware_or_skip(test) else {
        return;
    };
    let version = discover::cached_version(&qemu).ok();
    assert!(
        version.is_some(),
        "cannot read {}'s version",
        qemu.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(dir.path(), &firmware);
    let mut failures = Vec::new();
    let (mut compared, mut refusals) = (0, 0);
    for case in &cases {
        let host = HostFacts {
            qemu: QemuStatus::stated(version),
            ..qpmem::host::gather(&case.profile)
        };
        let ds = diagnose::check_profile(&case.profile, &[], &host);
        let errors: Vec<_> = ds
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .filter(|d| d.rule().map(|r| r.basis) == Some(Basis::QemuRefuses))
            .collect();
        let others: Vec<_> = ds
            .iter()
            .filter(|d| d.severity == Severity::Error && !errors.contains(d))
            .collect();
        let codes: Vec<&str> = ds.iter().map(|d| d.code).collect();
        let mut problems = Vec::new();
        if !others.is_empty() {
            problems.push(format!("errors of other rules: {others:?}"));
        }
        for want in &case.expect {
            if !codes.contains(want) {
                problems.push(format!("{want} did not fire (got {codes:?})"));
            }
        }
        if case.name.starts_with("refused") == errors.is_empty() {
            problems.push(format!(
                "the case list says {}, check's errors are {:?}",
                if case.name.starts_with("refused") {
                    "refused"
                } else {
                    "accepted"
                },
                errors.iter().map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
        match probe(&case.profile, &qemu, Duration::from_secs(30)) {
            Ok(actual) => {
                if !errors.is_empty() {
                    problems.push(format!(
                        "QEMU accepted, check errors: {:?}",
                        errors.iter().map(|d| &d.message).collect::<Vec<_>>()
                    ));
                }
                let l = layout(&case.profile, &host).unwrap();
                let map = to_json(&case.profile, &l);
                if actual.len() != map.dimms.len() {
                    problems.push(format!(
                        "QEMU has {} devices, map {}",
                        actual.len(),
                        map.dimms.len()
                    ));
                }
                for d in &map.dimms {
                    let Some(a) = actual.iter().find(|a| a.id.as_deref() == Some(&d.id)) else {
                        problems.push(format!("QEMU has no device {}", d.id));
                        continue;
                    };
                    compared += 1;
                    let got = (a.slot, Some(a.addr), Some(a.size));
                    let want = (d.slot, d.addr, d.size);
                    if got != want {
                        problems.push(format!(
                            "{}: QEMU (slot, addr, size) {got:x?} != map --json {want:x?}",
                            d.id
                        ));
                    }
                }
            }
            Err(ProbeError::Refused { message }) => {
                refusals += 1;
                if errors.is_empty() {
                    problems.push(format!("QEMU refused ({message}), check has no error"));
                }
            }
            Err(e) => problems.push(format!("probe failed: {e}")),
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", case.name, problems.join("\n    ")));
        }
    }
    eprintln!(
        "qemu_ground_truth_arm: {} configurations, {compared} devices compared, {refusals} refused by QEMU",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 50, "only {compared} devices compared");
    assert!(refusals >= 15, "only {refusals} refusals");
    // Probing used scratch files: the profiles' backing files were never created.
    assert!(!dir.path().join("nv1").exists());
}

/// Pasted aarch64 lines, QemuOpts and libvirt's JSON shape, run verbatim
/// through real QEMU (`probe_args`) and imported: the import is aarch64 on
/// virt, and every device's id, slot, addr and size equal `map --json`.
#[test]
fn pasted_aarch64_lines_import_and_place_like_qemu() {
    let test = "pasted_aarch64_lines_import_and_place_like_qemu";
    let Some(qemu) = common::aarch64_qemu_or_skip(test) else {
        return;
    };
    let Some(firmware) = common::aarch64_firmware_or_skip(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let fw = firmware.display().to_string();
    let lines = [
        format!(
            "qemu-system-aarch64 -M virt,gic-version=3,nvdimm=on -cpu max -m 1G,slots=4,maxmem=8G -bios {fw} \
             -object memory-backend-file,id=m1,share=on,mem-path={d}/f1,size=1G \
             -device nvdimm,memdev=m1,id=nv1,label-size=128K \
             -object memory-backend-file,id=m2,share=on,mem-path={d}/f2,size=512M -device nvdimm,memdev=m2,id=nv2"
        ),
        format!(
            r#"-machine virt,usb=off,gic-version=3,nvdimm=on -accel tcg -cpu cortex-a57 -bios {fw} -m size=2097152k,slots=4,maxmem=8388608k -object '{{"qom-type":"memory-backend-file","id":"memnvdimm0","mem-path":"{d}/j0","share":true,"size":1073741824,"align":134217728}}' -device '{{"driver":"nvdimm","label-size":2097152,"memdev":"memnvdimm0","id":"nvdimm0","slot":0}}' -object '{{"qom-type":"memory-backend-ram","id":"memdimm1","size":536870912}}' -device '{{"driver":"pc-dimm","memdev":"memdimm1","id":"dimm1","slot":2}}'"#
        ),
    ];
    for line in &lines {
        let (profile, _notes) = qpmem::core::cmdline::import(line).unwrap();
        assert_eq!(profile.arch, qpmem::core::arch::Arch::Aarch64, "{line}");
        let l = layout(&profile, &HostFacts::default()).unwrap();
        let map = to_json(&profile, &l);
        let words = shlex::split(line).unwrap();
        let args = if words[0].starts_with('-') {
            &words[..]
        } else {
            &words[1..]
        };
        let actual = qpmem::qemu::probe_args(args, &qemu, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(actual.len(), map.dimms.len(), "{line}");
        for d in &map.dimms {
            let a = actual
                .iter()
                .find(|a| a.id.as_deref() == Some(&d.id))
                .unwrap_or_else(|| panic!("QEMU has no {}", d.id));
            assert_eq!(
                (a.slot, Some(a.addr), Some(a.size)),
                (d.slot, d.addr, d.size),
                "{}: {line}",
                d.id
            );
        }
    }
}
