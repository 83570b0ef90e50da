//! `qpmem map --format svg`: the picture read back with an XML parser
//! (every shape where the layout says it goes) and rendered to PNG by a
//! real converter (rsvg-convert), so that it is a valid picture.

use assert_cmd::Command;
use qpmem::core::export::svg::{LEFT, MIN_GRID_SPACING, PLOT_WIDTH, WIDTH};
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::{layout, Layout};
use std::path::Path;

const NO_ALIGN: &str = "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G \
  -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G \
  -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
  -object memory-backend-file,id=mem2,share=on,mem-path=/vms/nv2,size=17G \
  -device nvdimm,memdev=mem2,id=nv2,label-size=2M";

const MIXED: &str = "qemu-system-x86_64 -machine q35,nvdimm=on -m 5000M,slots=4,maxmem=64G \
  -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G,align=128M \
  -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
  -object memory-backend-ram,id=ram1,size=1G -device pc-dimm,memdev=ram1,id=dimm1 \
  -object memory-backend-file,id=mem2,share=on,mem-path=/vms/nv2,size=4G \
  -device nvdimm,memdev=mem2,id=nv2";

fn qpmem(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    c.env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"));
    c
}

fn svg_of(dir: &Path, line: &str) -> String {
    let out = qpmem(dir)
        .args(["map", "--format", "svg", "--cmdline", line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn predicted(line: &str) -> Layout {
    let loaded = qpmem::source::load(None, Some(line)).unwrap();
    layout(&loaded.profile, &HostFacts::default()).unwrap()
}

fn num(n: roxmltree::Node, attr: &str) -> f64 {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("{attr} missing on {n:?}"))
        .parse()
        .unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 0.011,
        "{what}: {got} drawn, {want} expected"
    );
}

/// Check every shape of the picture against the layout.
fn check_picture(text: &str, l: &Layout) {
    let doc = roxmltree::Document::parse(text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(num(root, "width"), WIDTH as f64);
    let region = l.device_memory.expect("a device memory region");
    let end = region.end() as f64;
    let x = |addr: u64| LEFT as f64 + addr as f64 * PLOT_WIDTH as f64 / end;
    let w = |bytes: u64| bytes as f64 * PLOT_WIDTH as f64 / end;
    let class = |c: &'static str| {
        doc.descendants()
            .filter(move |n| n.attribute("class") == Some(c))
            .collect::<Vec<_>>()
    };

    // The region, with what QEMU lets the devices use.
    let dm = class("device-memory");
    assert_eq!(dm.len(), 1);
    close(num(dm[0], "x"), x(region.base), "device memory x");
    close(num(dm[0], "width"), w(region.size), "device memory width");
    let ram = l.ram_below_4g + l.ram_above_4g;
    assert_eq!(num(dm[0], "data-usable"), (l.maxmem - ram) as f64);
    assert_eq!(
        num(dm[0], "data-slot-padding"),
        (u64::from(l.slots) << 30) as f64
    );

    // RAM: below 4 GiB from 0, and above 4 GiB when there is some.
    let rams = class("ram");
    assert_eq!(rams.len(), if l.ram_above_4g > 0 { 2 } else { 1 });
    close(num(rams[0], "x"), x(0), "RAM x");
    close(num(rams[0], "width"), w(l.ram_below_4g), "RAM width");
    if l.ram_above_4g > 0 {
        close(num(rams[1], "x"), x(4 << 30), "RAM above 4G x");
        close(
            num(rams[1], "width"),
            w(l.ram_above_4g),
            "RAM above 4G width",
        );
    }

    // Every DIMM at its address, as wide as what the guest sees.
    let dimms = class("dimm");
    assert_eq!(dimms.len(), l.devices.len());
    for (d, p) in l.placements() {
        let r = dimms
            .iter()
            .find(|n| n.attribute("data-id") == Some(d.id.as_str()))
            .unwrap_or_else(|| panic!("no rectangle for {}", d.id));
        close(num(*r, "x"), x(p.addr), &format!("{} x", d.id));
        close(num(*r, "width"), w(p.size), &format!("{} width", d.id));
        assert_eq!(
            r.attribute("data-addr"),
            Some(format!("{:#x}", p.addr).as_str())
        );
        // Its backing file: visible part, hidden tail, label, in that
        // order, across the plot width in proportion.
        let file = d.backend_size as f64;
        let mut at = LEFT as f64;
        for (c, bytes) in [
            ("file-visible", p.size),
            ("file-tail", p.unused_tail),
            ("file-label", d.label_size),
        ] {
            let part: Vec<_> = class(c)
                .into_iter()
                .filter(|n| n.attribute("data-id") == Some(d.id.as_str()))
                .collect();
            if bytes == 0 {
                assert!(part.is_empty(), "{} has no {c}", d.id);
                continue;
            }
            assert_eq!(part.len(), 1, "{} {c}", d.id);
            close(num(part[0], "x"), at, &format!("{} {c} x", d.id));
            let want = bytes as f64 * PLOT_WIDTH as f64 / file;
            close(num(part[0], "width"), want, &format!("{} {c} width", d.id));
            at += want;
        }
        // Its edges that miss a section boundary are marked, the others not.
        for (edge, aligned) in [("start", p.start_aligned), ("end", p.end_aligned)] {
            let marks = class("misaligned")
                .into_iter()
                .filter(|n| {
                    n.attribute("data-id") == Some(d.id.as_str())
                        && n.attribute("data-edge") == Some(edge)
                })
                .count();
            assert_eq!(marks, usize::from(!aligned), "{} {edge}", d.id);
        }
    }

    // The section grid: a line at every boundary from 0 to the end.
    let grid = class("section-grid");
    assert_eq!(grid.len(), 1);
    let step: u64 = grid[0].attribute("data-step").unwrap().parse().unwrap();
    // Every section when lines fit MIN_GRID_SPACING apart, else the
    // fewest doublings that make them fit.
    let mut want = l.section_size;
    while w(want) < MIN_GRID_SPACING as f64 - 0.005 {
        want *= 2;
    }
    assert_eq!(step, want);
    let lines = class("section");
    assert_eq!(lines.len() as u64, region.end() / step + 1);
    for (i, line) in lines.iter().enumerate() {
        close(num(*line, "x1"), x(i as u64 * step), "grid line");
    }

    // A legend naming what the colours mean.
    let legend: String = class("legend-text")
        .iter()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|");
    for what in [
        "RAM",
        "device memory",
        "DIMM",
        "hidden tail",
        "label area",
        "section boundary",
        "grid",
    ] {
        assert!(legend.contains(what), "legend lacks {what}: {legend}");
    }
}

#[test]
fn every_shape_of_the_picture_is_where_the_layout_puts_it() {
    let dir = tempfile::tempdir().unwrap();
    for line in [NO_ALIGN, MIXED] {
        let l = predicted(line);
        check_picture(&svg_of(dir.path(), line), &l);
    }
    // The recipe without align: nv2 starts 126 MiB past a boundary.
    let l = predicted(NO_ALIGN);
    assert!(!l.devices[1].placement().unwrap().start_aligned);
    assert_eq!(grid_step_of(&svg_of(dir.path(), NO_ALIGN)), 128 << 20);
    assert_eq!(grid_step_of(&svg_of(dir.path(), MIXED)), 256 << 20);
}

/// The grid step a picture states.
fn grid_step_of(text: &str) -> u64 {
    let doc = roxmltree::Document::parse(text).unwrap();
    let g = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("section-grid"))
        .unwrap();
    g.attribute("data-step").unwrap().parse().unwrap()
}

