//! The address map widget: guest physical memory from 0 on a linear scale.
//!
//! RAM below and above 4 GiB, the PCI hole, the device memory region and
//! each DIMM as a labelled coloured block with its hex range (and its
//! NUMA node, `n1`, when the profile has nodes), all taken from
//! [`crate::core::layout::Layout`]. A ruler row ticks every Linux memory
//! section boundary (128 MiB on x86_64; the profile's section size, which
//! follows the guest page size on arm64); a DIMM edge that misses one is
//! drawn in the warning colour with its offset. The selected DIMM is
//! underlined, and its backing file is shown below as visible part, the
//! never-seen tail and the label area (shaded: neither is guest memory).
//! A legend in the bottom border names the shaded glyphs. Zoom in/out
//! (halving or doubling the bytes per cell) and scroll keep both a
//! 17 GiB DIMM and a single 128 MiB boundary reachable. The pane owns the
//! zoom and scroll ([`MapView`]); a click selects the DIMM under it, the
//! wheel scrolls along.

use super::{choose_dimm, pane_block, Component, DrawCx, EventState};
use crate::core::device::DimmKind;
use crate::core::layout::{Layout, Placement};
use crate::core::map::node_of;
use crate::core::size::{align_down, align_up, format_human, format_qemu, GIB, MIB};
use crate::tui::action::{cmd, Action, Command, NORMAL};
use crate::tui::doc::Doc;
use crate::tui::geometry::{inner, Pane};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The finest zoom: 1 MiB per cell.
pub const MIN_CELL: u64 = MIB;

pub const COMMANDS: &[Command] = &[
    cmd(Action::Left, "scroll left (when zoomed)", None),
    cmd(Action::Right, "scroll right (when zoomed)", None),
    cmd(
        Action::ZoomIn,
        "zoom in, down to 1 MiB a cell (from any pane)",
        Some("zoom"),
    ),
    cmd(Action::ZoomOut, "zoom out", None),
    cmd(Action::ZoomFit, "fit the whole map", None),
    cmd(
        Action::SavePicture,
        "save the map as an SVG picture, as qpmem map --format svg draws it (asks for a file ending in .svg; from any pane)",
        Some("picture"),
    ),
    cmd(Action::Edit, "open the selected DIMM's form", None),
];

/// The map's zoom and scroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MapView {
    /// Bytes per cell; `None` fits the whole map.
    pub cell: Option<u64>,
    /// First address shown (when zoomed).
    pub start: u64,
}

/// The address map pane: its zoom and scroll (the selected DIMM is the
/// document's).
#[derive(Debug, Clone, Default)]
pub struct MapPane {
    pub view: MapView,
}

/// The map's width in cells, for a pane drawn in `area`.
fn cells_wide(area: Rect) -> u16 {
    area.width.saturating_sub(2).max(1)
}

impl Component for MapPane {
    fn pane(&self) -> Pane {
        Pane::Map
    }

    fn commands(&self) -> &'static [Command] {
        COMMANDS
    }

    fn on_action(&mut self, a: Action, focused: bool, doc: &mut Doc, area: Rect) -> EventState {
        let width = cells_wide(area);
        match a {
            Action::ZoomIn | Action::ZoomOut | Action::ZoomFit => {
                let Ok(l) = &doc.derived.layout else {
                    return EventState::Consumed;
                };
                let focus = l
                    .devices
                    .get(doc.selected)
                    .and_then(|d| d.placement())
                    .map(|p| p.addr);
                self.view = match a {
                    Action::ZoomIn => zoomed(l, self.view, width, -1, focus),
                    Action::ZoomOut => zoomed(l, self.view, width, 1, focus),
                    _ => MapView::default(),
                };
            }
            _ if !focused => return EventState::NotConsumed,
            Action::Left | Action::Right => {
                if let Ok(l) = &doc.derived.layout {
                    let dir = if a == Action::Left { -1 } else { 1 };
                    self.view = scrolled(l, self.view, width, dir);
                }
            }
            _ => return choose_dimm(a, doc, area),
        }
        EventState::Consumed
    }

    fn hit(&self, cx: &DrawCx, area: Rect, at: Position) -> Option<Action> {
        let doc = cx.doc;
        let inside = inner(area);
        if !inside.contains(at) {
            return None;
        }
        let l = doc.derived.layout.as_ref().ok()?;
        device_at(l, self.view, inside.width, at.x - inside.x).map(Action::Select)
    }

    /// The wheel scrolls along the map.
    fn wheel(&self, up: bool) -> Action {
        if up {
            Action::Left
        } else {
            Action::Right
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &DrawCx) {
        draw(f, area, cx, self.view)
    }
}

