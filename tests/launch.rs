//! Launching the VM with real QEMU: a real Linux guest driven through
//! qpmem's own console (pty, emulator, key encoding), QEMU failing at
//! once, a missing QEMU, a missing kernel, a backing file in use, and the
//! VM being stopped when its handle goes.
//!
//! Needs qemu-system-x86_64; the guest test also needs busybox-static and a
//! Debian kernel (`$QPMEM_GUEST_KERNEL_DIR`, or `<target dir>/guest-kernel`
//! fetched by scripts/fetch-guest-kernel.sh). Missing tools skip the test
//! with a message unless QPMEM_REQUIRE_QEMU=1, when they fail it.

mod common;

use assert_cmd::Command as Cli;
use common::guest::one_qemu_at_a_time;
use common::qemu_or_skip;
use common::vm::{boot_into_shell, events, guest, type_line, wait_until};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use qpmem::core::facts::{HostFacts, QemuStatus};
use qpmem::core::layout::layout;
use qpmem::core::profile::{Dimm, Profile};
use qpmem::core::size::Size;
use qpmem::tui::launch::{feed, frame, Flow};
use qpmem::tui::launch_view::{Focus, LaunchView, ViewEvent, WHEEL_ROWS};
use qpmem::tui::theme::Theme;
use qpmem::vm::{preflight, prepare, LaunchOptions, Vm, VmError, VmStatus};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// A small machine: 512M of RAM, two 1 GiB NVDIMMs on files in `dir`.
fn small_profile(dir: &Path) -> Profile {
    let mut p = Profile::empty("launch-test");
    p.ram = Size::mib(512);
    p.cpus = 1;
    for n in 1..=2 {
        p.devices
            .push(Dimm::nvdimm(n, dir.join(format!("nv{n}")), Size::gib(1)));
    }
    p
}

