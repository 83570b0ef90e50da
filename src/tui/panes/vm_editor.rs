//! The VM editor form: machine, RAM, CPUs, slots/maxmem (auto or fixed),
//! spare slots, the QEMU binary with its detected version, kernel, initrd,
//! append, disks and extra arguments.

use super::{draw_form, Form, FormRow};
use crate::core::facts::QemuStatus;
use crate::tui::app::{App, FormKind, Pane};
use crate::tui::form::{VmField, VM_FIELDS};
use ratatui::layout::Rect;
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let p = &app.profile;
    let rows: Vec<FormRow> = VM_FIELDS
        .iter()
        .map(|field| FormRow {
            label: field.label(),
            value: field.value(p),
            placeholder: field.placeholder(p),
            note: (*field == VmField::Qemu).then(|| match &app.host.qemu {
                QemuStatus::Found { version, .. } | QemuStatus::Stated { version } => {
                    format!("({version})")
                }
                QemuStatus::NotFound { .. } => "(not found)".to_string(),
                QemuStatus::NoVersion { .. } | QemuStatus::NotChecked => "(version ?)".to_string(),
            }),
        })
        .collect();
    let editing = app.editing.as_ref().filter(|e| e.form == FormKind::Vm);
    draw_form(
        f,
        area,
        app,
        Form {
            pane: Pane::Vm,
            title: None,
            rows,
            selected: app.vm_field,
            editing,
        },
    );
}
