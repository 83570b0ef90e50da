//! `qpmem verify` against two independent judges: real QEMU's placement
//! (`-S` and QMP, via `qemu::probe`) and a real Linux guest (Debian's
//! kernel, software emulation). Covers both machine types, labelled and
//! label-less DIMMs, aligned and misaligned starts, three DIMMs, the
//! scratch-file rule (the profile's own paths never appear), the timeout,
//! Ctrl-C and the CLI's JSON.
//!
//! Needs what tests/guest_boot.rs needs (see tests/common/guest.rs); skips
//! with a message without it unless `QPMEM_REQUIRE_QEMU=1`. Every boot costs
//! seconds, so there are few, and they run one at a time.

mod common;

use assert_cmd::Command as AssertCommand;
use common::guest::{
    guest_setup_or_skip, kernel_cache_dir, one_qemu_at_a_time, qemu_children, GuestSetup,
};
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::{Size, GIB, MIB};
use qpmem::qemu::probe;
use qpmem::verify::{
    verify_with_progress, Stage, Verdict, VerifyError, VerifyOptions, VerifyReport,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: a boot takes seconds, but CI machines can be slow and busy.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

fn base(machine: &str, ram: u64, slots: u32) -> Profile {
    let mut p = Profile::empty("verify-test");
    p.machine = machine.into();
    p.ram = Size(ram);
    p.cpus = 1;
    p.slots = Auto::Fixed(slots);
    p.maxmem = Auto::Fixed(Size(ram + 16 * GIB));
    p
}

/// An NVDIMM backed by `<own>/nv<n>`, a path that must never be created.
fn nv(n: usize, own: &Path, size: u64, label: u64, align: Option<u64>) -> Dimm {
    let mut d = Dimm::nvdimm(n, own.join(format!("nv{n}")), Size(size));
    d.label_size = Size(label);
    d.align = align.map(Size);
    d
}

fn options(setup: &GuestSetup, timeout: Duration) -> VerifyOptions {
    let mut o = VerifyOptions::new(
        setup.qemu.clone(),
        setup.kernel.clone(),
        setup.busybox.clone(),
    );
    o.timeout = timeout;
    o.cache_dir = Some(kernel_cache_dir());
    o
}

/// Verifies `profile` and checks it against QEMU's placement and, where
/// given, hand-computed NVDIMM starts. Returns the report.
fn check(
    setup: &GuestSetup,
    name: &str,
    profile: &Profile,
    own: &Path,
    starts: &[u64],
) -> VerifyReport {
    let predicted = layout(profile, &HostFacts::default()).unwrap();
    let qemu = probe(profile, &setup.qemu, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{name}: probe: {e}"));
    assert_eq!(qemu.len(), predicted.devices.len(), "{name}");
    for d in &predicted.devices {
        let p = d
            .placement()
            .unwrap_or_else(|| panic!("{name}: {} unplaced", d.id));
        let q = qemu
            .iter()
            .find(|q| q.id.as_deref() == Some(d.id.as_str()))
            .unwrap_or_else(|| panic!("{name}: QEMU has no {}", d.id));
        assert_eq!(
            (p.addr, p.size),
            (q.addr, q.size),
            "{name}: {} model vs QEMU",
            d.id
        );
    }

    let mut stages = Vec::new();
    let started = Instant::now();
    let report = verify_with_progress(profile, &options(setup, BOOT_TIMEOUT), |s| stages.push(s))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!(
        "{name}: verified in {:.1} s (guest {:.1} s)",
        started.elapsed().as_secs_f64(),
        report.boot_seconds
    );
    assert_eq!(
        stages,
        [
            Stage::BuildingInitramfs,
            Stage::Booting,
            Stage::WaitingForReport,
            Stage::Done
        ],
        "{name}"
    );
    assert!(report.all_match, "{name}: {report:#?}");
    assert!(report.unexpected.is_empty(), "{name}");
    assert!(report.notes.is_empty(), "{name}: {:?}", report.notes);

    // The guest's view against QEMU's answer, DIMM by DIMM, by id.
    let mut nvdimm_starts = Vec::new();
    for d in &report.dimms {
        let q = qemu
            .iter()
            .find(|q| q.id.as_deref() == Some(d.id.as_str()))
            .unwrap_or_else(|| panic!("{name}: QEMU has no {}", d.id));
        if d.verdict == Verdict::NotChecked {
            continue;
        }
        assert_eq!(d.verdict, Verdict::Match, "{name}: {d:?}");
        assert_eq!(
            (d.guest_addr, d.guest_size),
            (Some(q.addr), Some(q.size)),
            "{name}: {} guest vs QEMU",
            d.id
        );
        let region = d.region.as_deref().unwrap_or("");
        let r = report.guest.regions.iter().find(|r| r.name == region);
        assert_eq!(
            r.map(|r| (r.start, r.size)),
            Some((q.addr, q.size)),
            "{name}: {} region",
            d.id
        );
        nvdimm_starts.push(q.addr);
    }
    if !starts.is_empty() {
        assert_eq!(nvdimm_starts, starts, "{name}: hand-computed starts");
    }
    assert!(
        !own.exists(),
        "{name}: the profile's directory {} was created",
        own.display()
    );
    report
}

#[test]
fn pc_labelled_aligned_three_dimms() {
    const TEST: &str = "pc_labelled_aligned_three_dimms";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    let mut p = base("pc", 512 * MIB, 3);
    p.devices = vec![
        nv(1, &own, 2 * GIB, 2 * MIB, Some(128 * MIB)),
        nv(2, &own, 2 * GIB, 2 * MIB, Some(128 * MIB)),
        nv(3, &own, GIB + 2 * MIB, 2 * MIB, Some(128 * MIB)),
    ];
    // 512M on pc: the region starts at 4 GiB; 2G - 2M aligned down to
    // 128M is 1920M.
    let starts = [
        0x1_0000_0000,
        0x1_0000_0000 + 1920 * MIB,
        0x1_0000_0000 + 3840 * MIB,
    ];
    check(&setup, TEST, &p, &own, &starts);
}

#[test]
fn q35_labelled_misaligned_three_dimms() {
    const TEST: &str = "q35_labelled_misaligned_three_dimms";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    // 3584M on q35: 2 GiB low, 1.5 GiB above 4 GiB, region at 6 GiB.
    let mut p = base("q35", 3584 * MIB, 3);
    p.devices = (1..=3)
        .map(|n| nv(n, &own, 2 * GIB, 2 * MIB, None))
        .collect();
    // Without align each DIMM shows 2G - 2M, so the second starts 2 MiB
    // short of a 128 MiB boundary and the third 4 MiB short.
    let starts = [
        0x1_8000_0000,
        0x1_8000_0000 + 2 * GIB - 2 * MIB,
        0x1_8000_0000 + 4 * GIB - 4 * MIB,
    ];
    assert_ne!(starts[1] % (128 * MIB), 0);
    check(&setup, TEST, &p, &own, &starts);
}

#[test]
fn pc_label_less_with_a_pc_dimm() {
    const TEST: &str = "pc_label_less_with_a_pc_dimm";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    // 3584M on pc: 3 GiB low, 512M above 4 GiB, region at 5 GiB.
    let mut p = base("pc", 3584 * MIB, 3);
    p.devices = vec![
        Dimm::pc_dimm(1, Size::mib(256)),
        nv(2, &own, GIB + 4 * MIB, 0, None),
        nv(3, &own, GIB, 0, Some(128 * MIB)),
    ];
    // The pc-dimm takes 256M; the label-less DIMM shows all of its
    // 1G + 4M; the next goes up to the following 128 MiB boundary.
    let first = 0x1_4000_0000 + 256 * MIB;
    let starts = [first, first + GIB + 128 * MIB];
    let report = check(&setup, TEST, &p, &own, &starts);
    assert_eq!(report.dimms[0].verdict, Verdict::NotChecked);
}

#[test]
fn virtio_pmem_after_an_nvdimm() {
    const TEST: &str = "virtio_pmem_after_an_nvdimm";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    // The built-in example's shape, with a virtio-pmem device first too:
    // a virtio-pmem 512M, an NVDIMM 1G + 2M label (align 128M), a
    // virtio-pmem 1G. 512M of RAM on pc: the region starts at 4 GiB.
    let mut p = base("pc", 512 * MIB, 1);
    p.devices = vec![
        Dimm::virtio_pmem(1, own.join("vpmem1"), Size::mib(512)),
        nv(2, &own, GIB + 2 * MIB, 2 * MIB, Some(128 * MIB)),
        Dimm::virtio_pmem(3, own.join("vpmem3"), Size::gib(1)),
    ];
    let starts = [0x1_0000_0000, 0x1_2000_0000, 0x1_6000_0000];
    let report = check(&setup, TEST, &p, &own, &starts);
    assert_eq!(
        report.dimms[0].kind,
        qpmem::core::profile::DimmKind::VirtioPmem
    );
}

#[test]
fn timeout_kills_qemu() {
    const TEST: &str = "timeout_kills_qemu";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    let mut p = base("pc", 512 * MIB, 1);
    p.devices = vec![nv(1, &own, 2 * GIB, 2 * MIB, Some(128 * MIB))];
    let started = Instant::now();
    // A Debian kernel needs seconds under TCG; one is never enough.
    let err = qpmem::verify::verify(&p, &options(&setup, Duration::from_secs(1))).unwrap_err();
    assert!(
        matches!(err, VerifyError::Timeout { seconds: 1, .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(qemu_children(std::process::id()), Vec::<u32>::new());
    assert!(!own.exists());
}

#[test]
fn a_configuration_qemu_refuses_is_reported_verbatim() {
    const TEST: &str = "a_configuration_qemu_refuses_is_reported_verbatim";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    let mut p = base("pc", 512 * MIB, 1);
    // Below QEMU's 128 KiB minimum label area.
    p.devices = vec![nv(1, &own, 2 * GIB, 64 * 1024, None)];
    let err = qpmem::verify::verify(&p, &options(&setup, BOOT_TIMEOUT)).unwrap_err();
    let VerifyError::Refused { stderr, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert!(stderr.contains("label-size"), "{stderr}");
    assert_eq!(qemu_children(std::process::id()), Vec::<u32>::new());
    assert!(!own.exists());
}

/// The CLI's environment: the test kernel named explicitly (a host kernel
/// in /boot must not be picked up), the PVH cache beside it.
fn cli(setup: &GuestSetup) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("qpmem"));
    c.arg("verify")
        .arg("--kernel")
        .arg(&setup.kernel.vmlinuz)
        .arg("--busybox")
        .arg(&setup.busybox)
        .arg("--qemu")
        .arg(&setup.qemu)
        .env("XDG_CACHE_HOME", kernel_cache_dir().join("xdg-cache"));
    if let Some(m) = &setup.kernel.modules_dir {
        c.arg("--modules").arg(m);
    }
    c
}

/// [`cli`] with its scratch under `tmpdir`.
fn cli_in(setup: &GuestSetup, tmpdir: &Path) -> Command {
    let mut c = cli(setup);
    c.env("TMPDIR", tmpdir);
    c
}

/// The run directories under `tmpdir`'s per-user parent.
fn run_dirs(tmpdir: &Path) -> Vec<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    match std::fs::read_dir(tmpdir.join(format!("qpmem-{uid}"))) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn write_profile(dir: &Path, own: &Path) -> PathBuf {
    let mut p = base("pc", 512 * MIB, 2);
    p.devices = vec![
        nv(1, own, 2 * GIB, 2 * MIB, Some(128 * MIB)),
        nv(2, own, 2 * GIB, 2 * MIB, Some(128 * MIB)),
    ];
    let path = dir.join("two.ron");
    qpmem::store::save_profile(&path, &p).unwrap();
    path
}

#[test]
fn cli_json_for_two_dimms() {
    const TEST: &str = "cli_json_for_two_dimms";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    let profile = write_profile(tmp.path(), &own);
    let out = AssertCommand::from_std(cli(&setup))
        .arg(&profile)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["match"], true, "{json:#}");
    let dimms = json["dimms"].as_array().unwrap();
    let got: Vec<_> = dimms
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["addr"].as_u64().unwrap(),
                d["size"].as_u64().unwrap(),
                d["guest_addr"].as_u64().unwrap(),
                d["guest_size"].as_u64().unwrap(),
            )
        })
        .collect();
    let (a, b, s) = (0x1_0000_0000, 0x1_7800_0000, 1920 * MIB);
    assert_eq!(
        got,
        [
            ("nv1".to_string(), a, s, a, s),
            ("nv2".to_string(), b, s, b, s)
        ]
    );
    assert!(json["kernel_warnings"].is_array(), "{json:#}");
    assert!(!own.exists(), "the profile's backing files were created");
}

