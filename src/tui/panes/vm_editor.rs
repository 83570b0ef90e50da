//! The VM editor form: machine, RAM, CPUs, slots/maxmem (auto or fixed),
//! spare slots, the QEMU binary with its detected version, kernel, initrd,
//! append, disks and extra arguments. Enter edits the field.

use super::{
    draw_form, form_hit, is_move, page, step, Component, DrawCx, Editing, EventState, Form,
    FormKind, FormRow,
};
use crate::core::facts::QemuStatus;
use crate::tui::action::{cmd, Action, Command};
use crate::tui::doc::Doc;
use crate::tui::form::{VmField, VM_FIELDS};
use crate::tui::geometry::Pane;
use ratatui::layout::{Position, Rect};
use ratatui::Frame;

pub const COMMANDS: &[Command] = &[cmd(
    Action::Edit,
    "edit the field (slots and maxmem take auto or a value); values are checked as you type",
    None,
)];

/// The VM form: which field the cursor is on.
#[derive(Debug, Clone, Default)]
pub struct VmForm {
    pub field: usize,
}

impl Component for VmForm {
    fn pane(&self) -> Pane {
        Pane::Vm
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        if !focused {
            return EventState::NotConsumed;
        }
        match a {
            a if is_move(a) => self.field = step(self.field, VM_FIELDS.len(), a, page(area)),
            Action::Select(i) if i < VM_FIELDS.len() => self.field = i,
            Action::Edit => {
                let field = VM_FIELDS[self.field.min(VM_FIELDS.len() - 1)];
                let text = field.edit_value(&doc.profile);
                return EventState::Edit(Editing::new(FormKind::Vm, self.field, &text));
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn hit(&self, _cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        form_hit(self.field, VM_FIELDS.len(), area, at)
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        let doc = cx.doc;
        let p = &doc.profile;
        let rows: Vec<FormRow> = VM_FIELDS
            .iter()
            .map(|field| FormRow {
                label: field.label(),
                value: field.value(p),
                placeholder: field.placeholder(p),
                note: (*field == VmField::Qemu).then(|| match &doc.host.qemu {
                    QemuStatus::Found { version, .. } | QemuStatus::Stated { version } => {
                        format!("({version})")
                    }
                    QemuStatus::NotFound { .. } => "(not found)".to_string(),
                    QemuStatus::NoVersion { .. } | QemuStatus::NotChecked => {
                        "(version ?)".to_string()
                    }
                }),
            })
            .collect();
        draw_form(
            f,
            area,
            cx,
            Form {
                kind: FormKind::Vm,
                pane: Pane::Vm,
                title: None,
                rows,
                selected: self.field,
            },
        );
    }
}
