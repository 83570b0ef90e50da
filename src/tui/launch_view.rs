//! The launch view: the guest console, QEMU's placement against the
//! prediction, qpmem's notes, QEMU's stderr and a status line, with the
//! keys that run the VM. `qpmem launch` shows it full screen, and so does
//! the editor's `l`; both run it through [`super::launch`].
//!
//! It is a state machine with no terminal, process or VM inside:
//! [`LaunchView::handle`] takes a [`ViewEvent`] (a key, the mouse, a
//! paste, a resize, a fresh [`VmState`], what an effect did) and returns
//! the [`VmEffect`]s the driver performs against the running VM. Drawing
//! reads the view and the console's screen and changes nothing; when the
//! console pane's size changes, the view asks for the pseudo-terminal to
//! follow ([`VmEffect::ResizeConsole`]).
//!
//! Keys: while the guest has the keyboard, everything goes to it except
//! `Ctrl-]` (release the keyboard) and Shift-PgUp/PgDn (scroll); the
//! mouse wheel scrolls too. Once released: `p` pause/resume, `a` ACPI
//! power-off, `-` unplug the last DIMM hotplugged (QEMU refuses NVDIMMs,
//! and says so), `+` hotplug a DIMM (a panel shows where QEMU will put it,
//! judged on QEMU's own report, and the rules' findings; Enter plugs it,
//! after a y/n when it creates a file), `q` quit (asks before killing a
//! running VM; a libvirt domain is libvirt's, so it asks whether to shut
//! it down, destroy it or leave it running),
//! PgUp/PgDn/Home/End/arrows scroll, Enter or `i` gives the keyboard back
//! to the guest.

use super::theme::Theme;
use crate::console::keys::is_release_key;
use crate::console::{encode_key, encode_paste, ConsolePane, Emulator, KeyInput, PaneStyle};
use crate::core::hotplug::Outcome;
use crate::core::size::format_human;
use crate::core::size::format_qemu;
use crate::vm::{HotplugCheck, VmState, VmStatus};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use std::time::Duration;

/// Rows one notch of the mouse wheel scrolls.
pub const WHEEL_ROWS: isize = 3;
/// Notes shown at most (each on a line of its own).
const NOTES_SHOWN: usize = 3;

/// Who gets the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Guest,
    Commands,
}

/// A QMP command the view asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmCommand {
    /// QMP `stop`.
    Pause,
    /// QMP `cont`.
    Resume,
    /// QMP `system_powerdown`: the ACPI power button.
    PowerOff,
}

impl VmCommand {
    fn what(self) -> &'static str {
        match self {
            VmCommand::Pause => "pause",
            VmCommand::Resume => "resume",
            VmCommand::PowerOff => "ACPI power-off",
        }
    }
}

/// Scrolling the console's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// Back (positive) or forward (negative) by rows.
    By(isize),
    Top,
    Bottom,
}

/// What the driver must do to the running VM.
#[derive(Debug, Clone, PartialEq)]
pub enum VmEffect {
    /// Judge the next DIMM against the running VM, then send
    /// [`ViewEvent::HotplugPlanned`].
    PlanHotplug,
    /// Unplug this device (QMP device_del), then send
    /// [`ViewEvent::Unplugged`].
    Unplug(String),
    /// Grow (`true`) or shrink this virtio-mem device's requested-size by
    /// a step (QMP qom-set), then send [`ViewEvent::Resized`].
    Resize(String, bool),
    /// Judge this device instead (its size changed in the panel), then
    /// send [`ViewEvent::HotplugPlanned`].
    CheckHotplug(Box<crate::core::device::Dimm>),
    /// Create its file and plug it (QMP object-add, device_add), then send
    /// [`ViewEvent::Hotplugged`].
    Hotplug(Box<HotplugCheck>),
    /// Run a QMP command, then send [`ViewEvent::Commanded`].
    Qmp(VmCommand),
    /// End QEMU now (QMP `quit`, then SIGKILL; `virsh destroy`).
    ForceQuit,
    /// Leave the libvirt domain running when the view goes (only its
    /// console closes).
    Detach,
    /// Scroll the console's history.
    Scroll(Scroll),
    /// Write these bytes to the guest's console (keys, pastes); send
    /// [`ViewEvent::Failed`] if they cannot be queued.
    Send(Vec<u8>),
    /// Resize the console's emulator and pseudo-terminal.
    ResizeConsole { rows: u16, cols: u16 },
    /// Leave the view (the VM is stopped if it still runs).
    Leave,
}

/// What happens to the view.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewEvent {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    /// The terminal's size: columns, rows.
    Resize(u16, u16),
    /// The VM as it is now.
    Vm(VmState),
    /// A QMP command ran: its error, if it failed.
    Commanded(VmCommand, Result<(), String>),
    /// Something the driver did failed (input not sent, resize refused).
    Failed(String),
    /// The next DIMM, judged; or why it could not be (QMP not ready...).
    HotplugPlanned(Result<Box<HotplugCheck>, String>),
    /// An unplug of this device: gone (`true`) or still held by the
    /// guest, or QEMU's refusal.
    Unplugged(String, Result<bool, String>),
    /// A virtio-mem device's new requested-size and its size, or QEMU's
    /// refusal.
    Resized(String, Result<(u64, u64), String>),
    /// A hotplug happened (the device's id and how QEMU placed it against
    /// the prediction), or why not (QEMU's refusal, taken back).
    Hotplugged(Result<(String, Outcome), String>),
    /// qpmem is exiting on this signal (SIGTERM, SIGHUP): the VM is being
    /// powered off.
    Terminating(i32),
}

impl LaunchView {
    /// The first virtio-mem device QEMU reports, by id.
    fn virtio_mem(&self) -> Option<String> {
        self.vm.placement.as_ref()?.devices.iter().find_map(|d| {
            d.actual
                .as_ref()
                .filter(|a| a.kind == "virtio-mem")
                .map(|_| d.id.clone())
        })
    }
}

/// `d` with what the guest sees of it doubled (or halved, down to
/// 128 MiB), its label kept: the panel's `+`/`-`.
fn resized(d: &crate::core::device::Dimm, bigger: bool) -> crate::core::device::Dimm {
    let label = d.effective_label_size();
    let visible = d.size.0.saturating_sub(label);
    let visible = if bigger {
        visible.saturating_mul(2)
    } else {
        (visible / 2).max(128 << 20)
    };
    let mut out = d.clone();
    out.size = crate::core::size::Size(visible.saturating_add(label));
    out
}

/// `hh:mm:ss`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Where each part of the view goes.
struct Areas {
    console: Rect,
    notes: Rect,
    placement: Rect,
    stderr: Rect,
    status: Rect,
    hints: Rect,
}

