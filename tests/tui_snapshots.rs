//! insta snapshots of every pane (and the whole screen) at 80x24 and
//! 160x50 for the default profile, the seed recipe without align, an
//! empty profile and 64 DIMMs; plus style checks the text cannot show
//! (the misaligned edge in the warning colour, NO_COLOR).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use qpmem::core::device::DimmKind;
use qpmem::core::profile::{Dimm, Profile};
use qpmem::core::size::Size;
use qpmem::tui::panes;
use qpmem::tui::theme::Theme;
use qpmem::tui::{ui, App, Event, Pane};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use std::path::{Path, PathBuf};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 50)];

fn seed_without_align() -> Profile {
    let mut p = Profile::original_recipe(Path::new("/vms"), None);
    p.name = "seed-no-align".into();
    p
}

fn sixty_four() -> Profile {
    let mut p = Profile::empty("dimms64");
    p.devices = (1..=64)
        .map(|i| Dimm::nvdimm(i, PathBuf::from(format!("/vms/nvdimm-{i}")), Size::gib(1)))
        .collect();
    p
}

fn profiles() -> Vec<(&'static str, Profile)> {
    vec![
        ("default", Profile::seed(Path::new("/vms"))),
        ("seed_no_align", seed_without_align()),
        ("empty", Profile::empty("empty")),
        ("dimms64", sixty_four()),
    ]
}

fn app(p: Profile, w: u16, h: u16) -> App {
    let mut a = App::with_profile(p);
    a.handle(Event::Resize(w, h));
    a
}

fn screen(a: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, a)).unwrap();
    t
}

/// One pane alone, filling the terminal.
fn pane(a: &App, w: u16, h: u16, which: &str) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        let r = f.area();
        let pane = match which {
            "devices" => Pane::Devices,
            "dimm_editor" => Pane::Dimm,
            "vm_editor" => Pane::Vm,
            "map" => Pane::Map,
            "diagnostics" => Pane::Diagnostics,
            "cmdline" => Pane::Cmdline,
            "status" => return ui::draw_status(f, r, a),
            other => panic!("{other}"),
        };
        ui::draw_pane(f, r, a, pane)
    })
    .unwrap();
    t
}

const PANES: [&str; 7] = [
    "devices",
    "dimm_editor",
    "vm_editor",
    "map",
    "diagnostics",
    "cmdline",
    "status",
];

#[test]
fn every_pane_for_every_profile_at_both_sizes() {
    for (name, p) in profiles() {
        for (w, h) in SIZES {
            let mut a = app(p.clone(), w, h);
            // Select the last DIMM so the map highlights it (nv2 when misaligned).
            a.doc.selected = a.doc.profile.devices.len().saturating_sub(1);
            insta::assert_snapshot!(format!("{name}_screen_{w}x{h}"), screen(&a, w, h).backend());
            for which in PANES {
                insta::assert_snapshot!(
                    format!("{name}_{which}_{w}x{h}"),
                    pane(&a, w, h, which).backend()
                );
            }
        }
    }
}

#[test]
fn overlays_dialogs_and_editing() {
    for (w, h) in SIZES {
        let mut a = app(Profile::seed(Path::new("/vms")), w, h);
        a.handle(Event::Key(KeyEvent::new(
            KeyCode::Char('?'),
            KeyModifiers::NONE,
        )));
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&a, w, h).backend());

        let mut a = app(Profile::seed(Path::new("/vms")), w, h);
        a.handle(Event::Key(KeyEvent::new(
            KeyCode::Char('d'),
            KeyModifiers::NONE,
        )));
        insta::assert_snapshot!(
            format!("confirm_delete_{w}x{h}"),
            screen(&a, w, h).backend()
        );

        // Editing the size with an invalid value: the error is inline.
        let mut a = app(Profile::seed(Path::new("/vms")), w, h);
        a.set_focus(Pane::Dimm);
        a.panes.dimm.field = 4;
        for c in ['e', 'X'] {
            a.handle(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
        insta::assert_snapshot!(
            format!("edit_invalid_size_{w}x{h}"),
            screen(&a, w, h).backend()
        );
    }
}

#[test]
fn too_small_shows_a_notice() {
    let a = app(Profile::seed(Path::new("/vms")), 60, 20);
    let t = screen(&a, 60, 20);
    insta::assert_snapshot!("too_small_60x20", t.backend());
    let text: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(text.contains("terminal too small"));
}

/// Where `needle` starts in the buffer.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(needle) {
            let x = row[..byte].chars().count() as u16;
            return Some((x, y));
        }
    }
    None
}

