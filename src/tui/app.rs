//! The TUI's state machine: [`App::handle`] takes an [`Event`] (a key, a
//! mouse action, a resize, or the result of an effect) and returns the
//! [`Effect`]s the driver must perform (save a file, copy, launch...).
//!
//! The app is one [`Mode`] (matched once per key), the document
//! ([`Doc`]), the panes' components ([`Panes`]), the key map and the
//! screen's [`Geometry`]. A key becomes an [`Action`] through the key map
//! for the mode; in the normal mode it is offered to the focused pane,
//! then to the others (each takes only what is its own), then handled
//! here. A click or the wheel becomes an action through the pane under
//! the pointer. No terminal, file or process is touched here, so tests
//! drive whole key sequences through `handle` directly.

use super::action::{Action, Scope, GLOBAL, HELP, INPUT, NORMAL};
use super::doc::Doc;
use super::geometry::{inner, Geometry, PANES};
use super::input::{self, Input};
use super::keymap::Keymap;
use super::panes::dialog::{hinted, prompt_width};
use super::panes::status::Hint;
use super::panes::{help, is_move, step, DrawCx, Editing, EventState, FormKind, Panes, Step};
use super::profiles::Opened;
use super::theme::Theme;
use crate::core::cmdline::ImportNote;
use crate::core::device::DimmKind;
use crate::core::profile::Profile;
use crossterm::event::{KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use std::path::PathBuf;

pub use super::doc::GuestCheck;
pub use super::event::{Effect, Event, LaunchCheck, TaskError};
pub use super::geometry::Pane;
pub use super::panes::dialog::{Dialog, Pending};

/// What the keys go to.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Mode {
    /// The editor: panes and global keys.
    #[default]
    Normal,
    /// A field is being typed into.
    Editing(Editing),
    /// A dialog is open.
    Dialog(Dialog),
    /// The help overlay, scrolled this far.
    Help(usize),
}

/// How the app was set up by its caller.
#[derive(Debug, Clone)]
pub struct Setup {
    pub profile: Profile,
    /// The file it came from (saves go back there).
    pub path: Option<PathBuf>,
    /// Its store name, when it was opened by name.
    pub name: Option<String>,
    pub notes: Vec<ImportNote>,
    pub theme: Theme,
    /// The key map (the defaults with the user's `keys.ron`).
    pub keys: Keymap,
    /// Where `s` puts a profile given by name.
    pub profiles_dir: Option<PathBuf>,
    /// A message for the status bar at start (a bad theme...).
    pub status: Option<String>,
}

/// The whole TUI state.
#[derive(Debug, Clone)]
pub struct App {
    pub doc: Doc,
    pub panes: Panes,
    mode: Mode,
    focus: Pane,
    geometry: Geometry,
    pub theme: Theme,
    pub keys: Keymap,
    pub size: (u16, u16),
    pub quit: bool,
    /// A launch was agreed to in this session: later launches that create
    /// nothing start without asking.
    launch_agreed: bool,
}

impl App {
    pub fn new(setup: Setup) -> App {
        let mut doc = Doc::new(
            setup.profile,
            setup.path,
            setup.name,
            setup.notes,
            setup.profiles_dir,
        );
        if let Some(text) = setup.status {
            doc.complain(text);
        }
        let size = (80, 24);
        App {
            doc,
            panes: Panes::default(),
            mode: Mode::Normal,
            focus: Pane::Devices,
            geometry: Geometry::new(Rect::new(0, 0, size.0, size.1), Pane::Devices),
            theme: setup.theme,
            keys: setup.keys,
            size,
            quit: false,
            launch_agreed: false,
        }
    }

    /// A plain app on a profile (tests, benches).
    pub fn with_profile(profile: Profile) -> App {
        App::new(Setup {
            profile,
            path: None,
            name: None,
            notes: Vec::new(),
            theme: Theme::default_theme(),
            keys: Keymap::default(),
            profiles_dir: None,
            status: None,
        })
    }

