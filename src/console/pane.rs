//! The console pane: the emulator's screen in a bordered block whose title
//! says who has the keyboard and how far the view is scrolled back.
//!
//! Drawing only reads the emulator. The host asks [`ConsolePane::inner`]
//! for the screen area first and resizes the console to it, so the guest's
//! terminal always matches what is on screen.

use super::Emulator;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};
use tui_term::widget::{Cursor, PseudoTerminal};

/// The hint shown while the console has the keyboard.
pub const RELEASE_HINT: &str = "Ctrl-] releases the keyboard";

/// A bordered view of an [`Emulator`].
pub struct ConsolePane<'a> {
    emulator: &'a Emulator,
    title: &'a str,
    focused: bool,
}

impl<'a> ConsolePane<'a> {
    pub fn new(emulator: &'a Emulator, title: &'a str) -> ConsolePane<'a> {
        ConsolePane {
            emulator,
            title,
            focused: false,
        }
    }

    /// Whether keys go to the guest (shows the cursor and the release hint).
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }

    /// The part of `area` the terminal screen fills.
    pub fn inner(area: Rect) -> Rect {
        Block::default().borders(Borders::ALL).inner(area)
    }

    fn block(&self) -> Block<'a> {
        let mut spans = vec![Span::styled(
            format!(" {} ", self.title),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        if self.focused {
            spans.push(Span::styled(
                format!("─ keyboard: guest ({RELEASE_HINT}) "),
                Style::default().fg(Color::Yellow),
            ));
        } else {
            spans.push(Span::raw("─ keyboard: qpmem "));
        }
        let offset = self.emulator.scroll_offset();
        if offset > 0 {
            spans.push(Span::styled(
                format!("─ scrolled back {offset} lines "),
                Style::default().fg(Color::Cyan),
            ));
        }
        let border = if self.focused {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(Line::from(spans))
    }
}

impl Widget for ConsolePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut cursor = Cursor::default();
        if !self.focused || self.emulator.scroll_offset() > 0 {
            cursor.hide();
        }
        PseudoTerminal::new(self.emulator.screen())
            .block(self.block())
            .cursor(cursor)
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect()
    }

    #[test]
    fn draws_text_colours_and_title() {
        let area = Rect::new(0, 0, 60, 6);
        let inner = ConsolePane::inner(area);
        assert_eq!((inner.width, inner.height), (58, 4));
        let mut e = Emulator::new(inner.height, inner.width, 100);
        e.feed(b"plain \x1b[1;32mgreen\x1b[0m\r\n\x1b[10Cmoved");
        let mut buf = Buffer::empty(area);
        ConsolePane::new(&e, "guest")
            .focused(true)
            .render(area, &mut buf);
        assert!(row(&buf, 0).contains("guest"));
        assert!(row(&buf, 0).contains(RELEASE_HINT));
        assert!(row(&buf, 1).starts_with("│plain green"));
        // SGR 32 is palette colour 2, drawn in the host terminal's own green.
        assert_eq!(buf[(7, 1)].fg, Color::Indexed(2));
        assert!(buf[(7, 1)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(1, 1)].fg, Color::Reset);
        // ESC [ 10 C moved the cursor ten columns right.
        assert!(row(&buf, 2).starts_with("│          moved"));
    }

    #[test]
    fn title_shows_scrollback_and_unfocused_state() {
        let area = Rect::new(0, 0, 70, 5);
        let mut e = Emulator::new(3, 68, 100);
        for i in 0..20 {
            e.feed(format!("{i}\r\n").as_bytes());
        }
        e.scroll_by(4);
        let mut buf = Buffer::empty(area);
        ConsolePane::new(&e, "guest").render(area, &mut buf);
        let title = row(&buf, 0);
        assert!(title.contains("scrolled back 4 lines"), "{title}");
        assert!(title.contains("keyboard: qpmem"), "{title}");
        assert!(!title.contains(RELEASE_HINT));
    }
}
