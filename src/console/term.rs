//! The terminal emulator: the `vte` crate parses the byte stream (the same
//! VT500-series state machine Alacritty uses); this module keeps the screen.
//!
//! It is written for a flooding guest. Cells are 16-byte `Copy` values and
//! the screen is a ring of rows that know how much of them is in use, so a
//! new line clears only what the last one wrote. A row that scrolls off the
//! top is packed into the history as its text and the columns where its
//! style changes (a boot-log line: about a hundred bytes, not a row of
//! cells); once the history is full its oldest line is reused, so a steady
//! flood allocates nothing. Printable ASCII in the common state takes one
//! store.
//!
//! What it implements is what programs on a Linux console or an xterm-like
//! terminal use: cursor movement, erasing, inserting and deleting
//! characters and lines, scroll regions, SGR colours (16, 256 and direct),
//! autowrap with xterm's pending wrap, tab stops, DEC line drawing, wide
//! and combining characters, origin and insert modes, the alternate screen,
//! saved cursors, and answers to status and attribute queries (`ESC [ 6 n`,
//! `ESC [ c`), which [`Emulator::take_replies`] hands back for the program.

use super::keys::InputModes;
use std::collections::VecDeque;
use unicode_width::UnicodeWidthChar;

/// A colour as the program chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// The host terminal's own foreground or background.
    #[default]
    Default,
    /// A palette entry (0-15 are the ANSI colours).
    Idx(u8),
    Rgb(u8, u8, u8),
}

/// A colour packed into a word, so that comparing cells is comparing
/// integers: 0 is the default, then a tag byte over an index or RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ink(u32);

impl Ink {
    const DEFAULT: Ink = Ink(0);
    const IDX: u32 = 1 << 24;
    const RGB: u32 = 2 << 24;

    fn color(self) -> Color {
        let [tag, r, g, b] = self.0.to_be_bytes();
        match u32::from(tag) << 24 {
            Ink::IDX => Color::Idx(b),
            Ink::RGB => Color::Rgb(r, g, b),
            _ => Color::Default,
        }
    }
}

impl From<Color> for Ink {
    fn from(c: Color) -> Ink {
        match c {
            Color::Default => Ink::DEFAULT,
            Color::Idx(i) => Ink(Ink::IDX | u32::from(i)),
            Color::Rgb(r, g, b) => Ink(Ink::RGB | u32::from_be_bytes([0, r, g, b])),
        }
    }
}

/// Character attributes, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attrs(u32);

impl Attrs {
    pub const BOLD: Attrs = Attrs(1);
    pub const DIM: Attrs = Attrs(1 << 1);
    pub const ITALIC: Attrs = Attrs(1 << 2);
    pub const UNDERLINE: Attrs = Attrs(1 << 3);
    pub const BLINK: Attrs = Attrs(1 << 4);
    pub const INVERSE: Attrs = Attrs(1 << 5);
    pub const HIDDEN: Attrs = Attrs(1 << 6);
    pub const STRIKE: Attrs = Attrs(1 << 7);
    /// The cell holds a double-width character (the next cell is its spacer).
    const WIDE: Attrs = Attrs(1 << 14);
    /// The right half of a double-width character.
    const SPACER: Attrs = Attrs(1 << 15);
    /// Combining marks may follow the character (see [`Row::marks`]).
    const MARKED: Attrs = Attrs(1 << 16);
    /// Bits that describe the cell's place in the row, not its look.
    const LAYOUT: Attrs = Attrs(Self::WIDE.0 | Self::SPACER.0 | Self::MARKED.0);

    pub fn contains(self, other: Attrs) -> bool {
        self.0 & other.0 == other.0
    }
    fn insert(&mut self, other: Attrs) {
        self.0 |= other.0;
    }
    fn remove(&mut self, other: Attrs) {
        self.0 &= !other.0;
    }
}

/// One character cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    ch: char,
    fg: Ink,
    bg: Ink,
    attrs: Attrs,
}

impl Cell {
    const BLANK: Cell = Cell {
        ch: ' ',
        fg: Ink::DEFAULT,
        bg: Ink::DEFAULT,
        attrs: Attrs(0),
    };

    /// The character (a space for an empty cell or a wide character's
    /// right half).
    pub fn ch(&self) -> char {
        self.ch
    }
    pub fn fg(&self) -> Color {
        self.fg.color()
    }
    pub fn bg(&self) -> Color {
        self.bg.color()
    }
    pub fn attrs(&self) -> Attrs {
        let mut a = self.attrs;
        a.remove(Attrs::LAYOUT);
        a
    }
    /// The left half of a double-width character.
    pub fn is_wide(&self) -> bool {
        self.attrs.contains(Attrs::WIDE)
    }
    /// The right half of a double-width character (drawn by its left half).
    pub fn is_spacer(&self) -> bool {
        self.attrs.contains(Attrs::SPACER)
    }
    /// An erased cell: a blank in the given background.
    fn erased(bg: Ink) -> Cell {
        Cell { bg, ..Cell::BLANK }
    }
}

/// One line of cells.
#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    /// Every cell from here on is [`Cell::BLANK`] (an upper bound: the
    /// blanks a flood leaves need neither packing nor clearing).
    used: usize,
    /// The text continues on the next row (autowrap).
    wrapped: bool,
    /// Combining marks by column (rare; empty costs nothing). A cell with
    /// marks has [`Attrs::MARKED`], so writing over a cell without it never
    /// needs to look here.
    marks: Vec<(u16, String)>,
}

impl Row {
    fn new(cols: usize, fill: Cell) -> Row {
        Row {
            cells: vec![fill; cols],
            used: if fill == Cell::BLANK { 0 } else { cols },
            wrapped: false,
            marks: Vec::new(),
        }
    }

    /// Make it an empty row of `cols` cells, keeping its allocation.
    fn reset(&mut self, cols: usize, fill: Cell) {
        if fill == Cell::BLANK && self.cells.len() == cols {
            self.cells[..self.used].fill(fill);
            self.used = 0;
        } else {
            self.cells.clear();
            self.cells.resize(cols, fill);
            self.used = if fill == Cell::BLANK { 0 } else { cols };
        }
        self.wrapped = false;
        self.marks.clear();
    }

    fn resize(&mut self, cols: usize) {
        self.cells.resize(cols, Cell::BLANK);
        self.used = self.used.min(cols);
        if let Some(last) = self.cells.last_mut() {
            if last.is_wide() {
                *last = Cell::BLANK;
            }
        }
        self.marks.retain(|(c, _)| usize::from(*c) < cols);
        if cols == 0 {
            self.wrapped = false;
        }
    }

    fn forget_marks(&mut self, from: usize, to: usize) {
        if !self.marks.is_empty() {
            self.marks
                .retain(|(c, _)| !(from..to).contains(&usize::from(*c)));
        }
    }

    /// Blank `from..to` (clipped), splitting any wide character cut in two.
    fn erase(&mut self, from: usize, to: usize, fill: Cell) {
        let to = to.min(self.cells.len());
        if from >= to {
            return;
        }
        // A wide character cut in two goes entirely.
        let from = if from > 0 && self.cells[from].is_spacer() {
            from - 1
        } else {
            from
        };
        let to = if to < self.cells.len() && self.cells[to].is_spacer() {
            to + 1
        } else {
            to
        };
        self.cells[from..to].fill(fill);
        if fill != Cell::BLANK {
            self.used = self.used.max(to);
        }
        self.forget_marks(from, to);
    }

    /// The marks on the cell at `col`.
    fn mark(&self, col: usize) -> Option<&str> {
        if !self.cells.get(col)?.attrs.contains(Attrs::MARKED) {
            return None;
        }
        self.marks
            .iter()
            .find(|(c, _)| usize::from(*c) == col)
            .map(|(_, m)| m.as_str())
    }
}

/// A row in the history, packed: its text (marks after their characters,
/// no spacers, no trailing default blanks) and the columns where the style
/// changes. A boot-log line takes about a hundred bytes instead of a full
/// row of cells, and a flood writes that much per line into memory that is
/// no longer in any cache.
#[derive(Debug, Clone, Default)]
struct Line {
    /// UTF-8, written a character or a run of ASCII at a time.
    text: Vec<u8>,
    /// (column, style) where the style changes; the style of column 0 is
    /// the default unless the first entry says otherwise.
    styles: Vec<(u16, Cell)>,
    wrapped: bool,
}