/// The launch view's state. Drawing reads it; events change it.
#[derive(Debug, Clone)]
pub struct LaunchView {
    title: String,
    theme: Theme,
    /// Things to know (nothing to boot, options set aside), from the
    /// pre-flight.
    notes: Vec<String>,
    vm: VmState,
    focus: Focus,
    confirm_quit: bool,
    message: Option<String>,
    /// The hotplug panel: the judged DIMM, and whether the y/n about the
    /// files it creates is asked.
    hotplug: Option<(Box<HotplugCheck>, bool)>,
    /// Changes for the next launch asked for here (`f` on a hotplug
    /// with no room), handed to the editor when the view is left.
    fixes: Vec<crate::core::diagnose::Fix>,
    /// The terminal's size.
    size: (u16, u16),
    /// The console pane's inner size (rows, columns): what the pty is.
    console: (u16, u16),
}

impl LaunchView {
    /// A view for a terminal of `cols` x `rows`; [`LaunchView::console_size`]
    /// is then the size to start the console at.
    pub fn new(title: impl Into<String>, theme: Theme, (cols, rows): (u16, u16)) -> LaunchView {
        let mut view = LaunchView {
            title: title.into(),
            theme,
            notes: Vec::new(),
            vm: VmState::default(),
            focus: Focus::Guest,
            confirm_quit: false,
            message: None,
            hotplug: None,
            fixes: Vec::new(),
            size: (cols, rows),
            console: (0, 0),
        };
        view.console = view.wanted_console();
        view
    }

    /// Notes to show below the console.
    pub fn with_notes(mut self, notes: Vec<String>) -> LaunchView {
        self.notes = notes;
        self.console = self.wanted_console();
        self
    }

    /// A message for the status line at start.
    pub fn with_message(mut self, message: Option<String>) -> LaunchView {
        self.message = message;
        self
    }

    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// The message on the status line, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The console's size (rows, columns) as the pane shows it.
    pub fn console_size(&self) -> (u16, u16) {
        self.console
    }

    fn exited(&self) -> bool {
        matches!(self.vm.status, VmStatus::Exited(_))
    }

    /// Rows PgUp/PgDn scroll: half the console.
    fn page(&self) -> isize {
        isize::from(i16::try_from(self.console.0 / 2).unwrap_or(i16::MAX)).max(1)
    }

    pub fn handle(&mut self, event: ViewEvent) -> Vec<VmEffect> {
        let mut effects = match event {
            ViewEvent::Key(k) => self.key(k),
            ViewEvent::Mouse(m) => self.mouse(m),
            ViewEvent::Paste(text) => self.paste(&text),
            ViewEvent::Resize(cols, rows) => {
                self.size = (cols, rows);
                Vec::new()
            }
            ViewEvent::Vm(state) => {
                // QEMU is gone: the keyboard comes back to qpmem so `q`
                // leaves at once.
                if matches!(state.status, VmStatus::Exited(_)) && !self.exited() {
                    self.focus = Focus::Commands;
                    self.confirm_quit = false;
                }
                self.vm = state;
                Vec::new()
            }
            ViewEvent::Commanded(command, result) => {
                self.message = match (command, result) {
                    // The status badge says paused or running.
                    (VmCommand::Pause | VmCommand::Resume, Ok(())) => None,
                    (VmCommand::PowerOff, Ok(())) => Some("ACPI power button pressed".into()),
                    (c, Err(e)) => Some(format!("{} failed: {e}", c.what())),
                };
                Vec::new()
            }
            ViewEvent::Failed(e) => {
                self.message = Some(e);
                Vec::new()
            }
            ViewEvent::HotplugPlanned(Ok(check)) => {
                self.message = None;
                self.hotplug = Some((check, false));
                Vec::new()
            }
            ViewEvent::HotplugPlanned(Err(e)) => {
                self.message = Some(format!("cannot hotplug now: {e}"));
                Vec::new()
            }
            ViewEvent::Unplugged(id, result) => {
                self.message = Some(match result {
                    Ok(true) => format!("{id} unplugged"),
                    Ok(false) => format!(
                        "asked the guest to release {id}; it still holds it (the guest decides: it must offline that memory first)"
                    ),
                    Err(e) => e,
                });
                Vec::new()
            }
            ViewEvent::Resized(id, result) => {
                self.message = Some(match result {
                    Ok((to, size)) => format!(
                        "{id} requested-size={} of {} (the guest's virtio_mem driver plugs or unplugs blocks to match)",
                        crate::core::size::format_qemu(to),
                        crate::core::size::format_qemu(size)
                    ),
                    Err(e) => e,
                });
                Vec::new()
            }
            ViewEvent::Hotplugged(result) => {
                self.message = Some(match result {
                    Ok((id, Outcome::AsPredicted { addr, slot })) => {
                        let slot = slot.map_or_else(String::new, |s| format!(", slot {s}"));
                        format!("{id} plugged at {addr:#x}{slot}, as predicted")
                    }
                    Ok((id, Outcome::Differs { predicted, actual })) => format!(
                        "{id} plugged at {:#x} ({}), but qpmem PREDICTED {:#x} ({})",
                        actual.0,
                        format_human(actual.1),
                        predicted.0,
                        format_human(predicted.1)
                    ),
                    Ok((id, Outcome::Missing)) => {
                        format!("QEMU took {id} but does not report it among its memory devices")
                    }
                    Err(e) => e,
                });
                Vec::new()
            }
            ViewEvent::Terminating(signal) => {
                let name = match signal {
                    1 => "SIGHUP",
                    15 => "SIGTERM",
                    _ => "a signal",
                };
                self.message = Some(format!(
                    "{name}: powering the guest off (ACPI), then quitting QEMU"
                ));
                Vec::new()
            }
        };
        // The pane may have changed size (a resize, QEMU's placement or
        // stderr taking rows): the console follows.
        let wanted = self.wanted_console();
        if wanted != self.console {
            self.console = wanted;
            effects.push(VmEffect::ResizeConsole {
                rows: wanted.0,
                cols: wanted.1,
            });
        }
        effects
    }

    fn mouse(&mut self, mouse: MouseEvent) -> Vec<VmEffect> {
        // The mouse is qpmem's (the guest's console has none): the wheel
        // scrolls the history whoever has the keyboard.
        match mouse.kind {
            MouseEventKind::ScrollUp => vec![VmEffect::Scroll(Scroll::By(WHEEL_ROWS))],
            MouseEventKind::ScrollDown => vec![VmEffect::Scroll(Scroll::By(-WHEEL_ROWS))],
            _ => Vec::new(),
        }
    }

    fn paste(&mut self, text: &str) -> Vec<VmEffect> {
        if self.focus != Focus::Guest {
            return Vec::new();
        }
        vec![
            VmEffect::Scroll(Scroll::Bottom),
            VmEffect::Send(encode_paste(text, self.vm.input_modes)),
        ]
    }

