//! CXL in a real Linux guest (Debian's 6.1 kernel, busybox initramfs,
//! QEMU under TCG): the built-in `cxl` example (one window) and
//! `cxl-run-qemu` (two windows, one interleaved over two host bridges).
//! The kernel's root decoders (`/sys/bus/cxl/devices/decoder0.N`
//! start/size) must be the windows qpmem predicts, every type-3 device
//! must show up as a memdev with its 256 MiB of pmem, below the PCI root
//! bus of its host bridge's bus_nr (what the guest recipe relies on).
//!
//! Skips when QEMU, busybox or the kernel is missing, unless
//! `QPMEM_REQUIRE_QEMU=1`.

mod common;

use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::profile::Backend;
use qpmem::guest::{build_initramfs, InitMode, InitramfsSpec};
use std::process::{Command, Stdio};

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
dmesg -n 1
while read -r m; do
  insmod "/lib/modules/$m.ko" || echo "CXLT-MODULE-FAILED $m"
done < /etc/qpmem/modules
n=0
while [ $n -lt 50 ] && ! ls /sys/bus/cxl/devices/ | grep -q '^mem'; do sleep 0.2; n=$((n+1)); done
sleep 1
for d in /sys/bus/cxl/devices/decoder0.*; do
  echo "CXLT-DECODER ${d##*/} $(cat $d/start) $(cat $d/size)"
done
for m in /sys/bus/cxl/devices/mem*; do
  echo "CXLT-MEM ${m##*/} $(cat $m/pmem/size) $(readlink -f $m)"
done
echo CXLT-END
poweroff -f
"#;

fn boot(example: &str) {
    let Some(setup) = common::guest::guest_setup_or_skip(example) else {
        return;
    };
    let _one = common::guest::one_qemu_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut p = qpmem::core::examples::find(example)
        .unwrap()
        .load(dir.path())
        .unwrap();
    std::fs::create_dir_all(dir.path().join("cxl")).unwrap();
    // Scratch backing files in the temporary directory, made sparse.
    for m in p.cxl.as_mut().unwrap().memories_mut() {
        if let Backend::File(path) = &m.backend {
            std::fs::File::create(path)
                .unwrap()
                .set_len(m.size.0)
                .unwrap();
        }
    }
    p.cpus = 1;
    let mut spec = InitramfsSpec::new(
        setup.busybox.clone(),
        setup.kernel.modules_dir.clone(),
        InitMode::Report,
    );
    spec.modules = ["libnvdimm", "cxl_acpi", "cxl_pci", "cxl_mem", "cxl_pmem"]
        .iter()
        .map(|m| m.to_string())
        .collect();
    spec.init = INIT.to_string();
    let initrd = dir.path().join("initrd.cpio");
    std::fs::write(&initrd, build_initramfs(&spec).unwrap()).unwrap();
    let version = qpmem::qemu::discover::cached_version(&setup.qemu).ok();
    let argv = qpmem::core::cmdline::render_argv_for(&p, version);
    let out = Command::new(&setup.qemu)
        .args(&argv[1..])
        .args(
            setup
                .kernel
                .qemu_args(&initrd, "console=ttyS0 quiet panic=-1"),
        )
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(
        console.contains("CXLT-END"),
        "{example}: the guest did not finish: {}\n{console}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!console.contains("CXLT-MODULE-FAILED"), "{console}");

    let predicted = layout(&p, &HostFacts::default()).unwrap();
    let windows = &predicted.cxl.as_ref().unwrap().windows;
    let mut decoders: Vec<(u64, u64)> = console
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CXLT-DECODER "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (hex(f[1]), hex(f[2]))
        })
        .collect();
    decoders.sort_unstable();
    let want: Vec<(u64, u64)> = windows.iter().map(|w| (w.base, w.size)).collect();
    assert_eq!(decoders, want, "{example}: root decoders\n{console}");

    let mems: Vec<&str> = console
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CXLT-MEM "))
        .collect();
    let devices = p.cxl.as_ref().unwrap().devices();
    assert_eq!(mems.len(), devices.len(), "{example}: memdevs\n{console}");
    for (d, at) in devices {
        let bus = format!("/pci0000:{:02x}/", at.host_bridge.bus_nr);
        let size = d.persistent.as_ref().unwrap().size.0;
        let found = mems.iter().any(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            f.len() == 3
                && u64::from_str_radix(f[1].trim_start_matches("0x"), 16) == Ok(size)
                && f[2].contains(&bus)
        });
        assert!(
            found,
            "{example}: no memdev of {size:#x} below {bus} for {}\n{console}",
            d.id
        );
    }
}

#[test]
fn the_single_device_example_in_a_guest() {
    boot("cxl");
}

#[test]
fn the_two_window_run_qemu_example_in_a_guest() {
    boot("cxl-run-qemu");
}
