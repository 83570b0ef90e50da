//! Profiles on disk: the store of named profiles and settings in qpmem's
//! XDG directories, reading and saving profile files.
//!
//! Layout on disk ([`dirs`]):
//! - `$XDG_CONFIG_HOME/qpmem/profiles/NAME.ron`: stored profiles, with the
//!   previous version of each kept as `NAME.ron.bak`;
//! - `$XDG_CONFIG_HOME/qpmem/config.ron`: [`Settings`] (last profile, theme);
//! - `$XDG_DATA_HOME/qpmem/`: default backing files (`${data}` in profiles).
//!
//! The RON form itself is the core's ([`crate::core::profile_ron`]); saves
//! go through [`atomic`]. Built-in examples ([`crate::core::examples`]) are
//! listed beside the stored profiles and are read-only: saving under an
//! example's name writes a stored profile of that name, which then shadows
//! the example.

pub mod atomic;
pub mod dirs;
pub mod settings;

pub use settings::Settings;

use crate::core::examples::{self, Example};
use crate::core::profile::{DimmKind, Profile};
use crate::core::profile_ron::{parse_profile, to_ron, RonError};
use crate::files::{self, FileError};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Profiles larger than this are refused unread (a real one is a few KiB).
pub const MAX_PROFILE_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The text is not a profile (or not a settings file).
    #[error(transparent)]
    Ron(#[from] RonError),
    #[error("{path}: cannot write a profile: {message}")]
    Serialize { path: String, message: String },
    /// Not a regular file, too large, a FIFO without a reader.
    #[error(transparent)]
    File(#[from] FileError),
    #[error("invalid profile name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("'{name}' is a built-in example and read-only; it has no file to {action}")]
    BuiltIn { name: String, action: &'static str },
    #[error("no stored profile '{name}' ({path})")]
    NoSuchProfile { name: String, path: String },
    #[error("a stored profile '{name}' already exists ({path})")]
    Exists { name: String, path: String },
    #[error("no backup of the stored profile '{name}' to restore ({path} does not exist)")]
    NoBackup { name: String, path: String },
    #[error("cannot find the home directory for qpmem's profiles: set HOME (or XDG_CONFIG_HOME and XDG_DATA_HOME)")]
    NoHome,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Read and parse a profile file, refusing oversized files unread.
pub fn load_profile(path: &Path) -> Result<Profile, StoreError> {
    let text = read_profile_text(path)?;
    Ok(parse_profile(&text, &path.display().to_string())?)
}

/// A profile file's text: refuses directories, FIFOs and devices (which
/// could block or never end) and files over [`MAX_PROFILE_BYTES`] unread
/// (see [`files::read_regular`]).
pub fn read_profile_text(path: &Path) -> Result<String, StoreError> {
    let bytes = files::read_regular(path, MAX_PROFILE_BYTES)?;
    String::from_utf8(bytes).map_err(|e| {
        RonError::Parse {
            origin: path.display().to_string(),
            line: 1,
            column: 1,
            message: format!("not UTF-8 text ({e})"),
        }
        .into()
    })
}

/// Save a profile as RON, atomically, keeping `PATH.bak`.
pub fn save_profile(path: &Path, profile: &Profile) -> Result<(), StoreError> {
    let text = to_ron(profile).map_err(|e| StoreError::Serialize {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(atomic::write_atomic(path, text.as_bytes(), true)?)
}

/// Longest profile name accepted, in bytes (file names may have 255; the
/// rest is left for `.ron.bak` and temporary names).
pub const MAX_NAME_BYTES: usize = 200;

/// Check that `name` can be a profile's file name (`NAME.ron`) on any
/// common file system, and is not mistaken for a path.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("a name cannot be empty");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("a name cannot contain '/' or '\\'");
    }
    if name.starts_with('.') {
        return bad("a name cannot start with '.'");
    }
    if name.chars().any(char::is_control) {
        return bad("a name cannot contain control characters");
    }
    if name.trim() != name {
        return bad("a name cannot start or end with white space");
    }
    if name.ends_with(".ron") {
        return bad("leave out the .ron (a SOURCE ending in .ron is read as a file path)");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("a name can be at most 200 bytes long");
    }
    Ok(())
}

/// qpmem's store: stored profiles and settings under a config directory,
/// backing files under a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    config_dir: PathBuf,
    data_dir: PathBuf,
}

/// Where a listed profile lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A file in the store.
    Stored {
        path: PathBuf,
        modified: Option<SystemTime>,
    },
    /// A built-in example.
    BuiltIn,
}

/// What `profiles list` and the TUI's picker show about a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub description: String,
    /// Memory devices of every kind.
    pub devices: usize,
    /// NVDIMMs among them.
    pub nvdimms: usize,
    /// Total size of the NVDIMM backends (label areas included).
    pub pmem_bytes: u64,
    /// What the guest sees of them (labels and align's tails left out), as
    /// QEMU places them; `None` when one cannot be placed.
    pub guest_pmem_bytes: Option<u64>,
}

