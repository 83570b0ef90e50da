//! The key map in use: [`crate::tui::action::DEFAULTS`] with the user's
//! `keys.ron` (in qpmem's config directory, beside `config.ron`) merged
//! over it.
//!
//! Every section and entry of the file is optional; an entry replaces the
//! keys of that action in that section, and a key it takes is taken away
//! from whatever default had it where the two could clash:
//!
//! ```ron
//! (
//!     normal: { add_dimm: ["n"], quit: ["q", "Ctrl-q"] },
//!     move: { down: ["Down", "j", "Ctrl-n"] },
//! )
//! ```
//!
//! A file that cannot be read or makes no sense (an unknown section or
//! action, an action in the wrong section, a key that is not one, the same
//! key twice) is reported and the defaults are used: never fatal.

use super::action::{Action, Chord, Scope, CHAINS, DEFAULTS};
use crossterm::event::KeyEvent;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Key files larger than this are refused unread.
const MAX_KEYS_BYTES: u64 = 1 << 20;

/// The file's name in the config directory.
pub const FILE_NAME: &str = "keys.ron";

/// Why a key file is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Not RON, or not the shape of a key file.
    #[error("{line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well formed, but it makes no sense (names the entry).
    #[error("{0}")]
    Meaning(String),
}

/// What the key lists say for an action with no key.
pub const UNBOUND: &str = "(no key)";

/// One binding in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub scope: Scope,
    pub action: Action,
    pub chords: Vec<Chord>,
    /// How many of `chords` the short forms show (all, for the user's own).
    pub short: usize,
}

/// The key map: what the app dispatches through and every key list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
    /// The user's key file, when one was read.
    pub file: Option<PathBuf>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            bindings: DEFAULTS
                .iter()
                .map(|d| Binding {
                    scope: d.scope,
                    action: d.action,
                    chords: d.chords.to_vec(),
                    short: d.short,
                })
                .collect(),
            file: None,
        }
    }
}

/// `keys.ron` as written: one optional map per scope.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct KeysFile {
    always: BTreeMap<Action, Vec<String>>,
    normal: BTreeMap<Action, Vec<String>>,
    #[serde(rename = "move")]
    moves: BTreeMap<Action, Vec<String>>,
    input: BTreeMap<Action, Vec<String>>,
    confirm: BTreeMap<Action, Vec<String>>,
    picker: BTreeMap<Action, Vec<String>>,
}

/// Can a key be looked up in both scopes in one mode?
fn share_a_chain(a: Scope, b: Scope) -> bool {
    a == b
        || a == Scope::Always
        || b == Scope::Always
        || CHAINS.iter().any(|c| c.contains(&a) && c.contains(&b))
}

