//! The status bar: the last message, or the key hints for what the user
//! is doing (gathered by the app from the components' commands and the
//! key map), and a count of problems.

use crate::core::diagnose::Severity;
use crate::tui::doc::Doc;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// A hint: the keys, and what they do in a word.
pub type Hint = (String, &'static str);

pub fn draw(f: &mut Frame, area: Rect, doc: &Doc, theme: &Theme, hints: &[Hint]) {
    let mut spans: Vec<Span> = Vec::new();
    match &doc.status {
        Some(s) => spans.push(Span::styled(
            format!(" {}", s.text),
            if s.error { theme.error() } else { theme.ok() },
        )),
        None => {
            for (k, what) in hints {
                spans.push(Span::styled(format!(" {k}"), theme.key()));
                spans.push(Span::styled(format!(" {what}"), theme.status()));
            }
        }
    }
    let errors = doc
        .derived
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let right = format!(
        " {} DIMMs{} ",
        doc.profile.devices.len(),
        if errors > 0 {
            format!(", {errors} errors")
        } else {
            String::new()
        }
    );
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
