//! User settings: `$XDG_CONFIG_HOME/qpmem/config.ron`.

use super::{atomic, read_profile_text, validate_name, Store, StoreError};
use crate::core::profile_ron::{ron_options, spanned};
use serde::{Deserialize, Serialize};
use std::fs;

/// User settings (`config.ron`). Every field is optional; a missing file
/// is the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The profile the TUI opened last (a store name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_profile: Option<String>,
    /// The TUI theme's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
}

impl Settings {
    /// Read the settings; defaults when the file does not exist, an error
    /// (with `path:line:column`) when it is unreadable or malformed.
    pub fn load(store: &Store) -> Result<Settings, StoreError> {
        let path = store.settings_path();
        if !path.exists() {
            return Ok(Settings::default());
        }
        let text = read_profile_text(&path)?;
        ron_options()
            .from_str::<Settings>(&text)
            .map_err(|e| spanned(&path.display().to_string(), &e).into())
    }

    /// Write the settings atomically (keeping `config.ron.bak`).
    pub fn save(&self, store: &Store) -> Result<(), StoreError> {
        let path = store.settings_path();
        fs::create_dir_all(store.config_dir()).map_err(super::io_err(store.config_dir()))?;
        let pretty = ron::ser::PrettyConfig::new().struct_names(false);
        let mut text =
            ron_options()
                .to_string_pretty(self, pretty)
                .map_err(|e| StoreError::Serialize {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
        text.push('\n');
        Ok(atomic::write_atomic(&path, text.as_bytes(), true)?)
    }

    /// The stored profile `from` was renamed to `to` (`None`: removed):
    /// when it was the last profile opened, say so in the settings.
    pub fn follow(store: &Store, from: &str, to: Option<&str>) -> Result<(), StoreError> {
        let mut s = Settings::load(store)?;
        if s.last_profile.as_deref() != Some(from) {
            return Ok(());
        }
        s.last_profile = to.map(str::to_string);
        s.save(store)
    }

    /// Record the theme the editor and the launch view start with (`None`:
    /// the default), as a theme-cycling key does: load, set, save. A
    /// malformed settings file is reported, not overwritten.
    pub fn set_theme(store: &Store, theme: Option<&str>) -> Result<(), StoreError> {
        let mut s = Settings::load(store)?;
        if s.theme.as_deref() == theme {
            return Ok(());
        }
        s.theme = theme.map(str::to_string);
        s.save(store)
    }

    /// Record `name` as the last profile opened: load, set, save. A
    /// malformed settings file is reported, not overwritten.
    pub fn set_last_profile(store: &Store, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        let mut s = Settings::load(store)?;
        if s.last_profile.as_deref() == Some(name) {
            return Ok(());
        }
        s.last_profile = Some(name.to_string());
        s.save(store)
    }
}
