//! Modal dialogs: yes/no confirmations (delete, quit or open over unsaved
//! changes, launching, removing a stored profile), the Save-as, map
//! picture and Rename prompts (the one text input, [`crate::tui::input::Input`]), and the
//! profile picker. Each takes its keys from the key map's scope for it
//! ([`Scope::Confirm`], [`Scope::Input`], [`Scope::Picker`]) and lists
//! them for the help overlay and the status bar.

use super::{is_move, step, DrawCx, Step};
use crate::core::device::DimmKind;
use crate::tui::action::{cmd, Action, Command, Scope, CONFIRM, INPUT, PICKER};
use crate::tui::doc::Doc;
use crate::tui::event::Effect;
use crate::tui::geometry::{centered, inner, list_offset, wrap, Geometry};
use crate::tui::input::{Input, InputOutcome};
use crate::tui::keymap::Keymap;
use crate::tui::panes::status::Hint;
use crate::tui::profiles::{ProfileEntry, ProfileRef};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use std::path::PathBuf;

/// A question's keys.
pub const CONFIRM_COMMANDS: &[Command] = &[
    cmd(Action::Yes, "yes", Some("yes")),
    cmd(Action::No, "no", Some("no")),
];

/// The picker's keys (it moves with the keys of [`Scope::Move`]).
pub const PICKER_COMMANDS: &[Command] = &[
    cmd(Action::Up, "previous profile", None),
    cmd(Action::Down, "next profile", None),
    cmd(
        Action::Choose,
        "open the selected profile (asks first over unsaved changes)",
        Some("open"),
    ),
    cmd(
        Action::RenameProfile,
        "rename a stored profile",
        Some("rename"),
    ),
    cmd(
        Action::RemoveProfile,
        "remove a stored profile (asks first; kept as NAME.ron.bak)",
        Some("remove"),
    ),
    cmd(Action::Cancel, "close the picker", Some("cancel")),
];

/// The add-device chooser's keys (it moves with the keys of
/// [`Scope::Move`]; a kind's number picks it at once).
pub const ADD_COMMANDS: &[Command] = &[
    cmd(Action::Up, "previous kind", None),
    cmd(Action::Down, "next kind", None),
    cmd(
        Action::Choose,
        "add a device of the highlighted kind (1-4 add that row's kind at once)",
        Some("add"),
    ),
    cmd(
        Action::Cancel,
        "close the chooser, adding nothing",
        Some("cancel"),
    ),
];

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

impl Pending {
    /// The question was answered yes.
    fn perform(self, doc: &mut Doc) -> Vec<Effect> {
        match self {
            Pending::Quit => vec![Effect::Quit],
            Pending::Open(r) => vec![Effect::Open(r)],
            Pending::Launch => vec![Effect::StartVm(doc.profile.clone())],
            Pending::RemoveProfile(name) => vec![Effect::RemoveProfile(name)],
            Pending::Delete(i) => {
                doc.delete(i);
                Vec::new()
            }
        }
    }
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
    /// Ask where to write the map's SVG picture.
    SavePicture {
        input: Input,
        error: Option<String>,
    },
    /// A CXL row's value (the CXL pane's Enter).
    CxlValue {
        node: crate::core::cxl::edit::Node,
        what: &'static str,
        input: Input,
        error: Option<String>,
    },
    /// Which kind of device `a` adds: one row per kind.
    AddDevice {
        selected: usize,
    },
    /// Ask for a stored profile's new name.
    Rename {
        from: String,
        input: Input,
        error: Option<String>,
    },
}

/// Where the map's picture goes, or why not there: a path ending in
/// `.svg` (so that a slip of the keyboard never replaces a disk image or a
/// backing file) that is none of the profile's own files.
fn picture_target(text: &str, doc: &Doc) -> Result<PathBuf, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("give a file for the picture".into());
    }
    let path = PathBuf::from(t);
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        return Err(format!("{t}: give a file name ending in .svg"));
    }
    let p = &doc.profile;
    let own = p
        .devices
        .iter()
        .filter_map(|d| d.backend.path())
        .chain(p.kernel.as_deref())
        .chain(p.initrd.as_deref())
        .chain(p.disks.iter().map(PathBuf::as_path));
    if own.into_iter().any(|o| o == path) {
        return Err(format!("{t} is one of the profile's own files"));
    }
    Ok(path)
}

