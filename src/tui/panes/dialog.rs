//! Modal dialogs: yes/no confirmations (delete, quit or open over unsaved
//! changes, removing a stored profile), the save-as and rename prompts,
//! and the profile picker (r renames, d removes a stored profile).

use crate::tui::app::{App, Dialog};
use crate::tui::form::Input;
use crate::tui::ui::{centered, list_offset};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

fn frame<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border(true))
        .title(Span::styled(format!(" {title} "), app.theme.title()))
}

pub fn draw(f: &mut Frame, screen: Rect, app: &App) {
    let theme = &app.theme;
    match &app.dialog {
        None => {}
        Some(Dialog::Confirm { question, .. }) => {
            let w = screen.width.saturating_sub(4).min(76);
            let rows = crate::tui::ui::wrap(question, w.saturating_sub(2) as usize, "");
            let h = (rows.len() as u16 + 4).min(screen.height.saturating_sub(2));
            let area = centered(screen, w, h);
            f.render_widget(Clear, area);
            let block = frame(app, "Confirm");
            let inner = block.inner(area);
            f.render_widget(block, area);
            let mut lines: Vec<Line> = rows
                .into_iter()
                .map(|r| Line::styled(r, theme.text().add_modifier(Modifier::BOLD)))
                .collect();
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("y", theme.key()),
                Span::raw(" yes   "),
                Span::styled("n", theme.key()),
                Span::raw(" no"),
            ]));
            f.render_widget(Paragraph::new(lines), inner);
        }
        Some(Dialog::SaveAs { input, error }) => {
            let dir = app
                .profiles_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "?".into());
            let prompt = format!("A name (saved in {dir}) or a path ending in .ron:");
            text_dialog(f, app, "Save as", &prompt, input, error.as_deref());
        }
        Some(Dialog::Rename { from, input, error }) => {
            let prompt = format!("New name for the stored profile {from}:");
            text_dialog(f, app, "Rename", &prompt, input, error.as_deref());
        }
        Some(Dialog::Picker { entries, selected }) => {
            let h = (entries.len() as u16 + 2).clamp(5, screen.height.saturating_sub(4));
            let area = centered(screen, 76, h);
            f.render_widget(Clear, area);
            let block = frame(app, "Open a profile");
            let inner = block.inner(area);
            f.render_widget(block, area);
            let height = inner.height as usize;
            let off = list_offset(*selected, height);
            let name_w = entries
                .iter()
                .map(|e| e.name.chars().count())
                .max()
                .unwrap_or(8);
            let lines: Vec<Line> = entries
                .iter()
                .enumerate()
                .skip(off)
                .take(height)
                .map(|(i, e)| {
                    let line = Line::from(vec![
                        Span::styled(format!("{:<name_w$}  ", e.name), theme.text()),
                        Span::styled(e.summary.clone(), theme.dim()),
                    ]);
                    if i == *selected {
                        line.style(theme.selection())
                    } else {
                        line
                    }
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
        }
    }
}

/// A question answered by typing one line: the prompt, the input with its
/// cursor, and why the answer is not acceptable yet.
fn text_dialog(
    f: &mut Frame,
    app: &App,
    title: &str,
    prompt: &str,
    input: &Input,
    error: Option<&str>,
) {
    let theme = &app.theme;
    let area = centered(f.area(), 70, 7);
    f.render_widget(Clear, area);
    let block = frame(app, title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let chars: Vec<char> = input.text.chars().collect();
    let before: String = chars[..input.cursor.min(chars.len())].iter().collect();
    let at = chars
        .get(input.cursor)
        .map(|c| c.to_string())
        .unwrap_or_else(|| " ".into());
    let after: String = chars.iter().skip(input.cursor + 1).collect();
    let mut lines = vec![
        Line::styled(prompt.to_string(), theme.dim()),
        Line::from(vec![
            Span::styled(before, theme.text()),
            Span::styled(at, theme.text().add_modifier(Modifier::REVERSED)),
            Span::styled(after, theme.text()),
        ]),
    ];
    if let Some(e) = error {
        lines.push(Line::styled(format!("✗ {e}"), theme.error()));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
