//! The TUI's state machine: [`App::handle`] takes an [`Event`] (a key, a
//! mouse action, a resize, or the result of an effect) and returns the
//! [`Effect`]s the driver must perform (save a file, copy, launch...).
//!
//! No terminal, file or process is touched here, so tests drive whole key
//! sequences through `handle` directly. Everything shown is derived from
//! the core after each change ([`Derived`]): [`crate::core::layout::layout`],
//! [`crate::core::diagnose::check`] and [`crate::core::cmdline::render_shell`].

use super::action::{action_for, Action};
use super::form::{Input, DIMM_FIELDS, VM_FIELDS};
use super::panes::map as map_pane;
use super::profiles::{Opened, ProfileEntry, ProfileRef};
use super::theme::Theme;
use super::ui::{self, Areas};
use crate::core::cmdline::{render_shell, ImportNote};
use crate::core::diagnose::{self, Context, Diagnostic, Severity};
use crate::core::facts::HostFacts;
use crate::core::facts::QemuStatus;
use crate::core::layout::{layout, Layout, LayoutError};
use crate::core::profile::Profile;
use crate::core::qemu::Comparison;
use crate::verify::{Verdict, VerifyReport};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use std::path::PathBuf;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Devices,
    Dimm,
    Vm,
    Map,
    Diagnostics,
    Cmdline,
}

pub const PANES: [Pane; 6] = [
    Pane::Devices,
    Pane::Dimm,
    Pane::Vm,
    Pane::Map,
    Pane::Diagnostics,
    Pane::Cmdline,
];

impl Pane {
    pub fn title(self) -> &'static str {
        match self {
            Pane::Devices => "DIMMs",
            Pane::Dimm => "DIMM",
            Pane::Vm => "VM",
            Pane::Map => "Address map",
            Pane::Diagnostics => "Diagnostics",
            Pane::Cmdline => "Command line",
        }
    }
}

/// What happens to the app.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): typed into the
    /// field or name being edited, ignored elsewhere (it must not run
    /// keys as commands).
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// The QEMU binary's version, or why it could not be read.
    QemuDetected(QemuStatus),
    /// What the host says about the backing files and QEMU (the same facts
    /// `qpmem check` judges).
    HostGathered(Box<HostFacts>),
    /// A save finished: the path written, or the error.
    Saved(Result<PathBuf, String>),
    /// The profiles the picker offers, or why they cannot be listed.
    ProfilesListed(Result<Vec<ProfileEntry>, String>),
    /// A profile was read for `o`.
    Opened(Result<Box<Opened>, String>),
    /// The command line was copied: how, or why not.
    Copied(Result<String, String>),
    /// The launch check: what launching will change and what to know
    /// first, or why the VM cannot be launched.
    LaunchChecked(Result<LaunchCheck, String>),
    /// The VM ended (how), or could not be started (why).
    Launched(Result<String, String>),
    /// A stored profile was removed (its name) or renamed (from, to, the
    /// new file), or why not.
    ProfileRemoved(Result<String, String>),
    ProfileRenamed(Result<(String, String, PathBuf), String>),
    /// QEMU, launched from here, reported where it placed the devices.
    QemuPlaced(Box<Comparison>),
    /// A guest check moved on to a new stage (its label).
    VerifyStage(String),
    /// A guest check ended: its report, or why it could not run.
    Verified(Result<Box<VerifyReport>, String>),
}

/// What the launch check found (see [`crate::vm::Plan`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchCheck {
    /// The files and directories that will be created: asked about first.
    pub changes: Vec<String>,
    /// What to know before launching (nothing to boot...): shown in the
    /// question and in the launch view.
    pub notes: Vec<String>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Write `profile` to `path` atomically (as the stored profile
    /// `name` when given), then send [`Event::Saved`].
    Save {
        path: PathBuf,
        name: Option<String>,
        profile: Profile,
    },
    /// List profiles, then send [`Event::ProfilesListed`].
    ListProfiles,
    /// Read a profile, then send [`Event::Opened`].
    Open(ProfileRef),
    /// Put the text on the clipboard, then send [`Event::Copied`].
    Copy(String),
    /// Check the profile for launching, then send [`Event::LaunchChecked`].
    Launch(Profile),
    /// Create the missing files and run the VM with its console; send
    /// [`Event::Launched`] when it ends.
    StartVm(Profile),
    /// Find the profile's QEMU (see [`crate::qemu::discover::resolve`]) and
    /// read its version, then send [`Event::QemuDetected`].
    DetectQemu(Profile),
    /// Look at the host for this profile, then send [`Event::HostGathered`].
    GatherHost(Profile),
    /// Boot a throwaway guest on scratch files (in the background),
    /// sending [`Event::VerifyStage`] as it goes and [`Event::Verified`].
    Verify(Profile),
    /// Stop the running guest check.
    CancelVerify,
    /// Remove a stored profile (kept as `.bak`), then send
    /// [`Event::ProfileRemoved`].
    RemoveProfile(String),
    /// Rename a stored profile, then send [`Event::ProfileRenamed`].
    RenameProfile {
        from: String,
        to: String,
    },
}

