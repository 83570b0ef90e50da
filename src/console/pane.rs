//! The console pane: the emulator's screen in a bordered block whose title
//! says who has the keyboard and how far the view is scrolled back.
//!
//! Drawing only reads the emulator. The host asks [`ConsolePane::inner`]
//! for the screen area first and resizes the console to it, so the guest's
//! terminal always matches what is on screen. The pane's own colours (its
//! border, title and hints) are the host's [`PaneStyle`]; the guest's
//! colours are drawn as the guest wrote them.

use super::term::{Attrs, Color as TermColor};
use super::Emulator;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

/// The hint shown while the console has the keyboard.
pub const RELEASE_HINT: &str = "Ctrl-] releases the keyboard";

/// The styles of the pane's frame; the default has no colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaneStyle {
    pub title: Style,
    pub border: Style,
    /// The border while the guest has the keyboard.
    pub border_focused: Style,
    /// "keyboard: guest (Ctrl-] releases the keyboard)".
    pub hint: Style,
    /// "scrolled back N lines".
    pub scrolled: Style,
}

impl Default for PaneStyle {
    fn default() -> PaneStyle {
        PaneStyle {
            title: Style::default().add_modifier(Modifier::BOLD),
            border: Style::default(),
            border_focused: Style::default().add_modifier(Modifier::BOLD),
            hint: Style::default(),
            scrolled: Style::default(),
        }
    }
}

/// A bordered view of an [`Emulator`].
pub struct ConsolePane<'a> {
    emulator: &'a Emulator,
    title: &'a str,
    focused: bool,
    style: PaneStyle,
}

impl<'a> ConsolePane<'a> {
    pub fn new(emulator: &'a Emulator, title: &'a str) -> ConsolePane<'a> {
        ConsolePane {
            emulator,
            title,
            focused: false,
            style: PaneStyle::default(),
        }
    }

    /// The frame's styles (the host's theme).
    pub fn style(mut self, style: PaneStyle) -> Self {
        self.style = style;
        self
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
        let style = self.style;
        let mut spans = vec![Span::styled(format!(" {} ", self.title), style.title)];
        if self.focused {
            spans.push(Span::styled(
                format!("─ keyboard: guest ({RELEASE_HINT}) "),
                style.hint,
            ));
        } else {
            spans.push(Span::raw("─ keyboard: qpmem "));
        }
        let offset = self.emulator.scroll_offset();
        if offset > 0 {
            spans.push(Span::styled(
                format!("─ scrolled back {offset} lines "),
                style.scrolled,
            ));
        }
        let border = if self.focused {
            style.border_focused
        } else {
            style.border
        };
        Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(Line::from(spans))
    }
}

impl Widget for ConsolePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = self.block();
        let inner = block.inner(area);
        block.render(area, buf);
        let emu = self.emulator;
        for y in 0..inner.height {
            let Some(cells) = emu.view_row(y) else {
                break;
            };
            let start = buf.index_of(inner.x, inner.y + y);
            let row = &mut buf.content[start..start + usize::from(inner.width)];
            for (out, view) in row.iter_mut().zip(cells) {
                let cell = view.cell;
                match view.marks {
                    // A wide character's right half is drawn by its left.
                    _ if cell.is_spacer() => {
                        out.set_char(' ');
                    }
                    None => {
                        out.set_char(cell.ch());
                    }
                    Some(marks) => {
                        let mut s = String::with_capacity(marks.len() + 4);
                        s.push(cell.ch());
                        s.push_str(marks);
                        out.set_symbol(&s);
                    }
                }
                out.fg = color(cell.fg());
                out.bg = color(cell.bg());
                out.modifier = modifier(cell.attrs());
            }
        }
        // The cursor, in reverse video, while the guest has the keyboard
        // and the view follows the output.
        if self.focused && emu.scroll_offset() == 0 {
            if let Some((row, col)) = emu.cursor() {
                if row < inner.height && col < inner.width {
                    let out = &mut buf[(inner.x + col, inner.y + row)];
                    let reversed = out.modifier.contains(Modifier::REVERSED);
                    out.modifier.set(Modifier::REVERSED, !reversed);
                }
            }
        }
    }
}

fn color(c: TermColor) -> Color {
    match c {
        TermColor::Default => Color::Reset,
        TermColor::Idx(i) => Color::Indexed(i),
        TermColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

fn modifier(attrs: Attrs) -> Modifier {
    const MAP: [(Attrs, Modifier); 8] = [
        (Attrs::BOLD, Modifier::BOLD),
        (Attrs::DIM, Modifier::DIM),
        (Attrs::ITALIC, Modifier::ITALIC),
        (Attrs::UNDERLINE, Modifier::UNDERLINED),
        (Attrs::BLINK, Modifier::SLOW_BLINK),
        (Attrs::INVERSE, Modifier::REVERSED),
        (Attrs::HIDDEN, Modifier::HIDDEN),
        (Attrs::STRIKE, Modifier::CROSSED_OUT),
    ];
    let mut modifier = Modifier::empty();
    if attrs == Attrs::default() {
        return modifier;
    }
    for (a, m) in MAP {
        if attrs.contains(a) {
            modifier |= m;
        }
    }
    modifier
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
