//! A pasted QEMU command line -> a profile.
//!
//! Shell quoting and backslash-newlines are undone first; the binary in
//! front is optional. `-machine`, `-m`, `-smp`, `-kernel`, `-initrd`,
//! `-append`, memory backends and `nvdimm`/`pc-dimm` devices become
//! profile fields, in QemuOpts syntax (`key=value,...`, `,,` for a
//! comma, bare booleans) or JSON (`-object '{"qom-type":...}'`,
//! `-device '{"driver":...}'`, as libvirt writes them); every other
//! option is kept verbatim, in order, so the rendered profile is an
//! equivalent command line.
//!
//! The line is judged as pasted: what QEMU would refuse or warn about in
//! *that* line (a missing `nvdimm=on`, a bare boolean on `-machine`, a
//! property no QEMU knows, a single comma in a path) becomes an
//! [`ImportNote`], and the diagnostics turn each into an error or a
//! warning naming it. Values qpmem fills in itself (`slots=`, `maxmem=`
//! when the line has devices but not these) are recorded as notes too,
//! so the line is not mistaken for the profile qpmem would render.

mod cxl;

use super::{split_opts, unescape};
use crate::core::device::Setting;
use crate::core::profile::{
    is_valid_id, Addr, Auto, Backend, Dimm, DimmKind, NumaDistance, NumaMemory, NumaNode, Profile,
    Syntax,
};
use crate::core::qemu::props::Group;
use crate::core::size::{parse_size_detailed, BareUnit, Size};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Something about the pasted line worth telling the user: QEMU would
/// have refused or warned about it, and qpmem's rendering differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportNote {
    /// A stable key the diagnostics map to a rule.
    pub kind: ImportNoteKind,
    /// The option it concerns (`-machine`, `mem1`).
    pub subject: String,
    /// More about it: a did-you-mean, the text around a stray comma.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl ImportNote {
    fn new(kind: ImportNoteKind, subject: impl Into<String>) -> ImportNote {
        ImportNote {
            kind,
            subject: subject.into(),
            detail: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportNoteKind {
    /// `nvdimm=on` missing on `-machine` while NVDIMMs are used.
    MissingNvdimmOn,
    /// `-m` had no `slots=`.
    MissingSlots,
    /// `-m` had no `maxmem=`.
    MissingMaxmem,
    /// A bare boolean (`share` instead of `share=on`); subject `OPTION KEY`.
    BareBoolean,
    /// A property no QEMU release has in that group; subject `OPTION KEY`,
    /// detail the nearest real name, if any.
    UnknownProperty,
    /// A piece without `=` right after a path: a single comma inside the
    /// path; subject `OPTION KEY`, detail the path as QEMU would read it.
    StrayComma,
    /// A hexadecimal size with a unit suffix (`0x10M`); subject `OPTION KEY`.
    HexSizeSuffix,
    /// `-machine memory-backend=ID` names no backend of the line, or one
    /// whose size is not `-m`'s; subject the id, detail the backend's
    /// size (empty when there is no such backend).
    MachineBackend,
    /// CXL devices or windows without `cxl=on` on `-machine`.
    MissingCxlOn,
    /// Something in an imported libvirt domain that qpmem neither models
    /// nor keeps; subject the element or device, detail what is lost.
    LibvirtNotCarried,
}

/// Why a pasted command line could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("--cmdline: unbalanced quotes or a trailing backslash")]
    Unbalanced,
    #[error("--cmdline: empty command line")]
    Empty,
    #[error("--cmdline: {0}")]
    BadString(#[from] crate::core::profile::StringError),
    #[error("{option}: missing value")]
    MissingValue { option: String },
    #[error("--cmdline: this is not a QEMU command line: it starts with {program:?}, not qemu-system-x86_64 (or another qemu binary) or an option")]
    NotQemu { program: String },
    #[error("{option} {key}={value}: {reason}")]
    BadValue {
        option: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{option}: '{id}' is not a valid id (a letter, then letters, digits, '-', '.', '_')")]
    BadId { option: String, id: String },
    #[error("{option}: duplicate id '{id}'")]
    DuplicateId { option: String, id: String },
    #[error("-device {device} id={id}: memdev '{memdev}' is not defined by any -object")]
    UnknownMemdev {
        device: String,
        id: String,
        memdev: String,
    },
    #[error("{option} '{text}': not valid JSON: {reason}")]
    BadJson {
        option: String,
        text: String,
        reason: String,
    },
    #[error("{option} {key}: expected {expected}, got {value}")]
    JsonType {
        option: String,
        key: String,
        expected: &'static str,
        value: String,
    },
    #[error("-numa node: memdev={memdev} is not defined by any -object memory-backend-*")]
    UnknownNumaMemdev { memdev: String },
    #[error("-device {device}: missing memdev=")]
    MissingMemdev { device: String },
    #[error("-object {object} id={id}: missing {what}=")]
    MissingProperty {
        object: String,
        id: String,
        what: String,
    },
}

/// Options that take no value.
const FLAGS: &[&str] = &[
    "S",
    "s",
    "nographic",
    "no-reboot",
    "no-shutdown",
    "snapshot",
    "enable-kvm",
    "daemonize",
    "nodefaults",
    "no-hpet",
    "no-acpi",
    "full-screen",
    "no-user-config",
    "version",
    "help",
    "h",
    "preconfig",
    "only-migratable",
    "no-fd-bootchk",
    "alt-grab",
    "ctrl-grab",
    "win2k-hack",
    "no-quit",
];

struct Backing {
    kind: String,
    id: String,
    path: Option<PathBuf>,
    size: Option<Size>,
    share: bool,
    align: Option<Size>,
    pmem: bool,
    readonly: bool,
    discard_data: bool,
    extra: Vec<String>,
    /// Every property but `id` and `size`, as written (what a NUMA
    /// node's backend keeps).
    others: Vec<String>,
    /// The option's value as pasted, put back among the extra arguments
    /// if no device uses the backend.
    raw: String,
    used: bool,
}

/// One property as written: `key=value`, or a bare `key` (`None`). The
/// value is unescaped (`,,` read as `,`); JSON values are turned into
/// the text QemuOpts would carry (`true` -> `on`).
struct Piece {
    key: String,
    value: Option<String>,
    /// How to write it back among the unmodelled options (QemuOpts text).
    raw: String,
    /// The value as JSON gave it, typed.
    json: Option<serde_json::Value>,
}

/// An option's value read as QemuOpts or as a JSON object.
struct Parsed {
    /// The implied first value (`memory-backend-file`, `nvdimm`, `pc`), or
    /// JSON's `qom-type`/`driver`.
    head: String,
    pieces: Vec<Piece>,
    json: bool,
}

/// Read `value` as the QemuOpts `a,key=v,flag` or, when it starts with
/// `{`, as JSON with `head_key` (`qom-type`, `driver`) naming the type.
fn parse_value(option: &str, value: &str, head_key: &str) -> Result<Parsed, ImportError> {
    if value.trim_start().starts_with('{') {
        return parse_json(option, value, head_key);
    }
    let mut all = split_opts(value).into_iter();
    let first = all.next().unwrap_or_default();
    let (head, mut pieces) = match first.split_once('=') {
        // `-object qom-type=...` or `-machine type=pc`: no implied value.
        Some((k, v)) if k == head_key || k == "type" => (unescape(v), Vec::new()),
        Some(_) => (String::new(), vec![piece(&first)]),
        None => (unescape(&first), Vec::new()),
    };
    pieces.extend(all.map(|p| piece(&p)));
    Ok(Parsed {
        head,
        pieces,
        json: false,
    })
}

fn piece(raw: &str) -> Piece {
    let (key, value) = key_value(raw);
    Piece {
        key,
        value,
        raw: raw.to_string(),
        json: None,
    }
}

fn parse_json(option: &str, value: &str, head_key: &str) -> Result<Parsed, ImportError> {
    let shown = || crate::core::printable::printable(value).into_owned();
    let v: serde_json::Value = serde_json::from_str(value).map_err(|e| ImportError::BadJson {
        option: option.to_string(),
        text: shown(),
        reason: e.to_string(),
    })?;
    let serde_json::Value::Object(map) = v else {
        return Err(ImportError::BadJson {
            option: option.to_string(),
            text: shown(),
            reason: "not a JSON object".into(),
        });
    };
    let mut head = String::new();
    let mut pieces = Vec::new();
    for (key, v) in map {
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        if key == head_key {
            head = text;
            continue;
        }
        pieces.push(Piece {
            raw: format!("{}={}", key, super::escape_value(&json_option_text(&v))),
            key,
            value: Some(text),
            json: Some(v),
        });
    }
    Ok(Parsed {
        head,
        pieces,
        json: true,
    })
}

/// A JSON value kept among the unmodelled options: QemuOpts text for
/// scalars (`prealloc=on`), JSON text for lists and objects
/// (`host-nodes=[0]`), which [`super::render`] writes back as JSON.
fn json_option_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        other => other.to_string(),
    }
}

/// JSON's types are strict: a size or a number must be a JSON number,
/// a boolean `true`/`false` (QEMU: "Parameter 'size' expects uint64").
fn json_typed(option: &str, p: &Piece) -> Result<(), ImportError> {
    let Some(v) = &p.json else { return Ok(()) };
    let expected = match p.key.as_str() {
        "size" | "align" | "label-size" | "slot" | "node" | "addr" | "memaddr" | "block-size"
        | "requested-size"
            if !v.is_u64() =>
        {
            "a non-negative JSON number"
        }
        "share" | "pmem" | "readonly" | "discard-data" | "unarmed" | "prealloc"
            if !v.is_boolean() =>
        {
            "true or false"
        }
        "id" | "mem-path" | "memdev" if !v.is_string() => "a JSON string",
        _ => return Ok(()),
    };
    Err(ImportError::JsonType {
        option: option.to_string(),
        key: p.key.clone(),
        expected,
        value: crate::core::printable::printable(&v.to_string()).into_owned(),
    })
}

impl Backing {
    /// The properties a CXL backend keeps verbatim: all but `id`, `size`,
    /// `mem-path` and `share`, which it holds as fields.
    fn cxl_options(&self) -> Vec<String> {
        self.others
            .iter()
            .filter(|o| {
                let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k);
                !matches!(key, "mem-path" | "share")
            })
            .cloned()
            .collect()
    }
}

