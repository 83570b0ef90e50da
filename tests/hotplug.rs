//! Hotplug with real QEMU: several NVDIMMs and pc-dimms of mixed sizes
//! and alignments added one after another to a running VM, each where
//! qpmem predicted from QEMU's own report; QEMU refusing one leaves no
//! object and no file behind; and a real Linux guest sees a hotplugged
//! NVDIMM's range where predicted (its /proc/iomem, typed into the
//! console).
//!
//! Needs qemu-system-x86_64 (and for the guest busybox-static and Debian's
//! kernel); missing tools skip unless QPMEM_REQUIRE_QEMU=1.

mod common;

use common::guest::one_qemu_at_a_time;
use common::qemu_or_skip;
use common::vm::{boot_into_shell, events, guest, type_line, wait_until};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use qpmem::core::device::DimmKind;
use qpmem::core::facts::QemuStatus;
use qpmem::core::hotplug::Outcome;
use qpmem::core::layout::Placement;
use qpmem::core::profile::{Auto, Backend, Dimm, Profile};
use qpmem::core::size::{Size, MIB};
use qpmem::tui::launch::{feed, frame};
use qpmem::tui::launch_view::{Focus, LaunchView, ViewEvent};
use qpmem::tui::theme::Theme;
use qpmem::vm::{preflight, prepare, HotplugError, LaunchOptions, Vm, VmEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// 512M of RAM, 4 slots up to 8G, nv1 (1G, label 2M) on a file in `dir`:
/// the machine of the QEMU 7.2 measurement.
fn profile(dir: &Path) -> Profile {
    let mut p = Profile::empty("hotplug-test");
    p.ram = Size::mib(512);
    p.cpus = 1;
    p.slots = Auto::Fixed(4);
    p.maxmem = Auto::Fixed(Size::gib(8));
    let mut nv1 = Dimm::nvdimm(1, dir.join("nv1"), Size::gib(1));
    nv1.align = None;
    p.devices.push(nv1);
    p
}

fn launch(p: &Profile, qemu: &Path, tmp: &Path) -> (Vm, Receiver<VmEvent>) {
    let plan = preflight(p, &QemuStatus::NotChecked, &[]);
    assert!(!plan.is_blocked(), "{:?}", plan.errors());
    prepare(&plan, true).unwrap();
    let (notify, rx) = events();
    let mut opts = LaunchOptions::new(qemu.to_path_buf());
    opts.runtime_parent = Some(tmp.to_path_buf());
    opts.shutdown_grace = Duration::from_millis(500);
    let vm = Vm::launch(p, &opts, notify).unwrap();
    // QMP answers once the supervisor hands the connection over.
    wait_until(&vm, &rx, Duration::from_secs(60), "QMP", |vm| {
        vm.running().is_ok()
    });
    (vm, rx)
}

/// The objects QEMU holds (QOM `/objects`).
fn objects(vm: &Vm) -> Vec<String> {
    let out = vm
        .qmp("qom-list", Some(serde_json::json!({"path": "/objects"})))
        .unwrap();
    out.as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn hotplugs_in_a_row_land_where_predicted_and_a_refusal_leaves_nothing() {
    let Some(qemu) = qemu_or_skip("hotplugs_in_a_row_land_where_predicted") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pmem");
    let (vm, _rx) = launch(&profile(&dir), &qemu, tmp.path());

    // Mixed: the measured case first (1G, label 2M, align 128M:
    // QEMU 7.2 put it at 0x140000000, slot 1), a label-less NVDIMM with
    // align 2M, a pc-dimm on RAM.
    let shapes: [(DimmKind, u64, u64, Option<u64>); 3] = [
        (DimmKind::Nvdimm, 1024, 2, Some(128)),
        (DimmKind::Nvdimm, 258, 0, Some(2)),
        (DimmKind::PcDimm, 512, 0, None),
    ];
    let mut seen = Vec::new();
    for (i, (kind, size, label, align)) in shapes.into_iter().enumerate() {
        let running = vm.running().unwrap();
        let mut d = match vm.plan_hotplug() {
            Ok(c) => c.plan.device,
            Err(e) => panic!("{e}: {} {:?}", vm.status(), vm.stderr_lines()),
        };
        d.size = Size::mib(size);
        d.label_size = Size::mib(label);
        d.align = align.map(Size::mib);
        d.backend = Backend::File(dir.join(format!("hot{i}")));
        if kind == DimmKind::PcDimm {
            d.kind = kind;
            d.id = format!("dimm{i}");
            d.backend = Backend::Ram;
            d.align = None;
        }
        let check = vm.check_hotplug(&running, d.clone());
        assert!(check.errors().is_empty(), "{}: {:?}", d.id, check.errors());
        let predicted: Placement = check.plan.placement.clone().unwrap();
        let outcome = vm.hotplug(&check, true).unwrap();
        assert_eq!(
            outcome,
            Outcome::AsPredicted {
                addr: predicted.addr,
                slot: predicted.slot
            },
            "{}",
            d.id
        );
        if i == 0 {
            assert_eq!((predicted.addr, predicted.slot), (0x1_4000_0000, Some(1)));
        }
        // QEMU says so itself.
        let now = vm.running().unwrap().plugged;
        let m = now
            .iter()
            .find(|m| m.id.as_deref() == Some(d.id.as_str()))
            .unwrap();
        assert_eq!(
            (m.addr, m.size, m.slot),
            (predicted.addr, predicted.size, predicted.slot)
        );
        seen.push(d.id.clone());
    }
    assert_eq!(
        vm.hotplugged()
            .iter()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>(),
        seen
    );

    // NVDIMMs cannot be unplugged: QEMU's own reason comes back, and the
    // device stays.
    match vm.unplug(&seen[0]) {
        Err(HotplugError::Refused { what, message }) => {
            assert_eq!(what, "device_del");
            assert!(message.contains("not supported"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(vm
        .running()
        .unwrap()
        .plugged
        .iter()
        .any(|m| m.id.as_deref() == Some(seen[0].as_str())));
    // A pc-dimm is asked for; the firmware (no OS here) never releases it.
    assert!(!vm.unplug(&seen[2]).unwrap());
    assert!(matches!(vm.unplug("nosuch"), Err(HotplugError::Blocked(_))));

    // All four slots are taken: qpmem says so before QEMU does.
    let check = vm.plan_hotplug().unwrap();
    assert!(
        check.errors().iter().any(|e| e.contains("no free slots")),
        "{:?}",
        check.errors()
    );
    assert!(matches!(
        vm.hotplug(&check, true),
        Err(HotplugError::Blocked(_))
    ));
    // Past qpmem's judgement (its findings cleared), QEMU refuses it: its
    // message comes back, and neither the object nor the file stays.
    let mut forced = check.clone();
    forced.plan.placement = Ok(forced_placement());
    forced.plan.diagnostics.clear();
    forced.plan.blockers.clear();
    let file = forced.plan.device.backend.path().unwrap().to_path_buf();
    let memdev = forced.plan.device.memdev.clone();
    match vm.hotplug(&forced, true) {
        Err(HotplugError::Refused { what, message }) => {
            assert_eq!(what, "device_add");
            assert!(message.contains("no free slots"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!file.exists(), "{} was left behind", file.display());
    let objs = objects(&vm);
    assert!(!objs.contains(&memdev), "{memdev} stayed: {objs:?}");
    assert!(objs.contains(&"mem1".to_string()), "{objs:?}");
    drop(vm);
}

fn forced_placement() -> Placement {
    Placement {
        slot: Some(0),
        addr: 0,
        size: 0,
        align: 2 * MIB,
        label_offset: 0,
        unused_tail: 0,
        start_aligned: true,
        end_aligned: true,
    }
}

#[test]
fn a_real_guest_sees_the_hotplugged_nvdimm_where_predicted() {
    let test = "a_real_guest_sees_the_hotplugged_nvdimm_where_predicted";
    let Some(g) = guest(test) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut p = profile(&tmp.path().join("pmem"));
    boot_into_shell(&mut p, &g, tmp.path());
    let (vm, rx) = launch(&p, &g.qemu, tmp.path());
    wait_until(
        &vm,
        &rx,
        Duration::from_secs(240),
        "the guest shell",
        |vm| vm.console().emulator().all_text().contains("QPMEM-SHELL"),
    );

    // Through the launch view, as a person does it: Ctrl-], +, the panel
    // with the prediction, Enter, y (it creates the backing file).
    let predicted = vm.plan_hotplug().unwrap().plan.placement.unwrap();
    let mut view = LaunchView::new("hotplug", Theme::default_theme(), (160, 50));
    let key = |c: KeyCode, m: KeyModifiers| ViewEvent::Key(KeyEvent::new(c, m));
    let plain = |c: char| key(KeyCode::Char(c), KeyModifiers::NONE);
    feed(
        &vm,
        &mut view,
        key(KeyCode::Char(']'), KeyModifiers::CONTROL),
    );
    assert_eq!(view.focus(), Focus::Commands);
    feed(&vm, &mut view, plain('+'));
    assert!(view.hotplug_open(), "{:?}", view.message());
    let mut screen = Terminal::new(TestBackend::new(160, 50)).unwrap();
    frame(&mut screen, &mut view, &vm).unwrap();
    let shown: String = screen
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    let range = format!("{:#x}-{:#x}", predicted.addr, predicted.end() - 1);
    assert!(shown.contains(&range), "the panel shows {range}");
    feed(&vm, &mut view, key(KeyCode::Enter, KeyModifiers::NONE));
    assert!(view.hints().contains("y / n"), "{}", view.hints());
    feed(&vm, &mut view, plain('y'));
    let said = view.message().unwrap_or_default().to_string();
    assert!(
        said.contains(&format!("plugged at {:#x}", predicted.addr))
            && said.contains("as predicted"),
        "{said}"
    );
    assert_eq!(vm.hotplugged().len(), 1);

    // The guest's kernel, told by ACPI, maps the new range.
    let want = (predicted.addr, predicted.end() - 1);
    let ranges = |text: &str| -> Vec<(u64, u64)> {
        text.lines()
            .filter_map(|l| l.trim().strip_suffix(" : Persistent Memory"))
            .filter_map(|r| r.split_once('-'))
            .filter_map(|(a, b)| {
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                ))
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        type_line(&vm, "grep 'Persistent Memory' /proc/iomem; echo IOMEM-DONE");
        std::thread::sleep(Duration::from_secs(2));
        vm.console().ack();
        let text = vm.console().emulator().all_text();
        if ranges(&text).contains(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guest never showed {want:x?} as Persistent Memory; console:\n{text}"
        );
    }
    drop(vm);
}

/// virtio-mem resizes through QMP qom-set: `>`'s step is a memory section
/// (128 MiB in 2 MiB blocks), capped at the backend's size, `<` goes back
/// down to 0; QEMU's own requested-size (qom-get) follows. An NVDIMM is
/// not resized.
#[test]
fn virtio_mem_resizes_by_a_section_up_to_its_size() {
    let Some(qemu) = qemu_or_skip("virtio_mem_resizes_by_a_section_up_to_its_size") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut p = profile(tmp.path());
    p.devices.push(Dimm::virtio_mem(2, Size::mib(256)));
    let (vm, _rx) = launch(&p, &qemu, tmp.path());
    let requested = |vm: &Vm| {
        vm.qmp(
            "qom-get",
            Some(serde_json::json!({"path": "/machine/peripheral/vmem2", "property": "requested-size"})),
        )
        .unwrap()
        .as_u64()
        .unwrap()
    };
    assert_eq!(requested(&vm), 0);
    assert_eq!(vm.resize("vmem2", true).unwrap(), (128 * MIB, 256 * MIB));
    assert_eq!(requested(&vm), 128 * MIB);
    assert_eq!(vm.resize("vmem2", true).unwrap().0, 256 * MIB);
    // Never past the backend (QEMU would refuse it).
    assert_eq!(vm.resize("vmem2", true).unwrap().0, 256 * MIB);
    assert_eq!(requested(&vm), 256 * MIB);
    assert_eq!(vm.resize("vmem2", false).unwrap().0, 128 * MIB);
    assert_eq!(vm.resize("vmem2", false).unwrap().0, 0);
    assert_eq!(vm.resize("vmem2", false).unwrap().0, 0);
    assert_eq!(requested(&vm), 0);
    match vm.resize("nv1", true) {
        Err(HotplugError::Blocked(why)) => assert!(why[0].contains("not a virtio-mem"), "{why:?}"),
        other => panic!("{other:?}"),
    }
}