#[test]
fn each_kind_has_its_own_colour_on_the_map_and_in_the_legend() {
    let theme = Theme::default_theme();
    let mut p = Profile::empty("mixed");
    p.devices = vec![
        Dimm::nvdimm(1, "/vms/nv1".into(), Size::mib(1026)),
        Dimm::virtio_pmem(2, "/vms/vp2".into(), Size::gib(1)),
    ];
    p.devices[1].align = Some(Size::mib(128));
    let (w, h) = (160, 50);
    let a = app(p, w, h);
    let t = screen(&a, w, h);
    let buf = t.backend().buffer();
    let nv = theme.device(DimmKind::Nvdimm, 0);
    let vp = theme.device(DimmKind::VirtioPmem, 1);
    assert_ne!(
        nv, vp,
        "the default theme gives virtio-pmem a colour of its own"
    );
    assert!(!theme.dimms.contains(&vp), "{vp:?} is an NVDIMM colour too");
    // Each device's block: the first cell of its name inside the map pane.
    let map = a.geometry().map;
    let on_map = |needle: &str| {
        (map.y..map.y + map.height).find_map(|y| {
            let row: String = (map.x..map.x + map.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            row.find(needle)
                .map(|b| (map.x + row[..b].chars().count() as u16, y))
        })
    };
    let (x, y) = on_map("vpmem2").expect("vpmem2 on the map");
    assert_eq!(buf[(x, y)].bg, vp, "vpmem2's block");
    let (x, y) = on_map("nv1").expect("nv1 on the map");
    assert_eq!(buf[(x, y)].bg, nv, "nv1's block");
    // The legend names each kind beside its colour.
    let (lx, ly) = find(buf, " virtio-pmem ").expect("the legend names virtio-pmem");
    assert_eq!(buf[(lx - 1, ly)].bg, vp, "the swatch before the name");
}

#[test]
fn cxl_windows_are_on_the_map_where_qemu_puts_them() {
    let theme = Theme::default_theme();
    let p = qpmem::core::examples::find("cxl-run-qemu")
        .unwrap()
        .load(Path::new("/vms"))
        .unwrap();
    let l = qpmem::core::layout::layout(&p, &qpmem::core::facts::HostFacts::default()).unwrap();
    let windows = l.cxl.as_ref().unwrap().windows.clone();
    let (w, h) = (160, 50);
    let a = app(p, w, h);
    let t = screen(&a, w, h);
    let buf = t.backend().buffer();
    let map = a.geometry().map;
    // The map's scale: the first cell is address 0.
    let title: String = (map.x..map.x + map.width)
        .map(|x| buf[(x, map.y)].symbol().to_string())
        .collect();
    let mib: u64 = title
        .split("1 cell = ")
        .nth(1)
        .and_then(|t| t.split(" MiB").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no scale in {title:?}"));
    let cell = mib << 20;
    for win in &windows {
        let label = format!("CXL window {} 4 GiB", win.index);
        let (x, y) = find(buf, &label).unwrap_or_else(|| panic!("{label} not on the map"));
        assert_eq!(buf[(x, y)].bg, theme.cxl, "{label}");
        // The label starts in the cell that holds the window's base.
        let col = u64::from(x - (map.x + 1));
        assert!(
            col * cell <= win.base && win.base < (col + 1) * cell,
            "{label} at cell {col} ({:#x}), the window at {:#x}",
            col * cell,
            win.base
        );
    }
    assert!(
        find(buf, "(1 GiB pmem behind)").is_some(),
        "window 1 targets all four devices"
    );
}

#[test]
fn the_misaligned_edge_is_drawn_in_the_warning_colour() {
    let theme = Theme::default_theme();
    for (w, h) in SIZES {
        let mut a = app(seed_without_align(), w, h);
        a.doc.selected = 1;
        let t = screen(&a, w, h);
        let buf = t.backend().buffer();
        // nv2 starts at 0x53fe00000, 126 MiB past a boundary.
        let (x, y) = find(buf, "nv2 0x53fe00000")
            .or_else(|| find(buf, "nv2"))
            .unwrap();
        let edge = &buf[(x, y)];
        assert_eq!(edge.bg, theme.warning, "nv2's start cell at {x},{y}");
        // Its body is in nv2's own colour, not the warning colour.
        let body = &buf[(x + 5, y)];
        assert_eq!(body.bg, theme.device(DimmKind::Nvdimm, 1));
        // nv1 starts on a boundary: no warning there.
        let (x1, y1) = find(buf, "nv1 0x100000000").unwrap();
        assert_eq!(buf[(x1, y1)].bg, theme.device(DimmKind::Nvdimm, 0));
        // The marker names the offset.
        let (mx, my) = find(buf, "▲nv2 +126 MiB").expect("marker with the offset");
        assert_eq!(buf[(mx, my)].fg, theme.warning);
        // The device list marks nv2 with a warning.
        let (lx, ly) = find(buf, "nv2    17G").unwrap();
        assert_eq!(buf[(lx - 2, ly)].symbol(), "!");
        assert_eq!(buf[(lx - 2, ly)].fg, theme.warning);
        // And the aligned recipe has no warning cell at all.
        let a = app(Profile::seed(Path::new("/vms")), w, h);
        let t = screen(&a, w, h);
        let warn = t
            .backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.bg == theme.warning)
            .count();
        assert_eq!(warn, 0);
    }
}

#[test]
fn no_color_uses_no_colour_and_shows_selection_by_reverse() {
    let mut a = App::new(qpmem::tui::Setup {
        profile: seed_without_align(),
        path: None,
        name: None,
        notes: Vec::new(),
        theme: Theme::no_color(),
        keys: Default::default(),
        profiles_dir: None,
        status: None,
    });
    a.handle(Event::Resize(160, 50));
    let t = screen(&a, 160, 50);
    let buf = t.backend().buffer();
    for c in buf.content() {
        assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{c:?}");
    }
    let (x, y) = find(buf, "nv1    17G").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find(buf, "nv2 0x53fe00000").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn zoomed_map_shows_a_whole_17g_dimm_and_every_section_tick() {
    let mut a = app(seed_without_align(), 160, 50);
    a.set_focus(Pane::Map);
    a.doc.selected = 1;
    // Zoom until a cell is at most one 128 MiB section.
    for _ in 0..10 {
        let width = a.geometry().map.width - 2;
        let l = a.doc.derived.layout.as_ref().unwrap();
        if panes::map::view(l, a.panes.map.view, width).1 <= 128 << 20 {
            break;
        }
        a.handle(Event::Key(KeyEvent::new(
            KeyCode::Char('+'),
            KeyModifiers::NONE,
        )));
    }
    let t = pane(&a, 160, 12, "map");
    insta::assert_snapshot!("seed_no_align_map_zoomed_160x12", t.backend());
    let buf = t.backend().buffer();
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    // nv2 is in view whole, with its range, and its misaligned start marked.
    assert!(text.contains("nv2 0x53fe00000-0x97fbfffff"), "{text}");
    assert!(text.contains("▲nv2 +126 MiB"), "{text}");
    // One tick per section: the ruler has a tick in at least 130 of 158 cells.
    let ruler_y = 2;
    let ticks = (1..159)
        .filter(|x| buf[(*x, ruler_y)].symbol() != " ")
        .count();
    assert!(ticks >= 130, "{ticks} ticks");
}

#[test]
fn with_numa_nodes_the_list_and_the_map_name_each_dimms_node() {
    let numa = qpmem::core::examples::find("numa")
        .unwrap()
        .load(Path::new("/vms"))
        .unwrap();
    let nodes: Vec<(String, u32)> = numa
        .devices
        .iter()
        .map(|d| (d.id.clone(), d.node.unwrap()))
        .collect();
    assert_eq!(nodes.iter().filter(|(_, n)| *n == 1).count(), 2);
    let (w, h) = (160, 50);
    let a = app(numa, w, h);
    let t = pane(&a, w, h, "devices");
    let buf = t.backend().buffer();
    let (node_x, _) = find(buf, "NODE").expect("a NODE column");
    for (id, node) in &nodes {
        let (_, y) = find(buf, &format!(" {id} ")).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(buf[(node_x, y)].symbol(), node.to_string(), "{id}");
    }
    let t = pane(&a, w, h, "map");
    let buf = t.backend().buffer();
    for (id, node) in &nodes {
        assert!(
            find(buf, &format!("{id} n{node} ")).is_some(),
            "{id}\n{buf:?}"
        );
    }
    // The selected DIMM's line names its node.
    assert!(find(buf, &format!("{} node {} 0x", nodes[0].0, nodes[0].1)).is_some());
    // Without nodes, neither shows one.
    let a = app(Profile::seed(Path::new("/vms")), w, h);
    assert!(find(pane(&a, w, h, "devices").backend().buffer(), "NODE").is_none());
    assert!(find(pane(&a, w, h, "map").backend().buffer(), "nv1 n0").is_none());
}
