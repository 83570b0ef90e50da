//! The profile's RON form: the text a person edits and qpmem saves.
//!
//! Pure: text in, [`Profile`] out and back, with errors that point at the
//! line and name the field. Reading and writing the files is the store's
//! business (`crate::store`).

use crate::core::profile::{Profile, StringError, PROFILE_VERSION};
use ron::extensions::Extensions;
use serde::Deserialize;

/// Why a profile's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RonError {
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// Where the text came from: a path, `<stdin>`, `built-in:NAME`.
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: profile version {found} is newer than this qpmem understands (up to {PROFILE_VERSION}); upgrade qpmem")]
    TooNew { origin: String, found: u32 },
    #[error("{origin}: {source}")]
    BadString { origin: String, source: StringError },
}

/// The RON dialect of every file qpmem reads and writes: `Some` implied
/// (`kernel: "/boot/x"`), nesting bounded.
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(64)
}

/// A RON error at its line and column, from text that came from `origin`.
pub fn spanned(origin: &str, e: &ron::error::SpannedError) -> RonError {
    RonError::Parse {
        origin: origin.to_string(),
        line: e.span.start.line,
        column: e.span.start.col,
        message: e.code.to_string(),
    }
}

/// Parse profile text; `origin` names it in errors (a path or `<stdin>`).
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, RonError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    if text.trim().is_empty() {
        return Err(RonError::Parse {
            origin: origin.to_string(),
            line: 1,
            column: 1,
            message:
                "the file is empty (a profile starts with `(`; see `qpmem profiles show default`)"
                    .to_string(),
        });
    }
    let position = |e: ron::error::SpannedError| {
        // An error about a field names it itself; the line's first field
        // may be another one (`name: "x", bogus: 3`).
        if matches!(
            e.code,
            ron::Error::NoSuchStructField { .. }
                | ron::Error::MissingStructField { .. }
                | ron::Error::DuplicateStructField { .. }
        ) {
            return spanned(origin, &e);
        }
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
        let mut err = spanned(origin, &e);
        if let (Some(f), RonError::Parse { message, .. }) = (field, &mut err) {
            *message = format!("{f}: {message}");
        }
        err
    };
    // Parse first (the common case pays for one pass only); when that
    // fails, a newer version gets the right complaint rather than one
    // about the fields it added.
    let too_new = |found| RonError::TooNew {
        origin: origin.to_string(),
        found,
    };
    match ron_options().from_str::<Profile>(text) {
        Ok(p) if p.version > PROFILE_VERSION => Err(too_new(p.version)),
        Ok(p) => match p.check_strings() {
            Ok(()) => Ok(p),
            Err(source) => Err(RonError::BadString {
                origin: origin.to_string(),
                source,
            }),
        },
        Err(e) => match ron_options().from_str::<VersionOnly>(text) {
            Ok(v) if v.version > PROFILE_VERSION => Err(too_new(v.version)),
            _ => Err(position(e)),
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        assert!(matches!(e, RonError::TooNew { found: 9, .. }), "{e}");
        let e = parse_profile("(version: 2, name: \"x\")", "p.ron").unwrap_err();
        assert!(matches!(e, RonError::TooNew { found: 2, .. }), "{e}");
        assert!(parse_profile("", "p.ron").is_err());
    }

    #[test]
    fn an_empty_file_says_so() {
        for text in ["", "  \n\t\n"] {
            let msg = parse_profile(text, "p.ron").unwrap_err().to_string();
            assert!(msg.starts_with("p.ron:1:1: the file is empty"), "{msg}");
        }
    }

    #[test]
    fn an_unknown_field_is_not_blamed_on_its_neighbour() {
        let e = parse_profile("(version: 1,\n ram: \"2G\", bogus: 3)", "p.ron").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("p.ron:2:"), "{msg}");
        assert!(msg.contains("`bogus`"), "{msg}");
        assert!(!msg.contains("ram:"), "{msg}");
        // A value's error still gets its field's name.
        let e =
            parse_profile("(version: 1,\n name: \"x\",\n ram: \"2X\",\n)", "p.ron").unwrap_err();
        assert!(e.to_string().contains(": ram: "), "{e}");
    }
}