/// Why a name is not a stored profile's name.
fn name_error(text: &str) -> Option<String> {
    crate::store::validate_name(text.trim())
        .err()
        .map(|e| e.to_string())
}

impl Dialog {
    pub fn confirm(question: impl Into<String>, pending: Pending) -> Dialog {
        Dialog::Confirm {
            question: question.into(),
            pending,
        }
    }

    /// A key in the dialog.
    pub fn on_key(self, key: &KeyEvent, keys: &Keymap, doc: &mut Doc) -> Step<Dialog> {
        match self {
            Dialog::Confirm { question, pending } => match keys.action(CONFIRM, key) {
                Some(Action::Yes) => Step::Done(pending.perform(doc)),
                Some(Action::No) => Step::Done(Vec::new()),
                _ => Step::Stay(Dialog::Confirm { question, pending }),
            },
            Dialog::SaveAs { mut input, .. } => match input.handle(key, keys) {
                InputOutcome::Cancel => Step::Done(Vec::new()),
                InputOutcome::Commit => match doc.save_target(&input.text) {
                    Ok((path, name)) => {
                        let profile = doc.profile_to_save_as(&path, name.as_deref());
                        // Renaming (and a new profile's own backing
                        // files) is part of saving, not an undoable edit.
                        doc.profile = profile.clone();
                        doc.name = name.clone();
                        Step::Done(vec![Effect::Save {
                            path,
                            name,
                            profile,
                        }])
                    }
                    Err(e) => Step::Stay(Dialog::SaveAs {
                        input,
                        error: Some(e),
                    }),
                },
                InputOutcome::Edited | InputOutcome::Ignored => {
                    let error = doc.save_target(&input.text).err();
                    Step::Stay(Dialog::SaveAs { input, error })
                }
            },
            Dialog::SavePicture { mut input, .. } => match input.handle(key, keys) {
                InputOutcome::Cancel => Step::Done(Vec::new()),
                InputOutcome::Commit => {
                    match (picture_target(&input.text, doc), &doc.derived.layout) {
                        (Ok(path), Ok(layout)) => Step::Done(vec![Effect::SavePicture {
                            path,
                            svg: crate::core::export::svg::render(&doc.profile, layout),
                        }]),
                        (Err(e), _) => Step::Stay(Dialog::SavePicture {
                            input,
                            error: Some(e),
                        }),
                        (_, Err(e)) => Step::Stay(Dialog::SavePicture {
                            input,
                            error: Some(format!("no map to draw: {e}")),
                        }),
                    }
                }
                InputOutcome::Edited | InputOutcome::Ignored => {
                    let error = picture_target(&input.text, doc).err();
                    Step::Stay(Dialog::SavePicture { input, error })
                }
            },
            Dialog::Rename {
                from, mut input, ..
            } => match input.handle(key, keys) {
                InputOutcome::Cancel => Step::Done(vec![Effect::ListProfiles]),
                InputOutcome::Commit => match name_error(&input.text) {
                    None => Step::Done(vec![Effect::RenameProfile {
                        from,
                        to: input.text.trim().to_string(),
                    }]),
                    error => Step::Stay(Dialog::Rename { from, input, error }),
                },
                InputOutcome::Edited | InputOutcome::Ignored => {
                    let error = name_error(&input.text);
                    Step::Stay(Dialog::Rename { from, input, error })
                }
            },
            Dialog::Picker { entries, selected } => {
                picker_key(entries, selected, keys.action(PICKER, key), doc)
            }
            Dialog::AddDevice { selected } => add_key(selected, key, keys, doc),
            Dialog::CxlValue {
                node,
                what,
                mut input,
                ..
            } => {
                let stay = |input, error| {
                    Step::Stay(Dialog::CxlValue {
                        node,
                        what,
                        input,
                        error,
                    })
                };
                match input.handle(key, keys) {
                    InputOutcome::Cancel => Step::Done(Vec::new()),
                    InputOutcome::Commit => match cxl_value(doc, node, &input.text) {
                        Ok(p) => {
                            doc.commit(p);
                            Step::Done(Vec::new())
                        }
                        Err(e) => stay(input, Some(e)),
                    },
                    InputOutcome::Edited | InputOutcome::Ignored => {
                        let error = cxl_value(doc, node, &input.text).err();
                        stay(input, error)
                    }
                }
            }
        }
    }