impl Summary {
    pub fn of(p: &Profile) -> Summary {
        let nv = p.devices.iter().filter(|d| d.kind == DimmKind::Nvdimm);
        let guest_pmem_bytes = crate::core::layout::layout(p, &Default::default())
            .ok()
            .and_then(|l| {
                l.devices
                    .iter()
                    .filter(|d| d.kind == DimmKind::Nvdimm)
                    .map(|d| d.placement().map(|pl| pl.size))
                    .try_fold(0u64, |a, s| s.map(|s| a.saturating_add(s)))
            });
        Summary {
            description: p.description.clone(),
            devices: p.devices.len(),
            nvdimms: nv.clone().count(),
            pmem_bytes: nv.fold(0u64, |a, d| a.saturating_add(d.size.0)),
            guest_pmem_bytes,
        }
    }
}

/// One row of the store's listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub origin: Origin,
    /// A built-in example hidden by a stored profile of the same name.
    pub shadowed: bool,
    /// The summary, or why the file could not be read.
    pub summary: Result<Summary, String>,
}

impl Store {
    /// The store in the user's XDG directories.
    pub fn from_env() -> Result<Store, StoreError> {
        let dirs = dirs::project_dirs().ok_or(StoreError::NoHome)?;
        Ok(Store::at(dirs.config_dir(), dirs.data_dir()))
    }

    /// The store in the user's XDG directories, or, without a home
    /// directory, one with no stored profiles (its config directory the
    /// temporary directory) whose data directory is [`dirs::data_dir`]'s
    /// fallback: enough to expand and keep `${data}`.
    pub fn from_env_or_temp() -> Store {
        Store::from_env().unwrap_or_else(|_| Store::at(std::env::temp_dir(), dirs::data_dir()))
    }

    /// A store rooted elsewhere (tests, `--config-dir`-style overrides).
    pub fn at(config_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Store {
        Store {
            config_dir: config_dir.into(),
            data_dir: data_dir.into(),
        }
    }

    /// `$XDG_CONFIG_HOME/qpmem`.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// `$XDG_DATA_HOME/qpmem`: where `${data}` points.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `$XDG_CONFIG_HOME/qpmem/profiles`.
    pub fn profiles_dir(&self) -> PathBuf {
        self.config_dir.join("profiles")
    }

    /// `$XDG_CONFIG_HOME/qpmem/config.ron`.
    pub fn settings_path(&self) -> PathBuf {
        self.config_dir.join("config.ron")
    }

    /// The file a stored profile `name` lives in (whether or not it exists).
    pub fn profile_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        validate_name(name)?;
        Ok(self.profiles_dir().join(format!("{name}.ron")))
    }