    /// Effects to perform once at start.
    pub fn start(&self) -> Vec<Effect> {
        vec![
            Effect::DetectQemu(self.doc.profile.clone()),
            Effect::GatherHost(self.doc.profile.clone()),
        ]
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The field being edited, if one is.
    pub fn editing(&self) -> Option<&Editing> {
        match &self.mode {
            Mode::Editing(e) => Some(e),
            _ => None,
        }
    }

    /// The open dialog, if one is.
    pub fn dialog(&self) -> Option<&Dialog> {
        match &self.mode {
            Mode::Dialog(d) => Some(d),
            _ => None,
        }
    }

    /// How far the help overlay is scrolled, when it is open.
    pub fn help(&self) -> Option<usize> {
        match self.mode {
            Mode::Help(scroll) => Some(scroll),
            _ => None,
        }
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// Focus a pane (the layout follows: narrow screens show the VM form
    /// only while it has focus).
    pub fn set_focus(&mut self, pane: Pane) {
        self.focus = pane;
        self.geometry = Geometry::new(self.geometry.screen, pane);
    }

    /// Where everything is on the screen now.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The geometry for a screen of `area`: the current one, unless the
    /// terminal changed size before the app heard of it.
    pub fn geometry_for(&self, area: Rect) -> Geometry {
        if area == self.geometry.screen {
            self.geometry
        } else {
            Geometry::new(area, self.focus)
        }
    }

    /// What the panes draw from (and hit-test with).
    pub fn draw_cx(&self) -> DrawCx<'_> {
        DrawCx {
            doc: &self.doc,
            theme: &self.theme,
            keys: &self.keys,
            focus: self.focus,
            editing: self.editing(),
        }
    }

    /// Handle one event.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = self.handle_inner(event);
        effects.append(&mut self.doc.take_queued());
        for p in PANES {
            self.panes.get_mut(p).clamp(&self.doc);
        }
        self.follow_input();
        if effects.contains(&Effect::Quit) {
            self.quit = true;
        }
        if effects.iter().any(|e| matches!(e, Effect::StartVm(_))) {
            self.launch_agreed = true;
        }
        effects
    }