/// What the whole line said about memory hotplug, and what qpmem filled in.
#[derive(Default)]
struct Seen {
    nvdimm_on: bool,
    m: bool,
    smp: bool,
    json: bool,
    /// `cxl=on` on `-machine`.
    cxl_on: bool,
    /// `cxl` given at all (on or off).
    cxl_given: bool,
    cxl_windows: BTreeMap<usize, cxl::WindowParts>,
}

/// Parse a pasted QEMU command line into a profile plus notes.
pub fn import(text: &str) -> Result<(Profile, Vec<ImportNote>), ImportError> {
    let joined = text.replace("\\\r\n", "").replace("\\\n", "");
    let words = shlex::split(&joined).ok_or(ImportError::Unbalanced)?;
    if words.is_empty() {
        return Err(ImportError::Empty);
    }
    let mut profile = Profile::empty("imported");
    let mut notes = Vec::new();
    let mut rest = words.as_slice();
    let mut binary: Option<String> = None;
    if let Some(first) = rest.first() {
        if !first.starts_with('-') {
            let name = Path::new(first)
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            if !name.starts_with("qemu") {
                return Err(ImportError::NotQemu {
                    program: crate::core::printable::printable(first).into_owned(),
                });
            }
            binary = Some(first.clone());
            rest = &rest[1..];
        }
    }

    let mut seen = Seen::default();
    let mut backends: Vec<Backing> = Vec::new();
    // (kind, option as written, device props) in order; resolved after
    // all objects are known.
    let mut devices: Vec<(DimmKind, Parsed)> = Vec::new();
    // `-numa node` and `-numa dist`, resolved after all objects are known.
    let mut numa: Vec<Parsed> = Vec::new();
    // Placeholders in extra_args where unused backends would go back.
    let mut extra: Vec<ExtraItem> = Vec::new();
    // CXL devices, built into the tree once all objects are known.
    let mut cxl_pending: Vec<cxl::Pending> = Vec::new();

    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        i += 1;
        let Some(name) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            extra.push(ExtraItem::Arg(word.clone()));
            continue;
        };
        if FLAGS.contains(&name) {
            extra.push(ExtraItem::Arg(word.clone()));
            continue;
        }
        let value = rest
            .get(i)
            .cloned()
            .ok_or_else(|| ImportError::MissingValue {
                option: word.clone(),
            })?;
        i += 1;
        match name {
            "machine" | "M" => import_machine(&mut profile, &value, &mut seen, &mut notes)?,
            "m" => {
                seen.m = true;
                import_m(&mut profile, &value, &mut notes)?;
            }
            "smp" => {
                seen.smp = true;
                import_smp(&mut profile, word, &value, &mut extra);
            }
            "numa" => {
                let parsed = parse_value("-numa", &value, "type")?;
                if let Some(group) = Group::of_numa(&parsed.head) {
                    let subject = format!("-numa {}", parsed.head);
                    check_keys(group, &subject, &subject, &parsed.pieces, &mut notes);
                }
                match parsed.head.as_str() {
                    "node" => numa.push(parsed),
                    "dist" => profile
                        .numa_distances
                        .push(import_numa_dist(&parsed.pieces)?),
                    // cpu, hmat-lb, hmat-cache: kept verbatim (the rules
                    // still check the nodes they name).
                    _ => {
                        extra.push(ExtraItem::Arg(word.clone()));
                        extra.push(ExtraItem::Arg(value));
                    }
                }
            }
            "kernel" => profile.kernel = Some(PathBuf::from(value)),
            "initrd" => profile.initrd = Some(PathBuf::from(value)),
            "append" => profile.append = Some(value),
            "object" => {
                let parsed = parse_value("-object", &value, "qom-type")?;
                if !matches!(
                    parsed.head.as_str(),
                    "memory-backend-file" | "memory-backend-ram" | "memory-backend-memfd"
                ) {
                    extra.push(ExtraItem::Arg(word.clone()));
                    extra.push(ExtraItem::Arg(value));
                    continue;
                }
                seen.json |= parsed.json;
                let b = import_backend(parsed, &value, &mut notes)?;
                if backends.iter().any(|o| o.id == b.id) {
                    return Err(ImportError::DuplicateId {
                        option: "-object".into(),
                        id: b.id,
                    });
                }
                extra.push(ExtraItem::Backend(b.id.clone()));
                backends.push(b);
            }
            "device" => {
                let parsed = parse_value("-device", &value, "driver")?;
                if cxl::is_cxl_driver(&parsed.head) {
                    seen.json |= parsed.json;
                    extra.push(ExtraItem::Cxl(cxl_pending.len(), word.clone(), value));
                    cxl_pending.push(cxl::Pending { parsed });
                    continue;
                }
                let Some(kind) = DimmKind::from_driver(&parsed.head) else {
                    extra.push(ExtraItem::Arg(word.clone()));
                    extra.push(ExtraItem::Arg(value));
                    continue;
                };
                seen.json |= parsed.json;
                devices.push((kind, parsed));
            }
            _ => {
                extra.push(ExtraItem::Arg(word.clone()));
                extra.push(ExtraItem::Arg(value));
            }
        }
    }

    for parsed in numa {
        let node = import_numa_node(parsed, &mut backends, &mut notes)?;
        profile.numa.push(node);
    }
    for (kind, parsed) in devices {
        let dimm = import_device(kind, parsed, &mut backends, &mut notes)?;
        if !dimm.id.is_empty() && profile.devices.iter().any(|d| d.id == dimm.id) {
            return Err(ImportError::DuplicateId {
                option: format!("-device {}", kind.device()),
                id: dimm.id,
            });
        }
        profile.devices.push(dimm);
    }
    let mut tree = crate::core::cxl::Cxl {
        windows: cxl::windows(std::mem::take(&mut seen.cxl_windows))?,
        ..Default::default()
    };
    let taken = cxl::build(&mut tree, cxl_pending, &mut backends, &mut notes)?;
    let in_tree = taken.iter().any(|t| *t);
    if in_tree || !tree.windows.is_empty() || seen.cxl_on {
        // QEMU refuses host bridges without cxl=on; windows alone it
        // ignores.
        if !seen.cxl_on && !tree.host_bridges.is_empty() {
            notes.push(ImportNote::new(ImportNoteKind::MissingCxlOn, "-machine"));
        }
        profile.cxl = Some(tree);
    } else if seen.cxl_given {
        // `cxl=off` alone: keep it as written.
        profile.machine_options.push("cxl=off".into());
    }
    // -machine memory-backend=ID: the guest's RAM is that backend, which
    // must exist and be as large as -m (hw/core/machine.c).
    let machine_backend = profile
        .machine_options
        .iter()
        .find_map(|o| o.strip_prefix("memory-backend="))
        .map(str::to_string);
    if let Some(id) = machine_backend {
        match backends.iter().find(|b| b.id == id) {
            None => notes.push(ImportNote::new(ImportNoteKind::MachineBackend, id)),
            Some(b) => {
                if let Some(size) = b.size.filter(|s| seen.m && *s != profile.ram) {
                    notes.push(ImportNote {
                        detail: crate::core::size::format_qemu(size.0),
                        ..ImportNote::new(ImportNoteKind::MachineBackend, id)
                    });
                }
            }
        }
    }
    profile.extra_args = extra
        .into_iter()
        .flat_map(|item| match item {
            ExtraItem::Arg(a) => vec![a],
            ExtraItem::Cxl(n, word, value) => {
                if taken.get(n).copied().unwrap_or(false) {
                    Vec::new()
                } else {
                    vec![word, value]
                }
            }
            ExtraItem::Backend(id) => backends
                .iter()
                .find(|b| b.id == id && !b.used)
                .map(|b| vec!["-object".to_string(), b.raw.clone()])
                .unwrap_or_default(),
        })
        .collect();
    if seen.json {
        profile.syntax = Syntax::Json;
    }

    let has_nvdimm = profile.devices.iter().any(Dimm::is_nvdimm);
    if has_nvdimm && !seen.nvdimm_on {
        notes.push(ImportNote::new(ImportNoteKind::MissingNvdimmOn, "-machine"));
    }
    if !profile.devices.is_empty() {
        if profile.slots == Auto::Auto {
            notes.push(ImportNote::new(ImportNoteKind::MissingSlots, "-m"));
        }
        if profile.maxmem == Auto::Auto {
            notes.push(ImportNote::new(ImportNoteKind::MissingMaxmem, "-m"));
        }
    } else if profile.maxmem != Auto::Auto && profile.slots == Auto::Auto {
        // `-m 1G,maxmem=4G` alone: QEMU's slots default is 0. Keep it so.
        profile.slots = Auto::Fixed(0);
    }
    if !seen.m {
        // QEMU's default RAM is 128 MiB.
        profile.ram = Size::mib(128);
    }
    if !seen.smp {
        // No -smp: QEMU's default (one CPU), and none rendered.
        profile.cpus = 0;
    }
    // The architecture: the binary's (`qemu-system-aarch64`), else the
    // machine family's (`-M virt` is arm64).
    let binary_arch = binary.as_deref().and_then(|b| {
        let name = Path::new(b).file_name()?.to_string_lossy().into_owned();
        crate::core::arch::Arch::ALL
            .iter()
            .copied()
            .find(|a| name == a.qemu_binary())
    });
    if let Some(arch) = binary_arch.or_else(|| profile.machine_family().map(|f| f.spec().arch())) {
        profile.arch = arch;
    }
    if let Some(first) = binary {
        if first != profile.arch.qemu_binary() {
            profile.qemu = Some(PathBuf::from(first));
        }
    }
    profile.check_strings()?;
    Ok((profile, notes))
}

