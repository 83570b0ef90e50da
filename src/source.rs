//! Where a profile comes from: a stored profile NAME, a built-in example,
//! a `.ron` file, a libvirt domain XML file, a pasted command line, or the
//! built-in default.
//!
//! How a SOURCE string is resolved:
//! 1. It contains `/` or ends in `.ron`: it is a file path, and only that
//!    (`./default` reads the file `default` in the current directory).
//! 2. Otherwise, if it is a valid profile name: the stored profile
//!    `$XDG_CONFIG_HOME/qpmem/profiles/NAME.ron`, else the built-in example
//!    NAME, else a file called NAME in the current directory.
//! 3. Otherwise (a name no profile can have, such as `.hidden`): a path.
//!
//! A file whose first element is `<domain` (after an XML declaration,
//! comments and white space) is read as a libvirt domain, with the notes
//! of what it could not carry as import notes; its `path` is not kept, so
//! nothing writes a profile over the XML.
//!
//! A stored profile shadows an example of the same name. When nothing is
//! found the error lists every place looked in. `${data}` in the profile's
//! paths is expanded to the data directory whatever the source.

use crate::core::cmdline::{import, ImportNote};
use crate::core::examples;
use crate::core::libvirt_import::{import_domain, is_domain_xml};
use crate::core::profile::Profile;
use crate::core::profile_ron::parse_profile;
use crate::store::{self, Store};
use std::path::{Path, PathBuf};

/// A profile and how it was obtained.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub profile: Profile,
    /// What an imported command line got wrong (empty for files).
    pub notes: Vec<ImportNote>,
    /// The file it was read from, when it was one.
    pub path: Option<PathBuf>,
    /// The store name it was opened by (a stored profile or an example).
    pub name: Option<String>,
    /// It is a built-in example (read-only).
    pub builtin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("give either a SOURCE or --cmdline, not both")]
    Both,
    #[error(transparent)]
    Import(#[from] crate::core::cmdline::ImportError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A domain XML file libvirt would not take either: the file, then why.
    #[error("{}: {}", .0.0, .0.1)]
    Domain(Box<(String, crate::core::libvirt_import::DomainError)>),
    #[error("no profile '{name}': looked for the stored profile {stored}, a built-in example (there are: {examples}) and the file ./{name}")]
    NotFound {
        name: String,
        stored: String,
        examples: String,
    },
    #[error("no profile file '{path}' (a SOURCE with '/' or ending in .ron is read as a path)")]
    NoFile { path: String },
}

/// Resolve `[SOURCE]` / `--cmdline STRING` / neither (the built-in
/// default) against the user's store.
pub fn load(source: Option<&str>, cmdline: Option<&str>) -> Result<Loaded, SourceError> {
    match (source, cmdline) {
        // Neither needs the store's directories beyond the data dir.
        (None, _) | (Some(_), Some(_)) => load_with(&Store::from_env_or_temp(), source, cmdline),
        (Some(_), None) => load_with(&Store::from_env()?, source, cmdline),
    }
}

/// [`load`] against a given store.
pub fn load_with(
    store: &Store,
    source: Option<&str>,
    cmdline: Option<&str>,
) -> Result<Loaded, SourceError> {
    match (source, cmdline) {
        (Some(_), Some(_)) => Err(SourceError::Both),
        (None, Some(line)) => {
            let (profile, notes) = import(line)?;
            Ok(Loaded {
                profile,
                notes,
                path: None,
                name: None,
                builtin: false,
            })
        }
        (Some(source), None) => resolve(store, source),
        (None, None) => Ok(Loaded {
            profile: Profile::seed(store.data_dir()),
            notes: Vec::new(),
            path: None,
            name: None,
            builtin: true,
        }),
    }
}

/// Does this SOURCE name a file rather than a stored profile?
pub fn is_path_like(source: &str) -> bool {
    source.contains('/') || source.ends_with(".ron") || store::validate_name(source).is_err()
}

fn resolve(store: &Store, source: &str) -> Result<Loaded, SourceError> {
    if !is_path_like(source) {
        if let Some((profile, origin)) = store.open(source)? {
            let (path, builtin) = match origin {
                store::Origin::Stored { path, .. } => (Some(path), false),
                store::Origin::BuiltIn => (None, true),
            };
            return Ok(Loaded {
                profile,
                notes: Vec::new(),
                path,
                name: Some(source.to_string()),
                builtin,
            });
        }
        if !Path::new(source).is_file() {
            return Err(SourceError::NotFound {
                name: source.to_string(),
                stored: store.profile_path(source)?.display().to_string(),
                examples: examples::names(),
            });
        }
    } else if !Path::new(source).exists() {
        return Err(SourceError::NoFile {
            path: source.to_string(),
        });
    }
    let path = PathBuf::from(source);
    let text = store::read_profile_text(&path)?;
    if is_domain_xml(&text) {
        let (profile, notes) = import_domain(&text)
            .map_err(|e| SourceError::Domain(Box::new((path.display().to_string(), e))))?;
        return Ok(Loaded {
            profile,
            notes,
            path: None,
            name: None,
            builtin: false,
        });
    }
    let mut profile =
        parse_profile(&text, &path.display().to_string()).map_err(store::StoreError::from)?;
    examples::expand_placeholders(&mut profile, store.data_dir());
    Ok(Loaded {
        profile,
        notes: Vec::new(),
        path: Some(path),
        name: None,
        builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::at(dir.path().join("config"), dir.path().join("data"));
        (dir, s)
    }

    #[test]
    fn names_find_stored_profiles_then_examples() {
        let (_d, s) = store();
        let ex = load_with(&s, Some("small"), None).unwrap();
        assert!(ex.builtin);
        assert_eq!(ex.name.as_deref(), Some("small"));
        assert!(ex.profile.devices[0]
            .backend
            .path()
            .unwrap()
            .starts_with(s.data_dir()));

        let mut mine = Profile::empty("x");
        mine.description = "mine".into();
        s.save("small", &mine).unwrap();
        let st = load_with(&s, Some("small"), None).unwrap();
        assert!(!st.builtin);
        assert_eq!(st.profile.description, "mine");
        assert_eq!(st.profile.name, "small");
    }

    #[test]
    fn missing_names_say_where_they_were_looked_for() {
        let (_d, s) = store();
        let e = load_with(&s, Some("nothing-here"), None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("'nothing-here'"), "{msg}");
        assert!(msg.contains("profiles/nothing-here.ron"), "{msg}");
        assert!(msg.contains("default, small"), "{msg}");
        let e = load_with(&s, Some("dir/none.ron"), None).unwrap_err();
        assert!(matches!(e, SourceError::NoFile { .. }), "{e}");
    }

    #[test]
    fn path_like_sources_are_paths() {
        assert!(is_path_like("./default"));
        assert!(is_path_like("x.ron"));
        assert!(is_path_like(".hidden"));
        assert!(!is_path_like("default"));
        assert!(!is_path_like("my setup"));
    }
}