/// One past the highest address the map shows.
pub fn extent(l: &Layout) -> u64 {
    let ram_top = l.ram_end();
    let dev_top = l.device_memory.map(|r| r.end()).unwrap_or(0);
    let dimm_top = l.placements().map(|(_, p)| p.end()).max().unwrap_or(0);
    let cxl_top = l.cxl.as_ref().map_or(0, |c| c.end);
    ram_top.max(dev_top).max(dimm_top).max(cxl_top).max(4 * GIB)
}

/// Bytes per cell that show the whole extent in `width` cells (whole MiB).
pub fn fit_cell(l: &Layout, width: u16) -> u64 {
    let need = extent(l).div_ceil(u64::from(width.max(1)));
    align_up(need, MIB).unwrap_or(need).max(MIN_CELL)
}

/// The first address shown and the bytes per cell.
pub fn view(l: &Layout, v: MapView, width: u16) -> (u64, u64) {
    let fit = fit_cell(l, width);
    match v.cell {
        Some(cell) if cell < fit => {
            let span = cell.saturating_mul(u64::from(width));
            let max_start = align_down(extent(l).saturating_sub(span), cell);
            (align_down(v.start, cell).min(max_start), cell)
        }
        _ => (0, fit),
    }
}

/// Zoom in (`delta` < 0) or out, keeping `focus` (an address) in view.
/// Each step halves or doubles the bytes per cell: the zoomed levels are
/// the powers of two up to half the fitting cell (so the first step in
/// from 258 MiB is 128 MiB, not 256), and a step out from the highest of
/// them fits the map again.
pub fn zoomed(l: &Layout, v: MapView, width: u16, delta: i32, focus: Option<u64>) -> MapView {
    let fit = fit_cell(l, width);
    let (start, cell) = view(l, v, width);
    // The largest power of two not above `x`.
    let floor_pow2 = |x: u64| {
        if x == 0 {
            0
        } else {
            1u64 << (63 - x.leading_zeros())
        }
    };
    let new = if delta < 0 {
        floor_pow2(cell / 2).max(MIN_CELL)
    } else {
        let up = floor_pow2(cell).saturating_mul(2);
        if up > fit / 2 {
            fit
        } else {
            up
        }
    };
    if new >= fit {
        return MapView::default();
    }
    let old_span = cell.saturating_mul(u64::from(width));
    let center = focus.unwrap_or(start.saturating_add(old_span / 2));
    let span = new.saturating_mul(u64::from(width));
    // Put the focus a quarter in, so what follows it is visible too.
    let start = center.saturating_sub(span / 4);
    let (start, cell) = view(
        l,
        MapView {
            cell: Some(new),
            start,
        },
        width,
    );
    MapView {
        cell: Some(cell),
        start,
    }
}

/// Scroll by a quarter of the width in direction `dir`.
pub fn scrolled(l: &Layout, v: MapView, width: u16, dir: i64) -> MapView {
    let (start, cell) = view(l, v, width);
    if v.cell.is_none() || cell >= fit_cell(l, width) {
        return v;
    }
    let step = cell.saturating_mul(u64::from(width / 4).max(1));
    let start = if dir < 0 {
        start.saturating_sub(step)
    } else {
        start.saturating_add(step)
    };
    let (start, cell) = view(
        l,
        MapView {
            cell: Some(cell),
            start,
        },
        width,
    );
    MapView {
        cell: Some(cell),
        start,
    }
}

/// The cell range [first, last] a byte range covers, clipped to the view;
/// `None` when it is outside.
fn cells(start: u64, cell: u64, width: u16, base: u64, end: u64) -> Option<(u16, u16)> {
    if end <= base {
        return None;
    }
    let view_end = start.saturating_add(cell.saturating_mul(u64::from(width)));
    if end <= start || base >= view_end {
        return None;
    }
    let a = (base.max(start) - start) / cell;
    let b = ((end - 1).min(view_end - 1) - start) / cell;
    Some((a as u16, (b as u16).min(width.saturating_sub(1))))
}

/// The DIMM drawn at column `col` (relative to the map's inner area).
pub fn device_at(l: &Layout, v: MapView, width: u16, col: u16) -> Option<usize> {
    let (start, cell) = view(l, v, width);
    l.devices.iter().position(|d| {
        d.placement()
            .and_then(|p| cells(start, cell, width, p.addr, p.end()))
            .is_some_and(|(a, b)| a <= col && col <= b)
    })
}