enum ExtraItem {
    Arg(String),
    Backend(String),
    /// The `n`th CXL device (option and value), kept verbatim unless the
    /// tree took it.
    Cxl(usize, String, String),
}

fn bad(option: &str, key: &str, value: &str, reason: impl ToString) -> ImportError {
    ImportError::BadValue {
        option: option.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `on`/`off` and QEMU's other spellings; `None` when it is no boolean.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// Split `key=value`; a bare `key` is a deprecated boolean `on`.
fn key_value(piece: &str) -> (String, Option<String>) {
    match piece.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(unescape(v))),
        None => (unescape(piece), None),
    }
}

fn boolean(
    option: &str,
    subject: &str,
    key: &str,
    value: Option<String>,
    notes: &mut Vec<ImportNote>,
) -> Result<bool, ImportError> {
    match value {
        None => {
            notes.push(ImportNote::new(
                ImportNoteKind::BareBoolean,
                format!("{subject} {key}"),
            ));
            Ok(true)
        }
        Some(v) => parse_bool(&v).ok_or_else(|| bad(option, key, &v, "expected on or off")),
    }
}

fn size_value(
    option: &str,
    subject: &str,
    key: &str,
    v: &str,
    unit: BareUnit,
    notes: &mut Vec<ImportNote>,
) -> Result<Size, ImportError> {
    let parsed = parse_size_detailed(v, unit).map_err(|e| bad(option, key, v, e))?;
    if parsed.hex_with_suffix {
        notes.push(ImportNote::new(
            ImportNoteKind::HexSizeSuffix,
            format!("{subject} {key}"),
        ));
    }
    Ok(Size(parsed.bytes))
}

