//! What the `o` picker lists and how the TUI remembers the last profile.
//!
//! A thin seam over the profile store: [`list`] and [`load`] are the only
//! functions the app's effects call, so when the store grows a richer
//! catalogue they are the one place to change. Today it lists
//! `PROFILES_DIR/*.ron` plus the built-in default.

use crate::profile::Profile;
use crate::size::format_human;
use crate::store;
use std::path::{Path, PathBuf};

/// Where a profile in the picker comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileRef {
    File(PathBuf),
    /// The built-in default (the seed recipe).
    BuiltinDefault,
}

/// One row of the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEntry {
    pub name: String,
    pub summary: String,
    pub source: ProfileRef,
}

/// `$XDG_CONFIG_HOME/qpmem/profiles`.
pub fn profiles_dir() -> Option<PathBuf> {
    store::project_dirs().map(|d| d.config_dir().join("profiles"))
}

/// One line about a profile: DIMM count and total backend size.
pub fn summary(p: &Profile) -> String {
    let total: u64 = p
        .devices
        .iter()
        .fold(0u64, |a, d| a.saturating_add(d.size.0));
    let n = p.devices.len();
    format!(
        "{n} DIMM{}, {} total{}",
        if n == 1 { "" } else { "s" },
        format_human(total),
        if p.description.is_empty() {
            String::new()
        } else {
            format!(" - {}", p.description)
        }
    )
}

/// The profiles the picker offers: the stored ones by name, then the
/// built-in default.
pub fn list(profiles_dir: Option<&Path>, data_dir: &Path) -> Vec<ProfileEntry> {
    let mut out: Vec<ProfileEntry> = Vec::new();
    if let Some(dir) = profiles_dir {
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "ron"))
                .collect();
            files.sort();
            for path in files {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let summary = match store::load_profile(&path) {
                    Ok(p) => summary(&p),
                    Err(e) => format!("unreadable: {e}"),
                };
                out.push(ProfileEntry {
                    name,
                    summary,
                    source: ProfileRef::File(path),
                });
            }
        }
    }
    out.push(ProfileEntry {
        name: "default (built in)".to_string(),
        summary: summary(&Profile::seed(data_dir)),
        source: ProfileRef::BuiltinDefault,
    });
    out
}

/// Read a picked profile: the profile and the file to save it back to.
pub fn load(r: &ProfileRef, data_dir: &Path) -> Result<(Profile, Option<PathBuf>), String> {
    match r {
        ProfileRef::File(path) => store::load_profile(path)
            .map(|p| (p, Some(path.clone())))
            .map_err(|e| e.to_string()),
        ProfileRef::BuiltinDefault => Ok((Profile::seed(data_dir), None)),
    }
}

fn last_used_file() -> Option<PathBuf> {
    let dirs = store::project_dirs()?;
    let state = dirs
        .state_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dirs.data_dir().to_path_buf());
    Some(state.join("last-profile"))
}

/// The profile file the TUI last opened or saved, if it still exists.
pub fn last_used() -> Option<PathBuf> {
    let text = std::fs::read_to_string(last_used_file()?).ok()?;
    let path = PathBuf::from(text.trim_end_matches('\n'));
    path.is_file().then_some(path)
}

/// Remember `path` as the last used profile (best effort).
pub fn remember(path: &Path) -> Result<(), String> {
    let file = last_used_file().ok_or("no home directory")?;
    let abs = std::path::absolute(path).map_err(|e| e.to_string())?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut text = abs.to_string_lossy().into_owned();
    text.push('\n');
    store::write_atomic(&file, text.as_bytes(), false).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_stored_profiles_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        store::save_profile(&dir.path().join("b.ron"), &Profile::empty("b")).unwrap();
        store::save_profile(&dir.path().join("a.ron"), &Profile::seed(Path::new("/vms"))).unwrap();
        std::fs::write(dir.path().join("bad.ron"), "(").unwrap();
        let l = list(Some(dir.path()), Path::new("/vms"));
        let names: Vec<&str> = l.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "bad", "default (built in)"]);
        assert!(
            l[0].summary.starts_with("2 DIMMs, 34 GiB total"),
            "{}",
            l[0].summary
        );
        assert!(l[2].summary.starts_with("unreadable"), "{}", l[2].summary);
        let (p, path) = load(&l[1].source, Path::new("/vms")).unwrap();
        assert_eq!(p.name, "b");
        assert_eq!(path.unwrap(), dir.path().join("b.ron"));
    }
}
