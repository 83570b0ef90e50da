//! A pasted QEMU command line -> a profile.
//!
//! Shell quoting and backslash-newlines are undone first; the binary in
//! front is optional. `-machine`, `-m`, `-smp`, `-kernel`, `-initrd`,
//! `-append`, memory backends and `nvdimm`/`pc-dimm` devices become
//! profile fields; every other option is kept verbatim, in order, so the
//! rendered profile is an equivalent command line.

use super::{split_opts, unescape};
use crate::core::profile::{is_valid_id, Addr, Auto, Backend, Dimm, DimmKind, Profile};
use crate::core::size::{parse_size, BareUnit, Size};
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
    /// A bare boolean (`share` instead of `share=on`).
    BareBoolean,
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
    /// Position among the extra args if it turns out unused by any device.
    raw: String,
    used: bool,
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
            if first != profile.arch.qemu_binary() {
                profile.qemu = Some(PathBuf::from(first));
            }
            rest = &rest[1..];
        }
    }

    let mut saw_nvdimm_on = false;
    let mut backends: Vec<Backing> = Vec::new();
    // (kind, device props) in order; resolved after all objects are known.
    let mut devices: Vec<(DimmKind, Vec<String>)> = Vec::new();
    // Placeholders in extra_args where unused backends would go back.
    let mut extra: Vec<ExtraItem> = Vec::new();
    let mut saw_m = false;

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
            "machine" | "M" => {
                saw_nvdimm_on |= import_machine(&mut profile, &value, &mut notes)?;
            }
            "m" => {
                saw_m = true;
                import_m(&mut profile, &value)?;
            }
            "smp" => import_smp(&mut profile, word, &value, &mut extra),
            "kernel" => profile.kernel = Some(PathBuf::from(value)),
            "initrd" => profile.initrd = Some(PathBuf::from(value)),
            "append" => profile.append = Some(value),
            "object"
                if value.starts_with("memory-backend-file,")
                    || value.starts_with("memory-backend-ram,") =>
            {
                let b = import_backend(&value, &mut notes)?;
                if backends.iter().any(|o| o.id == b.id) {
                    return Err(ImportError::DuplicateId {
                        option: "-object".into(),
                        id: b.id,
                    });
                }
                extra.push(ExtraItem::Backend(b.id.clone()));
                backends.push(b);
            }
            "device" if value.starts_with("nvdimm,") || value.starts_with("pc-dimm,") => {
                let props = split_opts(&value);
                let kind = if props[0] == "nvdimm" {
                    DimmKind::Nvdimm
                } else {
                    DimmKind::PcDimm
                };
                devices.push((kind, props[1..].to_vec()));
            }
            _ => {
                extra.push(ExtraItem::Arg(word.clone()));
                extra.push(ExtraItem::Arg(value));
            }
        }
    }

    for (kind, props) in devices {
        let dimm = import_device(kind, &props, &mut backends, &mut notes)?;
        if profile.devices.iter().any(|d| d.id == dimm.id) {
            return Err(ImportError::DuplicateId {
                option: format!("-device {}", kind.device()),
                id: dimm.id,
            });
        }
        profile.devices.push(dimm);
    }
    profile.extra_args = extra
        .into_iter()
        .flat_map(|item| match item {
            ExtraItem::Arg(a) => vec![a],
            ExtraItem::Backend(id) => backends
                .iter()
                .find(|b| b.id == id && !b.used)
                .map(|b| vec!["-object".to_string(), b.raw.clone()])
                .unwrap_or_default(),
        })
        .collect();

    let has_nvdimm = profile.devices.iter().any(Dimm::is_nvdimm);
    if has_nvdimm && !saw_nvdimm_on {
        notes.push(ImportNote {
            kind: ImportNoteKind::MissingNvdimmOn,
            subject: "-machine".into(),
        });
    }
    if !profile.devices.is_empty() {
        if profile.slots == Auto::Auto {
            notes.push(ImportNote {
                kind: ImportNoteKind::MissingSlots,
                subject: "-m".into(),
            });
        }
        if profile.maxmem == Auto::Auto {
            notes.push(ImportNote {
                kind: ImportNoteKind::MissingMaxmem,
                subject: "-m".into(),
            });
        }
    }
    if !saw_m {
        // QEMU's default RAM is 128 MiB.
        profile.ram = Size::mib(128);
    }
    profile.check_strings()?;
    Ok((profile, notes))
}

enum ExtraItem {
    Arg(String),
    Backend(String),
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
            notes.push(ImportNote {
                kind: ImportNoteKind::BareBoolean,
                subject: format!("{subject} {key}"),
            });
            Ok(true)
        }
        Some(v) => parse_bool(&v).ok_or_else(|| bad(option, key, &v, "expected on or off")),
    }
}

fn size_value(option: &str, key: &str, v: &str, unit: BareUnit) -> Result<Size, ImportError> {
    parse_size(v, unit)
        .map(Size)
        .map_err(|e| bad(option, key, v, e))
}

fn number<T: std::str::FromStr>(option: &str, key: &str, v: &str) -> Result<T, ImportError> {
    v.parse()
        .map_err(|_| bad(option, key, v, "expected a non-negative integer"))
}

