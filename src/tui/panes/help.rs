//! The help overlay: every binding of the key map, the mouse, and the keys
//! of dialogs and fields, drawn from [`crate::tui::action`] so it can never
//! disagree with what the keys do.

use crate::tui::action::{Scope, DIALOG_HELP, KEYMAP, MOUSE_HELP};
use crate::tui::app::App;
use crate::tui::ui::centered;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The overlay's lines.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let w = KEYMAP
        .iter()
        .map(|b| b.keys.len())
        .max()
        .unwrap_or(8)
        .max(10);
    let row = |k: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("  {k:<w$} "), theme.key()),
            Span::styled(what.to_string(), theme.text()),
        ])
    };
    let mut out = Vec::new();
    for (scope, title) in [
        (Scope::Global, "Keys"),
        (Scope::Move, "Moving in a pane"),
        (Scope::Map, "Address map"),
        (Scope::Diagnostics, "Diagnostics"),
        (Scope::Cmdline, "Command line"),
    ] {
        out.push(Line::styled(title, theme.title()));
        for b in KEYMAP.iter().filter(|b| b.scope == scope) {
            out.push(row(b.keys, b.help));
        }
    }
    out.push(Line::styled("Mouse", theme.title()));
    for (k, what) in MOUSE_HELP {
        out.push(row(k, what));
    }
    out.push(Line::styled("Dialogs and fields", theme.title()));
    for (k, what) in DIALOG_HELP {
        out.push(row(k, what));
    }
    out
}

pub fn draw(f: &mut Frame, screen: Rect, app: &App, scroll: usize) {
    let area = centered(screen, 64, screen.height.saturating_sub(2));
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border(true))
        .title(Span::styled(
            " Help: Esc closes, Up/Down scroll ",
            app.theme.title(),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let all = lines(app);
    let off = scroll.min(all.len().saturating_sub(inner.height as usize));
    f.render_widget(
        Paragraph::new(all.into_iter().skip(off).collect::<Vec<_>>()),
        inner,
    );
}
