//! The address map as an SVG picture (`qpmem map --format svg`), for bug
//! reports and docs: guest physical memory from 0 to the end of the
//! device memory region on one linear axis, with the RAM blocks, the hole
//! below 4 GiB, the device memory region, each DIMM's visible range
//! (its edges marked where they miss a section boundary) and the Linux
//! memory section grid; below it one row per DIMM showing its backing
//! file: the part the guest sees, the hidden tail `align` cuts off, and
//! the label area; a legend at the bottom.
//!
//! Coordinates are computed in integers (hundredths of a pixel), so the
//! picture is exactly reproducible: an address `a` is drawn at
//! `LEFT + a * PLOT_WIDTH / end`, `end` being the end of the device
//! memory region (or of RAM when there is none). Every shape carries its
//! role in `class` and, for DIMMs, its id, address and size in `data-*`
//! attributes, so a program can read the picture back.

use crate::core::layout::{DeviceLayout, Layout, Placement};
use crate::core::map::region_parts;
use crate::core::printable::printable;
use crate::core::profile::Profile;
use crate::core::size::{format_human, format_qemu, GIB};
use std::fmt::{self, Write};

/// The picture's width, in pixels.
pub const WIDTH: u64 = 1200;
/// The x of address 0.
pub const LEFT: u64 = 40;
/// The width the address range (and each backing file) is drawn across.
pub const PLOT_WIDTH: u64 = 1120;
/// The top and height of the address bar.
pub const BAR_Y: u64 = 56;
pub const BAR_HEIGHT: u64 = 56;
/// Section grid lines are drawn at least this far apart (pixels): every
/// section when there is room, else every 2nd, 4th, ... section.
pub const MIN_GRID_SPACING: u64 = 3;

const FILES_Y: u64 = 176;
const ROW_HEIGHT: u64 = 44;
const FILE_BAR_HEIGHT: u64 = 16;

const RAM: &str = "#4a78c8";
const HOLE: &str = "#d8d8d8";
const DEVICE_MEMORY: &str = "#f3f3f3";
const TAIL: &str = "#a0a0a0";
const LABEL: &str = "#505050";
const MISALIGNED: &str = "#e0302a";
const DIMMS: &[&str] = &[
    "#3c9d4e", "#a64fc0", "#2a9fb5", "#cf8a24", "#6b8e2a", "#c04c6c",
];

/// A coordinate in hundredths of a pixel, printed as `123.45`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Px(u64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Px {
    fn whole(px: u64) -> Px {
        Px(px.saturating_mul(100))
    }
}

/// `part` of `whole` bytes across `width` pixels (exact to 1/100 px).
fn scale(part: u64, whole: u64, width: u64) -> Px {
    if whole == 0 {
        return Px(0);
    }
    let v = u128::from(part) * u128::from(width) * 100 / u128::from(whole);
    Px(u64::try_from(v).unwrap_or(u64::MAX))
}

/// Text for an XML attribute or element: control characters escaped as
/// qpmem shows them (`\x1b`), then the XML specials.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The address the picture ends at: the device memory region's end, else
/// the end of RAM.
pub fn end_address(layout: &Layout) -> u64 {
    let ram_end = layout.ram_end();
    layout
        .device_memory
        .map_or(ram_end, |r| r.end().max(ram_end))
        .max(1)
}

/// The section grid's step: the section size times the smallest power
/// of two that puts lines [`MIN_GRID_SPACING`] pixels apart.
pub fn grid_step(layout: &Layout) -> u64 {
    let end = end_address(layout);
    let mut step = layout.section_size.max(1);
    while scale(step, end, PLOT_WIDTH) < Px::whole(MIN_GRID_SPACING) {
        match step.checked_mul(2) {
            Some(s) => step = s,
            None => break,
        }
    }
    step
}

struct Svg {
    out: String,
    end: u64,
}

impl Svg {
    fn x(&self, addr: u64) -> Px {
        Px(Px::whole(LEFT).0 + scale(addr, self.end, PLOT_WIDTH).0)
    }

    fn w(&self, bytes: u64) -> Px {
        scale(bytes, self.end, PLOT_WIDTH)
    }

