//! What the tests that boot a real Linux guest share: finding QEMU, a static
//! busybox and Debian's kernel (`$QPMEM_GUEST_KERNEL_DIR`, else
//! `<target dir>/guest-kernel`, fetched there once by
//! `scripts/fetch-guest-kernel.sh`), skipping with a message when one is
//! missing unless `QPMEM_REQUIRE_QEMU=1`, and looking for left-over QEMUs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use qpmem::guest::{debian_kernel_cache, find_busybox, GuestKernel, KERNEL_DIR_ENV};

const QEMU: &str = "qemu-system-x86_64";

/// One QEMU at a time within a test binary: the machine has two cores,
/// and tests look for QEMU processes they started.
static QEMU_LOCK: Mutex<()> = Mutex::new(());

pub fn one_qemu_at_a_time() -> MutexGuard<'static, ()> {
    QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct GuestSetup {
    pub qemu: PathBuf,
    pub busybox: PathBuf,
    pub kernel: GuestKernel,
}

/// Finds QEMU, busybox and the kernel, or says which is missing. Returns
/// `None` (after printing why) when the test should be skipped; panics
/// instead when `QPMEM_REQUIRE_QEMU=1`.
pub fn guest_setup_or_skip(test: &str) -> Option<GuestSetup> {
    match try_setup() {
        Ok(s) => Some(s),
        Err(reason) => {
            if std::env::var("QPMEM_REQUIRE_QEMU").is_ok_and(|v| v == "1") {
                panic!("{test}: QPMEM_REQUIRE_QEMU=1 but the guest cannot boot: {reason}");
            }
            eprintln!("{test}: SKIPPED: {reason} (set QPMEM_REQUIRE_QEMU=1 to make this fail)");
            None
        }
    }
}

fn try_setup() -> Result<GuestSetup, String> {
    let qemu = which::which(QEMU)
        .map_err(|_| format!("{QEMU} not found in PATH: install the qemu-system-x86 package"))?;
    let busybox = find_busybox().map_err(|e| e.to_string())?;
    let kernel = guest_kernel()?;
    Ok(GuestSetup {
        qemu,
        busybox,
        kernel,
    })
}

/// `<target dir>/guest-kernel`: CARGO_TARGET_TMPDIR is `<target dir>/tmp`,
/// whatever CARGO_TARGET_DIR says. Also where the tests cache the
/// uncompressed (PVH) kernel.
pub fn kernel_cache_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("guest-kernel")
}

/// `$QPMEM_GUEST_KERNEL_DIR`, else [`kernel_cache_dir`], fetching it once.
fn guest_kernel() -> Result<GuestKernel, String> {
    if std::env::var_os(KERNEL_DIR_ENV).is_some_and(|v| !v.is_empty()) {
        return debian_kernel_cache(None).map_err(|e| e.to_string());
    }
    let dir = kernel_cache_dir();
    if let Ok(k) = debian_kernel_cache(Some(&dir)) {
        return Ok(k);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-guest-kernel.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} {} failed ({status})",
            script.display(),
            dir.display()
        ));
    }
    debian_kernel_cache(Some(&dir)).map_err(|e| e.to_string())
}

/// Processes whose parent is `parent` and whose name contains "qemu",
/// zombies included (a child that was killed but never reaped counts).
pub fn qemu_children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces and parens.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let comm = &stat[open + 1..close];
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok());
            comm.contains("qemu") && ppid == Some(parent)
        })
        .collect()
}