impl Line {
    /// Pack `row` into this line, reusing its allocations.
    fn pack(&mut self, row: &Row) {
        self.text.clear();
        self.styles.clear();
        self.wrapped = row.wrapped;
        let mut end = row.cells[..row.used]
            .iter()
            .rposition(|c| *c != Cell::BLANK)
            .map_or(0, |i| i + 1);
        // A mark on a blank keeps the blank.
        if let Some(last) = row.marks.iter().map(|(c, _)| usize::from(*c) + 1).max() {
            end = end.max(last);
        }
        self.text.reserve(end);
        let cells = &row.cells[..end];
        let mut style = Cell::BLANK;
        // ASCII in the style of the cell before: the usual cell.
        let plain = |c: &Cell, style: &Cell| {
            c.ch.is_ascii() & (c.fg == style.fg) & (c.bg == style.bg) & (c.attrs == style.attrs)
        };
        let mut i = 0;
        while i < cells.len() {
            // Eight usual cells at a time (no early exit, so it vectorises).
            if let Some(eight) = cells.get(i..i + 8) {
                if eight.iter().fold(true, |all, c| all & plain(c, &style)) {
                    let bytes: [u8; 8] = std::array::from_fn(|k| eight[k].ch as u8);
                    self.text.extend_from_slice(&bytes);
                    i += 8;
                    continue;
                }
            }
            let cell = cells[i];
            i += 1;
            if plain(&cell, &style) {
                self.text.push(cell.ch as u8);
                continue;
            }
            if cell.is_spacer() {
                continue;
            }
            let mut this = Cell { ch: ' ', ..cell };
            this.attrs.remove(Attrs::LAYOUT);
            if this != style {
                self.styles.push((to_u16(i - 1), this));
                style = this;
            }
            let mut utf8 = [0u8; 4];
            self.text
                .extend_from_slice(cell.ch.encode_utf8(&mut utf8).as_bytes());
            if let Some(m) = row.mark(i - 1) {
                self.text.extend_from_slice(m.as_bytes());
            }
        }
    }

    /// The text (valid UTF-8 by construction).
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// Its cells, as many as fit in `cols` columns (a line kept from a
    /// wider screen is cut, a wide character across the edge blanked).
    fn cells(&self, cols: usize) -> LineCells<'_> {
        LineCells {
            line: self,
            text: self.as_str(),
            at: 0,
            col: 0,
            cols,
            style: 0,
            spacer: None,
        }
    }
}

/// The cells of a packed [`Line`], spacers and marks restored.
struct LineCells<'a> {
    line: &'a Line,
    text: &'a str,
    /// Byte offset into the text.
    at: usize,
    col: usize,
    /// The screen width: no cells from here on.
    cols: usize,
    /// Index of the next style change.
    style: usize,
    /// The right half still to come after a wide character.
    spacer: Option<Cell>,
}

impl<'a> Iterator for LineCells<'a> {
    type Item = ViewCell<'a>;

    fn next(&mut self) -> Option<ViewCell<'a>> {
        if let Some(spacer) = self.spacer.take() {
            self.col += 1;
            return Some(ViewCell {
                cell: spacer,
                marks: None,
            });
        }
        if self.col >= self.cols {
            return None;
        }
        let text = &self.text[self.at..];
        let mut chars = text.char_indices();
        let (_, ch) = chars.next()?;
        // Zero-width characters after it are its marks.
        let mark_end = chars
            .find(|&(_, c)| char_width(c) != 0)
            .map_or(text.len(), |(i, _)| i);
        let marks = (mark_end > ch.len_utf8()).then(|| &text[ch.len_utf8()..mark_end]);
        self.at += mark_end;
        let styles = &self.line.styles;
        while self.style < styles.len() && usize::from(styles[self.style].0) <= self.col {
            self.style += 1;
        }
        let pen = self
            .style
            .checked_sub(1)
            .map_or(Cell::BLANK, |i| styles[i].1);
        let mut cell = Cell { ch, ..pen };
        if char_width(ch) == 2 && self.col + 1 == self.cols {
            self.col += 1;
            return Some(ViewCell {
                cell: Cell { ch: ' ', ..pen },
                marks: None,
            });
        }
        if char_width(ch) == 2 {
            cell.attrs.insert(Attrs::WIDE);
            let mut spacer = pen;
            spacer.attrs.insert(Attrs::SPACER);
            self.spacer = Some(spacer);
        }
        self.col += 1;
        Some(ViewCell { cell, marks })
    }
}

/// Columns a printable character takes: 0 (combining), 1 or 2.
fn char_width(c: char) -> usize {
    if c < '\x7f' {
        1
    } else {
        c.width().unwrap_or(0)
    }
}

/// A cell as it is drawn: the character with any combining marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewCell<'a> {
    pub cell: Cell,
    /// Combining marks that follow the character.
    pub marks: Option<&'a str>,
}

/// The cells of one row of the view.
enum ViewCells<'a> {
    Screen(&'a Row, usize),
    History(LineCells<'a>),
}

impl<'a> Iterator for ViewCells<'a> {
    type Item = ViewCell<'a>;

    fn next(&mut self) -> Option<ViewCell<'a>> {
        match self {
            ViewCells::Screen(row, i) => {
                let cell = *row.cells.get(*i)?;
                let marks = row.mark(*i);
                *i += 1;
                Some(ViewCell { cell, marks })
            }
            ViewCells::History(cells) => cells.next(),
        }
    }
}

