//! The DIMM editor form: every setting of the selected DIMM, validated as
//! you type (see [`crate::tui::form::DimmField`]).

use super::{draw_form, Form, FormRow};
use crate::tui::app::{App, FormKind, Pane};
use crate::tui::form::DIMM_FIELDS;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = app.profile.devices.get(app.selected) else {
        let block = crate::tui::ui::pane_block(app, Pane::Dimm, None);
        let inner = block.inner(area);
        f.render_widget(block, area);
        f.render_widget(
            Paragraph::new(Line::styled("no DIMM: press a to add one", app.theme.dim())),
            inner,
        );
        return;
    };
    let rows: Vec<FormRow> = DIMM_FIELDS
        .iter()
        .map(|field| FormRow {
            label: field.label(),
            value: field.value(d),
            placeholder: field.placeholder().to_string(),
            note: None,
        })
        .collect();
    let editing = app.editing.as_ref().filter(|e| e.form == FormKind::Dimm);
    draw_form(
        f,
        area,
        app,
        Form {
            pane: Pane::Dimm,
            title: Some(Span::styled(d.id.clone(), app.theme.key())),
            rows,
            selected: app.dimm_field,
            editing,
        },
    );
}
