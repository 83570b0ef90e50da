//! Key sequences driven through `App::handle`, no terminal: add, edit,
//! delete, reorder, fix, undo/redo, save, open, copy, launch, mouse and
//! quitting with unsaved changes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use qpmem::core::cmdline::render_shell;
use qpmem::core::diagnose::Severity;
use qpmem::core::facts::{Origin, QemuStatus};
use qpmem::core::profile::{Backend, Dimm, Profile};
use qpmem::core::qemu::QemuVersion;
use qpmem::core::size::Size;
use qpmem::tui::app::{Dialog, Effect, Event, LaunchCheck, Pane, Setup};
use qpmem::tui::keymap::Keymap;
use qpmem::tui::profiles::{Opened, ProfileEntry, ProfileRef};
use qpmem::tui::theme::Theme;
use qpmem::tui::App;
use std::path::{Path, PathBuf};

fn app(profile: Profile) -> App {
    let mut a = App::new(Setup {
        profile,
        path: None,
        name: None,
        notes: Vec::new(),
        theme: Theme::default_theme(),
        keys: Keymap::default(),
        profiles_dir: Some(PathBuf::from("/cfg/qpmem/profiles")),
        status: None,
    });
    a.handle(Event::Resize(160, 50));
    a
}

fn seed() -> Profile {
    Profile::seed(Path::new("/vms"))
}

/// The original recipe: no align, so nv2 lands off a section boundary.
fn seed_without_align() -> Profile {
    Profile::original_recipe(Path::new("/vms"), None)
}

fn k(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Type each character as a key press; returns all effects.
fn keys(app: &mut App, text: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in text.chars() {
        let m = if c.is_ascii_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        out.extend(app.handle(Event::Key(KeyEvent::new(KeyCode::Char(c), m))));
    }
    out
}

fn ids(app: &App) -> Vec<&str> {
    app.doc
        .profile
        .devices
        .iter()
        .map(|d| d.id.as_str())
        .collect()
}

/// The warnings and errors about DIMM `id`.
fn complaints<'a>(app: &'a App, id: &str) -> Vec<&'a str> {
    app.doc
        .derived
        .diagnostics
        .iter()
        .filter(|d| d.device.as_deref() == Some(id) && d.severity != Severity::Note)
        .map(|d| d.message.as_str())
        .collect()
}

#[test]
fn add_picks_the_next_name_a_clean_size_and_a_file_beside_the_others() {
    let mut a = app(seed());
    assert!(!a.doc.dirty());
    keys(&mut a, "a1");
    assert_eq!(ids(&a), ["nv1", "nv2", "nv3"]);
    let d = &a.doc.profile.devices[2];
    assert_eq!(d.memdev, "mem3");
    // The previous DIMM's 17G, shown whole: 17G plus the 2M label (the
    // seed's own 17G DIMMs hide 126 MiB each, which QP101 says).
    assert_eq!(d.size, Size::mib(17 * 1024 + 2));
    assert_eq!(d.label_size, Size::mib(2));
    assert_eq!(d.align, Some(Size::mib(128)));
    assert_eq!(d.backend, Backend::File("/vms/nvdimm-3".into()));
    assert_eq!(complaints(&a, "nv3"), Vec::<&str>::new());
    assert!(
        !complaints(&a, "nv1").is_empty(),
        "the seed's own QP101 stays"
    );
    assert_eq!(a.doc.selected, 2);
    assert!(a.doc.dirty());
    // The map and command line follow.
    assert!(a.doc.derived.shell.iter().any(|l| l.contains("id=nv3")));
    let l = a.doc.derived.layout.as_ref().unwrap();
    assert_eq!(l.devices.len(), 3);
    assert_eq!(l.devices[2].placement().unwrap().size, 17 << 30);
}

#[test]
fn add_on_an_empty_profile_and_on_old_qemu() {
    let mut a = app(Profile::empty("e"));
    keys(&mut a, "a1");
    assert_eq!(ids(&a), ["nv1"]);
    // 1 GiB the guest sees whole, in the profile's own directory.
    let d = &a.doc.profile.devices[0];
    assert_eq!(d.size, Size::mib(1026));
    let path = d.backend.path().unwrap();
    assert!(path.ends_with("qpmem/e/nvdimm-1"), "{}", path.display());
    assert_eq!(complaints(&a, "nv1"), Vec::<&str>::new());
    a.handle(Event::QemuDetected(QemuStatus::Found {
        path: "/usr/bin/qemu-system-x86_64".into(),
        version: QemuVersion::new(2, 11, 0),
        origin: Origin::Default,
    }));
    keys(&mut a, "a1");
    assert_eq!(
        a.doc.profile.devices[1].align, None,
        "align= needs QEMU 2.12"
    );
}

#[test]
fn add_never_picks_a_file_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Profile::empty("e");
    let first = dir.path().join("nvdimm-1");
    p.devices.push(qpmem::core::profile::Dimm::nvdimm(
        1,
        first.clone(),
        Size::mib(1026),
    ));
    // nvdimm-2 is on disk already (a 17 GiB image from another profile, say).
    std::fs::write(dir.path().join("nvdimm-2"), b"data").unwrap();
    let mut a = app(p);
    keys(&mut a, "a1");
    assert_eq!(
        a.doc.profile.devices[1].backend,
        Backend::File(dir.path().join("nvdimm-2-1"))
    );
}

#[test]
fn edit_validates_as_you_type_and_never_stores_an_invalid_value() {
    let mut a = app(seed());
    a.handle(k(KeyCode::Enter));
    assert_eq!(a.focus(), Pane::Dimm);
    keys(&mut a, "jjjj"); // id, memdev, kind, file, size
    a.handle(k(KeyCode::Enter));
    let e = a.editing().expect("editing the size");
    assert_eq!(e.input.text, "17G");
    keys(&mut a, "X");
    let err = a.editing().unwrap().error.clone().unwrap();
    assert!(err.contains("size \"17GX\""), "{err}");
    a.handle(k(KeyCode::Enter));
    assert!(a.editing().is_some(), "an invalid value is not committed");
    assert_eq!(a.doc.profile.devices[0].size, Size::gib(17));
    for _ in 0..4 {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, "4G");
    assert_eq!(a.editing().unwrap().error, None);
    a.handle(k(KeyCode::Enter));
    assert!(a.editing().is_none());
    assert_eq!(a.doc.profile.devices[0].size, Size::gib(4));
    // Esc abandons an edit.
    a.handle(k(KeyCode::Enter));
    keys(&mut a, "0");
    a.handle(k(KeyCode::Esc));
    assert_eq!(a.doc.profile.devices[0].size, Size::gib(4));
    // Toggles flip with Enter.
    keys(&mut a, "jjj"); // label-size, align, share
    a.handle(k(KeyCode::Enter));
    assert!(!a.doc.profile.devices[0].share);
}

#[test]
fn vm_form_switches_to_arm64_and_its_page_size_moves_the_sections() {
    let mut a = app(seed());
    a.set_focus(Pane::Vm);
    keys(&mut a, "j"); // name, arch
    a.handle(k(KeyCode::Enter));
    for _ in 0.."x86_64".len() {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, "aarch64");
    a.handle(k(KeyCode::Enter));
    let p = &a.doc.profile;
    assert_eq!((p.arch.name(), p.machine.as_str()), ("aarch64", "virt"));
    let shell = a.doc.derived.shell.join("\n");
    assert!(shell.starts_with("qemu-system-aarch64"), "{shell}");
    assert!(
        shell.contains("-machine virt,nvdimm=on") && shell.contains("-cpu max"),
        "{shell}"
    );
    // QP600 (no firmware) is among the findings; no x86 rule speaks.
    let codes: Vec<&str> = a.doc.derived.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"QP600"), "{codes:?}");
    assert!(!codes.contains(&"QP014"), "{codes:?}");
    // page size 64K: the layout's sections are 512 MiB.
    keys(&mut a, "jj"); // machine, page size
    a.handle(k(KeyCode::Enter));
    for _ in 0..2 {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, "64K");
    a.handle(k(KeyCode::Enter));
    assert_eq!(a.doc.profile.guest_page_size, Some(Size(64 * 1024)));
    let layout = a.doc.derived.layout.as_ref().unwrap();
    assert_eq!(layout.section_size, 512 << 20);
}