/// A row of the view, from the history or the screen.
#[derive(Clone, Copy)]
enum ViewRow<'a> {
    Screen(&'a Row),
    History(&'a Line),
}

impl<'a> ViewRow<'a> {
    fn cells(self, cols: usize) -> ViewCells<'a> {
        match self {
            ViewRow::Screen(row) => ViewCells::Screen(row, 0),
            ViewRow::History(line) => ViewCells::History(line.cells(cols)),
        }
    }

    fn wrapped(&self) -> bool {
        match self {
            ViewRow::Screen(row) => row.wrapped,
            ViewRow::History(line) => line.wrapped,
        }
    }

    /// The text the row shows in `cols` columns: marks after their
    /// characters, spacers skipped, trailing blanks dropped.
    fn text(self, cols: usize, out: &mut String) {
        let start = out.len();
        for v in self.cells(cols).filter(|v| !v.cell.is_spacer()) {
            out.push(v.cell.ch);
            out.extend(v.marks);
        }
        let trimmed = out[start..].trim_end_matches(' ').len();
        out.truncate(start + trimmed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Ascii,
    /// DEC special graphics: line drawing.
    Graphics,
}

/// The cursor and what is saved with it (DECSC).
#[derive(Debug, Clone, Copy)]
struct Cursor {
    row: usize,
    col: usize,
    /// The next printable character wraps first (xterm's last-column flag).
    wrap_pending: bool,
    pen: Cell,
    charsets: [Charset; 2],
    shift: usize,
    origin: bool,
}

impl Cursor {
    fn home() -> Cursor {
        Cursor {
            row: 0,
            col: 0,
            wrap_pending: false,
            pen: Cell::BLANK,
            charsets: [Charset::Ascii; 2],
            shift: 0,
            origin: false,
        }
    }
}

/// One screen's rows: the primary screen or the alternate one.
#[derive(Debug, Clone, Default)]
struct Screen {
    rows: VecDeque<Row>,
    saved: Option<Cursor>,
}

impl Screen {
    fn new(rows: usize, cols: usize) -> Screen {
        Screen {
            rows: (0..rows).map(|_| Row::new(cols, Cell::BLANK)).collect(),
            saved: None,
        }
    }

    /// Blank every row and forget the saved cursor, keeping the rows'
    /// allocations.
    fn clear(&mut self, cols: usize) {
        for row in self.rows.iter_mut() {
            row.reset(cols, Cell::BLANK);
        }
        self.saved = None;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Modes {
    application_cursor: bool,
    bracketed_paste: bool,
    insert: bool,
    newline: bool,
    autowrap: bool,
    cursor_hidden: bool,
}

/// The screen state the parser drives.
struct State {
    rows: usize,
    cols: usize,
    screen: Screen,
    /// The other screen: the alternate one while the primary shows, and
    /// the primary while the alternate shows.
    other: Screen,
    alternate: bool,
    history: VecDeque<Line>,
    history_limit: usize,
    /// How far the view is scrolled back into the history.
    view_offset: usize,
    cursor: Cursor,
    /// Scroll region, inclusive.
    top: usize,
    bottom: usize,
    tabs: Vec<bool>,
    modes: Modes,
    replies: Vec<u8>,
    /// The screen width while printable ASCII may take the one-store path
    /// (no insert mode, no line-drawing charset in use), 0 otherwise.
    fast_cols: usize,
    /// The cursor (row, column, wrap pending) as the last control, escape
    /// sequence or combining mark left it. REP repeats only when a
    /// character was printed since, as in xterm; printing always moves the
    /// cursor, so this costs printing nothing.
    rep_mark: (usize, usize, bool),
}

/// The terminal emulator: screen, history, modes. No threads and no file
/// descriptors: the benchmark and the tests drive it directly.
pub struct Emulator {
    parser: vte::Parser,
    state: State,
}

impl Emulator {
    /// A screen of `rows` x `cols` (each at least 1) keeping `scrollback`
    /// rows of history.
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Emulator {
        let (rows, cols) = (usize::from(rows.max(1)), usize::from(cols.max(1)));
        Emulator {
            parser: vte::Parser::new(),
            state: State::new(rows, cols, scrollback),
        }
    }

    /// Interpret bytes the program wrote.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.advance(&mut self.state, bytes);
    }

    /// Answers to the program's queries (cursor position, device
    /// attributes), to be written back to it.
    pub fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.state.replies)
    }

    /// (rows, columns).
    pub fn size(&self) -> (u16, u16) {
        (to_u16(self.state.rows), to_u16(self.state.cols))
    }

    /// Resize the screen; `false` when it already had that size. Rows that
    /// no longer fit above the cursor move into the history.
    pub fn resize(&mut self, rows: u16, cols: u16) -> bool {
        let (rows, cols) = (usize::from(rows.max(1)), usize::from(cols.max(1)));
        if (rows, cols) == (self.state.rows, self.state.cols) {
            return false;
        }
        self.state.resize(rows, cols);
        true
    }

    /// The most rows of history kept.
    pub fn scrollback_limit(&self) -> usize {
        self.state.history_limit
    }

    /// Rows of history currently held (at most the limit).
    pub fn scrollback_len(&self) -> usize {
        self.state.history.len()
    }

    /// Heap bytes the history holds (what its lines have room for).
    pub fn history_bytes(&self) -> usize {
        let line = std::mem::size_of::<Line>();
        let style = std::mem::size_of::<(u16, Cell)>();
        self.state.history.capacity() * line
            + self
                .state
                .history
                .iter()
                .map(|l| l.text.capacity() + l.styles.capacity() * style)
                .sum::<usize>()
    }

    /// How many rows the view is scrolled back (0: following the output).
    /// New output keeps a scrolled-back view on the same lines.
    pub fn scroll_offset(&self) -> usize {
        self.state.view_offset
    }

    /// Scroll the view back (positive) or forward (negative) by `rows`.
    pub fn scroll_by(&mut self, rows: isize) {
        let s = &mut self.state;
        s.view_offset = s
            .view_offset
            .saturating_add_signed(rows)
            .min(s.history.len());
    }

    pub fn scroll_to_bottom(&mut self) {
        self.state.view_offset = 0;
    }

    pub fn scroll_to_top(&mut self) {
        self.state.view_offset = self.state.history.len();
    }

    /// The keyboard modes the program asked for.
    pub fn input_modes(&self) -> InputModes {
        InputModes {
            application_cursor: self.state.modes.application_cursor,
            bracketed_paste: self.state.modes.bracketed_paste,
        }
    }

    /// The cursor's (row, column) on the screen, when the program shows it.
    pub fn cursor(&self) -> Option<(u16, u16)> {
        let s = &self.state;
        (!s.modes.cursor_hidden).then(|| (to_u16(s.cursor.row), to_u16(s.cursor.col)))
    }

    /// Row `row` of the view (the history when scrolled back, then the
    /// screen): its cells and their combining marks.
    /// A history row yields its cells up to its last non-blank one.
    pub fn view_row(&self, row: u16) -> Option<impl Iterator<Item = ViewCell<'_>> + '_> {
        Some(
            self.state
                .view_row(usize::from(row))?
                .cells(self.state.cols),
        )
    }

    /// The cell at (`row`, `col`) of the view.
    pub fn cell(&self, row: u16, col: u16) -> Option<Cell> {
        let mut cells = self.view_row(row)?;
        match cells.nth(usize::from(col)) {
            Some(v) => Some(v.cell),
            // Past the end of a packed history row: blank.
            None => (usize::from(col) < self.state.cols).then_some(Cell::BLANK),
        }
    }

    /// The visible text: rows without trailing blanks, a newline after each
    /// row that did not wrap onto the next, no trailing empty rows.
    pub fn contents(&self) -> String {
        let mut out = String::new();
        for r in 0..self.state.rows {
            if let Some(row) = self.state.view_row(r) {
                row.text(self.state.cols, &mut out);
                if !row.wrapped() {
                    out.push('\n');
                }
            }
        }
        let end = out.trim_end_matches('\n').len();
        out.truncate(end);
        out
    }

    /// Everything held, history and then the screen, as text: one line per
    /// row, trailing blanks dropped.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        let s = &self.state;
        let primary = if s.alternate { &s.other } else { &s.screen };
        for line in &s.history {
            out.push_str(line.as_str().trim_end_matches(' '));
            out.push('\n');
        }
        for row in &primary.rows {
            ViewRow::Screen(row).text(s.cols, &mut out);
            out.push('\n');
        }
        out
    }
}

fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn default_tabs(cols: usize) -> Vec<bool> {
    (0..cols).map(|c| c % 8 == 0 && c > 0).collect()
}

/// DEC special graphics for `0x5f..=0x7e`.
fn line_drawing(c: char) -> char {
    const TABLE: [char; 32] = [
        ' ', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼', '⎺', '⎻',
        '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
    ];
    match c {
        '\x5f'..='\x7e' => TABLE[c as usize - 0x5f],
        _ => c,
    }
}

impl State {
    /// A blank screen of `rows` x `cols` (each at least 1).
    fn new(rows: usize, cols: usize, history_limit: usize) -> State {
        let screens = (Screen::new(rows, cols), Screen::new(rows, cols));
        State::with_screens(rows, cols, history_limit, screens)
    }

    /// A fresh state on the given (blank) primary and alternate screens.
    fn with_screens(
        rows: usize,
        cols: usize,
        history_limit: usize,
        (screen, other): (Screen, Screen),
    ) -> State {
        State {
            rows,
            cols,
            screen,
            other,
            alternate: false,
            history: VecDeque::new(),
            history_limit,
            view_offset: 0,
            cursor: Cursor::home(),
            top: 0,
            bottom: rows - 1,
            tabs: default_tabs(cols),
            modes: Modes {
                autowrap: true,
                ..Modes::default()
            },
            replies: Vec::new(),
            fast_cols: cols,
            rep_mark: (0, 0, false),
        }
    }

