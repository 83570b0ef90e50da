//! The launch view: the guest console, QEMU's placement against the
//! prediction, QEMU's stderr and a status line, with the keys that run
//! the VM. `qpmem launch` shows it full screen; the TUI can host it.
//!
//! Keys: while the guest has the keyboard, everything goes to it except
//! `Ctrl-]` (release the keyboard) and Shift-PgUp/PgDn (scroll); the
//! mouse wheel scrolls too. Once
//! released: `p` pause/resume, `a` ACPI power-off, `q` quit (asks before
//! killing a running VM), PgUp/PgDn/Home/End/arrows scroll, Enter or `i`
//! gives the keyboard back to the guest.

use super::{Vm, VmEvent, VmStatus};
use crate::console::{ConsolePane, KeyOutcome};
use crate::core::size::format_qemu;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use std::time::Duration;

/// Rows one notch of the mouse wheel scrolls.
pub const WHEEL_ROWS: isize = 3;
/// Who gets the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Guest,
    Commands,
}

/// What the host should do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewOutcome {
    Continue,
    /// Leave the view (the VM has exited or was force-quit).
    Leave,
}

/// The launch view's state. Drawing reads it; keys change it.
pub struct LaunchView {
    vm: Vm,
    title: String,
    focus: Focus,
    confirm_quit: bool,
    message: Option<String>,
}

/// `hh:mm:ss`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

impl LaunchView {
    pub fn new(vm: Vm, title: impl Into<String>) -> LaunchView {
        LaunchView {
            vm,
            title: title.into(),
            focus: Focus::Guest,
            confirm_quit: false,
            message: None,
        }
    }

    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// Give up the VM (dropping it stops QEMU).
    pub fn into_vm(self) -> Vm {
        self.vm
    }

    pub fn focus(&self) -> Focus {
        self.focus
    }

    fn exited(&self) -> bool {
        matches!(self.vm.status(), VmStatus::Exited(_))
    }

    fn report<E: std::fmt::Display>(&mut self, what: &str, r: Result<(), E>) {
        self.message = Some(match r {
            Ok(()) => what.to_string(),
            Err(e) => format!("{what} failed: {e}"),
        });
    }

    /// qpmem is exiting on `signal` (SIGTERM, SIGHUP): say that the guest
    /// is being powered off, which dropping the VM then does.
    pub fn on_terminate(&mut self, signal: i32) {
        let name = match signal {
            1 => "SIGHUP",
            15 => "SIGTERM",
            _ => "a signal",
        };
        self.message = Some(format!(
            "{name}: powering the guest off (ACPI), then quitting QEMU"
        ));
    }

    /// Follow the VM: when QEMU exits, the keyboard comes back to qpmem
    /// so `q` leaves at once.
    pub fn on_event(&mut self, event: &VmEvent) {
        if let VmEvent::Status(VmStatus::Exited(_)) = event {
            self.focus = Focus::Commands;
            self.confirm_quit = false;
        }
    }

    /// Pasted text goes to the guest when it has the keyboard.
    pub fn handle_paste(&mut self, text: &str) {
        if self.focus == Focus::Guest {
            if let Err(e) = self.vm.console().paste(text) {
                self.message = Some(e.to_string());
            }
        }
    }

