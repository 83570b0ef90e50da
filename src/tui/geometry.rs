//! Where everything goes on the screen: the panes ([`Pane`]) and their
//! rectangles for one terminal size and focus ([`Geometry`]), computed in
//! one place. The app keeps the current one for mouse hit-testing and
//! paging, drawing reads the same one, so a click always lands on what is
//! drawn under it. Also the small layout helpers the panes share.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::widgets::{Block, Borders};

/// The smallest terminal the TUI draws in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width both editor forms are shown side by side.
pub const WIDE: u16 = 120;
/// The widest the help overlay gets.
pub const HELP_WIDTH: u16 = 76;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Devices,
    /// The CXL topology: shown in the device list's place while it has
    /// focus (Shift-Tab from the list, last in Tab order).
    Cxl,
    Dimm,
    Vm,
    Map,
    Diagnostics,
    Cmdline,
}

pub const PANES: [Pane; 7] = [
    Pane::Devices,
    Pane::Dimm,
    Pane::Vm,
    Pane::Map,
    Pane::Diagnostics,
    Pane::Cmdline,
    Pane::Cxl,
];

impl Pane {
    pub fn title(self) -> &'static str {
        match self {
            Pane::Devices => "DIMMs",
            Pane::Cxl => "CXL",
            Pane::Dimm => "DIMM",
            Pane::Vm => "VM",
            Pane::Map => "Address map",
            Pane::Diagnostics => "Diagnostics",
            Pane::Cmdline => "Command line",
        }
    }

    /// The next (or previous) pane in Tab order.
    pub fn cycle(self, forward: bool) -> Pane {
        let i = PANES.iter().position(|p| *p == self).unwrap_or(0);
        let n = PANES.len();
        PANES[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Where everything goes for one terminal size and focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub screen: Rect,
    pub focus: Pane,
    pub too_small: bool,
    pub title: Rect,
    pub devices: Rect,
    pub dimm: Option<Rect>,
    pub vm: Option<Rect>,
    pub map: Rect,
    pub diagnostics: Rect,
    pub cmdline: Rect,
    pub status: Rect,
    /// The help overlay.
    pub help: Rect,
    /// The one-line prompts (Save as, Rename).
    pub prompt: Rect,
}

impl Geometry {
    /// Lay out `screen`. Narrow screens show one editor form: the VM form
    /// when it has focus, else the DIMM form.
    pub fn new(screen: Rect, focus: Pane) -> Geometry {
        let z = Rect::default();
        let help = centered(
            screen,
            HELP_WIDTH.min(screen.width.saturating_sub(4)),
            screen.height.saturating_sub(2),
        );
        let prompt = centered(screen, 70, 7);
        if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
            return Geometry {
                screen,
                focus,
                too_small: true,
                title: z,
                devices: z,
                dimm: None,
                vm: None,
                map: z,
                diagnostics: z,
                cmdline: z,
                status: z,
                help,
                prompt,
            };
        }
        let body = screen.height - 2;
        let top = (body * 35 / 100).max(8);
        let map = (body / 4).clamp(7, 11);
        let [title, top_r, map_r, bottom_r, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(top),
            Constraint::Length(map),
            Constraint::Min(5),
            Constraint::Length(1),
        ])
        .areas(screen);
        let (devices, dimm, vm) = if screen.width >= WIDE {
            let [d, e, v] = Layout::horizontal([
                Constraint::Percentage(50),
                Constraint::Percentage(25),
                Constraint::Percentage(25),
            ])
            .areas(top_r);
            (d, Some(e), Some(v))
        } else {
            let [d, e] =
                Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)])
                    .areas(top_r);
            if focus == Pane::Vm {
                (d, None, Some(e))
            } else {
                (d, Some(e), None)
            }
        };
        let [diagnostics, cmdline] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(bottom_r);
        Geometry {
            screen,
            focus,
            too_small: false,
            title,
            devices,
            dimm,
            vm,
            map: map_r,
            diagnostics,
            cmdline,
            status,
            help,
            prompt,
        }
    }

    /// A pane's rectangle, when it is shown.
    pub fn rect(&self, pane: Pane) -> Option<Rect> {
        if self.too_small {
            return None;
        }
        match pane {
            // The CXL tree and the device list share their place.
            Pane::Devices => (self.focus != Pane::Cxl).then_some(self.devices),
            Pane::Cxl => (self.focus == Pane::Cxl).then_some(self.devices),
            Pane::Dimm => self.dimm,
            Pane::Vm => self.vm,
            Pane::Map => Some(self.map),
            Pane::Diagnostics => Some(self.diagnostics),
            Pane::Cmdline => Some(self.cmdline),
        }
    }

    /// The pane drawn under `at`.
    pub fn pane_at(&self, at: Position) -> Option<(Pane, Rect)> {
        PANES
            .iter()
            .filter_map(|p| self.rect(*p).map(|r| (*p, r)))
            .find(|(_, r)| r.contains(at))
    }
}