    /// The stored profile `name`, if its file exists.
    pub fn stored_path(&self, name: &str) -> Result<Option<PathBuf>, StoreError> {
        let path = self.profile_path(name)?;
        Ok(path.is_file().then_some(path))
    }

    /// Open a profile by name: the stored one, else the built-in example.
    /// `${data}` is expanded. `Ok(None)` when neither exists.
    pub fn open(&self, name: &str) -> Result<Option<(Profile, Origin)>, StoreError> {
        if let Some(path) = self.stored_path(name)? {
            let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
            let mut p = load_profile(&path)?;
            examples::expand_placeholders(&mut p, &self.data_dir);
            return Ok(Some((p, Origin::Stored { path, modified })));
        }
        match examples::find(name) {
            Some(e) => Ok(Some((e.load(&self.data_dir)?, Origin::BuiltIn))),
            None => Ok(None),
        }
    }

    /// The RON text of a profile by name, as stored (stored file first,
    /// then the built-in example), checked to parse.
    pub fn text(&self, name: &str) -> Result<Option<String>, StoreError> {
        if let Some(path) = self.stored_path(name)? {
            let text = read_profile_text(&path)?;
            parse_profile(&text, &path.display().to_string())?;
            return Ok(Some(text));
        }
        Ok(examples::find(name).map(|e| e.text.to_string()))
    }

    /// Save `profile` as the stored profile `name` (atomically, keeping
    /// `NAME.ron.bak`), creating the directory. The profile's `name` field
    /// is set to `name`. Saving under a built-in example's name is allowed
    /// and makes a stored profile that shadows the example.
    pub fn save(&self, name: &str, profile: &Profile) -> Result<PathBuf, StoreError> {
        self.save_with(name, profile, |_| Ok(()))
    }

