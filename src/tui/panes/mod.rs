//! One file per pane or component. Each `draw` reads the [`App`] and
//! draws into the area it is given; none changes state.

pub mod cmdline;
pub mod devices;
pub mod diagnostics;
pub mod dialog;
pub mod dimm_editor;
pub mod help;
pub mod map;
pub mod status;
pub mod vm_editor;

use super::app::{App, Editing, Pane};
use super::ui::{list_offset, pane_block};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// One row of an editor form.
pub struct FormRow {
    pub label: &'static str,
    pub value: String,
    /// Shown greyed when `value` is empty.
    pub placeholder: String,
    /// Extra text after the value (a detected version...).
    pub note: Option<String>,
}

/// An editor form to draw.
pub struct Form<'a> {
    pub pane: Pane,
    pub title: Option<Span<'a>>,
    pub rows: Vec<FormRow>,
    pub selected: usize,
    pub editing: Option<&'a Editing>,
}

/// Draw an editor form: a label column, the values, the selected row
/// highlighted, the field being edited as an input with its inline error.
pub fn draw_form(f: &mut Frame, area: Rect, app: &App, form: Form<'_>) {
    let Form {
        pane,
        title,
        rows,
        selected,
        editing,
    } = form;
    let theme = &app.theme;
    let focused = app.focus == pane;
    let block = pane_block(app, pane, title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = inner.height as usize;
    let label_w = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let mut lines: Vec<Line> = Vec::new();
    let room = (inner.width as usize).saturating_sub(label_w + 1);
    let error_rows = editing
        .and_then(|e| e.error.as_ref())
        .map(|err| crate::tui::ui::wrap(&format!("✗ {err}"), room, "  ").len())
        .unwrap_or(0);
    let off = list_offset(selected, height.saturating_sub(error_rows).max(1));
    for (i, row) in rows.iter().enumerate().skip(off) {
        let label = Span::styled(format!("{:>label_w$} ", row.label), theme.dim());
        let is_sel = i == selected;
        match editing {
            Some(e) if is_sel => {
                let chars: Vec<char> = e.input.text.chars().collect();
                let before: String = chars[..e.input.cursor.min(chars.len())].iter().collect();
                let at: String = chars
                    .get(e.input.cursor)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| " ".to_string());
                let after: String = chars.iter().skip(e.input.cursor + 1).collect();
                let style = if e.error.is_some() {
                    theme.error()
                } else {
                    theme.text().add_modifier(Modifier::UNDERLINED)
                };
                lines.push(Line::from(vec![
                    label,
                    Span::styled(before, style),
                    Span::styled(at, style.add_modifier(Modifier::REVERSED)),
                    Span::styled(after, style),
                ]));
                if let Some(err) = &e.error {
                    for piece in crate::tui::ui::wrap(&format!("✗ {err}"), room, "  ") {
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(label_w + 1)),
                            Span::styled(piece, theme.error()),
                        ]));
                    }
                }
            }
            _ => {
                let mut spans = vec![label];
                let value = if row.value.is_empty() {
                    Span::styled(row.placeholder.clone(), theme.dim())
                } else {
                    Span::styled(row.value.clone(), theme.text())
                };
                spans.push(value);
                if let Some(n) = &row.note {
                    spans.push(Span::styled(format!(" {n}"), theme.dim()));
                }
                let mut line = Line::from(spans);
                if is_sel {
                    line = line.style(if focused {
                        theme.selection()
                    } else {
                        theme.selection_unfocused()
                    });
                }
                lines.push(line);
            }
        }
        if lines.len() >= height {
            break;
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}