/// The inside of a pane's frame (every pane has a full border).
pub fn inner(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
}

/// The first row to show so that `selected` is visible in `height` rows.
pub fn list_offset(selected: usize, height: usize) -> usize {
    if height == 0 || selected < height {
        0
    } else {
        selected + 1 - height
    }
}

/// Wrap `text` at `width` characters, preferring to break after a space
/// or a comma; continuation rows start with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let ind = indent.chars().count();
    let width = width.max(ind + 8);
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let first = out.is_empty();
        let room = if first { width } else { width - ind };
        let rest = chars.len() - i;
        let take = if rest <= room {
            rest
        } else {
            match chars[i..i + room]
                .iter()
                .rposition(|c| *c == ' ' || *c == ',')
            {
                Some(p) if p + 1 > room / 2 => p + 1,
                _ => room,
            }
        };
        let piece: String = chars[i..i + take].iter().collect();
        out.push(if first {
            piece
        } else {
            format!("{indent}{piece}")
        });
        i += take;
        if i >= chars.len() {
            return out;
        }
    }
}

/// A centred rectangle of at most `w` x `h` inside `r`.
pub fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect::new(r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h)
}

/// `path` in at most `width` characters: elided in the middle at a
/// directory boundary (`/home/…/nvdimm-1`), keeping the file name, which
/// is cut from its start only when even `…/NAME` does not fit.
pub fn elide_path(path: &str, width: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(path) <= width {
        return path.to_string();
    }
    let tail = |s: &str, n: usize| -> String {
        let skip = len(s).saturating_sub(n);
        s.chars().skip(skip).collect()
    };
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if len(name) + 2 > width {
        return format!("…{}", tail(path, width.saturating_sub(1)));
    }
    // The longest leading run of whole directories that fits before "/…/NAME".
    let room = width.saturating_sub(len(name) + 3);
    let head = dir
        .match_indices('/')
        .map(|(i, _)| &dir[..i])
        .rfind(|h| len(h) <= room)
        .unwrap_or("");
    if (head.is_empty() && !dir.starts_with('/')) || len(name) + 3 > width {
        return format!("…/{name}");
    }
    format!("{head}/…/{name}")
}

#[cfg(test)]
mod tests {
    use super::elide_path;

    #[test]
    fn paths_are_elided_in_the_middle_keeping_the_file_name() {
        let p = "/home/someone/.local/share/qpmem/nvdimm-1";
        assert_eq!(elide_path(p, 80), p);
        assert_eq!(elide_path(p, p.len()), p);
        assert_eq!(elide_path(p, 20), "/home/…/nvdimm-1");
        assert_eq!(elide_path(p, 30), "/home/someone/…/nvdimm-1");
        assert_eq!(elide_path(p, 14), "/…/nvdimm-1");
        assert_eq!(elide_path(p, 10), "…/nvdimm-1");
        assert_eq!(elide_path(p, 5), "…mm-1");
        assert_eq!(elide_path("rel/dir/file", 9), "…/file");
        for w in 0..p.len() {
            assert!(elide_path(p, w).chars().count() <= w.max(1), "{w}");
        }
    }
}