fn put(buf: &mut Buffer, x: u16, y: u16, right: u16, text: &str, style: Style) -> u16 {
    let mut cx = x;
    for ch in text.chars() {
        if cx >= right {
            break;
        }
        if let Some(c) = buf.cell_mut((cx, y)) {
            c.set_char(ch).set_style(style);
        }
        cx += 1;
    }
    cx
}

fn fill(buf: &mut Buffer, x0: u16, x1: u16, y: u16, ch: char, style: Style) {
    for x in x0..=x1 {
        if let Some(c) = buf.cell_mut((x, y)) {
            c.set_char(ch).set_style(style);
        }
    }
}

/// Write the first of `labels` that fits in the cells `a..=b` of row `y`.
fn label_in(buf: &mut Buffer, (a, b): (u16, u16), y: u16, labels: &[&str], style: Style) {
    let span = usize::from(b - a + 1);
    if let Some(label) = labels.iter().find(|l| l.chars().count() <= span) {
        put(buf, a, y, b + 1, label, style);
    }
}

/// How a DIMM edge misses the section grid, for the marker.
fn edge_notes(p: &Placement, section: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    if p.addr % section != 0 {
        out.push((p.addr, format!("+{}", format_human(p.addr % section))));
    }
    if p.end() % section != 0 {
        out.push((
            p.end() - 1,
            format!("end +{}", format_human(p.end() % section)),
        ));
    }
    out
}

/// What QEMU really placed at the last launch, beside the prediction:
/// quiet when it agreed, loud when it did not.
fn qemu_verdict(doc: &Doc, theme: &Theme) -> Option<Line<'static>> {
    let (c, stale) = doc.qemu_placed.as_ref()?;
    let line = if *stale {
        Line::styled(" QEMU's placement: before your last change ", theme.dim())
    } else if c.matches() {
        Line::styled(" QEMU placed every DIMM as predicted ", theme.ok())
    } else {
        let what: Vec<String> = c
            .devices
            .iter()
            .filter(|d| !d.matches())
            .map(|d| format!("{}: {}", d.id, d.differences.join(", ")))
            .collect();
        Line::styled(
            format!(" QEMU DIFFERS: {} ", what.join("; ")),
            theme.error().add_modifier(ratatui::style::Modifier::BOLD),
        )
    };
    Some(line)
}