fn import_machine(
    profile: &mut Profile,
    value: &str,
    notes: &mut Vec<ImportNote>,
) -> Result<bool, ImportError> {
    let mut nvdimm_on = false;
    profile.machine_options.clear();
    for (n, piece) in split_opts(value).into_iter().enumerate() {
        let (key, val) = key_value(&piece);
        match (n, key.as_str(), val) {
            (0, _, None) => profile.machine = key,
            (_, "type", Some(v)) => profile.machine = v,
            (_, "nvdimm", v) => nvdimm_on = boolean("-machine", "-machine", "nvdimm", v, notes)?,
            _ => profile.machine_options.push(piece),
        }
    }
    Ok(nvdimm_on)
}

fn import_m(profile: &mut Profile, value: &str) -> Result<(), ImportError> {
    for (n, piece) in split_opts(value).into_iter().enumerate() {
        let (key, val) = key_value(&piece);
        match (n, key.as_str(), val) {
            (0, _, None) => profile.ram = size_value("-m", "size", &key, BareUnit::Mebibytes)?,
            (_, "size", Some(v)) => {
                profile.ram = size_value("-m", "size", &v, BareUnit::Mebibytes)?
            }
            (_, "slots", Some(v)) => profile.slots = Auto::Fixed(number("-m", "slots", &v)?),
            (_, "maxmem", Some(v)) => {
                profile.maxmem = Auto::Fixed(size_value("-m", "maxmem", &v, BareUnit::Bytes)?)
            }
            (_, k, v) => {
                return Err(bad(
                    "-m",
                    k,
                    v.as_deref().unwrap_or(""),
                    "unknown -m property",
                ))
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

fn import_backend(value: &str, notes: &mut Vec<ImportNote>) -> Result<Backing, ImportError> {
    let pieces = split_opts(value);
    let kind = pieces[0].clone();
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
        raw: value.to_string(),
        used: false,
    };
    let option = format!("-object {kind}");
    // The id first, so that notes can name the object.
    for piece in &pieces[1..] {
        if let (k, Some(v)) = key_value(piece) {
            if k == "id" {
                b.id = v;
            }
        }
    }
    if !is_valid_id(&b.id) {
        return Err(ImportError::BadId { option, id: b.id });
    }
    let subject = b.id.clone();
    for piece in &pieces[1..] {
        let (key, val) = key_value(piece);
        match key.as_str() {
            "id" => {}
            "mem-path" => b.path = val.map(PathBuf::from),
            "size" => {
                b.size = Some(size_value(
                    &option,
                    "size",
                    val.as_deref().unwrap_or(""),
                    BareUnit::Bytes,
                )?)
            }
            "align" => {
                b.align = Some(size_value(
                    &option,
                    "align",
                    val.as_deref().unwrap_or(""),
                    BareUnit::Bytes,
                )?)
            }
            "share" => b.share = boolean(&option, &subject, "share", val, notes)?,
            "pmem" => b.pmem = boolean(&option, &subject, "pmem", val, notes)?,
            "readonly" => b.readonly = boolean(&option, &subject, "readonly", val, notes)?,
            "discard-data" => {
                b.discard_data = boolean(&option, &subject, "discard-data", val, notes)?
            }
            _ => b.extra.push(piece.clone()),
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
    props: &[String],
    backends: &mut [Backing],
    notes: &mut Vec<ImportNote>,
) -> Result<Dimm, ImportError> {
    let option = format!("-device {}", kind.device());
    let mut map: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut device_options = Vec::new();
    let mut id = String::new();
    for piece in props {
        let (key, val) = key_value(piece);
        match key.as_str() {
            "memdev" | "label-size" | "unarmed" | "node" | "slot" | "addr" => {
                map.insert(key, val);
            }
            "id" => id = val.unwrap_or_default(),
            _ => device_options.push(piece.clone()),
        }
    }
    if !is_valid_id(&id) {
        return Err(ImportError::BadId { option, id });
    }
    let memdev =
        map.get("memdev")
            .cloned()
            .flatten()
            .ok_or_else(|| ImportError::MissingMemdev {
                device: kind.device().into(),
            })?;
    let backing = backends
        .iter_mut()
        .find(|b| b.id == memdev && !b.used)
        .ok_or_else(|| ImportError::UnknownMemdev {
            device: kind.device().into(),
            id: id.clone(),
            memdev: memdev.clone(),
        })?;
    backing.used = true;
    let get = |k: &str| map.get(k).cloned().flatten();
    let label_size = match get("label-size") {
        Some(v) => size_value(&option, "label-size", &v, BareUnit::Bytes)?,
        None => Size(0),
    };
    let unarmed = match map.get("unarmed") {
        Some(v) => boolean(&option, &id, "unarmed", v.clone(), notes)?,
        None => false,
    };
    let node = get("node")
        .map(|v| number(&option, "node", &v))
        .transpose()?;
    let slot = get("slot")
        .map(|v| number(&option, "slot", &v))
        .transpose()?;
    let addr = get("addr")
        .map(|v| size_value(&option, "addr", &v, BareUnit::Bytes).map(|s| Addr(s.0)))
        .transpose()?;
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
        device_options,
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
}
