//! What the tests that run a `Vm` share: its events on a channel, waiting
//! on them, typing into its console, and a profile that boots Debian's
//! kernel into the busybox shell.

use super::guest::{guest_setup_or_skip, kernel_cache_dir, GuestSetup};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use qpmem::core::profile::Profile;
use qpmem::guest::{write_initramfs, InitMode, InitramfsSpec, DEFAULT_APPEND};
use qpmem::vm::{Notify, Vm, VmEvent};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `Notify` that sends the VM's events to the returned receiver.
pub fn events() -> (Notify, Receiver<VmEvent>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let notify: Notify = Arc::new(move |e| {
        let _ = tx.lock().unwrap().send(e);
    });
    (notify, rx)
}

/// Wait for events until `done` says yes; acknowledges console output.
pub fn wait_until(
    vm: &Vm,
    rx: &Receiver<VmEvent>,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Vm) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(vm) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}; status {}; stderr {:?}; console:\n{}",
            vm.status(),
            vm.stderr_lines(),
            vm.console().emulator().all_text()
        );
        if let Ok(VmEvent::Console) = rx.recv_timeout(left.min(Duration::from_millis(200))) {
            vm.console().ack();
        }
    }
}

/// Type `text` and Enter into the guest's console.
pub fn type_line(vm: &Vm, text: &str) {
    for c in text.chars() {
        vm.console()
            .key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
            .unwrap();
    }
    vm.console()
        .key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
        .unwrap();
}

/// The guest set-up the guest tests use, with the kernel in the
/// uncompressed form QEMU's `-kernel` boots directly.
pub fn guest(test: &str) -> Option<GuestSetup> {
    let mut g = guest_setup_or_skip(test)?;
    g.kernel = g
        .kernel
        .with_pvh_image(&kernel_cache_dir())
        .expect("an uncompressed (PVH) kernel image");
    Some(g)
}

/// Make `p` boot `g`'s kernel into the busybox shell (which prints the
/// guest's report, then `QPMEM-SHELL`): an initramfs written in `dir`,
/// the console on ttyS0, no reboot.
pub fn boot_into_shell(p: &mut Profile, g: &GuestSetup, dir: &Path) {
    let initrd = dir.join("initrd.cpio");
    let spec = InitramfsSpec::new(
        g.busybox.clone(),
        g.kernel.modules_dir.clone(),
        InitMode::ReportThenShell,
    );
    write_initramfs(&spec, &initrd).unwrap();
    p.kernel = Some(g.kernel.vmlinuz.clone());
    p.initrd = Some(initrd);
    p.append = Some(DEFAULT_APPEND.to_string());
    p.extra_args = vec!["-no-reboot".into()];
}