    /// A filled rectangle over `[start, start + size)` of the address bar.
    fn bar(&mut self, class: &str, fill: &str, start: u64, size: u64, extra: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect class="{class}" x="{}" y="{BAR_Y}" width="{}" height="{BAR_HEIGHT}" fill="{fill}"{extra}/>"#,
            self.x(start),
            self.w(size),
        );
    }

    fn text(&mut self, x: Px, y: u64, anchor: &str, class: &str, text: &str) {
        let _ = writeln!(
            self.out,
            r#"<text class="{class}" x="{x}" y="{y}" text-anchor="{anchor}">{}</text>"#,
            esc(text)
        );
    }
}

/// The picture.
pub fn render(profile: &Profile, layout: &Layout) -> String {
    let end = end_address(layout);
    let rows = u64::try_from(layout.devices.len()).unwrap_or(u64::MAX);
    let legend_y = FILES_Y + rows.saturating_mul(ROW_HEIGHT) + 16;
    let height = legend_y + 40;
    let mut s = Svg {
        out: String::new(),
        end,
    };
    let _ = writeln!(
        s.out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s.out,
        "<title>qpmem address map: {}</title>",
        esc(&profile.name)
    );
    let _ = writeln!(
        s.out,
        r##"<rect class="background" x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    let title = format!(
        "{}: {} machine, RAM {}, slots={}, maxmem={}, section size {}",
        profile.name,
        profile.machine,
        format_human(profile.ram.0),
        layout.slots,
        format_qemu(layout.maxmem),
        format_human(layout.section_size)
    );
    s.text(Px::whole(LEFT), 24, "start", "title", &title);

    // The address bar: RAM, the hole below 4 GiB, device memory, DIMMs.
    s.bar("ram", RAM, layout.ram_base, layout.ram_below_4g, "");
    let four_g = 4 * GIB;
    let beyond_low = layout.device_memory.is_some() || layout.ram_above_4g > 0;
    // The PCs' PCI hole below 4 GiB (arm64 virt has its MMIO below RAM).
    if beyond_low && layout.ram_base == 0 && layout.ram_below_4g < four_g {
        s.bar(
            "hole",
            HOLE,
            layout.ram_below_4g,
            four_g - layout.ram_below_4g,
            "",
        );
    }
    if layout.ram_above_4g > 0 {
        s.bar("ram", RAM, four_g, layout.ram_above_4g, "");
    }
    if let (Some(r), Some((usable, padding))) = (layout.device_memory, region_parts(layout)) {
        let extra = format!(
            r##" stroke="#808080" data-base="{:#x}" data-size="{}" data-usable="{usable}" data-slot-padding="{padding}""##,
            r.base, r.size
        );
        s.bar("device-memory", DEVICE_MEMORY, r.base, r.size, &extra);
    }
    for (i, d) in layout.devices.iter().enumerate() {
        if let Some(p) = d.placement() {
            dimm_block(&mut s, i, d, p);
        }
    }
    grid(&mut s, layout);
    edges(&mut s, layout);
    axis(&mut s, layout);

    // One row per DIMM: its backing file.
    for (i, d) in layout.devices.iter().enumerate() {
        let y = FILES_Y + u64::try_from(i).unwrap_or(0) * ROW_HEIGHT;
        file_row(&mut s, profile, i, d, y);
    }
    legend(&mut s, layout, legend_y);
    s.out.push_str("</svg>\n");
    s.out
}

fn dimm_colour(i: usize) -> &'static str {
    DIMMS[i % DIMMS.len()]
}

fn dimm_block(s: &mut Svg, i: usize, d: &DeviceLayout, p: &Placement) {
    let extra = format!(
        r#" data-id="{}" data-addr="{:#x}" data-size="{}""#,
        esc(&d.id),
        p.addr,
        p.size
    );
    s.bar("dimm", dimm_colour(i), p.addr, p.size, &extra);
    // The id inside the block when it fits (about 7 px a character).
    let room = s.w(p.size);
    let need = Px::whole(8 + 7 * u64::try_from(d.id.chars().count()).unwrap_or(u64::MAX / 8));
    if room >= need {
        let mid = Px(s.x(p.addr).0 + room.0 / 2);
        s.text(
            mid,
            BAR_Y + BAR_HEIGHT / 2 + 4,
            "middle",
            "dimm-label",
            &d.id,
        );
    }
}

