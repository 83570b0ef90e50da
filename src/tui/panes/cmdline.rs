//! The live command-line preview: [`crate::core::cmdline::render_shell`]'s
//! output, wrapped to the pane between words (so a copy of the screen is
//! the same command) and scrollable; `y` copies what it shows. `r` shows
//! the guest recipe instead ([`crate::core::export::guest`]: ndctl, mkfs, mount).

use super::{is_move, page, pane_block, step, Component, DrawCx, EventState};
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::Doc;
use crate::tui::geometry::{inner, Pane};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const COMMANDS: &[Command] = &[cmd(
    Action::ToggleRecipe,
    "show the guest recipe (ndctl, mkfs, mount) or the command line again (from any pane)",
    Some("recipe"),
)];

/// The shell lines as rows of at most `width` characters that are still
/// the same shell text, so that a copy of the screen runs as the lines do
/// (see [`wrap_line`]).
pub fn wrap(lines: &[String], width: usize) -> Vec<String> {
    lines.iter().flat_map(|l| wrap_line(l, width)).collect()
}

/// Where a line of shell may be cut, found by following its quoting.
struct Scan {
    chars: Vec<char>,
    /// Whitespace between words (outside quotes and substitutions).
    space: Vec<bool>,
    /// A `\`-newline may follow this character inside a word: outside
    /// quotes, in double quotes and in `$(`...`)`, where the shell drops it.
    soft: Vec<bool>,
    /// The same inside single quotes: the quote is closed before the
    /// `\` and opened again on the next row (`'ab'\` `'cd'` is `abcd`).
    quoted: Vec<bool>,
    /// Where a `#` comment starts.
    comment: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    Single,
    Double,
    /// `$(`...`)` (and `$((`...`))`), with its open parentheses.
    Sub(u32),
    /// `${`...`}`.
    Brace,
}

fn scan(line: &str) -> Scan {
    let chars: Vec<char> = line.chars().collect();
    let n = chars.len();
    let mut space = vec![false; n];
    let mut soft = vec![false; n];
    let mut quoted = vec![false; n];
    let mut comment = None;
    let mut stack: Vec<Ctx> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let mut step = 1;
        match stack.last().copied() {
            None | Some(Ctx::Sub(_)) => match c {
                '\\' => step = 2,
                '\'' => stack.push(Ctx::Single),
                '"' => stack.push(Ctx::Double),
                '$' if next == Some('(') => {
                    stack.push(Ctx::Sub(0));
                    step = 2;
                }
                '$' if next == Some('{') => {
                    stack.push(Ctx::Brace);
                    step = 2;
                }
                '(' | ')' if stack.is_empty() => {}
                '(' => {
                    if let Some(Ctx::Sub(d)) = stack.last_mut() {
                        *d += 1;
                    }
                }
                ')' => match stack.last_mut() {
                    Some(Ctx::Sub(0)) => {
                        stack.pop();
                    }
                    Some(Ctx::Sub(d)) => *d -= 1,
                    _ => {}
                },
                '#' if stack.is_empty() && (i == 0 || chars[i - 1].is_whitespace()) => {
                    comment = Some(i);
                    break;
                }
                c if c.is_whitespace() && stack.is_empty() => space[i] = true,
                _ => {}
            },
            Some(Ctx::Single) => {
                if c == '\'' {
                    stack.pop();
                }
            }
            Some(Ctx::Double) => match c {
                '\\' => step = 2,
                '"' => {
                    stack.pop();
                }
                '$' if next == Some('(') => {
                    stack.push(Ctx::Sub(0));
                    step = 2;
                }
                '$' if next == Some('{') => {
                    stack.push(Ctx::Brace);
                    step = 2;
                }
                _ => {}
            },
            Some(Ctx::Brace) => {
                if c == '}' {
                    stack.pop();
                }
            }
        }
        let last = (i + step).min(n) - 1;
        soft[last] = !space[last] && stack.iter().all(|c| matches!(c, Ctx::Double | Ctx::Sub(_)));
        quoted[last] = stack == [Ctx::Single];
        i += step;
    }
    Scan {
        chars,
        space,
        soft,
        quoted,
        comment,
    }
}

fn text(chars: &[char]) -> String {
    chars.iter().collect()
}

