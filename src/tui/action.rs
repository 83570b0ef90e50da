//! What a key press means: one serde [`Action`] enum, the [`Scope`]s a
//! key is looked up in, and the default key table ([`DEFAULTS`]).
//!
//! The table is the single source of truth for bindings: the app
//! dispatches through it (as a [`crate::tui::keymap::Keymap`], with the
//! user's `keys.ron` merged over it), the status bar's hints, the dialogs'
//! prompts and the help overlay show the keys it holds, and a test checks
//! that README and the overlay list every entry. What each key does where
//! is said by the component that handles it (a [`Command`] list beside
//! its code); the keys of the app as a whole are [`GLOBAL`] and [`MOVE`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Normal: the editor outside fields and dialogs.
    AddDimm,
    /// A switch below the selected root port (the CXL pane).
    AddSwitch,
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
    SaveAs,
    Open,
    Copy,
    Launch,
    Verify,
    ToggleRecipe,
    Help,
    Quit,
    ZoomIn,
    ZoomOut,
    ZoomFit,
    CycleTheme,
    SavePicture,
    // Always: in every mode.
    ForceQuit,
    // Move: in a pane, the picker and the help overlay.
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    // Input: a field being edited, the Save-as and Rename prompts.
    Commit,
    Cancel,
    LineStart,
    LineEnd,
    CharLeft,
    CharRight,
    DeleteBack,
    DeleteForward,
    KillToStart,
    KillToEnd,
    KillWord,
    // Confirm: a yes/no question.
    Yes,
    No,
    // Picker: the open-a-profile list (`Cancel` closes it).
    Choose,
    RenameProfile,
    RemoveProfile,
    /// Select item `n` of a pane: what a mouse click becomes (never bound
    /// to a key).
    #[serde(skip)]
    Select(usize),
}

/// Where a binding is looked up. Each mode of the app looks in
/// [`Scope::Always`], then in its own chain ([`NORMAL`], [`PICKER`],
/// [`HELP`], [`INPUT`], [`CONFIRM`]); a key file has one section per scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// In every mode, before anything else (Ctrl-c).
    Always,
    /// The editor outside fields and dialogs: global and pane commands.
    Normal,
    /// Moving in a pane, the picker, the help overlay.
    Move,
    /// Text input: a field being edited, Save as, Rename.
    Input,
    /// A yes/no question.
    Confirm,
    /// The open-a-profile picker.
    Picker,
}

impl Scope {
    /// The section of `keys.ron` that holds this scope.
    pub fn section(self) -> &'static str {
        match self {
            Scope::Always => "always",
            Scope::Normal => "normal",
            Scope::Move => "move",
            Scope::Input => "input",
            Scope::Confirm => "confirm",
            Scope::Picker => "picker",
        }
    }
}

/// The scope chains, in lookup order (after [`Scope::Always`]).
pub const NORMAL: &[Scope] = &[Scope::Normal, Scope::Move];
pub const PICKER: &[Scope] = &[Scope::Picker, Scope::Move];
pub const HELP: &[Scope] = &[Scope::Move];
pub const INPUT: &[Scope] = &[Scope::Input];
pub const CONFIRM: &[Scope] = &[Scope::Confirm];
pub const CHAINS: &[&[Scope]] = &[NORMAL, PICKER, HELP, INPUT, CONFIRM];

/// One key: a code plus Ctrl (Shift is implied by the character; Alt
/// combinations are never bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl Chord {
    /// Does this key event press this chord? Releases never do.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        if ev.kind == KeyEventKind::Release {
            return false;
        }
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

/// Named keys, as shown and as written in `keys.ron`.
const NAMES: &[(KeyCode, &str)] = &[
    (KeyCode::Enter, "Enter"),
    (KeyCode::Esc, "Esc"),
    (KeyCode::Tab, "Tab"),
    (KeyCode::BackTab, "Shift-Tab"),
    (KeyCode::Backspace, "Backspace"),
    (KeyCode::Delete, "Delete"),
    (KeyCode::Insert, "Insert"),
    (KeyCode::Up, "Up"),
    (KeyCode::Down, "Down"),
    (KeyCode::Left, "Left"),
    (KeyCode::Right, "Right"),
    (KeyCode::PageUp, "PgUp"),
    (KeyCode::PageDown, "PgDn"),
    (KeyCode::Home, "Home"),
    (KeyCode::End, "End"),
    (KeyCode::Char(' '), "Space"),
];

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        match NAMES.iter().find(|(c, _)| *c == self.code) {
            Some((_, name)) => f.write_str(name),
            None => match self.code {
                KeyCode::Char(c) => write!(f, "{c}"),
                KeyCode::F(n) => write!(f, "F{n}"),
                other => write!(f, "{other:?}"),
            },
        }
    }
}

