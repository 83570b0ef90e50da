//! One answer to "which QEMU runs": with `$QPMEM_QEMU` pointing at a
//! wrapper script, `check`, `probe` and `verify` all run the wrapper (it
//! logs every call and then runs the real QEMU) and `check` shows the
//! version the wrapper reports, not the one of the QEMU on `PATH`. (The
//! TUI's side is in tests/tui_tmux.rs.)

mod common;

use assert_cmd::Command;
use std::path::Path;

/// The version the wrapper claims; the real QEMU is 7.2.x.
const WRAPPED: &str = "7.2.77";

fn calls(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

fn qpmem(home: &Path, wrapper: &Path) -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    c.env("QPMEM_QEMU", wrapper)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    c
}

#[test]
fn check_and_probe_run_qpmem_qemu_and_show_its_version() {
    let Some(real) = common::qemu_or_skip("check_and_probe_run_qpmem_qemu") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (script, log) = common::qemu_wrapper(tmp.path(), &real, WRAPPED);

    let out = qpmem(tmp.path(), &script).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("QEMU {WRAPPED}")) && text.contains("QPMEM_QEMU"),
        "check does not show the wrapper's version:\n{text}"
    );
    assert!(calls(&log).contains("--version"), "{}", calls(&log));

    let out = qpmem(tmp.path(), &script)
        .args(["probe", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        calls(&log).lines().any(|l| l.contains(" -S ")),
        "probe did not run the wrapper: {}",
        calls(&log)
    );
}

#[test]
fn verify_runs_qpmem_qemu() {
    const TEST: &str = "verify_runs_qpmem_qemu";
    let Some(setup) = common::guest::guest_setup_or_skip(TEST) else {
        return;
    };
    let _one = common::guest::one_qemu_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, log) = common::qemu_wrapper(tmp.path(), &setup.qemu, WRAPPED);
    let mut c = qpmem(tmp.path(), &script);
    c.arg("verify")
        .arg("--kernel")
        .arg(&setup.kernel.vmlinuz)
        .arg("--busybox")
        .arg(&setup.busybox)
        .env(
            "XDG_CACHE_HOME",
            common::guest::kernel_cache_dir().join("xdg-cache"),
        );
    if let Some(m) = &setup.kernel.modules_dir {
        c.arg("--modules").arg(m);
    }
    let out = c.output().unwrap();
    assert!(
        calls(&log).lines().any(|l| l.contains("-kernel")),
        "verify did not boot through the wrapper (exit {:?}): {}\n{}",
        out.status.code(),
        calls(&log),
        String::from_utf8_lossy(&out.stderr)
    );
}
