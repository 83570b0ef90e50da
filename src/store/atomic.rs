//! Atomic replaces: a temporary file in the same directory, fsync, rename
//! over, fsync the directory, optionally keeping the old file as
//! `PATH.bak`. Profiles, settings, `render -o` and the QEMU version cache
//! are all written this way. Which paths may be replaced at all is
//! [`files::replace_target`]'s business.

use crate::files::{self, FileError};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest old file copied into `PATH.bak` (a profile's limit).
const MAX_BACKUP_BYTES: u64 = super::MAX_PROFILE_BYTES;

/// Prefixes of the temporary files an atomic save writes.
const SAVE_PREFIX: &str = ".qpmem-save";
const BACKUP_PREFIX: &str = ".qpmem-bak";

/// A temporary file of a save this old, and not locked, was left by a
/// save that was killed.
const STALE_AFTER: Duration = Duration::from_secs(60);

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `PATH.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut bak = path.as_os_str().to_owned();
    bak.push(".bak");
    PathBuf::from(bak)
}

/// The directory a file is in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A locked temporary file in `dir`, stale ones there removed first.
fn temp_in(dir: &Path, prefix: &str) -> Result<tempfile::NamedTempFile, FileError> {
    files::remove_stale_temps(dir, &[SAVE_PREFIX, BACKUP_PREFIX], STALE_AFTER);
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    files::lock_temp(tmp.as_file());
    Ok(tmp)
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over, fsync the directory. When `backup` is
/// set the previous file is kept as `PATH.bak`. A failure at any point
/// leaves the old file intact.
///
/// Only a regular file or a missing path is replaced: a FIFO, a device, a
/// directory or a socket is refused unread and untouched. A symbolic link
/// is written through: its final target is replaced (in the target's
/// directory) and the link stays. `PATH.bak` is beside `PATH` as named,
/// the link, not the target. Temporary files a killed save left in those
/// directories are removed first ([`files::remove_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8], backup: bool) -> Result<(), FileError> {
    write_atomic_with(path, bytes, backup, |_| Ok(()))
}

/// Write an output file (`render -o`, `map -o`, the TUI's map picture):
/// a regular file or a new one atomically (temp file, fsync, rename; no
/// `.bak`; a script becomes executable), a FIFO with a reader or a
/// character device directly; anything else is refused untouched (see
/// [`files::output`]).
pub fn write_output(path: &Path, text: &str, executable: bool) -> Result<(), FileError> {
    let target = match files::output(path)? {
        files::Output::Direct(mut file) => {
            return match file.write_all(text.as_bytes()) {
                // A reader that stopped reading, as on stdout.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(FileError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }),
                _ => Ok(()),
            };
        }
        files::Output::Replace(target) => target,
    };
    write_atomic(path, text.as_bytes(), false)?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(&target) {
            let mode = meta.permissions().mode();
            let mode = mode | ((mode & 0o444) >> 2);
            let _ = fs::set_permissions(&target, fs::Permissions::from_mode(mode));
        }
    }
    Ok(())
}

/// [`write_atomic`] with a hook run after the new contents are written and
/// synced (and the backup made) but before the rename: the seam tests use
/// to inject a failure there. An error from the hook aborts the save, the
/// temporary file is removed and `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    backup: bool,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let target = files::replace_target(path)?;
    let dir = dir_of(&target);
    let mut tmp = temp_in(&dir, SAVE_PREFIX)?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    match fs::metadata(&target) {
        // Keep the old file's permissions.
        Ok(meta) => {
            let _ = fs::set_permissions(tmp.path(), meta.permissions());
            if backup {
                // Copy into a temporary file and rename it, so the backup
                // itself is never half-written either. The old file is
                // read like any file qpmem did not write: regular, bounded.
                let old = files::read_regular(&target, MAX_BACKUP_BYTES)?;
                let bak_path = files::replace_target(&backup_path(path))?;
                let mut bak = temp_in(&dir_of(&bak_path), BACKUP_PREFIX)?;
                bak.write_all(&old).map_err(io_err(bak.path()))?;
                // The backup is the old file: its permissions too.
                let _ = fs::set_permissions(bak.path(), meta.permissions());
                bak.persist(&bak_path).map_err(|e| FileError::Io {
                    path: bak_path.clone(),
                    source: e.error,
                })?;
            }
        }
        // A new file: readable by others like any file the user creates
        // (tempfile's default is 0600).
        Err(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644));
            }
        }
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    before_rename(tmp.path()).map_err(io_err(path))?;
    // Checked again just before the rename: the target may have been
    // replaced by something that is not a regular file meanwhile.
    if files::replace_target(path)? != target {
        return Err(FileError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("changed while it was being saved; not replaced"),
        });
    }
    tmp.persist(&target).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