    /// Pasted text, typed into a prompt. `false` when this dialog has no
    /// text to type into.
    pub fn paste(&mut self, text: &str, doc: &Doc) -> bool {
        match self {
            Dialog::SaveAs { input, error } => {
                input.paste(text);
                *error = doc.save_target(&input.text).err();
            }
            Dialog::SavePicture { input, error } => {
                input.paste(text);
                *error = picture_target(&input.text, doc).err();
            }
            Dialog::Rename { input, error, .. } => {
                input.paste(text);
                *error = name_error(&input.text);
            }
            Dialog::CxlValue {
                node, input, error, ..
            } => {
                input.paste(text);
                *error = cxl_value(doc, *node, &input.text).err();
            }
            Dialog::Confirm { .. } | Dialog::Picker { .. } | Dialog::AddDevice { .. } => {
                return false
            }
        }
        true
    }

    /// The prompt's input, to keep its cursor in view.
    pub fn input_mut(&mut self) -> Option<&mut Input> {
        match self {
            Dialog::SaveAs { input, .. }
            | Dialog::SavePicture { input, .. }
            | Dialog::Rename { input, .. }
            | Dialog::CxlValue { input, .. } => Some(input),
            Dialog::Confirm { .. } | Dialog::Picker { .. } | Dialog::AddDevice { .. } => None,
        }
    }

    /// The status bar's hints while this dialog is open.
    pub fn hints(&self, keys: &Keymap) -> Vec<Hint> {
        let input = |commit: &'static str| {
            vec![
                (keys.short(INPUT, Action::Commit), commit),
                (keys.short(INPUT, Action::Cancel), "cancel"),
            ]
        };
        match self {
            Dialog::Confirm { .. } => hinted(keys, CONFIRM, CONFIRM_COMMANDS),
            Dialog::SaveAs { .. } | Dialog::SavePicture { .. } => input("save"),
            Dialog::Rename { .. } => input("rename"),
            Dialog::CxlValue { .. } => input("set"),
            Dialog::AddDevice { .. } => {
                let mut out = vec![choose(keys)];
                out.push((format!("1-{}", DimmKind::ALL.len()), "that kind"));
                out.extend(hinted(keys, PICKER, ADD_COMMANDS));
                out
            }
            Dialog::Picker { .. } => {
                let mut out = vec![choose(keys)];
                out.extend(hinted(keys, PICKER, PICKER_COMMANDS));
                out
            }
        }
    }
}

/// A list's "choose" hint: its up/down keys.
fn choose(keys: &Keymap) -> Hint {
    (
        format!(
            "{}/{}",
            keys.short(PICKER, Action::Up),
            keys.short(PICKER, Action::Down)
        ),
        "choose",
    )
}

/// The hints of `commands` that have one, with their short keys.
pub fn hinted(keys: &Keymap, scopes: &[Scope], commands: &[Command]) -> Vec<Hint> {
    commands
        .iter()
        .filter_map(|c| c.hint.map(|h| (keys.short(scopes, c.action), h)))
        .collect()
}

