//! The panes as components, one file each (gitui's model): a pane owns its
//! state (a field index, a scroll, the map's zoom), handles the actions
//! meant for it ([`Component::on_action`], saying whether it consumed
//! them), lists its keys for the help overlay and the status bar
//! ([`Component::commands`]), turns a click into the action that selects
//! what is under it ([`Component::hit`], with the same row layout its
//! `draw` uses) and draws from a [`DrawCx`] without changing anything.
//! Also the dialogs, the help overlay and the status bar, and what the
//! two editor forms share ([`Editing`], [`draw_form`]).

pub mod cmdline;
pub mod cxl;
pub mod devices;
pub mod diagnostics;
pub mod dialog;
pub mod dimm_editor;
pub mod help;
pub mod map;
pub mod status;
pub mod vm_editor;

use super::action::{Action, Command};
use super::doc::Doc;
use super::event::Effect;
use super::form::{DIMM_FIELDS, VM_FIELDS};
use super::geometry::{inner, list_offset, wrap, Pane};
use super::input::{Input, InputOutcome};
use super::keymap::Keymap;
use super::theme::Theme;
use crate::core::profile::Profile;
use crossterm::event::KeyEvent;
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

/// What a component did with an action (gitui's `EventState`, plus the
/// two things only the app can do).
#[derive(Debug, Clone, PartialEq)]
pub enum EventState {
    /// Not this component's: offer it to the next.
    NotConsumed,
    Consumed,
    /// Consumed; move the focus to this pane.
    Focus(Pane),
    /// Consumed; start editing a field.
    Edit(Editing),
    /// Consumed; open this dialog.
    Dialog(Box<dialog::Dialog>),
}

/// What drawing reads.
pub struct DrawCx<'a> {
    pub doc: &'a Doc,
    pub theme: &'a Theme,
    pub keys: &'a Keymap,
    pub focus: Pane,
    /// The field being edited, if one is.
    pub editing: Option<&'a Editing>,
}

impl DrawCx<'_> {
    pub fn focused(&self, pane: Pane) -> bool {
        self.focus == pane
    }
}

/// A pane of the editor.
pub trait Component {
    fn pane(&self) -> Pane;

    /// The keys this pane documents: its section of the help overlay, and
    /// the status bar's hints while it has focus.
    fn commands(&self) -> &'static [Command];

    /// Handle `a`. Movement and `Edit` only concern the focused pane;
    /// a pane's own commands (zoom, the recipe, the fix, the guest check)
    /// work whatever has focus. `area` is the pane on screen (empty when
    /// it is not shown).
    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState;

    /// The action a click at `at` inside `area` asks for, found with the
    /// row and column layout `draw` uses (and the same context).
    fn hit(&self, _cx: &DrawCx, _area: Rect, _at: Position) -> Option<Action> {
        None
    }

    /// What a turn of the wheel over this pane does.
    fn wheel(&self, up: bool) -> Action {
        if up {
            Action::Up
        } else {
            Action::Down
        }
    }

    /// Keep selections within what the document has.
    fn clamp(&mut self, _doc: &Doc) {}

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx);
}

/// Every pane's component.
#[derive(Debug, Clone, Default)]
pub struct Panes {
    pub devices: devices::Devices,
    pub cxl: cxl::CxlPane,
    pub dimm: dimm_editor::DimmForm,
    pub vm: vm_editor::VmForm,
    pub map: map::MapPane,
    pub diagnostics: diagnostics::Diagnostics,
    pub cmdline: cmdline::Cmdline,
}

impl Panes {
    pub fn get(&self, p: Pane) -> &dyn Component {
        match p {
            Pane::Devices => &self.devices,
            Pane::Cxl => &self.cxl,
            Pane::Dimm => &self.dimm,
            Pane::Vm => &self.vm,
            Pane::Map => &self.map,
            Pane::Diagnostics => &self.diagnostics,
            Pane::Cmdline => &self.cmdline,
        }
    }

    pub fn get_mut(&mut self, p: Pane) -> &mut dyn Component {
        match p {
            Pane::Devices => &mut self.devices,
            Pane::Cxl => &mut self.cxl,
            Pane::Dimm => &mut self.dimm,
            Pane::Vm => &mut self.vm,
            Pane::Map => &mut self.map,
            Pane::Diagnostics => &mut self.diagnostics,
            Pane::Cmdline => &mut self.cmdline,
        }
    }
}

/// Where a modal component goes next.
#[derive(Debug)]
pub enum Step<T> {
    /// Stay open (changed, or replaced by another of its kind).
    Stay(T),
    /// Close, and perform these effects.
    Done(Vec<Effect>),
}

/// Move an index within `len` items for a movement action.
pub fn step(i: usize, len: usize, a: Action, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    match a {
        Action::Up => i.saturating_sub(1),
        Action::Down => (i + 1).min(last),
        Action::PageUp => i.saturating_sub(page),
        Action::PageDown => (i + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => i.min(last),
    }
}

/// Is this a movement in a list?
pub fn is_move(a: Action) -> bool {
    matches!(
        a,
        Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
    )
}

/// Rows a page moves in a pane drawn in `area`.
pub fn page(area: Rect) -> usize {
    (area.height.saturating_sub(2) as usize).max(1)
}

/// A pane's frame: its title, focused or not.
pub fn pane_block<'a>(
    theme: &Theme,
    pane: Pane,
    focused: bool,
    extra: Option<Span<'a>>,
) -> Block<'a> {
    let mut title = vec![Span::styled(
        format!(" {} ", pane.title()),
        if focused {
            theme.title()
        } else {
            theme.text().add_modifier(Modifier::BOLD)
        },
    )];
    if let Some(e) = extra {
        title.push(e);
        title.push(Span::raw(" "));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Line::from(title))
}

