//! Run directories are 0700 even under `umask 000`. The umask is
//! process-wide, so this test file has a binary (and one test) of its own.

use qpmem::rundir::{user_parent, RunDir};
use std::os::unix::fs::MetadataExt;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn run_dirs_are_private_under_umask_000() {
    let base = tempfile::tempdir().unwrap();
    rustix::process::umask(rustix::fs::Mode::empty());
    // SAFETY: the only test in this binary; no other thread reads the
    // environment.
    unsafe { std::env::set_var("TMPDIR", base.path()) };
    let parent = user_parent().unwrap();
    assert!(parent.starts_with(base.path()));
    assert_eq!(mode(&parent), 0o700, "per-user parent");
    let scratch = RunDir::for_scratch("t").unwrap();
    assert_eq!(mode(scratch.path()), 0o700, "scratch dir");
    let other = tempfile::tempdir().unwrap();
    let vm = RunDir::new_in(other.path(), "vm").unwrap();
    assert_eq!(mode(vm.path()), 0o700, "runtime dir");
    let lock = vm.path().join("lock");
    assert_eq!(mode(&lock) & 0o022, 0, "lock file not writable by others");
}