/// The QEMU that process `pid` started, once it runs (panics after 60 s).
fn wait_for_qemu_child(pid: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = qemu_children(pid);
        if !q.is_empty() {
            assert_eq!(q.len(), 1, "more than one QEMU: {q:?}");
            return q;
        }
        assert!(Instant::now() < deadline, "QEMU never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cli_timeout_and_ctrl_c_leave_no_qemu() {
    const TEST: &str = "cli_timeout_and_ctrl_c_leave_no_qemu";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    let profile = write_profile(tmp.path(), &own);

    // --timeout 1: exit 2, with a message that says so.
    let out = AssertCommand::from_std(cli_in(&setup, tmp.path()))
        .arg(&profile)
        .args(["--timeout", "1"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("within 1 s") && stderr.contains("killed"),
        "{stderr}"
    );

    // Ctrl-C (SIGINT to qpmem alone) and SIGHUP (a closed terminal): QEMU
    // is killed, qpmem exits 2, and the 2x2 GiB scratch files are gone
    // with their run directory.
    for signal in ["INT", "HUP"] {
        let child = cli_in(&setup, tmp.path())
            .arg(&profile)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let qemus = wait_for_qemu_child(pid);
        assert_eq!(
            run_dirs(tmp.path()).len(),
            1,
            "SIG{signal}: one run directory"
        );
        let kill = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "SIG{signal}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
        assert!(
            !Path::new(&format!("/proc/{}", qemus[0])).exists(),
            "SIG{signal}: QEMU {} outlived qpmem",
            qemus[0]
        );
        assert!(!own.exists());
        assert!(run_dirs(tmp.path()).is_empty(), "SIG{signal} left scratch");
    }

    // SIGKILL: qpmem runs no code at all, yet its QEMU must not outlive it.
    // (This is the user-visible property, not a test of the mechanism: the
    // guest's console pipe breaking may stop QEMU first. The parent-death
    // signal itself is tested in qemu::tests.)
    let mut child = cli_in(&setup, tmp.path())
        .arg(&profile)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let qemus = wait_for_qemu_child(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{}/stat", qemus[0])).exists() && Instant::now() < gone {
        // A zombie reaped by init still has /proc/PID briefly: look at its state.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", qemus[0])).unwrap_or_default();
        if stat.contains(") Z ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", qemus[0])).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "QEMU {} outlived a killed qpmem: {stat}",
        qemus[0]
    );
    // SIGKILL leaves the run directory; the next run removes it.
    assert_eq!(run_dirs(tmp.path()).len(), 1, "the killed run's directory");
    cli_in(&setup, tmp.path())
        .arg(&profile)
        .args(["--timeout", "1"])
        .output()
        .unwrap();
    assert!(run_dirs(tmp.path()).is_empty(), "stale run directory kept");
}

#[test]
fn missing_kernel_and_busybox_are_named_with_their_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = AssertCommand::cargo_bin("qpmem")
        .unwrap()
        .args(["verify", "--qemu", "/bin/true", "--kernel"])
        .arg(tmp.path().join("vmlinuz-1.2.3"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vmlinuz-1.2.3") && stderr.contains("linux-image-amd64"),
        "{stderr}"
    );

    let kernel = tmp.path().join("vmlinuz-1.2.3");
    std::fs::write(&kernel, b"not a kernel").unwrap();
    let out = AssertCommand::cargo_bin("qpmem")
        .unwrap()
        .args(["verify", "--qemu", "/bin/true", "--kernel"])
        .arg(&kernel)
        .arg("--busybox")
        .arg(tmp.path().join("busybox"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("busybox-static"), "{stderr}");
}

/// `scripts/install-deps --test` unpacks the kernel into `target/guest-kernel`;
/// `qpmem verify` run from the checkout finds it there with no variable set.
#[test]
fn verify_finds_the_kernel_install_deps_fetched() {
    let Some(setup) = guest_setup_or_skip("verify_finds_the_kernel_install_deps_fetched") else {
        return;
    };
    let _one = one_qemu_at_a_time();
    let kernel_dir = std::env::var_os("QPMEM_GUEST_KERNEL_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(kernel_cache_dir);
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir(checkout.path().join("target")).unwrap();
    std::os::unix::fs::symlink(
        std::fs::canonicalize(&kernel_dir).unwrap(),
        checkout.path().join("target/guest-kernel"),
    )
    .unwrap();
    let out = AssertCommand::cargo_bin("qpmem")
        .unwrap()
        .current_dir(checkout.path())
        .env_remove("QPMEM_GUEST_KERNEL_DIR")
        .env_remove("CARGO_TARGET_DIR")
        .env("XDG_CACHE_HOME", checkout.path().join("cache"))
        .env("XDG_DATA_HOME", checkout.path().join("data"))
        .args(["verify", "small", "--json", "--qemu"])
        .arg(&setup.qemu)
        .arg("--busybox")
        .arg(&setup.busybox)
        .timeout(BOOT_TIMEOUT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["match"], true, "{v}");
}