/// An integer property of a device (`slot`, `node`, `addr`): QEMU reads
/// it with `strtoull` in base 0: decimal, `0x` hex, or octal after a
/// leading 0 (`slot=010` is slot 8); no unit suffix.
fn number<T: TryFrom<u64>>(option: &str, key: &str, v: &str) -> Result<T, ImportError> {
    let t = v.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    };
    parsed.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
        bad(
            option,
            key,
            v,
            "expected a non-negative integer (no unit suffix)",
        )
    })
}

/// Record every key the group does not know, with a did-you-mean, and a
/// bare piece after a path as a stray comma.
fn check_keys(
    group: Group,
    option: &str,
    subject: &str,
    pieces: &[Piece],
    notes: &mut Vec<ImportNote>,
) {
    let mut previous_path: Option<&Piece> = None;
    for p in pieces {
        if p.value.is_none() {
            if let Some(path) = previous_path {
                notes.push(ImportNote {
                    kind: ImportNoteKind::StrayComma,
                    subject: format!("{subject} {}", path.key),
                    detail: format!(
                        "{}={},{}",
                        path.key,
                        path.value.as_deref().unwrap_or(""),
                        p.key
                    ),
                });
                previous_path = None;
                continue;
            }
        }
        previous_path = (p.value.is_some() && PATH_KEYS.contains(&p.key.as_str())).then_some(p);
        if group.find(&p.key).is_none() {
            notes.push(ImportNote {
                kind: ImportNoteKind::UnknownProperty,
                subject: format!("{option} {}", p.key),
                detail: group.suggest(&p.key).unwrap_or("").to_string(),
            });
        }
    }
}

/// Properties whose values are paths, where a single comma is a mistake.
const PATH_KEYS: &[&str] = &["mem-path", "kernel", "initrd", "firmware", "dtb", "romfile"];

fn import_machine(
    profile: &mut Profile,
    value: &str,
    seen: &mut Seen,
    notes: &mut Vec<ImportNote>,
) -> Result<(), ImportError> {
    let parsed = parse_value("-machine", value, "type")?;
    profile.machine_options.clear();
    if !parsed.head.is_empty() {
        profile.machine = parsed.head;
    }
    let group = profile
        .machine_family()
        .map_or(Group::Machine, |f| Group::machine(f.spec().arch()));
    check_keys(group, "-machine", "-machine", &parsed.pieces, notes);
    for p in parsed.pieces {
        if cxl::machine_key(&mut seen.cxl_windows, &p.key, p.value.as_deref(), notes)? {
            continue;
        }
        match (p.key.as_str(), p.value) {
            ("nvdimm", v) => {
                seen.nvdimm_on = boolean("-machine", "-machine", "nvdimm", v, notes)?;
            }
            ("cxl", v) => {
                seen.cxl_given = true;
                seen.cxl_on = boolean("-machine", "-machine", "cxl", v, notes)?;
            }
            (key, None) => {
                notes.push(ImportNote::new(
                    ImportNoteKind::BareBoolean,
                    format!("-machine {key}"),
                ));
                profile.machine_options.push(p.raw);
            }
            _ => profile.machine_options.push(p.raw),
        }
    }
    Ok(())
}