#[test]
fn a_real_guest_through_qpmems_console() {
    let Some(qemu) = qemu_or_skip("a_real_guest_through_qpmems_console") else {
        return;
    };
    let Some(g) = guest("a_real_guest_through_qpmems_console") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("vms/pmem");
    let mut p = small_profile(&data);
    boot_into_shell(&mut p, &g, tmp.path());

    let plan = preflight(&p, &QemuStatus::NotChecked, &[]);
    assert!(!plan.is_blocked(), "{:?}", plan.errors());
    assert_eq!(plan.create_files.len(), 2);
    prepare(&plan, true).unwrap();
    assert_eq!(std::fs::metadata(data.join("nv1")).unwrap().len(), 1 << 30);

    let (notify, rx) = events();
    let mut opts = LaunchOptions::new(qemu);
    opts.rows = 40;
    opts.cols = 160;
    opts.shutdown_grace = Duration::from_secs(2);
    // Something already in the log stays: it is appended to.
    let log = tmp.path().join("logs/console.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "EARLIER RUN\n").unwrap();
    opts.console_log = Some(log.clone());
    let vm = Vm::launch(&p, &opts, notify).unwrap();
    let pid = vm.pid();

    wait_until(&vm, &rx, BOOT_TIMEOUT, "the guest shell", |vm| {
        vm.console().emulator().all_text().contains("QPMEM-SHELL")
    });
    assert_eq!(vm.status(), VmStatus::Running);

    // What QEMU placed is what qpmem predicted.
    let placement = vm.placement().expect("QMP answered query-memory-devices");
    assert!(placement.matches(), "{placement:#?}");

    // What the guest sees is the predicted map too.
    let report = qpmem::guest::parse_report(&vm.console().emulator().all_text());
    let guest_ranges: Vec<(u64, u64)> = report
        .pmem_ranges
        .iter()
        .filter(|r| r.name == "Persistent Memory")
        .map(|r| (r.start, r.size()))
        .collect();
    let predicted = layout(&p, &HostFacts::default()).unwrap();
    let predicted: Vec<(u64, u64)> = predicted
        .placements()
        .map(|(_, pl)| (pl.addr, pl.size))
        .collect();
    // 1G files, 2M label, align 128M: 896 MiB each, from 4 GiB, back to back.
    assert_eq!(
        predicted,
        [
            (0x1_0000_0000, 896 << 20),
            (0x1_0000_0000 + (896 << 20), 896 << 20)
        ]
    );
    assert_eq!(guest_ranges, predicted, "/proc/iomem in the guest");

    // Type a command through the key encoding and read its answer.
    type_line(&vm, "echo hello-$((6*7))");
    wait_until(&vm, &rx, Duration::from_secs(60), "hello-42", |vm| {
        vm.console()
            .emulator()
            .all_text()
            .lines()
            .any(|l| l.trim() == "hello-42")
    });

    // The console log has what the guest wrote, raw, after what was there.
    let logged = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(logged.starts_with("EARLIER RUN\n"), "{logged}");
    assert!(logged.contains("QPMEM-KERNEL"), "{logged}");
    assert!(logged.contains("hello-42"), "{logged}");
    assert!(vm.console().log_error().is_none());

    vm.pause().unwrap();
    assert_eq!(vm.status(), VmStatus::Paused);
    vm.resume().unwrap();
    assert_eq!(vm.status(), VmStatus::Running);
    assert!(vm.uptime() > Duration::ZERO);

    let status = vm.shutdown(Duration::from_secs(2));
    assert!(status.is_some());
    assert!(matches!(vm.status(), VmStatus::Exited(_)) || status.is_some());
    drop(vm);
    assert!(process_gone(pid), "QEMU {pid} is still there");
}

#[test]
fn qemu_failing_at_once_shows_its_message() {
    let Some(qemu) = qemu_or_skip("qemu_failing_at_once_shows_its_message") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut p = small_profile(tmp.path());
    p.extra_args = vec!["-no-such-option".into()];
    let (notify, rx) = events();
    let vm = Vm::launch(&p, &LaunchOptions::new(qemu), notify).unwrap();
    wait_until(&vm, &rx, Duration::from_secs(30), "QEMU to exit", |vm| {
        matches!(vm.status(), VmStatus::Exited(_))
    });
    let VmStatus::Exited(status) = vm.status() else {
        unreachable!()
    };
    assert!(!status.success());
    let stderr = vm.stderr_lines().join("\n");
    assert!(
        stderr.contains("-no-such-option") && stderr.contains("invalid option"),
        "{stderr}"
    );
    // Nothing to control any more, and saying so is not a panic.
    assert!(matches!(vm.pause(), Err(VmError::Exited)));
}

#[test]
fn a_missing_qemu_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let p = small_profile(tmp.path());
    let (notify, _rx) = events();
    let missing = tmp.path().join("no-qemu-here");
    let err = match Vm::launch(&p, &LaunchOptions::new(missing.clone()), notify) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("launched a missing binary"),
    };
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("No such file"), "{err}");

    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .args(["launch", "--yes", "--qemu"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-qemu-here"), "{stderr}");
}

fn write_profile(dir: &Path, p: &Profile) -> PathBuf {
    let path = dir.join("vm.ron");
    qpmem::store::save_profile(&path, p).unwrap();
    path
}

#[test]
fn a_missing_kernel_stops_the_launch() {
    let Some(qemu) = qemu_or_skip("a_missing_kernel_stops_the_launch") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut p = small_profile(&tmp.path().join("data"));
    p.kernel = Some(tmp.path().join("vmlinuz-gone"));
    let profile = write_profile(tmp.path(), &p);
    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .arg("launch")
        .arg(&profile)
        .arg("--yes")
        .arg("--qemu")
        .arg(&qemu)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kernel") && stderr.contains("vmlinuz-gone"),
        "{stderr}"
    );
    // Refused before anything was created.
    assert!(!tmp.path().join("data").exists());
}

#[test]
fn a_backing_file_in_use_names_the_process() {
    let Some(qemu) = qemu_or_skip("a_backing_file_in_use_names_the_process") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = small_profile(tmp.path());
    let held = tmp.path().join("nv1");
    std::fs::File::create(&held)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    // Another process holds it open for reading.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec sleep 60 3<\"$0\"")
        .arg(&held)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Until the shell has opened the file and become `sleep`.
    while !preflight(&p, &QemuStatus::NotChecked, &[])
        .errors()
        .iter()
        .any(|e| e.contains("(sleep)"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let profile = write_profile(tmp.path(), &p);
    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .arg("launch")
        .arg(&profile)
        .arg("--yes")
        .arg("--qemu")
        .arg(&qemu)
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    // A configuration that would corrupt data: an error (exit 1).
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("open in process {pid} (sleep)")) && stderr.contains("nv1"),
        "{stderr}"
    );
    // The file was left exactly as it was.
    assert_eq!(std::fs::metadata(&held).unwrap().len(), 1 << 30);
    // nv2 was not created either: the launch stopped before any change.
    assert!(!tmp.path().join("nv2").exists());
}

