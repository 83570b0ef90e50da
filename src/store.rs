//! Profiles on disk: reading RON with errors that point at the line, and
//! atomic saves that never leave a half-written profile behind.

use crate::profile::{Profile, PROFILE_VERSION};
use ron::extensions::Extensions;
use serde::Deserialize;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Profiles larger than this are refused unread (a real one is a few KiB).
pub const MAX_PROFILE_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: profile is {size} bytes, more than the {max} a profile may have")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path}: profile version {found} is newer than this qpmem understands (up to {PROFILE_VERSION}); upgrade qpmem")]
    TooNew { path: String, found: u32 },
    #[error("{path}: cannot write a profile: {message}")]
    Serialize { path: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(64)
}

/// Parse profile text; `origin` names it in errors (a path or `<stdin>`).
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, StoreError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let position = |e: ron::error::SpannedError| {
        let line = e.span.start.line;
        // Name the field when the offending line starts with one, since
        // a value's own error ("size \"17X\": ...") cannot know it.
        let field = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.trim_start().split_once(':'))
            .map(|(name, _)| name.trim())
            .filter(|name| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        let message = match field {
            Some(f) => format!("{f}: {}", e.code),
            None => e.code.to_string(),
        };
        StoreError::Parse {
            path: origin.to_string(),
            line,
            column: e.span.start.col,
            message,
        }
    };
    // Check the version first, so a newer file gets the right complaint
    // rather than one about the fields it added.
    if let Ok(v) = ron_options().from_str::<VersionOnly>(text) {
        if v.version > PROFILE_VERSION {
            return Err(StoreError::TooNew {
                path: origin.to_string(),
                found: v.version,
            });
        }
    }
    ron_options().from_str::<Profile>(text).map_err(position)
}

/// Read and parse a profile file, refusing oversized files unread.
pub fn load_profile(path: &Path) -> Result<Profile, StoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    let size = file.metadata().map_err(io_err(path))?.len();
    if size > MAX_PROFILE_BYTES {
        return Err(StoreError::TooLarge {
            path: path.display().to_string(),
            size,
            max: MAX_PROFILE_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    let text = String::from_utf8(bytes).map_err(|e| StoreError::Parse {
        path: path.display().to_string(),
        line: 1,
        column: 1,
        message: format!("not UTF-8 text ({e})"),
    })?;
    parse_profile(&text, &path.display().to_string())
}

/// The profile as pretty RON, fields in a stable order.
pub fn to_ron(profile: &Profile) -> Result<String, ron::Error> {
    let pretty = ron::ser::PrettyConfig::new()
        .struct_names(false)
        .indentor("    ".to_string());
    let mut text = ron_options().to_string_pretty(profile, pretty)?;
    text.push('\n');
    Ok(text)
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over, fsync the directory. When `backup` is
/// set the previous file is kept as `PATH.bak`. A failure at any point
/// leaves the old file intact.
pub fn write_atomic(path: &Path, bytes: &[u8], backup: bool) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".qpmem-save")
        .tempfile_in(&dir)
        .map_err(io_err(&dir))?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    if let Ok(meta) = fs::metadata(path) {
        // Keep the old file's permissions.
        let _ = fs::set_permissions(tmp.path(), meta.permissions());
        if backup {
            let mut bak = path.as_os_str().to_owned();
            bak.push(".bak");
            fs::copy(path, PathBuf::from(bak)).map_err(io_err(path))?;
        }
    }
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Save a profile as RON, atomically, keeping `PATH.bak`.
pub fn save_profile(path: &Path, profile: &Profile) -> Result<(), StoreError> {
    let text = to_ron(profile).map_err(|e| StoreError::Serialize {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes(), true)
}

/// qpmem's XDG directories (`$XDG_CONFIG_HOME/qpmem`, `$XDG_DATA_HOME/qpmem`).
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "qpmem")
}

/// Where default backing files go: `$XDG_DATA_HOME/qpmem`.
pub fn data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("qpmem"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_round_trips_through_ron() {
        let p = Profile::seed(Path::new("/vms"));
        let text = to_ron(&p).unwrap();
        assert!(text.contains("size: \"17G\""), "{text}");
        assert!(text.contains("align: \"128M\""), "{text}");
        assert_eq!(parse_profile(&text, "x").unwrap(), p);
    }

    #[test]
    fn errors_point_at_the_line() {
        let e =
            parse_profile("(\n version: 1,\n name: \"x\",\n bogus: 3,\n)", "p.ron").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("p.ron:4:"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
        let e = parse_profile("(version: 9, name: \"x\", future: 1)", "p.ron").unwrap_err();
        assert!(matches!(e, StoreError::TooNew { found: 9, .. }), "{e}");
        assert!(parse_profile("", "p.ron").is_err());
    }

    #[test]
    fn atomic_save_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ron");
        let mut p = Profile::empty("one");
        save_profile(&path, &p).unwrap();
        p.name = "two".into();
        save_profile(&path, &p).unwrap();
        assert_eq!(load_profile(&path).unwrap().name, "two");
        assert_eq!(
            load_profile(&dir.path().join("p.ron.bak")).unwrap().name,
            "one"
        );
    }
}