fn picker_key(
    entries: Vec<ProfileEntry>,
    mut selected: usize,
    action: Option<Action>,
    doc: &mut Doc,
) -> Step<Dialog> {
    let stay = |entries, selected| Step::Stay(Dialog::Picker { entries, selected });
    match action {
        Some(Action::Cancel) => Step::Done(Vec::new()),
        Some(Action::Choose) => match entries.get(selected) {
            Some(e) if doc.dirty() => Step::Stay(Dialog::confirm(
                format!("Discard your changes and open {}?", e.name),
                Pending::Open(e.source.clone()),
            )),
            Some(e) => Step::Done(vec![Effect::Open(e.source.clone())]),
            None => Step::Done(Vec::new()),
        },
        Some(a @ (Action::RenameProfile | Action::RemoveProfile)) => match entries.get(selected) {
            Some(e) if e.builtin => {
                doc.complain(format!(
                    "{} is built in: it cannot be renamed or removed (save it under a name first)",
                    e.source.0
                ));
                stay(entries, selected)
            }
            Some(e) if a == Action::RenameProfile => Step::Stay(Dialog::Rename {
                from: e.source.0.clone(),
                input: Input::new(&e.source.0),
                error: None,
            }),
            Some(e) => Step::Stay(Dialog::confirm(
                format!(
                    "Remove the stored profile {}? (it is kept as {}.ron.bak)",
                    e.source.0, e.source.0
                ),
                Pending::RemoveProfile(e.source.0.clone()),
            )),
            None => stay(entries, selected),
        },
        Some(a) if is_move(a) => {
            selected = step(selected, entries.len(), a, 5);
            stay(entries, selected)
        }
        _ => stay(entries, selected),
    }
}

/// The profile with CXL row `node` set to `text`, or why not.
fn cxl_value(
    doc: &Doc,
    node: crate::core::cxl::edit::Node,
    text: &str,
) -> Result<crate::core::profile::Profile, String> {
    let mut p = doc.profile.clone();
    let cxl = p.cxl.as_mut().ok_or("no CXL")?;
    crate::core::cxl::edit::set_value(cxl, node, text)?;
    Ok(p)
}

fn add_key(selected: usize, key: &KeyEvent, keys: &Keymap, doc: &mut Doc) -> Step<Dialog> {
    let add = |doc: &mut Doc, i: usize| {
        if let Some(kind) = DimmKind::ALL.get(i) {
            doc.add_device(*kind);
        }
        Step::Done(Vec::new())
    };
    // A row's number picks it (rows are numbered from 1).
    if let KeyCode::Char(c @ '1'..='9') = key.code {
        let i = (c as usize) - ('1' as usize);
        if i < DimmKind::ALL.len() && key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return add(doc, i);
        }
    }
    match keys.action(PICKER, key) {
        Some(Action::Cancel) => Step::Done(Vec::new()),
        Some(Action::Choose) => add(doc, selected),
        Some(a) if is_move(a) => Step::Stay(Dialog::AddDevice {
            selected: step(selected, DimmKind::ALL.len(), a, DimmKind::ALL.len()),
        }),
        _ => Step::Stay(Dialog::AddDevice { selected }),
    }
}

fn frame<'a>(cx: &DrawCx, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.border(true))
        .title(Span::styled(format!(" {title} "), cx.theme.title()))
}

