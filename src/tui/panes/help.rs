//! The help overlay (`?`): generated from the key map in use and the
//! components' command lists, one section per mode and pane (the
//! editor's own keys, moving, each pane, fields, questions, the picker,
//! this overlay, the guest console, the mouse), wrapped to the overlay's
//! width and scrolled with the moving keys, so it can never disagree with
//! what the keys do and nothing is cut off.

use super::{dialog, Panes};
use crate::tui::action::{
    cmd, Action, Command, Scope, CONFIRM, CONSOLE_KEYS, GLOBAL, HELP, INPUT, MOUSE_HELP, MOVE,
    NORMAL, PICKER,
};
use crate::tui::geometry::{inner, wrap, PANES};
use crate::tui::input;
use crate::tui::keymap::{Keymap, FILE_NAME};
use crate::tui::panes::status::Hint;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The overlay's own keys (anything else closes it).
pub const COMMANDS: &[Command] = &[
    cmd(Action::Up, "scroll up", None),
    cmd(Action::Down, "scroll down", None),
    cmd(Action::PageUp, "page up", None),
    cmd(Action::PageDown, "page down", None),
    cmd(Action::Top, "to the top", None),
    cmd(Action::Bottom, "to the end", None),
];

/// The widest the key column gets; longer keys get a row of their own.
const KEY_COLUMN: usize = 11;

/// One section: a title and (keys, what they do) rows.
pub struct Section {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

fn section(title: &str, keys: &Keymap, scopes: &[Scope], commands: &[Command]) -> Section {
    Section {
        title: title.to_string(),
        rows: commands
            .iter()
            .map(|c| (keys.text(scopes, c.action), c.help.to_string()))
            .collect(),
    }
}

fn fixed(title: &str, rows: &[(&str, &str)]) -> Section {
    Section {
        title: title.to_string(),
        rows: rows
            .iter()
            .map(|(k, w)| (k.to_string(), w.to_string()))
            .collect(),
    }
}

/// The sections listing bound keys: title, the scopes looked up (in
/// order), what each key does.
fn tables(panes: &Panes) -> Vec<(String, &'static [Scope], &'static [Command])> {
    let mut out: Vec<(String, &'static [Scope], &'static [Command])> = vec![
        (
            "Keys (anywhere outside fields and dialogs)".into(),
            &[Scope::Always, Scope::Normal],
            GLOBAL,
        ),
        ("Moving in a pane".into(), &[Scope::Move], MOVE),
    ];
    for p in PANES {
        out.push((
            format!("{} pane", p.title()),
            NORMAL,
            panes.get(p).commands(),
        ));
    }
    out.extend([
        (
            "In a field being edited, Save as and Rename".to_string(),
            INPUT,
            input::COMMANDS,
        ),
        ("In a question".into(), CONFIRM, dialog::CONFIRM_COMMANDS),
        (
            "In the profile picker".into(),
            PICKER,
            dialog::PICKER_COMMANDS,
        ),
        (
            "In the add-device chooser (a)".into(),
            PICKER,
            dialog::ADD_COMMANDS,
        ),
        ("In this help".into(), HELP, COMMANDS),
    ]);
    out
}

/// Everything the overlay says, by section.
pub fn sections(keys: &Keymap, panes: &Panes) -> Vec<Section> {
    let mut out: Vec<Section> = tables(panes)
        .into_iter()
        .map(|(title, scopes, commands)| section(&title, keys, scopes, commands))
        .collect();
    // What is not a key: typing in a field, closing the help.
    for s in &mut out {
        if s.title.starts_with("In a field") {
            s.rows.push((
                "paste".into(),
                "typed in (line breaks become spaces)".into(),
            ));
        } else if s.title == "In this help" {
            s.rows.push(("other keys".into(), "close the help".into()));
        }
    }
    out.push(fixed(
        "The guest console (after l, and in qpmem launch)",
        CONSOLE_KEYS,
    ));
    out.push(fixed("Mouse", MOUSE_HELP));
    let from = match &keys.file {
        Some(p) => format!("these keys include yours, from {}", p.display()),
        None => format!(
            "{FILE_NAME} in qpmem's config directory (beside config.ron) rebinds any key above \
             but the console's; see README"
        ),
    };
    out.push(Section {
        title: "Your keys".into(),
        rows: vec![(FILE_NAME.into(), from)],
    });
    out
}

/// A line of the overlay: a title, or keys and (part of) what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Title(String),
    Row { keys: String, text: String },
}

impl HelpLine {
    /// The line as a person reads it.
    pub fn text(&self) -> String {
        match self {
            HelpLine::Title(t) => t.clone(),
            HelpLine::Row { keys, text } => format!("{keys}{text}"),
        }
    }
}

