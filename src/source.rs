//! Where a profile comes from: a `.ron` file, a pasted command line, or
//! the built-in default.

use crate::cmdline::{import, ImportNote};
use crate::profile::Profile;
use crate::store;
use std::path::PathBuf;

/// A profile and how it was obtained.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub profile: Profile,
    /// What an imported command line got wrong (empty for files).
    pub notes: Vec<ImportNote>,
    /// The file it was read from, when it was one.
    pub path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("give either a SOURCE or --cmdline, not both")]
    Both,
    #[error(transparent)]
    Import(#[from] crate::cmdline::ImportError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Resolve `[SOURCE]` / `--cmdline STRING` / neither (the built-in default).
pub fn load(source: Option<&str>, cmdline: Option<&str>) -> Result<Loaded, SourceError> {
    match (source, cmdline) {
        (Some(_), Some(_)) => Err(SourceError::Both),
        (None, Some(line)) => {
            let (profile, notes) = import(line)?;
            Ok(Loaded {
                profile,
                notes,
                path: None,
            })
        }
        (Some(path), None) => {
            let path = PathBuf::from(path);
            let profile = store::load_profile(&path)?;
            Ok(Loaded {
                profile,
                notes: Vec::new(),
                path: Some(path),
            })
        }
        (None, None) => Ok(Loaded {
            profile: Profile::seed(&store::data_dir()),
            notes: Vec::new(),
            path: None,
        }),
    }
}