#[test]
fn creating_files_needs_confirmation() {
    let Some(qemu) = qemu_or_skip("creating_files_needs_confirmation") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = small_profile(&tmp.path().join("new-dir"));
    let profile = write_profile(tmp.path(), &p);
    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .arg("launch")
        .arg(&profile)
        .arg("--qemu")
        .arg(&qemu)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(stderr.contains("new-dir/nv1"), "{stderr}");
    assert!(!tmp.path().join("new-dir").exists());

    // With --yes but no terminal to show the console on: refused before
    // anything is created.
    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .arg("launch")
        .arg(&profile)
        .arg("--yes")
        .arg("--qemu")
        .arg(&qemu)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run it in a terminal"), "{stderr}");
    assert!(!tmp.path().join("new-dir").exists(), "files made: {stderr}");
}

#[test]
fn a_missing_qemu_stops_the_launch_before_any_file_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let p = small_profile(&tmp.path().join("new-dir"));
    let profile = write_profile(tmp.path(), &p);
    let missing = tmp.path().join("no-qemu-here");
    let out = Cli::cargo_bin("qpmem")
        .unwrap()
        .arg("launch")
        .arg(&profile)
        .arg("--yes")
        .arg("--qemu")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-qemu-here"), "{stderr}");
    assert!(!tmp.path().join("new-dir").exists(), "files made: {stderr}");
}

/// A running VM with no kernel: the firmware prints nothing on the
/// console and ignores the power button, so QEMU is stopped soon after
/// asking.
fn firmware_only_vm(qemu: PathBuf, dir: &Path) -> Vm {
    let mut p = small_profile(dir);
    p.extra_args = vec!["-nodefaults".into()];
    prepare(&preflight(&p, &QemuStatus::NotChecked, &[]), true).unwrap();
    let (notify, rx) = events();
    let mut opts = LaunchOptions::new(qemu);
    opts.shutdown_grace = Duration::from_millis(500);
    let vm = Vm::launch(&p, &opts, notify).unwrap();
    wait_until(&vm, &rx, Duration::from_secs(30), "QMP", |vm| {
        vm.status() == VmStatus::Running
    });
    vm
}

#[test]
fn dropping_the_vm_stops_qemu() {
    let Some(qemu) = qemu_or_skip("dropping_the_vm_stops_qemu") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let vm = firmware_only_vm(qemu, tmp.path());
    let pid = vm.pid();
    assert!(vm.runtime_dir().join("qmp.sock").exists());
    let runtime = vm.runtime_dir().to_path_buf();
    drop(vm);
    assert!(process_gone(pid), "QEMU {pid} survived its Vm");
    assert!(!runtime.exists(), "runtime dir left behind");
}

/// A launch view the size of [`firmware_only_vm`]'s console (24x80), so
/// that syncing it with the VM resizes nothing.
fn view_for_a_24x80_console() -> LaunchView {
    let view = LaunchView::new("guest", Theme::default_theme(), (82, 28));
    assert_eq!(view.console_size(), (24, 80));
    view
}