fn draw(f: &mut Frame, area: Rect, cx: &DrawCx, map: MapView) {
    let (doc, theme) = (cx.doc, cx.theme);
    let focused = cx.focused(Pane::Map);
    let inner_w = area.width.saturating_sub(2).max(1);
    let l = match &doc.derived.layout {
        Ok(l) => l,
        Err(e) => {
            let block = pane_block(theme, Pane::Map, focused, None);
            let inner = block.inner(area);
            f.render_widget(block, area);
            f.render_widget(
                Paragraph::new(Line::styled(format!("no map: {e}"), theme.error())),
                inner,
            );
            return;
        }
    };
    let (start, cell) = view(l, map, inner_w);
    let section = l.section_size;
    let scale = if cell > section {
        format!(
            "1 cell = {} ({:.1} sections)",
            format_human(cell),
            cell as f64 / section as f64
        )
    } else {
        format!(
            "1 cell = {}, tick = {} section",
            format_human(cell),
            format_human(section)
        )
    };
    let key = |a| cx.keys.short(NORMAL, a);
    let zoom_note = if map.cell.is_some() && cell < fit_cell(l, inner_w) {
        format!(
            " {}/{} zoom, {} fit",
            key(Action::ZoomIn),
            key(Action::ZoomOut),
            key(Action::ZoomFit)
        )
    } else {
        format!(" {}/{} zoom", key(Action::ZoomIn), key(Action::ZoomOut))
    };
    let mut block = pane_block(
        theme,
        Pane::Map,
        focused,
        Some(Span::styled(format!("{scale} ·{zoom_note}"), theme.dim())),
    );
    if let Some(line) = qemu_verdict(doc, theme) {
        block = block.title_top(line.right_aligned());
    }
    // With more than one kind on the map, which colour is which.
    let mut kinds: Vec<DimmKind> = Vec::new();
    for d in &doc.profile.devices {
        if !kinds.contains(&d.kind) {
            kinds.push(d.kind);
        }
    }
    let mut legend = vec![Span::styled(" · ", theme.dim())];
    if kinds.len() > 1 {
        let first = |k: DimmKind| doc.profile.devices.iter().position(|d| d.kind == k);
        for k in &kinds {
            let n = first(*k).unwrap_or(0);
            legend.push(Span::styled(" ", theme.block(theme.device(*k, n))));
            legend.push(Span::styled(format!(" {} ", k.spec().name()), theme.dim()));
        }
        legend.push(Span::styled("· ", theme.dim()));
    }
    if doc.profile.cxl.is_some() {
        legend.push(Span::styled(" ", theme.block(theme.cxl)));
        legend.push(Span::styled(" CXL windows · ", theme.dim()));
    }
    legend.extend([
        Span::styled("no memory ", theme.dim()),
        Span::styled("░", theme.shaded(theme.device_memory)),
        Span::styled(" device memory, a file's unused tail ", theme.dim()),
        Span::styled("▒", theme.shaded(theme.label_area)),
        Span::styled(" label area ", theme.dim()),
    ]);
    block = block.title_bottom(Line::from(legend));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let buf = f.buffer_mut();
    let (x0, right) = (inner.x, inner.x + inner.width);
    let w = inner.width;
    let h = inner.height;
    let lane_rows: u16 = if h >= 8 { (h - 6).min(3) } else { 1 };
    let y_axis = inner.y;
    let y_ruler = inner.y + 1;
    let y_lane = inner.y + 2;
    let y_marks = y_lane + lane_rows;
    let y_file = (h >= 7).then_some(y_marks + 1);
    let y_info = y_marks + if h >= 7 { 2 } else { 1 };

    // Axis labels at "major" ticks: a power of two giving ~16 cells apart.
    let major = (cell.saturating_mul(16)).next_power_of_two().max(section);
    let mut a = start.div_ceil(major).saturating_mul(major);
    let mut free_from = x0;
    let view_end = start.saturating_add(cell.saturating_mul(u64::from(w)));
    while a < view_end {
        let col = x0 + ((a - start) / cell) as u16;
        if col >= free_from {
            let label = format!("{a:#x}");
            if col + label.len() as u16 <= right {
                put(buf, col, y_axis, right, &label, theme.dim());
                free_from = col + label.len() as u16 + 2;
            }
        }
        match a.checked_add(major) {
            Some(n) => a = n,
            None => break,
        }
    }

    // Ruler: a tick in every cell holding a section boundary.
    for c in 0..w {
        let cs = start + u64::from(c) * cell;
        let first = cs.div_ceil(section).saturating_mul(section);
        if first < cs.saturating_add(cell) {
            let has_major = cs.div_ceil(major).saturating_mul(major) < cs.saturating_add(cell);
            let ch = if has_major {
                '┼'
            } else if cell > section {
                '┊'
            } else {
                '│'
            };
            put(
                buf,
                x0 + c,
                y_ruler,
                right,
                &ch.to_string(),
                theme.shaded(theme.ruler),
            );
        }
    }

    // The lane: background, RAM, device memory, then the DIMMs.
    for r in 0..lane_rows {
        fill(buf, x0, right - 1, y_lane + r, '·', theme.dim());
    }
    let mut paint = |base: u64, end: u64, ch: char, style: Style, labels: &[&str]| {
        if let Some((a, b)) = cells(start, cell, w, base, end) {
            for r in 0..lane_rows {
                fill(buf, x0 + a, x0 + b, y_lane + r, ch, style);
            }
            label_in(buf, (x0 + a, x0 + b), y_lane, labels, style);
        }
    };
    let dev_style = theme.shaded(theme.device_memory);
    if let Some(r) = l.device_memory {
        paint(r.base, r.end(), '░', dev_style, &[]);
    }
    let ram_style = theme.block(theme.ram);
    let low = format!("RAM {}", format_human(l.ram_below_4g));
    paint(
        l.ram_base,
        l.ram_base.saturating_add(l.ram_below_4g),
        ' ',
        ram_style,
        &[&low, "RAM", "R"],
    );
    if l.ram_above_4g > 0 {
        let high = format!("RAM {}", format_human(l.ram_above_4g));
        paint(
            4 * GIB,
            4 * GIB + l.ram_above_4g,
            ' ',
            ram_style,
            &[&high, "RAM", "R"],
        );
    }
    // DIMMs: every block first, then labels that fit in their own block
    // without running into the previous label, then the edges.
    let style_of = |i: usize| {
        let kind = doc
            .profile
            .devices
            .get(i)
            .map(|d| d.kind)
            .unwrap_or_default();
        let mut style = theme.block(theme.device(kind, i));
        if theme.no_color {
            style = style.add_modifier(Modifier::REVERSED);
        }
        if i == doc.selected {
            style = style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        }
        style
    };
    let shown: Vec<(usize, &str, &Placement, u16, u16)> = l
        .devices
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let p = d.placement()?;
            let (a, b) = cells(start, cell, w, p.addr, p.end())?;
            Some((i, d.id.as_str(), p, a, b))
        })
        .collect();
    for &(i, _, _, a, b) in &shown {
        for r in 0..lane_rows {
            fill(buf, x0 + a, x0 + b, y_lane + r, ' ', style_of(i));
        }
    }
    // With NUMA nodes, each label names its DIMM's node.
    let numa = !doc.profile.numa_ram().is_empty();
    let node = |i: usize| {
        if numa {
            format!(" n{}", node_of(&doc.profile, i))
        } else {
            String::new()
        }
    };
    let mut label_free = 0u16;
    for &(i, id, p, a, b) in &shown {
        let span = (b - a + 1) as usize;
        let full = format!("{id}{} {:#x}-{:#x}", node(i), p.addr, p.end() - 1);
        let short = format!("{id}{}", node(i));
        let label = [full, short]
            .into_iter()
            .find(|l| span > l.len())
            .unwrap_or_else(|| id.to_string());
        if span >= label.len() && a >= label_free {
            put(buf, x0 + a, y_lane, x0 + b + 1, &label, style_of(i));
            label_free = a + label.len() as u16 + 1;
            if lane_rows > 1 && span > 12 {
                put(
                    buf,
                    x0 + a,
                    y_lane + 1,
                    x0 + b + 1,
                    &format_human(p.size),
                    style_of(i),
                );
            }
        }
    }
    // Device memory no DIMM covers, labelled after the last DIMM shown.
    if let Some((a, b)) = l
        .device_memory
        .and_then(|r| cells(start, cell, w, r.base, r.end()))
    {
        let a = shown.iter().map(|s| s.4 + 1).max().unwrap_or(a).max(a);
        // Not into the CXL range, which may share the region's last cell.
        let b = match l
            .cxl
            .as_ref()
            .and_then(|c| cells(start, cell, w, c.host_registers.base, c.end).map(|(ca, _)| ca))
        {
            Some(ca) if ca <= b => ca.saturating_sub(1),
            _ => b,
        };
        if a <= b && b < w {
            label_in(
                buf,
                (x0 + a, x0 + b),
                y_lane,
                &["device memory", "dev mem", "dev"],
                dev_style,
            );
        }
    }
    // CXL above the device memory region: the host bridges' registers,
    // then each window with the pmem of the type-3 devices it can map.
    if let (Some(c), Some(cxl)) = (&l.cxl, &doc.profile.cxl) {
        let style = theme.block(theme.cxl);
        let paint_at = |buf: &mut Buffer, base: u64, end: u64, style: Style, labels: &[&str]| {
            if let Some((a, b)) = cells(start, cell, w, base, end) {
                for r in 0..lane_rows {
                    fill(buf, x0 + a, x0 + b, y_lane + r, ' ', style);
                }
                label_in(buf, (x0 + a, x0 + b), y_lane, labels, style);
            }
        };
        let r = &c.host_registers;
        paint_at(buf, r.base, r.end(), style, &[]);
        let devices = cxl.devices();
        for w in &c.windows {
            let behind: u64 = devices
                .iter()
                .filter(|(_, at)| w.targets.contains(&at.host_bridge.id))
                .filter_map(|(d, _)| d.persistent.as_ref().map(|m| m.size.0))
                .sum();
            let long = format!(
                "CXL window {} {} ({} pmem behind)",
                w.index,
                format_human(w.size),
                format_human(behind)
            );
            let mid = format!("CXL{} {}", w.index, format_human(w.size));
            let short = format!("W{}", w.index);
            paint_at(buf, w.base, w.end(), style, &[&long, &mid, &short]);
        }
    }
    let mut marks: Vec<(u16, String)> = Vec::new();
    for &(i, id, p, a, b) in &shown {
        // Edges off a section boundary, in the warning colour.
        for (addr, note) in edge_notes(p, section) {
            if let Some((c, _)) = cells(start, cell, w, addr, addr + 1) {
                for r in 0..lane_rows {
                    if let Some(cl) = buf.cell_mut((x0 + c, y_lane + r)) {
                        cl.set_style(theme.warning_block());
                    }
                }
                marks.push((c, format!("▲{id} {note}")));
            }
        }
        if i == doc.selected {
            fill(buf, x0 + a, x0 + b, y_marks, '▔', theme.key());
        }
    }
    let mut free_from = x0;
    for (c, text) in marks {
        let x = (x0 + c).max(free_from);
        if x < right {
            free_from = put(buf, x, y_marks, right, &text, theme.warning()) + 1;
        }
    }

    // The selected DIMM's backing file: visible, tail, label.
    if let Some((d, p)) = l
        .devices
        .get(doc.selected)
        .and_then(|d| d.placement().map(|p| (d, p)))
    {
        if let Some(y) = y_file {
            file_bar(
                buf,
                x0,
                y,
                w,
                theme,
                doc.profile.devices[doc.selected].kind,
                doc.selected,
                d.backend_size,
                p,
                d.label_size,
            );
        }
        let mut spans = vec![
            Span::styled(format!("{} ", d.id), theme.key()),
            Span::styled(
                if numa {
                    format!("node {} ", node_of(&doc.profile, doc.selected))
                } else {
                    String::new()
                },
                theme.text(),
            ),
            Span::styled(
                format!("{:#x}-{:#x} {} ", p.addr, p.end() - 1, format_human(p.size)),
                theme.text(),
            ),
            Span::styled(format!("file {}", format_qemu(d.backend_size)), theme.dim()),
        ];
        if p.unused_tail > 0 {
            spans.push(Span::styled(
                format!(" ░tail {}", format_human(p.unused_tail)),
                theme.shaded(theme.tail),
            ));
        }
        if d.label_size > 0 {
            spans.push(Span::styled(
                format!(" ▒label {}", format_human(d.label_size)),
                theme.shaded(theme.label_area),
            ));
        }
        if y_info < inner.y + h {
            f.render_widget(
                Paragraph::new(Line::from(spans)),
                Rect::new(x0, y_info, w, 1),
            );
        }
    } else if y_info < inner.y + h {
        let text = match l.devices.get(doc.selected) {
            Some(d) => match &d.result {
                Err(e) => Line::styled(format!("{} not placed: {e}", d.id), theme.error()),
                Ok(_) => Line::raw(""),
            },
            None => Line::styled("no DIMMs", theme.dim()),
        };
        f.render_widget(Paragraph::new(text), Rect::new(x0, y_info, w, 1));
    }
}

