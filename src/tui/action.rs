//! What a key press means: one serde [`Action`] enum and the key map that
//! produces it.
//!
//! The key map ([`KEYMAP`]) is the single source of truth for bindings: the
//! app dispatches through it, the status bar's hints and the help overlay
//! are drawn from it, and a test checks the README lists every entry.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::{Deserialize, Serialize};

/// Everything a key can ask for outside text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    AddDimm,
    DeleteDimm,
    Edit,
    MoveDown,
    MoveUp,
    NextPane,
    PrevPane,
    ApplyFix,
    Undo,
    Redo,
    Save,
    Open,
    Copy,
    Launch,
    Verify,
    ToggleRecipe,
    Help,
    Quit,
    ForceQuit,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    ZoomIn,
    ZoomOut,
    ZoomFit,
    Cancel,
}

/// Where a binding applies (the help overlay groups by this; the status
/// bar shows the focused pane's group first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Anywhere outside text input and dialogs.
    Global,
    /// Moving within the focused pane.
    Move,
    /// The address map pane.
    Map,
    /// The diagnostics pane.
    Diagnostics,
    /// The command-line pane.
    Cmdline,
}

/// One key (code plus Ctrl/Alt; Shift is implied by the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}
const fn ctrl(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}
const fn code(code: KeyCode) -> Chord {
    Chord { code, ctrl: false }
}

/// A binding: what the user reads (`keys`), what it matches, what it does.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static str,
    pub chords: &'static [Chord],
    pub action: Action,
    pub scope: Scope,
    pub help: &'static str,
    /// Shown in the status bar's short hint list.
    pub hint: Option<&'static str>,
}

const fn b(
    keys: &'static str,
    chords: &'static [Chord],
    action: Action,
    scope: Scope,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        chords,
        action,
        scope,
        help,
        hint,
    }
}

/// The key map.
#[rustfmt::skip]
pub static KEYMAP: &[Binding] = &[
    b("a", &[key('a')], Action::AddDimm, Scope::Global, "add a DIMM", Some("add")),
    b("d", &[key('d')], Action::DeleteDimm, Scope::Global, "delete the selected DIMM (asks first)", Some("delete")),
    b("Enter/e", &[code(KeyCode::Enter), key('e')], Action::Edit, Scope::Global, "edit the selected DIMM or field", Some("edit")),
    b("J", &[key('J')], Action::MoveDown, Scope::Global, "move the selected DIMM down", None),
    b("K", &[key('K')], Action::MoveUp, Scope::Global, "move the selected DIMM up", None),
    b("Tab", &[code(KeyCode::Tab)], Action::NextPane, Scope::Global, "next pane", Some("pane")),
    b("Shift-Tab", &[code(KeyCode::BackTab)], Action::PrevPane, Scope::Global, "previous pane", None),
    b("f", &[key('f')], Action::ApplyFix, Scope::Global, "apply the selected diagnostic's fix", Some("fix")),
    b("u", &[key('u')], Action::Undo, Scope::Global, "undo", Some("undo")),
    b("Ctrl-r", &[ctrl('r')], Action::Redo, Scope::Global, "redo", None),
    b("s", &[key('s')], Action::Save, Scope::Global, "save the profile", Some("save")),
    b("o", &[key('o')], Action::Open, Scope::Global, "open a profile", Some("open")),
    b("y", &[key('y')], Action::Copy, Scope::Global, "copy the command line", Some("copy")),
    b("l", &[key('l')], Action::Launch, Scope::Global, "launch the VM", Some("launch")),
    b("?", &[key('?')], Action::Help, Scope::Global, "help (this list)", Some("help")),
    b("q", &[key('q')], Action::Quit, Scope::Global, "quit (asks when there are unsaved changes)", Some("quit")),
    b("Ctrl-c", &[ctrl('c')], Action::ForceQuit, Scope::Global, "quit at once, always", None),
    b("Esc", &[code(KeyCode::Esc)], Action::Cancel, Scope::Global, "close help or a dialog, cancel an edit", None),
    b("Up/k", &[code(KeyCode::Up), key('k')], Action::Up, Scope::Move, "previous item (or scroll up)", None),
    b("Down/j", &[code(KeyCode::Down), key('j')], Action::Down, Scope::Move, "next item (or scroll down)", None),
    b("Left/h", &[code(KeyCode::Left), key('h')], Action::Left, Scope::Move, "scroll left", None),
    b("Right", &[code(KeyCode::Right)], Action::Right, Scope::Move, "scroll right", None),
    b("PgUp", &[code(KeyCode::PageUp)], Action::PageUp, Scope::Move, "page up", None),
    b("PgDn", &[code(KeyCode::PageDown)], Action::PageDown, Scope::Move, "page down", None),
    b("Home/g", &[code(KeyCode::Home), key('g')], Action::Top, Scope::Move, "first item", None),
    b("End/G", &[code(KeyCode::End), key('G')], Action::Bottom, Scope::Move, "last item", None),
    b("+", &[key('+'), key('=')], Action::ZoomIn, Scope::Map, "zoom in", Some("zoom")),
    b("-", &[key('-')], Action::ZoomOut, Scope::Map, "zoom out", None),
    b("0", &[key('0')], Action::ZoomFit, Scope::Map, "fit the whole map", None),
    b("r", &[key('r')], Action::ToggleRecipe, Scope::Cmdline, "show the guest recipe (ndctl, mkfs, mount) or the command line", Some("recipe")),
    b("v", &[key('v')], Action::Verify, Scope::Diagnostics, "verify in a throwaway guest; v again cancels", Some("verify")),
];

