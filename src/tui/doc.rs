//! The document the editor works on: the profile, its undo history, what
//! the core derives from it ([`Derived`]), the facts it is judged against
//! (host, QEMU version), the selected DIMM (shared by the list, the map and
//! the DIMM form), the last guest check and QEMU placement, and the status
//! message. Panes read it to draw and change it through its methods; every
//! change goes through [`Doc::commit`], which records undo and recomputes.

use super::event::Effect;
use crate::core::cmdline::{render_shell, ImportNote};
use crate::core::diagnose::{self, Context, Diagnostic, Severity};
use crate::core::facts::HostFacts;
use crate::core::layout::{layout, Layout, LayoutError};
use crate::core::profile::{Dimm, Profile};
use crate::core::qemu::Comparison;
use crate::verify::{Verdict, VerifyReport};
use std::path::{Path, PathBuf};

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
    pub fn from_report(r: &VerifyReport) -> GuestCheck {
        let kernel = r.kernel_release.as_deref().unwrap_or("Linux");
        let checked = r
            .dimms
            .iter()
            .filter(|d| d.verdict == Verdict::Match)
            .count();
        let windows = r.cxl.as_ref().map_or(0, |c| c.windows.len());
        let cxl = if windows > 0 {
            format!(
                " and {windows} CXL window{}",
                if windows == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        let mut lines = vec![if r.all_match {
            format!(
                "guest ({kernel}, {:.1} s): all {checked} NVDIMMs{cxl} where predicted",
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
        if let Some(c) = &r.cxl {
            for w in c.windows.iter().filter(|w| !w.verdict.is_ok()) {
                lines.push(format!(
                    "  CXL window {} {}: predicted {:#x} ({}), guest {}",
                    w.index,
                    w.verdict.label(),
                    w.base,
                    crate::core::size::format_qemu(w.size),
                    w.guest_base
                        .map_or("no root decoder".to_string(), |b| format!("{b:#x}"))
                ));
            }
            for m in c.memdevs.iter().filter(|m| !m.verdict.is_ok()) {
                lines.push(format!(
                    "  {} MISSING: no memdev of {} below pci0000:{:02x}",
                    m.id,
                    crate::core::size::format_qemu(m.pmem_size),
                    m.bus_nr
                ));
            }
            for u in &c.unexpected {
                lines.push(format!("  unexpected CXL root decoder at {:#x}", u.addr));
            }
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

/// A message in the status bar until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

const HISTORY_LIMIT: usize = 200;

/// The profile being edited and everything that goes with it.
#[derive(Debug, Clone)]
pub struct Doc {
    pub profile: Profile,
    pub path: Option<PathBuf>,
    /// The store name saves go to (set by a save or open by name).
    pub name: Option<String>,
    /// The profile as last saved or opened (unsaved changes = differs);
    /// `None` once its file is gone (removed from the picker): unsaved.
    saved: Option<Profile>,
    undo: Vec<(Profile, usize)>,
    redo: Vec<(Profile, usize)>,
    pub notes: Vec<ImportNote>,
    pub host: HostFacts,
    pub derived: Derived,
    /// The selected DIMM.
    pub selected: usize,
    /// Where `s` puts a profile given by name.
    pub profiles_dir: Option<PathBuf>,
    /// The last guest check (`v`).
    pub guest: GuestCheck,
    /// The command-line pane shows the guest recipe instead (`r`).
    pub show_recipe: bool,
    /// What QEMU really placed at the last launch, against the
    /// prediction, and whether the profile changed since (stale).
    pub qemu_placed: Option<(Comparison, bool)>,
    pub status: Option<Status>,
    /// What the next successful save adds to its status line (the backing
    /// files a new stored profile took for itself).
    save_note: Option<String>,
    /// Effects a change asked for, returned by the app's next `handle`.
    queued: Vec<Effect>,
}

impl Doc {
    pub fn new(
        profile: Profile,
        path: Option<PathBuf>,
        name: Option<String>,
        notes: Vec<ImportNote>,
        profiles_dir: Option<PathBuf>,
    ) -> Doc {
        let host = HostFacts::default();
        let derived = Derived::compute(&profile, &notes, &host, false);
        Doc {
            saved: Some(profile.clone()),
            profile,
            path,
            name,
            undo: Vec::new(),
            redo: Vec::new(),
            notes,
            host,
            derived,
            selected: 0,
            profiles_dir,
            guest: GuestCheck::None,
            show_recipe: false,
            save_note: None,
            qemu_placed: None,
            status: None,
            queued: Vec::new(),
        }
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
        self.saved.as_ref() != Some(&self.profile)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// The selected DIMM, if there is one.
    pub fn selected_dimm(&self) -> Option<&Dimm> {
        self.profile.devices.get(self.selected)
    }

    /// Recompute what is derived, after the profile or the facts changed.
    pub fn refresh(&mut self) {
        self.derived = Derived::compute(&self.profile, &self.notes, &self.host, self.show_recipe);
        self.selected = self
            .selected
            .min(self.profile.devices.len().saturating_sub(1));
    }

    /// Replace the profile with `new`, recording the old one for undo; a
    /// new QEMU binary is detected again and new files or QEMU looked at.
    pub fn commit(&mut self, new: Profile) {
        if new == self.profile {
            return;
        }
        let old = std::mem::replace(&mut self.profile, new);
        let qemu_changed = old.qemu_binary() != self.profile.qemu_binary();
        let files = |p: &Profile| -> Vec<PathBuf> {
            p.devices
                .iter()
                .filter_map(|d| d.backend.path().map(PathBuf::from))
                .collect()
        };
        if qemu_changed {
            self.queued.push(Effect::DetectQemu(self.profile.clone()));
        }
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
    }

    /// Ask for an effect, returned with the app's next answer.
    pub fn queue(&mut self, e: Effect) {
        self.queued.push(e);
    }

    pub fn take_queued(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.queued)
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    pub fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    pub fn undo(&mut self) {
        match self.undo.pop() {
            Some((p, sel)) => {
                let cur = std::mem::replace(&mut self.profile, p);
                self.redo.push((cur, self.selected));
                self.selected = sel;
                self.refresh();
                self.say("undone");
            }
            None => self.complain("nothing to undo"),
        }
    }

    pub fn redo(&mut self) {
        match self.redo.pop() {
            Some((p, sel)) => {
                let cur = std::mem::replace(&mut self.profile, p);
                self.undo.push((cur, self.selected));
                self.selected = sel;
                self.refresh();
                self.say("redone");
            }
            None => self.complain("nothing to redo"),
        }
    }

    /// A profile now saved at `path`.
    pub fn saved_at(&mut self, path: PathBuf) {
        let note = self.save_note.take().unwrap_or_default();
        self.say(format!("saved {}{note}", path.display()));
        self.path = Some(path);
        self.saved = Some(self.profile.clone());
    }

    /// The stored profile `from` is now `to`, in the file `path`: when it
    /// is the open one, follow it (the title, where `s` saves, and the
    /// profile's `name`, which the store's copy now has) without making
    /// the profile look modified.
    pub fn stored_renamed(&mut self, from: &str, to: &str, path: PathBuf) {
        if self.name.as_deref() != Some(from) {
            return;
        }
        self.name = Some(to.to_string());
        self.path = Some(path);
        // The store wrote `to` as the name; the open profile (and its
        // history) had the old file's name, usually `from`.
        let before = self.saved.as_ref().map(|p| p.name.clone());
        let profiles = self
            .undo
            .iter_mut()
            .chain(self.redo.iter_mut())
            .map(|(p, _)| p)
            .chain(self.saved.as_mut())
            .chain(std::iter::once(&mut self.profile));
        for p in profiles {
            if p.name == from || Some(&p.name) == before.as_ref() {
                p.name = to.to_string();
            }
        }
        self.refresh();
    }

    /// The stored profile `name` was removed: when it is the open one, it
    /// is no longer saved anywhere (`q` asks, `s` asks for a name).
    pub fn stored_removed(&mut self, name: &str) {
        if self.name.as_deref() != Some(name) {
            return;
        }
        self.name = None;
        self.path = None;
        self.saved = None;
    }

    /// Start over on an opened profile: no history, nothing selected.
    pub fn reopen(&mut self, profile: Profile, path: Option<PathBuf>, name: Option<String>) {
        self.say(format!("opened {}", profile.name));
        self.saved = Some(profile.clone());
        self.profile = profile;
        self.path = path;
        self.name = name;
        self.notes.clear();
        self.undo.clear();
        self.redo.clear();
        self.selected = 0;
        self.refresh();
    }

    /// Add a device of `kind` after the others: the core's defaults for
    /// it ([`crate::core::new_dimm::new_device`]: the next free number, the
    /// previous device's size, a file beside the others for the persistent
    /// kinds; no align on a QEMU older than 2.12).
    pub fn add_device(&mut self, kind: crate::core::device::DimmKind) {
        let d = crate::core::new_dimm::new_device(
            kind,
            &self.profile,
            &super::form::new_dimm_context(self.host.qemu.version()),
        );
        let id = d.id.clone();
        let mut p = self.profile.clone();
        p.devices.push(d);
        self.commit(p);
        self.selected = self.profile.devices.len() - 1;
        self.say(format!("added {id} ({})", kind.spec().name()));
    }

    /// Devices hotplugged into the VM launched from here become the
    /// profile's own, cold-plugged after the others (where first fit puts
    /// them again at the next launch): one edit, which `u` undoes.
    pub fn keep_hotplugged(&mut self, devices: Vec<crate::core::device::Dimm>) {
        let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
        let mut p = self.profile.clone();
        p.devices.extend(devices);
        self.commit(p);
        self.selected = self.profile.devices.len().saturating_sub(1);
        self.say(format!(
            "hotplugged {}: now in the profile as cold-plugged devices (undo takes them out; not saved yet)",
            ids.join(", ")
        ));
    }

    /// Changes asked for in the launch view for the next launch (room to
    /// hotplug): one edit, which `u` undoes.
    pub fn apply_for_next_launch(&mut self, fixes: &[crate::core::diagnose::Fix]) {
        let mut p = self.profile.clone();
        for e in fixes.iter().flat_map(|f| &f.edits) {
            e.apply(&mut p);
        }
        self.commit(p);
        let what: Vec<&str> = fixes.iter().map(|f| f.summary.as_str()).collect();
        self.say(format!("{} (not saved yet)", what.join("; ")));
    }

    /// Swap the selected DIMM with the next (or previous) one.
    pub fn reorder(&mut self, down: bool) {
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

    /// Remove DIMM `i`.
    pub fn delete(&mut self, i: usize) {
        if i < self.profile.devices.len() {
            let mut p = self.profile.clone();
            let d = p.devices.remove(i);
            self.commit(p);
            self.say(format!("deleted {}", d.id));
        }
    }

    /// Save as `path` (the stored profile `name`, or a file): when that
    /// is not where the profile was saved or opened from, it becomes a new
    /// profile and takes backing files of its own
    /// ([`crate::core::new_dimm::own_backing_files`]), which the save's
    /// status line then lists. Returns the profile to write.
    pub fn profile_to_save_as(&mut self, path: &Path, name: Option<&str>) -> Profile {
        let mut profile = self.profile.clone();
        if let Some(name) = name {
            profile.name = name.to_string();
        }
        let own = name
            .map(str::to_string)
            .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()));
        self.save_note = None;
        if let Some(own) = own.filter(|_| self.path.as_deref() != Some(path)) {
            let ctx = super::form::new_dimm_context(self.host.qemu.version());
            let moved = crate::core::new_dimm::own_backing_files(&mut profile, &own, &ctx);
            if let Some(first) = moved.first() {
                let ids: Vec<&str> = moved.iter().map(|m| m.id.as_str()).collect();
                let dir = first.to.parent().unwrap_or(Path::new("")).display();
                let (has, its) = if ids.len() == 1 {
                    ("has a backing file", "its")
                } else {
                    ("have backing files", "their")
                };
                self.save_note = Some(format!(
                    "; {} now {has} of {its} own in {dir}/",
                    ids.join(", ")
                ));
            }
        }
        profile
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
}