    fn view_row(&self, r: usize) -> Option<ViewRow<'_>> {
        if r >= self.rows {
            return None;
        }
        let off = self.view_offset.min(self.history.len());
        if r < off {
            self.history
                .get(self.history.len() - off + r)
                .map(ViewRow::History)
        } else {
            self.screen.rows.get(r - off).map(ViewRow::Screen)
        }
    }

    fn update_plain(&mut self) {
        let c = &self.cursor;
        let plain = !self.modes.insert && c.charsets[c.shift] == Charset::Ascii;
        self.fast_cols = if plain { self.cols } else { 0 };
    }

    /// The blank an erase leaves: the pen's background (xterm's
    /// background colour erase), nothing else.
    fn fill(&self) -> Cell {
        Cell::erased(self.cursor.pen.bg)
    }

    fn row_mut(&mut self, r: usize) -> &mut Row {
        &mut self.screen.rows[r]
    }

    /// One store for printable ASCII in the common state.
    #[inline(always)]
    fn print(&mut self, c: char) {
        let cur = &mut self.cursor;
        // A pending wrap only ever waits in the last column, so this also
        // says there is none.
        if c < '\x7f' && cur.col + 1 < self.fast_cols {
            let pen = cur.pen;
            let col = cur.col;
            let row = &mut self.screen.rows[cur.row];
            let cell = &mut row.cells[col];
            if cell.attrs.0 & Attrs::LAYOUT.0 == 0 {
                *cell = Cell { ch: c, ..pen };
                if row.used <= col {
                    row.used = col + 1;
                }
                cur.col += 1;
                return;
            }
        }
        self.print_slow(c);
    }

    #[inline(never)]
    fn print_slow(&mut self, c: char) {
        let c = match self.cursor.charsets[self.cursor.shift] {
            Charset::Graphics => line_drawing(c),
            Charset::Ascii => c,
        };
        let width = char_width(c);
        if width == 0 {
            self.add_mark(c);
            return;
        }
        let cur = &mut self.cursor;
        if width == 1 && !self.modes.insert && cur.col + 1 < self.cols && !cur.wrap_pending {
            let row = &mut self.screen.rows[cur.row];
            let cell = &mut row.cells[cur.col];
            if cell.attrs.0 & Attrs::LAYOUT.0 == 0 {
                *cell = Cell { ch: c, ..cur.pen };
                row.used = row.used.max(cur.col + 1);
                cur.col += 1;
                return;
            }
        }
        // Without autowrap, xterm drops a wide character that does not fit
        // (a pending wrap stays, so a combining mark still joins the last
        // character written).
        if width == 2 && !self.modes.autowrap && self.cursor.col + 2 > self.cols {
            return;
        }
        if self.cursor.wrap_pending {
            if self.modes.autowrap {
                self.wrap();
            } else {
                self.cursor.wrap_pending = false;
            }
        }
        // A wide character that does not fit wraps, leaving the last column
        // as it is (as xterm does).
        if width == 2 && self.cursor.col + 1 >= self.cols {
            if self.cols < 2 {
                return;
            }
            self.wrap();
        }
        let (r, col, cols) = (self.cursor.row, self.cursor.col, self.cols);
        let pen = self.cursor.pen;
        let insert = self.modes.insert;
        let row = self.row_mut(r);
        if insert {
            insert_blanks(row, col, width, Cell::erased(pen.bg));
        }
        // Overwriting half of a wide character blanks its other half; so
        // does overwriting one with marks.
        let layout = |c: &Cell| c.attrs.0 & Attrs::LAYOUT.0 != 0;
        if row.cells[col..col + width].iter().any(layout)
            || row.cells.get(col + width).is_some_and(Cell::is_spacer)
        {
            row.erase(col, col + width, Cell::erased(pen.bg));
        }
        row.cells[col] = Cell { ch: c, ..pen };
        row.used = row.used.max(col + width);
        if width == 2 {
            row.cells[col].attrs.insert(Attrs::WIDE);
            let mut spacer = Cell { ch: ' ', ..pen };
            spacer.attrs.insert(Attrs::SPACER);
            row.cells[col + 1] = spacer;
        }
        if col + width >= cols {
            // Set without autowrap too, as xterm does: the next character
            // then overwrites this one, and a combining mark joins it.
            self.cursor.col = cols - 1;
            self.cursor.wrap_pending = true;
        } else {
            self.cursor.col = col + width;
        }
    }

    /// Remember where the cursor is as something other than a graphic
    /// character ends (see `rep_mark`).
    fn end_of_text(&mut self) {
        let c = &self.cursor;
        self.rep_mark = (c.row, c.col, c.wrap_pending);
    }

    /// The character just printed (the one before the cursor), if the last
    /// thing received was a graphic character.
    fn preceding_char(&self) -> Option<char> {
        let c = &self.cursor;
        if self.rep_mark == (c.row, c.col, c.wrap_pending) {
            return None;
        }
        let mut col = if self.cursor.wrap_pending {
            self.cursor.col
        } else {
            self.cursor.col.checked_sub(1)?
        };
        let row = &self.screen.rows[self.cursor.row];
        if row.cells[col].is_spacer() {
            col = col.checked_sub(1)?;
        }
        Some(row.cells[col].ch)
    }

    /// A zero-width character joins the character before the cursor.
    fn add_mark(&mut self, c: char) {
        let (r, col) = (self.cursor.row, self.cursor.col);
        let target = if self.cursor.wrap_pending {
            col
        } else if col == 0 {
            return;
        } else {
            col - 1
        };
        let row = self.row_mut(r);
        let target = if row.cells[target].is_spacer() && target > 0 {
            target - 1
        } else {
            target
        };
        let key = to_u16(target);
        row.used = row.used.max(target + 1);
        if !row.cells[target].attrs.contains(Attrs::MARKED) {
            // Marks left behind by a cell since overwritten.
            row.marks.retain(|(c, _)| *c != key);
            row.cells[target].attrs.insert(Attrs::MARKED);
        }
        match row.marks.iter_mut().find(|(c, _)| *c == key) {
            Some((_, m)) => {
                if m.len() < 32 {
                    m.push(c)
                }
            }
            None => row.marks.push((key, c.to_string())),
        }
        // xterm does not repeat a combining mark, nor what it joined.
        self.end_of_text();
    }

    /// Autowrap: the row continues on the next one.
    fn wrap(&mut self) {
        let r = self.cursor.row;
        self.row_mut(r).wrapped = true;
        self.index();
        self.cursor.col = 0;
        self.cursor.wrap_pending = false;
    }

    /// Move down a line, scrolling at the bottom margin.
    fn index(&mut self) {
        self.cursor.wrap_pending = false;
        if self.cursor.row == self.bottom {
            self.scroll_up(1);
        } else if self.cursor.row + 1 < self.rows {
            self.cursor.row += 1;
        }
    }

    fn reverse_index(&mut self) {
        self.cursor.wrap_pending = false;
        if self.cursor.row == self.top {
            self.scroll_down_from(self.top, 1);
        } else if self.cursor.row > 0 {
            self.cursor.row -= 1;
        }
    }

    /// Scroll the region up `n` rows.
    fn scroll_up(&mut self, n: usize) {
        let keep = self.top == 0 && !self.alternate && self.history_limit > 0;
        self.scroll_up_from(self.top, n, keep);
    }

    /// Scroll rows `top..=bottom` up `n` rows; with `keep`, the rows that
    /// leave go into the history.
    fn scroll_up_from(&mut self, top: usize, n: usize, keep: bool) {
        let bottom = self.bottom;
        let n = n.min(bottom + 1 - top);
        let fill = self.fill();
        let whole = top == 0 && bottom + 1 == self.rows;
        for _ in 0..n {
            let gone = if whole {
                self.screen.rows.pop_front()
            } else {
                self.screen.rows.remove(top)
            };
            let Some(mut gone) = gone else {
                return;
            };
            if keep {
                self.push_history(&gone);
            }
            gone.reset(self.cols, fill);
            if whole {
                self.screen.rows.push_back(gone);
            } else {
                self.screen.rows.insert(bottom, gone);
            }
        }
    }

    /// Pack `row` onto the end of the history; once the history is full,
    /// its oldest line is reused.
    fn push_history(&mut self, row: &Row) {
        let mut line = if self.history.len() >= self.history_limit {
            self.history.pop_front().unwrap_or_default()
        } else {
            Line::default()
        };
        line.pack(row);
        self.history.push_back(line);
        if self.view_offset > 0 {
            // A scrolled-back view stays on the lines it shows.
            self.view_offset = (self.view_offset + 1).min(self.history.len());
        }
    }

    /// Scroll rows `top..=bottom` down `n` rows.
    fn scroll_down_from(&mut self, top: usize, n: usize) {
        let bottom = self.bottom;
        let n = n.min(bottom + 1 - top);
        let fill = self.fill();
        for _ in 0..n {
            let Some(mut gone) = self.screen.rows.remove(bottom) else {
                return;
            };
            gone.reset(self.cols, fill);
            self.screen.rows.insert(top, gone);
        }
    }

    fn line_feed(&mut self) {
        self.index();
        if self.modes.newline {
            self.cursor.col = 0;
        }
    }

    fn carriage_return(&mut self) {
        self.cursor.col = 0;
        self.cursor.wrap_pending = false;
    }

    /// BS, also from a pending wrap: xterm moves from the last column
    /// (wraptest: "BS works at margin").
    fn backspace(&mut self) {
        self.move_left(1);
    }

    fn tab(&mut self, n: usize) {
        // Past `cols` stops the cursor is at the margin anyway.
        for _ in 0..n.min(self.cols) {
            let next = (self.cursor.col + 1..self.cols).find(|&c| self.tabs[c]);
            self.cursor.col = next.unwrap_or(self.cols - 1);
        }
        // A pending wrap (in the last column, where HT stays) survives, as
        // in xterm (wraptest: "TAB cancels wrap: n").
    }

    fn back_tab(&mut self, n: usize) {
        for _ in 0..n.min(self.cols) {
            let prev = (0..self.cursor.col).rev().find(|&c| self.tabs[c]);
            self.cursor.col = prev.unwrap_or(0);
        }
        self.cursor.wrap_pending = false;
    }

    /// Rows the cursor may reach: the scroll region in origin mode.
    fn row_bounds(&self) -> (usize, usize) {
        if self.cursor.origin {
            (self.top, self.bottom)
        } else {
            (0, self.rows - 1)
        }
    }

    /// Absolute move (CUP): 0-based, relative to the region in origin mode.
    fn goto(&mut self, row: usize, col: usize) {
        let (lo, hi) = self.row_bounds();
        self.cursor.row = lo.saturating_add(row).min(hi);
        self.cursor.col = col.min(self.cols - 1);
        self.cursor.wrap_pending = false;
    }

    fn goto_row(&mut self, row: usize) {
        let col = self.cursor.col;
        self.goto(row, col);
    }

    fn goto_col(&mut self, col: usize) {
        self.cursor.col = col.min(self.cols - 1);
        self.cursor.wrap_pending = false;
    }

    /// Relative vertical move; stops at the margin when starting inside
    /// the region.
    fn move_up(&mut self, n: usize) {
        let floor = if self.cursor.row >= self.top {
            self.top
        } else {
            0
        };
        self.cursor.row = self.cursor.row.saturating_sub(n).max(floor);
        self.cursor.wrap_pending = false;
    }

    fn move_down(&mut self, n: usize) {
        let ceiling = if self.cursor.row <= self.bottom {
            self.bottom
        } else {
            self.rows - 1
        };
        self.cursor.row = self.cursor.row.saturating_add(n).min(ceiling);
        self.cursor.wrap_pending = false;
    }

    fn move_left(&mut self, n: usize) {
        self.cursor.col = self.cursor.col.saturating_sub(n);
        self.cursor.wrap_pending = false;
    }

    fn move_right(&mut self, n: usize) {
        self.cursor.col = self.cursor.col.saturating_add(n).min(self.cols - 1);
        self.cursor.wrap_pending = false;
    }

    fn erase_display(&mut self, mode: usize) {
        let fill = self.fill();
        let (r, c) = (self.cursor.row, self.cursor.col);
        let cols = self.cols;
        match mode {
            0 => {
                self.row_mut(r).erase(c, cols, fill);
                self.row_mut(r).wrapped = false;
                for row in self.screen.rows.iter_mut().skip(r + 1) {
                    row.reset(cols, fill);
                }
            }
            1 => {
                for row in self.screen.rows.iter_mut().take(r) {
                    row.reset(cols, fill);
                }
                self.row_mut(r).erase(0, c + 1, fill);
            }
            2 => {
                for row in self.screen.rows.iter_mut() {
                    row.reset(cols, fill);
                }
            }
            3 => {
                self.history.clear();
                self.view_offset = 0;
            }
            _ => {}
        }
        self.cursor.wrap_pending = false;
    }

    fn erase_line(&mut self, mode: usize) {
        let fill = self.fill();
        let (r, c, cols) = (self.cursor.row, self.cursor.col, self.cols);
        let row = self.row_mut(r);
        match mode {
            0 => {
                row.erase(c, cols, fill);
                row.wrapped = false;
            }
            1 => row.erase(0, c + 1, fill),
            2 => {
                row.erase(0, cols, fill);
                row.wrapped = false;
            }
            _ => {}
        }
        self.cursor.wrap_pending = false;
    }

    fn erase_chars(&mut self, n: usize) {
        let fill = self.fill();
        let (r, c) = (self.cursor.row, self.cursor.col);
        self.row_mut(r).erase(c, c.saturating_add(n), fill);
        self.cursor.wrap_pending = false;
    }

    fn insert_chars(&mut self, n: usize) {
        let fill = self.fill();
        let (r, c) = (self.cursor.row, self.cursor.col);
        insert_blanks(self.row_mut(r), c, n, fill);
        self.cursor.wrap_pending = false;
    }

    fn delete_chars(&mut self, n: usize) {
        let fill = self.fill();
        let (r, c, cols) = (self.cursor.row, self.cursor.col, self.cols);
        let row = self.row_mut(r);
        let n = n.min(cols - c);
        // Split wide characters at both edges of what moves.
        if c + n < cols && row.cells[c + n].is_spacer() {
            row.cells[c + n] = fill;
        }
        if c > 0 && row.cells[c].is_spacer() {
            row.cells[c - 1] = fill;
        }
        row.cells[c..].rotate_left(n);
        row.cells[cols - n..].fill(fill);
        if fill != Cell::BLANK {
            row.used = cols;
        }
        if !row.marks.is_empty() {
            row.marks.retain_mut(|(col, _)| {
                let at = usize::from(*col);
                if at < c {
                    true
                } else if at >= c + n {
                    *col = to_u16(at - n);
                    true
                } else {
                    false
                }
            });
        }
        self.cursor.wrap_pending = false;
    }

    fn insert_lines(&mut self, n: usize) {
        let r = self.cursor.row;
        if r < self.top || r > self.bottom {
            return;
        }
        self.scroll_down_from(r, n);
        self.cursor.col = 0;
        self.cursor.wrap_pending = false;
    }

    fn delete_lines(&mut self, n: usize) {
        let r = self.cursor.row;
        if r < self.top || r > self.bottom {
            return;
        }
        // Deleted lines are gone, not history.
        self.scroll_up_from(r, n, false);
        self.cursor.col = 0;
        self.cursor.wrap_pending = false;
    }

    fn set_region(&mut self, top: usize, bottom: usize) {
        let bottom = bottom.min(self.rows - 1);
        if top >= bottom {
            return;
        }
        self.top = top;
        self.bottom = bottom;
        self.goto(0, 0);
    }

    fn save_cursor(&mut self) {
        self.screen.saved = Some(self.cursor);
    }

    fn restore_cursor(&mut self) {
        let saved = self.screen.saved.unwrap_or_else(Cursor::home);
        self.cursor = saved;
        // In origin mode the row stays above the bottom margin (xterm's
        // DECRC goes through its CUP).
        let (_, hi) = self.row_bounds();
        self.cursor.row = self.cursor.row.min(hi);
        self.cursor.col = self.cursor.col.min(self.cols - 1);
        // A wrap waits only in the last column.
        self.cursor.wrap_pending &= self.cursor.col + 1 == self.cols;
        self.update_plain();
    }

    fn enter_alternate(&mut self, clear: bool) {
        if !self.alternate {
            std::mem::swap(&mut self.screen, &mut self.other);
            self.alternate = true;
            self.view_offset = 0;
        }
        if clear {
            let cols = self.cols;
            for row in self.screen.rows.iter_mut() {
                row.reset(cols, Cell::BLANK);
            }
        }
    }

    fn leave_alternate(&mut self) {
        if self.alternate {
            std::mem::swap(&mut self.screen, &mut self.other);
            self.alternate = false;
        }
    }

    /// RIS: everything back to its power-on state except the history and
    /// answers not yet sent.
    fn reset(&mut self) {
        self.leave_alternate();
        let mut screens = (
            std::mem::take(&mut self.screen),
            std::mem::take(&mut self.other),
        );
        // A guest may reset in a loop: the rows are reused, not remade.
        screens.0.clear(self.cols);
        screens.1.clear(self.cols);
        *self = State {
            history: std::mem::take(&mut self.history),
            replies: std::mem::take(&mut self.replies),
            ..State::with_screens(self.rows, self.cols, self.history_limit, screens)
        };
    }

    fn resize(&mut self, rows: usize, cols: usize) {
        // The cursor's row stays on screen: rows above it that no longer
        // fit go into the primary screen's history.
        let excess = (self.cursor.row + 1).saturating_sub(rows);
        let other_excess = self
            .other
            .saved
            .map_or(0, |c| (c.row + 1).saturating_sub(rows));
        let (primary_excess, primary) = if self.alternate {
            (other_excess, &self.other)
        } else {
            (excess, &self.screen)
        };
        if self.history_limit > 0 {
            let leaving: Vec<Row> = primary.rows.iter().take(primary_excess).cloned().collect();
            for row in &leaving {
                self.push_history(row);
            }
        }
        fit(&mut self.screen, rows, cols, excess);
        fit(&mut self.other, rows, cols, other_excess);
        self.cursor.row -= excess;
        self.cursor.col = self.cursor.col.min(cols - 1);
        self.cursor.wrap_pending = false;
        self.rows = rows;
        self.cols = cols;
        self.update_plain();
        self.top = 0;
        self.bottom = rows - 1;
        self.tabs = default_tabs(cols);
        self.view_offset = self.view_offset.min(self.history.len());
        self.end_of_text();
    }

    fn set_mode(&mut self, private: bool, mode: u16, on: bool) {
        if !private {
            match mode {
                4 => self.modes.insert = on,
                20 => self.modes.newline = on,
                _ => {}
            }
            self.update_plain();
            return;
        }
        match mode {
            1 => self.modes.application_cursor = on,
            6 => {
                self.cursor.origin = on;
                self.goto(0, 0);
            }
            7 => self.modes.autowrap = on,
            25 => self.modes.cursor_hidden = !on,
            47 | 1047 => {
                if on {
                    self.enter_alternate(mode == 1047);
                } else {
                    if mode == 1047 && self.alternate {
                        let cols = self.cols;
                        for row in self.screen.rows.iter_mut() {
                            row.reset(cols, Cell::BLANK);
                        }
                    }
                    self.leave_alternate();
                }
            }
            1048 => {
                if on {
                    self.save_cursor()
                } else {
                    self.restore_cursor()
                }
            }
            1049 => {
                if on {
                    self.save_cursor();
                    self.enter_alternate(true);
                } else {
                    self.leave_alternate();
                    self.restore_cursor();
                }
            }
            2004 => self.modes.bracketed_paste = on,
            _ => {}
        }
    }

    fn sgr(&mut self, params: &vte::Params) {
        let pen = &mut self.cursor.pen;
        if params.is_empty() {
            *pen = Cell::BLANK;
            return;
        }
        let mut it = params.iter();
        while let Some(p) = it.next() {
            match p[0] {
                0 => *pen = Cell::BLANK,
                1 => pen.attrs.insert(Attrs::BOLD),
                2 => pen.attrs.insert(Attrs::DIM),
                3 => pen.attrs.insert(Attrs::ITALIC),
                4 => {
                    if p.get(1) == Some(&0) {
                        pen.attrs.remove(Attrs::UNDERLINE)
                    } else {
                        pen.attrs.insert(Attrs::UNDERLINE)
                    }
                }
                5 | 6 => pen.attrs.insert(Attrs::BLINK),
                7 => pen.attrs.insert(Attrs::INVERSE),
                8 => pen.attrs.insert(Attrs::HIDDEN),
                9 => pen.attrs.insert(Attrs::STRIKE),
                21 => pen.attrs.insert(Attrs::UNDERLINE),
                22 => {
                    pen.attrs.remove(Attrs::BOLD);
                    pen.attrs.remove(Attrs::DIM);
                }
                23 => pen.attrs.remove(Attrs::ITALIC),
                24 => pen.attrs.remove(Attrs::UNDERLINE),
                25 => pen.attrs.remove(Attrs::BLINK),
                27 => pen.attrs.remove(Attrs::INVERSE),
                28 => pen.attrs.remove(Attrs::HIDDEN),
                29 => pen.attrs.remove(Attrs::STRIKE),
                n @ 30..=37 => pen.fg = Color::Idx((n - 30) as u8).into(),
                38 => {
                    if let Some(c) = extended_color(p, &mut it) {
                        pen.fg = c.into();
                    }
                }
                39 => pen.fg = Color::Default.into(),
                n @ 40..=47 => pen.bg = Color::Idx((n - 40) as u8).into(),
                48 => {
                    if let Some(c) = extended_color(p, &mut it) {
                        pen.bg = c.into();
                    }
                }
                49 => pen.bg = Color::Default.into(),
                n @ 90..=97 => pen.fg = Color::Idx((n - 90 + 8) as u8).into(),
                n @ 100..=107 => pen.bg = Color::Idx((n - 100 + 8) as u8).into(),
                _ => {}
            }
        }
    }

    fn device_status(&mut self, mode: usize) {
        match mode {
            5 => self.replies.extend_from_slice(b"\x1b[0n"),
            6 => {
                let (lo, _) = self.row_bounds();
                let row = self.cursor.row - lo.min(self.cursor.row) + 1;
                let col = self.cursor.col + 1;
                self.replies
                    .extend_from_slice(format!("\x1b[{row};{col}R").as_bytes());
            }
            _ => {}
        }
    }
}