/// Vertical lines across the bar at every `grid_step` boundary.
fn grid(s: &mut Svg, layout: &Layout) {
    let step = grid_step(layout);
    let _ = writeln!(
        s.out,
        r##"<g class="section-grid" data-step="{step}" stroke="#000000" stroke-opacity="0.18" stroke-width="0.5">"##
    );
    let mut a = 0u64;
    while a <= s.end {
        let x = s.x(a);
        let _ = writeln!(
            s.out,
            r#"<line class="section" x1="{x}" y1="{BAR_Y}" x2="{x}" y2="{}" data-addr="{a:#x}"/>"#,
            BAR_Y + BAR_HEIGHT
        );
        match a.checked_add(step) {
            Some(n) => a = n,
            None => break,
        }
    }
    s.out.push_str("</g>\n");
}

/// A DIMM edge off a section boundary: a red mark with its offset.
fn edges(s: &mut Svg, layout: &Layout) {
    let section = layout.section_size.max(1);
    for (d, p) in layout.placements() {
        for (addr, aligned, which) in [
            (p.addr, p.start_aligned, "start"),
            (p.end(), p.end_aligned, "end"),
        ] {
            if aligned {
                continue;
            }
            let x = s.x(addr);
            let _ = writeln!(
                s.out,
                r#"<line class="misaligned" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{MISALIGNED}" stroke-width="2" data-id="{}" data-edge="{which}" data-addr="{addr:#x}"/>"#,
                BAR_Y - 6,
                BAR_Y + BAR_HEIGHT + 6,
                esc(&d.id)
            );
            let off = addr % section;
            s.text(
                x,
                BAR_Y - 9,
                "middle",
                "misaligned-label",
                &format!("{} {which} +{}", d.id, format_human(off)),
            );
        }
    }
}

/// Addresses under the bar: 0, 4 GiB, the region's base and end.
fn axis(s: &mut Svg, layout: &Layout) {
    let y = BAR_Y + BAR_HEIGHT + 16;
    s.text(Px::whole(LEFT), y, "start", "axis", "0x0");
    if let Some(r) = layout.device_memory {
        s.text(s.x(r.base), y, "start", "axis", &format!("{:#x}", r.base));
        s.text(
            s.x(r.end()),
            y + 14,
            "end",
            "axis",
            &format!("{:#x}", r.end()),
        );
        if let Some((usable, padding)) = region_parts(layout) {
            s.text(
                s.x(r.base),
                y + 28,
                "start",
                "axis",
                &format!(
                    "device memory {}: {} for devices (maxmem - RAM), {} padding",
                    format_human(r.size),
                    format_human(usable),
                    format_human(padding)
                ),
            );
        }
    } else {
        s.text(
            Px::whole(LEFT + PLOT_WIDTH),
            y,
            "end",
            "axis",
            &format!("{:#x} (no device memory)", s.end),
        );
    }
}

fn file_row(s: &mut Svg, profile: &Profile, i: usize, d: &DeviceLayout, y: u64) {
    let path = profile
        .devices
        .get(i)
        .and_then(|dev| dev.backend.path())
        .map_or_else(|| "RAM".to_string(), |p| p.display().to_string());
    let Some(p) = d.placement() else {
        let why = d
            .result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        s.text(
            Px::whole(LEFT),
            y + 12,
            "start",
            "file-caption",
            &format!("{} ({path}): not placed: {why}", d.id),
        );
        return;
    };
    let backend = d.backend_size.max(1);
    let mut caption = format!(
        "{} ({path}, {}): the guest sees {} at {:#x}-{:#x}",
        d.id,
        format_human(d.backend_size),
        format_human(p.size),
        p.addr,
        p.end().saturating_sub(1)
    );
    if p.unused_tail > 0 {
        let _ = write!(caption, ", {} hidden tail", format_human(p.unused_tail));
    }
    if d.label_size > 0 {
        let _ = write!(caption, ", {} label", format_human(d.label_size));
    }
    s.text(Px::whole(LEFT), y + 12, "start", "file-caption", &caption);
    let bar_y = y + 18;
    // Each part from its offset in the file, so that rounding never adds up.
    let mut offset = 0u64;
    for (class, fill, bytes) in [
        ("file-visible", dimm_colour(i), p.size),
        ("file-tail", TAIL, p.unused_tail),
        ("file-label", LABEL, d.label_size),
    ] {
        if bytes == 0 {
            continue;
        }
        let from = scale(offset, backend, PLOT_WIDTH);
        offset = offset.saturating_add(bytes);
        let to = scale(offset, backend, PLOT_WIDTH);
        let _ = writeln!(
            s.out,
            r#"<rect class="{class}" x="{}" y="{bar_y}" width="{}" height="{FILE_BAR_HEIGHT}" fill="{fill}" data-id="{}" data-bytes="{bytes}"/>"#,
            Px(Px::whole(LEFT).0 + from.0),
            Px(to.0 - from.0),
            esc(&d.id)
        );
    }
}