    fn handle_inner(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(k) => return self.key(k),
            Event::Paste(text) => self.paste(&text),
            Event::Mouse(m) => self.mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.geometry = Geometry::new(Rect::new(0, 0, w, h), self.focus);
            }
            Event::QemuDetected(status) => {
                self.doc.host.qemu = status;
                self.doc.refresh();
            }
            Event::HostGathered(host) => {
                self.doc.host = *host;
                self.doc.refresh();
            }
            Event::Saved(Ok(path)) => self.doc.saved_at(path),
            Event::Saved(Err(e)) => self.doc.complain(format!("save failed: {e}")),
            Event::PictureSaved(Ok(path)) => self
                .doc
                .say(format!("saved the map's picture to {}", path.display())),
            Event::PictureSaved(Err(e)) => {
                self.doc.complain(format!("the picture was not saved: {e}"))
            }
            Event::ProfilesListed(Ok(entries)) => {
                self.mode = Mode::Dialog(Dialog::Picker {
                    entries,
                    selected: 0,
                })
            }
            Event::ProfilesListed(Err(e)) => {
                self.doc.complain(format!("cannot list profiles: {e}"))
            }
            Event::Opened(Ok(opened)) => {
                let Opened {
                    profile,
                    path,
                    name,
                } = *opened;
                self.doc.reopen(profile, path, name);
                self.panes = Panes::default();
                return self.start();
            }
            Event::Opened(Err(e)) => self.doc.complain(format!("open failed: {e}")),
            Event::Copied(Ok(how)) => {
                let what = if self.doc.show_recipe {
                    "guest recipe"
                } else {
                    "command line"
                };
                self.doc.say(format!("{what} {how}"))
            }
            Event::Copied(Err(e)) => self.doc.complain(format!("copy failed: {e}")),
            Event::LaunchChecked(Ok(check)) => {
                if check.changes.is_empty() && self.launch_agreed {
                    return vec![Effect::StartVm(self.doc.profile.clone())];
                }
                // A VM is not an undoable edit: the first launch of a
                // session asks, and every launch that creates files.
                let mut question = if check.changes.is_empty() {
                    format!("Launch {}?", launch_summary(&self.doc.profile))
                } else {
                    format!("Launch, and first {}?", check.changes.join("; "))
                };
                for n in &check.notes {
                    question.push_str(&format!(" Note: {n}."));
                }
                self.mode = Mode::Dialog(Dialog::confirm(question, Pending::Launch));
            }
            Event::LaunchChecked(Err(e)) => self.doc.complain(e.to_string()),
            Event::Launched(Ok(m)) => self.doc.say(m),
            Event::Launched(Err(e)) => self.doc.complain(e.to_string()),
            Event::ProfileRemoved(r) => {
                match r {
                    Ok(name) => {
                        self.doc.stored_removed(&name);
                        self.doc
                            .say(format!("removed profile {name} (kept as {name}.ron.bak)"))
                    }
                    Err(e) => self.doc.complain(format!("remove failed: {e}")),
                }
                return vec![Effect::ListProfiles];
            }
            Event::ProfileRenamed(r) => {
                match r {
                    Ok((from, to, path)) => {
                        self.doc.stored_renamed(&from, &to, path);
                        self.doc.say(format!("renamed profile {from} to {to}"));
                    }
                    Err(e) => self.doc.complain(format!("rename failed: {e}")),
                }
                return vec![Effect::ListProfiles];
            }
            Event::ThemeRemembered(Ok(name)) => self
                .doc
                .say(format!("theme {name} (remembered in config.ron)")),
            Event::ThemeRemembered(Err(e)) => {
                self.doc.complain(format!("theme not remembered: {e}"))
            }
            Event::QemuPlaced(c) => self.doc.qemu_placed = Some((*c, false)),
            Event::Hotplugged(devices) => self.doc.keep_hotplugged(devices),
            Event::NextLaunch(fixes) => self.doc.apply_for_next_launch(&fixes),
            Event::VerifyStage(stage) => {
                if matches!(self.doc.guest, GuestCheck::Running(_)) {
                    self.doc.guest = GuestCheck::Running(stage);
                }
            }
            Event::Verified(r) => {
                self.doc.guest = match r {
                    Ok(report) => GuestCheck::from_report(&report),
                    Err(e) => GuestCheck::Failed(e.to_string()),
                };
            }
        }
        Vec::new()
    }

    fn key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if self.keys.is(Scope::Always, Action::ForceQuit, &k) {
            return vec![Effect::Quit];
        }
        self.doc.status = None;
        match std::mem::take(&mut self.mode) {
            Mode::Normal => match self.keys.action(NORMAL, &k) {
                Some(a) => self.act(a),
                None => Vec::new(),
            },
            Mode::Editing(e) => {
                let step = e.on_key(&k, &self.keys, &mut self.doc);
                self.stay(step, Mode::Editing)
            }
            Mode::Dialog(d) => {
                let step = d.on_key(&k, &self.keys, &mut self.doc);
                self.stay(step, Mode::Dialog)
            }
            Mode::Help(scroll) => {
                if let Some(a) = self.keys.action(HELP, &k) {
                    self.scroll_help(scroll, a);
                }
                Vec::new()
            }
        }
    }

    /// A modal component's next step: stay in its mode, or close.
    fn stay<T>(&mut self, step: Step<T>, mode: fn(T) -> Mode) -> Vec<Effect> {
        match step {
            Step::Stay(t) => {
                self.mode = mode(t);
                Vec::new()
            }
            Step::Done(effects) => effects,
        }
    }

    /// Scroll the help overlay, or (any other action) close it.
    fn scroll_help(&mut self, scroll: usize, a: Action) {
        let max = help::max_scroll(&self.keys, &self.panes, self.geometry.help);
        let page = (inner(self.geometry.help).height as usize).max(1);
        let scroll = scroll.min(max);
        self.mode = if is_move(a) {
            Mode::Help(step(scroll, max + 1, a, page))
        } else {
            Mode::Normal
        };
    }

    /// Perform a normal-mode action: the focused pane first, then the
    /// other panes (each takes only its own commands), then the app.
    pub fn act(&mut self, a: Action) -> Vec<Effect> {
        let order =
            std::iter::once(self.focus).chain(PANES.into_iter().filter(|p| *p != self.focus));
        for p in order.collect::<Vec<_>>() {
            let area = self.geometry.rect(p).unwrap_or_default();
            let state = self
                .panes
                .get_mut(p)
                .on_action(a, p == self.focus, &mut self.doc, area);
            if self.apply(state) {
                return Vec::new();
            }
        }
        self.global(a)
    }

    /// What a component's answer means for the app; `true` when consumed.
    fn apply(&mut self, state: EventState) -> bool {
        match state {
            EventState::NotConsumed => return false,
            EventState::Consumed => {}
            EventState::Focus(p) => self.set_focus(p),
            EventState::Edit(e) => self.mode = Mode::Editing(e),
            EventState::Dialog(d) => self.mode = Mode::Dialog(*d),
        }
        true
    }

    /// The editor's own actions (see [`GLOBAL`]).
    fn global(&mut self, a: Action) -> Vec<Effect> {
        let doc = &mut self.doc;
        match a {
            Action::ForceQuit => return vec![Effect::Quit],
            Action::Quit if doc.dirty() => {
                self.mode = Mode::Dialog(Dialog::confirm(
                    "Quit without saving your changes?",
                    Pending::Quit,
                ))
            }
            Action::Quit => return vec![Effect::Quit],
            Action::Help => self.mode = Mode::Help(0),
            Action::AddDimm => {
                // Another of the selected device's kind is one key away.
                let kind = doc.selected_dimm().map(|d| d.kind).unwrap_or_default();
                let selected = DimmKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                self.mode = Mode::Dialog(Dialog::AddDevice { selected })
            }
            Action::AddSwitch => doc.complain("w adds a switch in the CXL pane (Tab to it)"),
            Action::DeleteDimm => match doc.selected_dimm() {
                Some(d) => {
                    self.mode = Mode::Dialog(Dialog::confirm(
                        format!("Delete {}?", d.id),
                        Pending::Delete(doc.selected),
                    ))
                }
                None => doc.complain("no DIMM to delete"),
            },
            Action::MoveDown | Action::MoveUp => doc.reorder(a == Action::MoveDown),
            Action::NextPane | Action::PrevPane => {
                self.set_focus(self.focus.cycle(a == Action::NextPane))
            }
            Action::Undo => doc.undo(),
            Action::Redo => doc.redo(),
            // Save goes where the profile came from; the first time, and
            // with Save as, it asks.
            Action::Save | Action::SaveAs => match (&doc.path, a) {
                (Some(path), Action::Save) => {
                    return vec![Effect::Save {
                        path: path.clone(),
                        name: doc.name.clone(),
                        profile: doc.profile.clone(),
                    }]
                }
                _ => {
                    self.mode = Mode::Dialog(Dialog::SaveAs {
                        input: Input::new(doc.name.as_deref().unwrap_or(&doc.profile.name)),
                        error: None,
                    })
                }
            },
            Action::SavePicture => match &doc.derived.layout {
                Ok(_) => {
                    self.mode = Mode::Dialog(Dialog::SavePicture {
                        input: Input::new(&picture_name(&doc.profile.name)),
                        error: None,
                    })
                }
                Err(e) => doc.complain(format!("no map to draw: {e}")),
            },
            Action::CycleTheme => {
                let (name, theme) = self.theme.next_builtin();
                self.theme = theme;
                doc.say(format!("theme {name}"));
                return vec![Effect::RememberTheme(name.to_string())];
            }
            Action::Open => return vec![Effect::ListProfiles],
            // What the command-line pane shows: the line, or the recipe.
            Action::Copy => return vec![Effect::Copy(doc.cmdline_lines().join("\n") + "\n")],
            Action::Launch => return vec![Effect::Launch(doc.profile.clone())],
            _ => {}
        }
        Vec::new()
    }

    fn paste(&mut self, text: &str) {
        let typed = match &mut self.mode {
            Mode::Editing(e) => {
                e.paste(text, &self.doc);
                true
            }
            Mode::Dialog(d) => d.paste(text, &self.doc),
            Mode::Normal | Mode::Help(_) => false,
        };
        if !typed {
            self.doc
                .complain("paste goes into a field: press Enter on one first");
        }
    }

    /// Keep the cursor of the input being typed into in view.
    fn follow_input(&mut self) {
        let width = match &self.mode {
            Mode::Editing(e) => {
                let pane = match e.form {
                    FormKind::Dimm => Pane::Dimm,
                    FormKind::Vm => Pane::Vm,
                };
                e.form
                    .input_width(self.geometry.rect(pane).unwrap_or_default())
            }
            Mode::Dialog(_) => prompt_width(self.geometry.prompt),
            Mode::Normal | Mode::Help(_) => return,
        };
        match &mut self.mode {
            Mode::Editing(e) => e.input.follow(width),
            Mode::Dialog(d) => {
                if let Some(input) = d.input_mut() {
                    input.follow(width)
                }
            }
            Mode::Normal | Mode::Help(_) => {}
        }
    }

    /// A mouse action: a click focuses the pane under it and selects what
    /// its hit-test finds there; the wheel scrolls the pane under it.
    fn mouse(&mut self, m: MouseEvent) {
        match self.mode {
            Mode::Normal => {}
            Mode::Help(scroll) => {
                match m.kind {
                    MouseEventKind::Down(_) => self.mode = Mode::Normal,
                    MouseEventKind::ScrollUp => self.scroll_help(scroll, Action::Up),
                    MouseEventKind::ScrollDown => self.scroll_help(scroll, Action::Down),
                    _ => {}
                }
                return;
            }
            Mode::Editing(_) | Mode::Dialog(_) => return,
        }
        let at = Position::new(m.column, m.row);
        let Some((pane, rect)) = self.geometry.pane_at(at) else {
            return;
        };
        let action = match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                let hit = self.panes.get(pane).hit(&self.draw_cx(), rect, at);
                self.set_focus(pane);
                hit
            }
            MouseEventKind::ScrollUp => Some(self.panes.get(pane).wheel(true)),
            MouseEventKind::ScrollDown => Some(self.panes.get(pane).wheel(false)),
            _ => None,
        };
        if let Some(a) = action {
            // The pane under the pointer acts as if it had focus.
            let state = self
                .panes
                .get_mut(pane)
                .on_action(a, true, &mut self.doc, rect);
            self.apply(state);
        }
    }

    /// The status bar's hints for what the user is doing.
    pub fn hints(&self) -> Vec<Hint> {
        let keys = &self.keys;
        match &self.mode {
            Mode::Editing(_) => hinted(keys, INPUT, input::COMMANDS),
            Mode::Dialog(d) => d.hints(keys),
            Mode::Help(_) => help::hints(keys),
            Mode::Normal => {
                // Help and quit first: on a narrow screen the tail is cut off.
                let mut global: Vec<_> = GLOBAL.iter().collect();
                global.sort_by_key(|c| !matches!(c.action, Action::Help | Action::Quit));
                let mut out: Vec<Hint> = global
                    .into_iter()
                    .filter_map(|c| {
                        c.hint
                            .map(|h| (keys.short(&[Scope::Always, Scope::Normal], c.action), h))
                    })
                    .collect();
                out.extend(hinted(keys, NORMAL, self.panes.get(self.focus).commands()));
                out
            }
        }
    }
}

/// What a launch starts, in one line: the QEMU, its memory and CPUs, the
/// DIMMs and what boots (nothing to boot is the pre-flight's note).
fn launch_summary(p: &Profile) -> String {
    let n = p.devices.len();
    let mut out = format!(
        "{} with {}: {} RAM, {} CPU{}, {n} memory device{}",
        p.name,
        p.qemu_binary().display(),
        p.ram,
        p.cpus,
        if p.cpus == 1 { "" } else { "s" },
        if n == 1 { "" } else { "s" },
    );
    if let Some(k) = &p.kernel {
        out.push_str(&format!(", kernel {}", k.display()));
    }
    if !p.disks.is_empty() {
        out.push_str(&format!(
            ", {} disk{}",
            p.disks.len(),
            if p.disks.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

/// The file the map's picture is offered as: `NAME-map.svg`, the
/// profile's name made a plain file name.
fn picture_name(profile: &str) -> String {
    let stem: String = profile
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    format!("{}-map.svg", if stem.is_empty() { "qpmem" } else { stem })
}