    /// The mouse wheel scrolls the console's history, whoever has the
    /// keyboard (the mouse is qpmem's: the guest's console has no mouse).
    pub fn handle_mouse(&mut self, mouse: MouseEvent) {
        let rows = match mouse.kind {
            MouseEventKind::ScrollUp => WHEEL_ROWS,
            MouseEventKind::ScrollDown => -WHEEL_ROWS,
            _ => return,
        };
        self.vm.console().emulator().scroll_by(rows);
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        if key.kind == KeyEventKind::Release {
            return ViewOutcome::Continue;
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                self.vm.force_quit();
                return ViewOutcome::Leave;
            }
            self.message = Some("quit cancelled".into());
            return ViewOutcome::Continue;
        }
        let page = i16::try_from(self.vm.console().emulator().size().0 / 2)
            .unwrap_or(1)
            .max(1) as isize;
        match self.focus {
            Focus::Guest => {
                if key.modifiers.contains(KeyModifiers::SHIFT)
                    && matches!(key.code, KeyCode::PageUp | KeyCode::PageDown)
                {
                    let rows = if key.code == KeyCode::PageUp {
                        page
                    } else {
                        -page
                    };
                    self.vm.console().emulator().scroll_by(rows);
                    return ViewOutcome::Continue;
                }
                match self.vm.console().key(&key) {
                    Ok(KeyOutcome::Release) => {
                        self.focus = Focus::Commands;
                        self.message = None;
                    }
                    Ok(_) => {}
                    Err(e) => self.message = Some(e.to_string()),
                }
                ViewOutcome::Continue
            }
            Focus::Commands => {
                let console = self.vm.console();
                match key.code {
                    KeyCode::Enter | KeyCode::Char('i') => {
                        self.focus = Focus::Guest;
                        self.message = None;
                    }
                    KeyCode::Char(']') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        self.focus = Focus::Guest;
                    }
                    KeyCode::Char('p') => {
                        let was = self.vm.status();
                        let r = self.vm.toggle_pause();
                        let what = if was == VmStatus::Paused {
                            "resumed"
                        } else {
                            "paused"
                        };
                        self.report(what, r);
                    }
                    KeyCode::Char('a') => {
                        let r = self.vm.power_off();
                        self.report("ACPI power button pressed", r);
                    }
                    KeyCode::Char('q') => {
                        if self.exited() {
                            return ViewOutcome::Leave;
                        }
                        self.confirm_quit = true;
                    }
                    KeyCode::PageUp => console.emulator().scroll_by(page),
                    KeyCode::PageDown => console.emulator().scroll_by(-page),
                    KeyCode::Up => console.emulator().scroll_by(1),
                    KeyCode::Down => console.emulator().scroll_by(-1),
                    KeyCode::Home => console.emulator().scroll_to_top(),
                    KeyCode::End => console.emulator().scroll_to_bottom(),
                    _ => {}
                }
                ViewOutcome::Continue
            }
        }
    }

    /// The key hints for the current state.
    pub fn hints(&self) -> &'static str {
        if self.confirm_quit {
            "Force quit QEMU (the guest gets no chance to shut down) and leave? y / n"
        } else if self.focus == Focus::Guest {
            "keys go to the guest · Ctrl-] qpmem keys · Shift-PgUp/PgDn or wheel scroll"
        } else if self.exited() {
            "q leave · PgUp/PgDn/Home/End scroll · Enter console"
        } else {
            "Enter back to guest · p pause/resume · a ACPI power-off · q force quit · PgUp/PgDn/Home/End scroll"
        }
    }

    /// Draw into `area`; the console is resized to its pane first.
    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let placement = self.vm.placement();
        let stderr = self.vm.stderr_lines();
        let place_h = placement
            .as_ref()
            .map(|c| u16::try_from(c.devices.len()).unwrap_or(4).clamp(1, 4) + 2)
            .unwrap_or(0);
        let err_h = if stderr.is_empty() {
            0
        } else {
            u16::try_from(stderr.len()).unwrap_or(4).clamp(1, 4) + 2
        };
        let [console_area, place_area, err_area, status_area, hint_area] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(place_h),
            Constraint::Length(err_h),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);

        let inner = ConsolePane::inner(console_area);
        // The pane reports its size; the pty follows it.
        let _ = self.vm.console().resize(inner.height, inner.width);
        // What is drawn now is seen: output from here on wakes the UI.
        self.vm.console().ack();
        {
            let emu = self.vm.console().emulator();
            frame.render_widget(
                ConsolePane::new(&emu, &self.title).focused(self.focus == Focus::Guest),
                console_area,
            );
        }

        if let Some(c) = &placement {
            let lines: Vec<Line> = c
                .devices
                .iter()
                .map(|d| {
                    let actual = d
                        .actual
                        .as_ref()
                        .map(|a| format!("slot {} {:#x} {}", a.slot, a.addr, format_qemu(a.size)))
                        .unwrap_or_else(|| "not reported".into());
                    if d.matches() {
                        Line::from(vec![
                            Span::raw(format!("{:<8} {actual}  ", d.id)),
                            Span::styled("as predicted", Style::default().fg(Color::Green)),
                        ])
                    } else {
                        Line::from(vec![
                            Span::raw(format!("{:<8} {actual}  ", d.id)),
                            Span::styled(
                                format!("DIFFERS: {}", d.differences.join("; ")),
                                Style::default()
                                    .fg(Color::White)
                                    .bg(Color::Red)
                                    .add_modifier(Modifier::BOLD),
                            ),
                        ])
                    }
                })
                .collect();
            let title = if c.matches() {
                " QEMU placed every device where qpmem predicted ".to_string()
            } else {
                " QEMU's placement DIFFERS from the prediction ".to_string()
            };
            let style = if c.matches() {
                Style::default()
            } else {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            };
            frame.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(style)
                        .title(title),
                ),
                place_area,
            );
        }

        if !stderr.is_empty() {
            let shown = usize::from(err_h.saturating_sub(2));
            let lines: Vec<Line> = stderr[stderr.len().saturating_sub(shown)..]
                .iter()
                .map(|l| Line::from(l.as_str()))
                .collect();
            frame.render_widget(
                Paragraph::new(lines)
                    .style(Style::default().fg(Color::Red))
                    .wrap(Wrap { trim: false })
                    .block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title(" QEMU stderr "),
                    ),
                err_area,
            );
        }

        let status = self.vm.status();
        let colour = match status {
            VmStatus::Running => Color::Green,
            VmStatus::Paused => Color::Yellow,
            VmStatus::Starting => Color::Cyan,
            VmStatus::Exited(_) => Color::Red,
        };
        let mut spans = vec![
            Span::styled(
                format!(" {status} "),
                Style::default()
                    .fg(Color::Black)
                    .bg(colour)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "  up {}  pid {}",
                format_uptime(self.vm.uptime()),
                self.vm.pid()
            )),
        ];
        if let Some(m) = &self.message {
            spans.push(Span::styled(
                format!("  {m}"),
                Style::default().add_modifier(Modifier::BOLD),
            ));
        }
        if let Some(e) = self.vm.console().log_error() {
            spans.push(Span::styled(
                format!("  console log stopped: {e}"),
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), status_area);
        let hint_style = if self.confirm_quit {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().fg(Color::DarkGray)
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(self.hints(), hint_style))),
            hint_area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_format() {
        assert_eq!(format_uptime(Duration::from_secs(0)), "00:00:00");
        assert_eq!(format_uptime(Duration::from_secs(3723)), "01:02:03");
        assert_eq!(format_uptime(Duration::from_secs(100 * 3600)), "100:00:00");
    }
}
