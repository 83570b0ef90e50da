//! The device list: one row per DIMM in command-line order with its id,
//! size, label, align, the size the guest sees, the backing file and a
//! mark for problems.

use crate::core::diagnose::Severity;
use crate::core::profile::Backend;
use crate::core::size::{format_human, format_qemu};
use crate::tui::app::{App, Pane};
use crate::tui::ui::{list_offset, pane_block};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

/// The mark for a device's worst finding.
pub fn mark(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Error) => "✗",
        Some(Severity::Warning) => "!",
        Some(Severity::Note) => "i",
        None => " ",
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let n = app.profile.devices.len();
    let block = pane_block(
        app,
        Pane::Devices,
        Some(Span::styled(format!("{n}"), theme.dim())),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if n == 0 {
        f.render_widget(
            Paragraph::new(Line::styled("no DIMMs: press a to add one", theme.dim())),
            inner,
        );
        return;
    }
    let body = (inner.height as usize).saturating_sub(1);
    let off = list_offset(app.selected, body);
    let layout = app.derived.layout.as_ref().ok();
    let focused = app.focus == Pane::Devices;
    let rows: Vec<Row> = app
        .profile
        .devices
        .iter()
        .enumerate()
        .skip(off)
        .take(body)
        .map(|(i, d)| {
            let sev = app.derived.device_severity(&d.id);
            let mark_style = match sev {
                Some(Severity::Error) => theme.error(),
                Some(Severity::Warning) => theme.warning(),
                _ => theme.note(),
            };
            let visible = layout
                .and_then(|l| l.devices.get(i))
                .map(|dl| match &dl.result {
                    Ok(p) => format_human(p.size),
                    Err(_) => "not placed".to_string(),
                })
                .unwrap_or_else(|| "-".to_string());
            let file = match &d.backend {
                Backend::File(p) => p.display().to_string(),
                Backend::Ram => "(RAM)".to_string(),
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(mark(sev), mark_style)),
                Cell::from(d.id.clone()),
                Cell::from(format_qemu(d.size.0)),
                Cell::from(format_qemu(d.effective_label_size())),
                Cell::from(d.align.map(|a| a.to_string()).unwrap_or_else(|| "-".into())),
                Cell::from(visible),
                Cell::from(file),
            ]);
            if i == app.selected {
                row.style(if focused {
                    theme.selection()
                } else {
                    theme.selection_unfocused()
                })
            } else {
                row.style(theme.text())
            }
        })
        .collect();
    let header = Row::new(["", "ID", "SIZE", "LABEL", "ALIGN", "VISIBLE", "FILE"])
        .style(theme.dim().add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(10),
            Constraint::Min(4),
        ],
    )
    .header(header)
    .column_spacing(1);
    f.render_widget(table, inner);
}