#[test]
fn vm_form_edits_ram_with_mib_default() {
    let mut a = app(seed());
    a.handle(k(KeyCode::Tab));
    a.handle(k(KeyCode::Tab));
    assert_eq!(a.focus(), Pane::Vm);
    keys(&mut a, "jjjj"); // name, arch, machine, page size, RAM
    a.handle(k(KeyCode::Enter));
    for _ in 0..2 {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, "512");
    a.handle(k(KeyCode::Enter));
    assert_eq!(a.doc.profile.ram, Size::mib(512));
    assert!(a.doc.derived.shell.iter().any(|l| l.contains("-m 512M,")));
}

#[test]
fn delete_asks_first() {
    let mut a = app(seed());
    keys(&mut a, "d");
    assert!(matches!(a.dialog(), Some(Dialog::Confirm { .. })));
    keys(&mut a, "n");
    assert!(a.dialog().is_none());
    assert_eq!(ids(&a), ["nv1", "nv2"]);
    keys(&mut a, "dy");
    assert_eq!(ids(&a), ["nv2"]);
    keys(&mut a, "dy");
    assert!(ids(&a).is_empty());
    keys(&mut a, "d");
    assert!(a.dialog().is_none(), "nothing left to delete");
}

#[test]
fn reorder_moves_the_selected_dimm() {
    let mut a = app(seed());
    keys(&mut a, "J");
    assert_eq!(ids(&a), ["nv2", "nv1"]);
    assert_eq!(a.doc.selected, 1);
    keys(&mut a, "J");
    assert_eq!(ids(&a), ["nv2", "nv1"], "already last");
    keys(&mut a, "K");
    assert_eq!(ids(&a), ["nv1", "nv2"]);
    // The layout follows the order: nv2 now placed first.
    keys(&mut a, "J");
    let l = a.doc.derived.layout.as_ref().unwrap();
    assert_eq!(l.devices[0].id, "nv2");
    assert_eq!(l.devices[0].placement().unwrap().addr, 0x1_0000_0000);
}

#[test]
fn fix_then_undo_and_redo() {
    let mut a = app(seed_without_align());
    let before = a.doc.profile.clone();
    let d = &a.doc.derived.diagnostics;
    assert!(
        d.iter().any(|d| d.code == "QP100" && d.fix.is_some()),
        "{d:?}"
    );
    // nv2's finding: its fix aligns every DIMM before it too.
    let qp100 = d
        .iter()
        .position(|d| d.code == "QP100" && d.device.as_deref() == Some("nv2"))
        .unwrap();
    a.panes.diagnostics.selected = qp100;
    keys(&mut a, "f");
    assert!(a
        .doc
        .profile
        .devices
        .iter()
        .all(|d| d.align == Some(Size::mib(128))));
    assert!(!a.doc.derived.diagnostics.iter().any(|d| d.code == "QP100"));
    let l = a.doc.derived.layout.as_ref().unwrap();
    assert_eq!(l.devices[1].placement().unwrap().addr, 0x5_3800_0000);
    let fixed = a.doc.profile.clone();
    keys(&mut a, "u");
    assert_eq!(a.doc.profile, before);
    assert!(!a.doc.dirty());
    a.handle(ctrl('r'));
    assert_eq!(a.doc.profile, fixed);
    keys(&mut a, "uu");
    assert_eq!(a.doc.profile, before, "undo past the start does nothing");
    assert!(a.doc.status.as_ref().unwrap().error);
}

#[test]
fn undo_and_redo_walk_a_history_of_edits() {
    let mut a = app(seed());
    let p0 = a.doc.profile.clone();
    keys(&mut a, "a1");
    let p1 = a.doc.profile.clone();
    keys(&mut a, "J"); // nothing: nv3 is last
    keys(&mut a, "K");
    let p2 = a.doc.profile.clone();
    assert_ne!(p1, p2);
    keys(&mut a, "u");
    assert_eq!(a.doc.profile, p1);
    keys(&mut a, "u");
    assert_eq!(a.doc.profile, p0);
    a.handle(ctrl('r'));
    a.handle(ctrl('r'));
    assert_eq!(a.doc.profile, p2);
    // A new edit drops the redo history.
    keys(&mut a, "uK");
    a.handle(ctrl('r'));
    assert!(a
        .doc
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("nothing to redo"));
}

#[test]
fn quit_asks_when_there_are_unsaved_changes() {
    let mut a = app(seed());
    assert_eq!(keys(&mut a, "q"), [Effect::Quit]);

    let mut a = app(seed());
    keys(&mut a, "a1");
    assert!(keys(&mut a, "q").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Confirm { .. })));
    keys(&mut a, "n");
    assert!(!a.quit);
    assert_eq!(keys(&mut a, "qy"), [Effect::Quit]);
    assert!(a.quit);

    // Ctrl-c always quits: from a dialog, an edit, help.
    let mut a = app(seed());
    keys(&mut a, "a1d");
    assert_eq!(a.handle(ctrl('c')), [Effect::Quit]);
    let mut a = app(seed());
    keys(&mut a, "e");
    keys(&mut a, "e");
    assert!(a.editing().is_some());
    assert_eq!(a.handle(ctrl('c')), [Effect::Quit]);
}

#[test]
fn save_asks_for_a_name_the_first_time() {
    let mut a = app(seed());
    keys(&mut a, "a1");
    assert!(keys(&mut a, "s").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::SaveAs { .. })));
    // The input starts with the profile's name; replace it.
    for _ in 0.."default".len() {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, ".x");
    match a.dialog() {
        Some(Dialog::SaveAs { error: Some(e), .. }) => assert!(e.contains("'.'"), "{e}"),
        other => panic!("{other:?}"),
    }
    a.handle(k(KeyCode::Backspace));
    a.handle(k(KeyCode::Backspace));
    keys(&mut a, "three");
    let fx = a.handle(k(KeyCode::Enter));
    let path = PathBuf::from("/cfg/qpmem/profiles/three.ron");
    match &fx[..] {
        [Effect::Save {
            path: p,
            name,
            profile,
        }] => {
            assert_eq!(p, &path);
            assert_eq!(name.as_deref(), Some("three"));
            assert_eq!(profile.name, "three");
            assert_eq!(profile.devices.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    // The driver writes it and reports back.
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("three.ron");
    if let [Effect::Save { profile, .. }] = &fx[..] {
        qpmem::store::save_profile(&real, profile).unwrap();
    }
    a.handle(Event::Saved(Ok(real.clone())));
    assert!(!a.doc.dirty());
    assert_eq!(a.doc.path.as_deref(), Some(real.as_path()));
    assert_eq!(qpmem::store::load_profile(&real).unwrap(), a.doc.profile);
    // Later saves go straight to the same file.
    keys(&mut a, "a1");
    assert!(matches!(&keys(&mut a, "s")[..], [Effect::Save { path, .. }] if *path == real));
    a.handle(Event::Saved(Err(qpmem::store::StoreError::Io {
        path: real.display().to_string(),
        source: std::io::Error::other("disk full"),
    }
    .into())));
    assert!(a.doc.dirty());
    assert!(a.doc.status.as_ref().unwrap().text.contains("disk full"));
}

#[test]
fn open_lists_profiles_and_asks_before_dropping_changes() {
    let mut a = app(seed());
    assert_eq!(keys(&mut a, "o"), [Effect::ListProfiles]);
    let entries = vec![
        ProfileEntry {
            name: "small".into(),
            summary: "1 DIMM".into(),
            source: ProfileRef("small".into()),
            builtin: false,
        },
        ProfileEntry {
            name: "default (built in)".into(),
            summary: "2 DIMMs".into(),
            source: ProfileRef("default".into()),
            builtin: true,
        },
    ];
    a.handle(Event::ProfilesListed(Ok(entries.clone())));
    keys(&mut a, "j");
    assert_eq!(
        a.handle(k(KeyCode::Enter)),
        [Effect::Open(ProfileRef("default".into()))]
    );
    // With unsaved changes it asks first.
    keys(&mut a, "a1");
    keys(&mut a, "o");
    a.handle(Event::ProfilesListed(Ok(entries)));
    assert!(a.handle(k(KeyCode::Enter)).is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Confirm { .. })));
    assert_eq!(
        keys(&mut a, "y"),
        [Effect::Open(ProfileRef("small".into()))]
    );
    let small = {
        let mut p = Profile::empty("small");
        p.devices
            .push(qpmem::Dimm::nvdimm(1, "/p/x".into(), Size::gib(1)));
        p
    };
    let fx = a.handle(Event::Opened(Ok(Box::new(Opened {
        profile: small.clone(),
        path: Some("/p/small.ron".into()),
        name: Some("small".into()),
    }))));
    assert!(matches!(
        &fx[..],
        [Effect::DetectQemu(_), Effect::GatherHost(_)]
    ));
    assert_eq!(a.doc.profile, small);
    assert_eq!(a.doc.name.as_deref(), Some("small"));
    assert!(!a.doc.dirty());
    assert!(!a.doc.can_undo());
}

