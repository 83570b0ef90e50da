//! The screen: where each pane goes ([`areas`], also used by the app for
//! mouse hit-testing) and the top-level [`draw`], which only reads the
//! [`App`] and never changes it.

use super::app::{App, Pane};
use super::panes;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// The smallest terminal the TUI draws in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width both editor forms are shown side by side.
pub const WIDE: u16 = 120;

/// Where everything goes for one terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub too_small: bool,
    pub title: Rect,
    pub devices: Rect,
    pub dimm: Option<Rect>,
    pub vm: Option<Rect>,
    pub map: Rect,
    pub diagnostics: Rect,
    pub cmdline: Rect,
    pub status: Rect,
}

impl Areas {
    pub fn rect(&self, pane: Pane) -> Option<Rect> {
        if self.too_small {
            return None;
        }
        match pane {
            Pane::Devices => Some(self.devices),
            Pane::Dimm => self.dimm,
            Pane::Vm => self.vm,
            Pane::Map => Some(self.map),
            Pane::Diagnostics => Some(self.diagnostics),
            Pane::Cmdline => Some(self.cmdline),
        }
    }
}

/// Lay out the screen. Narrow screens show one editor form: the VM form
/// when it has focus, else the DIMM form.
pub fn areas(screen: Rect, focus: Pane) -> Areas {
    let z = Rect::default();
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        return Areas {
            too_small: true,
            title: z,
            devices: z,
            dimm: None,
            vm: None,
            map: z,
            diagnostics: z,
            cmdline: z,
            status: z,
        };
    }
    let body = screen.height - 2;
    let top = (body * 35 / 100).max(8);
    let map = (body / 4).clamp(7, 11);
    let [title, top_r, map_r, bottom_r, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top),
        Constraint::Length(map),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(screen);
    let (devices, dimm, vm) = if screen.width >= WIDE {
        let [d, e, v] = Layout::horizontal([
            Constraint::Percentage(50),
            Constraint::Percentage(25),
            Constraint::Percentage(25),
        ])
        .areas(top_r);
        (d, Some(e), Some(v))
    } else {
        let [d, e] = Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)])
            .areas(top_r);
        if focus == Pane::Vm {
            (d, None, Some(e))
        } else {
            (d, Some(e), None)
        }
    };
    let [diagnostics, cmdline] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(bottom_r);
    Areas {
        too_small: false,
        title,
        devices,
        dimm,
        vm,
        map: map_r,
        diagnostics,
        cmdline,
        status,
    }
}

/// The first row to show so that `selected` is visible in `height` rows.
pub fn list_offset(selected: usize, height: usize) -> usize {
    if height == 0 || selected < height {
        0
    } else {
        selected + 1 - height
    }
}

/// Wrap `text` at `width` characters, preferring to break after a space
/// or a comma; continuation rows start with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let ind = indent.chars().count();
    let width = width.max(ind + 8);
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let first = out.is_empty();
        let room = if first { width } else { width - ind };
        let rest = chars.len() - i;
        let take = if rest <= room {
            rest
        } else {
            match chars[i..i + room]
                .iter()
                .rposition(|c| *c == ' ' || *c == ',')
            {
                Some(p) if p + 1 > room / 2 => p + 1,
                _ => room,
            }
        };
        let piece: String = chars[i..i + take].iter().collect();
        out.push(if first {
            piece
        } else {
            format!("{indent}{piece}")
        });
        i += take;
        if i >= chars.len() {
            return out;
        }
    }
}

/// A pane's frame: its title, focused or not.
pub fn pane_block<'a>(app: &App, pane: Pane, extra: Option<Span<'a>>) -> Block<'a> {
    let focused = app.focus == pane;
    let theme = &app.theme;
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

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let screen = f.area();
    let a = areas(screen, app.focus);
    if a.too_small {
        draw_too_small(f, screen, app);
        return;
    }
    draw_title(f, a.title, app);
    panes::devices::draw(f, a.devices, app);
    if let Some(r) = a.dimm {
        panes::dimm_editor::draw(f, r, app);
    }
    if let Some(r) = a.vm {
        panes::vm_editor::draw(f, r, app);
    }
    panes::map::draw(f, a.map, app);
    panes::diagnostics::draw(f, a.diagnostics, app);
    panes::cmdline::draw(f, a.cmdline, app);
    panes::status::draw(f, a.status, app);
    if app.dialog.is_some() {
        panes::dialog::draw(f, screen, app);
    }
    if let Some(scroll) = app.help {
        panes::help::draw(f, screen, app, scroll);
    }
}

fn draw_title(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = vec![
        Span::styled(" qpmem ", theme.title()),
        Span::styled(
            app.profile.name.clone(),
            theme.text().add_modifier(Modifier::BOLD),
        ),
    ];
    if app.dirty() {
        spans.push(Span::styled(" [+]", theme.warning()));
    }
    let place = match &app.path {
        Some(p) => p.display().to_string(),
        None => "not saved yet".to_string(),
    };
    spans.push(Span::styled(format!("  {place}"), theme.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_too_small(f: &mut Frame, screen: Rect, app: &App) {
    f.render_widget(Clear, screen);
    let text = vec![
        Line::styled("terminal too small", app.theme.warning()),
        Line::raw(format!(
            "{}x{}: qpmem needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            screen.width, screen.height
        )),
        Line::raw("q quits"),
    ];
    let h = 3.min(screen.height);
    let y = screen.y + screen.height.saturating_sub(h) / 2;
    f.render_widget(
        Paragraph::new(text)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(screen.x, y, screen.width, h),
    );
}

/// A centred rectangle of at most `w` x `h` inside `r`.
pub fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect::new(r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h)
}
