//! A real libvirtd for the tests that run domains through libvirt.
//!
//! In a container there is no systemd: the first test that needs libvirt
//! starts `virtlogd` (libvirt's QEMU driver logs the console and QEMU's
//! stderr through it) and `libvirtd` as daemons, then waits until
//! `virsh -c qemu:///system version` answers. Without libvirt the test is
//! skipped with a message, unless `QPMEM_REQUIRE_QEMU=1`, where it fails.

use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The URI every libvirt test talks to.
pub const URI: &str = "qemu:///system";

/// libvirtd is running and answers on [`URI`], or `None` (after saying why)
/// when libvirt is not installed and the environment does not require it.
pub fn libvirtd_or_skip(test: &str) -> Option<()> {
    let required = std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1");
    for tool in ["virsh", "libvirtd", "virtlogd"] {
        if which::which(tool).is_err() {
            if required {
                panic!("{test}: {tool} is required (QPMEM_REQUIRE_QEMU=1) but not installed (apt-get install libvirt-daemon-system)");
            }
            eprintln!(
                "{test}: SKIPPED: {tool} is not installed (apt-get install libvirt-daemon-system)"
            );
            return None;
        }
    }
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    match STARTED.get_or_init(start) {
        Ok(()) => Some(()),
        Err(e) => panic!("{test}: libvirtd did not come up: {e}"),
    }
}

/// One libvirt domain test at a time within a test binary: TCG guests are
/// heavy on two cores, and `virsh` calls are easier to read in order.
pub fn one_domain_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn answers() -> bool {
    Command::new("virsh")
        .args(["-c", URI, "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn running(name: &str) -> bool {
    Command::new("pgrep")
        .args(["-x", name])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start() -> Result<(), String> {
    if answers() {
        return Ok(());
    }
    std::fs::create_dir_all("/var/log/libvirt").map_err(|e| format!("/var/log/libvirt: {e}"))?;
    for daemon in ["virtlogd", "libvirtd"] {
        if !running(daemon) {
            let st = Command::new(daemon)
                .arg("-d")
                .status()
                .map_err(|e| format!("{daemon} -d: {e}"))?;
            if !st.success() {
                return Err(format!("{daemon} -d exited with {st}"));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "`virsh -c {URI} version` did not answer within 30 s"
    ))
}