/// Give `screen` `rows` rows of `cols` cells, dropping `excess` rows from
/// the top and then rows from the bottom.
fn fit(screen: &mut Screen, rows: usize, cols: usize, excess: usize) {
    screen.rows.drain(..excess.min(screen.rows.len()));
    for row in screen.rows.iter_mut() {
        row.resize(cols);
    }
    screen.rows.truncate(rows);
    while screen.rows.len() < rows {
        screen.rows.push_back(Row::new(cols, Cell::BLANK));
    }
    if let Some(saved) = screen.saved.as_mut() {
        saved.row = saved.row.saturating_sub(excess).min(rows - 1);
        saved.col = saved.col.min(cols - 1);
    }
}

/// Insert `n` blanks at `col`, pushing the rest right (what falls off the
/// end is gone).
fn insert_blanks(row: &mut Row, col: usize, n: usize, fill: Cell) {
    let cols = row.cells.len();
    if col >= cols {
        return;
    }
    let n = n.min(cols - col);
    if row.cells[col].is_spacer() && col > 0 {
        row.cells[col - 1] = fill;
        row.cells[col] = fill;
    }
    row.cells[col..].rotate_right(n);
    row.cells[col..col + n].fill(fill);
    row.used = if fill == Cell::BLANK {
        (row.used + n).min(cols)
    } else {
        cols
    };
    if let Some(last) = row.cells.last_mut() {
        if last.is_wide() {
            *last = fill;
        }
    }
    if !row.marks.is_empty() {
        row.marks.retain_mut(|(c, _)| {
            let at = usize::from(*c);
            if at < col {
                true
            } else if at + n < cols {
                *c = to_u16(at + n);
                true
            } else {
                false
            }
        });
    }
}