    fn key(&mut self, key: KeyEvent) -> Vec<VmEffect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            let libvirt = self.vm.libvirt.is_some();
            return match key.code {
                KeyCode::Char('y' | 'Y') if !libvirt => vec![VmEffect::ForceQuit, VmEffect::Leave],
                // Leaving stops the VM politely: the ACPI button, then
                // destroyed after the grace.
                KeyCode::Char('s' | 'S') if libvirt => vec![VmEffect::Leave],
                KeyCode::Char('d' | 'D') if libvirt => vec![VmEffect::ForceQuit, VmEffect::Leave],
                KeyCode::Char('l' | 'L') if libvirt => vec![VmEffect::Detach, VmEffect::Leave],
                _ => {
                    self.message = Some("quit cancelled".into());
                    Vec::new()
                }
            };
        }
        if self.hotplug.is_some() {
            return self.hotplug_key(key);
        }
        let page = self.page();
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
                    return vec![VmEffect::Scroll(Scroll::By(rows))];
                }
                match encode_key(&key, self.vm.input_modes) {
                    // The view returns to the bottom, as terminals do
                    // when you type.
                    KeyInput::Send(bytes) => {
                        vec![VmEffect::Scroll(Scroll::Bottom), VmEffect::Send(bytes)]
                    }
                    KeyInput::Release => {
                        self.focus = Focus::Commands;
                        self.message = None;
                        Vec::new()
                    }
                    KeyInput::Ignore => Vec::new(),
                }
            }
            Focus::Commands => match key.code {
                KeyCode::Enter | KeyCode::Char('i') => {
                    self.focus = Focus::Guest;
                    self.message = None;
                    Vec::new()
                }
                _ if is_release_key(&key) => {
                    self.focus = Focus::Guest;
                    Vec::new()
                }
                KeyCode::Char('p') => vec![VmEffect::Qmp(if self.vm.status == VmStatus::Paused {
                    VmCommand::Resume
                } else {
                    VmCommand::Pause
                })],
                KeyCode::Char('a') => vec![VmEffect::Qmp(VmCommand::PowerOff)],
                KeyCode::Char('+') if self.exited() => {
                    self.message = Some("QEMU has exited: nothing to plug into".into());
                    Vec::new()
                }
                KeyCode::Char('+') => vec![VmEffect::PlanHotplug],
                // The VM's own list (`VmState::hotplugged`): `-` unplugs the last.
                KeyCode::Char('-') if !self.exited() => match self.vm.hotplugged.last() {
                    Some(id) => vec![VmEffect::Unplug(id.clone())],
                    None => {
                        self.message = Some("nothing was hotplugged in this session".into());
                        Vec::new()
                    }
                },
                // virtio-mem resizes: `>` asks the guest to plug a step
                // more of the first one QEMU reports, `<` a step less.
                KeyCode::Char(c @ ('<' | '>')) if !self.exited() => match self.virtio_mem() {
                    Some(id) => vec![VmEffect::Resize(id, c == '>')],
                    None => {
                        self.message = Some("no virtio-mem device to resize".into());
                        Vec::new()
                    }
                },
                KeyCode::Char('q') => {
                    if self.exited() {
                        return vec![VmEffect::Leave];
                    }
                    self.confirm_quit = true;
                    Vec::new()
                }
                KeyCode::PageUp => vec![VmEffect::Scroll(Scroll::By(page))],
                KeyCode::PageDown => vec![VmEffect::Scroll(Scroll::By(-page))],
                KeyCode::Up => vec![VmEffect::Scroll(Scroll::By(1))],
                KeyCode::Down => vec![VmEffect::Scroll(Scroll::By(-1))],
                KeyCode::Home => vec![VmEffect::Scroll(Scroll::Top)],
                KeyCode::End => vec![VmEffect::Scroll(Scroll::Bottom)],
                _ => Vec::new(),
            },
        }
    }

    /// A key while the hotplug panel is open: Enter plugs (asking first
    /// when files are created), Esc (or n at the question) cancels.
    fn hotplug_key(&mut self, key: KeyEvent) -> Vec<VmEffect> {
        let Some((check, asking)) = self.hotplug.take() else {
            return Vec::new();
        };
        match (key.code, asking) {
            (KeyCode::Char('k'), false) => {
                // The DIMM form's kind switch, on the VM as it runs.
                let mut p = check.running.profile.clone();
                p.devices.push(check.plan.device.clone());
                let last = p.devices.len() - 1;
                let toggled = crate::tui::form::DimmField::Kind.toggle(&p, last);
                self.hotplug = Some((check, false));
                toggled.map_or_else(Vec::new, |d| vec![VmEffect::CheckHotplug(Box::new(d))])
            }
            (KeyCode::Char(c @ ('+' | '-')), false) => {
                let d = resized(&check.plan.device, c == '+');
                self.hotplug = Some((check, false));
                vec![VmEffect::CheckHotplug(Box::new(d))]
            }
            (KeyCode::Char('f'), false) => {
                self.message = Some(match &check.room {
                    Some(fix) => {
                        if !self.fixes.contains(fix) {
                            self.fixes.push(fix.clone());
                        }
                        format!(
                            "{} (the profile gets it when you leave this view; undo takes it out)",
                            fix.summary
                        )
                    }
                    None => format!("{} has room: nothing to change", check.plan.device.id),
                });
                self.hotplug = Some((check, false));
                Vec::new()
            }
            (KeyCode::Esc, _) | (KeyCode::Char('n' | 'N' | 'q'), true) => {
                self.message = Some(format!("{} not plugged", check.plan.device.id));
                Vec::new()
            }
            (KeyCode::Enter, false) if !check.errors().is_empty() => {
                self.message = Some(format!("cannot plug: {}", check.errors()[0]));
                self.hotplug = Some((check, false));
                Vec::new()
            }
            (KeyCode::Enter, false) if !check.changes().is_empty() => {
                self.hotplug = Some((check, true));
                Vec::new()
            }
            (KeyCode::Enter, false) | (KeyCode::Char('y' | 'Y') | KeyCode::Enter, true) => {
                self.message = Some(format!("plugging {}...", check.plan.device.id));
                vec![VmEffect::Hotplug(check)]
            }
            _ => {
                self.hotplug = Some((check, asking));
                Vec::new()
            }
        }
    }

    /// The changes for the next launch asked for in this view.
    pub fn fixes(&self) -> &[crate::core::diagnose::Fix] {
        &self.fixes
    }

    /// Is the hotplug panel open?
    pub fn hotplug_open(&self) -> bool {
        self.hotplug.is_some()
    }

    /// The key hints for the current state.
    pub fn hints(&self) -> &'static str {
        if let Some((_, asking)) = &self.hotplug {
            if *asking {
                "Create the backing file and plug it? y / n"
            } else {
                "Enter plug it · +/- double/halve its size · k other kind · f room for it next launch · Esc cancel"
            }
        } else if self.confirm_quit && self.vm.libvirt.is_some() {
            "Quit: s shut the domain down (ACPI, destroyed after 10 s) · d destroy it now · l leave it running · Esc cancel"
        } else if self.confirm_quit {
            "Force quit QEMU (the guest gets no chance to shut down) and leave? y / n"
        } else if self.focus == Focus::Guest {
            "keys go to the guest · Ctrl-] qpmem keys · Shift-PgUp/PgDn or wheel scroll"
        } else if self.exited() {
            "q leave · PgUp/PgDn/Home/End scroll · Enter console"
        } else if self.vm.libvirt.is_some() {
            "Enter back to guest · p pause/resume · a ACPI power-off · q quit (shut down, destroy or leave running) · PgUp/PgDn/Home/End scroll"
        } else {
            "Enter back to guest · p pause/resume · a ACPI power-off · + hotplug a DIMM · - unplug it · </> virtio-mem size · q force quit · PgUp/PgDn/Home/End scroll"
        }
    }

    fn areas(&self, area: Rect) -> Areas {
        let boxed = |lines: usize, most: usize| -> u16 {
            match lines {
                0 => 0,
                n => u16::try_from(n.min(most)).unwrap_or(1) + 2,
            }
        };
        let place_h = self
            .vm
            .placement
            .as_ref()
            .map_or(0, |c| boxed(c.devices.len().max(1), 4));
        let [console, notes, placement, stderr, status, hints] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(boxed(self.notes.len(), NOTES_SHOWN)),
            Constraint::Length(place_h),
            Constraint::Length(boxed(self.vm.stderr.len(), crate::vm::STDERR_SHOWN)),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        Areas {
            console,
            notes,
            placement,
            stderr,
            status,
            hints,
        }
    }

    /// The console pane's inner size for the terminal's size.
    fn wanted_console(&self) -> (u16, u16) {
        let (cols, rows) = self.size;
        let inner = ConsolePane::inner(self.areas(Rect::new(0, 0, cols, rows)).console);
        (inner.height.max(1), inner.width.max(1))
    }

    fn pane_style(&self) -> PaneStyle {
        let t = &self.theme;
        PaneStyle {
            title: t.title(),
            border: t.border(false),
            border_focused: t.border(true),
            hint: t.key(),
            scrolled: t.note(),
        }
    }

    /// Draw into `area` (the terminal's size, as last given in
    /// [`ViewEvent::Resize`]), with the console's `screen`.
    pub fn draw(&self, frame: &mut Frame, area: Rect, screen: &Emulator) {
        let t = &self.theme;
        let a = self.areas(area);
        frame.render_widget(
            ConsolePane::new(screen, &self.title)
                .focused(self.focus == Focus::Guest)
                .style(self.pane_style()),
            a.console,
        );

        if !self.notes.is_empty() {
            let lines: Vec<Line> = self
                .notes
                .iter()
                .take(NOTES_SHOWN)
                .map(|n| {
                    Line::from(vec![
                        Span::styled("note: ", t.note()),
                        Span::raw(n.as_str()),
                    ])
                })
                .collect();
            frame.render_widget(
                Paragraph::new(lines).style(t.text()).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(t.border(false))
                        .title(Span::styled(" qpmem ", t.title())),
                ),
                a.notes,
            );
        }

        if let Some(c) = &self.vm.placement {
            let lines: Vec<Line> = c
                .devices
                .iter()
                .map(|d| {
                    let actual = d
                        .actual
                        .as_ref()
                        .map(|a| {
                            let slot = a.slot.map_or_else(|| "-".to_string(), |s| s.to_string());
                            format!("slot {slot} {:#x} {}", a.addr, format_qemu(a.size))
                        })
                        .unwrap_or_else(|| "not reported".into());
                    let verdict = if d.matches() {
                        Span::styled("as predicted", t.ok())
                    } else {
                        Span::styled(
                            format!("DIFFERS: {}", d.differences.join("; ")),
                            t.error().add_modifier(Modifier::REVERSED),
                        )
                    };
                    Line::from(vec![
                        Span::styled(format!("{:<8} {actual}  ", d.id), t.text()),
                        verdict,
                    ])
                })
                .collect();
            let (title, title_style, border) = if c.matches() {
                (
                    " QEMU placed every device where qpmem predicted ",
                    t.title(),
                    t.border(false),
                )
            } else {
                (
                    " QEMU's placement DIFFERS from the prediction ",
                    t.error(),
                    t.error(),
                )
            };
            frame.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(border)
                        .title(Span::styled(title, title_style)),
                ),
                a.placement,
            );
        }

        if !self.vm.stderr.is_empty() {
            let lines: Vec<Line> = self
                .vm
                .stderr
                .iter()
                .map(|l| Line::from(l.as_str()))
                .collect();
            frame.render_widget(
                Paragraph::new(lines)
                    .style(t.error())
                    .wrap(Wrap { trim: false })
                    .block(
                        Block::default()
                            .borders(Borders::ALL)
                            .border_style(t.border(false))
                            .title(Span::styled(" QEMU stderr ", t.title())),
                    ),
                a.stderr,
            );
        }

        let status = self.vm.status;
        let colour = match status {
            VmStatus::Running => t.ok,
            VmStatus::Paused => t.warning,
            VmStatus::Starting => t.note,
            VmStatus::Exited(_) => t.error,
        };
        let mut spans = vec![
            Span::styled(format!(" {status} "), t.badge(colour)),
            Span::styled(
                match &self.vm.libvirt {
                    Some((name, _)) => {
                        format!("  up {}  domain {name}", format_uptime(self.vm.uptime))
                    }
                    None => format!(
                        "  up {}  pid {}",
                        format_uptime(self.vm.uptime),
                        self.vm.pid
                    ),
                },
                t.text(),
            ),
        ];
        if let Some(m) = &self.message {
            spans.push(Span::styled(
                format!("  {m}"),
                t.text().add_modifier(Modifier::BOLD),
            ));
        }
        if let Some(e) = &self.vm.log_error {
            spans.push(Span::styled(
                format!("  console log stopped: {e}"),
                t.error(),
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), a.status);
        let hint_style = if self.confirm_quit {
            t.warning_block()
        } else {
            t.dim()
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(self.hints(), hint_style))),
            a.hints,
        );
        if let Some((check, asking)) = &self.hotplug {
            self.draw_hotplug(frame, area, check, *asking);
        }
    }

    /// The hotplug panel over the console: the device and where QEMU will
    /// put it, what blocks it, the rules' warnings, what it creates.
    fn draw_hotplug(&self, frame: &mut Frame, area: Rect, check: &HotplugCheck, asking: bool) {
        let t = &self.theme;
        let d = &check.plan.device;
        let mut lines = vec![Line::styled(check.summary(), t.text())];
        if let Some(p) = d.backend.path() {
            lines.push(Line::styled(
                format!(
                    "label {}, align {}, file {}",
                    format_qemu(d.effective_label_size()),
                    d.align.map_or_else(|| "-".to_string(), |a| a.to_string()),
                    p.display()
                ),
                t.dim(),
            ));
        }
        lines.push(Line::styled(
            "placed from QEMU's own report of what is plugged now",
            t.dim(),
        ));
        for e in check.errors() {
            lines.push(Line::styled(format!("error: {e}"), t.error()));
        }
        for w in check
            .plan
            .diagnostics
            .iter()
            .filter(|x| x.severity == crate::core::diagnose::Severity::Warning)
        {
            lines.push(Line::styled(
                format!("warning[{}]: {}", w.code, w.message),
                t.warning(),
            ));
        }
        for c in check.changes() {
            lines.push(Line::styled(format!("creates: {c}"), t.note()));
        }
        if asking {
            lines.push(Line::styled(
                "Create the backing file and plug it? y / n",
                t.warning_block(),
            ));
        }
        let w = area.width.saturating_sub(4).min(100);
        let h = u16::try_from(lines.len() + 2)
            .unwrap_or(u16::MAX)
            .min(area.height.saturating_sub(2));
        let r = crate::tui::geometry::centered(area, w, h);
        frame.render_widget(ratatui::widgets::Clear, r);
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.border(true))
                    .title(Span::styled(format!(" Hotplug {} ", d.id), t.title())),
            ),
            r,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::qemu::{Comparison, DeviceComparison, MemoryDeviceInfo};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::style::Color;
    use ratatui::Terminal;
    use std::os::unix::process::ExitStatusExt;

    fn key(code: KeyCode) -> ViewEvent {
        ViewEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }
    fn ch(c: char) -> ViewEvent {
        key(KeyCode::Char(c))
    }
    fn ctrl(c: char) -> ViewEvent {
        ViewEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }
    fn shift(code: KeyCode) -> ViewEvent {
        ViewEvent::Key(KeyEvent::new(code, KeyModifiers::SHIFT))
    }
    fn wheel(kind: MouseEventKind) -> ViewEvent {
        ViewEvent::Mouse(MouseEvent {
            kind,
            column: 3,
            row: 3,
            modifiers: KeyModifiers::NONE,
        })
    }
    fn state(status: VmStatus) -> VmState {
        VmState {
            status,
            pid: 4242,
            uptime: Duration::from_secs(61),
            ..VmState::default()
        }
    }
    fn exited() -> VmStatus {
        VmStatus::Exited(std::process::ExitStatus::from_raw(0))
    }

    /// A view of an 80x24 terminal on a running VM (its console 20x78).
    fn running() -> LaunchView {
        let mut v = LaunchView::new("guest console: t", Theme::default_theme(), (80, 24));
        assert_eq!(v.console_size(), (20, 78));
        assert!(v.handle(ViewEvent::Vm(state(VmStatus::Running))).is_empty());
        v
    }

    /// A judged hotplug of a 1 GiB NVDIMM beside nv1 (in slot 0, QEMU's
    /// report), with `slots` slots; its file is to be created.
    fn hotplug_check(slots: u32) -> Box<HotplugCheck> {
        use crate::core::hotplug::{plan, Running};
        use crate::core::profile::{Auto, Dimm, Profile};
        use crate::core::size::Size;
        let mut p = Profile::empty("t");
        p.slots = Auto::Fixed(slots);
        p.maxmem = Auto::Fixed(Size::gib(8));
        p.devices
            .push(Dimm::nvdimm(1, "/vms/nv1".into(), Size::gib(1)));
        let nv1 = MemoryDeviceInfo {
            kind: "nvdimm".into(),
            id: Some("nv1".into()),
            slot: Some(0),
            addr: 1 << 32,
            size: 896 << 20,
            node: Some(0),
            memdev: "/objects/mem1".into(),
        };
        let r = Running::new(&p, &[], vec![nv1], None);
        let d = Dimm::nvdimm(2, "/vms/nv2".into(), Size::mib(1026));
        let mut files = crate::vm::Plan::default();
        files.create_files.push(crate::vm::NewFile {
            device: "nv2".into(),
            path: "/vms/nv2".into(),
            size: 1026 << 20,
            grows_empty: false,
        });
        let plan = plan(&r, d, &crate::core::facts::HostFacts::default());
        Box::new(HotplugCheck {
            room: crate::core::hotplug::room_fix(&p, &plan),
            plan,
            running: r,
            files,
        })
    }

    #[test]
    fn plus_judges_a_hotplug_and_enter_plugs_it_after_a_question() {
        let mut v = running();
        v.handle(ctrl(']'));
        assert_eq!(v.handle(ch('+')), [VmEffect::PlanHotplug]);
        let check = hotplug_check(2);
        assert!(check.errors().is_empty(), "{:?}", check.errors());
        v.handle(ViewEvent::HotplugPlanned(Ok(check.clone())));
        assert!(v.hotplug_open());
        // + doubles what the guest sees, the label kept.
        match &v.handle(ch('+'))[..] {
            [VmEffect::CheckHotplug(d)] => assert_eq!(d.size.0, (2048 + 2) << 20),
            other => panic!("{other:?}"),
        }
        // k switches the kind, as the DIMM form does.
        match &v.handle(ch('k'))[..] {
            [VmEffect::CheckHotplug(d)] => {
                assert_eq!(d.kind, crate::core::device::DimmKind::PcDimm);
                assert_eq!(d.backend, crate::core::profile::Backend::Ram);
            }
            other => panic!("{other:?}"),
        }
        // Enter asks first (a file is created); n cancels it all.
        assert!(v.handle(key(KeyCode::Enter)).is_empty());
        assert!(v.hints().contains("y / n"));
        assert!(v.handle(ch('n')).is_empty());
        assert!(!v.hotplug_open());
        assert_eq!(v.message(), Some("nv2 not plugged"));
        // Again, and y plugs it.
        v.handle(ViewEvent::HotplugPlanned(Ok(check.clone())));
        v.handle(key(KeyCode::Enter));
        assert_eq!(v.handle(ch('y')), [VmEffect::Hotplug(check)]);
        v.handle(ViewEvent::Hotplugged(Ok((
            "nv2".into(),
            Outcome::Differs {
                predicted: (0x1_4000_0000, 1 << 30),
                actual: (0x1_8000_0000, 1 << 30),
            },
        ))));
        assert!(
            v.message().unwrap().contains("PREDICTED 0x140000000"),
            "{:?}",
            v.message()
        );
        // - unplugs what the VM says was hotplugged, the last first; QEMU
        // has the say.
        let with = |ids: &[&str]| {
            ViewEvent::Vm(VmState {
                hotplugged: ids.iter().map(|s| s.to_string()).collect(),
                ..state(VmStatus::Running)
            })
        };
        v.handle(with(&["nv2"]));
        assert_eq!(v.handle(ch('-')), [VmEffect::Unplug("nv2".into())]);
        let refusal = "QEMU refused device_del: nvdimm device hot unplug is not supported yet.";
        v.handle(ViewEvent::Unplugged("nv2".into(), Err(refusal.into())));
        assert!(v.message().unwrap().contains("not supported"));
        assert_eq!(v.handle(ch('-')), [VmEffect::Unplug("nv2".into())]);
        v.handle(ViewEvent::Unplugged("nv2".into(), Ok(true)));
        assert_eq!(v.message(), Some("nv2 unplugged"));
        v.handle(with(&[]));
        assert!(v.handle(ch('-')).is_empty());
        assert_eq!(v.message(), Some("nothing was hotplugged in this session"));
    }

    #[test]
    fn a_hotplug_qpmem_predicts_qemu_refuses_is_not_sent() {
        let mut v = running();
        v.handle(ctrl(']'));
        // One slot, nv1 in it.
        let check = hotplug_check(1);
        assert!(!check.errors().is_empty());
        v.handle(ViewEvent::HotplugPlanned(Ok(check)));
        assert!(v.handle(key(KeyCode::Enter)).is_empty());
        assert!(v.hotplug_open());
        let said = v.message().unwrap();
        assert!(
            said.contains("no free slots") && said.contains("spare slots"),
            "{said}"
        );
        // f keeps room for it for the next launch: one more slot (the
        // profile fixed slots=1) and maxmem raised by its footprint.
        assert!(v.handle(ch('f')).is_empty());
        assert!(v.hotplug_open());
        let fixes = v.fixes().to_vec();
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert!(fixes[0].summary.contains("slots 2"), "{:?}", fixes[0]);
        assert!(v.message().unwrap().contains("when you leave"));
        v.handle(ch('f'));
        assert_eq!(v.fixes().len(), 1, "asked twice, kept once");
        assert!(v.handle(key(KeyCode::Esc)).is_empty());
        assert!(!v.hotplug_open());
        // A hotplug that fits has nothing to change.
        v.handle(ViewEvent::HotplugPlanned(Ok(hotplug_check(2))));
        v.handle(ch('f'));
        assert!(v.message().unwrap().contains("has room"));
        v.handle(key(KeyCode::Esc));
        // Once QEMU is gone there is nothing to plug into.
        v.handle(ViewEvent::Vm(state(exited())));
        assert!(v.handle(ch('+')).is_empty());
        assert!(v.message().unwrap().contains("exited"));
    }

    fn placement(n: usize, differs: bool) -> Comparison {
        Comparison {
            devices: (1..=n)
                .map(|i| DeviceComparison {
                    id: format!("nv{i}"),
                    predicted: None,
                    actual: Some(MemoryDeviceInfo {
                        kind: "nvdimm".into(),
                        id: Some(format!("nv{i}")),
                        slot: Some(u32::try_from(i).unwrap() - 1),
                        addr: 0x1_0000_0000 * u64::try_from(i).unwrap(),
                        size: 1 << 30,
                        node: Some(0),
                        memdev: format!("mem{i}"),
                    }),
                    differences: if differs && i == n {
                        vec!["addr: QEMU 0x1, predicted 0x2".into()]
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn the_guest_gets_every_key_but_the_release_and_scrolling() {
        let mut v = running();
        assert_eq!(v.focus(), Focus::Guest);
        assert_eq!(
            v.handle(ch('a')),
            [
                VmEffect::Scroll(Scroll::Bottom),
                VmEffect::Send(b"a".to_vec())
            ]
        );
        // Ctrl-c and q are the guest's too.
        assert_eq!(
            v.handle(ctrl('c')),
            [VmEffect::Scroll(Scroll::Bottom), VmEffect::Send(vec![3])]
        );
        assert_eq!(
            v.handle(ch('q')),
            [
                VmEffect::Scroll(Scroll::Bottom),
                VmEffect::Send(b"q".to_vec())
            ]
        );
        // Half the 20-row console.
        assert_eq!(
            v.handle(shift(KeyCode::PageUp)),
            [VmEffect::Scroll(Scroll::By(10))]
        );
        assert_eq!(
            v.handle(shift(KeyCode::PageDown)),
            [VmEffect::Scroll(Scroll::By(-10))]
        );
        assert_eq!(
            v.handle(wheel(MouseEventKind::ScrollUp)),
            [VmEffect::Scroll(Scroll::By(WHEEL_ROWS))]
        );
        assert!(v
            .handle(wheel(MouseEventKind::Down(
                crossterm::event::MouseButton::Left
            )))
            .is_empty());
        // A key release sends nothing.
        let mut release = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert!(v.handle(ViewEvent::Key(release)).is_empty());
        assert_eq!(v.focus(), Focus::Guest);
    }

    #[test]
    fn keys_follow_the_guests_modes() {
        let mut v = running();
        assert_eq!(
            v.handle(key(KeyCode::Up)),
            [
                VmEffect::Scroll(Scroll::Bottom),
                VmEffect::Send(b"\x1b[A".to_vec())
            ]
        );
        let mut s = state(VmStatus::Running);
        s.input_modes.application_cursor = true;
        s.input_modes.bracketed_paste = true;
        v.handle(ViewEvent::Vm(s));
        assert_eq!(
            v.handle(key(KeyCode::Up)),
            [
                VmEffect::Scroll(Scroll::Bottom),
                VmEffect::Send(b"\x1bOA".to_vec())
            ]
        );
        assert_eq!(
            v.handle(ViewEvent::Paste("ls".into())),
            [
                VmEffect::Scroll(Scroll::Bottom),
                VmEffect::Send(b"\x1b[200~ls\x1b[201~".to_vec())
            ]
        );
        // Once the keyboard is qpmem's, a paste goes nowhere.
        v.handle(ctrl(']'));
        assert!(v.handle(ViewEvent::Paste("ls".into())).is_empty());
    }

    #[test]
    fn released_keys_run_the_vm() {
        let mut v = running();
        assert!(v.handle(ctrl(']')).is_empty());
        assert_eq!(v.focus(), Focus::Commands);
        assert!(v.hints().contains("p pause/resume"), "{}", v.hints());
        assert_eq!(v.handle(ch('p')), [VmEffect::Qmp(VmCommand::Pause)]);
        v.handle(ViewEvent::Vm(state(VmStatus::Paused)));
        assert_eq!(v.handle(ch('p')), [VmEffect::Qmp(VmCommand::Resume)]);
        assert_eq!(v.handle(ch('a')), [VmEffect::Qmp(VmCommand::PowerOff)]);
        assert_eq!(
            v.handle(key(KeyCode::PageUp)),
            [VmEffect::Scroll(Scroll::By(10))]
        );
        assert_eq!(
            v.handle(key(KeyCode::PageDown)),
            [VmEffect::Scroll(Scroll::By(-10))]
        );
        assert_eq!(
            v.handle(key(KeyCode::Up)),
            [VmEffect::Scroll(Scroll::By(1))]
        );
        assert_eq!(
            v.handle(key(KeyCode::Down)),
            [VmEffect::Scroll(Scroll::By(-1))]
        );
        assert_eq!(
            v.handle(key(KeyCode::Home)),
            [VmEffect::Scroll(Scroll::Top)]
        );
        assert_eq!(
            v.handle(key(KeyCode::End)),
            [VmEffect::Scroll(Scroll::Bottom)]
        );
        assert!(v.handle(ch('x')).is_empty());
        // Enter, i or Ctrl-] give the keyboard back.
        v.handle(key(KeyCode::Enter));
        assert_eq!(v.focus(), Focus::Guest);
        v.handle(ctrl(']'));
        v.handle(ch('i'));
        assert_eq!(v.focus(), Focus::Guest);
        v.handle(ctrl(']'));
        v.handle(ctrl(']'));
        assert_eq!(v.focus(), Focus::Guest);
    }

    #[test]
    fn quitting_a_running_vm_asks_first() {
        let mut v = running();
        v.handle(ctrl(']'));
        assert!(v.handle(ch('q')).is_empty());
        assert!(v.hints().starts_with("Force quit QEMU"), "{}", v.hints());
        assert!(v.handle(ch('n')).is_empty());
        assert_eq!(v.message(), Some("quit cancelled"));
        v.handle(ch('q'));
        assert_eq!(v.handle(ch('y')), [VmEffect::ForceQuit, VmEffect::Leave]);
    }

    #[test]
    fn quitting_a_libvirt_domain_asks_shut_down_destroy_or_leave_running() {
        let mut v = running();
        v.handle(ViewEvent::Vm(VmState {
            libvirt: Some(("dom".into(), "qemu:///system".into())),
            ..state(VmStatus::Running)
        }));
        v.handle(ctrl(']'));
        assert!(v
            .hints()
            .contains("q quit (shut down, destroy or leave running)"));
        for (answer, effects) in [
            ('s', vec![VmEffect::Leave]),
            ('d', vec![VmEffect::ForceQuit, VmEffect::Leave]),
            ('l', vec![VmEffect::Detach, VmEffect::Leave]),
        ] {
            assert!(v.handle(ch('q')).is_empty());
            assert!(
                v.hints().starts_with("Quit: s shut the domain down"),
                "{}",
                v.hints()
            );
            assert_eq!(v.handle(ch(answer)), effects, "{answer}");
        }
        // y is the direct launch's answer, not one of these.
        v.handle(ch('q'));
        assert!(v.handle(ch('y')).is_empty());
        assert_eq!(v.message(), Some("quit cancelled"));
        // The status line names the domain instead of a pid.
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let screen = Emulator::new(20, 78, 0);
        t.draw(|f| v.draw(f, f.area(), &screen)).unwrap();
        let text: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(text.contains("  domain dom"), "{text}");
        assert!(!text.contains("pid 4242"), "{text}");
    }

    #[test]
    fn an_exited_vm_gives_the_keyboard_back_and_q_leaves() {
        let mut v = running();
        v.handle(ViewEvent::Vm(state(exited())));
        assert_eq!(v.focus(), Focus::Commands);
        assert!(v.hints().starts_with("q leave"), "{}", v.hints());
        assert_eq!(v.handle(ch('q')), [VmEffect::Leave]);
        // Asking the console back is still possible, and the exit does not
        // take it away again.
        v.handle(key(KeyCode::Enter));
        v.handle(ViewEvent::Vm(state(exited())));
        assert_eq!(v.focus(), Focus::Guest);
    }

    #[test]
    fn what_the_commands_did_is_said_once() {
        let mut v = running();
        v.handle(ViewEvent::Commanded(VmCommand::Pause, Ok(())));
        assert_eq!(v.message(), None, "the badge says paused");
        v.handle(ViewEvent::Commanded(VmCommand::PowerOff, Ok(())));
        assert_eq!(v.message(), Some("ACPI power button pressed"));
        v.handle(ViewEvent::Commanded(VmCommand::Resume, Ok(())));
        assert_eq!(v.message(), None);
        v.handle(ViewEvent::Commanded(
            VmCommand::Pause,
            Err("QEMU's monitor (QMP) is not connected yet".into()),
        ));
        assert_eq!(
            v.message(),
            Some("pause failed: QEMU's monitor (QMP) is not connected yet")
        );
        v.handle(ViewEvent::Failed("the console is closed".into()));
        assert_eq!(v.message(), Some("the console is closed"));
        v.handle(ViewEvent::Terminating(15));
        assert_eq!(
            v.message(),
            Some("SIGTERM: powering the guest off (ACPI), then quitting QEMU")
        );
    }

    #[test]
    fn the_pty_follows_the_pane() {
        let mut v = running();
        assert_eq!(
            v.handle(ViewEvent::Resize(100, 40)),
            [VmEffect::ResizeConsole { rows: 36, cols: 98 }]
        );
        assert!(v.handle(ViewEvent::Resize(100, 40)).is_empty());
        // QEMU's placement takes two rows per DIMM plus its frame, at most
        // four: 36 - (2 + 2).
        let mut s = state(VmStatus::Running);
        s.placement = Some(placement(2, false));
        assert_eq!(
            v.handle(ViewEvent::Vm(s.clone())),
            [VmEffect::ResizeConsole { rows: 32, cols: 98 }]
        );
        assert!(v.handle(ViewEvent::Vm(s.clone())).is_empty());
        s.stderr = vec!["qemu: warning".into()];
        assert_eq!(
            v.handle(ViewEvent::Vm(s)),
            [VmEffect::ResizeConsole { rows: 29, cols: 98 }]
        );
        // Notes take their rows before the VM starts.
        let v = LaunchView::new("t", Theme::default_theme(), (80, 24))
            .with_notes(vec!["nothing to boot".into()]);
        assert_eq!(v.console_size(), (17, 78));
        // A terminal too small for anything still gives the console a cell.
        let mut v = running();
        assert_eq!(
            v.handle(ViewEvent::Resize(1, 1)),
            [VmEffect::ResizeConsole { rows: 1, cols: 1 }]
        );
    }

    fn draw(v: &LaunchView, w: u16, h: u16) -> Buffer {
        let mut screen = Emulator::new(v.console_size().0, v.console_size().1, 10);
        screen.feed(b"guest says hi");
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| v.draw(f, f.area(), &screen)).unwrap();
        t.backend().buffer().clone()
    }

    fn text(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }

    /// Everything the view can show at once.
    fn busy(theme: Theme) -> LaunchView {
        let mut v = LaunchView::new("guest console: t", theme, (120, 30)).with_notes(vec![
            "no kernel and no disk: the guest firmware will find nothing to boot".into(),
        ]);
        let mut s = state(VmStatus::Paused);
        s.placement = Some(placement(2, true));
        s.stderr = vec!["qemu-system-x86_64: warning: something".into()];
        s.log_error = Some("No space left on device".into());
        v.handle(ViewEvent::Vm(s));
        v.handle(ViewEvent::Commanded(VmCommand::PowerOff, Ok(())));
        v
    }

    #[test]
    fn it_shows_the_console_notes_placement_stderr_and_status() {
        let mut v = busy(Theme::default_theme());
        let rows = text(&draw(&v, 120, 30));
        let all = rows.join("\n");
        assert!(rows[0].contains("guest console: t"), "{all}");
        assert!(rows[1].contains("guest says hi"), "{all}");
        assert!(all
            .contains("note: no kernel and no disk: the guest firmware will find nothing to boot"));
        assert!(
            all.contains("QEMU's placement DIFFERS from the prediction"),
            "{all}"
        );
        assert!(
            all.contains("nv1      slot 0 0x100000000 1G  as predicted"),
            "{all}"
        );
        assert!(
            all.contains("DIFFERS: addr: QEMU 0x1, predicted 0x2"),
            "{all}"
        );
        assert!(all.contains("QEMU stderr"), "{all}");
        assert!(
            all.contains("qemu-system-x86_64: warning: something"),
            "{all}"
        );
        let status = &rows[28];
        assert!(
            status.starts_with(" paused   up 00:01:01  pid 4242  ACPI power button pressed"),
            "{status}"
        );
        assert!(status.contains("console log stopped: No space left on device"));
        assert!(rows[29].starts_with("keys go to the guest"), "{}", rows[29]);
        // Paused, and said once: the badge, not a message too.
        v.handle(ViewEvent::Commanded(VmCommand::Pause, Ok(())));
        let rows = text(&draw(&v, 120, 30));
        assert_eq!(rows[28].matches("paused").count(), 1, "{}", rows[28]);
    }

    #[test]
    fn it_draws_with_the_theme() {
        let theme = Theme::parse(
            r##"(border_focused: "#123456", warning: "#abcdef", error: "#fe0102", note: "#0000aa", dimm_text: "#010101")"##,
        )
        .unwrap();
        let v = busy(theme);
        let buf = draw(&v, 120, 30);
        let rows = text(&buf);
        // The guest has the keyboard: the console's border is the focused one.
        assert_eq!(buf[(0, 5)].fg, Color::Rgb(0x12, 0x34, 0x56));
        // The paused badge in the warning colour, its text in dimm_text.
        assert_eq!(buf[(1, 28)].bg, Color::Rgb(0xab, 0xcd, 0xef));
        assert_eq!(buf[(1, 28)].fg, Color::Rgb(1, 1, 1));
        // "note:" in the note colour; the stderr in the error colour.
        let y = rows
            .iter()
            .position(|r| r.contains("note: no kernel"))
            .unwrap();
        let x = rows[y].find("note:").unwrap();
        let x = u16::try_from(rows[y][..x].chars().count()).unwrap();
        assert_eq!(
            buf[(x, u16::try_from(y).unwrap())].fg,
            Color::Rgb(0, 0, 0xaa)
        );
        let y = rows
            .iter()
            .position(|r| r.contains("warning: something"))
            .unwrap();
        assert_eq!(
            buf[(1, u16::try_from(y).unwrap())].fg,
            Color::Rgb(0xfe, 1, 2)
        );
    }

    #[test]
    fn no_color_means_no_colour_at_all() {
        let mut v = busy(Theme::no_color());
        for confirm in [false, true] {
            if confirm {
                v.handle(ctrl(']'));
                v.handle(ch('q'));
                assert!(v.hints().starts_with("Force quit"));
            }
            let buf = draw(&v, 120, 30);
            for cell in buf.content() {
                assert_eq!(
                    (cell.fg, cell.bg),
                    (Color::Reset, Color::Reset),
                    "{:?} in {}",
                    cell,
                    text(&buf).join("\n")
                );
            }
            // The badge stands out in reverse video instead.
            assert!(buf[(1, 28)].modifier.contains(Modifier::REVERSED));
        }
    }

    #[test]
    fn uptime_format() {
        assert_eq!(format_uptime(Duration::from_secs(0)), "00:00:00");
        assert_eq!(format_uptime(Duration::from_secs(3723)), "01:02:03");
        assert_eq!(format_uptime(Duration::from_secs(100 * 3600)), "100:00:00");
    }

    #[test]
    fn angle_brackets_resize_the_virtio_mem_device_qemu_reports() {
        let mut v = running();
        v.handle(ctrl(']'));
        assert!(v.handle(ch('>')).is_empty());
        assert_eq!(v.message(), Some("no virtio-mem device to resize"));
        let mut c = placement(1, false);
        let mut vm = c.devices[0].clone();
        vm.id = "vmem2".into();
        if let Some(a) = vm.actual.as_mut() {
            a.kind = "virtio-mem".into();
            a.id = Some("vmem2".into());
        }
        c.devices.push(vm);
        v.handle(ViewEvent::Vm(VmState {
            placement: Some(c),
            ..state(VmStatus::Running)
        }));
        assert_eq!(v.handle(ch('>')), [VmEffect::Resize("vmem2".into(), true)]);
        assert_eq!(v.handle(ch('<')), [VmEffect::Resize("vmem2".into(), false)]);
        v.handle(ViewEvent::Resized("vmem2".into(), Ok((128 << 20, 1 << 30))));
        assert!(v
            .message()
            .unwrap()
            .starts_with("vmem2 requested-size=128M of 1G"));
        v.handle(ViewEvent::Resized(
            "vmem2".into(),
            Err(
                "QEMU refused qom-set: 'requested-size' cannot exceed the memory backend size"
                    .into(),
            ),
        ));
        assert!(v.message().unwrap().contains("cannot exceed"));
    }
}