fn import_m(
    profile: &mut Profile,
    value: &str,
    notes: &mut Vec<ImportNote>,
) -> Result<(), ImportError> {
    for (n, raw) in split_opts(value).into_iter().enumerate() {
        let (key, val) = key_value(&raw);
        let mib = BareUnit::Mebibytes;
        match (n, key.as_str(), val) {
            (0, _, None) => profile.ram = size_value("-m", "-m", "size", &key, mib, notes)?,
            (_, "size", Some(v)) => profile.ram = size_value("-m", "-m", "size", &v, mib, notes)?,
            (_, "slots", Some(v)) => profile.slots = Auto::Fixed(number("-m", "slots", &v)?),
            (_, "maxmem", Some(v)) => {
                profile.maxmem = Auto::Fixed(size_value(
                    "-m",
                    "-m",
                    "maxmem",
                    &v,
                    BareUnit::Bytes,
                    notes,
                )?)
            }
            (_, k, v) => {
                let hint = match Group::Memory.suggest(k) {
                    Some(s) if s != k => format!("QEMU refuses it: did you mean {s}?"),
                    _ => "QEMU knows only size, slots and maxmem".to_string(),
                };
                return Err(bad("-m", k, v.as_deref().unwrap_or(""), hint));
            }
        }
    }
    Ok(())
}

fn import_smp(profile: &mut Profile, word: &str, value: &str, extra: &mut Vec<ExtraItem>) {
    let pieces = split_opts(value);
    let count = match pieces.as_slice() {
        [one] => one.strip_prefix("cpus=").unwrap_or(one).parse::<u32>().ok(),
        _ => None,
    };
    match count {
        Some(n) if n > 0 => profile.cpus = n,
        _ => {
            profile.cpus = 0;
            extra.push(ExtraItem::Arg(word.to_string()));
            extra.push(ExtraItem::Arg(value.to_string()));
        }
    }
}

fn import_backend(
    parsed: Parsed,
    raw: &str,
    notes: &mut Vec<ImportNote>,
) -> Result<Backing, ImportError> {
    let kind = parsed.head.clone();
    let mut b = Backing {
        kind: kind.clone(),
        id: String::new(),
        path: None,
        size: None,
        share: false,
        align: None,
        pmem: false,
        readonly: false,
        discard_data: false,
        extra: Vec::new(),
        others: Vec::new(),
        raw: raw.to_string(),
        used: false,
    };
    let option = format!("-object {kind}");
    // The id first, so that notes can name the object.
    if let Some(id) = parsed.pieces.iter().find(|p| p.key == "id") {
        b.id = id.value.clone().unwrap_or_default();
    }
    if !is_valid_id(&b.id) {
        return Err(ImportError::BadId { option, id: b.id });
    }
    let subject = b.id.clone();
    if let Some(group) = Group::of_object(&kind) {
        check_keys(group, &option, &subject, &parsed.pieces, notes);
    }
    for p in parsed.pieces {
        let key = p.key.as_str();
        json_typed(&option, &p)?;
        if !matches!(key, "id" | "size") {
            b.others.push(p.raw.clone());
        }
        let val = p.value.clone();
        let text = val.as_deref().unwrap_or("");
        match key {
            "id" => {}
            "mem-path" => b.path = val.map(PathBuf::from),
            "size" => {
                b.size = Some(size_value(
                    &option,
                    &subject,
                    "size",
                    text,
                    BareUnit::Bytes,
                    notes,
                )?)
            }
            "align" => {
                b.align = Some(size_value(
                    &option,
                    &subject,
                    "align",
                    text,
                    BareUnit::Bytes,
                    notes,
                )?)
            }
            "share" => b.share = boolean(&option, &subject, "share", val, notes)?,
            "pmem" => b.pmem = boolean(&option, &subject, "pmem", val, notes)?,
            "readonly" => b.readonly = boolean(&option, &subject, "readonly", val, notes)?,
            "discard-data" => {
                b.discard_data = boolean(&option, &subject, "discard-data", val, notes)?
            }
            _ => b.extra.push(p.raw),
        }
    }
    if b.size.is_none() {
        return Err(ImportError::MissingProperty {
            object: kind,
            id: b.id,
            what: "size".into(),
        });
    }
    if kind == "memory-backend-file" && b.path.is_none() {
        return Err(ImportError::MissingProperty {
            object: kind,
            id: b.id,
            what: "mem-path".into(),
        });
    }
    Ok(b)
}