/// The backing file on its own scale: visible part, never-seen tail,
/// label area, each at least one cell when present.
#[allow(clippy::too_many_arguments)]
fn file_bar(
    buf: &mut Buffer,
    x0: u16,
    y: u16,
    w: u16,
    theme: &Theme,
    kind: DimmKind,
    index: usize,
    file: u64,
    p: &Placement,
    label: u64,
) {
    let prefix = "file ";
    let right = x0 + w;
    let x = put(buf, x0, y, right, prefix, theme.dim());
    let bar_w = u64::from(w.saturating_sub(prefix.len() as u16));
    if bar_w < 3 || file == 0 {
        return;
    }
    let part = |bytes: u64| -> u64 {
        if bytes == 0 {
            0
        } else {
            ((u128::from(bytes) * u128::from(bar_w) / u128::from(file)) as u64).max(1)
        }
    };
    let tail = part(p.unused_tail);
    let lab = part(label);
    let vis = bar_w.saturating_sub(tail + lab).max(1);
    let mut cx = x;
    let mut seg = |n: u64, ch: char, style: Style| {
        for _ in 0..n {
            if cx < right {
                if let Some(c) = buf.cell_mut((cx, y)) {
                    c.set_char(ch).set_style(style);
                }
                cx += 1;
            }
        }
    };
    let mut vstyle = theme.block(theme.device(kind, index));
    if theme.no_color {
        vstyle = vstyle.add_modifier(Modifier::REVERSED);
    }
    seg(vis, ' ', vstyle);
    seg(tail, '░', theme.shaded(theme.tail));
    seg(lab, '▒', theme.shaded(theme.label_area));
    let text = format!("visible {}", format_human(p.size));
    if vis as usize > text.len() {
        put(buf, x, y, x + vis as u16, &text, vstyle);
    }
}