/// The overlay's lines, wrapped to `width` columns: each row's keys in a
/// column (a row of their own when longer than it), what they do beside.
pub fn lines(keys: &Keymap, panes: &Panes, width: usize) -> Vec<HelpLine> {
    let all = sections(keys, panes);
    let kw = all
        .iter()
        .flat_map(|s| s.rows.iter().map(|(k, _)| k.chars().count()))
        .filter(|n| *n <= KEY_COLUMN)
        .max()
        .unwrap_or(KEY_COLUMN);
    let indent = " ".repeat(2 + kw + 1);
    let room = width.saturating_sub(indent.len()).max(8);
    let mut out = Vec::new();
    for s in all {
        for t in wrap(&s.title, width.max(8), "  ") {
            out.push(HelpLine::Title(t));
        }
        for (k, what) in s.rows {
            let mut pieces = wrap(&what, room, "").into_iter();
            let first = if k.chars().count() > kw {
                for piece in wrap(&k, width.saturating_sub(2).max(8), "") {
                    out.push(HelpLine::Row {
                        keys: format!("  {piece}"),
                        text: String::new(),
                    });
                }
                indent.clone()
            } else {
                format!("  {k:<kw$} ")
            };
            out.push(HelpLine::Row {
                keys: first,
                text: pieces.next().unwrap_or_default(),
            });
            for piece in pieces {
                out.push(HelpLine::Row {
                    keys: indent.clone(),
                    text: piece,
                });
            }
        }
    }
    out
}

/// How far the overlay drawn in `area` scrolls.
pub fn max_scroll(keys: &Keymap, panes: &Panes, area: Rect) -> usize {
    let inside = inner(area);
    lines(keys, panes, inside.width as usize)
        .len()
        .saturating_sub(inside.height as usize)
}

/// The status bar's hints while the overlay is open.
pub fn hints(keys: &Keymap) -> Vec<Hint> {
    let pair = |a, b| format!("{}/{}", keys.short(HELP, a), keys.short(HELP, b));
    vec![
        (pair(Action::Up, Action::Down), "scroll"),
        (pair(Action::PageUp, Action::PageDown), "page"),
        ("other keys".into(), "close help"),
    ]
}

pub fn draw(f: &mut Frame, area: Rect, keys: &Keymap, panes: &Panes, theme: &Theme, scroll: usize) {
    f.render_widget(Clear, area);
    let inside = inner(area);
    let all = lines(keys, panes, inside.width as usize);
    let height = inside.height as usize;
    let off = scroll.min(all.len().saturating_sub(height));
    let shown = all.len().min(off + height);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(" Help ", theme.title()))
        .title_bottom(
            Line::styled(
                format!(" {}-{shown} of {} ", off + 1, all.len()),
                theme.dim(),
            )
            .right_aligned(),
        );
    f.render_widget(block, area);
    let text: Vec<Line> = all
        .into_iter()
        .skip(off)
        .take(height)
        .map(|l| match l {
            HelpLine::Title(t) => Line::styled(t, theme.title()),
            HelpLine::Row { keys, text } => Line::from(vec![
                Span::styled(keys, theme.key()),
                Span::styled(text, theme.text()),
            ]),
        })
        .collect();
    f.render_widget(Paragraph::new(text), inside);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_in_a_section_and_every_listed_key_is_bound() {
        let keys = Keymap::default();
        let tables = tables(&Panes::default());
        for b in keys.bindings() {
            assert!(
                tables
                    .iter()
                    .any(|(_, scopes, commands)| scopes.contains(&b.scope)
                        && commands.iter().any(|c| c.action == b.action)),
                "{:?} in {:?} is in no section",
                b.action,
                b.scope
            );
        }
        for (title, scopes, commands) in &tables {
            for c in *commands {
                assert_ne!(
                    keys.text(scopes, c.action),
                    crate::tui::keymap::UNBOUND,
                    "{title}: {:?}",
                    c.action
                );
            }
        }
    }

    #[test]
    fn rows_wrap_under_their_description_and_long_keys_get_a_row() {
        let lines = lines(&Keymap::default(), &Panes::default(), 40);
        assert!(
            lines.iter().all(|l| l.text().chars().count() <= 40),
            "{lines:?}"
        );
        let long = lines
            .iter()
            .position(|l| l.text().trim() == "Shift-PgUp/Shift-PgDn")
            .expect("the long key on a row of its own");
        assert!(lines[long + 1].text().starts_with(&" ".repeat(14)));
    }
}