#[test]
fn the_picker_renames_and_removes_stored_profiles_but_not_examples() {
    let mut a = app(seed());
    a.doc.name = Some("mine".into());
    let entries = vec![
        ProfileEntry {
            name: "mine".into(),
            summary: "2 DIMMs".into(),
            source: ProfileRef("mine".into()),
            builtin: false,
        },
        ProfileEntry {
            name: "small (built in)".into(),
            summary: "1 DIMM".into(),
            source: ProfileRef("small".into()),
            builtin: true,
        },
    ];
    keys(&mut a, "o");
    a.handle(Event::ProfilesListed(Ok(entries.clone())));
    // Rename: the name is checked as typed; Enter asks the store.
    keys(&mut a, "r");
    assert!(matches!(a.dialog(), Some(Dialog::Rename { .. })));
    for _ in 0.."mine".len() {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, ".x");
    match a.dialog() {
        Some(Dialog::Rename { error: Some(e), .. }) => assert!(e.contains(".x"), "{e}"),
        other => panic!("{other:?}"),
    }
    a.handle(k(KeyCode::Home));
    a.handle(k(KeyCode::Delete));
    assert_eq!(
        a.handle(k(KeyCode::Enter)),
        [Effect::RenameProfile {
            from: "mine".into(),
            to: "x".into()
        }]
    );
    // The open profile follows its new name; the picker comes back.
    let fx = a.handle(Event::ProfileRenamed(Ok((
        "mine".into(),
        "x".into(),
        "/cfg/qpmem/profiles/x.ron".into(),
    ))));
    assert_eq!(fx, [Effect::ListProfiles]);
    assert_eq!(a.doc.name.as_deref(), Some("x"));
    assert_eq!(a.doc.path, Some(PathBuf::from("/cfg/qpmem/profiles/x.ron")));
    // Remove asks first.
    a.handle(Event::ProfilesListed(Ok(entries.clone())));
    assert!(keys(&mut a, "d").is_empty());
    match a.dialog() {
        Some(Dialog::Confirm { question, .. }) => {
            assert!(question.contains("mine.ron.bak"), "{question}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(keys(&mut a, "y"), [Effect::RemoveProfile("mine".into())]);
    assert_eq!(
        a.handle(Event::ProfileRemoved(Ok("mine".into()))),
        [Effect::ListProfiles]
    );
    // Built-in examples are refused, and the picker stays open.
    a.handle(Event::ProfilesListed(Ok(entries)));
    keys(&mut a, "j");
    assert!(keys(&mut a, "d").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Picker { .. })));
    assert!(a.doc.status.as_ref().unwrap().text.contains("built in"));
    assert!(keys(&mut a, "r").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Picker { .. })));
}

#[test]
fn copy_is_an_effect() {
    let mut a = app(seed());
    let fx = keys(&mut a, "y");
    assert_eq!(fx, [Effect::Copy(render_shell(&a.doc.profile))]);
    a.handle(Event::Copied(Ok("copied (OSC 52)".into())));
    assert!(a.doc.status.as_ref().unwrap().text.contains("OSC 52"));
    a.handle(Event::Copied(
        Err("not copied (OSC 52: broken pipe)".into()),
    ));
    assert!(a.doc.status.as_ref().unwrap().error);
}