/// Which form a field edit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Dimm,
    Vm,
}

impl FormKind {
    /// The widest label of the form.
    fn label_width(self) -> usize {
        match self {
            FormKind::Dimm => DIMM_FIELDS.iter().map(|f| f.label().len()).max(),
            FormKind::Vm => VM_FIELDS.iter().map(|f| f.label().len()).max(),
        }
        .unwrap_or(0)
    }

    /// How wide a value is shown in the form drawn in `area`: what an
    /// edited field's text scrolls within.
    pub fn input_width(self, area: Rect) -> usize {
        (inner(area).width as usize).saturating_sub(self.label_width() + 1)
    }
}

/// A field being typed into.
#[derive(Debug, Clone, PartialEq)]
pub struct Editing {
    pub form: FormKind,
    pub field: usize,
    pub input: Input,
    /// Why the text is not a valid value (shown inline), if it is not.
    pub error: Option<String>,
}

impl Editing {
    pub fn new(form: FormKind, field: usize, text: &str) -> Editing {
        Editing {
            form,
            field,
            input: Input::new(text),
            error: None,
        }
    }

    /// The profile the text would give, or why it is invalid.
    pub fn parse(&self, doc: &Doc) -> Result<Profile, String> {
        match self.form {
            FormKind::Dimm => {
                let field = DIMM_FIELDS[self.field];
                let d = field.parse(&doc.profile, doc.selected, &self.input.text)?;
                let mut p = doc.profile.clone();
                if let Some(slot) = p.devices.get_mut(doc.selected) {
                    *slot = d;
                }
                Ok(p)
            }
            FormKind::Vm => VM_FIELDS[self.field].parse(&doc.profile, &self.input.text),
        }
    }

    /// A key while editing: Enter commits a valid value, Esc drops it,
    /// anything else edits the text, checked as it is typed.
    pub fn on_key(mut self, key: &KeyEvent, keys: &Keymap, doc: &mut Doc) -> Step<Editing> {
        match self.input.handle(key, keys) {
            InputOutcome::Cancel => return Step::Done(Vec::new()),
            InputOutcome::Commit => match self.parse(doc) {
                Ok(p) => {
                    doc.commit(p);
                    return Step::Done(Vec::new());
                }
                Err(err) => self.error = Some(err),
            },
            InputOutcome::Edited | InputOutcome::Ignored => self.error = self.parse(doc).err(),
        }
        Step::Stay(self)
    }

    pub fn paste(&mut self, text: &str, doc: &Doc) {
        self.input.paste(text);
        self.error = self.parse(doc).err();
    }
}

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
    pub kind: FormKind,
    pub pane: Pane,
    pub title: Option<Span<'a>>,
    pub rows: Vec<FormRow>,
    pub selected: usize,
}

/// The first row a form shows: `selected` in view of `height` rows, less
/// the rows an inline error takes. The draw and the hit-test both use it.
pub fn form_offset(selected: usize, height: usize, error_rows: usize) -> usize {
    list_offset(selected, height.saturating_sub(error_rows).max(1))
}

/// The field a click at `at` falls on, in a form of `len` fields.
pub fn form_hit(selected: usize, len: usize, area: Rect, at: Position) -> Option<Action> {
    let inside = inner(area);
    if !inside.contains(at) {
        return None;
    }
    let i = form_offset(selected, inside.height as usize, 0) + (at.y - inside.y) as usize;
    (i < len).then_some(Action::Select(i))
}

/// Draw an editor form: a label column, the values, the selected row
/// highlighted, the field being edited as an input (scrolled to keep its
/// cursor in view) with its inline error.
pub fn draw_form(f: &mut Frame, area: Rect, cx: &DrawCx, form: Form<'_>) {
    let Form {
        kind,
        pane,
        title,
        rows,
        selected,
    } = form;
    let theme = cx.theme;
    let focused = cx.focused(pane);
    let editing = cx.editing.filter(|e| e.form == kind);
    let block = pane_block(theme, pane, focused, title);
    let inside = inner(area);
    f.render_widget(block, area);
    let height = inside.height as usize;
    let label_w = kind.label_width();
    let mut lines: Vec<Line> = Vec::new();
    let room = kind.input_width(area);
    let error_rows = editing
        .and_then(|e| e.error.as_ref())
        .map(|err| wrap(&format!("✗ {err}"), room, "  ").len())
        .unwrap_or(0);
    let off = form_offset(selected, height, error_rows);
    for (i, row) in rows.iter().enumerate().skip(off) {
        let label = Span::styled(format!("{:>label_w$} ", row.label), theme.dim());
        let is_sel = i == selected;
        match editing {
            Some(e) if is_sel => {
                let (before, at, after) = e.input.visible(room);
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
                    for piece in wrap(&format!("✗ {err}"), room, "  ") {
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
    f.render_widget(Paragraph::new(lines), inside);
}

/// What the DIMM list and the map both do with a move, a click on a DIMM
/// (`Select`) and Enter: move the selected DIMM, or go and edit it.
pub fn choose_dimm(a: Action, doc: &mut Doc, area: Rect) -> EventState {
    let n = doc.profile.devices.len();
    match a {
        a if is_move(a) => doc.selected = step(doc.selected, n, a, page(area)),
        Action::Select(i) if i < n => doc.selected = i,
        Action::Edit if n == 0 => doc.complain("no DIMM to edit: press a to add one"),
        Action::Edit => return EventState::Focus(Pane::Dimm),
        _ => return EventState::NotConsumed,
    }
    EventState::Consumed
}