/// `38;5;N`, `38;2;R;G;B` and their colon forms (`38:5:N`, `38:2::R:G:B`).
fn extended_color<'a>(p: &[u16], rest: &mut impl Iterator<Item = &'a [u16]>) -> Option<Color> {
    let byte = |v: u16| u8::try_from(v).unwrap_or(u8::MAX);
    if p.len() > 1 {
        return match p[1] {
            5 => p.get(2).map(|&n| Color::Idx(byte(n))),
            2 => {
                // With a colour-space id (6 values) or without (5).
                let rgb = if p.len() >= 6 { &p[3..6] } else { p.get(2..5)? };
                Some(Color::Rgb(byte(rgb[0]), byte(rgb[1]), byte(rgb[2])))
            }
            _ => None,
        };
    }
    match rest.next()?[0] {
        5 => Some(Color::Idx(byte(rest.next()?[0]))),
        2 => {
            let r = rest.next()?[0];
            let g = rest.next()?[0];
            let b = rest.next()?[0];
            Some(Color::Rgb(byte(r), byte(g), byte(b)))
        }
        _ => None,
    }
}

/// The first parameter, with 0 or missing meaning `default`.
fn arg(params: &vte::Params, i: usize, default: u16) -> usize {
    let v = params
        .iter()
        .nth(i)
        .and_then(|p| p.first().copied())
        .unwrap_or(0);
    usize::from(if v == 0 { default } else { v })
}

impl vte::Perform for State {
    #[inline]
    fn print(&mut self, c: char) {
        State::print(self, c);
    }

    fn execute(&mut self, byte: u8) {
        self.control(byte);
        self.end_of_text();
    }

    fn csi_dispatch(
        &mut self,
        params: &vte::Params,
        intermediates: &[u8],
        ignore: bool,
        action: char,
    ) {
        if !ignore {
            self.csi(params, intermediates, action);
        }
        self.end_of_text();
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], ignore: bool, byte: u8) {
        if !ignore {
            self.esc(intermediates, byte);
        }
        self.end_of_text();
    }

    fn osc_dispatch(&mut self, _params: &[&[u8]], _bell_terminated: bool) {
        self.end_of_text();
    }

    fn hook(&mut self, _params: &vte::Params, _intermediates: &[u8], _ignore: bool, _c: char) {
        self.end_of_text();
    }

    fn unhook(&mut self) {
        self.end_of_text();
    }
}

impl State {
    /// A C0 or C1 control.
    fn control(&mut self, byte: u8) {
        match byte {
            0x08 => self.backspace(),
            0x09 => self.tab(1),
            0x0a..=0x0c => self.line_feed(),
            0x0d => self.carriage_return(),
            0x0e => {
                self.cursor.shift = 1;
                self.update_plain();
            }
            0x0f => {
                self.cursor.shift = 0;
                self.update_plain();
            }
            // C1 controls that arrive as 8-bit bytes.
            0x84 => self.index(),
            0x85 => {
                self.index();
                self.carriage_return();
            }
            0x88 => {
                let c = self.cursor.col;
                self.tabs[c] = true;
            }
            0x8d => self.reverse_index(),
            _ => {}
        }
    }

