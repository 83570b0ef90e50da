//! Drawing the whole screen from the [`App`], never changing it: the
//! title, each pane's component in the rectangle the app's
//! [`crate::tui::geometry::Geometry`]
//! gives it, the status bar, then a dialog or the help overlay on top.

use super::action::{Action, NORMAL};
use super::app::{App, Mode};
use super::geometry::{Pane, MIN_HEIGHT, MIN_WIDTH, PANES};
use super::panes::{dialog, help, status};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let screen = f.area();
    let g = app.geometry_for(screen);
    if g.too_small {
        draw_too_small(f, screen, app);
        return;
    }
    draw_title(f, g.title, app);
    let cx = app.draw_cx();
    for p in PANES {
        if let Some(r) = g.rect(p) {
            app.panes.get(p).draw(f, r, &cx);
        }
    }
    draw_status(f, g.status, app);
    match app.mode() {
        Mode::Dialog(d) => dialog::draw(f, &g, d, &cx),
        Mode::Help(scroll) => help::draw(f, g.help, &app.keys, &app.panes, &app.theme, *scroll),
        Mode::Normal | Mode::Editing(_) => {}
    }
}

/// Draw one pane into `area` (tests and snapshots draw panes alone).
pub fn draw_pane(f: &mut Frame, area: Rect, app: &App, pane: Pane) {
    app.panes.get(pane).draw(f, area, &app.draw_cx());
}

/// Draw the status bar into `area`.
pub fn draw_status(f: &mut Frame, area: Rect, app: &App) {
    status::draw(f, area, &app.doc, &app.theme, &app.hints());
}

fn draw_title(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let doc = &app.doc;
    let mut spans = vec![
        Span::styled(" qpmem ", theme.title()),
        Span::styled(
            doc.profile.name.clone(),
            theme.text().add_modifier(Modifier::BOLD),
        ),
    ];
    if doc.dirty() {
        spans.push(Span::styled(" [+]", theme.warning()));
    }
    let place = match &doc.path {
        Some(p) => p.display().to_string(),
        None => "not saved yet".to_string(),
    };
    spans.push(Span::styled(format!("  {place}"), theme.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_too_small(f: &mut Frame, screen: Rect, app: &App) {
    f.render_widget(Clear, screen);
    let quit = app.keys.short(NORMAL, Action::Quit);
    let text = vec![
        Line::styled("terminal too small", app.theme.warning()),
        Line::raw(format!(
            "{}x{}: qpmem needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            screen.width, screen.height
        )),
        Line::raw(format!("{quit} quits")),
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