fn legend(s: &mut Svg, layout: &Layout, y: u64) {
    let step = grid_step(layout);
    let grid = if step == layout.section_size {
        format!("grid: every {} section", format_human(step))
    } else {
        format!(
            "grid: every {} ({} sections of {})",
            format_human(step),
            step / layout.section_size.max(1),
            format_human(layout.section_size)
        )
    };
    let items: [(&str, &str, String); 7] = [
        ("ram", RAM, "RAM".into()),
        ("hole", HOLE, "hole below 4 GiB".into()),
        (
            "device-memory",
            DEVICE_MEMORY,
            "device memory region".into(),
        ),
        ("dimm", DIMMS[0], "DIMM (what the guest sees)".into()),
        ("tail", TAIL, "hidden tail (align)".into()),
        ("label", LABEL, "label area".into()),
        (
            "misaligned",
            MISALIGNED,
            "edge off a section boundary".into(),
        ),
    ];
    let _ = writeln!(s.out, r#"<g class="legend">"#);
    let mut x = LEFT;
    for (class, fill, what) in items {
        let _ = writeln!(
            s.out,
            r##"<rect class="legend-{class}" x="{x}" y="{y}" width="12" height="12" fill="{fill}" stroke="#808080" stroke-width="0.5"/>"##
        );
        s.text(Px::whole(x + 16), y + 10, "start", "legend-text", &what);
        x += 24 + 7 * u64::try_from(what.len()).unwrap_or(0);
    }
    s.text(Px::whole(LEFT), y + 30, "start", "legend-text", &grid);
    s.out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use crate::core::size::Size;
    use std::path::Path;

    #[test]
    fn coordinates_are_exact_hundredths() {
        assert_eq!(scale(1, 3, 100).to_string(), "33.33");
        assert_eq!(scale(0, 0, 100).to_string(), "0.00");
        assert_eq!(Px::whole(40).to_string(), "40.00");
    }

    #[test]
    fn names_are_escaped() {
        let mut p = Profile::original_recipe(Path::new("/vms/<a&b>"), Some(Size::mib(128)));
        p.name = "x\"<&>\u{1b}".into();
        let l = layout(&p, &HostFacts::default()).unwrap();
        let svg = render(&p, &l);
        assert!(svg.contains("x&quot;&lt;&amp;&gt;\\x1b"), "{svg}");
        assert!(svg.contains("/vms/&lt;a&amp;b&gt;/nvdimm-1"));
        assert!(!svg.contains('\u{1b}'));
    }

    #[test]
    fn the_grid_thins_out_on_a_large_map() {
        let mut p = Profile::original_recipe(Path::new("/vms"), Some(Size::mib(128)));
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert_eq!(grid_step(&l), 128 << 20);
        p.maxmem = crate::core::profile::Auto::Fixed(Size::gib(1024));
        let l = layout(&p, &HostFacts::default()).unwrap();
        let step = grid_step(&l);
        assert!(step > 128 << 20 && step.is_power_of_two());
        assert!(scale(step, end_address(&l), PLOT_WIDTH) >= Px::whole(MIN_GRID_SPACING));
        assert!(scale(step / 2, end_address(&l), PLOT_WIDTH) < Px::whole(MIN_GRID_SPACING));
    }
}
