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
    let right = counts(doc.profile.devices.len(), errors);
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