/// What the last guest check (`v`) says, shown atop the diagnostics.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum GuestCheck {
    #[default]
    None,
    /// Booting: the stage it is at.
    Running(String),
    /// The guest's verdict, one line each; `ok` when every DIMM sat
    /// where predicted. `stale` once the profile changed since.
    Done {
        lines: Vec<String>,
        ok: bool,
        stale: bool,
    },
    Failed(String),
}

impl GuestCheck {
    fn from_report(r: &VerifyReport) -> GuestCheck {
        let kernel = r.kernel_release.as_deref().unwrap_or("Linux");
        let checked = r
            .dimms
            .iter()
            .filter(|d| d.verdict == Verdict::Match)
            .count();
        let mut lines = vec![if r.all_match {
            format!(
                "guest ({kernel}, {:.1} s): all {checked} NVDIMMs where predicted",
                r.boot_seconds
            )
        } else {
            format!("guest ({kernel}): the guest saw something else than predicted")
        }];
        for d in r.dimms.iter().filter(|d| !d.verdict.is_ok()) {
            let at = |a: Option<u64>, s: Option<u64>| match (a, s) {
                (Some(a), Some(s)) => format!("{a:#x} ({})", crate::core::size::format_qemu(s)),
                _ => "nothing".to_string(),
            };
            lines.push(format!(
                "  {} {}: predicted {}, guest {}",
                d.id,
                d.verdict.label(),
                at(d.addr, d.size),
                at(d.guest_addr, d.guest_size)
            ));
        }
        for u in &r.unexpected {
            lines.push(format!("  unexpected pmem range at {:#x}", u.addr));
        }
        for w in &r.kernel_warnings {
            lines.push(format!("  kernel: {w}"));
        }
        GuestCheck::Done {
            lines,
            ok: r.all_match,
            stale: false,
        }
    }
}

/// Everything shown that is computed from the profile by the core.
#[derive(Debug, Clone)]
pub struct Derived {
    pub layout: Result<Layout, LayoutError>,
    pub diagnostics: Vec<Diagnostic>,
    /// `render_shell`, split into lines.
    pub shell: Vec<String>,
    /// `qpmem render --format guest`: what to run inside the guest; only
    /// computed while the command-line pane shows it (`r`).
    pub guest: Option<Vec<String>>,
}

impl Derived {
    pub fn compute(
        profile: &Profile,
        notes: &[ImportNote],
        host: &HostFacts,
        with_recipe: bool,
    ) -> Derived {
        let layout = layout(profile, host);
        let diagnostics = diagnose::check(&Context {
            profile,
            layout: layout.as_ref().ok(),
            import_notes: notes,
            host,
        });
        let shell = render_shell(profile).lines().map(str::to_string).collect();
        let guest = with_recipe.then(|| {
            crate::core::export::guest::render(profile, layout.as_ref().ok())
                .lines()
                .map(str::to_string)
                .collect()
        });
        Derived {
            layout,
            diagnostics,
            shell,
            guest,
        }
    }

    /// The worst finding about a device (a refused placement is an error).
    pub fn device_severity(&self, id: &str) -> Option<Severity> {
        let placed_err = self.layout.as_ref().ok().and_then(|l| {
            l.devices
                .iter()
                .find(|d| d.id == id)
                .filter(|d| d.result.is_err())
                .map(|_| Severity::Error)
        });
        self.diagnostics
            .iter()
            .filter(|d| d.device.as_deref() == Some(id))
            .map(|d| d.severity)
            .chain(placed_err)
            .max()
    }
}

/// Which form a field edit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Dimm,
    Vm,
}

/// A field being typed into.
#[derive(Debug, Clone, PartialEq)]
pub struct Editing {
    pub form: FormKind,
    pub field: usize,
    pub input: Input,
    /// Why the text is not a valid value (shown inline), if it is not.
    pub error: Option<String>,
}

/// What a confirmation leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Delete(usize),
    Quit,
    Open(ProfileRef),
    Launch,
    /// Remove this stored profile.
    RemoveProfile(String),
}

/// A modal dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    Confirm {
        question: String,
        pending: Pending,
    },
    /// Ask where to save.
    SaveAs {
        input: Input,
        error: Option<String>,
    },
    Picker {
        entries: Vec<ProfileEntry>,
        selected: usize,
    },
    /// Ask for a stored profile's new name.
    Rename {
        from: String,
        input: Input,
        error: Option<String>,
    },
}