fn import_device(
    kind: DimmKind,
    parsed: Parsed,
    backends: &mut [Backing],
    notes: &mut Vec<ImportNote>,
) -> Result<Dimm, ImportError> {
    let option = format!("-device {}", kind.device());
    let mut map: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut device_options = Vec::new();
    // No id= is allowed: QEMU names the device nothing (QMP reports null).
    let id = parsed
        .pieces
        .iter()
        .find(|p| p.key == "id")
        .map(|p| p.value.clone().unwrap_or_default());
    if let Some(id) = &id {
        if !is_valid_id(id) {
            return Err(ImportError::BadId {
                option,
                id: id.clone(),
            });
        }
    }
    let id = id.unwrap_or_default();
    let subject = if id.is_empty() {
        kind.device().to_string()
    } else {
        id.clone()
    };
    check_keys(
        kind.spec().props(),
        &option,
        &subject,
        &parsed.pieces,
        notes,
    );
    for p in parsed.pieces {
        json_typed(&option, &p)?;
        let spec = kind.spec();
        match p.key.as_str() {
            "memdev" => {
                map.insert(p.key, p.value);
            }
            // The guest address is `addr` on DIMMs, `memaddr` on virtio
            // devices (whose `addr` is their PCI address).
            k if k == spec.addr_property() => {
                map.insert("guest-addr".into(), p.value);
            }
            // The settings this kind has; any other stays verbatim (and
            // QP006 names it when the kind has no such property).
            k if Setting::ALL
                .iter()
                .any(|s| s.property() == k && spec.has(*s)) =>
            {
                map.insert(p.key, p.value);
            }
            "id" => {}
            _ => device_options.push(p.raw),
        }
    }
    let get = |k: &str| map.get(k).cloned().flatten();
    let memdev = get("memdev").ok_or_else(|| ImportError::MissingMemdev {
        device: kind.device().into(),
    })?;
    let backing = backends
        .iter_mut()
        .find(|b| b.id == memdev && !b.used && b.kind != "memory-backend-memfd")
        .ok_or_else(|| ImportError::UnknownMemdev {
            device: kind.device().into(),
            id: id.clone(),
            memdev: memdev.clone(),
        })?;
    backing.used = true;
    let label_size = match get("label-size") {
        Some(v) => size_value(&option, &subject, "label-size", &v, BareUnit::Bytes, notes)?,
        None => Size(0),
    };
    let unarmed = match map.get("unarmed") {
        Some(v) => boolean(&option, &subject, "unarmed", v.clone(), notes)?,
        None => false,
    };
    let node = get("node")
        .map(|v| number(&option, "node", &v))
        .transpose()?;
    let slot = get("slot")
        .map(|v| number(&option, "slot", &v))
        .transpose()?;
    let addr_key = kind.spec().addr_property();
    let addr = get("guest-addr")
        .map(|v| number::<u64>(&option, addr_key, &v).map(Addr))
        .transpose()?;
    let mut sized = |key: &str| {
        get(key)
            .map(|v| size_value(&option, &subject, key, &v, BareUnit::Bytes, notes))
            .transpose()
    };
    let block_size = sized("block-size")?;
    let requested_size = sized("requested-size")?;
    let backend = match &backing.path {
        Some(p) if backing.kind == "memory-backend-file" => Backend::File(p.clone()),
        _ => Backend::Ram,
    };
    Ok(Dimm {
        kind,
        id,
        memdev,
        backend,
        size: backing.size.unwrap_or_default(),
        label_size,
        align: backing.align,
        share: backing.share,
        pmem: backing.pmem,
        readonly: backing.readonly,
        discard_data: backing.discard_data,
        unarmed,
        node,
        addr,
        slot,
        backend_options: backing.extra.clone(),
        block_size,
        requested_size,
        device_options,
    })
}

/// `-numa node,...`: its `memdev=` is looked up among the backends and
/// taken out of the extra arguments (it is rendered with the node).
fn import_numa_node(
    parsed: Parsed,
    backends: &mut [Backing],
    notes: &mut Vec<ImportNote>,
) -> Result<NumaNode, ImportError> {
    let option = "-numa node";
    let mut node = NumaNode {
        nodeid: None,
        cpus: Vec::new(),
        memdev: None,
        mem: None,
        initiator: None,
        options: Vec::new(),
    };
    for p in parsed.pieces {
        let text = p.value.clone().unwrap_or_default();
        match p.key.as_str() {
            "nodeid" => node.nodeid = Some(number(option, "nodeid", &text)?),
            "initiator" => node.initiator = Some(number(option, "initiator", &text)?),
            "cpus" => node.cpus.push(text),
            // QEMU reads a suffix-less mem= as MiB (qemu_strtosz_MiB).
            "mem" => {
                node.mem = Some(size_value(
                    option,
                    option,
                    "mem",
                    &text,
                    BareUnit::Mebibytes,
                    notes,
                )?)
            }
            "memdev" => {
                let b = backends
                    .iter_mut()
                    .find(|b| b.id == text && !b.used)
                    .ok_or_else(|| ImportError::UnknownNumaMemdev {
                        memdev: crate::core::printable::printable(&text).into_owned(),
                    })?;
                b.used = true;
                node.memdev = Some(NumaMemory {
                    id: b.id.clone(),
                    backend: b.kind.clone(),
                    size: b.size.unwrap_or_default(),
                    options: b.others.clone(),
                });
            }
            _ => node.options.push(p.raw),
        }
    }
    Ok(node)
}

