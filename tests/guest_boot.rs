//! Boots a real Debian kernel with a busybox initramfs under QEMU (software
//! emulation) with two NVDIMMs, and checks what the guest sees against the
//! placement rules in shared/DOMAIN.md.
//!
//! Needs qemu-system-x86_64 (package qemu-system-x86), a static busybox
//! (busybox-static) and a Debian kernel: `$QPMEM_GUEST_KERNEL_DIR`, or
//! `<target dir>/guest-kernel`, fetched there by
//! `scripts/fetch-guest-kernel.sh` when absent. Without one of them the tests
//! are skipped with a message, unless `QPMEM_REQUIRE_QEMU=1`, when they fail.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::guest::{guest_setup_or_skip, kernel_cache_dir, one_qemu_at_a_time, GuestSetup};
use qpmem::guest::{
    write_initramfs, GuestKernel, GuestVm, InitMode, InitramfsSpec, DEFAULT_APPEND,
};

/// Generous: a boot takes seconds, but CI machines can be slow and busy.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// The NVDIMMs booted here: backend size, label-size, align.
const DIMM_SIZE: u64 = 2 * GIB;
const LABEL_SIZE: u64 = 2 * MIB;
const ALIGN: u64 = 128 * MIB;
/// `-m 512M` on `pc`: all RAM is below 4 GiB, so the device memory region
/// starts at 4 GiB.
const DEVICE_MEMORY_BASE: u64 = 4 * GIB;

fn align_down(x: u64, a: u64) -> u64 {
    x / a * a
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// The guest-visible size of each DIMM: ALIGN_DOWN(size - label, align).
fn visible_size() -> u64 {
    align_down(DIMM_SIZE - LABEL_SIZE, ALIGN)
}

/// Where QEMU's first fit puts the two DIMMs.
fn expected_starts() -> [u64; 2] {
    let first = align_up(DEVICE_MEMORY_BASE, ALIGN);
    let second = align_up(first + visible_size(), ALIGN);
    [first, second]
}

/// The full QEMU command line: two NVDIMMs on files in `scratch`.
fn qemu_command(
    setup: &GuestSetup,
    kernel: &GuestKernel,
    scratch: &Path,
    initrd: &Path,
) -> Command {
    let mut cmd = Command::new(&setup.qemu);
    cmd.args([
        "-machine",
        "pc,nvdimm=on",
        "-m",
        "512M,slots=2,maxmem=40G",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
    ]);
    for i in 1..=2 {
        let path = scratch.join(format!("nv{i}"));
        let path = path.to_str().expect("temp path is UTF-8");
        assert!(!path.contains(','), "a comma would need doubling: {path}");
        cmd.arg("-object").arg(format!(
            "memory-backend-file,id=mem{i},share=on,mem-path={path},size={DIMM_SIZE},align={ALIGN}"
        ));
        cmd.arg("-device").arg(format!(
            "nvdimm,memdev=mem{i},id=nv{i},label-size={LABEL_SIZE}"
        ));
    }
    cmd.args(kernel.qemu_args(initrd, DEFAULT_APPEND));
    cmd
}

/// Builds the initramfs for `mode` in `scratch` and returns the QEMU command.
fn prepare(setup: &GuestSetup, kernel: &GuestKernel, scratch: &Path, mode: InitMode) -> Command {
    let initrd = scratch.join("initrd.cpio");
    let spec = InitramfsSpec::new(setup.busybox.clone(), kernel.modules_dir.clone(), mode);
    write_initramfs(&spec, &initrd).unwrap_or_else(|e| panic!("initramfs: {e}"));
    eprintln!("booting {}", kernel.vmlinuz.display());
    qemu_command(setup, kernel, scratch, &initrd)
}

#[test]
fn guest_sees_two_nvdimms_where_qemu_places_them() {
    const TEST: &str = "guest_sees_two_nvdimms_where_qemu_places_them";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one_at_a_time = one_qemu_at_a_time();
    let scratch = tempfile::tempdir().expect("temp dir");
    // The fast path: the ELF kernel booted through PVH.
    let kernel = setup
        .kernel
        .clone()
        .with_pvh_image(&kernel_cache_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let cmd = prepare(&setup, &kernel, scratch.path(), InitMode::Report);

    let vm = GuestVm::spawn(cmd).unwrap_or_else(|e| panic!("{e}"));
    let run = vm.wait(BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let report = &run.report;
    eprintln!(
        "guest boot: {:.2} s from QEMU start to power off (kernel {})",
        run.elapsed.as_secs_f64(),
        report.kernel_release.as_deref().unwrap_or("?")
    );
    eprintln!("{report:#?}");

    assert!(
        report.complete,
        "no QPMEM-END. stderr:\n{}\nconsole:\n{}",
        run.stderr, run.console
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for m in &report.modules {
        assert!(m.loaded, "insmod {} failed: {}", m.name, m.detail);
    }

    let [first, second] = expected_starts();
    let size = visible_size();
    assert_eq!(
        (first, second, size),
        (0x1_0000_0000, 0x1_7800_0000, 0x7800_0000)
    );
    let pmem: Vec<(u64, u64)> = report
        .pmem_ranges
        .iter()
        .filter(|r| r.name == "Persistent Memory")
        .map(|r| (r.start, r.size()))
        .collect();
    assert_eq!(pmem, [(first, size), (second, size)], "/proc/iomem");

    let mut regions: Vec<(u64, u64)> = report.regions.iter().map(|r| (r.start, r.size)).collect();
    regions.sort();
    assert_eq!(regions, [(first, size), (second, size)], "nd regions");
    for region in &report.regions {
        assert!(
            report.namespaces.iter().any(|n| n.region == region.name),
            "{} has no namespace",
            region.name
        );
    }
}

#[test]
fn interactive_guest_runs_typed_commands() {
    const TEST: &str = "interactive_guest_runs_typed_commands";
    let Some(setup) = guest_setup_or_skip(TEST) else {
        return;
    };
    let _one_at_a_time = one_qemu_at_a_time();
    let scratch = tempfile::tempdir().expect("temp dir");
    // The plain bzImage, so both ways of booting are covered.
    let cmd = prepare(
        &setup,
        &setup.kernel,
        scratch.path(),
        InitMode::ReportThenShell,
    );

    let mut vm = GuestVm::spawn(cmd).unwrap_or_else(|e| panic!("{e}"));
    vm.wait_for("QPMEM-SHELL", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("shell after {:.2} s", vm.elapsed().as_secs_f64());
    let report = vm.report();
    assert!(report.complete && report.shell_started);
    assert_eq!(report.pmem_ranges.len(), 2);

    vm.send("echo QPMEM-TYPED $((6 * 7)) $(ls /dev | grep -c '^pmem')\n")
        .unwrap_or_else(|e| panic!("{e}"));
    vm.wait_for("QPMEM-TYPED 42 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    vm.send("poweroff -f\n").unwrap_or_else(|e| panic!("{e}"));
    let run = vm
        .wait(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "interactive guest: {:.2} s in all",
        run.elapsed.as_secs_f64()
    );
    // What was typed after the report does not change it.
    assert_eq!(run.report, report);
}