impl FromStr for Chord {
    type Err = String;

    /// `a`, `J`, `?`, `Ctrl-r`, `Enter`, `Shift-Tab`, `PgDn`, `F5`, `Space`.
    fn from_str(s: &str) -> Result<Chord, String> {
        let bad = || {
            format!(
                "{s:?} is not a key (write a character such as \"a\" or \"?\", \"Ctrl-\" and a \
                 character, or one of: {}, F1-F12)",
                NAMES.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
            )
        };
        let (ctrl, rest) = match s.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("ctrl-") && s.len() > 5 => (true, &s[5..]),
            _ => (false, s),
        };
        if rest.len() > 4
            && rest
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("alt-"))
        {
            return Err(format!("{s:?}: Alt combinations cannot be bound"));
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => {
                KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
            }
            _ => {
                if let Some((c, _)) = NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(rest)) {
                    *c
                } else {
                    match rest
                        .strip_prefix(['F', 'f'])
                        .and_then(|n| n.parse::<u8>().ok())
                    {
                        Some(n) if (1..=12).contains(&n) => KeyCode::F(n),
                        _ => return Err(bad()),
                    }
                }
            }
        };
        Ok(Chord { code, ctrl })
    }
}

/// A default binding: where, what, which keys, and how many of them the
/// short forms (status bar hints, dialog prompts) show.
#[derive(Debug, Clone, Copy)]
pub struct DefaultBinding {
    pub scope: Scope,
    pub action: Action,
    pub chords: &'static [Chord],
    pub short: usize,
}

const fn b(scope: Scope, action: Action, chords: &'static [Chord], short: usize) -> DefaultBinding {
    DefaultBinding {
        scope,
        action,
        chords,
        short,
    }
}

use Scope::{Always, Confirm, Input, Move, Normal, Picker};

/// The default key table: one entry per (scope, action).
#[rustfmt::skip]
pub static DEFAULTS: &[DefaultBinding] = &[
    b(Normal, Action::AddDimm, &[key('a')], 1),
    b(Normal, Action::DeleteDimm, &[key('d')], 1),
    b(Normal, Action::AddSwitch, &[key('w')], 1),
    b(Normal, Action::Edit, &[code(KeyCode::Enter), key('e')], 2),
    b(Normal, Action::MoveDown, &[key('J')], 1),
    b(Normal, Action::MoveUp, &[key('K')], 1),
    b(Normal, Action::NextPane, &[code(KeyCode::Tab)], 1),
    b(Normal, Action::PrevPane, &[code(KeyCode::BackTab)], 1),
    b(Normal, Action::ApplyFix, &[key('f')], 1),
    b(Normal, Action::Undo, &[key('u')], 1),
    b(Normal, Action::Redo, &[ctrl('r')], 1),
    b(Normal, Action::Save, &[key('s')], 1),
    b(Normal, Action::SaveAs, &[key('S')], 1),
    b(Normal, Action::Open, &[key('o')], 1),
    b(Normal, Action::Copy, &[key('y')], 1),
    b(Normal, Action::Launch, &[key('l')], 1),
    b(Normal, Action::Verify, &[key('v')], 1),
    b(Normal, Action::ToggleRecipe, &[key('r')], 1),
    b(Normal, Action::Help, &[key('?')], 1),
    b(Normal, Action::Quit, &[key('q')], 1),
    b(Normal, Action::ZoomIn, &[key('+'), key('=')], 1),
    b(Normal, Action::ZoomOut, &[key('-')], 1),
    b(Normal, Action::ZoomFit, &[key('0')], 1),
    b(Normal, Action::CycleTheme, &[key('t')], 1),
    b(Normal, Action::SavePicture, &[key('p')], 1),
    b(Always, Action::ForceQuit, &[ctrl('c')], 1),
    b(Move, Action::Up, &[code(KeyCode::Up), key('k')], 1),
    b(Move, Action::Down, &[code(KeyCode::Down), key('j')], 1),
    b(Move, Action::Left, &[code(KeyCode::Left), key('h')], 1),
    b(Move, Action::Right, &[code(KeyCode::Right)], 1),
    b(Move, Action::PageUp, &[code(KeyCode::PageUp)], 1),
    b(Move, Action::PageDown, &[code(KeyCode::PageDown)], 1),
    b(Move, Action::Top, &[code(KeyCode::Home), key('g')], 1),
    b(Move, Action::Bottom, &[code(KeyCode::End), key('G')], 1),
    b(Input, Action::Commit, &[code(KeyCode::Enter)], 1),
    b(Input, Action::Cancel, &[code(KeyCode::Esc)], 1),
    b(Input, Action::LineStart, &[code(KeyCode::Home), ctrl('a')], 2),
    b(Input, Action::LineEnd, &[code(KeyCode::End), ctrl('e')], 2),
    b(Input, Action::CharLeft, &[code(KeyCode::Left)], 1),
    b(Input, Action::CharRight, &[code(KeyCode::Right)], 1),
    b(Input, Action::DeleteBack, &[code(KeyCode::Backspace)], 1),
    b(Input, Action::DeleteForward, &[code(KeyCode::Delete)], 1),
    b(Input, Action::KillToStart, &[ctrl('u')], 1),
    b(Input, Action::KillToEnd, &[ctrl('k')], 1),
    b(Input, Action::KillWord, &[ctrl('w')], 1),
    b(Confirm, Action::Yes, &[key('y'), key('Y'), code(KeyCode::Enter)], 1),
    b(Confirm, Action::No, &[key('n'), key('N'), code(KeyCode::Esc), key('q')], 1),
    b(Picker, Action::Choose, &[code(KeyCode::Enter), key('e')], 1),
    b(Picker, Action::RenameProfile, &[key('r')], 1),
    b(Picker, Action::RemoveProfile, &[key('d')], 1),
    b(Picker, Action::Cancel, &[code(KeyCode::Esc), key('q')], 1),
];

