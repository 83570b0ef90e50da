//! Ground truth: qpmem's placement model against real QEMU.
//!
//! Each configuration is started with `qemu-system-x86_64 -S -nodefaults
//! -display none` (nothing runs in the guest) and QEMU is asked over QMP
//! (`query-memory-devices`) where it put every device. Every id, slot,
//! address and size must equal what `layout` predicts; a configuration
//! QEMU refuses must be one the model refuses too.

mod common;

use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Addr, Auto, Backend, Dimm, Profile};
use qpmem::core::size::{Size, GIB, MIB};
use qpmem::qemu::{probe, ProbeError};
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Case {
    name: String,
    profile: Profile,
}

fn base(machine: &str, ram: u64, slots: u32, maxmem: u64) -> Profile {
    let mut p = Profile::empty("gt");
    p.machine = machine.to_string();
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

fn cases(dir: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |name: String, profile: Profile| out.push(Case { name, profile });

    // The seed recipe, with and without align, on both machine types.
    for machine in ["pc", "q35"] {
        for align in [None, Some(128 * MIB)] {
            let mut p = base(machine, 512 * MIB, 2, 40 * GIB);
            p.devices = (1..=2)
                .map(|n| nv(n, dir, 17 * GIB, 2 * MIB, align))
                .collect();
            add(format!("seed {machine} align={align:?}"), p);
        }
    }
    // RAM on both sides of each lowmem threshold.
    for machine in ["pc", "q35", "pc-i440fx-7.2", "pc-q35-7.2"] {
        for ram in [
            512 * MIB,
            2815 * MIB,
            2816 * MIB,
            3583 * MIB,
            3584 * MIB,
            5000 * MIB,
        ] {
            let mut p = base(machine, ram, 2, ram + 4 * GIB);
            p.devices = vec![
                nv(1, dir, GIB + 4 * MIB, 2 * MIB, None),
                nv(2, dir, GIB, 128 * 1024, None),
            ];
            add(format!("{machine} ram={}M", ram / MIB), p);
        }
    }
    // Label sizes x alignments.
    for label in [0, 128 * 1024, 2 * MIB] {
        for align in [None, Some(2 * MIB), Some(128 * MIB), Some(GIB)] {
            let mut p = base("pc", GIB, 3, 12 * GIB);
            p.devices = vec![
                nv(1, dir, 3 * GIB + 200 * MIB, label, align),
                nv(2, dir, 2 * GIB + 6 * MIB, label, align),
                nv(3, dir, GIB, label, None),
            ];
            add(format!("label={label} align={align:?}"), p);
        }
    }
    // pc-dimms mixed in, before and between NVDIMMs.
    {
        let mut p = base("q35", 2 * GIB, 4, 16 * GIB);
        p.devices = vec![
            Dimm::pc_dimm(1, Size(GIB + 2 * MIB)),
            nv(1, dir, 2 * GIB, 2 * MIB, None),
            Dimm::pc_dimm(2, Size(512 * MIB)),
            nv(2, dir, GIB, 2 * MIB, Some(128 * MIB)),
        ];
        add("pc-dimms mixed".into(), p);
    }
    // Explicit addr and slot; later devices fit around them.
    {
        let mut p = base("pc", GIB, 4, 16 * GIB);
        let mut a = nv(1, dir, 2 * GIB, 2 * MIB, None);
        a.addr = Some(Addr(0x1_8000_0000));
        a.slot = Some(3);
        let mut b = nv(2, dir, GIB, 2 * MIB, Some(128 * MIB));
        b.slot = Some(1);
        let c = nv(3, dir, 3 * GIB, 0, None);
        p.devices = vec![a, b, c];
        add("explicit addr and slot".into(), p);
    }
    // Paths with commas (an existing file: QEMU must open this very path).
    {
        let mut p = base("pc", GIB, 1, 4 * GIB);
        let comma_dir = dir.join("a,b");
        std::fs::create_dir_all(&comma_dir).unwrap();
        let path = comma_dir.join("pmem,0");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(GIB).unwrap();
        let mut d = Dimm::nvdimm(1, path, Size(GIB));
        d.align = None;
        p.devices = vec![d];
        add("path with commas".into(), p);
    }
    // Refusals the model must also predict.
    {
        let mut p = base("pc", GIB, 2, 4 * GIB);
        let mut a = nv(1, dir, GIB, 2 * MIB, None);
        a.addr = Some(Addr(0x1_0000_1000 + 0x200000));
        a.align = Some(Size(2 * MIB));
        p.devices = vec![a];
        add("refused: misaligned addr".into(), p);

        let mut p = base("pc", GIB, 1, 8 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None), nv(2, dir, GIB, 0, None)];
        add("refused: no free slot".into(), p);

        let mut p = base("pc", GIB, 2, 2 * GIB);
        p.devices = vec![nv(1, dir, GIB, 0, None), nv(2, dir, GIB, 0, None)];
        add("refused: not enough space".into(), p);

        let mut p = base("pc", GIB, 2, 8 * GIB);
        let mut b = nv(2, dir, GIB, 0, None);
        b.addr = Some(Addr(0x1_0000_0000));
        p.devices = vec![nv(1, dir, GIB, 0, None), b];
        add("refused: overlapping addr".into(), p);

        let mut p = base("pc", GIB, 2, 8 * GIB);
        let mut a = nv(1, dir, GIB, 0, None);
        a.slot = Some(2);
        p.devices = vec![a];
        add("refused: slot out of range".into(), p);

        let mut p = base("pc", GIB, 2, 8 * GIB);
        p.devices = vec![Dimm::pc_dimm(1, Size(GIB + MIB))];
        add("refused: pc-dimm not 2M multiple".into(), p);

        let mut p = base("pc", GIB, 2, 8 * GIB);
        p.devices = vec![nv(1, dir, 128 * MIB, 2 * MIB, Some(128 * MIB))];
        add("refused: nothing visible after align-down".into(), p);
    }
    out
}