impl Keymap {
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    fn binding(&self, scope: Scope, action: Action) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.action == action)
    }

    /// The action `key` asks for in the first of `scopes` that binds it.
    pub fn action(&self, scopes: &[Scope], key: &KeyEvent) -> Option<Action> {
        scopes.iter().find_map(|s| {
            self.bindings
                .iter()
                .filter(|b| b.scope == *s)
                .find(|b| b.chords.iter().any(|c| c.matches(key)))
                .map(|b| b.action)
        })
    }

    /// Is `key` one of `action`'s keys in `scope`?
    pub fn is(&self, scope: Scope, action: Action, key: &KeyEvent) -> bool {
        self.binding(scope, action)
            .is_some_and(|b| b.chords.iter().any(|c| c.matches(key)))
    }

    /// All of an action's keys in the first of `scopes` that has it, as
    /// the help overlay shows them (`Enter/e`); [`UNBOUND`] when it has none.
    pub fn text(&self, scopes: &[Scope], action: Action) -> String {
        self.join(scopes, action, usize::MAX)
    }

    /// The keys the status bar and dialog prompts show (`Enter`).
    pub fn short(&self, scopes: &[Scope], action: Action) -> String {
        self.join(scopes, action, 0)
    }

    fn join(&self, scopes: &[Scope], action: Action, limit: usize) -> String {
        let Some(b) = scopes.iter().find_map(|s| self.binding(*s, action)) else {
            return UNBOUND.into();
        };
        let n = if limit == 0 { b.short.max(1) } else { limit };
        let keys: Vec<String> = b.chords.iter().take(n).map(Chord::to_string).collect();
        if keys.is_empty() {
            UNBOUND.into()
        } else {
            keys.join("/")
        }
    }

    /// Key file text merged over the defaults.
    pub fn parse(text: &str) -> Result<Keymap, KeysError> {
        let file: KeysFile = ron::Options::default()
            .with_recursion_limit(16)
            .from_str(text)
            .map_err(|e| KeysError::Syntax {
                line: e.span.start.line,
                column: e.span.start.col,
                message: e.code.to_string(),
            })?;
        Keymap::merge(file).map_err(KeysError::Meaning)
    }

    fn merge(file: KeysFile) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        let sections = [
            (Scope::Always, file.always),
            (Scope::Normal, file.normal),
            (Scope::Move, file.moves),
            (Scope::Input, file.input),
            (Scope::Confirm, file.confirm),
            (Scope::Picker, file.picker),
        ];
        // (scope, action, chords) the user gave.
        let mut mine: Vec<(Scope, Action, Vec<Chord>)> = Vec::new();
        for (scope, entries) in sections {
            for (action, keys) in entries {
                let name = format!("{}.{}", scope.section(), action_name(action));
                if map.binding(scope, action).is_none() {
                    let home = DEFAULTS
                        .iter()
                        .find(|d| d.action == action)
                        .map(|d| format!(" (it is in {})", d.scope.section()))
                        .unwrap_or_default();
                    return Err(format!("{name}: not a key of {}{home}", scope.section()));
                }
                let chords = keys
                    .iter()
                    .map(|k| k.parse::<Chord>().map_err(|e| format!("{name}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                mine.push((scope, action, chords));
            }
        }
        for (i, (scope, action, chords)) in mine.iter().enumerate() {
            for c in chords {
                let other = mine[..i].iter().find(|(s, a, cs)| {
                    cs.contains(c) && share_a_chain(*s, *scope) && (s, a) != (scope, action)
                });
                if let Some((s, a, _)) = other {
                    return Err(format!(
                        "\"{c}\" is given to both {}.{} and {}.{}",
                        s.section(),
                        action_name(*a),
                        scope.section(),
                        action_name(*action)
                    ));
                }
            }
        }
        for (scope, action, chords) in mine {
            // The user's key wins: no default keeps it where it could clash.
            for b in map.bindings.iter_mut() {
                if share_a_chain(b.scope, scope) && (b.scope, b.action) != (scope, action) {
                    b.chords.retain(|c| !chords.contains(c));
                }
            }
            if let Some(b) = map
                .bindings
                .iter_mut()
                .find(|b| b.scope == scope && b.action == action)
            {
                b.short = chords.len();
                b.chords = chords;
            }
        }
        Ok(map)
    }

    /// Where the key file lives in `config_dir`.
    pub fn path(config_dir: &Path) -> PathBuf {
        config_dir.join(FILE_NAME)
    }

    /// The key map for `config_dir`: the defaults, with `keys.ron` merged
    /// over them when it exists. When the file is unusable, the defaults
    /// and why.
    pub fn load(config_dir: Option<&Path>) -> (Keymap, Option<String>) {
        let Some(dir) = config_dir else {
            return (Keymap::default(), None);
        };
        let path = Keymap::path(dir);
        if std::fs::symlink_metadata(&path).is_err() {
            return (Keymap::default(), None);
        }
        let read = || -> Result<Keymap, String> {
            let bytes =
                crate::files::read_regular(&path, MAX_KEYS_BYTES).map_err(|e| e.to_string())?;
            let text = String::from_utf8(bytes)
                .map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
            Keymap::parse(&text).map_err(|e| match e {
                KeysError::Syntax { .. } => format!("{}:{e}", path.display()),
                KeysError::Meaning(_) => format!("{}: {e}", path.display()),
            })
        };
        match read() {
            Ok(mut map) => {
                map.file = Some(path);
                (map, None)
            }
            Err(e) => (
                Keymap::default(),
                Some(format!("keys {e}; using the default keys")),
            ),
        }
    }
}

/// An action as `keys.ron` spells it.
fn action_name(a: Action) -> String {
    ron::to_string(&a).unwrap_or_else(|_| format!("{a:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn every_action_has_one_default_and_no_key_clashes_in_a_chain() {
        let map = Keymap::default();
        let bs = map.bindings();
        for (i, a) in bs.iter().enumerate() {
            for b in &bs[..i] {
                assert!(
                    (a.scope, a.action) != (b.scope, b.action),
                    "{:?} bound twice",
                    a.action
                );
                if share_a_chain(a.scope, b.scope) {
                    for c in &a.chords {
                        assert!(
                            !b.chords.contains(c),
                            "{c} is {:?} and {:?}",
                            a.action,
                            b.action
                        );
                    }
                }
            }
            assert!(!a.chords.is_empty() && a.short <= a.chords.len());
        }
    }

    #[test]
    fn keys_map_to_actions_in_their_scopes() {
        let m = Keymap::default();
        let n = crate::tui::action::NORMAL;
        assert_eq!(m.action(n, &key('a')), Some(Action::AddDimm));
        assert_eq!(
            m.action(n, &KeyEvent::new(KeyCode::Char('J'), KeyModifiers::SHIFT)),
            Some(Action::MoveDown)
        );
        assert_eq!(
            m.action(n, &KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::Redo)
        );
        assert_eq!(m.action(n, &key('r')), Some(Action::ToggleRecipe));
        assert_eq!(m.action(n, &key('j')), Some(Action::Down));
        assert_eq!(m.action(n, &key('x')), None);
        let confirm = crate::tui::action::CONFIRM;
        assert_eq!(m.action(confirm, &key('Y')), Some(Action::Yes));
        assert_eq!(m.action(confirm, &key('q')), Some(Action::No));
        let picker = crate::tui::action::PICKER;
        assert_eq!(m.action(picker, &key('d')), Some(Action::RemoveProfile));
        assert_eq!(m.action(picker, &key('j')), Some(Action::Down));
        assert_eq!(m.text(n, Action::Edit), "Enter/e");
        assert_eq!(m.short(confirm, Action::Yes), "y");
        assert_eq!(m.text(confirm, Action::Yes), "y/Y/Enter");
    }

    #[test]
    fn a_key_file_overrides_and_takes_keys_from_defaults() {
        let m =
            Keymap::parse(r#"(normal: { add_dimm: ["n", "a"] }, move: { down: ["Down", "a"] })"#)
                .unwrap_err()
                .to_string();
        assert!(m.contains("\"a\""), "{m}");
        let m = Keymap::parse(r#"(normal: { quit: ["a"] }, picker: { cancel: ["x"] })"#).unwrap();
        let n = crate::tui::action::NORMAL;
        assert_eq!(m.action(n, &key('a')), Some(Action::Quit));
        assert_eq!(m.text(n, Action::AddDimm), UNBOUND, "a went to quit");
        assert_eq!(m.action(n, &key('q')), None);
        assert_eq!(m.short(n, Action::Quit), "a");
        let picker = crate::tui::action::PICKER;
        assert_eq!(m.action(picker, &key('x')), Some(Action::Cancel));
        assert_eq!(m.action(picker, &key('q')), None);
        // Input keeps its own Esc: another scope.
        assert_eq!(
            m.text(crate::tui::action::INPUT, Action::Cancel),
            "Esc",
            "input is not the picker"
        );
        assert_eq!(Keymap::parse("()").unwrap(), Keymap::default());
    }

    #[test]
    fn a_bad_key_file_names_what_is_wrong() {
        for (text, want) in [
            (
                "(normal: { yes: [\"y\"] })",
                "normal.yes: not a key of normal (it is in confirm)",
            ),
            (
                "(normal: { add_dimm: [\"Ctrl-\"] })",
                "normal.add_dimm: \"Ctrl-\" is not a key",
            ),
            ("(normal: { fly: [\"f\"] })", "fly"),
            ("(keys: {})", "keys"),
            ("(normal: { add_dimm: \"n\" })", "1:"),
            ("(", "1:"),
        ] {
            let e = Keymap::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn load_reads_the_file_in_the_config_dir_and_reports_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Keymap::load(Some(dir.path())), (Keymap::default(), None));
        std::fs::write(dir.path().join("keys.ron"), "(normal: { undo: [\"z\"] })").unwrap();
        let (m, problem) = Keymap::load(Some(dir.path()));
        assert_eq!(problem, None);
        assert_eq!(
            m.file.as_deref(),
            Some(dir.path().join("keys.ron").as_path())
        );
        assert_eq!(
            m.action(crate::tui::action::NORMAL, &key('z')),
            Some(Action::Undo)
        );
        std::fs::write(dir.path().join("keys.ron"), "(normal: {").unwrap();
        let (m, problem) = Keymap::load(Some(dir.path()));
        assert_eq!(m, Keymap::default());
        let p = problem.unwrap();
        assert!(p.contains("keys.ron:1:"), "{p}");
        assert!(p.contains("using the default keys"), "{p}");
        // A FIFO is refused unread, without hanging.
        std::fs::remove_file(dir.path().join("keys.ron")).unwrap();
        crate::testutil::mkfifo(&dir.path().join("keys.ron"));
        let path = dir.path().to_path_buf();
        let (m, problem) = crate::testutil::promptly(move || Keymap::load(Some(&path)));
        assert_eq!(m, Keymap::default());
        assert!(problem.unwrap().contains("FIFO"));
    }
}