/// A message in the status bar until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// The map's zoom and scroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MapView {
    /// Bytes per cell; `None` fits the whole map.
    pub cell: Option<u64>,
    /// First address shown (when zoomed).
    pub start: u64,
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
    /// Where `s` puts a profile given by name.
    pub profiles_dir: Option<PathBuf>,
    /// A message for the status bar at start (a bad theme...).
    pub status: Option<String>,
}

const HISTORY_LIMIT: usize = 200;

/// The whole TUI state.
#[derive(Debug, Clone)]
pub struct App {
    pub profile: Profile,
    pub path: Option<PathBuf>,
    /// The store name saves go to (set by a save or open by name).
    pub name: Option<String>,
    /// The profile as last saved or opened (unsaved changes = differs).
    saved: Profile,
    undo: Vec<(Profile, usize)>,
    redo: Vec<(Profile, usize)>,
    pub notes: Vec<ImportNote>,
    pub host: HostFacts,
    pub theme: Theme,
    pub derived: Derived,
    pub focus: Pane,
    /// The selected DIMM.
    pub selected: usize,
    pub dimm_field: usize,
    pub vm_field: usize,
    pub diag_selected: usize,
    pub cmdline_scroll: usize,
    pub map: MapView,
    pub editing: Option<Editing>,
    pub dialog: Option<Dialog>,
    pub help: Option<usize>,
    pub status: Option<Status>,
    pub size: (u16, u16),
    pub profiles_dir: Option<PathBuf>,
    /// The last guest check (`v`).
    pub guest: GuestCheck,
    /// The command-line pane shows the guest recipe instead (`r`).
    pub show_recipe: bool,
    /// What QEMU really placed at the last launch, against the
    /// prediction, and whether the profile changed since (stale).
    pub qemu_placed: Option<(Comparison, bool)>,
    pub quit: bool,
    /// Effects a change asked for, returned by the next `handle`.
    queued: Vec<Effect>,
}