/// What a key does in one place, for the help overlay and the status bar.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    pub action: Action,
    pub help: &'static str,
    /// The word shown in the status bar's hints, if it is shown there.
    pub hint: Option<&'static str>,
}

pub const fn cmd(action: Action, help: &'static str, hint: Option<&'static str>) -> Command {
    Command { action, help, hint }
}

/// The editor's own keys: anywhere outside fields and dialogs (in
/// [`Scope::Always`] or [`Scope::Normal`]). `Enter/e` is here for the
/// status bar; each pane says what it does there.
pub const GLOBAL: &[Command] = &[
    cmd(Action::AddDimm, "add a device: asks which kind (nvdimm, pc-dimm, virtio-pmem, virtio-mem); the next free id, the previous device's size (else 1G), on an NVDIMM label 2M, on a file align 128M and a file beside the others", Some("add")),
    cmd(Action::DeleteDimm, "delete the selected DIMM (asks first)", Some("delete")),
    cmd(Action::Edit, "edit: what it does depends on the pane (below)", Some("edit")),
    cmd(Action::MoveDown, "move the selected DIMM down (this changes where QEMU places it)", None),
    cmd(Action::MoveUp, "move the selected DIMM up", None),
    cmd(Action::NextPane, "next pane", Some("pane")),
    cmd(Action::PrevPane, "previous pane", None),
    cmd(Action::ApplyFix, "apply the selected diagnostic's fix", Some("fix")),
    cmd(Action::Undo, "undo", Some("undo")),
    cmd(Action::Redo, "redo", None),
    cmd(Action::Save, "save the profile (the first time it asks for a name or a path ending in .ron)", Some("save")),
    cmd(Action::SaveAs, "save as: asks for a name or a path ending in .ron (later saves go there)", None),
    cmd(Action::Open, "open a profile: the stored ones and the built-in examples", Some("open")),
    cmd(Action::Copy, "copy what the command-line pane shows: the command line, or the guest recipe", Some("copy")),
    cmd(Action::Launch, "launch the VM: the checks of qpmem launch, a one-line question (y/n) at the first launch of the session and before creating files, then its console", Some("launch")),
    cmd(Action::CycleTheme, "next built-in theme (default, light, high-contrast), remembered in config.ron", None),
    cmd(Action::Help, "help (this list)", Some("help")),
    cmd(Action::Quit, "quit (asks when there are unsaved changes)", Some("quit")),
    cmd(Action::ForceQuit, "quit at once, always (in fields and dialogs too)", None),
];

