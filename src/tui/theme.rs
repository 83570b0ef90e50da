//! Themes: RON files in `themes/` (built in with `include_str!`), user
//! themes in `$XDG_CONFIG_HOME/qpmem/themes/NAME.ron`, or any path.
//!
//! Every field of a theme file is optional and falls back to the default
//! theme; a file that cannot be read or parsed is reported (the caller shows
//! the message in the status bar) and the default is used instead. With
//! `NO_COLOR` set no colour is emitted at all: selection and emphasis use
//! reverse video, bold and underline only.

use crate::core::device::DimmKind;
use crate::store::settings::Settings;
use crate::store::Store;
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Theme files larger than this are refused unread (a real one is a few
/// hundred bytes).
const MAX_THEME_BYTES: u64 = 1 << 20;

/// The built-in themes, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.ron")),
    ("light", include_str!("../../themes/light.ron")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.ron"),
    ),
];

/// A theme file as written: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    text: Option<Colour>,
    dim: Option<Colour>,
    title: Option<Colour>,
    border: Option<Colour>,
    border_focused: Option<Colour>,
    selection_fg: Option<Colour>,
    selection_bg: Option<Colour>,
    key: Option<Colour>,
    status_fg: Option<Colour>,
    status_bg: Option<Colour>,
    ram: Option<Colour>,
    hole: Option<Colour>,
    device_memory: Option<Colour>,
    dimms: Option<Vec<Colour>>,
    kinds: Option<BTreeMap<String, Vec<Colour>>>,
    cxl: Option<Colour>,
    dimm_text: Option<Colour>,
    label_area: Option<Colour>,
    tail: Option<Colour>,
    ruler: Option<Colour>,
    ok: Option<Colour>,
    note: Option<Colour>,
    warning: Option<Colour>,
    error: Option<Colour>,
}