    /// [`Store::save`] with the test seam of [`atomic::write_atomic_with`].
    pub fn save_with(
        &self,
        name: &str,
        profile: &Profile,
        before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<PathBuf, StoreError> {
        let path = self.profile_path(name)?;
        let dir = self.profiles_dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut p = profile.clone();
        p.name = name.to_string();
        examples::collapse_placeholders(&mut p, &self.data_dir);
        let text = to_ron(&p).map_err(|e| StoreError::Serialize {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        atomic::write_atomic_with(&path, text.as_bytes(), true, before_rename)?;
        Ok(path)
    }

    /// Save `profile` to the file `path` (atomically, keeping `PATH.bak`),
    /// paths inside the data directory written as `${data}/...` as
    /// [`Store::save`] does.
    pub fn save_file(&self, path: &Path, profile: &Profile) -> Result<(), StoreError> {
        let mut p = profile.clone();
        examples::collapse_placeholders(&mut p, &self.data_dir);
        save_profile(path, &p)
    }

    /// Bring back the stored profile `name` from `NAME.ron.bak` (after a
    /// save or a `remove`). The version it replaces, if any, becomes the
    /// new `NAME.ron.bak`, so a second restore undoes the first. Returns
    /// the profile's path.
    pub fn restore(&self, name: &str) -> Result<PathBuf, StoreError> {
        let path = self.profile_path(name)?;
        let bak = atomic::backup_path(&path);
        if fs::symlink_metadata(&bak).is_err() {
            return Err(StoreError::NoBackup {
                name: name.to_string(),
                path: bak.display().to_string(),
            });
        }
        let old = load_profile(&bak)?;
        self.save(name, &old)
    }

    /// Remove the stored profile `name`. It is not destroyed: it becomes
    /// `NAME.ron.bak` (replacing an older backup), whose path is returned.
    /// Built-in examples cannot be removed. When it was the last profile
    /// opened ([`Settings::last_profile`]) that setting is cleared.
    pub fn remove(&self, name: &str) -> Result<PathBuf, StoreError> {
        let bak = self.move_to_backup(name)?;
        // Best effort: a malformed config.ron is reported where it is read.
        let _ = Settings::follow(self, name, None);
        Ok(bak)
    }

    /// [`Store::remove`] without the settings.
    fn move_to_backup(&self, name: &str) -> Result<PathBuf, StoreError> {
        let path = self.profile_path(name)?;
        if !path.is_file() {
            if examples::find(name).is_some() {
                return Err(StoreError::BuiltIn {
                    name: name.to_string(),
                    action: "remove",
                });
            }
            return Err(StoreError::NoSuchProfile {
                name: name.to_string(),
                path: path.display().to_string(),
            });
        }
        let bak = atomic::backup_path(&path);
        // The rename replaces `NAME.ron.bak` itself (a link included), but
        // never a FIFO, a device or a directory someone left there.
        if let Ok(meta) = fs::symlink_metadata(&bak) {
            match files::Kind::of(&meta) {
                files::Kind::Regular | files::Kind::Symlink => {}
                kind => {
                    return Err(FileError::NotRegular { path: bak, kind }.into());
                }
            }
        }
        fs::rename(&path, &bak).map_err(io_err(&path))?;
        if let Ok(d) = File::open(self.profiles_dir()) {
            let _ = d.sync_all();
        }
        Ok(bak)
    }

    /// Rename the stored profile `from` to `to` (refusing to overwrite an
    /// existing `to`); the profile's `name` field follows, and so does
    /// [`Settings::last_profile`] when it was `from`. Returns the new path.
    pub fn rename(&self, from: &str, to: &str) -> Result<PathBuf, StoreError> {
        let src = self.profile_path(from)?;
        let dst = self.profile_path(to)?;
        if !src.is_file() {
            if examples::find(from).is_some() {
                return Err(StoreError::BuiltIn {
                    name: from.to_string(),
                    action: "rename",
                });
            }
            return Err(StoreError::NoSuchProfile {
                name: from.to_string(),
                path: src.display().to_string(),
            });
        }
        if dst.exists() {
            return Err(StoreError::Exists {
                name: to.to_string(),
                path: dst.display().to_string(),
            });
        }
        let p = load_profile(&src)?;
        let new = self.save(to, &p)?;
        self.move_to_backup(from)?;
        let _ = Settings::follow(self, from, Some(to));
        Ok(new)
    }

    /// Every stored profile (sorted by name) followed by every built-in
    /// example. Unreadable files are listed with their error, not skipped.
    pub fn list(&self) -> Result<Vec<Entry>, StoreError> {
        let dir = self.profiles_dir();
        let mut stored = Vec::new();
        match fs::read_dir(&dir) {
            Ok(rd) => {
                for item in rd {
                    let item = item.map_err(io_err(&dir))?;
                    let file_name = item.file_name();
                    let Some(name) = file_name.to_str().and_then(|f| f.strip_suffix(".ron")) else {
                        continue;
                    };
                    if validate_name(name).is_err() {
                        continue;
                    }
                    let path = item.path();
                    let meta = match fs::metadata(&path) {
                        Ok(m) if m.is_file() => m,
                        _ => continue,
                    };
                    let summary = load_profile(&path)
                        .map(|p| Summary::of(&p))
                        .map_err(|e| e.to_string());
                    stored.push(Entry {
                        name: name.to_string(),
                        origin: Origin::Stored {
                            path,
                            modified: meta.modified().ok(),
                        },
                        shadowed: false,
                        summary,
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&dir)(e)),
        }
        stored.sort_by(|a, b| a.name.cmp(&b.name));
        let builtin = examples::EXAMPLES.iter().map(|e: &Example| Entry {
            name: e.name.to_string(),
            origin: Origin::BuiltIn,
            shadowed: stored.iter().any(|s| s.name == e.name),
            summary: e
                .parse()
                .map(|p| Summary::of(&p))
                .map_err(|e| e.to_string()),
        });
        let builtin: Vec<Entry> = builtin.collect();
        stored.extend(builtin);
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::atomic::backup_path;
    use super::*;
    use std::time::Duration;

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

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::at(dir.path().join("config"), dir.path().join("data"));
        (dir, s)
    }

    #[test]
    fn saving_keeps_the_data_placeholder() {
        let (d, s) = temp_store();
        // Opened expanded, as render and launch need it...
        let (p, _) = s.open("default").unwrap().unwrap();
        let nv1 = s.data_dir().join("nvdimm-1");
        assert_eq!(p.devices[0].backend.path(), Some(nv1.as_path()));
        // ...saved with `${data}` again, by name and to a path.
        let path = s.save("mine", &p).unwrap();
        let file = d.path().join("elsewhere.ron");
        s.save_file(&file, &p).unwrap();
        for saved in [&path, &file] {
            let text = fs::read_to_string(saved).unwrap();
            assert!(text.contains(r#"File("${data}/nvdimm-1")"#), "{text}");
            assert!(
                !text.contains(&s.data_dir().display().to_string()),
                "{text}"
            );
        }
        // And a path outside the data directory is kept as written.
        let mut q = p.clone();
        q.devices[0].backend = crate::core::profile::Backend::File("/vms/nv1".into());
        s.save("other", &q).unwrap();
        let (back, _) = s.open("other").unwrap().unwrap();
        assert_eq!(back.devices[0].backend.path(), Some(Path::new("/vms/nv1")));
        assert_eq!(back.devices[1].backend.path(), p.devices[1].backend.path());
    }

    #[test]
    fn the_last_profile_follows_a_rename_and_goes_with_a_removal() {
        let (_d, s) = temp_store();
        s.save("mine", &Profile::empty("x")).unwrap();
        s.save("other", &Profile::empty("x")).unwrap();
        Settings::set_last_profile(&s, "mine").unwrap();
        s.rename("mine", "mine2").unwrap();
        let last = || Settings::load(&s).unwrap().last_profile;
        assert_eq!(last().as_deref(), Some("mine2"));
        // Another profile's rename or removal leaves it alone.
        s.rename("other", "other2").unwrap();
        s.remove("other2").unwrap();
        assert_eq!(last().as_deref(), Some("mine2"));
        s.remove("mine2").unwrap();
        assert_eq!(last(), None);
    }

    #[test]
    fn a_backup_keeps_the_mode_of_the_file_it_copies() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, s) = temp_store();
        let path = s.save("p", &Profile::empty("one")).unwrap();
        for mode in [0o644, 0o600, 0o640] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            s.save("p", &Profile::empty("two")).unwrap();
            let got = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(got(&backup_path(&path)), mode, "{mode:o}");
            assert_eq!(got(&path), mode, "{mode:o}");
        }
    }

    #[test]
    fn restore_brings_back_the_backup_and_undoes_itself() {
        let (_d, s) = temp_store();
        let e = s.restore("p").unwrap_err();
        assert!(matches!(e, StoreError::NoBackup { .. }), "{e}");
        let mut p = Profile::empty("p");
        p.description = "first".into();
        s.save("p", &p).unwrap();
        p.description = "second".into();
        s.save("p", &p).unwrap();
        let desc = || s.open("p").unwrap().unwrap().0.description;
        s.restore("p").unwrap();
        assert_eq!(desc(), "first");
        s.restore("p").unwrap();
        assert_eq!(desc(), "second");
        // After a removal the backup is the removed profile.
        s.remove("p").unwrap();
        s.restore("p").unwrap();
        assert_eq!(desc(), "second");
        assert!(matches!(
            s.restore("a/b").unwrap_err(),
            StoreError::BadName { .. }
        ));
    }

    #[test]
    fn names_that_cannot_be_file_names_are_refused() {
        for bad in [
            "", "a/b", "/abs", ".hidden", ".", "..", "a\\b", "tab\tx", " lead", "trail ", "x.ron",
            "nul\0x",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(matches!(e, StoreError::BadName { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(validate_name(&"n".repeat(201)).is_err());
        for good in ["default", "2x17G labelled", "a.b", "laptop-1", "ü"] {
            validate_name(good).unwrap();
        }
        let (_d, s) = temp_store();
        assert!(s.save("a/b", &Profile::empty("x")).is_err());
        assert!(!s.profiles_dir().join("a").exists());
    }

    #[test]
    fn an_error_between_write_and_rename_leaves_the_old_file() {
        let (_d, s) = temp_store();
        let old = Profile::seed(Path::new("/vms"));
        let path = s.save("keep", &old).unwrap();
        let before = fs::read(&path).unwrap();
        let mut new = old.clone();
        new.ram = crate::core::size::Size::gib(8);
        let mut seen_tmp = None;
        let e = s
            .save_with("keep", &new, |tmp| {
                // The new contents are complete in the temporary file.
                let t = fs::read_to_string(tmp).unwrap();
                assert!(t.contains("ram: \"8G\""), "{t}");
                seen_tmp = Some(tmp.to_path_buf());
                Err(std::io::Error::other("injected failure"))
            })
            .unwrap_err();
        assert!(e.to_string().contains("injected failure"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert!(!seen_tmp.unwrap().exists(), "temporary file removed");
        let leftovers: Vec<_> = fs::read_dir(s.profiles_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".qpmem"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // And a save that goes through replaces it, keeping the old as .bak.
        s.save("keep", &new).unwrap();
        assert_eq!(fs::read(backup_path(&path)).unwrap(), before);
        assert_eq!(s.open("keep").unwrap().unwrap().0.ram, new.ram);
    }

    #[test]
    fn listing_shows_stored_then_builtin_and_marks_shadowing() {
        let (_d, s) = temp_store();
        assert_eq!(s.list().unwrap().len(), examples::EXAMPLES.len());
        s.save("zeta", &Profile::seed(Path::new("/v"))).unwrap();
        s.save("default", &Profile::empty("x")).unwrap();
        fs::write(s.profiles_dir().join("broken.ron"), "(version: 1,").unwrap();
        fs::write(s.profiles_dir().join("notes.txt"), "x").unwrap();
        let l = s.list().unwrap();
        let names: Vec<_> = l.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "broken",
                "default",
                "zeta",
                "default",
                "small",
                "numa",
                "label-less",
                "arm64",
                "cxl",
                "cxl-run-qemu",
                "virtio-pmem"
            ]
        );
        assert!(l[0].summary.is_err());
        let zeta = l[2].summary.as_ref().unwrap();
        assert_eq!((zeta.devices, zeta.nvdimms), (2, 2));
        assert_eq!(zeta.pmem_bytes, 34 << 30);
        // Each 17G file shows 17G - 2M aligned down to 128M: 16.875 GiB.
        assert_eq!(zeta.guest_pmem_bytes, Some((2 * (17 * 1024 - 128)) << 20));
        assert!(matches!(
            l[2].origin,
            Origin::Stored {
                modified: Some(_),
                ..
            }
        ));
        assert!(l[3].shadowed && l[3].origin == Origin::BuiltIn);
        assert!(!l[4].shadowed);
    }

    #[test]
    fn remove_keeps_a_backup_and_refuses_builtins() {
        let (_d, s) = temp_store();
        let path = s.save("gone", &Profile::empty("x")).unwrap();
        let bak = s.remove("gone").unwrap();
        assert!(!path.exists());
        assert_eq!(bak, backup_path(&path));
        assert!(load_profile(&bak).is_ok());
        assert!(matches!(
            s.remove("gone").unwrap_err(),
            StoreError::NoSuchProfile { .. }
        ));
        assert!(matches!(
            s.remove("numa").unwrap_err(),
            StoreError::BuiltIn { .. }
        ));
        // A backup name taken by a FIFO is refused, the FIFO left alone.
        let path = s.save("kept", &Profile::empty("x")).unwrap();
        let bak = backup_path(&path);
        crate::testutil::mkfifo(&bak);
        let e = s.remove("kept").unwrap_err();
        assert!(
            e.to_string().ends_with("is a FIFO, not a regular file"),
            "{e}"
        );
        assert!(path.is_file() && kind(&bak) == files::Kind::Fifo);
    }

    #[test]
    fn rename_moves_the_profile_and_its_name() {
        let (_d, s) = temp_store();
        s.save("a", &Profile::empty("a")).unwrap();
        s.save("b", &Profile::empty("b")).unwrap();
        assert!(matches!(
            s.rename("a", "b").unwrap_err(),
            StoreError::Exists { .. }
        ));
        s.rename("a", "c").unwrap();
        assert!(s.stored_path("a").unwrap().is_none());
        assert_eq!(s.open("c").unwrap().unwrap().0.name, "c");
        assert!(matches!(
            s.rename("small", "mine").unwrap_err(),
            StoreError::BuiltIn { .. }
        ));
    }

    #[test]
    fn settings_default_save_and_remember_the_last_profile() {
        let (_d, s) = temp_store();
        assert_eq!(Settings::load(&s).unwrap(), Settings::default());
        Settings::set_last_profile(&s, "numa").unwrap();
        assert_eq!(
            Settings::load(&s).unwrap().last_profile.as_deref(),
            Some("numa")
        );
        assert!(Settings::set_last_profile(&s, "../x").is_err());
        fs::write(s.settings_path(), "(last_profile: Some(\"x\"), colour: 1)").unwrap();
        let e = Settings::load(&s).unwrap_err().to_string();
        assert!(e.contains("config.ron:1:") && e.contains("colour"), "{e}");
        // A malformed file is reported, never overwritten.
        assert!(Settings::set_last_profile(&s, "y").is_err());
        assert!(fs::read_to_string(s.settings_path())
            .unwrap()
            .contains("colour"));
    }

    #[test]
    fn the_chosen_theme_is_recorded_and_the_rest_kept() {
        let (_d, s) = temp_store();
        Settings::set_last_profile(&s, "mine").unwrap();
        for name in ["light", "high-contrast", "default"] {
            Settings::set_theme(&s, Some(name)).unwrap();
            assert_eq!(Settings::load(&s).unwrap().theme.as_deref(), Some(name));
        }
        // The other settings are kept.
        let kept = Settings::load(&s).unwrap();
        assert_eq!(kept.last_profile.as_deref(), Some("mine"));
        Settings::set_theme(&s, None).unwrap();
        assert_eq!(Settings::load(&s).unwrap().theme, None);
        // A malformed file is reported, never overwritten.
        fs::write(s.settings_path(), "(colour: 1)").unwrap();
        assert!(Settings::set_theme(&s, Some("light")).is_err());
        assert!(fs::read_to_string(s.settings_path())
            .unwrap()
            .contains("colour"));
    }

    #[test]
    fn special_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_file =
            |e: &StoreError| matches!(e, StoreError::File(FileError::NotRegular { .. }));
        let e = load_profile(dir.path()).unwrap_err();
        assert!(not_a_file(&e), "{e}");
        let e = load_profile(Path::new("/dev/zero")).unwrap_err();
        assert!(not_a_file(&e), "{e}");
    }

    /// Run `f` on a thread; fail (rather than hang the suite) if it takes
    /// longer than a few seconds.
    fn kind(path: &Path) -> files::Kind {
        files::Kind::of(&fs::symlink_metadata(path).unwrap())
    }

    #[test]
    fn saving_over_a_fifo_is_refused_without_hanging() {
        let (_d, s) = temp_store();
        fs::create_dir_all(s.profiles_dir()).unwrap();
        let path = s.profile_path("pipe").unwrap();
        crate::testutil::mkfifo(&path);
        let p = path.clone();
        let e =
            crate::testutil::promptly(move || save_profile(&p, &Profile::empty("x"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{} is a FIFO, not a regular file", path.display())
        );
        assert_eq!(kind(&path), files::Kind::Fifo);
        let p = path.clone();
        let e = crate::testutil::promptly(move || load_profile(&p)).unwrap_err();
        assert!(
            e.to_string().ends_with("is a FIFO, not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn saving_over_a_device_or_a_link_to_one_is_refused() {
        let (d, s) = temp_store();
        fs::create_dir_all(s.profiles_dir()).unwrap();
        // A character device of our own (/dev/null's numbers), in the temp dir.
        let null = d.path().join("null");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &null,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        let e = save_profile(&null, &Profile::empty("x")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a character device, not a regular file"),
            "{e}"
        );
        assert_eq!(kind(&null), files::Kind::CharDevice);
        // A profile that links to /dev/zero: neither read nor backed up
        // (which copied gigabytes into PATH.bak).
        let path = s.profile_path("zero").unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let p = path.clone();
        let e =
            crate::testutil::promptly(move || save_profile(&p, &Profile::empty("x"))).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a character device, not a regular file"),
            "{e}"
        );
        assert_eq!(kind(&path), files::Kind::Symlink);
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn a_symlinked_profile_is_saved_through_the_link() {
        let (d, s) = temp_store();
        let dotfiles = d.path().join("dotfiles");
        fs::create_dir_all(&dotfiles).unwrap();
        let real = dotfiles.join("mine.ron");
        save_profile(&real, &Profile::empty("old")).unwrap();
        let before = fs::read(&real).unwrap();
        fs::create_dir_all(s.profiles_dir()).unwrap();
        let link = s.profile_path("mine").unwrap();
        std::os::unix::fs::symlink("../../dotfiles/mine.ron", &link).unwrap();
        let mut p = Profile::empty("mine");
        p.description = "new".into();
        s.save("mine", &p).unwrap();
        // The link stays a link; its target has the new contents; the
        // backup is beside the link, the name the store knows.
        assert_eq!(kind(&link), files::Kind::Symlink);
        assert_eq!(load_profile(&real).unwrap().description, "new");
        assert_eq!(fs::read(backup_path(&link)).unwrap(), before);
        assert_eq!(kind(&backup_path(&link)), files::Kind::Regular);
        assert!(!backup_path(&real).exists());
        let leftovers: Vec<_> = [s.profiles_dir(), dotfiles]
            .iter()
            .flat_map(|dir| fs::read_dir(dir).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".qpmem"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn temporary_files_of_a_killed_save_are_removed_by_the_next() {
        let (d, s) = temp_store();
        let dir = s.profiles_dir();
        fs::create_dir_all(&dir).unwrap();
        let old = SystemTime::now() - Duration::from_secs(600);
        let make = |name: &str, when: SystemTime| {
            let path = dir.join(name);
            let f = File::create(&path).unwrap();
            f.set_modified(when).unwrap();
            (path, f)
        };
        let (stale_save, _) = make(".qpmem-saveAbC123", old);
        let (stale_bak, _) = make(".qpmem-bakXyZ789", old);
        // A save still writing: recent, or old but holding its lock.
        let (fresh, _) = make(".qpmem-saveNew000", SystemTime::now());
        let (locked, held) = make(".qpmem-saveLocked", old);
        rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        // Not ours to judge: a link (to a file elsewhere) and other names.
        let outside = d.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        let link = dir.join(".qpmem-saveLink");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let (other, _) = make("notes.qpmem-save", old);
        s.save("p", &Profile::empty("p")).unwrap();
        assert!(!stale_save.exists() && !stale_bak.exists());
        for kept in [&fresh, &locked, &link, &other, &outside] {
            assert!(
                fs::symlink_metadata(kept).is_ok(),
                "{} removed",
                kept.display()
            );
        }
        drop(held);
    }
}