/// Moving in the focused pane (each pane says what an item is).
pub const MOVE: &[Command] = &[
    cmd(Action::Up, "previous item (or scroll up)", None),
    cmd(Action::Down, "next item (or scroll down)", None),
    cmd(Action::PageUp, "page up", None),
    cmd(Action::PageDown, "page down", None),
    cmd(Action::Top, "first item", None),
    cmd(Action::Bottom, "last item", None),
];

/// Mouse use, for the help overlay and README.
pub const MOUSE_HELP: &[(&str, &str)] = &[
    (
        "click",
        "focus a pane and select the item under the pointer (a DIMM in the list or on the map, a field, a diagnostic)",
    ),
    ("wheel", "scroll the pane under the pointer"),
];

/// The guest console's keys (the launch view, [`crate::tui::launch_view`],
/// handles them; they are shown here and cannot be rebound).
pub const CONSOLE_KEYS: &[(&str, &str)] = &[
    (
        "Ctrl-]",
        "while the guest has the keyboard every other key goes to it; this one gives the keyboard to qpmem (the keys below), and back",
    ),
    ("Shift-PgUp/Shift-PgDn", "scroll back while the guest has the keyboard"),
    ("Enter/i", "back to the guest"),
    ("p", "pause / resume the guest (QMP stop / cont)"),
    ("a", "press the ACPI power button (the guest decides)"),
    (
        "+",
        "hotplug a DIMM (the defaults of the editor's a, a file of its own): a panel shows where QEMU will put it, from QEMU's own report of what is plugged, and the rules' findings; +/- double or halve its size, k switches the kind (nvdimm, pc-dimm); f when QEMU has no room for it gives the next launch room (one more slot, maxmem raised; the profile gets it when you leave the view); Enter plugs it (y/n first when it creates the file), Esc cancels; back in the editor the hotplugged DIMMs join the profile (undo takes them out)",
    ),
    (
        "-",
        "unplug the last DIMM hotplugged in this session (QMP device_del): QEMU refuses NVDIMMs and its reason is shown; a pc-dimm goes once the guest releases it",
    ),
    (
        "</>",
        "virtio-mem: ask the guest to plug a memory section less / more of the first virtio-mem device (QMP qom-set requested-size, 0 up to its size); the guest's driver plugs or unplugs blocks to match",
    ),
    ("q", "force quit QEMU and leave (asks first); once QEMU has exited, leave"),
    ("PgUp/PgDn/Home/End/Up/Down", "scroll"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_print_and_parse_back() {
        for d in DEFAULTS {
            for c in d.chords {
                let text = c.to_string();
                assert_eq!(text.parse::<Chord>(), Ok(*c), "{text}");
            }
        }
        assert_eq!("ctrl-R".parse::<Chord>(), Ok(ctrl('r')));
        assert_eq!("pgdn".parse::<Chord>(), Ok(code(KeyCode::PageDown)));
        assert_eq!("F5".parse::<Chord>(), Ok(code(KeyCode::F(5))));
        assert_eq!("-".parse::<Chord>(), Ok(key('-')));
        assert_eq!("Ctrl--".parse::<Chord>(), Ok(ctrl('-')));
        for bad in ["", "Ctrl-", "ab", "F13", "Alt-x", "\u{1b}", "€€€"] {
            assert!(bad.parse::<Chord>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chords_match_key_events() {
        let ev = |c, m| KeyEvent::new(c, m);
        assert!(key('J').matches(&ev(KeyCode::Char('J'), KeyModifiers::SHIFT)));
        assert!(ctrl('r').matches(&ev(KeyCode::Char('R'), KeyModifiers::CONTROL)));
        assert!(!key('r').matches(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)));
        assert!(!key('a').matches(&ev(KeyCode::Char('a'), KeyModifiers::ALT)));
        assert!(code(KeyCode::BackTab).matches(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)));
        let mut release = ev(KeyCode::Char('a'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert!(!key('a').matches(&release));
    }

    #[test]
    fn actions_round_trip_through_serde() {
        let text = ron::to_string(&Action::ApplyFix).unwrap();
        assert_eq!(text, "apply_fix");
        assert_eq!(ron::from_str::<Action>("zoom_in").unwrap(), Action::ZoomIn);
    }
}