/// A colour as a theme file writes it: a string (`"cyan"`, `"208"`,
/// `"#rrggbb"`) or a bare number (`208`), which is an index 0-255.
#[derive(Debug)]
struct Colour {
    text: String,
    number: bool,
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Colour, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Colour;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a colour: an ANSI name, 0-255 or \"#rrggbb\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Colour, E> {
                Ok(Colour {
                    text: v.to_string(),
                    number: false,
                })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Colour, E> {
                Ok(Colour {
                    text: v.to_string(),
                    number: true,
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Colour, E> {
                Ok(Colour {
                    text: v.to_string(),
                    number: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A resolved theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// No colour at all (NO_COLOR): styles use modifiers only.
    pub no_color: bool,
    pub text: Color,
    pub dim: Color,
    pub title: Color,
    pub border: Color,
    pub border_focused: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub key: Color,
    pub status_fg: Color,
    pub status_bg: Color,
    pub ram: Color,
    pub hole: Color,
    pub device_memory: Color,
    /// The devices' colours, taken in turn (NVDIMMs, and any kind
    /// without colours of its own in `kinds`).
    pub dimms: Vec<Color>,
    /// Colours of a kind of its own, by its name in the map (`pc-dimm`,
    /// `virtio-pmem`, `virtio-mem`), so that each kind has its colour.
    pub kinds: BTreeMap<String, Vec<Color>>,
    /// CXL fixed memory windows on the map.
    pub cxl: Color,
    pub dimm_text: Color,
    pub label_area: Color,
    pub tail: Color,
    pub ruler: Color,
    pub ok: Color,
    pub note: Color,
    pub warning: Color,
    pub error: Color,
}

fn color(field: &str, value: &Colour) -> Result<Color, String> {
    let bad = || {
        let written = if value.number {
            value.text.clone()
        } else {
            format!("\"{}\"", value.text)
        };
        format!("{field}: {written} is not a colour (use an ANSI name, 0-255 or #rrggbb)")
    };
    if value.number {
        // A bare number is an index, never an RGB value.
        return value
            .text
            .parse::<u8>()
            .map(Color::Indexed)
            .map_err(|_| bad());
    }
    Color::from_str(&value.text).map_err(|_| bad())
}

impl Theme {
    /// The default theme (16 ANSI colours).
    pub fn default_theme() -> Theme {
        let base = Theme {
            no_color: false,
            text: Color::Reset,
            dim: Color::DarkGray,
            title: Color::Cyan,
            border: Color::DarkGray,
            border_focused: Color::Cyan,
            selection_fg: Color::Black,
            selection_bg: Color::Cyan,
            key: Color::Cyan,
            status_fg: Color::Reset,
            status_bg: Color::Reset,
            ram: Color::Blue,
            hole: Color::DarkGray,
            device_memory: Color::DarkGray,
            dimms: vec![Color::Green, Color::Magenta],
            kinds: BTreeMap::new(),
            cxl: Color::LightCyan,
            dimm_text: Color::Black,
            label_area: Color::DarkGray,
            tail: Color::DarkGray,
            ruler: Color::DarkGray,
            ok: Color::Green,
            note: Color::Blue,
            warning: Color::Yellow,
            error: Color::Red,
        };
        // The shipped default file is authoritative; the literal above only
        // backs it up (a test checks the file parses).
        Theme::parse_over(base.clone(), BUILTIN[0].1).unwrap_or(base)
    }

    /// The built-in theme after this one (the first after one that is not
    /// built in), keeping NO_COLOR: its name and the theme.
    pub fn next_builtin(&self) -> (&'static str, Theme) {
        let plain = Theme {
            no_color: false,
            ..self.clone()
        };
        let at = BUILTIN
            .iter()
            .position(|(_, text)| Theme::parse(text).as_ref() == Ok(&plain));
        let (name, text) = BUILTIN[at.map_or(0, |i| (i + 1) % BUILTIN.len())];
        let theme = Theme::parse(text).unwrap_or_else(|_| Theme::default_theme());
        (
            name,
            Theme {
                no_color: self.no_color,
                ..theme
            },
        )
    }

    /// A theme with no colour, for NO_COLOR.
    pub fn no_color() -> Theme {
        Theme {
            no_color: true,
            ..Theme::default_theme()
        }
    }

    /// Parse theme text over `base`; unknown fields and bad colours are errors.
    fn parse_over(base: Theme, text: &str) -> Result<Theme, String> {
        let file: ThemeFile = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .map_err(|e| format!("{}:{}: {}", e.span.start.line, e.span.start.col, e.code))?;
        let mut t = base;
        macro_rules! set {
            ($($f:ident),*) => {$(
                if let Some(v) = &file.$f { t.$f = color(stringify!($f), v)?; }
            )*};
        }
        set!(
            text,
            dim,
            title,
            border,
            border_focused,
            selection_fg,
            selection_bg,
            key,
            status_fg,
            status_bg,
            ram,
            hole,
            device_memory,
            cxl,
            dimm_text,
            label_area,
            tail,
            ruler,
            ok,
            note,
            warning,
            error
        );
        if let Some(list) = &file.dimms {
            if list.is_empty() {
                return Err("dimms: give at least one colour".to_string());
            }
            t.dimms = list
                .iter()
                .map(|v| color("dimms", v))
                .collect::<Result<_, _>>()?;
        }
        if let Some(kinds) = &file.kinds {
            for (kind, list) in kinds {
                let known = DimmKind::ALL.iter().any(|k| k.spec().name() == kind);
                if !known {
                    let names: Vec<&str> = DimmKind::ALL.iter().map(|k| k.spec().name()).collect();
                    return Err(format!(
                        "kinds: \"{kind}\" is not a device kind ({})",
                        names.join(", ")
                    ));
                }
                if list.is_empty() {
                    return Err(format!("kinds: give {kind} at least one colour"));
                }
                let colours = list
                    .iter()
                    .map(|v| color("kinds", v))
                    .collect::<Result<_, _>>()?;
                t.kinds.insert(kind.clone(), colours);
            }
        }
        Ok(t)
    }

    /// Theme text over the default theme.
    pub fn parse(text: &str) -> Result<Theme, String> {
        Theme::parse_over(Theme::default_theme(), text)
    }

    /// Resolve `--theme NAME|PATH`: a path (has a `/` or ends in `.ron`),
    /// else a user theme in `config_dir/themes/NAME.ron`, else a built-in
    /// one. Returns the theme and, when it fell back to the default, why.
    /// `no_color` (NO_COLOR set) wins over any theme.
    pub fn load(
        wanted: Option<&str>,
        config_dir: Option<&Path>,
        no_color: bool,
    ) -> (Theme, Option<String>) {
        if no_color {
            return (Theme::no_color(), None);
        }
        let Some(wanted) = wanted else {
            return (Theme::default_theme(), None);
        };
        match Theme::find(wanted, config_dir) {
            Ok(t) => (t, None),
            Err(e) => (
                Theme::default_theme(),
                Some(format!("theme {wanted}: {e}; using the default theme")),
            ),
        }
    }

    /// The theme a full-screen view (the editor, `qpmem launch`) draws
    /// with: `--theme` (`wanted`), else the `theme` of `config.ron`, else
    /// the default; [`Theme::load`] with `NO_COLOR` read from the
    /// environment. A settings file that cannot be read is reported.
    pub fn for_terminal(wanted: Option<&str>, store: Option<&Store>) -> (Theme, Option<String>) {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme::resolve(wanted, store, no_color)
    }

    /// [`Theme::for_terminal`] with `no_color` given.
    pub fn resolve(
        wanted: Option<&str>,
        store: Option<&Store>,
        no_color: bool,
    ) -> (Theme, Option<String>) {
        let (configured, problem) = match (wanted, store) {
            (None, Some(store)) => match Settings::load(store) {
                Ok(s) => (s.theme, None),
                Err(e) => (None, Some(format!("{e}; its theme is not used"))),
            },
            _ => (None, None),
        };
        let (theme, why) = Theme::load(
            wanted.or(configured.as_deref()),
            store.map(Store::config_dir),
            no_color,
        );
        (theme, why.or(problem))
    }

    fn find(wanted: &str, config_dir: Option<&Path>) -> Result<Theme, String> {
        let read = |p: &Path| -> Result<Theme, String> {
            let bytes =
                crate::files::read_regular(p, MAX_THEME_BYTES).map_err(|e| e.to_string())?;
            let text = String::from_utf8(bytes)
                .map_err(|e| format!("{}: not UTF-8 text ({e})", p.display()))?;
            Theme::parse(&text).map_err(|e| format!("{}:{e}", p.display()))
        };
        if wanted.contains('/') || wanted.ends_with(".ron") {
            return read(Path::new(wanted));
        }
        if let Some(dir) = config_dir {
            let user: PathBuf = dir.join("themes").join(format!("{wanted}.ron"));
            if user.is_file() {
                return read(&user);
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == wanted) {
            Some((_, text)) => Theme::parse(text),
            None => Err(format!(
                "no such theme (built in: {}; or put NAME.ron in the themes directory)",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    fn bg(&self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().bg(c)
        }
    }

    pub fn text(&self) -> Style {
        self.fg(self.text)
    }
    pub fn dim(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            self.fg(self.dim)
        }
    }
    pub fn title(&self) -> Style {
        self.fg(self.title).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(self.border_focused).add_modifier(Modifier::BOLD)
        } else {
            self.fg(self.border)
        }
    }
    /// The selected row of a focused list.
    pub fn selection(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .fg(self.selection_fg)
                .bg(self.selection_bg)
                .add_modifier(Modifier::BOLD)
        }
    }
    /// The selected row of a list without focus.
    pub fn selection_unfocused(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
    pub fn key(&self) -> Style {
        self.fg(self.key).add_modifier(Modifier::BOLD)
    }
    pub fn status(&self) -> Style {
        self.fg(self.status_fg).patch(self.bg(self.status_bg))
    }
    pub fn ok(&self) -> Style {
        self.fg(self.ok)
    }
    pub fn note(&self) -> Style {
        self.fg(self.note)
    }
    pub fn warning(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            self.fg(self.warning).add_modifier(Modifier::BOLD)
        }
    }
    pub fn error(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            self.fg(self.error).add_modifier(Modifier::BOLD)
        }
    }
    /// A filled block on the map (RAM, a DIMM, ...).
    pub fn block(&self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().bg(c).fg(self.dimm_text)
        }
    }
    /// A status badge in colour `c` (the launch view's `running`,
    /// `paused`...): reverse video without colour.
    pub fn badge(&self, c: Color) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .bg(c)
                .fg(self.dimm_text)
                .add_modifier(Modifier::BOLD)
        }
    }
    /// The colour of device `n` (its place in the profile), of `kind`: the
    /// kind's own colours when the theme has them, else the DIMMs', in
    /// turn so that neighbours differ.
    pub fn device(&self, kind: DimmKind, n: usize) -> Color {
        let list = self
            .kinds
            .get(kind.spec().name())
            .filter(|l| !l.is_empty())
            .unwrap_or(&self.dimms);
        list.get(n % list.len().max(1))
            .copied()
            .unwrap_or(Color::Green)
    }
    /// A misaligned DIMM edge on the map.
    pub fn warning_block(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .bg(self.warning)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD)
        }
    }
    pub fn shaded(&self, c: Color) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            Style::default().fg(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_theme_that_is_a_fifo_or_a_device_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.ron");
        crate::testutil::mkfifo(&fifo);
        let wanted = fifo.display().to_string();
        let e =
            crate::testutil::promptly(move || Theme::find(&wanted, None).map(|_| ())).unwrap_err();
        assert_eq!(
            e,
            format!("{} is a FIFO, not a regular file", fifo.display())
        );
        let e = Theme::find("/dev/zero", None).unwrap_err();
        assert!(
            e.ends_with("is a character device, not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn builtin_themes_parse() {
        for (name, text) in BUILTIN {
            Theme::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(Theme::default_theme().warning, Color::Yellow);
        assert_eq!(Theme::default_theme().dimms.len(), 6);
    }

    #[test]
    fn the_cycle_visits_every_builtin_theme_and_keeps_no_color() {
        let mut t = Theme::default_theme();
        let mut names = Vec::new();
        for _ in 0..BUILTIN.len() {
            let (name, next) = t.next_builtin();
            assert_ne!(next, t, "{name} looks like the theme before it");
            names.push(name);
            t = next;
        }
        assert_eq!(names, ["light", "high-contrast", "default"]);
        assert_eq!(t, Theme::default_theme());
        // A user's theme is not built in: the cycle starts over.
        let mine = Theme::parse("(ok: \"#102030\")").unwrap();
        assert_eq!(mine.next_builtin().0, "default");
        let (_, t) = Theme::no_color().next_builtin();
        assert!(t.no_color);
    }

    #[test]
    fn every_field_is_optional() {
        let t = Theme::parse("(warning: \"magenta\")").unwrap();
        assert_eq!(t.warning, Color::Magenta);
        assert_eq!(t.error, Theme::default_theme().error);
        assert_eq!(Theme::parse("()").unwrap(), Theme::default_theme());
    }

    #[test]
    fn colours_are_names_strings_or_bare_numbers() {
        let t =
            Theme::parse("(warning: 208, error: \"196\", ok: \"#102030\", dimms: [1, \"red\"])")
                .unwrap();
        assert_eq!(t.warning, Color::Indexed(208));
        assert_eq!(t.error, Color::Indexed(196));
        assert_eq!(t.ok, Color::Rgb(0x10, 0x20, 0x30));
        assert_eq!(t.dimms, vec![Color::Indexed(1), Color::Red]);
        for (text, msg) in [
            ("(warning: 256)", "warning: 256 is not a colour"),
            ("(warning: -1)", "warning: -1 is not a colour"),
            ("(dimms: [300])", "dimms: 300 is not a colour"),
        ] {
            let e = Theme::parse(text).unwrap_err();
            assert!(e.starts_with(msg), "{text}: {e}");
        }
        assert!(Theme::parse("(warning: 1.5)").is_err());
    }

    #[test]
    fn the_theme_in_config_ron_is_used_unless_theme_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("config"), dir.path().join("data"));
        let light = Theme::load(Some("light"), None, false).0;
        let contrast = Theme::load(Some("high-contrast"), None, false).0;
        assert_ne!(light, Theme::default_theme());
        // No settings file: the default.
        let resolve = |wanted| Theme::resolve(wanted, Some(&store), false);
        assert_eq!(resolve(None), (Theme::default_theme(), None));
        Settings::set_theme(&store, Some("light")).unwrap();
        let text = std::fs::read_to_string(store.settings_path()).unwrap();
        assert!(text.contains("theme: \"light\""), "{text}");
        assert_eq!(resolve(None), (light, None));
        assert_eq!(resolve(Some("high-contrast")), (contrast, None));
        // NO_COLOR still wins.
        assert!(Theme::resolve(None, Some(&store), true).0.no_color);
        // A settings file that cannot be read is said, not hidden.
        std::fs::write(store.settings_path(), "(theme: 3)").unwrap();
        let (t, why) = resolve(None);
        assert_eq!(t, Theme::default_theme());
        assert!(why.unwrap().contains("config.ron"));
    }

    #[test]
    fn bad_themes_fall_back_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.ron");
        std::fs::write(&bad, "(warning: \"not-a-colour\")").unwrap();
        let (t, msg) = Theme::load(bad.to_str(), None, false);
        assert_eq!(t, Theme::default_theme());
        let msg = msg.unwrap();
        assert!(
            msg.contains("warning") && msg.contains("not-a-colour"),
            "{msg}"
        );
        let (_, msg) = Theme::load(Some("nosuch"), Some(dir.path()), false);
        assert!(msg.unwrap().contains("no such theme"));
        std::fs::write(&bad, "(bogus: 1)").unwrap();
        let (_, msg) = Theme::load(bad.to_str(), None, false);
        assert!(msg.unwrap().contains("bogus"));
    }

    #[test]
    fn user_themes_and_no_color() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/mine.ron"), "(ok: \"#102030\")").unwrap();
        let (t, msg) = Theme::load(Some("mine"), Some(dir.path()), false);
        assert_eq!(msg, None);
        assert_eq!(t.ok, Color::Rgb(0x10, 0x20, 0x30));
        let (t, _) = Theme::load(Some("light"), None, false);
        assert_eq!(t.selection_bg, Color::Blue);
        let (t, _) = Theme::load(Some("light"), None, true);
        assert!(t.no_color);
        assert_eq!(t.selection().bg, None);
        assert!(t.selection().add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn kinds_have_colours_of_their_own_and_unknown_kinds_are_refused() {
        let t = Theme::parse(r#"(kinds: { "virtio-pmem": ["red", 208] })"#).unwrap();
        assert_eq!(t.device(DimmKind::VirtioPmem, 0), Color::Red);
        assert_eq!(t.device(DimmKind::VirtioPmem, 1), Color::Indexed(208));
        // A kind without its own colours takes the DIMMs' in turn.
        assert_eq!(t.device(DimmKind::Nvdimm, 1), t.dimms[1 % t.dimms.len()]);
        let e = Theme::parse(r#"(kinds: { "virtio-blk": ["red"] })"#).unwrap_err();
        assert!(e.contains("\"virtio-blk\" is not a device kind"), "{e}");
        let e = Theme::parse(r#"(kinds: { "pc-dimm": [] })"#).unwrap_err();
        assert!(e.contains("give pc-dimm at least one colour"), "{e}");
        // Every built-in theme gives every kind but the NVDIMM its own.
        for (name, text) in BUILTIN {
            let t = Theme::parse(text).unwrap();
            for k in DimmKind::ALL.iter().filter(|k| **k != DimmKind::Nvdimm) {
                assert!(t.kinds.contains_key(k.spec().name()), "{name}: {k:?}");
            }
        }
    }
}
