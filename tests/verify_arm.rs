//! One real arm64 guest: Debian's arm64 kernel and busybox-static:arm64
//! (`scripts/fetch-guest-kernel.sh DIR arm64`, fetched once into
//! `<target dir>/guest-kernel-arm64`) booted under TCG on `virt` with UEFI
//! and two NVDIMMs through `verify`. The guest's "Persistent Memory"
//! ranges must be where the measurement on QEMU 7.2 puts them and
//! where qpmem predicts. One boot only: it takes tens of seconds under
//! TCG (see BENCHMARKS.md). Skips when something is missing, unless
//! `QPMEM_REQUIRE_QEMU=1`.

mod common;

use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::{Size, MIB};
use qpmem::guest::debian_kernel_cache;
use qpmem::verify::{find_busybox_for, verify, Verdict, VerifyOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `<target dir>/guest-kernel-arm64`, fetched there once.
fn arm_kernel_dir() -> Result<PathBuf, String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("guest-kernel-arm64");
    if dir.join("bin/busybox").is_file() && debian_kernel_cache(Some(&dir)).is_ok() {
        return Ok(dir);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-guest-kernel.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg("arm64")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} {} arm64 failed",
            script.display(),
            dir.display()
        ));
    }
    Ok(dir)
}

#[test]
fn arm64_guest_sees_its_nvdimms_where_predicted() {
    let test = "arm64_guest_sees_its_nvdimms_where_predicted";
    let Some(qemu) = common::aarch64_qemu_or_skip(test) else {
        return;
    };
    let Some(firmware) = common::aarch64_firmware_or_skip(test) else {
        return;
    };
    let dir = match arm_kernel_dir() {
        Ok(d) => d,
        Err(e) if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") => {
            panic!("{test}: QPMEM_REQUIRE_QEMU=1 but no arm64 kernel: {e}")
        }
        Err(e) => {
            eprintln!("{test}: SKIPPED: {e}");
            return;
        }
    };
    let kernel = debian_kernel_cache(Some(&dir)).unwrap();
    let busybox = find_busybox_for(qpmem::core::arch::Arch::Aarch64, &kernel).unwrap();

    let own = tempfile::tempdir().unwrap();
    let mut p = Profile::empty("arm64-verify");
    p.make_aarch64();
    // -cpu max with QEMU's cheap pointer authentication: the same CPU to
    // the rules (52 address bits), three times faster under TCG.
    p.extra_args = vec![
        "-cpu".into(),
        "max,pauth-impdef=on".into(),
        "-bios".into(),
        firmware.display().to_string(),
    ];
    p.ram = Size::gib(1);
    p.cpus = 1;
    p.slots = Auto::Fixed(4);
    p.maxmem = Auto::Fixed(Size::gib(8));
    // The measurement: nv1 (1G, label 128K) at 0x80000000 showing
    // 0x3ffe0000; nv2 with align=128M moves up to the next 128 MiB, 0xc0000000.
    let mut nv1 = Dimm::nvdimm(1, own.path().join("nv1"), Size::gib(1));
    nv1.label_size = Size(128 * 1024);
    nv1.align = None;
    let mut nv2 = Dimm::nvdimm(2, own.path().join("nv2"), Size::mib(512));
    nv2.label_size = Size(0);
    nv2.align = Some(Size::mib(128));
    p.devices = vec![nv1, nv2];

    let mut options = VerifyOptions::new(qemu, kernel, busybox);
    options.timeout = Duration::from_secs(600);
    let report = verify(&p, &options).unwrap_or_else(|e| panic!("{test}: {e}"));
    eprintln!(
        "{test}: guest kernel {:?} booted and reported in {:.1} s",
        report.kernel_release, report.boot_seconds
    );
    let seen: Vec<(Option<u64>, Option<u64>)> = report
        .dimms
        .iter()
        .map(|d| (d.guest_addr, d.guest_size))
        .collect();
    assert_eq!(
        seen,
        [
            (Some(0x8000_0000), Some(0x3ffe_0000)),
            (Some(0xc000_0000), Some(512 * MIB)),
        ],
        "{report:#?}"
    );
    assert!(
        report.dimms.iter().all(|d| d.verdict == Verdict::Match),
        "{report:#?}"
    );
    assert!(report.unexpected.is_empty(), "{report:#?}");
    assert!(report.all_match);
    assert!(
        report
            .kernel_release
            .as_deref()
            .is_some_and(|r| r.ends_with("arm64")),
        "{:?}",
        report.kernel_release
    );
    // The profile's own backing files were never created.
    assert!(!own.path().join("nv1").exists() && !own.path().join("nv2").exists());
}