#[test]
fn the_mouse_wheel_scrolls_the_console_history() {
    use crossterm::event::{MouseEvent, MouseEventKind};

    let Some(qemu) = qemu_or_skip("the_mouse_wheel_scrolls_the_console_history") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let vm = firmware_only_vm(qemu, tmp.path());
    let mut view = view_for_a_24x80_console();
    let wheel = |kind| {
        ViewEvent::Mouse(MouseEvent {
            kind,
            column: 10,
            row: 5,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Output that scrolls off the screen, as a guest would write it.
    let (rows, _) = vm.console().emulator().size();
    for i in 0..usize::from(rows) + 20 {
        let line = format!("line {i}\r\n");
        vm.console().emulator().feed(line.as_bytes());
    }
    let offset = || vm.console().emulator().scroll_offset();
    feed(&vm, &mut view, wheel(MouseEventKind::ScrollUp));
    assert_eq!(offset(), WHEEL_ROWS as usize);
    feed(&vm, &mut view, wheel(MouseEventKind::ScrollUp));
    assert_eq!(offset(), 2 * WHEEL_ROWS as usize);
    // A click is not a scroll.
    feed(
        &vm,
        &mut view,
        wheel(MouseEventKind::Down(crossterm::event::MouseButton::Left)),
    );
    assert_eq!(offset(), 2 * WHEEL_ROWS as usize);
    for _ in 0..3 {
        feed(&vm, &mut view, wheel(MouseEventKind::ScrollDown));
    }
    assert_eq!(offset(), 0, "the wheel stops at the bottom");
}

/// The launch loop's performer against a real QEMU: the view's keys pause,
/// resume, press the power button and force quit it, and the status line
/// says each once.
#[test]
fn the_launch_view_runs_a_real_vm() {
    let Some(qemu) = qemu_or_skip("the_launch_view_runs_a_real_vm") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let vm = firmware_only_vm(qemu, tmp.path());
    let pid = vm.pid();
    let mut view = view_for_a_24x80_console();
    let mut screen = Terminal::new(TestBackend::new(82, 28)).unwrap();
    let mut status_line = |view: &mut LaunchView| {
        frame(&mut screen, view, &vm).unwrap();
        let buf = screen.backend().buffer();
        (0..buf.area.width)
            .map(|x| buf[(x, buf.area.height - 2)].symbol().to_string())
            .collect::<String>()
    };
    let key = |code| ViewEvent::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let ctrl = |c| ViewEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));

    assert!(status_line(&mut view).starts_with(" running "));
    assert_eq!(feed(&vm, &mut view, ctrl(']')), Flow::Stay);
    assert_eq!(view.focus(), Focus::Commands);
    feed(&vm, &mut view, key(KeyCode::Char('p')));
    assert_eq!(vm.status(), VmStatus::Paused);
    let line = status_line(&mut view);
    assert!(line.starts_with(" paused "), "{line}");
    assert_eq!(line.matches("paused").count(), 1, "said once: {line}");
    feed(&vm, &mut view, key(KeyCode::Char('p')));
    assert_eq!(vm.status(), VmStatus::Running);
    let line = status_line(&mut view);
    assert_eq!(line.matches("running").count(), 1, "said once: {line}");
    feed(&vm, &mut view, key(KeyCode::Char('a')));
    assert!(
        status_line(&mut view).contains("ACPI power button pressed"),
        "{:?}",
        view.message()
    );
    // The firmware ignores the button; q asks, y ends QEMU and leaves.
    assert_eq!(feed(&vm, &mut view, key(KeyCode::Char('q'))), Flow::Stay);
    assert!(view.hints().starts_with("Force quit QEMU"));
    assert_eq!(feed(&vm, &mut view, key(KeyCode::Char('y'))), Flow::Leave);
    assert!(
        process_gone(pid),
        "QEMU {pid} still runs after a force quit"
    );
    // Nothing to pause any more, and saying so is not a panic.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(vm.status(), VmStatus::Exited(_)) {
        assert!(Instant::now() < deadline, "the exit was not noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    feed(&vm, &mut view, key(KeyCode::Char('p')));
    assert_eq!(view.message(), Some("pause failed: QEMU has exited"));
}

#[test]
fn a_console_log_never_overwrites_a_file_the_profile_names() {
    // Refused before anything is checked, created or started: no QEMU needed.
    let tmp = tempfile::tempdir().unwrap();
    let mut p = small_profile(tmp.path());
    let kernel = tmp.path().join("vmlinuz");
    std::fs::write(&kernel, b"not really a kernel").unwrap();
    p.kernel = Some(kernel.clone());
    let file = write_profile(tmp.path(), &p);
    let backing = p.devices[1].backend.path().unwrap().to_path_buf();
    std::fs::create_dir_all(backing.parent().unwrap()).unwrap();
    std::fs::write(&backing, b"guest data").unwrap();
    let link = tmp.path().join("link-to-kernel");
    std::os::unix::fs::symlink(&kernel, &link).unwrap();
    let fifo = tmp.path().join("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();

    for (log, says) in [
        (
            backing.clone(),
            format!("is the backing file of {}", p.devices[1].id),
        ),
        (link, "is the kernel".to_string()),
        (tmp.path().to_path_buf(), "is a directory".to_string()),
        // Would block the console (or, without a reader, the open).
        (fifo.clone(), "is a FIFO, not a regular file".to_string()),
        (
            PathBuf::from("/dev/null"),
            "is a character device, not a regular file".to_string(),
        ),
    ] {
        let out = Cli::cargo_bin("qpmem")
            .unwrap()
            .arg("launch")
            .arg(&file)
            .arg("--yes")
            .arg("--console-log")
            .arg(&log)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&log.display().to_string()), "{err}");
        assert!(err.contains(&says), "{err}");
    }
    assert_eq!(std::fs::read(&backing).unwrap(), b"guest data");
    assert_eq!(std::fs::read(&kernel).unwrap(), b"not really a kernel");
}
