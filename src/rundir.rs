//! Private per-run directories: the one place qpmem makes a directory for
//! a QMP socket or scratch backing files.
//!
//! Every run directory is created mode 0700 whatever the umask, and its
//! mode and owner are checked after it is made. It lives in a parent that
//! only we can write: `$XDG_RUNTIME_DIR` when asked for (sockets) and it is
//! ours, else a per-user `qpmem-$UID` under the temp directory, which must
//! be a real directory (not a symlink) owned by us with mode 0700 — qpmem
//! refuses to use it otherwise.
//!
//! Each run directory holds a `lock` file locked (`flock`) for the run's
//! life. Making a new run directory removes siblings whose lock is free:
//! what a killed run (SIGKILL) left behind.

use std::fs::{self, File, Permissions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name prefix of every run directory.
const PREFIX: &str = "qpmem-";
const LOCK: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("cannot make a private directory in {dir}: {source}")]
    Create {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{dir} is not safe for qpmem's sockets and scratch files: {why}")]
    Unsafe { dir: PathBuf, why: String },
}

/// A private run directory, removed (with its contents) when dropped.
#[derive(Debug)]
pub struct RunDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl RunDir {
    /// A new run directory named `qpmem-<kind>…` for sockets:
    /// in `$XDG_RUNTIME_DIR` if that is a directory owned by us, else in
    /// the per-user temp parent.
    pub fn for_sockets(kind: &str) -> Result<RunDir, RunDirError> {
        let xdg = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| check_private(d, false).is_ok());
        match xdg {
            Some(d) => RunDir::new_in(&d, kind),
            None => RunDir::new_in(&user_parent()?, kind),
        }
    }

    /// A new run directory for scratch files (which may be large and
    /// sparse, so not on a small runtime tmpfs), in the per-user temp
    /// parent.
    pub fn for_scratch(kind: &str) -> Result<RunDir, RunDirError> {
        RunDir::new_in(&user_parent()?, kind)
    }

    /// A new run directory in `parent`, which is trusted as it is.
    pub fn new_in(parent: &Path, kind: &str) -> Result<RunDir, RunDirError> {
        sweep(parent);
        let create = |source| RunDirError::Create {
            dir: parent.to_path_buf(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{kind}-"))
            .permissions(Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(create)?;
        check_private(dir.path(), true)?;
        // Locked before it takes its name, so a sweeping run never finds
        // a `lock` that is free while this run lives.
        let fresh = dir.path().join(format!("{LOCK}.new"));
        let lock = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&fresh)
            .map_err(create)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| create(e.into()))?;
        fs::rename(&fresh, dir.path().join(LOCK)).map_err(create)?;
        Ok(RunDir { dir, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// `<temp dir>/qpmem-<uid>`, made 0700 if missing, checked either way.
pub fn user_parent() -> Result<PathBuf, RunDirError> {
    let uid = rustix::process::getuid().as_raw();
    let dir = std::env::temp_dir().join(format!("qpmem-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(RunDirError::Create { dir, source }),
    }
    // The umask may have narrowed the mode further; never widened it.
    check_private(&dir, true)?;
    Ok(dir)
}

/// `dir` is a directory, not a symlink, owned by us, and (if `strict`)
/// has mode 0700; without `strict` it must not be writable by others.
fn check_private(dir: &Path, strict: bool) -> Result<(), RunDirError> {
    let unsafe_ = |why: String| RunDirError::Unsafe {
        dir: dir.to_path_buf(),
        why,
    };
    let meta = fs::symlink_metadata(dir).map_err(|e| unsafe_(e.to_string()))?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_("it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(unsafe_("it is not a directory".into()));
    }
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        return Err(unsafe_(format!(
            "it is owned by uid {}, not by us (uid {uid})",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    let bad = if strict {
        mode != 0o700
    } else {
        mode & 0o022 != 0
    };
    if bad {
        return Err(unsafe_(format!("its mode is {mode:04o}, not 0700")));
    }
    Ok(())
}

/// Remove run directories in `parent` whose lock nobody holds: left by a
/// run that was killed before it could clean up.
fn sweep(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) {
            continue;
        }
        let path = e.path();
        // Only our own private directories: never follow a link.
        if check_private(&path, true).is_err() {
            continue;
        }
        let Ok(lock) = File::open(path.join(LOCK)) else {
            // Without a lock file it is not (or not yet) a run directory.
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_is_0700_and_removed() {
        let parent = tempfile::tempdir().unwrap();
        let d = RunDir::new_in(parent.path(), "t").unwrap();
        let mode = fs::metadata(d.path()).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        let p = d.path().to_path_buf();
        drop(d);
        assert!(!p.exists());
    }

    #[test]
    fn stale_dir_is_swept_live_one_kept() {
        let parent = tempfile::tempdir().unwrap();
        let live = RunDir::new_in(parent.path(), "live").unwrap();
        let stale = parent.path().join("qpmem-stale-x");
        fs::DirBuilder::new().mode(0o700).create(&stale).unwrap();
        fs::write(stale.join(LOCK), "").unwrap();
        fs::write(stale.join("scratch-0"), "x").unwrap();
        let _next = RunDir::new_in(parent.path(), "next").unwrap();
        assert!(!stale.exists());
        assert!(live.path().exists());
    }

    #[test]
    fn symlinked_or_open_parent_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        fs::DirBuilder::new().mode(0o700).create(&real).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            check_private(&link, true),
            Err(RunDirError::Unsafe { .. })
        ));
        fs::set_permissions(&real, Permissions::from_mode(0o777)).unwrap();
        let e = check_private(&real, true).unwrap_err().to_string();
        assert!(e.contains("0777"), "{e}");
    }
}
