//! The status bar: the last message, or key hints for what the user is
//! doing (taken from the key map), and a count of problems.

use crate::core::diagnose::Severity;
use crate::tui::action::{Action, Binding, Scope, KEYMAP};
use crate::tui::app::{App, Dialog, Pane};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The hints shown for the current state, as (keys, what) pairs.
pub fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.editing.is_some() {
        return vec![("Enter", "commit"), ("Esc", "cancel")];
    }
    match &app.dialog {
        Some(Dialog::Confirm { .. }) => return vec![("y", "yes"), ("n", "no")],
        Some(Dialog::SaveAs { .. }) => return vec![("Enter", "save"), ("Esc", "cancel")],
        Some(Dialog::Rename { .. }) => return vec![("Enter", "rename"), ("Esc", "cancel")],
        Some(Dialog::Picker { .. }) => {
            return vec![
                ("Up/Down", "choose"),
                ("Enter", "open"),
                ("r", "rename"),
                ("d", "remove"),
                ("Esc", "cancel"),
            ]
        }
        None => {}
    }
    if app.help.is_some() {
        return vec![("Esc", "close help")];
    }
    // Help and quit first: on a narrow screen the tail is cut off.
    let first = |b: &&Binding| !matches!(b.action, Action::Help | Action::Quit);
    let mut list: Vec<&Binding> = KEYMAP
        .iter()
        .filter(|b| {
            b.scope == Scope::Global
                || (b.scope == Scope::Map && app.focus == Pane::Map)
                || (b.scope == Scope::Diagnostics && app.focus == Pane::Diagnostics)
                || (b.scope == Scope::Cmdline && app.focus == Pane::Cmdline)
        })
        .collect();
    list.sort_by_key(first);
    list.into_iter()
        .filter_map(|b| b.hint.map(|h| (b.keys, h)))
        .collect()
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans: Vec<Span> = Vec::new();
    match &app.status {
        Some(s) => spans.push(Span::styled(
            format!(" {}", s.text),
            if s.error { theme.error() } else { theme.ok() },
        )),
        None => {
            for (k, what) in hints(app) {
                spans.push(Span::styled(format!(" {k}"), theme.key()));
                spans.push(Span::styled(format!(" {what}"), theme.status()));
            }
        }
    }
    let errors = app
        .derived
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let right = counts(app.profile.devices.len(), errors);
    let w = (right.chars().count() as u16).min(area.width / 4);
    let left = Rect::new(area.x, area.y, area.width - w, 1);
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.status()),
        left,
    );
    f.render_widget(
        Paragraph::new(Span::styled(right, theme.dim())).style(theme.status()),
        Rect::new(area.x + area.width - w, area.y, w, 1),
    );
}

/// ` 1 DIMM, 2 errors `: the right end of the status bar.
fn counts(dimms: usize, errors: usize) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut s = format!(" {dimms} DIMM{}", plural(dimms));
    if errors > 0 {
        s.push_str(&format!(", {errors} error{}", plural(errors)));
    }
    s.push(' ');
    s
}

#[cfg(test)]
mod counts_tests {
    use super::counts;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(counts(1, 1), " 1 DIMM, 1 error ");
        assert_eq!(counts(2, 0), " 2 DIMMs ");
        assert_eq!(counts(0, 3), " 0 DIMMs, 3 errors ");
    }
}