/// `-numa dist,src=A,dst=B,val=D`: all three are required (QEMU:
/// "Parameter 'src' is missing").
fn import_numa_dist(pieces: &[Piece]) -> Result<NumaDistance, ImportError> {
    let option = "-numa dist";
    let get = |key: &str| -> Result<u32, ImportError> {
        let p = pieces
            .iter()
            .find(|p| p.key == key)
            .ok_or_else(|| bad(option, key, "", "missing: QEMU requires src, dst and val"))?;
        number(option, key, p.value.as_deref().unwrap_or(""))
    };
    Ok(NumaDistance {
        src: get("src")?,
        dst: get("dst")?,
        val: get("val")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cmdline::render_argv;

    const SEED: &str = r#"qemu-system-x86_64 -machine pc,nvdimm -m 512M,slots=2,maxmem=40G \
  -object memory-backend-file,id=mem1,share,mem-path=/home/rzwisler/vms/nvdimm-2,size=17G,align=128M \
  -device nvdimm,memdev=mem1,id=nv1,label-size=2M"#;

    #[test]
    fn imports_the_seed_with_its_bare_booleans() {
        let (p, notes) = import(SEED).unwrap();
        assert_eq!(p.ram, Size::mib(512));
        assert_eq!(p.slots, Auto::Fixed(2));
        assert_eq!(p.maxmem, Auto::Fixed(Size::gib(40)));
        assert_eq!(p.devices.len(), 1);
        let d = &p.devices[0];
        assert_eq!(d.id, "nv1");
        assert!(d.share);
        assert_eq!(d.align, Some(Size::mib(128)));
        assert_eq!(d.label_size, Size::mib(2));
        assert_eq!(
            d.backend,
            Backend::File("/home/rzwisler/vms/nvdimm-2".into())
        );
        let bare: Vec<_> = notes
            .iter()
            .filter(|n| n.kind == ImportNoteKind::BareBoolean)
            .map(|n| n.subject.as_str())
            .collect();
        assert_eq!(bare, ["-machine nvdimm", "mem1 share"]);
        assert!(p.extra_args.is_empty());
    }

    #[test]
    fn unmodelled_options_are_kept_in_order() {
        let line = "-nographic -serial mon:stdio -m 1G,slots=1,maxmem=2G -object memory-backend-ram,id=r,size=1G,prealloc=on -device pc-dimm,id=d,memdev=r,uuid=x -smp 2,sockets=2 -object iothread,id=io1";
        let (p, _) = import(line).unwrap();
        assert_eq!(
            p.extra_args,
            [
                "-nographic",
                "-serial",
                "mon:stdio",
                "-smp",
                "2,sockets=2",
                "-object",
                "iothread,id=io1"
            ]
        );
        assert_eq!(p.cpus, 0);
        assert_eq!(p.devices[0].backend_options, ["prealloc=on"]);
        assert_eq!(p.devices[0].device_options, ["uuid=x"]);
        let argv = render_argv(&p);
        assert!(argv.contains(&"memory-backend-ram,id=r,size=1G,prealloc=on".to_string()));
        assert!(!argv.contains(&"-smp".to_string()) || argv.contains(&"2,sockets=2".to_string()));
    }

    #[test]
    fn bad_lines_get_errors_that_name_the_option() {
        assert_eq!(import("-m '1G"), Err(ImportError::Unbalanced));
        let e = import("-m 1G,slots=2,maxmem=40X").unwrap_err().to_string();
        assert!(e.contains("maxmem=40X"), "{e}");
        let e = import(
            "-object memory-backend-file,id=m1,mem-path=/x,size=1G -device nvdimm,id=nv1,memdev=m2",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("memdev 'm2'"), "{e}");
        let e = import("-object memory-backend-file,id=1m,mem-path=/x,size=1G")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'1m'"), "{e}");
        let e = import("-object memory-backend-file,id=m1,mem-path=/x,size=-1G")
            .unwrap_err()
            .to_string();
        assert!(e.contains("size=-1G"), "{e}");
        assert!(import("-m").is_err());
        assert_eq!(import("  "), Err(ImportError::Empty));
    }

    #[test]
    fn commas_in_paths_survive_import() {
        let (p, _) = import("-object memory-backend-file,id=m1,mem-path=/a,,b,size=1G,share=on -device nvdimm,id=nv1,memdev=m1").unwrap();
        assert_eq!(p.devices[0].backend, Backend::File("/a,b".into()));
    }

    #[test]
    fn json_objects_and_devices_give_the_same_profile_and_render_as_json() {
        let opts = "-machine pc,nvdimm=on -m 1G,slots=2,maxmem=8G \
            -object memory-backend-file,id=m1,share=on,mem-path=/x/a,size=1G,align=2M,prealloc=on \
            -device nvdimm,memdev=m1,id=nv1,label-size=128K,slot=1";
        let json = r#"-machine pc,nvdimm=on -m 1G,slots=2,maxmem=8G -object '{"qom-type":"memory-backend-file","id":"m1","share":true,"mem-path":"/x/a","size":1073741824,"align":2097152,"prealloc":true}' -device '{"driver":"nvdimm","memdev":"m1","id":"nv1","label-size":131072,"slot":1}'"#;
        let (a, _) = import(opts).unwrap();
        let (b, _) = import(json).unwrap();
        assert_eq!(a.devices, b.devices);
        assert_eq!(b.syntax, Syntax::Json);
        let argv = render_argv(&b);
        let object = argv.iter().find(|a| a.contains("qom-type")).unwrap();
        let v: serde_json::Value = serde_json::from_str(object).unwrap();
        assert_eq!(v["size"], 1073741824u64);
        assert_eq!(v["share"], true);
        assert_eq!(v["prealloc"], true);
        assert_eq!(v["mem-path"], "/x/a");
        let device = argv.iter().find(|a| a.contains("\"driver\"")).unwrap();
        let v: serde_json::Value = serde_json::from_str(device).unwrap();
        assert_eq!(v["label-size"], 131072);
        assert_eq!(v["slot"], 1);
        // ... and reads back to the same profile.
        let line = crate::core::cmdline::render_shell(&b);
        assert_eq!(import(&line).unwrap().0.devices, b.devices);
    }

    #[test]
    fn bad_json_names_the_option_key_and_value() {
        let e = import(r#"-object '{"qom-type":"memory-backend-ram","id":"m1","size":1'"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("-object '{"), "{e}");
        assert!(e.contains("not valid JSON"), "{e}");
        let e = import(r#"-object '{"qom-type":"memory-backend-ram","id":"m1","size":"1G"}'"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "-object memory-backend-ram size: expected a non-negative JSON number, got \"1G\""
        );
        let e = import(
            r#"-object '{"qom-type":"memory-backend-ram","id":"m1","size":1024,"share":"on"}'"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("share: expected true or false, got \"on\""),
            "{e}"
        );
        // An unknown key is a line QEMU refuses, not one qpmem cannot read.
        let (_, notes) =
            import(r#"-object '{"qom-type":"memory-backend-ram","id":"m1","size":1024,"foo":1}'"#)
                .unwrap();
        assert_eq!(notes[0].kind, ImportNoteKind::UnknownProperty);
        assert_eq!(notes[0].subject, "-object memory-backend-ram foo");
    }

    #[test]
    fn a_device_without_id_is_accepted_as_qemu_does() {
        let (p, _) = import(
            "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=4G \
             -object memory-backend-ram,id=m1,size=1G -device nvdimm,memdev=m1",
        )
        .unwrap();
        assert_eq!(p.devices[0].id, "");
        assert!(render_argv(&p).contains(&"nvdimm,memdev=m1".to_string()));
    }

    /// Issue 16's import item: an imported line keeps its meaning.
    #[test]
    fn no_smp_and_no_hotplug_options_where_the_line_had_none() {
        let (p, notes) = import("-machine q35 -m 2G").unwrap();
        assert!(notes.is_empty());
        let argv = render_argv(&p);
        assert!(!argv.contains(&"-smp".to_string()), "{argv:?}");
        assert_eq!(argv[argv.iter().position(|a| a == "-m").unwrap() + 1], "2G");
        // maxmem without slots and without devices: QEMU's slots=0 kept.
        let (p, _) = import("-m 1G,maxmem=4G").unwrap();
        assert!(render_argv(&p).contains(&"1G,slots=0,maxmem=4G".to_string()));
        // With -smp it is kept.
        let (p, _) = import("-m 1G -smp 4").unwrap();
        assert!(render_argv(&p).windows(2).any(|w| w == ["-smp", "4"]));
    }

    /// libvirt's shape: RAM on NUMA nodes from JSON backends, a DIMM on
    /// node 1. Read into the profile and rendered back in the same syntax.
    #[test]
    fn numa_nodes_with_memdev_ram_are_read_and_rendered_back() {
        let line = r#"-machine pc,nvdimm=on -m size=2097152k,slots=2,maxmem=8G -smp 2 -object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824,"host-nodes":[0],"policy":"bind"}' -numa node,nodeid=0,cpus=0,memdev=ram-node0 -object '{"qom-type":"memory-backend-ram","id":"ram-node1","size":1073741824}' -numa node,nodeid=1,cpus=1,memdev=ram-node1 -numa dist,src=0,dst=1,val=20 -object '{"qom-type":"memory-backend-file","id":"m1","mem-path":"/x/a","share":true,"size":1073741824}' -device '{"driver":"nvdimm","memdev":"m1","id":"nv1","node":1}'"#;
        let (p, notes) = import(line).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(p.extra_args.is_empty(), "{:?}", p.extra_args);
        assert_eq!(p.numa.len(), 2);
        let n0 = &p.numa[0];
        assert_eq!(
            (n0.nodeid, n0.cpus.as_slice()),
            (Some(0), &["0".to_string()][..])
        );
        let m = n0.memdev.as_ref().unwrap();
        assert_eq!((m.id.as_str(), m.size), ("ram-node0", Size::gib(1)));
        assert_eq!(m.options, ["host-nodes=[0]", "policy=bind"]);
        assert_eq!(
            p.numa_distances,
            [crate::core::profile::NumaDistance {
                src: 0,
                dst: 1,
                val: 20
            }]
        );
        assert_eq!(p.numa_ram(), [(0, 1 << 30), (1, 1 << 30)]);
        assert_eq!(p.devices[0].node, Some(1));
        let argv = render_argv(&p);
        let object = argv.iter().find(|a| a.contains("ram-node0")).unwrap();
        let v: serde_json::Value = serde_json::from_str(object).unwrap();
        assert_eq!(v["size"], 1073741824u64);
        assert_eq!(v["host-nodes"], serde_json::json!([0]));
        assert!(argv.contains(&"node,nodeid=1,cpus=1,memdev=ram-node1".to_string()));
        assert!(argv.contains(&"dist,src=0,dst=1,val=20".to_string()));
        // ... and reads back to the same profile.
        let back = import(&crate::core::cmdline::render_shell(&p)).unwrap().0;
        assert_eq!(
            (back.numa, back.numa_distances),
            (p.numa.clone(), p.numa_distances.clone())
        );
        // The QemuOpts form of the same line renders as QemuOpts.
        let (q, _) = import(
            "-m 1G -object memory-backend-memfd,id=r0,size=1G,share=on -numa node,memdev=r0",
        )
        .unwrap();
        let argv = render_argv(&q);
        assert!(argv.contains(&"memory-backend-memfd,id=r0,size=1G,share=on".to_string()));
        assert!(argv.contains(&"node,memdev=r0".to_string()));
    }

    #[test]
    fn numa_input_qemu_cannot_take_is_named() {
        let e = import("-m 1G -numa node,memdev=nothere")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "-numa node: memdev=nothere is not defined by any -object memory-backend-*"
        );
        let e = import("-m 1G -numa dist,src=0,val=20")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("-numa dist dst=: missing"), "{e}");
        let e = import("-m 1G -numa node,nodeid=x").unwrap_err().to_string();
        assert!(e.contains("nodeid=x"), "{e}");
        let (_, notes) = import("-m 1G -numa node,memdevv=r0").unwrap();
        assert_eq!(notes[0].kind, ImportNoteKind::UnknownProperty);
        assert_eq!(notes[0].detail, "memdev");
        // hmat options are kept verbatim.
        let (p, _) = import("-m 1G -numa hmat-cache,node-id=0,size=10K,level=1").unwrap();
        assert_eq!(
            p.extra_args,
            ["-numa", "hmat-cache,node-id=0,size=10K,level=1"]
        );
    }

    #[test]
    fn device_integers_are_read_as_qemu_reads_them() {
        let line = |prop: &str| {
            format!("-machine pc,nvdimm=on -m 1G,slots=9,maxmem=8G -object memory-backend-ram,id=m1,size=1G -device nvdimm,memdev=m1,id=nv1,{prop}")
        };
        // strtoull base 0: slot=010 is slot 8 (QEMU: "invalid slot number 8").
        assert_eq!(
            import(&line("slot=010")).unwrap().0.devices[0].slot,
            Some(8)
        );
        assert_eq!(
            import(&line("slot=0x2")).unwrap().0.devices[0].slot,
            Some(2)
        );
        // addr takes no suffix (QEMU: "Parameter 'addr' expects integer").
        assert!(import(&line("addr=4G")).is_err());
        assert_eq!(
            import(&line("addr=0x100000000")).unwrap().0.devices[0].addr,
            Some(Addr(0x1_0000_0000))
        );
        // label-size is a size.
        assert_eq!(
            import(&line("label-size=1.5M")).unwrap().0.devices[0].label_size,
            Size(3 << 19)
        );
    }

    #[test]
    fn virtio_devices_import_with_memaddr_and_render_back() {
        let text = "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=32G \
             -object memory-backend-file,id=m1,share=on,mem-path=/x/v,size=4G \
             -device virtio-pmem-pci,memdev=m1,id=vpmem1,memaddr=0x200000000,addr=0x5 \
             -object memory-backend-ram,id=r1,size=1G \
             -device virtio-mem-pci,memdev=r1,id=vmem1,block-size=4M,requested-size=512M";
        let (p, notes) = import(text).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let kinds: Vec<_> = p.devices.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DimmKind::VirtioPmem, DimmKind::VirtioMem]);
        assert_eq!(p.devices[0].addr, Some(Addr(0x2_0000_0000)));
        // Its `addr` is the PCI address, kept verbatim.
        assert_eq!(p.devices[0].device_options, ["addr=0x5"]);
        assert_eq!(p.devices[1].block_size, Some(Size::mib(4)));
        let argv = crate::core::cmdline::render_argv(&p);
        assert!(argv.contains(
            &"virtio-pmem-pci,memdev=m1,id=vpmem1,memaddr=0x200000000,addr=0x5".to_string()
        ));
        assert!(argv.contains(
            &"virtio-mem-pci,memdev=r1,id=vmem1,block-size=4M,requested-size=512M".to_string()
        ));
    }
}
