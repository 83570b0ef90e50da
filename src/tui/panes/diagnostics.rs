//! The diagnostics list: what [`crate::core::diagnose::check`] found, rustc
//! style (`warning[QP100]: ...` then `help: ...`), wrapped to the pane;
//! `f` applies the selected one's fix.

use crate::core::diagnose::{Diagnostic, Severity};
use crate::tui::app::{App, GuestCheck, Pane};
use crate::tui::theme::Theme;
use crate::tui::ui::{pane_block, wrap};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// A diagnostic's head and help as wrapped rows; the head's first
/// `prefix` characters are the `warning[QP100]` part.
fn rows(d: &Diagnostic, width: usize) -> (Vec<String>, Vec<String>, usize) {
    let prefix = format!("{}[{}]", d.severity, d.code);
    let head = wrap(&format!("{prefix}: {}", d.message), width, "  ");
    let help = match (&d.help, &d.fix) {
        (Some(h), Some(_)) => format!("  help: {h} (f fixes)"),
        (Some(h), None) => format!("  help: {h}"),
        (None, Some(fix)) => format!("  fix: {} (f)", fix.summary),
        (None, None) => String::new(),
    };
    let help = if help.is_empty() {
        Vec::new()
    } else {
        wrap(&help, width, "        ")
    };
    (head, help, prefix.chars().count())
}

/// The first diagnostic to show so the selected one fits in `height` rows.
fn offset(app: &App, width: usize, height: usize) -> usize {
    let diags = &app.derived.diagnostics;
    if diags.is_empty() {
        return 0;
    }
    let mut used = 0;
    let mut first = app.diag_selected.min(diags.len() - 1);
    let mut i = first as isize;
    while i >= 0 {
        let (h, p, _) = rows(&diags[i as usize], width);
        used += h.len() + p.len();
        if used > height && (i as usize) < app.diag_selected {
            break;
        }
        first = i as usize;
        i -= 1;
    }
    first
}

/// What stands above the diagnostics: the layout's own error, then the
/// last guest check (`v`), which confirms or contradicts the model.
fn header(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Err(err) = &app.derived.layout {
        lines.push(Line::styled(format!("error: {err}"), theme.error()));
    }
    match &app.guest {
        GuestCheck::None => {}
        GuestCheck::Running(stage) => lines.push(Line::styled(
            format!("guest check: {stage}… (v cancels)"),
            theme.note(),
        )),
        GuestCheck::Failed(why) => lines.push(Line::styled(
            format!("guest check failed: {why}"),
            theme.error(),
        )),
        GuestCheck::Done {
            lines: l,
            ok,
            stale,
        } => {
            for (i, text) in l.iter().enumerate() {
                let style = match (i, ok, stale) {
                    (_, _, true) => theme.dim(),
                    (0, true, _) => theme.ok(),
                    _ => theme.error(),
                };
                lines.push(Line::styled(text.clone(), style));
                if i == 0 && *stale {
                    lines.push(Line::styled(
                        "  (before your last change: v checks again)",
                        theme.dim(),
                    ));
                }
            }
        }
    }
    lines
}

/// The diagnostic shown at `row` of a pane whose inside is `width` x `height`.
pub fn index_at(app: &App, width: usize, height: usize, row: usize) -> Option<usize> {
    let diags = &app.derived.diagnostics;
    let mut y = header(app, &app.theme).len();
    let height = height.saturating_sub(y);
    for (i, d) in diags.iter().enumerate().skip(offset(app, width, height)) {
        let (h, p, _) = rows(d, width);
        y += h.len() + p.len();
        if row < y {
            return Some(i);
        }
    }
    None
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let diags = &app.derived.diagnostics;
    let count = |s| diags.iter().filter(|d| d.severity == s).count();
    let (e, w, n) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
    );
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let parts: Vec<String> = [(e, "error"), (w, "warning"), (n, "note")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| plural(n, what))
        .collect();
    let summary = (!parts.is_empty()).then(|| {
        Span::styled(
            parts.join(", "),
            if e > 0 {
                theme.error()
            } else {
                theme.warning()
            },
        )
    });
    let block = pane_block(app, Pane::Diagnostics, summary);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = header(app, theme);
    if diags.is_empty() {
        if app.derived.layout.is_ok() {
            lines.push(Line::styled("✓ no problems found", theme.ok()));
        }
        f.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let height = (inner.height as usize).saturating_sub(lines.len());
    let focused = app.focus == Pane::Diagnostics;
    for (i, d) in diags.iter().enumerate().skip(offset(app, width, height)) {
        let sev_style = match d.severity {
            Severity::Error => theme.error(),
            Severity::Warning => theme.warning(),
            Severity::Note => theme.note(),
        };
        let (head, help, prefix) = rows(d, width);
        let sel = (i == app.diag_selected).then(|| {
            if focused {
                theme.selection()
            } else {
                theme.selection_unfocused()
            }
        });
        for (j, row) in head.into_iter().enumerate() {
            let mut line = if j == 0 {
                let split = row
                    .char_indices()
                    .nth(prefix)
                    .map(|(b, _)| b)
                    .unwrap_or(row.len());
                Line::from(vec![
                    Span::styled(row[..split].to_string(), sev_style),
                    Span::styled(row[split..].to_string(), theme.text()),
                ])
            } else {
                Line::styled(row, theme.text())
            };
            if let Some(s) = sel {
                line = line.style(s);
            }
            lines.push(line);
        }
        for row in help {
            let mut line = Line::styled(row, theme.dim());
            if let Some(s) = sel {
                line = line.style(s.remove_modifier(Modifier::UNDERLINED));
            }
            lines.push(line);
        }
        if lines.len() >= inner.height as usize {
            break;
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}
