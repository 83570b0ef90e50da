//! The device list: one row per DIMM in command-line order with its id,
//! size, label, align, the size the guest sees, its NUMA node (when the
//! profile has nodes), the backing file and a mark for problems. It moves the selected DIMM (the document's, shared
//! with the map and the DIMM form); Enter opens the DIMM form.

use super::{choose_dimm, pane_block, Component, DrawCx, EventState};
use crate::core::diagnose::Severity;
use crate::core::map::node_of;
use crate::core::profile::Backend;
use crate::core::size::{format_human, format_qemu};
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::Doc;
use crate::tui::geometry::{elide_path, inner, list_offset, Pane};
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub const COMMANDS: &[Command] = &[cmd(Action::Edit, "open the selected DIMM's form", None)];

/// The mark for a device's worst finding.
pub fn mark(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Error) => "✗",
        Some(Severity::Warning) => "!",
        Some(Severity::Note) => "i",
        None => " ",
    }
}

/// The widths of the columns before FILE (mark, ID, SIZE, LABEL, ALIGN,
/// VISIBLE), each followed by a space.
const COLUMNS: [u16; 6] = [1, 6, 6, 5, 5, 10];
/// The NODE column's width, shown (after VISIBLE) when the profile has
/// NUMA nodes.
const NODE_COLUMN: u16 = 4;

/// The list's rows inside the frame: the header, then `body` rows of
/// DIMMs from `offset`, starting at row `top`.
struct Rows {
    top: u16,
    body: usize,
    offset: usize,
}

fn rows(inside: Rect, selected: usize) -> Rows {
    let body = (inside.height as usize).saturating_sub(1);
    Rows {
        top: inside.y + 1,
        body,
        offset: list_offset(selected, body),
    }
}

/// The device list (its selection is the document's).
#[derive(Debug, Clone, Default)]
pub struct Devices;

impl Component for Devices {
    fn pane(&self) -> Pane {
        Pane::Devices
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        if !focused {
            return EventState::NotConsumed;
        }
        choose_dimm(a, doc, area)
    }

    fn hit(&self, cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        let doc = cx.doc;
        let inside = inner(area);
        let r = rows(inside, doc.selected);
        if !inside.contains(at) || at.y < r.top {
            return None;
        }
        let i = r.offset + (at.y - r.top) as usize;
        (i < doc.profile.devices.len()).then_some(Action::Select(i))
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        let (doc, theme) = (cx.doc, cx.theme);
        let focused = cx.focused(Pane::Devices);
        let n = doc.profile.devices.len();
        let block = pane_block(
            theme,
            Pane::Devices,
            focused,
            Some(Span::styled(format!("{n}"), theme.dim())),
        );
        let inside = inner(area);
        f.render_widget(block, area);
        if n == 0 {
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!(
                        "no DIMMs: press {} to add one",
                        cx.keys.short(NORMAL, Action::AddDimm)
                    ),
                    theme.dim(),
                )),
                inside,
            );
            return;
        }
        let r = rows(inside, doc.selected);
        let layout = doc.derived.layout.as_ref().ok();
        let numa = !doc.profile.numa_ram().is_empty();
        let mut widths = COLUMNS.to_vec();
        if numa {
            widths.push(NODE_COLUMN);
        }
        // The FILE column gets what the others leave.
        let fixed: u16 = widths.iter().sum::<u16>() + widths.len() as u16;
        let file_width = inside.width.saturating_sub(fixed) as usize;
        let rows: Vec<Row> = doc
            .profile
            .devices
            .iter()
            .enumerate()
            .skip(r.offset)
            .take(r.body)
            .map(|(i, d)| {
                let sev = doc.derived.device_severity(&d.id);
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
                    Backend::File(p) => elide_path(&p.display().to_string(), file_width),
                    Backend::Ram => "(RAM)".to_string(),
                };
                let mut cells = vec![
                    Cell::from(Span::styled(mark(sev), mark_style)),
                    Cell::from(d.id.clone()),
                    Cell::from(format_qemu(d.size.0)),
                    Cell::from(format_qemu(d.effective_label_size())),
                    Cell::from(d.align.map(|a| a.to_string()).unwrap_or_else(|| "-".into())),
                    Cell::from(visible),
                ];
                if numa {
                    cells.push(Cell::from(node_of(&doc.profile, i).to_string()));
                }
                cells.push(Cell::from(file));
                let row = Row::new(cells);
                if i == doc.selected {
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
        let mut titles = vec!["", "ID", "SIZE", "LABEL", "ALIGN", "VISIBLE"];
        if numa {
            titles.push("NODE");
        }
        titles.push("FILE");
        let header = Row::new(titles).style(theme.dim().add_modifier(Modifier::BOLD));
        let table = Table::new(
            rows,
            widths
                .iter()
                .map(|w| Constraint::Length(*w))
                .chain([Constraint::Min(4)]),
        )
        .header(header)
        .column_spacing(1);
        f.render_widget(table, inside);
    }
}