    fn csi(&mut self, params: &vte::Params, intermediates: &[u8], action: char) {
        let private = intermediates.first() == Some(&b'?');
        match (intermediates, action) {
            ([], '@') => self.insert_chars(arg(params, 0, 1)),
            ([], 'A') => self.move_up(arg(params, 0, 1)),
            ([], 'B' | 'e') => self.move_down(arg(params, 0, 1)),
            ([], 'C' | 'a') => self.move_right(arg(params, 0, 1)),
            ([], 'D') => self.move_left(arg(params, 0, 1)),
            ([], 'E') => {
                self.move_down(arg(params, 0, 1));
                self.cursor.col = 0;
            }
            ([], 'F') => {
                self.move_up(arg(params, 0, 1));
                self.cursor.col = 0;
            }
            ([], 'G' | '`') => self.goto_col(arg(params, 0, 1) - 1),
            ([], 'H' | 'f') => self.goto(arg(params, 0, 1) - 1, arg(params, 1, 1) - 1),
            ([], 'I') => self.tab(arg(params, 0, 1)),
            ([], 'J') | ([b'?'], 'J') => self.erase_display(arg(params, 0, 0)),
            ([], 'K') | ([b'?'], 'K') => self.erase_line(arg(params, 0, 0)),
            ([], 'L') => self.insert_lines(arg(params, 0, 1)),
            ([], 'M') => self.delete_lines(arg(params, 0, 1)),
            ([], 'P') => self.delete_chars(arg(params, 0, 1)),
            ([], 'S') => self.scroll_up(arg(params, 0, 1)),
            ([], 'T') => self.scroll_down_from(self.top, arg(params, 0, 1)),
            ([], 'X') => self.erase_chars(arg(params, 0, 1)),
            ([], 'Z') => self.back_tab(arg(params, 0, 1)),
            ([], 'b') => {
                // REP: the last printed character again, at most a screenful.
                let n = arg(params, 0, 1).min(self.rows * self.cols);
                if let Some(c) = self.preceding_char() {
                    for _ in 0..n {
                        self.print(c);
                    }
                }
            }
            ([], 'c') if arg(params, 0, 0) == 0 => {
                // A VT100 with advanced video.
                self.replies.extend_from_slice(b"\x1b[?1;2c");
            }
            ([], 'd') => self.goto_row(arg(params, 0, 1) - 1),
            ([], 'g') => match arg(params, 0, 0) {
                0 => {
                    let c = self.cursor.col;
                    self.tabs[c] = false;
                }
                3 => self.tabs.fill(false),
                _ => {}
            },
            ([] | [b'?'], 'h' | 'l') => {
                for p in params.iter() {
                    self.set_mode(private, p[0], action == 'h');
                }
            }
            ([], 'm') => self.sgr(params),
            ([], 'n') => self.device_status(arg(params, 0, 0)),
            ([], 'r') => {
                let top = arg(params, 0, 1) - 1;
                let bottom = arg(params, 1, to_u16(self.rows)) - 1;
                self.set_region(top, bottom);
            }
            ([], 's') => self.save_cursor(),
            ([], 'u') => self.restore_cursor(),
            _ => {}
        }
    }

