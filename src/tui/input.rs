//! The one line editor of every text input (a form field being edited,
//! the Save-as and Rename prompts): its keys come from the key map's
//! [`crate::tui::action::Scope::Input`] (readline's Ctrl-A/E/U/K/W, Home/End, the arrows...),
//! a paste is typed in, and the text scrolls sideways to keep the cursor
//! in view.

use super::action::{cmd, Action, Command, INPUT};
use super::keymap::Keymap;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    /// Enter: take the text.
    Commit,
    /// Esc: drop it.
    Cancel,
    /// The text or the cursor changed.
    Edited,
    /// Not an editing key (other Ctrl keys type nothing).
    Ignored,
}

/// The input keys, for the help overlay.
pub const COMMANDS: &[Command] = &[
    cmd(
        Action::Commit,
        "commit (only a valid value)",
        Some("commit"),
    ),
    cmd(Action::Cancel, "cancel", Some("cancel")),
    cmd(Action::LineStart, "to the start of the text", None),
    cmd(Action::LineEnd, "to the end of the text", None),
    cmd(Action::CharLeft, "one character left", None),
    cmd(Action::CharRight, "one character right", None),
    cmd(
        Action::DeleteBack,
        "delete the character before the cursor",
        None,
    ),
    cmd(
        Action::DeleteForward,
        "delete the character under the cursor",
        None,
    ),
    cmd(Action::KillToStart, "delete to the start", None),
    cmd(Action::KillToEnd, "delete to the end", None),
    cmd(Action::KillWord, "delete the word before the cursor", None),
];

/// A one-line text input with a cursor (in characters) and the first
/// character shown when the text is wider than its box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    pub text: String,
    pub cursor: usize,
    /// The first character shown (see [`Input::window`]).
    pub scroll: usize,
}

impl Input {
    pub fn new(text: &str) -> Input {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
            scroll: 0,
        }
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte(&self, at: usize) -> usize {
        self.text
            .char_indices()
            .nth(at)
            .map(|(i, _)| i)
            .unwrap_or(self.text.len())
    }

    pub fn insert(&mut self, c: char) {
        let at = self.byte(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Apply a line-editing action; `false` when it is not one.
    pub fn apply(&mut self, a: Action) -> bool {
        match a {
            Action::LineStart => self.cursor = 0,
            Action::LineEnd => self.cursor = self.len(),
            Action::CharLeft => self.cursor = self.cursor.saturating_sub(1),
            Action::CharRight => self.cursor = (self.cursor + 1).min(self.len()),
            Action::DeleteBack => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    let at = self.byte(self.cursor);
                    self.text.remove(at);
                }
            }
            Action::DeleteForward => {
                if self.cursor < self.len() {
                    let at = self.byte(self.cursor);
                    self.text.remove(at);
                }
            }
            Action::KillToStart => {
                let at = self.byte(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            Action::KillToEnd => {
                let at = self.byte(self.cursor);
                self.text.truncate(at);
            }
            // The word before the cursor and the blanks after it, as
            // readline's `unix-word-rubout` does.
            Action::KillWord => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut from = self.cursor;
                while from > 0 && chars[from - 1].is_whitespace() {
                    from -= 1;
                }
                while from > 0 && !chars[from - 1].is_whitespace() {
                    from -= 1;
                }
                let (a, b) = (self.byte(from), self.byte(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = from;
            }
            _ => return false,
        }
        true
    }

    /// The one key handler of every input: the key map's input keys,
    /// else a character typed in.
    pub fn handle(&mut self, key: &KeyEvent, keys: &Keymap) -> InputOutcome {
        match keys.action(INPUT, key) {
            Some(Action::Commit) => InputOutcome::Commit,
            Some(Action::Cancel) => InputOutcome::Cancel,
            Some(a) if self.apply(a) => InputOutcome::Edited,
            Some(_) => InputOutcome::Ignored,
            None => match key.code {
                KeyCode::Char(c)
                    if !key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                {
                    self.insert(c);
                    InputOutcome::Edited
                }
                _ => InputOutcome::Ignored,
            },
        }
    }

    /// Type in pasted text: line breaks become spaces, other control
    /// characters are dropped.
    pub fn paste(&mut self, text: &str) {
        text.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .for_each(|c| self.insert(c));
    }

    /// The first character to show in a box `width` cells wide: the
    /// remembered one, moved just enough that the cursor (one cell past
    /// the text at its end) is inside, and no further right than needed.
    pub fn window(&self, width: usize) -> usize {
        let width = width.max(1);
        let cursor = self.cursor.min(self.len());
        let most = (self.len() + 1).saturating_sub(width);
        self.scroll
            .min(most)
            .min(cursor)
            .max((cursor + 1).saturating_sub(width))
    }

    /// Remember where the window is, after an edit in a box `width` wide.
    pub fn follow(&mut self, width: usize) {
        self.scroll = self.window(width);
    }

    /// The text shown in a box `width` wide: before the cursor, the
    /// character under it (a space at the end) and after it.
    pub fn visible(&self, width: usize) -> (String, String, String) {
        let start = self.window(width);
        let chars: Vec<char> = self.text.chars().collect();
        let cursor = self.cursor.min(chars.len());
        let before: String = chars[start..cursor].iter().collect();
        let at = chars.get(cursor).map_or(' ', |c| *c).to_string();
        let room = width.max(1).saturating_sub(cursor - start + 1);
        let after: String = chars.iter().skip(cursor + 1).take(room).collect();
        (before, at, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(i: &mut Input, keys: &Keymap, events: &[KeyEvent]) {
        for e in events {
            i.handle(e, keys);
        }
    }

    #[test]
    fn input_edits_by_character() {
        let keys = Keymap::default();
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut i = Input::new("1é");
        typed(
            &mut i,
            &keys,
            &[
                k(KeyCode::Backspace),
                k(KeyCode::Char('7')),
                k(KeyCode::Home),
                k(KeyCode::Delete),
                k(KeyCode::End),
                KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT),
            ],
        );
        assert_eq!(i.text, "7G");
    }

    #[test]
    fn the_window_follows_the_cursor() {
        let mut i = Input::new("");
        for c in "/a/long/path/to/a/backing/file".chars() {
            i.insert(c);
            i.follow(10);
        }
        let (before, at, after) = i.visible(10);
        assert_eq!(
            (before.as_str(), at.as_str(), after.as_str()),
            ("king/file", " ", "")
        );
        // Moving left inside the window does not scroll it.
        for _ in 0..5 {
            i.apply(Action::CharLeft);
            i.follow(10);
        }
        assert_eq!(i.visible(10).0, "king");
        // Past its left edge, it follows.
        i.apply(Action::LineStart);
        i.follow(10);
        let (before, at, after) = i.visible(10);
        assert_eq!(
            (before.as_str(), at.as_str(), after.as_str()),
            ("", "/", "a/long/pa")
        );
        // A stale window (a wider box before) still shows the cursor.
        let mut j = Input::new("0123456789abcdef");
        j.scroll = 0;
        assert_eq!(j.window(4), 13);
    }
}
