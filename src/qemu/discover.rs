//! Which QEMU binary will run a profile, and which release it is.
//!
//! The binary is `--qemu PATH`, else `$QPMEM_QEMU`, else the profile's
//! `qemu`, else `qemu-system-<arch>` on `PATH`. Its version comes from
//! `--version`, read once per binary: the answer is kept in memory and in
//! `$XDG_CACHE_HOME/qpmem/qemu-versions.json`, keyed by the binary's path
//! and stamped with its size and modification time, so a replaced binary
//! is read again. Nothing here starts a VM.

use super::{find_binary, read_version, FindError};
use crate::core::facts::{Origin, QemuStatus};
use crate::core::profile::Profile;
use crate::core::qemu::QemuVersion;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::UNIX_EPOCH;

/// The binary to use and where the choice came from (not yet resolved
/// on `PATH`).
pub fn wanted(flag: Option<&Path>, profile: &Profile) -> (PathBuf, Origin) {
    if let Some(f) = flag {
        return (f.to_path_buf(), Origin::Flag);
    }
    if let Some(env) = std::env::var_os("QPMEM_QEMU").filter(|v| !v.is_empty()) {
        return (PathBuf::from(env), Origin::Env);
    }
    match &profile.qemu {
        Some(p) => (p.clone(), Origin::Profile),
        None => (PathBuf::from(profile.arch.qemu_binary()), Origin::Default),
    }
}

/// The one answer to "which QEMU runs": [`wanted`], found on `PATH`. Every
/// command, the TUI's rules, its launch, `probe` and `verify` ask this.
pub fn resolve(flag: Option<&Path>, profile: &Profile) -> Result<PathBuf, super::FindError> {
    super::find_binary(&wanted(flag, profile).0)
}

/// Find the binary and read its version (cached).
pub fn detect(flag: Option<&Path>, profile: &Profile) -> QemuStatus {
    let (name, origin) = wanted(flag, profile);
    let path = match find_binary(&name) {
        Ok(p) if p.is_file() => p,
        Ok(p) => {
            return QemuStatus::NotFound {
                wanted: p.display().to_string(),
                origin,
                reason: "no such file".into(),
            }
        }
        Err(e) => {
            return QemuStatus::NotFound {
                wanted: name.display().to_string(),
                origin,
                reason: e.to_string(),
            }
        }
    };
    match cached_version(&path) {
        Ok(version) => QemuStatus::Found {
            path,
            version,
            origin,
        },
        Err(e) => QemuStatus::NoVersion {
            path,
            reason: e.to_string(),
        },
    }
}

/// What identifies one build of a binary: its size and mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    mtime_ns: u128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime_ns = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(Stamp {
        len: meta.len(),
        mtime_ns,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    version: QemuVersion,
}

type Cache = BTreeMap<String, Entry>;

static MEMORY: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(Cache::new()));

/// `$XDG_CACHE_HOME/qpmem/qemu-versions.json`.
pub fn cache_file() -> Option<PathBuf> {
    crate::store::dirs::cache_dir().map(|d| d.join("qemu-versions.json"))
}

/// A cache larger than this is not one qpmem wrote: ignored.
const MAX_CACHE_BYTES: u64 = 16 << 20;

fn read_cache_file(file: &Path) -> Cache {
    crate::files::read_regular(file, MAX_CACHE_BYTES)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// `binary --version`, from the cache when the binary is unchanged.
pub fn cached_version(binary: &Path) -> Result<QemuVersion, FindError> {
    version_with(binary, cache_file().as_deref(), true)
}

fn version_with(
    binary: &Path,
    file: Option<&Path>,
    use_memory: bool,
) -> Result<QemuVersion, FindError> {
    let key = std::fs::canonicalize(binary)
        .unwrap_or_else(|_| binary.to_path_buf())
        .display()
        .to_string();
    let Some(st) = stamp(binary) else {
        // Unstattable: read it, cache nothing.
        return read_version(binary);
    };
    let fresh = |c: &Cache| c.get(&key).filter(|e| e.stamp == st).map(|e| e.version);
    if use_memory {
        if let Some(v) = MEMORY.lock().ok().and_then(|m| fresh(&m)) {
            return Ok(v);
        }
    }
    let mut on_disk = file.map(read_cache_file).unwrap_or_default();
    if let Some(v) = fresh(&on_disk) {
        remember(&key, st, v);
        return Ok(v);
    }
    let version = read_version(binary)?;
    remember(&key, st, version);
    if let Some(file) = file {
        on_disk.insert(key, Entry { stamp: st, version });
        // A cache that cannot be written only costs a re-read next time.
        if let (Some(dir), Ok(text)) = (file.parent(), serde_json::to_vec_pretty(&on_disk)) {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = crate::store::atomic::write_atomic(file, &text, false);
            }
        }
    }
    Ok(version)
}

fn remember(key: &str, stamp: Stamp, version: QemuVersion) {
    if let Ok(mut m) = MEMORY.lock() {
        m.insert(key.to_string(), Entry { stamp, version });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake(dir: &Path, version: &str) -> PathBuf {
        let path = dir.join("qemu-system-x86_64");
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho 'QEMU emulator version {version}'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_cache_that_is_not_a_regular_file_is_ignored_unread() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("qemu-versions.json");
        crate::testutil::mkfifo(&fifo);
        let n = crate::testutil::promptly(move || read_cache_file(&fifo).len());
        assert_eq!(n, 0);
        assert!(read_cache_file(Path::new("/dev/zero")).is_empty());
    }

    #[test]
    fn flag_beats_the_profile() {
        let mut p = Profile::empty("x");
        p.qemu = Some("/opt/qemu/bin/qemu-system-x86_64".into());
        let (w, o) = wanted(Some(Path::new("/usr/bin/q")), &p);
        assert_eq!((w, o), (PathBuf::from("/usr/bin/q"), Origin::Flag));
    }

    #[test]
    fn a_missing_binary_is_not_found() {
        let p = Profile::empty("x");
        let s = detect(Some(Path::new("/nonexistent/qemu-system-x86_64")), &p);
        assert!(
            matches!(
                s,
                QemuStatus::NotFound {
                    origin: Origin::Flag,
                    ..
                }
            ),
            "{s:?}"
        );
        let s = detect(Some(Path::new("no-such-qemu-binary-here")), &p);
        assert!(matches!(s, QemuStatus::NotFound { .. }), "{s:?}");
    }

    #[test]
    fn versions_are_cached_on_disk_and_reread_when_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache/qemu-versions.json");
        let bin = fake(dir.path(), "2.11.1");
        let v = version_with(&bin, Some(&cache), false).unwrap();
        assert_eq!(v, QemuVersion::new(2, 11, 1));
        // The answer is on disk: doctor it, and the unchanged binary is not run again.
        let text = std::fs::read_to_string(&cache).unwrap();
        assert!(text.contains("\"minor\": 11"), "{text}");
        std::fs::write(&cache, text.replace("\"minor\": 11", "\"minor\": 99")).unwrap();
        let v = version_with(&bin, Some(&cache), false).unwrap();
        assert_eq!(v, QemuVersion::new(2, 99, 1));
        // A different build (another size) is read again.
        let bin = fake(dir.path(), "10.1.50");
        let v = version_with(&bin, Some(&cache), false).unwrap();
        assert_eq!(v, QemuVersion::new(10, 1, 50));
        // A binary that prints no version is an error, not a guess.
        std::fs::write(&bin, "#!/bin/sh\necho hello\n").unwrap();
        assert!(version_with(&bin, Some(&cache), true).is_err());
    }
}