#[test]
fn placement_matches_real_qemu() {
    let Some(qemu) = common::qemu_or_skip("placement_matches_real_qemu") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(dir.path());
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in &cases {
        let predicted = layout(&case.profile, &HostFacts::default()).unwrap();
        let model_refuses = predicted.devices.iter().any(|d| d.result.is_err());
        assert_eq!(
            case.name.starts_with("refused"),
            model_refuses,
            "{}: the case list says otherwise: {:?}",
            case.name,
            predicted.devices
        );
        match probe(&case.profile, &qemu, Duration::from_secs(30)) {
            Ok(actual) => {
                if model_refuses {
                    failures.push(format!(
                        "{}: QEMU accepted, model refused: {:?}",
                        case.name, predicted.devices
                    ));
                    continue;
                }
                if actual.len() != predicted.devices.len() {
                    failures.push(format!(
                        "{}: QEMU has {} devices, model {}",
                        case.name,
                        actual.len(),
                        predicted.devices.len()
                    ));
                    continue;
                }
                // QMP lists devices by address; match them by id.
                for d in &predicted.devices {
                    let p = d.placement().unwrap();
                    let Some(a) = actual
                        .iter()
                        .find(|a| a.id.as_deref() == Some(d.id.as_str()))
                    else {
                        failures.push(format!("{}: QEMU has no device {}", case.name, d.id));
                        continue;
                    };
                    compared += 1;
                    let got = (a.id.clone().unwrap_or_default(), a.slot, a.addr, a.size);
                    let want = (d.id.clone(), p.slot, p.addr, p.size);
                    if got != want {
                        failures.push(format!(
                            "{}: QEMU {:?} != model {:?} (hex addr {:#x} vs {:#x})",
                            case.name, got, want, a.addr, p.addr
                        ));
                    }
                }
            }
            Err(ProbeError::Refused { message }) => {
                if !model_refuses {
                    failures.push(format!(
                        "{}: QEMU refused ({message}), model placed everything",
                        case.name
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: probe failed: {e}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 60, "only {compared} devices compared");
    // The scratch-file rule: the profiles' own missing backing files were
    // never created.
    assert!(!dir.path().join("nv1").exists());
}

#[test]
fn probe_reports_qemu_refusal_verbatim() {
    let Some(qemu) = common::qemu_or_skip("probe_reports_qemu_refusal_verbatim") else {
        return;
    };
    let mut p = base("pc", GIB, 2, 8 * GIB);
    p.extra_args = vec!["-no-such-option".into()];
    match probe(&p, &qemu, Duration::from_secs(30)) {
        Err(ProbeError::Refused { message }) => {
            assert!(message.contains("-no-such-option"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn existing_backing_file_is_used_and_left_as_it_was() {
    let Some(qemu) = common::qemu_or_skip("existing_backing_file_is_used") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("data.img");
    std::fs::write(&path, b"precious").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(GIB)
        .unwrap();
    let snapshot = |p: &Path| {
        let meta = std::fs::metadata(p).unwrap();
        let mut head = [0u8; 8];
        std::io::Read::read_exact(&mut std::fs::File::open(p).unwrap(), &mut head).unwrap();
        (meta.len(), meta.modified().unwrap(), head)
    };
    let before = snapshot(&path);
    let mut p = base("pc", GIB, 1, 4 * GIB);
    let mut d = Dimm::nvdimm(1, path.clone(), Size(GIB));
    d.align = None;
    d.backend = Backend::File(path.clone());
    p.devices = vec![d];
    let actual = probe(&p, &qemu, Duration::from_secs(30)).unwrap();
    assert_eq!(actual.len(), 1);
    assert_eq!(actual[0].size, GIB - 2 * MIB);
    assert_eq!(snapshot(&path), before);
    assert_eq!(&before.2, b"precious");
}

/// One generated memory device: its kind (0 nvdimm, 1 pc-dimm,
/// 2 virtio-pmem, 3 virtio-mem), a size, alignment and label choice, and
/// an explicit address (in 256 MiB steps from the region's base) or none.
type MixDevice = (u8, u8, u8, Option<u8>);

fn mix_device(n: usize, dir: &Path, (kind, size, align, addr): MixDevice, base: u64) -> Dimm {
    let pick = |list: &[u64]| list[usize::from(size) % list.len()];
    let mut d = match kind % 4 {
        0 => {
            let label = [0, 128 * 1024, 2 * MIB][usize::from(align) % 3];
            let a = [None, Some(2 * MIB), Some(128 * MIB)][usize::from(align / 3) % 3];
            nv(
                n,
                dir,
                pick(&[GIB + 4 * MIB, 2 * GIB, 512 * MIB + 2 * MIB]),
                label,
                a,
            )
        }
        1 => Dimm::pc_dimm(n, Size(pick(&[512 * MIB, GIB, 600 * MIB, 3 * MIB]))),
        2 => {
            let mut d = Dimm::virtio_pmem(
                n,
                dir.join(format!("vpmem{n}")),
                Size(pick(&[4000 * 1024, 256 * MIB, GIB, 6 * MIB])),
            );
            d.align = [None, Some(Size::mib(2)), Some(Size::mib(128))][usize::from(align) % 3];
            d
        }
        _ => {
            let mut d = Dimm::virtio_mem(n, Size(pick(&[64 * MIB, GIB, 6 * MIB, 8 * MIB])));
            d.block_size = [
                None,
                Some(Size::mib(2)),
                Some(Size::mib(4)),
                Some(Size::mib(8)),
            ][usize::from(align) % 4];
            d
        }
    };
    d.addr = addr.map(|k| Addr(base + u64::from(k % 48) * 256 * MIB));
    d
}

/// Generated mixes of nvdimm, pc-dimm, virtio-pmem and virtio-mem in
/// random order, with explicit and automatic addresses, on pc and q35:
/// QEMU (-S, QMP) places every device at the id, address, size and slot
/// `map --json` gives, and refuses exactly the configurations `check`
/// reports a QEMU-refuses error for (and the model leaves unplaced).
#[test]
fn mixed_memory_devices_match_real_qemu() {
    use proptest::prelude::*;
    use qpmem::core::diagnose::{self, Basis, Severity};
    use qpmem::core::facts::QemuStatus;
    let Some(qemu) = common::qemu_or_skip("mixed_memory_devices_match_real_qemu") else {
        return;
    };
    let version = qpmem::qemu::discover::cached_version(&qemu).ok();
    assert!(
        version.is_some(),
        "cannot read {}'s version",
        qemu.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let device = (
        0u8..4,
        any::<u8>(),
        any::<u8>(),
        proptest::option::weighted(0.3, any::<u8>()),
    );
    let strategy = (
        any::<bool>(),
        prop_oneof![Just(GIB), Just(4 * GIB)],
        proptest::collection::vec(device, 1..7),
    );
    let counts = std::cell::Cell::new((0usize, 0usize, 0usize));
    let mut runner = proptest::test_runner::TestRunner::new(common::proptest_config(40));
    let result = runner.run(&strategy, |(q35, ram, devices)| {
        let machine = if q35 { "q35" } else { "pc" };
        let dimms = devices.iter().filter(|d| d.0 % 4 < 2).count() as u32;
        let mut p = base(machine, ram, dimms, ram + 24 * GIB);
        let region = qpmem::core::layout::device_memory_region(
            p.machine_family().unwrap(),
            ram,
            ram + 24 * GIB,
            dimms,
        )
        .unwrap();
        p.devices = devices
            .iter()
            .enumerate()
            .map(|(i, d)| mix_device(i + 1, dir.path(), *d, region.base))
            .collect();
        let predicted = layout(&p, &HostFacts::default()).unwrap();
        let map = qpmem::core::map::to_json(&p, &predicted);
        let model_refuses = predicted.devices.iter().any(|d| d.result.is_err());
        let host = HostFacts {
            qemu: QemuStatus::stated(version),
            ..qpmem::host::gather(&p)
        };
        let check_refuses: Vec<String> = diagnose::check_profile(&p, &[], &host)
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .filter(|d| d.rule().map(|r| r.basis) == Some(Basis::QemuRefuses))
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        let argv = qpmem::core::cmdline::render_shell(&p);
        match probe(&p, &qemu, Duration::from_secs(30)) {
            Ok(actual) => {
                let (a, r, c) = counts.get();
                counts.set((a + 1, r, c + actual.len()));
                prop_assert!(
                    !model_refuses,
                    "QEMU accepted, model refused: {:?}\n{argv}",
                    predicted.devices
                );
                prop_assert!(
                    check_refuses.is_empty(),
                    "QEMU accepted, check refuses: {check_refuses:?}\n{argv}"
                );
                prop_assert_eq!(actual.len(), map.dimms.len(), "{}", argv);
                for want in &map.dimms {
                    let got = actual
                        .iter()
                        .find(|a| a.id.as_deref() == Some(want.id.as_str()));
                    prop_assert!(got.is_some(), "QEMU has no {}\n{}", want.id, argv);
                    let got = got.unwrap();
                    prop_assert_eq!(
                        (got.slot, Some(got.addr), Some(got.size)),
                        (want.slot, want.addr, want.size),
                        "{} ({}): QEMU vs map --json\n{}",
                        want.id,
                        want.kind,
                        argv
                    );
                }
            }
            Err(ProbeError::Refused { message }) => {
                let (a, r, c) = counts.get();
                counts.set((a, r + 1, c));
                prop_assert!(
                    model_refuses,
                    "QEMU refused ({message}), model placed all\n{argv}"
                );
                prop_assert!(
                    !check_refuses.is_empty(),
                    "QEMU refused ({message}), check has no QEMU-refuses error\n{argv}"
                );
            }
            Err(e) => prop_assert!(false, "probe failed: {e}"),
        }
        Ok(())
    });
    let (accepted, refused, compared) = counts.get();
    eprintln!("mixed: {accepted} accepted ({compared} devices compared), {refused} refused");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        accepted >= 5 && refused >= 5,
        "{accepted} accepted, {refused} refused: the mix lost a side"
    );
}
