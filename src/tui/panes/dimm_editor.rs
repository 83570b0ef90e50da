//! The DIMM editor form: every setting of the selected DIMM, validated as
//! you type (see [`crate::tui::form::DimmField`]). Enter edits the field
//! under the cursor; on/off and choice fields flip instead.

use super::{
    draw_form, form_hit, is_move, page, pane_block, step, Component, DrawCx, Editing, EventState,
    Form, FormKind, FormRow,
};
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::Doc;
use crate::tui::form::{dimm_fields, DIMM_FIELDS};
use crate::tui::geometry::{inner, Pane};
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const COMMANDS: &[Command] = &[cmd(
    Action::Edit,
    "edit the field (on/off fields and kind flip); values are checked as you type",
    None,
)];

/// The DIMM form: which field the cursor is on.
#[derive(Debug, Clone, Default)]
pub struct DimmForm {
    pub field: usize,
}

impl Component for DimmForm {
    fn pane(&self) -> Pane {
        Pane::Dimm
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        if !focused {
            return EventState::NotConsumed;
        }
        // The rows of the selected device's kind (the form shows no other).
        let fields = doc.selected_dimm().map(dimm_fields).unwrap_or_default();
        match a {
            a if is_move(a) => self.field = step(self.field, fields.len(), a, page(area)),
            Action::Select(i) if i < fields.len() => self.field = i,
            Action::Edit => {
                let Some(d) = doc.selected_dimm() else {
                    doc.complain("no DIMM to edit: press a to add one");
                    return EventState::Consumed;
                };
                let Some(&field) = fields.get(self.field.min(fields.len().saturating_sub(1)))
                else {
                    return EventState::Consumed;
                };
                if !field.is_toggle() {
                    let text = field.value(d);
                    let at = DIMM_FIELDS.iter().position(|f| *f == field).unwrap_or(0);
                    return EventState::Edit(Editing::new(FormKind::Dimm, at, &text));
                }
                if let Some(nd) = field.toggle(&doc.profile, doc.selected) {
                    let mut p = doc.profile.clone();
                    p.devices[doc.selected] = nd;
                    doc.commit(p);
                }
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn hit(&self, cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        let rows = cx.doc.selected_dimm().map_or(0, |d| dimm_fields(d).len());
        form_hit(self.field, rows, area, at)
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        let Some(d) = cx.doc.selected_dimm() else {
            let block = pane_block(cx.theme, Pane::Dimm, cx.focused(Pane::Dimm), None);
            f.render_widget(block, area);
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!(
                        "no DIMM: press {} to add one",
                        cx.keys.short(NORMAL, Action::AddDimm)
                    ),
                    cx.theme.dim(),
                )),
                inner(area),
            );
            return;
        };
        let rows: Vec<FormRow> = dimm_fields(d)
            .iter()
            .map(|field| FormRow {
                label: field.label(),
                value: field.value(d),
                placeholder: field.placeholder().to_string(),
                note: None,
            })
            .collect();
        draw_form(
            f,
            area,
            cx,
            Form {
                kind: FormKind::Dimm,
                pane: Pane::Dimm,
                title: Some(Span::styled(d.id.clone(), cx.theme.key())),
                selected: self.field.min(rows.len().saturating_sub(1)),
                rows,
            },
        );
    }
}