impl App {
    pub fn new(setup: Setup) -> App {
        let host = HostFacts::default();
        let derived = Derived::compute(&setup.profile, &setup.notes, &host, false);
        App {
            saved: setup.profile.clone(),
            profile: setup.profile,
            path: setup.path,
            name: setup.name,
            undo: Vec::new(),
            redo: Vec::new(),
            notes: setup.notes,
            host,
            theme: setup.theme,
            derived,
            focus: Pane::Devices,
            selected: 0,
            dimm_field: 0,
            vm_field: 0,
            diag_selected: 0,
            cmdline_scroll: 0,
            map: MapView::default(),
            editing: None,
            dialog: None,
            help: None,
            status: setup.status.map(|text| Status { text, error: true }),
            size: (80, 24),
            profiles_dir: setup.profiles_dir,
            guest: GuestCheck::None,
            show_recipe: false,
            qemu_placed: None,
            quit: false,
            queued: Vec::new(),
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
            profiles_dir: None,
            status: None,
        })
    }

    /// Effects to perform once at start.
    pub fn start(&self) -> Vec<Effect> {
        vec![
            Effect::DetectQemu(self.profile.clone()),
            Effect::GatherHost(self.profile.clone()),
        ]
    }

    /// What the command-line pane shows: the QEMU command line, or the
    /// guest recipe after `r`.
    pub fn cmdline_lines(&self) -> &[String] {
        match &self.derived.guest {
            Some(guest) if self.show_recipe => guest,
            _ => &self.derived.shell,
        }
    }

    /// Are there unsaved changes?
    pub fn dirty(&self) -> bool {
        self.profile != self.saved
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn areas(&self) -> Areas {
        ui::areas(Rect::new(0, 0, self.size.0, self.size.1), self.focus)
    }

    fn refresh(&mut self) {
        self.derived = Derived::compute(&self.profile, &self.notes, &self.host, self.show_recipe);
        self.selected = self
            .selected
            .min(self.profile.devices.len().saturating_sub(1));
        self.diag_selected = self
            .diag_selected
            .min(self.derived.diagnostics.len().saturating_sub(1));
        self.cmdline_scroll = self
            .cmdline_scroll
            .min(self.cmdline_lines().len().saturating_sub(1));
    }

    /// Replace the profile with `new`, recording the old one for undo.
    fn commit(&mut self, new: Profile) -> bool {
        if new == self.profile {
            return false;
        }
        let old = std::mem::replace(&mut self.profile, new);
        let qemu_changed = old.qemu_binary() != self.profile.qemu_binary();
        let files = |p: &Profile| -> Vec<PathBuf> {
            p.devices
                .iter()
                .filter_map(|d| d.backend.path().map(PathBuf::from))
                .collect()
        };
        if qemu_changed || files(&old) != files(&self.profile) {
            self.queued.push(Effect::GatherHost(self.profile.clone()));
        }
        if let GuestCheck::Done { stale, .. } = &mut self.guest {
            *stale = true;
        }
        if let Some((_, stale)) = &mut self.qemu_placed {
            *stale = true;
        }
        self.undo.push((old, self.selected));
        if self.undo.len() > HISTORY_LIMIT {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.refresh();
        qemu_changed
    }

    fn say(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// Handle one event.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = self.handle_inner(event);
        effects.append(&mut self.queued);
        effects
    }

    fn handle_inner(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(k) => self.key(k),
            Event::Paste(text) => {
                self.paste(&text);
                Vec::new()
            }
            Event::Mouse(m) => self.mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                Vec::new()
            }
            Event::QemuDetected(status) => {
                self.host.qemu = status;
                self.refresh();
                Vec::new()
            }
            Event::HostGathered(host) => {
                self.host = *host;
                self.refresh();
                Vec::new()
            }
            Event::Saved(Ok(path)) => {
                self.say(format!("saved {}", path.display()));
                self.path = Some(path);
                self.saved = self.profile.clone();
                Vec::new()
            }
            Event::Saved(Err(e)) => {
                self.complain(format!("save failed: {e}"));
                Vec::new()
            }
            Event::ProfilesListed(Ok(entries)) => {
                self.dialog = Some(Dialog::Picker {
                    entries,
                    selected: 0,
                });
                Vec::new()
            }
            Event::ProfilesListed(Err(e)) => {
                self.complain(format!("cannot list profiles: {e}"));
                Vec::new()
            }
            Event::Opened(Ok(opened)) => {
                let Opened {
                    profile,
                    path,
                    name,
                } = *opened;
                self.say(format!("opened {}", profile.name));
                self.saved = profile.clone();
                self.profile = profile;
                self.path = path;
                self.name = name;
                self.notes.clear();
                self.undo.clear();
                self.redo.clear();
                self.selected = 0;
                self.dimm_field = 0;
                self.vm_field = 0;
                self.diag_selected = 0;
                self.cmdline_scroll = 0;
                self.map = MapView::default();
                self.refresh();
                vec![
                    Effect::DetectQemu(self.profile.clone()),
                    Effect::GatherHost(self.profile.clone()),
                ]
            }
            Event::Opened(Err(e)) => {
                self.complain(format!("open failed: {e}"));
                Vec::new()
            }
            Event::Copied(Ok(how)) => {
                self.say(format!("command line {how}"));
                Vec::new()
            }
            Event::Copied(Err(e)) => {
                self.complain(format!("copy failed: {e}"));
                Vec::new()
            }
            Event::LaunchChecked(Ok(check)) => {
                if check.changes.is_empty() {
                    return vec![Effect::StartVm(self.profile.clone())];
                }
                let mut question = format!("Launch, and first {}?", check.changes.join("; "));
                for n in &check.notes {
                    question.push_str(&format!(" Note: {n}."));
                }
                self.dialog = Some(Dialog::Confirm {
                    question,
                    pending: Pending::Launch,
                });
                Vec::new()
            }
            Event::LaunchChecked(Err(e)) => {
                self.complain(e);
                Vec::new()
            }
            Event::Launched(Ok(m)) => {
                self.say(m);
                Vec::new()
            }
            Event::Launched(Err(e)) => {
                self.complain(e);
                Vec::new()
            }
            Event::ProfileRemoved(r) => {
                match r {
                    Ok(name) => {
                        self.say(format!("removed profile {name} (kept as {name}.ron.bak)"))
                    }
                    Err(e) => self.complain(format!("remove failed: {e}")),
                }
                vec![Effect::ListProfiles]
            }
            Event::ProfileRenamed(r) => {
                match r {
                    Ok((from, to, path)) => {
                        if self.name.as_deref() == Some(from.as_str()) {
                            self.name = Some(to.clone());
                            self.path = Some(path);
                        }
                        self.say(format!("renamed profile {from} to {to}"));
                    }
                    Err(e) => self.complain(format!("rename failed: {e}")),
                }
                vec![Effect::ListProfiles]
            }
            Event::QemuPlaced(c) => {
                self.qemu_placed = Some((*c, false));
                Vec::new()
            }
            Event::VerifyStage(stage) => {
                if matches!(self.guest, GuestCheck::Running(_)) {
                    self.guest = GuestCheck::Running(stage);
                }
                Vec::new()
            }
            Event::Verified(r) => {
                self.guest = match r {
                    Ok(report) => GuestCheck::from_report(&report),
                    Err(e) => GuestCheck::Failed(e),
                };
                Vec::new()
            }
        }
    }

    fn quit_now(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    fn key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if k.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(k.code, KeyCode::Char('c') | KeyCode::Char('C'))
        {
            return self.quit_now();
        }
        self.status = None;
        if self.editing.is_some() {
            return self.edit_key(k);
        }
        if self.dialog.is_some() {
            return self.dialog_key(k);
        }
        if let Some(scroll) = self.help {
            match action_for(&k) {
                Some(Action::Up) => self.help = Some(scroll.saturating_sub(1)),
                Some(Action::Down) => self.help = Some(scroll + 1),
                Some(Action::Top) => self.help = Some(0),
                _ => self.help = None,
            }
            return Vec::new();
        }
        match action_for(&k) {
            Some(a) => self.act(a),
            None => Vec::new(),
        }
    }

    /// Perform an action (from the key map).
    pub fn act(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::ForceQuit => return self.quit_now(),
            Action::Quit => {
                if self.dirty() {
                    self.dialog = Some(Dialog::Confirm {
                        question: "Quit without saving your changes?".into(),
                        pending: Pending::Quit,
                    });
                } else {
                    return self.quit_now();
                }
            }
            Action::Help => self.help = Some(0),
            Action::Cancel => {}
            Action::AddDimm => self.add_dimm(),
            Action::DeleteDimm => match self.profile.devices.get(self.selected) {
                Some(d) => {
                    self.dialog = Some(Dialog::Confirm {
                        question: format!("Delete {}?", d.id),
                        pending: Pending::Delete(self.selected),
                    })
                }
                None => self.complain("no DIMM to delete"),
            },
            Action::MoveDown | Action::MoveUp => self.reorder(a == Action::MoveDown),
            Action::NextPane | Action::PrevPane => {
                let i = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = PANES.len();
                let j = if a == Action::NextPane {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = PANES[j];
            }
            Action::ApplyFix => self.apply_fix(),
            Action::Undo => match self.undo.pop() {
                Some((p, sel)) => {
                    let cur = std::mem::replace(&mut self.profile, p);
                    self.redo.push((cur, self.selected));
                    self.selected = sel;
                    self.refresh();
                    self.say("undone");
                }
                None => self.complain("nothing to undo"),
            },
            Action::Redo => match self.redo.pop() {
                Some((p, sel)) => {
                    let cur = std::mem::replace(&mut self.profile, p);
                    self.undo.push((cur, self.selected));
                    self.selected = sel;
                    self.refresh();
                    self.say("redone");
                }
                None => self.complain("nothing to redo"),
            },
            Action::Save => match &self.path {
                Some(path) => {
                    return vec![Effect::Save {
                        path: path.clone(),
                        name: self.name.clone(),
                        profile: self.profile.clone(),
                    }]
                }
                None => {
                    self.dialog = Some(Dialog::SaveAs {
                        input: Input::new(&self.profile.name),
                        error: None,
                    })
                }
            },
            Action::Open => return vec![Effect::ListProfiles],
            Action::Copy => return vec![Effect::Copy(self.derived.shell.join("\n") + "\n")],
            Action::Launch => return vec![Effect::Launch(self.profile.clone())],
            Action::ToggleRecipe => {
                self.show_recipe = !self.show_recipe;
                self.cmdline_scroll = 0;
                self.focus = Pane::Cmdline;
                self.refresh();
            }
            Action::Verify => {
                if matches!(self.guest, GuestCheck::Running(_)) {
                    self.guest = GuestCheck::Failed("cancelled".into());
                    return vec![Effect::CancelVerify];
                }
                self.guest = GuestCheck::Running("starting".into());
                self.focus = Pane::Diagnostics;
                return vec![Effect::Verify(self.profile.clone())];
            }
            Action::Edit => return self.edit(),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_in_pane(a),
            Action::Left | Action::Right => {
                if self.focus == Pane::Map {
                    self.scroll_map(if a == Action::Left { -1 } else { 1 });
                }
            }
            Action::ZoomIn | Action::ZoomOut | Action::ZoomFit => self.zoom(a),
        }
        Vec::new()
    }

    fn add_dimm(&mut self) {
        let d = crate::core::new_dimm::new_nvdimm(
            &self.profile,
            &super::form::new_dimm_context(self.host.qemu.version()),
        );
        let id = d.id.clone();
        let mut p = self.profile.clone();
        p.devices.push(d);
        self.commit(p);
        self.selected = self.profile.devices.len() - 1;
        self.say(format!("added {id}"));
    }

    fn reorder(&mut self, down: bool) {
        let i = self.selected;
        let len = self.profile.devices.len();
        let j = if down {
            if i + 1 >= len {
                return;
            }
            i + 1
        } else {
            if i == 0 || len == 0 {
                return;
            }
            i - 1
        };
        let mut p = self.profile.clone();
        p.devices.swap(i, j);
        self.commit(p);
        self.selected = j;
    }

    fn apply_fix(&mut self) {
        let Some(d) = self.derived.diagnostics.get(self.diag_selected).cloned() else {
            self.complain("no diagnostic selected");
            return;
        };
        let Some(fix) = &d.fix else {
            self.complain(format!("{} has no automatic fix", d.code));
            return;
        };
        let mut p = self.profile.clone();
        if fix.apply(&mut p) {
            self.commit(p);
            self.say(format!("fixed {}: {}", d.code, fix.summary));
        } else {
            self.complain(format!("{}: the fix no longer applies", d.code));
        }
    }

    fn edit(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Devices | Pane::Map => {
                if self.profile.devices.is_empty() {
                    self.complain("no DIMM to edit: press a to add one");
                } else {
                    self.focus = Pane::Dimm;
                }
            }
            Pane::Dimm => {
                let field = DIMM_FIELDS[self.dimm_field.min(DIMM_FIELDS.len() - 1)];
                let Some(d) = self.profile.devices.get(self.selected) else {
                    self.complain("no DIMM to edit: press a to add one");
                    return Vec::new();
                };
                if field.is_toggle() {
                    if let Some(nd) = field.toggle(&self.profile, self.selected) {
                        let mut p = self.profile.clone();
                        p.devices[self.selected] = nd;
                        self.commit(p);
                    }
                } else {
                    self.editing = Some(Editing {
                        form: FormKind::Dimm,
                        field: self.dimm_field,
                        input: Input::new(&field.value(d)),
                        error: None,
                    });
                }
            }
            Pane::Vm => {
                let field = VM_FIELDS[self.vm_field.min(VM_FIELDS.len() - 1)];
                self.editing = Some(Editing {
                    form: FormKind::Vm,
                    field: self.vm_field,
                    input: Input::new(&field.edit_value(&self.profile)),
                    error: None,
                });
            }
            Pane::Diagnostics => {
                let target = self
                    .derived
                    .diagnostics
                    .get(self.diag_selected)
                    .and_then(|d| d.device.clone())
                    .and_then(|id| self.profile.devices.iter().position(|d| d.id == id));
                if let Some(i) = target {
                    self.selected = i;
                    self.focus = Pane::Dimm;
                }
            }
            Pane::Cmdline => {}
        }
        Vec::new()
    }

    /// The profile the editing text would give, or why it is invalid.
    fn parse_editing(&self, e: &Editing) -> Result<Profile, String> {
        match e.form {
            FormKind::Dimm => {
                let field = DIMM_FIELDS[e.field];
                let d = field.parse(&self.profile, self.selected, &e.input.text)?;
                let mut p = self.profile.clone();
                if let Some(slot) = p.devices.get_mut(self.selected) {
                    *slot = d;
                }
                Ok(p)
            }
            FormKind::Vm => VM_FIELDS[e.field].parse(&self.profile, &e.input.text),
        }
    }

    fn paste(&mut self, text: &str) {
        // Line breaks in a pasted value become spaces; other control
        // characters are dropped.
        let chars = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .filter(|c| !c.is_control());
        if let Some(mut e) = self.editing.take() {
            chars.for_each(|c| e.input.insert(c));
            e.error = self.parse_editing(&e).err();
            self.editing = Some(e);
        } else if let Some(Dialog::SaveAs { input, .. } | Dialog::Rename { input, .. }) =
            &mut self.dialog
        {
            chars.for_each(|c| input.insert(c));
        } else {
            self.complain("paste goes into a field: press Enter on one first");
        }
    }

    fn edit_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(mut e) = self.editing.take() else {
            return Vec::new();
        };
        match k.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match self.parse_editing(&e) {
                Ok(p) => {
                    let qemu_changed = self.commit(p);
                    return if qemu_changed {
                        vec![Effect::DetectQemu(self.profile.clone())]
                    } else {
                        Vec::new()
                    };
                }
                Err(err) => e.error = Some(err),
            },
            _ => {
                e.input.edit(k);
            }
        }
        e.error = self.parse_editing(&e).err();
        self.editing = Some(e);
        Vec::new()
    }

    fn dialog_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(dialog) = self.dialog.take() else {
            return Vec::new();
        };
        match dialog {
            Dialog::Confirm { question, pending } => match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    return self.confirmed(pending)
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {}
                _ => self.dialog = Some(Dialog::Confirm { question, pending }),
            },
            Dialog::SaveAs { mut input, .. } => match k.code {
                KeyCode::Esc => {}
                KeyCode::Enter => match self.save_target(&input.text) {
                    Ok((path, name)) => {
                        let mut profile = self.profile.clone();
                        if let Some(name) = &name {
                            profile.name = name.clone();
                        }
                        // Renaming is part of saving, not an undoable edit.
                        self.profile = profile.clone();
                        self.name = name.clone();
                        return vec![Effect::Save {
                            path,
                            name,
                            profile,
                        }];
                    }
                    Err(error) => {
                        self.dialog = Some(Dialog::SaveAs {
                            input,
                            error: Some(error),
                        })
                    }
                },
                _ => {
                    input.edit(k);
                    let error = self.save_target(&input.text).err();
                    self.dialog = Some(Dialog::SaveAs { input, error });
                }
            },
            Dialog::Rename {
                from, mut input, ..
            } => match k.code {
                KeyCode::Esc => return vec![Effect::ListProfiles],
                KeyCode::Enter => {
                    let to = input.text.trim().to_string();
                    match crate::store::validate_name(&to) {
                        Ok(()) => return vec![Effect::RenameProfile { from, to }],
                        Err(e) => {
                            self.dialog = Some(Dialog::Rename {
                                from,
                                input,
                                error: Some(e.to_string()),
                            })
                        }
                    }
                }
                _ => {
                    input.edit(k);
                    let error = crate::store::validate_name(input.text.trim())
                        .err()
                        .map(|e| e.to_string());
                    self.dialog = Some(Dialog::Rename { from, input, error });
                }
            },
            Dialog::Picker { entries, selected }
                if matches!(k.code, KeyCode::Char('r') | KeyCode::Char('d')) =>
            {
                let rename = k.code == KeyCode::Char('r');
                match entries.get(selected) {
                    Some(e) if e.builtin => {
                        self.complain(format!(
                            "{} is built in: it cannot be renamed or removed (save it under a name first)",
                            e.source.0
                        ));
                        self.dialog = Some(Dialog::Picker { entries, selected });
                    }
                    Some(e) if rename => {
                        self.dialog = Some(Dialog::Rename {
                            from: e.source.0.clone(),
                            input: Input::new(&e.source.0),
                            error: None,
                        })
                    }
                    Some(e) => {
                        self.dialog = Some(Dialog::Confirm {
                            question: format!(
                                "Remove the stored profile {}? (it is kept as {}.ron.bak)",
                                e.source.0, e.source.0
                            ),
                            pending: Pending::RemoveProfile(e.source.0.clone()),
                        })
                    }
                    None => self.dialog = Some(Dialog::Picker { entries, selected }),
                }
            }
            Dialog::Picker {
                entries,
                mut selected,
            } => match action_for(&k) {
                Some(Action::Cancel) | Some(Action::Quit) => {}
                Some(Action::Edit) => {
                    if let Some(e) = entries.get(selected) {
                        let r = e.source.clone();
                        if self.dirty() {
                            self.dialog = Some(Dialog::Confirm {
                                question: format!("Discard your changes and open {}?", e.name),
                                pending: Pending::Open(r),
                            });
                        } else {
                            return vec![Effect::Open(r)];
                        }
                    }
                }
                Some(a) => {
                    selected = step(selected, entries.len(), a, 5);
                    self.dialog = Some(Dialog::Picker { entries, selected });
                }
                None => self.dialog = Some(Dialog::Picker { entries, selected }),
            },
        }
        Vec::new()
    }

    fn confirmed(&mut self, pending: Pending) -> Vec<Effect> {
        match pending {
            Pending::Quit => return self.quit_now(),
            Pending::Open(r) => return vec![Effect::Open(r)],
            Pending::Launch => return vec![Effect::StartVm(self.profile.clone())],
            Pending::RemoveProfile(name) => return vec![Effect::RemoveProfile(name)],
            Pending::Delete(i) => {
                if i < self.profile.devices.len() {
                    let mut p = self.profile.clone();
                    let d = p.devices.remove(i);
                    self.commit(p);
                    self.say(format!("deleted {}", d.id));
                }
            }
        }
        Vec::new()
    }

    /// Where a save-as answer points: a path (has `/` or ends in `.ron`)
    /// or a profile name in the profiles directory (also the new name).
    pub fn save_target(&self, text: &str) -> Result<(PathBuf, Option<String>), String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("give a profile name or a path".into());
        }
        if t.contains('/') || t.ends_with(".ron") {
            return Ok((PathBuf::from(t), None));
        }
        crate::store::validate_name(t).map_err(|e| e.to_string())?;
        match &self.profiles_dir {
            Some(dir) => Ok((dir.join(format!("{t}.ron")), Some(t.to_string()))),
            None => Err("no profiles directory (no home?): give a path".into()),
        }
    }

    fn pane_height(&self, pane: Pane) -> usize {
        let a = self.areas();
        a.rect(pane)
            .map(|r| r.height.saturating_sub(2) as usize)
            .unwrap_or(1)
            .max(1)
    }

    fn move_in_pane(&mut self, a: Action) {
        let page = self.pane_height(self.focus);
        match self.focus {
            Pane::Devices | Pane::Map => {
                self.selected = step(self.selected, self.profile.devices.len(), a, page)
            }
            Pane::Dimm => self.dimm_field = step(self.dimm_field, DIMM_FIELDS.len(), a, page),
            Pane::Vm => self.vm_field = step(self.vm_field, VM_FIELDS.len(), a, page),
            Pane::Diagnostics => {
                self.diag_selected =
                    step(self.diag_selected, self.derived.diagnostics.len(), a, page)
            }
            Pane::Cmdline => {
                let max = self.cmdline_lines().len().saturating_sub(page);
                self.cmdline_scroll = step(self.cmdline_scroll, max + 1, a, page)
            }
        }
    }

    fn map_width(&self) -> u16 {
        self.areas().map.width.saturating_sub(2).max(1)
    }

    fn scroll_map(&mut self, dir: i64) {
        let width = self.map_width();
        let Ok(l) = &self.derived.layout else { return };
        self.map = map_pane::scrolled(l, self.map, width, dir);
    }

    fn zoom(&mut self, a: Action) {
        let width = self.map_width();
        let Ok(l) = &self.derived.layout else { return };
        let focus = l
            .devices
            .get(self.selected)
            .and_then(|d| d.placement())
            .map(|p| p.addr);
        self.map = match a {
            Action::ZoomIn => map_pane::zoomed(l, self.map, width, -1, focus),
            Action::ZoomOut => map_pane::zoomed(l, self.map, width, 1, focus),
            _ => MapView::default(),
        };
    }

    fn mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        if self.dialog.is_some() || self.editing.is_some() {
            return Vec::new();
        }
        if self.help.is_some() {
            if let MouseEventKind::Down(_) = m.kind {
                self.help = None;
            }
            return Vec::new();
        }
        let areas = self.areas();
        let at = Position::new(m.column, m.row);
        let Some((pane, rect)) = PANES
            .iter()
            .filter_map(|p| areas.rect(*p).map(|r| (*p, r)))
            .find(|(_, r)| r.contains(at))
        else {
            return Vec::new();
        };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = pane;
                let row = m.row.saturating_sub(rect.y + 1) as usize;
                let height = rect.height.saturating_sub(2) as usize;
                if m.row <= rect.y || m.row + 1 >= rect.y + rect.height {
                    return Vec::new();
                }
                match pane {
                    Pane::Devices => {
                        // Row 0 is the table header.
                        let body = height.saturating_sub(1);
                        let off = ui::list_offset(self.selected, body);
                        if row >= 1 {
                            let i = off + row - 1;
                            if i < self.profile.devices.len() {
                                self.selected = i;
                            }
                        }
                    }
                    Pane::Dimm => {
                        let off = ui::list_offset(self.dimm_field, height);
                        if off + row < DIMM_FIELDS.len() {
                            self.dimm_field = off + row;
                        }
                    }
                    Pane::Vm => {
                        let off = ui::list_offset(self.vm_field, height);
                        if off + row < VM_FIELDS.len() {
                            self.vm_field = off + row;
                        }
                    }
                    Pane::Diagnostics => {
                        let width = rect.width.saturating_sub(2) as usize;
                        if let Some(i) =
                            super::panes::diagnostics::index_at(self, width, height, row)
                        {
                            self.diag_selected = i;
                        }
                    }
                    Pane::Map => {
                        if let Ok(l) = &self.derived.layout {
                            let col = m.column.saturating_sub(rect.x + 1);
                            if let Some(i) =
                                map_pane::device_at(l, self.map, rect.width.saturating_sub(2), col)
                            {
                                self.selected = i;
                            }
                        }
                    }
                    Pane::Cmdline => {}
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let up = m.kind == MouseEventKind::ScrollUp;
                let saved = self.focus;
                self.focus = pane;
                if pane == Pane::Map {
                    self.scroll_map(if up { -1 } else { 1 });
                } else {
                    self.move_in_pane(if up { Action::Up } else { Action::Down });
                }
                self.focus = saved;
            }
            _ => {}
        }
        Vec::new()
    }
}

/// Move an index within `len` items for a movement action.
fn step(i: usize, len: usize, a: Action, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    match a {
        Action::Up => i.saturating_sub(1),
        Action::Down => (i + 1).min(last),
        Action::PageUp => i.saturating_sub(page),
        Action::PageDown => (i + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => i.min(last),
    }
}
