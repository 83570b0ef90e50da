//! The live command-line preview: [`crate::core::cmdline::render_shell`]'s
//! output, wrapped to the pane and scrollable; `y` copies it. `r` shows
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

/// The shell lines wrapped at `width` characters.
pub fn wrap(lines: &[String], width: usize) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| crate::tui::geometry::wrap(l, width, "      "))
        .collect()
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
                let max = doc.cmdline_lines().len().saturating_sub(page);
                self.scroll = step(self.scroll, max + 1, a, page);
            }
            // Nothing to edit here.
            Action::Edit if focused => {}
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn clamp(&mut self, doc: &Doc) {
        self.scroll = self.scroll.min(doc.cmdline_lines().len().saturating_sub(1));
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
