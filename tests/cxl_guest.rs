//! CXL in a real Linux guest (Debian's 6.1 kernel, busybox initramfs,
//! QEMU under TCG) through `qpmem verify`: the built-in `cxl` example (one
//! window) and `cxl-run-qemu` (two windows, one interleaved over two host
//! bridges, four type-3 devices behind switches). The kernel's root
//! decoders (`/sys/bus/cxl/devices/decoder0.N` start/size) must be the
//! windows `qpmem map --json` predicts, and every type-3 device must show
//! up as a memdev with its 256 MiB of pmem below the PCI root bus of its
//! host bridge's bus_nr (what the guest recipe relies on).
//!
//! Skips when QEMU, busybox or the kernel is missing, unless
//! `QPMEM_REQUIRE_QEMU=1`.

mod common;

use assert_cmd::Command;
use serde_json::Value;

fn qpmem(home: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    c.env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    c
}

fn boot(example: &str, windows: usize, devices: usize) {
    let Some(setup) = common::guest::guest_setup_or_skip(example) else {
        return;
    };
    let _one = common::guest::one_qemu_at_a_time();
    let home = tempfile::tempdir().unwrap();
    let map = qpmem(home.path())
        .args(["map", example, "--json"])
        .output()
        .unwrap();
    assert!(
        map.status.success(),
        "{}",
        String::from_utf8_lossy(&map.stderr)
    );
    let map: Value = serde_json::from_slice(&map.stdout).unwrap();
    let predicted: Vec<(u64, u64)> = map["cxl_windows"]
        .as_array()
        .expect("cxl_windows in map --json")
        .iter()
        .map(|w| (w["base"].as_u64().unwrap(), w["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(predicted.len(), windows, "{example}: {map}");

    let out = qpmem(home.path())
        .args(["verify", example, "--json"])
        .arg("--qemu")
        .arg(&setup.qemu)
        .arg("--kernel")
        .arg(&setup.kernel.vmlinuz)
        .arg("--modules")
        .arg(setup.kernel.modules_dir.as_ref().unwrap())
        .arg("--busybox")
        .arg(&setup.busybox)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{example}: verify --json: {e}\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let cxl = &r["cxl"];
    // The guest's root decoders, as the kernel read them from the CEDT.
    let seen: Vec<(u64, u64)> = cxl["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["guest_base"].as_u64().unwrap_or(0),
                w["guest_size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(seen, predicted, "{example}: root decoders\n{text}");
    assert_eq!(cxl["unexpected"], Value::Array(vec![]), "{text}");
    let mems = cxl["memdevs"].as_array().unwrap();
    assert_eq!(mems.len(), devices, "{text}");
    for m in mems {
        assert_eq!(m["pmem_size"], 256 << 20, "{text}");
        assert!(
            m["memdev"].as_str().is_some_and(|n| n.starts_with("mem")),
            "{text}"
        );
        assert_eq!(m["verdict"], "match", "{text}");
    }
    assert_eq!(r["match"], true, "{text}");
    assert!(out.status.success(), "{text}");
}

#[test]
fn the_single_device_example_in_a_guest() {
    boot("cxl", 1, 1);
}

#[test]
fn the_two_window_run_qemu_example_in_a_guest() {
    boot("cxl-run-qemu", 2, 4);
}
