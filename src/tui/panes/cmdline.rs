//! The live command-line preview: [`crate::core::cmdline::render_shell`]'s
//! output, wrapped to the pane and scrollable; `y` copies it. `r` shows
//! the guest recipe instead ([`crate::core::export::guest`]: ndctl, mkfs, mount).

use crate::tui::app::{App, Pane};
use crate::tui::ui::pane_block;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The shell lines wrapped at `width` characters.
pub fn wrap(lines: &[String], width: usize) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| crate::tui::ui::wrap(l, width, "      "))
        .collect()
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let note = if app.show_recipe {
        "guest recipe · r back"
    } else {
        "y copies · r recipe"
    };
    let block = pane_block(app, Pane::Cmdline, Some(Span::styled(note, theme.dim())));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = wrap(app.cmdline_lines(), inner.width as usize);
    let height = inner.height as usize;
    let off = app.cmdline_scroll.min(rows.len().saturating_sub(height));
    let lines: Vec<Line> = rows
        .into_iter()
        .skip(off)
        .take(height)
        .map(|r| Line::styled(r, theme.text()))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