/// One line of shell as rows of at most `width` characters (when it can
/// be cut there) that mean the same to the shell:
/// - between words, a row ends with ` \` and the next is indented;
/// - a word too long for a row is cut after a comma (else anywhere) with
///   a `\` and goes on at the start of the next row (in single quotes the
///   row ends `'\` and the next starts with `'`);
/// - a comment goes on with `# ` on its next rows.
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    let width = width.max(12);
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let sc = scan(line);
    let code_end = sc.comment.unwrap_or(sc.chars.len());
    let indent_len = sc.chars.iter().take_while(|c| **c == ' ').count();
    let indent = " ".repeat(indent_len);
    // The words of the code, as ranges.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = indent_len;
    while i < code_end {
        if sc.space[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < code_end && !sc.space[i] {
            i += 1;
        }
        words.push((start, i));
    }
    let comment = sc.comment.map(|c| text(&sc.chars[c..]));
    let mut rows: Vec<String> = Vec::new();
    let mut cur = indent.clone();
    // Does the current row hold a word yet?
    let mut filled = false;
    let len = |s: &str| s.chars().count();
    let more_indent = format!("{indent}    ");
    for (k, &(a, b)) in words.iter().enumerate() {
        let word = text(&sc.chars[a..b]);
        let last = k + 1 == words.len() && comment.is_none();
        let room = if last { width } else { width - 2 };
        let sep = if filled { " " } else { "" };
        if len(&cur) + len(sep) + len(&word) <= room {
            cur.push_str(sep);
            cur.push_str(&word);
            filled = true;
            continue;
        }
        if filled && len(&more_indent) + len(&word) <= room {
            rows.push(format!("{cur} \\"));
            cur = more_indent.clone();
        } else {
            // Too long for any row: cut it, starting on this one.
            cur.push_str(sep);
        }
        // The word, cut where the shell lets it.
        let mut at = a;
        loop {
            let room = if last { width } else { width - 2 };
            let left = room.saturating_sub(len(&cur));
            if b - at <= left {
                cur.push_str(&text(&sc.chars[at..b]));
                break;
            }
            // Cut after the last comma that fits, else any place that does.
            let can = |j: &usize| sc.soft[*j] || sc.quoted[*j];
            let fits = |j: &usize| {
                let end = if sc.quoted[*j] { 3 } else { 2 };
                *j + 1 < b && *j + end <= at + left && can(j)
            };
            let cut = (at..b)
                .rfind(|j| fits(j) && sc.chars[*j] == ',')
                .or_else(|| (at..b).rfind(fits));
            match cut {
                Some(j) => {
                    cur.push_str(&text(&sc.chars[at..=j]));
                    let q = if sc.quoted[j] { "'" } else { "" };
                    rows.push(format!("{cur}{q}\\"));
                    cur = q.to_string();
                    at = j + 1;
                }
                None => {
                    cur.push_str(&text(&sc.chars[at..b]));
                    break;
                }
            }
        }
        filled = true;
    }
    if let Some(c) = comment {
        let sep = if filled { " " } else { "" };
        if len(&cur) + len(sep) + len(&c) <= width {
            cur.push_str(sep);
            cur.push_str(&c);
        } else {
            if filled {
                rows.push(cur);
            }
            // The comment's words, each row starting with "# ".
            let body = c.trim_start_matches('#');
            let lead = format!("#{}", &body[..body.len() - body.trim_start().len()]);
            cur = format!("{indent}{lead}");
            let mut empty = true;
            for w in body.split_whitespace() {
                let sep = if empty { "" } else { " " };
                if !empty && len(&cur) + 1 + len(w) > width {
                    rows.push(cur);
                    cur = format!("{indent}# {w}");
                } else {
                    cur.push_str(sep);
                    cur.push_str(w);
                }
                empty = false;
            }
        }
    }
    rows.push(cur);
    rows
}

/// The command-line pane: how far it is scrolled.
#[derive(Debug, Clone, Default)]
pub struct Cmdline {
    pub scroll: usize,
}

impl Component for Cmdline {
    fn pane(&self) -> Pane {
        Pane::Cmdline
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        match a {
            Action::ToggleRecipe => {
                doc.show_recipe = !doc.show_recipe;
                self.scroll = 0;
                doc.refresh();
                return EventState::Focus(Pane::Cmdline);
            }
            a if focused && is_move(a) => {
                let page = page(area);
                let rows = wrap(doc.cmdline_lines(), inner(area).width as usize).len();
                let max = rows.saturating_sub(page);
                self.scroll = step(self.scroll, max + 1, a, page);
            }
            // Nothing to edit here.
            Action::Edit if focused => {}
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        let theme = cx.theme;
        let key = |a| cx.keys.short(NORMAL, a);
        let note = if cx.doc.show_recipe {
            format!("guest recipe · {} back", key(Action::ToggleRecipe))
        } else {
            format!(
                "{} copies · {} recipe",
                key(Action::Copy),
                key(Action::ToggleRecipe)
            )
        };
        let block = pane_block(
            theme,
            Pane::Cmdline,
            cx.focused(Pane::Cmdline),
            Some(Span::styled(note, theme.dim())),
        );
        let inside = inner(area);
        f.render_widget(block, area);
        let rows = wrap(cx.doc.cmdline_lines(), inside.width as usize);
        let height = inside.height as usize;
        let off = self.scroll.min(rows.len().saturating_sub(height));
        let lines: Vec<Line> = rows
            .into_iter()
            .skip(off)
            .take(height)
            .map(|r| Line::styled(r, theme.text()))
            .collect();
        f.render_widget(Paragraph::new(lines), inside);
    }
}