#[test]
fn json_and_svg_are_formats_of_map_and_json_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let a = qpmem(dir.path())
        .args(["map", "--json", "--cmdline", NO_ALIGN])
        .output()
        .unwrap();
    let b = qpmem(dir.path())
        .args(["map", "--format", "json", "--cmdline", NO_ALIGN])
        .output()
        .unwrap();
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    let both = qpmem(dir.path())
        .args(["map", "--json", "--format", "svg", "--cmdline", NO_ALIGN])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    // -o writes the picture to a file.
    let file = dir.path().join("map.svg");
    let out = qpmem(dir.path())
        .args(["map", "--format", "svg", "-o"])
        .arg(&file)
        .args(["--cmdline", NO_ALIGN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    check_picture(
        &std::fs::read_to_string(&file).unwrap(),
        &predicted(NO_ALIGN),
    );
}

#[test]
fn rsvg_convert_renders_the_picture() {
    if which::which("rsvg-convert").is_err() {
        if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
            panic!("rsvg-convert is required (QPMEM_REQUIRE_QEMU=1): apt-get install librsvg2-bin");
        }
        eprintln!("rsvg_convert_renders_the_picture: SKIPPED: no rsvg-convert (apt-get install librsvg2-bin)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("map.svg");
    let png = dir.path().join("map.png");
    std::fs::write(&svg, svg_of(dir.path(), MIXED)).unwrap();
    let out = std::process::Command::new("rsvg-convert")
        .arg("-o")
        .arg(&png)
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(u64::from(width), WIDTH);
    assert!(height > 200, "{height}");
}