/// Mouse use, for the help overlay and README.
pub const MOUSE_HELP: &[(&str, &str)] = &[
    (
        "click",
        "focus a pane and select the item under the pointer",
    ),
    ("wheel", "scroll the pane under the pointer"),
];

/// Keys inside dialogs and text fields, for the help overlay.
pub const DIALOG_HELP: &[(&str, &str)] = &[
    ("y/Enter", "confirm a question"),
    ("n/Esc", "decline a question"),
    ("Enter", "commit a field (only when it is valid)"),
    ("Esc", "cancel the field edit"),
    ("Ctrl-A/E", "start / end of the text (also Home/End)"),
    ("Ctrl-U/K", "delete to the start / to the end"),
    ("Ctrl-W", "delete the word before the cursor"),
];

impl Chord {
    fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl != self.ctrl || ev.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        match (self.code, ev.code) {
            // Ctrl-R may arrive as 'R' when Shift is held too.
            (KeyCode::Char(a), KeyCode::Char(b)) if self.ctrl => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        }
    }
}

/// The action a key press asks for, if any. Key releases and repeats of
/// releases (kitty protocol) are ignored.
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    KEYMAP
        .iter()
        .find(|b| b.chords.iter().any(|c| c.matches(ev)))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn keys_map_to_actions() {
        let n = KeyModifiers::NONE;
        assert_eq!(
            action_for(&ev(KeyCode::Char('a'), n)),
            Some(Action::AddDimm)
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('J'), KeyModifiers::SHIFT)),
            Some(Action::MoveDown)
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::Redo)
        );
        // Plain r is another key than Ctrl-r.
        assert_eq!(
            action_for(&ev(KeyCode::Char('r'), n)),
            Some(Action::ToggleRecipe)
        );
        assert_eq!(action_for(&ev(KeyCode::Char('x'), n)), None);
        assert_eq!(
            action_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            action_for(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(action_for(&ev(KeyCode::Enter, n)), Some(Action::Edit));
        assert_eq!(action_for(&ev(KeyCode::Char('a'), KeyModifiers::ALT)), None);
    }

    #[test]
    fn every_action_has_one_binding_entry_and_chords_do_not_clash() {
        let mut seen = Vec::new();
        for b in KEYMAP {
            assert!(!seen.contains(&b.action), "{:?} bound twice", b.action);
            seen.push(b.action);
            for c in b.chords {
                let first = KEYMAP
                    .iter()
                    .find(|o| o.chords.contains(c))
                    .map(|o| o.action);
                assert_eq!(first, Some(b.action), "{c:?} clashes");
            }
        }
    }

    #[test]
    fn actions_round_trip_through_serde() {
        let text = ron::to_string(&Action::ApplyFix).unwrap();
        assert_eq!(text, "apply_fix");
        assert_eq!(ron::from_str::<Action>("zoom_in").unwrap(), Action::ZoomIn);
    }
}
