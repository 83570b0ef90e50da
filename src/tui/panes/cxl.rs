//! The CXL pane: the profile's CXL topology as a tree (host bridges >
//! root ports > switches > downstream ports > type-3 devices, then the
//! fixed memory windows), in the device list's place while it has focus.
//! `a` adds a child of the selected row, `w` a switch below a root port,
//! `d` removes the row and what is below it, Enter edits its value (a
//! bridge's bus_nr, a device's pmem size, a window's size). The edits are
//! [`crate::core::cxl::edit`]'s; every one is an undoable change.

use super::dialog::Dialog;
use super::{pane_block, step, Component, DrawCx, EventState};
use crate::core::cxl::edit::{self, Node};
use crate::core::cxl::Cxl;
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::Doc;
use crate::tui::geometry::{inner, list_offset, Pane};
use crate::tui::input::Input;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const COMMANDS: &[Command] = &[
    cmd(
        Action::AddDimm,
        "add below the selected row: a host bridge, a root port below a bridge, a type-3 device (256M pmem, 256M LSA) below a port, a downstream port below a switch, a window; turns CXL on",
        Some("add"),
    ),
    cmd(
        Action::AddSwitch,
        "add a switch (cxl-upstream, one downstream port) below the selected root port",
        Some("switch"),
    ),
    cmd(
        Action::DeleteDimm,
        "remove the selected row and everything below it",
        Some("remove"),
    ),
    cmd(
        Action::Edit,
        "edit the row's value: a bridge's bus_nr, a device's pmem size, a window's size",
        Some("edit"),
    ),
];

/// The CXL pane: which row is selected.
#[derive(Debug, Clone, Default)]
pub struct CxlPane {
    pub selected: usize,
}

impl CxlPane {
    fn node(&self, cxl: &Cxl) -> Node {
        let rows = edit::rows(cxl);
        rows.get(self.selected.min(rows.len() - 1))
            .map_or(Node::Bridges, |(n, _)| *n)
    }

    /// Apply `f` to a copy of the profile's CXL (made empty when there is
    /// none), keep it as one change, and select the node it returns.
    fn change(&mut self, doc: &mut Doc, f: impl FnOnce(&mut Cxl) -> Option<Node>) {
        let mut p = doc.profile.clone();
        let mut cxl = p.cxl.take().unwrap_or_default();
        match f(&mut cxl) {
            Some(at) => {
                self.selected = edit::rows(&cxl)
                    .iter()
                    .position(|(n, _)| *n == at)
                    .unwrap_or(0);
                // With nothing left, CXL is off again.
                p.cxl = (cxl != Cxl::default()).then_some(cxl);
                doc.commit(p);
            }
            None => doc.complain("nothing to do on this row"),
        }
    }
}

impl Component for CxlPane {
    fn pane(&self) -> Pane {
        Pane::Cxl
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        if !focused {
            return EventState::NotConsumed;
        }
        let cxl = doc.profile.cxl.clone().unwrap_or_default();
        let len = edit::rows(&cxl).len();
        let at = self.node(&cxl);
        match a {
            a if super::is_move(a) => {
                let page = inner(area).height as usize;
                self.selected = step(self.selected, len, a, page.max(1));
            }
            Action::Select(i) if i < len => self.selected = i,
            Action::AddDimm => {
                let dir = super::super::form::cxl_dir(&doc.profile);
                self.change(doc, |c| edit::add(c, at, &dir));
            }
            Action::AddSwitch => self.change(doc, |c| edit::add_switch(c, at)),
            Action::DeleteDimm => {
                if doc.profile.cxl.is_none() {
                    doc.complain("no CXL to remove");
                } else {
                    // The selection stays on the row that takes its place.
                    let at_row = self.selected;
                    self.change(doc, |c| {
                        edit::remove(c, at).then(|| {
                            let rows = edit::rows(c);
                            rows[at_row.min(rows.len() - 1)].0
                        })
                    });
                }
            }
            Action::Edit => match edit::value(&cxl, at) {
                Some((what, text)) => {
                    return EventState::Dialog(Box::new(Dialog::CxlValue {
                        node: at,
                        what,
                        input: Input::new(&text),
                        error: None,
                    }))
                }
                None => {
                    doc.complain("this row has no value to edit: a adds below it, d removes it")
                }
            },
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn hit(&self, cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        let inside = inner(area);
        let cxl = cx.doc.profile.cxl.clone().unwrap_or_default();
        let len = edit::rows(&cxl).len();
        let off = list_offset(self.selected, inside.height as usize);
        let row = usize::from(at.y.checked_sub(inside.y)?) + off;
        (inside.contains(at) && row < len).then_some(Action::Select(row))
    }

    fn clamp(&mut self, doc: &Doc) {
        let len = doc.profile.cxl.as_ref().map_or(2, |c| edit::rows(c).len());
        self.selected = self.selected.min(len - 1);
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        let (doc, theme) = (cx.doc, cx.theme);
        let state = if doc.profile.cxl.is_some() {
            "cxl=on"
        } else {
            "off"
        };
        let block = pane_block(
            theme,
            Pane::Cxl,
            cx.focused(Pane::Cxl),
            Some(Span::styled(state, theme.dim())),
        );
        let inside = inner(area);
        f.render_widget(block, area);
        let cxl = doc.profile.cxl.clone().unwrap_or_default();
        let rows = edit::rows(&cxl);
        let height = inside.height as usize;
        let off = list_offset(self.selected, height);
        let mut lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .skip(off)
            .take(height)
            .map(|(i, (node, depth))| {
                let text = format!("{}{}", "  ".repeat(*depth), edit::describe(&cxl, *node));
                let style = if *depth == 0 {
                    theme.dim()
                } else {
                    theme.text()
                };
                let line = Line::styled(text, style);
                if i == self.selected {
                    line.style(theme.selection())
                } else {
                    line
                }
            })
            .collect();
        if doc.profile.cxl.is_none() && lines.len() < height {
            lines.push(Line::styled(
                format!(
                    "no CXL: {} on a row adds the first piece (and cxl=on)",
                    cx.keys.short(NORMAL, Action::AddDimm)
                ),
                theme.dim(),
            ));
        }
        f.render_widget(Paragraph::new(lines), inside);
    }
}