pub fn draw(f: &mut Frame, g: &Geometry, dialog: &Dialog, cx: &DrawCx) {
    let theme = cx.theme;
    let screen = g.screen;
    match dialog {
        Dialog::Confirm { question, .. } => {
            let w = screen.width.saturating_sub(4).min(76);
            let rows = wrap(question, w.saturating_sub(2) as usize, "");
            let h = (rows.len() as u16 + 4).min(screen.height.saturating_sub(2));
            let area = centered(screen, w, h);
            f.render_widget(Clear, area);
            let block = frame(cx, "Confirm");
            f.render_widget(block, area);
            let mut lines: Vec<Line> = rows
                .into_iter()
                .map(|r| Line::styled(r, theme.text().add_modifier(Modifier::BOLD)))
                .collect();
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled(cx.keys.short(CONFIRM, Action::Yes), theme.key()),
                Span::raw(" yes   "),
                Span::styled(cx.keys.short(CONFIRM, Action::No), theme.key()),
                Span::raw(" no"),
            ]));
            f.render_widget(Paragraph::new(lines), inner(area));
        }
        Dialog::SaveAs { input, error } => {
            let dir = cx
                .doc
                .profiles_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "?".into());
            let prompt = format!("A name (saved in {dir}) or a path ending in .ron:");
            prompt_dialog(f, g.prompt, cx, "Save as", &prompt, input, error.as_deref());
        }
        Dialog::SavePicture { input, error } => {
            let prompt = "A file for the map's SVG picture (relative to where qpmem started):";
            prompt_dialog(
                f,
                g.prompt,
                cx,
                "Save the map's picture",
                prompt,
                input,
                error.as_deref(),
            );
        }
        Dialog::CxlValue {
            node,
            what,
            input,
            error,
        } => {
            let cxl = cx.doc.profile.cxl.clone().unwrap_or_default();
            let prompt = format!(
                "New {what} of {}:",
                crate::core::cxl::edit::describe(&cxl, *node)
            );
            prompt_dialog(f, g.prompt, cx, "CXL", &prompt, input, error.as_deref());
        }
        Dialog::Rename { from, input, error } => {
            let prompt = format!("New name for the stored profile {from}:");
            prompt_dialog(f, g.prompt, cx, "Rename", &prompt, input, error.as_deref());
        }
        Dialog::AddDevice { selected } => {
            let kinds = DimmKind::ALL;
            let h = (kinds.len() as u16 + 2).min(screen.height.saturating_sub(2));
            let area = centered(screen, 76, h);
            f.render_widget(Clear, area);
            f.render_widget(frame(cx, "Add a device"), area);
            let name_w = kinds.iter().map(|k| k.device().len()).max().unwrap_or(8);
            let lines: Vec<Line> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let line = Line::from(vec![
                        Span::styled(format!("{} ", i + 1), theme.key()),
                        Span::styled(format!("{:<name_w$}  ", k.device()), theme.text()),
                        Span::styled(k.spec().about(), theme.dim()),
                    ]);
                    if i == *selected {
                        line.style(theme.selection())
                    } else {
                        line
                    }
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner(area));
        }
        Dialog::Picker { entries, selected } => {
            let h = (entries.len() as u16 + 2).clamp(5, screen.height.saturating_sub(4));
            let area = centered(screen, 76, h);
            f.render_widget(Clear, area);
            let block = frame(cx, "Open a profile");
            let inside = inner(area);
            f.render_widget(block, area);
            let height = inside.height as usize;
            let off = list_offset(*selected, height);
            let name_w = entries
                .iter()
                .map(|e| e.name.chars().count())
                .max()
                .unwrap_or(8);
            let lines: Vec<Line> = entries
                .iter()
                .enumerate()
                .skip(off)
                .take(height)
                .map(|(i, e)| {
                    let line = Line::from(vec![
                        Span::styled(format!("{:<name_w$}  ", e.name), theme.text()),
                        Span::styled(e.summary.clone(), theme.dim()),
                    ]);
                    if i == *selected {
                        line.style(theme.selection())
                    } else {
                        line
                    }
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inside);
        }
    }
}

/// How wide a prompt's input is in `area` (the input scrolls within it).
pub fn prompt_width(area: Rect) -> usize {
    inner(area).width as usize
}

/// A question answered by typing one line: the prompt, the input with its
/// cursor (scrolled to keep it in view), and why the answer is not
/// acceptable yet.
fn prompt_dialog(
    f: &mut Frame,
    area: Rect,
    cx: &DrawCx,
    title: &str,
    prompt: &str,
    input: &Input,
    error: Option<&str>,
) {
    let theme = cx.theme;
    f.render_widget(Clear, area);
    let block = frame(cx, title);
    f.render_widget(block, area);
    let (before, at, after) = input.visible(prompt_width(area));
    let mut lines = vec![
        Line::styled(prompt.to_string(), theme.dim()),
        Line::from(vec![
            Span::styled(before, theme.text()),
            Span::styled(at, theme.text().add_modifier(Modifier::REVERSED)),
            Span::styled(after, theme.text()),
        ]),
    ];
    if let Some(e) = error {
        lines.push(Line::styled(format!("✗ {e}"), theme.error()));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        inner(area),
    );
}