#[test]
fn panes_cycle_with_tab_and_help_opens_and_closes() {
    let mut a = app(seed());
    let mut seen = vec![a.focus()];
    for _ in 0..7 {
        a.handle(k(KeyCode::Tab));
        seen.push(a.focus());
    }
    assert_eq!(seen.first(), seen.last());
    assert_eq!(seen.len(), 8);
    a.handle(Event::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(a.focus(), Pane::Cxl, "the CXL pane is last");
    keys(&mut a, "?");
    assert!(a.help().is_some());
    keys(&mut a, "a1");
    assert!(a.help().is_none());
    assert_eq!(
        a.doc.profile.devices.len(),
        2,
        "a key that closes help does nothing else"
    );
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut a = app(seed());
    let areas = *a.geometry();
    // Click the second data row of the device list (border, header, nv1, nv2).
    let click = |col, row| {
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    a.handle(click(areas.devices.x + 3, areas.devices.y + 3));
    assert_eq!(a.doc.selected, 1);
    assert_eq!(a.focus(), Pane::Devices);
    // Click a form row in the VM editor.
    let vm = areas.vm.unwrap();
    a.handle(click(vm.x + 3, vm.y + 3));
    assert_eq!(a.focus(), Pane::Vm);
    assert_eq!(a.panes.vm.field, 2);
    // Wheel over the device list moves the selection without focusing.
    a.handle(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: areas.devices.x + 3,
        row: areas.devices.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.doc.selected, 0);
    assert_eq!(a.focus(), Pane::Vm);
}

#[test]
fn map_zoom_and_scroll_keep_a_dimm_and_a_section_in_reach() {
    use qpmem::tui::panes::map;
    let mut a = app(seed());
    a.set_focus(Pane::Map);
    let width = a.geometry().map.width - 2;
    let l = a.doc.derived.layout.clone().unwrap();
    let (_, fit) = map::view(&l, a.panes.map.view, width);
    assert!(fit > 128 << 20, "fit: {fit}");
    for _ in 0..3 {
        keys(&mut a, "+");
    }
    let (start, cell) = map::view(&l, a.panes.map.view, width);
    assert!(
        cell <= 128 << 20,
        "zoomed to a section per cell or finer: {cell}"
    );
    // nv1 (selected) stays in view.
    let nv1 = l.devices[0].placement().unwrap().addr;
    assert!(start <= nv1 && nv1 < start + cell * u64::from(width));
    a.handle(k(KeyCode::Right));
    let (start2, _) = map::view(&l, a.panes.map.view, width);
    assert!(start2 > start);
    keys(&mut a, "0");
    assert_eq!(map::view(&l, a.panes.map.view, width), (0, fit));
}

#[test]
fn the_readme_and_the_help_overlay_list_every_key() {
    use qpmem::tui::action::{CONSOLE_KEYS, MOUSE_HELP};
    use qpmem::tui::panes::help::{self, HelpLine};
    use qpmem::tui::panes::Panes;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## The TUI")
        .nth(1)
        .expect("README has a '## The TUI' section");
    let keys = Keymap::default();
    let overlay = help::lines(&keys, &Panes::default(), 74);
    let in_overlay = |k: &str| {
        overlay
            .iter()
            .any(|l| matches!(l, HelpLine::Row { keys, .. } if keys.trim() == k))
    };
    for b in keys.bindings() {
        let text = keys.text(&[b.scope], b.action);
        assert!(
            section.contains(&format!("`{text}`")),
            "README's TUI section does not list `{text}` ({:?} in {:?})",
            b.action,
            b.scope
        );
        assert!(
            in_overlay(&text),
            "the help overlay has no row for `{text}` ({:?} in {:?})",
            b.action,
            b.scope
        );
    }
    for (k, _) in CONSOLE_KEYS {
        assert!(
            section.contains(&format!("`{k}`")),
            "README: console key {k}"
        );
        assert!(in_overlay(k), "overlay: console key {k}");
    }
    for (k, _) in MOUSE_HELP {
        assert!(section.contains(k), "README does not mention mouse {k}");
        assert!(in_overlay(k), "overlay: mouse {k}");
    }
    assert!(section.contains("NO_COLOR"));
    assert!(section.contains("keys.ron"));
}

#[test]
fn launch_checks_then_asks_before_creating_files() {
    let mut a = app(seed());
    assert_eq!(keys(&mut a, "l"), [Effect::Launch(a.doc.profile.clone())]);
    let changes = |c: Vec<String>| {
        Event::LaunchChecked(Ok(LaunchCheck {
            changes: c,
            notes: Vec::new(),
        }))
    };
    // Nothing to create, but the first launch of the session: a one-line
    // summary to say yes to.
    assert!(a.handle(changes(Vec::new())).is_empty());
    match a.dialog() {
        Some(Dialog::Confirm { question, .. }) => assert_eq!(
            question,
            "Launch default with qemu-system-x86_64: 2G RAM, 2 CPUs, 2 memory devices?"
        ),
        other => panic!("{other:?}"),
    }
    // No launches nothing, and the next launch asks again.
    assert!(keys(&mut a, "n").is_empty());
    keys(&mut a, "l");
    assert!(a.handle(changes(Vec::new())).is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Confirm { .. })));
    assert_eq!(keys(&mut a, "y"), [Effect::StartVm(a.doc.profile.clone())]);
    // Once agreed to, a launch that creates nothing starts at once.
    keys(&mut a, "l");
    let fx = a.handle(changes(Vec::new()));
    assert_eq!(fx, [Effect::StartVm(a.doc.profile.clone())]);
    // Files to create: ask first, listing them.
    let fx = a.handle(changes(vec!["create /vms/nvdimm-1 (17G, sparse)".into()]));
    assert!(fx.is_empty());
    match a.dialog() {
        Some(Dialog::Confirm { question, .. }) => {
            assert!(question.contains("/vms/nvdimm-1"), "{question}")
        }
        other => panic!("{other:?}"),
    }
    assert!(keys(&mut a, "n").is_empty());
    // The question carries the pre-flight's notes too.
    keys(&mut a, "l");
    a.handle(Event::LaunchChecked(Ok(LaunchCheck {
        changes: vec!["create x".into()],
        notes: vec!["nothing to boot".into()],
    })));
    match a.dialog() {
        Some(Dialog::Confirm { question, .. }) => {
            assert_eq!(
                question,
                "Launch, and first create x? Note: nothing to boot."
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(keys(&mut a, "n").is_empty());
    keys(&mut a, "l");
    a.handle(changes(vec!["create x".into()]));
    assert_eq!(keys(&mut a, "y"), [Effect::StartVm(a.doc.profile.clone())]);
    // Refusals and the end of a run are reported.
    a.handle(Event::LaunchChecked(Err(
        qpmem::tui::app::TaskError::Blocked(vec!["nv1 is in use".into()]),
    )));
    assert!(a.doc.status.as_ref().unwrap().error);
    a.handle(Event::Launched(Ok("QEMU exited (status 0)".into())));
    assert_eq!(
        a.doc.status.as_ref().unwrap().text,
        "QEMU exited (status 0)"
    );
}

#[test]
fn v_checks_in_a_guest_shows_progress_and_the_verdict_and_cancels() {
    use qpmem::core::profile::DimmKind;
    use qpmem::tui::app::GuestCheck;
    use qpmem::verify::{Accel, DimmCheck, Verdict, VerifyReport};
    let mut a = app(seed());
    assert_eq!(keys(&mut a, "v"), [Effect::Verify(a.doc.profile.clone())]);
    assert_eq!(a.focus(), Pane::Diagnostics);
    a.handle(Event::VerifyStage("booting".into()));
    assert_eq!(a.doc.guest, GuestCheck::Running("booting".into()));
    // v again cancels.
    assert_eq!(keys(&mut a, "v"), [Effect::CancelVerify]);
    assert!(matches!(a.doc.guest, GuestCheck::Failed(_)));
    // A verdict that contradicts the model is shown, naming the DIMM.
    keys(&mut a, "v");
    let check = |id: &str, verdict, guest_addr| DimmCheck {
        id: id.into(),
        kind: DimmKind::Nvdimm,
        addr: Some(0x1_0000_0000),
        size: Some(1 << 30),
        guest_addr,
        guest_size: guest_addr.map(|_| 1 << 30),
        region: None,
        verdict,
    };
    let report = VerifyReport {
        all_match: false,
        dimms: vec![
            check("nv1", Verdict::Match, Some(0x1_0000_0000)),
            check("nv2", Verdict::Missing, None),
        ],
        unexpected: Vec::new(),
        cxl: Some(qpmem::verify::CxlComparison {
            windows: vec![qpmem::verify::WindowCheck {
                index: 0,
                base: 0x4_9000_0000,
                size: 4 << 30,
                decoder: None,
                guest_base: None,
                guest_size: None,
                verdict: Verdict::Missing,
            }],
            memdevs: Vec::new(),
            unexpected: Vec::new(),
        }),
        kernel_warnings: vec!["nd_pmem: probe failed".into()],
        notes: Vec::new(),
        kernel_release: Some("6.1.0-56-amd64".into()),
        accel: Accel::Tcg,
        boot_seconds: 5.0,
        guest: Default::default(),
    };
    a.handle(Event::Verified(Ok(Box::new(report))));
    let GuestCheck::Done { lines, ok, stale } = &a.doc.guest else {
        panic!("{:?}", a.doc.guest)
    };
    assert!(!ok && !stale);
    assert!(lines
        .iter()
        .any(|l| l.contains("nv2") && l.contains("predicted 0x100000000")));
    assert!(!lines.iter().any(|l| l.contains("nv1 ")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("nd_pmem: probe failed")));
    assert!(
        lines.iter().any(|l| l
            .contains("CXL window 0 MISSING: predicted 0x490000000 (4G), guest no root decoder")),
        "{lines:?}"
    );
    // The screen shows it, and a change to the profile marks it stale.
    let screen = render_text(&a);
    assert!(screen.contains("nv2 MISSING"), "{screen}");
    keys(&mut a, "a1");
    assert!(matches!(a.doc.guest, GuestCheck::Done { stale: true, .. }));
    assert!(render_text(&a).contains("before your last change"));
}

fn render_text(a: &App) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 50)).unwrap();
    t.draw(|f| qpmem::tui::ui::draw(f, a)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn paste_types_into_the_field_being_edited_and_never_runs_keys() {
    let mut a = app(seed());
    // Not editing: a paste full of command keys changes nothing.
    let before = a.doc.profile.clone();
    assert!(a.handle(Event::Paste("adddq".into())).is_empty());
    assert_eq!(a.doc.profile, before);
    assert!(a.dialog().is_none() && !a.quit);
    // Editing nv1's size: the pasted text lands in the field.
    a.handle(Event::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    assert_eq!(a.focus(), Pane::Dimm);
    keys(&mut a, "jjjj");
    a.handle(k(KeyCode::Enter));
    let e = a.editing().expect("editing the size field");
    assert_eq!(e.input.text, "17G");
    for _ in 0..3 {
        a.handle(k(KeyCode::Backspace));
    }
    a.handle(Event::Paste("20G\n".into()));
    assert_eq!(a.editing().unwrap().input.text, "20G ");
    a.handle(k(KeyCode::Backspace));
    a.handle(k(KeyCode::Enter));
    assert_eq!(a.doc.profile.devices[0].size, Size::gib(20));
}

#[test]
fn r_shows_the_guest_recipe_in_the_command_line_pane_and_back() {
    let mut a = app(seed());
    assert!(!render_text(&a).contains("ndctl create-namespace"));
    keys(&mut a, "r");
    assert_eq!(a.focus(), Pane::Cmdline);
    assert!(a
        .doc
        .cmdline_lines()
        .iter()
        .any(|l| l.contains("ndctl init-labels")));
    let screen = render_text(&a);
    assert!(screen.contains("guest recipe"), "{screen}");
    assert!(screen.contains("qpmem_region"), "{screen}");
    // y copies what is shown: the recipe.
    match &keys(&mut a, "y")[..] {
        [Effect::Copy(text)] => {
            assert!(text.starts_with("#!/bin/sh\n"), "{text}");
            assert!(text.contains("ndctl init-labels"), "{text}");
            assert!(!text.contains("qemu-system"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    a.handle(Event::Copied(Ok("copied (OSC 52)".into())));
    assert_eq!(
        a.doc.status.as_ref().unwrap().text,
        "guest recipe copied (OSC 52)"
    );
    keys(&mut a, "r");
    assert!(a.doc.cmdline_lines()[0].starts_with("qemu-system-x86_64"));
    match &keys(&mut a, "y")[..] {
        [Effect::Copy(text)] => assert!(text.starts_with("qemu-system-x86_64")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_qemu_placed_shows_on_the_map_and_a_difference_is_loud() {
    use qpmem::core::qemu::compare;
    use qpmem::core::qemu::MemoryDeviceInfo;
    let mut a = app(seed());
    let layout = a.doc.derived.layout.clone().unwrap();
    let actual = |nv2_addr: u64| -> Vec<MemoryDeviceInfo> {
        layout
            .placements()
            .map(|(d, p)| MemoryDeviceInfo {
                kind: "nvdimm".into(),
                id: Some(d.id.clone()),
                slot: p.slot,
                addr: if d.id == "nv2" { nv2_addr } else { p.addr },
                size: p.size,
                node: Some(0),
                memdev: format!("/objects/mem{}", &d.id[2..]),
            })
            .collect()
    };
    // As predicted: said quietly.
    a.handle(Event::QemuPlaced(Box::new(compare(
        &layout,
        &actual(0x5_3800_0000),
    ))));
    assert!(render_text(&a).contains("QEMU placed every DIMM as predicted"));
    // Moved: said loudly, naming the DIMM, in the error style.
    a.handle(Event::QemuPlaced(Box::new(compare(
        &layout,
        &actual(0x5_4000_0000),
    ))));
    let screen = render_text(&a);
    let row = screen
        .lines()
        .find(|l| l.contains("QEMU DIFFERS"))
        .expect(&screen);
    assert!(row.contains("nv2"), "{row}");
    // A change to the profile makes it history.
    keys(&mut a, "a1");
    assert!(render_text(&a).contains("before your last change"));
}

/// The text in whichever input is open: a form field or a dialog's.
fn input_text(a: &App) -> String {
    if let Some(e) = a.editing() {
        return e.input.text.clone();
    }
    match a.dialog() {
        Some(Dialog::SaveAs { input, .. } | Dialog::Rename { input, .. }) => input.text.clone(),
        other => panic!("no input open: {other:?}"),
    }
}

/// readline's keys and a paste, the same in every input: `open` leaves an
/// input holding `start`.
fn line_editing_in(what: &str, open: impl Fn(&mut App), start: &str) {
    let mut a = app(seed());
    open(&mut a);
    assert_eq!(input_text(&a), start, "{what}");
    a.handle(k(KeyCode::End));
    keys(&mut a, " two words");
    a.handle(ctrl('w'));
    assert_eq!(input_text(&a), format!("{start} two "), "{what}: Ctrl-W");
    a.handle(ctrl('w'));
    assert_eq!(input_text(&a), format!("{start} "), "{what}: Ctrl-W");
    a.handle(k(KeyCode::Home));
    keys(&mut a, "x");
    assert_eq!(input_text(&a), format!("x{start} "), "{what}: Home");
    a.handle(ctrl('e'));
    a.handle(Event::Paste("p\nq".into()));
    assert_eq!(input_text(&a), format!("x{start} p q"), "{what}: paste");
    a.handle(ctrl('a'));
    a.handle(k(KeyCode::Right));
    a.handle(ctrl('k'));
    assert_eq!(input_text(&a), "x", "{what}: Ctrl-K");
    a.handle(ctrl('u'));
    assert_eq!(input_text(&a), "", "{what}: Ctrl-U");
    // Other Ctrl keys type nothing.
    a.handle(ctrl('b'));
    assert_eq!(input_text(&a), "", "{what}: Ctrl-B");
    keys(&mut a, "abc");
    a.handle(k(KeyCode::Left));
    a.handle(k(KeyCode::Backspace));
    assert_eq!(input_text(&a), "ac", "{what}: Left, Backspace");
    a.handle(k(KeyCode::Home));
    a.handle(k(KeyCode::Delete));
    assert_eq!(input_text(&a), "c", "{what}: Home, Delete");
    a.handle(Event::Paste("\tx\r\ny\u{1b}".into()));
    assert_eq!(
        input_text(&a),
        "x  yc",
        "{what}: a paste drops control characters"
    );
}

#[test]
fn every_input_edits_lines_alike() {
    line_editing_in(
        "a DIMM field",
        |a| {
            keys(a, "e");
            keys(a, "e");
        },
        "nv1",
    );
    line_editing_in(
        "a VM field",
        |a| {
            a.handle(k(KeyCode::Tab));
            a.handle(k(KeyCode::Tab));
            a.handle(k(KeyCode::Enter));
        },
        "default",
    );
    line_editing_in(
        "Save as",
        |a| {
            keys(a, "a1");
            keys(a, "s");
        },
        "default",
    );
    line_editing_in(
        "Rename",
        |a| {
            a.doc.name = Some("mine".into());
            keys(a, "o");
            a.handle(Event::ProfilesListed(Ok(vec![ProfileEntry {
                name: "mine".into(),
                summary: "2 DIMMs".into(),
                source: ProfileRef("mine".into()),
                builtin: false,
            }])));
            keys(a, "r");
        },
        "mine",
    );
}

/// The screen as rows of text.
fn rows_of(a: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| qpmem::tui::ui::draw(f, a)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// Where the text cursor (the one cell in reverse video) is drawn, and
/// the text on its row up to it.
fn drawn_cursor(a: &App, w: u16, h: u16) -> Option<(u16, u16, String)> {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| qpmem::tui::ui::draw(f, a)).unwrap();
    let buf = t.backend().buffer();
    for y in 0..h {
        for x in 0..w {
            if buf[(x, y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
            {
                let before = (0..x).map(|x| buf[(x, y)].symbol()).collect();
                return Some((x, y, before));
            }
        }
    }
    None
}

/// Type a long text into the input `open` leaves open: the cursor stays
/// inside `area` (the input's pane or prompt) after the end of the text,
/// the frame is not overwritten, and Home brings the start back.
fn scrolls_sideways(
    what: &str,
    (w, h): (u16, u16),
    open: impl Fn(&mut App),
    area: impl Fn(&App) -> ratatui::layout::Rect,
    typed: &str,
) -> App {
    let mut a = app(seed());
    a.handle(Event::Resize(w, h));
    open(&mut a);
    a.handle(ctrl('u'));
    for c in typed.chars() {
        a.handle(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    let r = area(&a);
    let (x, y, before) = drawn_cursor(&a, w, h).expect("the cursor is drawn");
    assert!(
        r.x < x && x < r.x + r.width - 1 && r.y < y && y < r.y + r.height,
        "{what} {w}x{h}: cursor at {x},{y} outside {r:?}"
    );
    let tail: String = typed.chars().skip(typed.chars().count() - 12).collect();
    assert!(before.ends_with(&tail), "{what} {w}x{h}: {before:?}");
    let row = &rows_of(&a, w, h)[y as usize];
    let right: String = row
        .chars()
        .skip((r.x + r.width - 1) as usize)
        .take(1)
        .collect();
    assert_eq!(
        right, "│",
        "{what} {w}x{h}: the frame is overwritten: {row}"
    );
    a.handle(k(KeyCode::Home));
    let (x, y, _) = drawn_cursor(&a, w, h).unwrap();
    let row: String = rows_of(&a, w, h)[y as usize]
        .chars()
        .skip(x as usize)
        .collect();
    let head: String = typed.chars().take(12).collect();
    assert!(row.starts_with(&head), "{what} {w}x{h}: {row:?}");
    a.handle(k(KeyCode::End));
    a
}

#[test]
fn long_inputs_scroll_sideways_to_keep_the_cursor_in_view() {
    let long = "/a/very/long/directory/name/that/goes/on/and/on/and/on/nvdimm-1.img";
    for size in [(80, 24), (160, 50)] {
        let mut a = scrolls_sideways(
            "the DIMM's file",
            size,
            |a| {
                a.handle(k(KeyCode::Tab));
                keys(a, "jjj");
                a.handle(k(KeyCode::Enter));
                assert_eq!(a.editing().unwrap().input.text, "/vms/nvdimm-1");
            },
            |a| a.geometry().dimm.unwrap(),
            long,
        );
        a.handle(k(KeyCode::Enter));
        assert_eq!(a.doc.profile.devices[0].backend, Backend::File(long.into()));

        let mut a = scrolls_sideways(
            "the VM's kernel",
            size,
            |a| {
                a.set_focus(Pane::Vm);
                keys(a, "jjjjjjjjjjj"); // to kernel, past arch and page size
                a.handle(k(KeyCode::Enter));
                assert!(a.editing().is_some());
            },
            |a| a.geometry().vm.unwrap(),
            long,
        );
        a.handle(k(KeyCode::Enter));
        assert_eq!(a.doc.profile.kernel.as_deref(), Some(Path::new(long)));

        let path = format!("/tmp{long}/profile.ron");
        let mut a = scrolls_sideways(
            "Save as",
            size,
            |a| {
                keys(a, "a1s");
            },
            |a| a.geometry().prompt,
            &path,
        );
        match &a.handle(k(KeyCode::Enter))[..] {
            [Effect::Save { path: p, .. }] => assert_eq!(p, &PathBuf::from(&path)),
            other => panic!("{other:?}"),
        }

        let name = "a-very-long-profile-name-that-goes-on-and-on-and-on-and-on-and-on-to-the-end";
        let mut a = scrolls_sideways(
            "Rename",
            size,
            |a| {
                a.doc.name = Some("mine".into());
                keys(a, "o");
                a.handle(Event::ProfilesListed(Ok(vec![ProfileEntry {
                    name: "mine".into(),
                    summary: "2 DIMMs".into(),
                    source: ProfileRef("mine".into()),
                    builtin: false,
                }])));
                keys(a, "r");
            },
            |a| a.geometry().prompt,
            name,
        );
        assert_eq!(
            a.handle(k(KeyCode::Enter)),
            [Effect::RenameProfile {
                from: "mine".into(),
                to: name.into()
            }]
        );
    }
}

/// The (column, row) where `needle` is drawn inside `area`.
fn find_in(rows: &[String], area: ratatui::layout::Rect, needle: &str) -> Option<(u16, u16)> {
    for y in area.y..area.y + area.height {
        let row: Vec<char> = rows[y as usize].chars().collect();
        let inside: String = row[area.x as usize..(area.x + area.width) as usize]
            .iter()
            .collect();
        if let Some(b) = inside.find(needle) {
            return Some((area.x + inside[..b].chars().count() as u16, y));
        }
    }
    None
}

fn click(col: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn a_click_selects_what_is_drawn_under_it() {
    let mut many = Profile::empty("many");
    many.devices = (1..=64)
        .map(|i| qpmem::Dimm::nvdimm(i, format!("/vms/nvdimm-{i}").into(), Size::gib(1)))
        .collect();
    for (w, h) in [(80, 24), (160, 50)] {
        // The device list, scrolled to its end.
        let mut a = app(many.clone());
        a.handle(Event::Resize(w, h));
        a.handle(k(KeyCode::End));
        assert_eq!(a.doc.selected, 63);
        let g = *a.geometry();
        let (x, y) = find_in(&rows_of(&a, w, h), g.devices, " nv60 ").expect("nv60 shown");
        a.handle(click(x + 1, y));
        assert_eq!(a.doc.profile.devices[a.doc.selected].id, "nv60", "{w}x{h}");

        // The DIMM form, scrolled to its last field.
        a.handle(k(KeyCode::Tab));
        a.handle(k(KeyCode::End));
        let form = a.geometry().dimm.unwrap();
        let (x, y) = find_in(&rows_of(&a, w, h), form, "node ").expect("node shown");
        a.handle(click(x, y));
        assert_eq!(a.focus(), Pane::Dimm);
        assert_eq!(a.panes.dimm.field, 12, "{w}x{h}: node is field 12");

        // The diagnostics, each wrapped over several rows (scrolled to the
        // last one): a click on the second row of the first and of the last
        // finding shown selects the finding drawn there.
        let mut a = app(seed_without_align());
        a.handle(Event::Resize(w, h));
        a.set_focus(Pane::Diagnostics);
        a.handle(k(KeyCode::End));
        let g = *a.geometry();
        let rows = rows_of(&a, w, h);
        let heads: Vec<(u16, String)> = (g.diagnostics.y + 1
            ..g.diagnostics.y + g.diagnostics.height - 1)
            .filter_map(|y| {
                let row: String = rows[y as usize]
                    .chars()
                    .skip(g.diagnostics.x as usize + 1)
                    .take(g.diagnostics.width as usize - 2)
                    .collect();
                let (_, message) = row.split_once("]: ")?;
                Some((y, message.chars().take(12).collect()))
            })
            .collect();
        assert!(!heads.is_empty(), "{w}x{h}: no finding shown");
        for (y, message) in [&heads[0], heads.last().unwrap()] {
            a.handle(click(g.diagnostics.x + 4, y + 1));
            let d = &a.doc.derived.diagnostics[a.panes.diagnostics.selected];
            assert!(
                d.message.starts_with(message.as_str()),
                "{w}x{h}: {message:?} vs {d:?}"
            );
        }
        if w == 160 {
            assert!(heads.len() > 1, "both findings shown at 160x50");
        }

        // The map: a click on nv2's block.
        let (x, y) = find_in(&rows, g.map, "nv2").expect("nv2 on the map");
        a.handle(click(x + 1, y));
        assert_eq!((a.focus(), a.doc.selected), (Pane::Map, 1), "{w}x{h}");
    }
}

#[test]
fn help_scrolls_through_every_section_and_cuts_nothing() {
    use qpmem::tui::action::{CONSOLE_KEYS, GLOBAL, MOUSE_HELP, MOVE};
    use qpmem::tui::panes::{dialog, help, Panes};
    let panes = Panes::default();
    let mut wanted: Vec<&str> = GLOBAL.iter().chain(MOVE).map(|c| c.help).collect();
    for p in qpmem::tui::geometry::PANES {
        wanted.extend(panes.get(p).commands().iter().map(|c| c.help));
    }
    for list in [
        qpmem::tui::input::COMMANDS,
        dialog::CONFIRM_COMMANDS,
        dialog::PICKER_COMMANDS,
        help::COMMANDS,
    ] {
        wanted.extend(list.iter().map(|c| c.help));
    }
    wanted.extend(CONSOLE_KEYS.iter().chain(MOUSE_HELP).map(|(_, what)| *what));
    for (w, h) in [(80, 24), (160, 50)] {
        let mut a = app(seed());
        a.handle(Event::Resize(w, h));
        keys(&mut a, "?");
        let area = a.geometry().help;
        let inner = |rows: &[String]| -> Vec<String> {
            (area.y + 1..area.y + area.height - 1)
                .map(|y| {
                    rows[y as usize]
                        .chars()
                        .skip(area.x as usize + 1)
                        .take(area.width as usize - 2)
                        .collect()
                })
                .collect()
        };
        // Line by line with j: each step brings one new row in at the bottom.
        let mut seen = inner(&rows_of(&a, w, h));
        let mut steps = 0;
        loop {
            keys(&mut a, "j");
            let now = inner(&rows_of(&a, w, h));
            if now == seen[seen.len() - now.len()..] {
                break;
            }
            assert_eq!(now[..now.len() - 1], seen[seen.len() - now.len() + 1..]);
            seen.push(now.last().unwrap().clone());
            steps += 1;
            assert!(steps < 500, "help never ends");
        }
        assert!(a.help().is_some(), "j at the end keeps help open");
        let text = seen.join(" ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for what in &wanted {
            assert!(text.contains(what), "{w}x{h}: help cuts or lacks {what:?}");
        }
        assert!(text.contains("Ctrl-]"), "{w}x{h}: the console's keys");
        // At the end, k scrolls back at once; g goes to the top, G to the end.
        let end = rows_of(&a, w, h);
        keys(&mut a, "k");
        assert_ne!(rows_of(&a, w, h), end, "{w}x{h}: k at the end scrolls back");
        keys(&mut a, "g");
        assert_eq!(inner(&rows_of(&a, w, h)), seen[..area.height as usize - 2]);
        keys(&mut a, "G");
        assert_eq!(rows_of(&a, w, h), end);
        a.handle(k(KeyCode::PageUp));
        a.handle(k(KeyCode::PageDown));
        assert_eq!(rows_of(&a, w, h), end, "{w}x{h}: PgUp then PgDn");
        keys(&mut a, "x");
        assert!(a.help().is_none(), "another key closes help");
    }
}

#[test]
fn a_keys_file_in_the_config_dir_rebinds_keys_everywhere_they_show() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keys.ron"),
        "// mine\n(\n  normal: { add_dimm: [\"n\"] },\n  confirm: { yes: [\"o\"] },\n)\n",
    )
    .unwrap();
    let (keymap, problem) = Keymap::load(Some(dir.path()));
    assert_eq!(problem, None);
    let mut a = App::new(Setup {
        profile: seed(),
        path: None,
        name: None,
        notes: Vec::new(),
        theme: Theme::default_theme(),
        keys: keymap,
        profiles_dir: None,
        status: None,
    });
    a.handle(Event::Resize(160, 50));
    keys(&mut a, "a");
    assert_eq!(ids(&a), ["nv1", "nv2"], "a is no longer add");
    keys(&mut a, "n1");
    assert_eq!(ids(&a), ["nv1", "nv2", "nv3"]);
    // The status bar, the question and the help overlay show the keys in use.
    keys(&mut a, "j");
    let screen = rows_of(&a, 160, 50).join("\n");
    assert!(screen.contains(" n add "), "{screen}");
    keys(&mut a, "d");
    let screen = rows_of(&a, 160, 50).join("\n");
    assert!(screen.contains("o yes"), "{screen}");
    keys(&mut a, "y");
    assert_eq!(ids(&a), ["nv1", "nv2", "nv3"], "y is no longer yes");
    keys(&mut a, "o");
    assert_eq!(ids(&a), ["nv1", "nv2"]);
    keys(&mut a, "?");
    let screen = rows_of(&a, 160, 50).join("\n");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("  n           add a device")),
        "{screen}"
    );
    // A bad file is reported, naming the file and what is wrong, and the
    // default keys are used.
    std::fs::write(
        dir.path().join("keys.ron"),
        "(normal: { add_dimm: [\"Ctrl-\"] })",
    )
    .unwrap();
    let (keymap, problem) = Keymap::load(Some(dir.path()));
    assert_eq!(keymap, Keymap::default());
    let problem = problem.unwrap();
    assert!(problem.contains("keys.ron"), "{problem}");
    assert!(
        problem.contains("normal.add_dimm: \"Ctrl-\" is not a key"),
        "{problem}"
    );
}

#[test]
fn renaming_the_open_profile_renames_it_in_the_editor_unmodified() {
    let mut p = seed();
    p.name = "mine".into();
    let mut a = app(p);
    a.doc.name = Some("mine".into());
    a.doc.path = Some("/cfg/qpmem/profiles/mine.ron".into());
    keys(&mut a, "a1");
    keys(&mut a, "u");
    assert!(!a.doc.dirty());
    a.handle(Event::ProfileRenamed(Ok((
        "mine".into(),
        "mine2".into(),
        "/cfg/qpmem/profiles/mine2.ron".into(),
    ))));
    assert_eq!(a.doc.profile.name, "mine2", "the VM form's name");
    assert_eq!(a.doc.name.as_deref(), Some("mine2"));
    assert!(!a.doc.dirty(), "a rename is not an edit");
    assert!(render_text(&a).contains("mine2.ron"));
    // Redo and undo keep the new name too.
    a.handle(ctrl('r'));
    assert_eq!(a.doc.profile.name, "mine2");
    keys(&mut a, "u");
    assert_eq!(a.doc.profile.name, "mine2");
    assert!(!a.doc.dirty());
    // Another profile's rename changes nothing here.
    a.handle(Event::ProfileRenamed(Ok((
        "other".into(),
        "x".into(),
        "/cfg/qpmem/profiles/x.ron".into(),
    ))));
    assert_eq!(a.doc.name.as_deref(), Some("mine2"));
    // s goes to the new file.
    keys(&mut a, "a1");
    match &keys(&mut a, "s")[..] {
        [Effect::Save { path, name, .. }] => {
            assert_eq!(path, Path::new("/cfg/qpmem/profiles/mine2.ron"));
            assert_eq!(name.as_deref(), Some("mine2"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn removing_the_open_profile_leaves_it_unsaved() {
    let mut a = app(seed());
    a.doc.name = Some("mine".into());
    a.doc.path = Some("/cfg/qpmem/profiles/mine.ron".into());
    // Another profile's removal changes nothing.
    a.handle(Event::ProfileRemoved(Ok("other".into())));
    assert!(!a.doc.dirty());
    assert_eq!(keys(&mut a, "q"), [Effect::Quit]);
    let mut a = app(seed());
    a.doc.name = Some("mine".into());
    a.doc.path = Some("/cfg/qpmem/profiles/mine.ron".into());
    a.handle(Event::ProfileRemoved(Ok("mine".into())));
    a.handle(Event::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert!(a.doc.dirty());
    assert_eq!(a.doc.path, None);
    assert!(render_text(&a).contains("not saved yet"));
    // q asks; s asks for a name.
    assert!(keys(&mut a, "q").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::Confirm { .. })));
    keys(&mut a, "n");
    assert!(keys(&mut a, "s").is_empty());
    assert!(matches!(a.dialog(), Some(Dialog::SaveAs { .. })));
}

#[test]
fn a_profile_saved_from_the_default_gets_its_own_backing_files() {
    let data = qpmem::store::dirs::data_dir();
    let mut a = app(Profile::seed(&data));
    // A name no earlier run left files under.
    let name = format!("own-files-{}", std::process::id());
    assert!(keys(&mut a, "S").is_empty());
    for _ in 0.."default".len() {
        a.handle(k(KeyCode::Backspace));
    }
    keys(&mut a, &name);
    let fx = a.handle(k(KeyCode::Enter));
    let [Effect::Save { profile, .. }] = &fx[..] else {
        panic!("{fx:?}")
    };
    let paths: Vec<Option<&Path>> = profile.devices.iter().map(|d| d.backend.path()).collect();
    let own = data.join(&name);
    assert_eq!(
        paths,
        [
            Some(own.join("nvdimm-1").as_path()),
            Some(own.join("nvdimm-2").as_path())
        ]
    );
    // The editor shows the new paths, and the save's status says so.
    assert_eq!(&a.doc.profile, profile);
    a.handle(Event::Saved(Ok(PathBuf::from("/cfg/x.ron"))));
    let status = &a.doc.status.as_ref().unwrap().text;
    assert!(
        status.contains("nv1, nv2 now have backing files of their own"),
        "{status}"
    );
    // Saved again where it now lives: nothing moves.
    a.doc.name = Some(name.clone());
    a.doc.path = Some(PathBuf::from("/cfg/x.ron"));
    match &keys(&mut a, "s")[..] {
        [Effect::Save { profile: again, .. }] => assert_eq!(again, profile),
        other => panic!("{other:?}"),
    }
}

#[test]
fn save_as_asks_even_when_the_profile_has_a_file() {
    let mut a = app(seed());
    a.doc.name = Some("mine".into());
    a.doc.path = Some("/cfg/qpmem/profiles/mine.ron".into());
    assert!(keys(&mut a, "S").is_empty());
    match a.dialog() {
        Some(Dialog::SaveAs { input, .. }) => assert_eq!(input.text, "mine"),
        other => panic!("{other:?}"),
    }
    keys(&mut a, "2");
    match &a.handle(k(KeyCode::Enter))[..] {
        [Effect::Save { path, name, .. }] => {
            assert_eq!(path, Path::new("/cfg/qpmem/profiles/mine2.ron"));
            assert_eq!(name.as_deref(), Some("mine2"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn t_cycles_the_builtin_themes_and_asks_to_remember_each() {
    use qpmem::tui::theme::BUILTIN;
    let mut a = app(seed());
    let mut seen = Vec::new();
    for _ in 0..BUILTIN.len() {
        let before = a.theme.clone();
        match &keys(&mut a, "t")[..] {
            [Effect::RememberTheme(name)] => seen.push(name.clone()),
            other => panic!("{other:?}"),
        }
        assert_ne!(a.theme, before);
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == seen.last().unwrap())
            .unwrap();
        assert_eq!(a.theme, Theme::parse(text).unwrap());
    }
    assert_eq!(seen, ["light", "high-contrast", "default"]);
    a.handle(Event::ThemeRemembered(Ok("default".into())));
    assert_eq!(
        a.doc.status.as_ref().unwrap().text,
        "theme default (remembered in config.ron)"
    );
}

#[test]
fn map_zoom_halves_and_doubles_the_cell() {
    use qpmem::tui::panes::map;
    let mut a = app(seed());
    a.set_focus(Pane::Map);
    let width = a.geometry().map.width - 2;
    let l = a.doc.derived.layout.clone().unwrap();
    let (_, fit) = map::view(&l, a.panes.map.view, width);
    assert!(!fit.is_power_of_two(), "fit: {fit}");
    let cell = |a: &App| map::view(&l, a.panes.map.view, width).1;
    keys(&mut a, "+");
    let first = cell(&a);
    assert!(
        first <= fit / 2 && first > fit / 4,
        "the first step in halves the cell: {fit} -> {first}"
    );
    keys(&mut a, "+");
    assert_eq!(cell(&a), first / 2);
    keys(&mut a, "-");
    assert_eq!(cell(&a), first);
    keys(&mut a, "-");
    assert_eq!(cell(&a), fit, "a step out from the top level fits again");
}

#[test]
fn hotplugged_devices_join_the_profile_as_one_undoable_edit() {
    let mut a = app(seed());
    let mut nv3 = Dimm::nvdimm(3, "/vms/nvdimm-3".into(), Size::mib(1026));
    nv3.label_size = Size::mib(2);
    a.handle(Event::Hotplugged(vec![nv3.clone()]));
    let ids: Vec<&str> = a
        .doc
        .profile
        .devices
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids, ["nv1", "nv2", "nv3"]);
    assert_eq!(a.doc.profile.devices[2], nv3);
    assert!(a.doc.dirty());
    let status = &a.doc.status.as_ref().unwrap().text;
    assert!(status.contains("hotplugged nv3"), "{status}");
    keys(&mut a, "u");
    assert_eq!(a.doc.profile.devices.len(), 2);
    assert!(!a.doc.dirty());
}

#[test]
fn add_asks_which_kind_and_the_form_shows_only_that_kinds_fields() {
    let mut a = app(Profile::empty("kinds"));
    // Esc adds nothing; the chooser lists every kind.
    keys(&mut a, "a");
    let screen = rows_of(&a, 160, 50).join("\n");
    for kind in ["nvdimm", "pc-dimm", "virtio-pmem-pci", "virtio-mem-pci"] {
        assert!(screen.contains(kind), "{kind} missing: {screen}");
    }
    a.handle(k(KeyCode::Esc));
    assert!(ids(&a).is_empty());
    // A row's number adds that kind; Enter the highlighted one, which
    // starts on the selected device's kind.
    keys(&mut a, "a3");
    assert_eq!(ids(&a), ["vpmem1"]);
    keys(&mut a, "a");
    a.handle(k(KeyCode::Enter));
    keys(&mut a, "a");
    a.handle(k(KeyCode::Down));
    a.handle(k(KeyCode::Enter));
    assert_eq!(ids(&a), ["vpmem1", "vpmem2", "vmem3"]);
    let kinds: Vec<&str> = a
        .doc
        .profile
        .devices
        .iter()
        .map(|d| d.kind.device())
        .collect();
    assert_eq!(
        kinds,
        ["virtio-pmem-pci", "virtio-pmem-pci", "virtio-mem-pci"]
    );
    let vp = &a.doc.profile.devices[0];
    assert!(
        vp.backend.path().unwrap().ends_with("kinds/virtio-pmem-1"),
        "{:?}",
        vp.backend
    );
    assert_eq!((vp.label_size, vp.share), (Size(0), true));
    assert_eq!(a.doc.profile.devices[2].backend, Backend::Ram);
    for id in ["vpmem1", "vpmem2", "vmem3"] {
        assert_eq!(complaints(&a, id), Vec::<&str>::new(), "{id}");
    }

    // The form of the virtio-mem device: block-size and requested-size,
    // no label-size, slot or file.
    let labels = |a: &App| -> Vec<String> {
        let r = a.geometry().dimm.unwrap();
        rows_of(a, 160, 50)
            .iter()
            .skip(r.y as usize + 1)
            .take(r.height.saturating_sub(2) as usize)
            .map(|row| {
                row.chars()
                    .skip(r.x as usize + 1)
                    .take(r.width as usize - 2)
                    .collect::<String>()
            })
            .filter_map(|row| row.split_whitespace().next().map(String::from))
            .collect()
    };
    let vmem = labels(&a);
    assert!(vmem.contains(&"requested-size".to_string()), "{vmem:?}");
    assert!(vmem.contains(&"block-size".to_string()), "{vmem:?}");
    for absent in ["label-size", "slot", "unarmed", "align", "file"] {
        assert!(!vmem.contains(&absent.to_string()), "{absent} in {vmem:?}");
    }
    // requested-size edits like any size field, through the form's rows.
    a.set_focus(Pane::Dimm);
    let at = vmem.iter().position(|l| l == "requested-size").unwrap();
    for _ in 0..at {
        keys(&mut a, "j");
    }
    a.handle(k(KeyCode::Enter));
    keys(&mut a, "4M");
    a.handle(k(KeyCode::Enter));
    assert_eq!(a.doc.profile.devices[2].requested_size, Some(Size::mib(4)));
    assert!(a
        .doc
        .derived
        .shell
        .iter()
        .any(|l| l.contains("id=vmem3") && l.contains("requested-size=4M")));

    // virtio-pmem: a file, no node, no label.
    a.set_focus(Pane::Devices);
    keys(&mut a, "kk");
    assert_eq!(a.doc.selected, 0);
    let vp = labels(&a);
    assert!(vp.contains(&"file".to_string()), "{vp:?}");
    for absent in ["label-size", "node", "slot", "block-size", "requested-size"] {
        assert!(!vp.contains(&absent.to_string()), "{absent} in {vp:?}");
    }
}

#[test]
fn the_cxl_pane_builds_a_topology_qemu_takes() {
    let mut p = Profile::empty("cxl-here");
    p.machine = "q35".into();
    let mut a = app(p);
    // Shift-Tab from the list: the CXL pane, in the list's place.
    a.handle(Event::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(a.focus(), Pane::Cxl);
    let screen = rows_of(&a, 160, 50).join("\n");
    assert!(screen.contains("host bridges (pxb-cxl)"), "{screen}");
    assert!(a.doc.profile.cxl.is_none());
    // a on "host bridges", then on the bridge, then on the root port.
    keys(&mut a, "aaa");
    let cxl = a.doc.profile.cxl.as_ref().expect("CXL is on");
    assert_eq!(cxl.host_bridges[0].id, "cxl.0");
    assert_eq!(cxl.devices().len(), 1);
    // The last row is the windows header: a adds a window on cxl.0.
    keys(&mut a, "Ga");
    let cxl = a.doc.profile.cxl.as_ref().unwrap();
    assert_eq!(cxl.windows[0].targets, ["cxl.0"]);
    let shell = a.doc.derived.shell.join("\n");
    for piece in [
        "cxl=on",
        "cxl-fmw.0.targets.0=cxl.0",
        "-device pxb-cxl,bus_nr=12",
        "-device cxl-type3",
    ] {
        assert!(shell.contains(piece), "{piece} missing: {shell}");
    }
    // The window is on the map, and the rules have nothing to say.
    let l = a.doc.derived.layout.as_ref().unwrap();
    assert_eq!(l.cxl.as_ref().unwrap().windows.len(), 1);
    let errors: Vec<String> = a
        .doc
        .derived
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .map(|d| d.render())
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    // Enter edits the window's size; a bad value is refused as typed.
    a.handle(k(KeyCode::Enter));
    assert!(matches!(a.dialog(), Some(Dialog::CxlValue { .. })));
    a.handle(ctrl('u'));
    keys(&mut a, "8X");
    a.handle(k(KeyCode::Enter));
    assert!(matches!(
        a.dialog(),
        Some(Dialog::CxlValue { error: Some(_), .. })
    ));
    a.handle(k(KeyCode::Backspace));
    keys(&mut a, "G");
    a.handle(k(KeyCode::Enter));
    assert!(a.dialog().is_none());
    let cxl = a.doc.profile.cxl.as_ref().unwrap();
    assert_eq!(cxl.windows[0].size, Size::gib(8));
    // d removes the window; u brings it back.
    keys(&mut a, "d");
    let cxl = a.doc.profile.cxl.as_ref().unwrap();
    assert!(cxl.windows.is_empty());
    // The selection moves to the row that takes its place: the header.
    let rows = qpmem::core::cxl::edit::rows(cxl);
    assert_eq!(
        rows[a.panes.cxl.selected].0,
        qpmem::core::cxl::edit::Node::Windows
    );
    keys(&mut a, "u");
    assert_eq!(a.doc.profile.cxl.as_ref().unwrap().windows.len(), 1);
    // w on a row that is not a root port does nothing but say so.
    let before = a.doc.profile.clone();
    keys(&mut a, "w");
    assert_eq!(a.doc.profile, before);
}