    fn esc(&mut self, intermediates: &[u8], byte: u8) {
        match (intermediates, byte) {
            ([], b'7') => self.save_cursor(),
            ([], b'8') => self.restore_cursor(),
            ([], b'D') => self.index(),
            ([], b'E') => {
                self.index();
                self.carriage_return();
            }
            ([], b'H') => {
                let c = self.cursor.col;
                self.tabs[c] = true;
            }
            ([], b'M') => self.reverse_index(),
            ([], b'c') => self.reset(),
            ([b'#'], b'8') => {
                // DECALN: fill the screen with E.
                let cols = self.cols;
                for row in self.screen.rows.iter_mut() {
                    row.reset(
                        cols,
                        Cell {
                            ch: 'E',
                            ..Cell::BLANK
                        },
                    );
                }
                self.top = 0;
                self.bottom = self.rows - 1;
                self.goto(0, 0);
            }
            ([b'(' | b')'], b'0' | b'B' | b'A') => {
                let set = if byte == b'0' {
                    Charset::Graphics
                } else {
                    Charset::Ascii
                };
                let g = usize::from(intermediates[0] == b')');
                self.cursor.charsets[g] = set;
                self.update_plain();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
impl Row {
    /// What the rest of this module relies on about a row.
    fn check(&self, cols: usize) -> Result<(), String> {
        if self.cells.len() != cols {
            return Err(format!("{} cells, not {cols}", self.cells.len()));
        }
        if self.used > cols {
            return Err(format!("used {} > {cols}", self.used));
        }
        if let Some(i) = self.cells[self.used..]
            .iter()
            .position(|c| *c != Cell::BLANK)
        {
            return Err(format!(
                "cell {} past used {} is not blank",
                self.used + i,
                self.used
            ));
        }
        for (i, c) in self.cells.iter().enumerate() {
            if c.is_wide() && !self.cells.get(i + 1).is_some_and(Cell::is_spacer) {
                return Err(format!("wide cell {i} without its spacer"));
            }
            if c.is_spacer() && !(i > 0 && self.cells[i - 1].is_wide()) {
                return Err(format!("spacer {i} without its wide cell"));
            }
            if c.attrs.contains(Attrs::MARKED)
                && !self.marks.iter().any(|(m, _)| usize::from(*m) == i)
            {
                return Err(format!("cell {i} is marked but has no marks"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl State {
    /// The invariants of the whole state.
    fn check(&self) -> Result<(), String> {
        let (rows, cols) = (self.rows, self.cols);
        for (name, screen) in [("screen", &self.screen), ("other", &self.other)] {
            if screen.rows.len() != rows {
                return Err(format!("{name} has {} rows, not {rows}", screen.rows.len()));
            }
            for (r, row) in screen.rows.iter().enumerate() {
                row.check(cols)
                    .map_err(|e| format!("{name} row {r}: {e}"))?;
            }
            if let Some(saved) = screen.saved {
                if saved.row >= rows || saved.col >= cols {
                    return Err(format!(
                        "{name} saved cursor {},{} off screen",
                        saved.row, saved.col
                    ));
                }
            }
        }
        let c = &self.cursor;
        if c.row >= rows || c.col >= cols {
            return Err(format!(
                "cursor {},{} off a {rows}x{cols} screen",
                c.row, c.col
            ));
        }
        if c.wrap_pending && c.col + 1 != cols {
            return Err(format!("wrap pending in column {}", c.col));
        }
        if self.top > self.bottom || self.bottom >= rows {
            return Err(format!("region {}..={}", self.top, self.bottom));
        }
        if self.tabs.len() != cols {
            return Err(format!("{} tab stops for {cols} columns", self.tabs.len()));
        }
        if self.history.len() > self.history_limit {
            return Err(format!(
                "history {} over {}",
                self.history.len(),
                self.history_limit
            ));
        }
        if self.view_offset > self.history.len() {
            return Err(format!("view offset {} past the history", self.view_offset));
        }
        let plain = !self.modes.insert && c.charsets[c.shift] == Charset::Ascii;
        if self.fast_cols != if plain { cols } else { 0 } {
            return Err(format!("fast_cols {} with plain {plain}", self.fast_cols));
        }
        for (i, line) in self.history.iter().enumerate() {
            if line.styles.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(format!("history line {i}: style columns out of order"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emu(rows: u16, cols: u16) -> Emulator {
        Emulator::new(rows, cols, 100)
    }

    fn lines(e: &Emulator) -> Vec<String> {
        (0..e.size().0)
            .map(|r| {
                let mut s = String::new();
                e.state
                    .view_row(usize::from(r))
                    .unwrap()
                    .text(e.state.cols, &mut s);
                s
            })
            .collect()
    }

    #[test]
    fn cells_stay_small() {
        assert_eq!(std::mem::size_of::<Cell>(), 16);
    }

    #[test]
    fn prints_wraps_and_scrolls_into_history() {
        let mut e = emu(3, 5);
        e.feed(b"abcdefg\r\nxy\r\nz\r\nlast");
        assert_eq!(lines(&e), ["xy", "z", "last"]);
        assert_eq!(e.scrollback_len(), 2);
        assert_eq!(e.all_text(), "abcde\nfg\nxy\nz\nlast\n");
        // The row that wrapped joins its continuation in `contents`.
        e.scroll_to_top();
        assert_eq!(e.contents(), "abcdefg\nxy");
    }

    #[test]
    fn pending_wrap_is_xterms() {
        let mut e = emu(3, 5);
        // Filling the last column does not wrap yet; CR then goes home.
        e.feed(b"abcde\rX");
        assert_eq!(lines(&e)[0], "Xbcde");
        assert_eq!(e.cursor(), Some((0, 1)));
        let mut e = emu(3, 5);
        e.feed(b"\x1b[?7labcdefg");
        assert_eq!(lines(&e)[0], "abcdg");
    }

    #[test]
    fn cursor_moves_and_erases() {
        let mut e = emu(4, 10);
        e.feed(b"0123456789\x1b[2;3Hab\x1b[1;5H\x1b[K\x1b[3;1Hxyz\x1b[1D\x1b[1P");
        assert_eq!(lines(&e), ["0123", "  ab", "xy", ""]);
        e.feed(b"\x1b[2J");
        assert_eq!(lines(&e), ["", "", "", ""]);
        e.feed(b"\x1b[4;10Hq\x1b[6n\x1b[c");
        assert_eq!(e.take_replies(), b"\x1b[4;10R\x1b[?1;2c");
        assert!(e.take_replies().is_empty());
    }

    #[test]
    fn colours_and_attributes() {
        let mut e = emu(2, 20);
        e.feed(b"\x1b[1;31;44ma\x1b[38;5;200;48;2;1;2;3mb\x1b[38:2::9:8:7mc\x1b[0md");
        let a = e.cell(0, 0).unwrap();
        assert_eq!((a.fg(), a.bg()), (Color::Idx(1), Color::Idx(4)));
        assert!(a.attrs().contains(Attrs::BOLD));
        let b = e.cell(0, 1).unwrap();
        assert_eq!((b.fg(), b.bg()), (Color::Idx(200), Color::Rgb(1, 2, 3)));
        assert_eq!(e.cell(0, 2).unwrap().fg(), Color::Rgb(9, 8, 7));
        assert_eq!(
            e.cell(0, 3).unwrap(),
            Cell {
                ch: 'd',
                ..Cell::BLANK
            }
        );
        // Erase takes the pen's background only.
        e.feed(b"\x1b[1;42m\x1b[2K");
        assert_eq!(e.cell(0, 0).unwrap(), Cell::erased(Color::Idx(2).into()));
    }

    #[test]
    fn scroll_region_keeps_history_clean() {
        let mut e = emu(4, 10);
        e.feed(b"top\r\n1\r\n2\r\nbottom\x1b[2;3r\x1b[3;1H\nnew");
        assert_eq!(lines(&e), ["top", "2", "new", "bottom"]);
        assert_eq!(e.scrollback_len(), 0);
        // Insert and delete lines inside the region.
        e.feed(b"\x1b[2;1H\x1b[L");
        assert_eq!(lines(&e), ["top", "", "2", "bottom"]);
        e.feed(b"\x1b[M\x1b[M");
        assert_eq!(lines(&e), ["top", "", "", "bottom"]);
        // Reverse index at the top margin scrolls the region down.
        e.feed(b"\x1b[3;1Hx\x1b[2;1H\x1bM");
        assert_eq!(lines(&e), ["top", "", "", "bottom"]);
    }

    #[test]
    fn wide_and_combining_characters() {
        let mut e = emu(2, 6);
        e.feed("漢字e\u{301}".as_bytes());
        assert!(e.cell(0, 0).unwrap().is_wide());
        assert!(e.cell(0, 1).unwrap().is_spacer());
        assert_eq!(e.cursor(), Some((0, 5)));
        assert_eq!(lines(&e)[0], "漢字e\u{301}");
        // Overwriting a spacer splits the wide character.
        e.feed(b"\x1b[1;2Hx");
        assert_eq!(lines(&e)[0], " x字e\u{301}");
        // A wide character that does not fit wraps.
        let mut e = emu(2, 3);
        e.feed("ab漢".as_bytes());
        assert_eq!(lines(&e), ["ab", "漢"]);
    }

    #[test]
    fn alternate_screen_and_saved_cursor() {
        let mut e = emu(3, 10);
        e.feed(b"shell$ \x1b[?1049h\x1b[Hfull screen\x1b[2;2Hx");
        assert_eq!(lines(&e), ["full scree", "nx", ""]);
        e.feed(b"\x1b[?1049l");
        assert_eq!(lines(&e)[0], "shell$");
        assert_eq!(e.cursor(), Some((0, 7)));
        assert_eq!(e.scrollback_len(), 0);
    }

    #[test]
    fn line_drawing_and_tabs() {
        let mut e = emu(2, 20);
        e.feed(b"\x1b(0lqk\x1b(B|\ta\x0e\x1b)0x\x0fx");
        assert_eq!(lines(&e)[0], "┌─┐|    a│x");
    }

    #[test]
    fn modes_and_reset() {
        let mut e = emu(3, 10);
        e.feed(b"\x1b[?1h\x1b[?2004h\x1b[?25l");
        assert!(e.input_modes().application_cursor);
        assert!(e.input_modes().bracketed_paste);
        assert_eq!(e.cursor(), None);
        e.feed(b"abc\x1b[1;1H\x1b[4hX");
        assert_eq!(lines(&e)[0], "Xabc");
        e.feed(b"\x1bc");
        assert_eq!(e.input_modes(), InputModes::default());
        assert_eq!(e.cursor(), Some((0, 0)));
        assert_eq!(lines(&e)[0], "");
    }

    #[test]
    fn resize_keeps_the_cursor_line() {
        let mut e = emu(5, 10);
        e.feed(b"1\r\n2\r\n3\r\n4\r\n5");
        assert!(e.resize(2, 4));
        assert_eq!(lines(&e), ["4", "5"]);
        assert_eq!(e.scrollback_len(), 3);
        assert_eq!(e.cursor(), Some((1, 1)));
        assert!(e.resize(4, 20));
        assert_eq!(lines(&e), ["4", "5", "", ""]);
        assert!(!e.resize(4, 20));
    }

    #[test]
    fn scrolled_back_view_stays_on_its_lines() {
        let mut e = emu(2, 10);
        for i in 0..10 {
            e.feed(format!("{i}\r\n").as_bytes());
        }
        e.scroll_by(3);
        let before = e.contents();
        e.feed(b"more\r\nand more\r\n");
        assert_eq!(e.contents(), before);
        assert_eq!(e.scroll_offset(), 5);
    }

    /// Bytes that are mostly escape sequences the emulator acts on.
    fn sequences() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            3 => (
                prop::sample::select(vec!["", "?", ">", "!"]),
                prop::collection::vec(prop_oneof![0u16..10, 0u16..100, Just(65535u16)], 0..4),
                prop::sample::select(b"@ABCDEFGHIJKLMPSTXZabcdfghlmnrsu`".to_vec()),
            )
                .prop_map(|(p, params, f)| {
                    let params: Vec<String> = params.iter().map(u16::to_string).collect();
                    format!("\x1b[{p}{}{}", params.join(";"), f as char).into_bytes()
                }),
            1 => prop::sample::select(vec![
                "\x1b7", "\x1b8", "\x1bD", "\x1bE", "\x1bM", "\x1bH", "\x1b#8", "\x1b(0",
                "\x1b(B", "\x1b)0", "\x0e", "\x0f", "\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h",
                "\x1b[?1047l", "\x1b[4h", "\x1b[?6h", "\x1b[?7l", "\x1bc", "\x1b[3J",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            3 => "[ -~]{0,12}".prop_map(String::into_bytes),
            1 => "[漢字e\u{301}\u{20d7}\r\n\t\x08]{1,6}".prop_map(String::into_bytes),
            1 => prop::collection::vec(any::<u8>(), 0..8),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        // A failure is printed, never written into the tree.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 200,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn invariants_hold_after_any_bytes_and_resizes(
            steps in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        sequences(),
                        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                    ],
                    proptest::option::of((1u16..30, 1u16..30)),
                ),
                1..6,
            ),
            (rows, cols) in (1u16..12, 1u16..20),
        ) {
            let mut e = Emulator::new(rows, cols, 8);
            for (bytes, resize) in &steps {
                e.feed(bytes);
                if let Err(err) = e.state.check() {
                    panic!("after {:?}: {err}", String::from_utf8_lossy(bytes));
                }
                if let Some((r, c)) = resize {
                    e.resize(*r, *c);
                    e.state.check().map_err(|err| {
                        proptest::test_runner::TestCaseError::fail(format!("after resize {r}x{c}: {err}"))
                    })?;
                }
            }
        }
    }
}
