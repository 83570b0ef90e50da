//! The diagnostics list: what [`crate::core::diagnose::check`] found, rustc
//! style (`warning[QP100]: ...` then `help: ...`), wrapped to the pane; the
//! pane owns the selection, `f` applies the selected one's fix and `v`
//! runs the guest check whose verdict stands atop the list.

use super::{is_move, page, pane_block, step, Component, DrawCx, EventState};
use crate::core::diagnose::{Diagnostic, Severity};
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::{Doc, GuestCheck};
use crate::tui::event::Effect;
use crate::tui::geometry::{inner, wrap, Pane};
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use std::ops::Range;

pub const COMMANDS: &[Command] = &[
    cmd(Action::Edit, "go to the DIMM the finding names", None),
    cmd(
        Action::Verify,
        "verify in a throwaway guest, as qpmem verify (from any pane); again cancels",
        Some("verify"),
    ),
];

/// The diagnostics pane: which finding is selected.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub selected: usize,
}

/// A diagnostic's head and help as wrapped rows; the head's first
/// `prefix` characters are the `warning[QP100]` part.
fn rows(d: &Diagnostic, width: usize, fix_key: &str) -> (Vec<String>, Vec<String>, usize) {
    let prefix = format!("{}[{}]", d.severity, d.code);
    let head = wrap(&format!("{prefix}: {}", d.message), width, "  ");
    let help = match (&d.help, &d.fix) {
        (Some(h), Some(_)) => format!("  help: {h} ({fix_key} fixes)"),
        (Some(h), None) => format!("  help: {h}"),
        (None, Some(fix)) => format!("  fix: {} ({fix_key})", fix.summary),
        (None, None) => String::new(),
    };
    let help = if help.is_empty() {
        Vec::new()
    } else {
        wrap(&help, width, "        ")
    };
    (head, help, prefix.chars().count())
}

/// Where the diagnostics go in a pane whose inside is `inside`: each one
/// shown (from the first that keeps `selected` in view) with the rows it
/// takes, counted from the top of `inside`. Drawing and the hit-test
/// both lay the list out with this.
fn placed(cx: &DrawCx, selected: usize, inside: Rect) -> Vec<(usize, Range<usize>)> {
    let diags = &cx.doc.derived.diagnostics;
    let width = inside.width as usize;
    let fix = cx.keys.short(NORMAL, Action::ApplyFix);
    let top = header(cx).len();
    let height = (inside.height as usize).saturating_sub(top);
    let sizes: Vec<usize> = diags
        .iter()
        .map(|d| {
            let (h, p, _) = rows(d, width, &fix);
            h.len() + p.len()
        })
        .collect();
    // The first one to show so the selected one fits in `height` rows.
    let mut first = 0;
    if !diags.is_empty() {
        let sel = selected.min(diags.len() - 1);
        let mut used = 0;
        first = sel;
        for i in (0..=sel).rev() {
            used += sizes[i];
            if used > height && i < sel {
                break;
            }
            first = i;
        }
    }
    let mut out = Vec::new();
    let mut y = top;
    for (i, n) in sizes.iter().enumerate().skip(first) {
        if y >= inside.height as usize {
            break;
        }
        out.push((i, y..y + n));
        y += n;
    }
    out
}

impl Component for Diagnostics {
    fn pane(&self) -> Pane {
        Pane::Diagnostics
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        let n = doc.derived.diagnostics.len();
        match a {
            Action::ApplyFix => apply_fix(doc, self.selected),
            Action::Verify => {
                if matches!(doc.guest, GuestCheck::Running(_)) {
                    doc.guest = GuestCheck::Failed("cancelled".into());
                    doc.queue(Effect::CancelVerify);
                    return EventState::Consumed;
                }
                doc.guest = GuestCheck::Running("starting".into());
                doc.queue(Effect::Verify(doc.profile.clone()));
                return EventState::Focus(Pane::Diagnostics);
            }
            _ if !focused => return EventState::NotConsumed,
            a if is_move(a) => self.selected = step(self.selected, n, a, page(area)),
            Action::Select(i) if i < n => self.selected = i,
            Action::Edit => {
                let target = doc
                    .derived
                    .diagnostics
                    .get(self.selected)
                    .and_then(|d| d.device.clone())
                    .and_then(|id| doc.profile.devices.iter().position(|d| d.id == id));
                if let Some(i) = target {
                    doc.selected = i;
                    return EventState::Focus(Pane::Dimm);
                }
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn hit(&self, cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        let inside = inner(area);
        if !inside.contains(at) {
            return None;
        }
        let row = (at.y - inside.y) as usize;
        placed(cx, self.selected, inside)
            .into_iter()
            .find(|(_, rows)| rows.contains(&row))
            .map(|(i, _)| Action::Select(i))
    }

    fn clamp(&mut self, doc: &Doc) {
        self.selected = self
            .selected
            .min(doc.derived.diagnostics.len().saturating_sub(1));
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        draw(f, area, cx, self.selected)
    }
}

/// Apply the fix of diagnostic `i`.
fn apply_fix(doc: &mut Doc, i: usize) {
    let Some(d) = doc.derived.diagnostics.get(i).cloned() else {
        doc.complain("no diagnostic selected");
        return;
    };
    let Some(fix) = &d.fix else {
        doc.complain(format!("{} has no automatic fix", d.code));
        return;
    };
    let mut p = doc.profile.clone();
    if fix.apply(&mut p) {
        doc.commit(p);
        doc.say(format!("fixed {}: {}", d.code, fix.summary));
    } else {
        doc.complain(format!("{}: the fix no longer applies", d.code));
    }
}

/// What stands above the diagnostics: the layout's own error, then the
/// last guest check (`v`), which confirms or contradicts the model.
fn header(cx: &DrawCx) -> Vec<Line<'static>> {
    let (doc, theme) = (cx.doc, cx.theme);
    let verify = cx.keys.short(NORMAL, Action::Verify);
    let mut lines = Vec::new();
    if let Err(err) = &doc.derived.layout {
        lines.push(Line::styled(format!("error: {err}"), theme.error()));
    }
    match &doc.guest {
        GuestCheck::None => {}
        GuestCheck::Running(stage) => lines.push(Line::styled(
            format!("guest check: {stage}… ({verify} cancels)"),
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
                        format!("  (before your last change: {verify} checks again)"),
                        theme.dim(),
                    ));
                }
            }
        }
    }
    lines
}

fn draw(f: &mut Frame, area: Rect, cx: &DrawCx, selected: usize) {
    let (doc, theme) = (cx.doc, cx.theme);
    let diags = &doc.derived.diagnostics;
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
    let focused = cx.focused(Pane::Diagnostics);
    let block = pane_block(theme, Pane::Diagnostics, focused, summary);
    let inside = inner(area);
    f.render_widget(block, area);
    let width = inside.width as usize;
    let mut lines: Vec<Line> = header(cx);
    if diags.is_empty() {
        if doc.derived.layout.is_ok() {
            lines.push(Line::styled("✓ no problems found", theme.ok()));
        }
        f.render_widget(Paragraph::new(lines), inside);
        return;
    }
    let fix = cx.keys.short(NORMAL, Action::ApplyFix);
    for (i, _) in placed(cx, selected, inside) {
        let d = &diags[i];
        let sev_style = match d.severity {
            Severity::Error => theme.error(),
            Severity::Warning => theme.warning(),
            Severity::Note => theme.note(),
        };
        let (head, help, prefix) = rows(d, width, &fix);
        let sel = (i == selected).then(|| {
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
    }
    f.render_widget(Paragraph::new(lines), inside);
}
