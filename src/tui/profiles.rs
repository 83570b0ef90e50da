//! What the `o` picker lists, how a pick is read, and the last used
//! profile: a thin layer over [`crate::store::Store`] so the app's effects
//! have one place to call.

use crate::core::profile::Profile;
use crate::core::size::format_human;
use crate::source;
use crate::source::SourceError;
use crate::store::{Entry, Origin, Settings, Store, StoreError, Summary};
use std::path::PathBuf;

/// Where a profile in the picker comes from: a store name (a stored
/// profile, else the built-in example of that name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRef(pub String);

/// One row of the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEntry {
    pub name: String,
    pub summary: String,
    pub source: ProfileRef,
    /// A built-in example: it can be opened, not renamed or removed.
    pub builtin: bool,
}

/// A profile read for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub profile: Profile,
    /// The file saves go back to (`None` for a built-in example).
    pub path: Option<PathBuf>,
    /// The store name, for "last used".
    pub name: Option<String>,
}

/// One line about a profile: DIMM count, the NVDIMM files' size and what
/// the guest sees of them, description.
pub fn summary(s: &Summary) -> String {
    let n = s.devices;
    let guest = s
        .guest_pmem_bytes
        .map(format_human)
        .unwrap_or_else(|| "?".into());
    let mut out = format!(
        "{n} DIMM{}, {} pmem files, guest sees {guest}",
        if n == 1 { "" } else { "s" },
        format_human(s.pmem_bytes)
    );
    if !s.description.is_empty() {
        out.push_str(" - ");
        out.push_str(&s.description);
    }
    out
}

fn entry(e: Entry) -> ProfileEntry {
    let builtin = matches!(e.origin, Origin::BuiltIn);
    ProfileEntry {
        name: if builtin {
            format!("{} (built in)", e.name)
        } else {
            e.name.clone()
        },
        summary: match &e.summary {
            Ok(s) => summary(s),
            Err(err) => format!("unreadable: {err}"),
        },
        source: ProfileRef(e.name),
        builtin,
    }
}

/// The profiles the picker offers: the stored ones, then the built-in
/// examples not hidden by a stored profile of the same name.
pub fn list(store: &Store) -> Result<Vec<ProfileEntry>, StoreError> {
    let entries = store.list()?;
    Ok(entries
        .into_iter()
        .filter(|e| !e.shadowed)
        .map(entry)
        .collect())
}

/// Read a picked profile and remember it as the last used.
pub fn load(store: &Store, r: &ProfileRef) -> Result<Opened, SourceError> {
    let loaded = source::load_with(store, Some(&r.0), None)?;
    let _ = Settings::set_last_profile(store, &r.0);
    Ok(Opened {
        profile: loaded.profile,
        path: loaded.path,
        name: loaded.name,
    })
}

/// The profile the TUI last opened or saved by name, if any.
pub fn last_used(store: &Store) -> Option<String> {
    Settings::load(store).ok()?.last_profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lists_stored_profiles_then_examples_and_opens_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("config"), dir.path().join("data"));
        store.save("b", &Profile::empty("b")).unwrap();
        store.save("a", &Profile::seed(Path::new("/vms"))).unwrap();
        std::fs::write(store.profiles_dir().join("bad.ron"), "(").unwrap();
        let l = list(&store).unwrap();
        let names: Vec<&str> = l.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(&names[..3], ["a", "b", "bad"]);
        assert!(names.contains(&"default (built in)"), "{names:?}");
        assert!(
            l[0].summary
                .starts_with("2 DIMMs, 34 GiB pmem files, guest sees 33.75 GiB"),
            "{}",
            l[0].summary
        );
        assert!(l[2].summary.starts_with("unreadable"), "{}", l[2].summary);
        let o = load(&store, &l[1].source).unwrap();
        assert_eq!(o.profile.name, "b");
        assert_eq!(o.path.unwrap(), store.profiles_dir().join("b.ron"));
        assert_eq!(last_used(&store).as_deref(), Some("b"));
        // A stored profile hides the example of the same name.
        store.save("default", &Profile::empty("x")).unwrap();
        let l = list(&store).unwrap();
        assert!(!l.iter().any(|e| e.name == "default (built in)"));
        let builtin = load(&store, &ProfileRef("small".into())).unwrap();
        assert_eq!(builtin.path, None);
    }
}
