//! Profile -> QEMU argv, and argv -> a POSIX shell command.

use super::escape_value;
use crate::core::device::Setting;
use crate::core::profile::{Backend, Dimm, Profile, Syntax};
use crate::core::qemu::QemuVersion;
use crate::core::size::format_qemu;
use std::path::Path;

/// One option (`-machine`) with its value, or a flag on its own.
type Group = Vec<String>;

fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The argv QEMU is started with, the binary first, for a QEMU of
/// unknown release (see [`render_argv_for`]).
pub fn render_argv(profile: &Profile) -> Vec<String> {
    render_argv_for(profile, None)
}

/// The argv for QEMU `version`: the CXL type-3 devices' persistent
/// backend is `memdev=` up to 7.2 and `persistent-memdev=` from 8.0.
pub fn render_argv_for(profile: &Profile, version: Option<QemuVersion>) -> Vec<String> {
    render_groups(profile, version)
        .into_iter()
        .flatten()
        .collect()
}

fn render_groups(p: &Profile, version: Option<QemuVersion>) -> Vec<Group> {
    let mut groups: Vec<Group> = vec![vec![path_str(&p.qemu_binary())]];

    let mut machine = vec![escape_value(&p.machine), "nvdimm=on".to_string()];
    machine.extend(p.machine_options.iter().cloned());
    if let Some(cxl) = &p.cxl {
        machine.extend(crate::core::cxl::render::machine_pieces(cxl));
    }
    groups.push(vec!["-machine".into(), machine.join(",")]);

    let m = if p.memory_hotplug() {
        format!(
            "{},slots={},maxmem={}",
            format_qemu(p.ram.0),
            p.effective_slots(),
            format_qemu(p.effective_maxmem())
        )
    } else {
        format_qemu(p.ram.0)
    };
    groups.push(vec!["-m".into(), m]);
    if p.cpus > 0 {
        groups.push(vec!["-smp".into(), p.cpus.to_string()]);
    }
    groups.extend(numa_groups(p));
    for d in &p.devices {
        let (object, device) = match p.syntax {
            Syntax::Opts => (backend_opts(d).join(","), device_opts(d).join(",")),
            Syntax::Json => (
                to_json_object("qom-type", &backend_opts(d)),
                to_json_object("driver", &device_opts(d)),
            ),
        };
        groups.push(vec!["-object".into(), object]);
        groups.push(vec!["-device".into(), device]);
    }
    if let Some(cxl) = &p.cxl {
        use crate::core::cxl::render::OptionKind;
        for (kind, pieces) in crate::core::cxl::render::groups(cxl, version) {
            let (option, head) = match kind {
                OptionKind::Object => ("-object", "qom-type"),
                OptionKind::Device => ("-device", "driver"),
            };
            let value = match p.syntax {
                Syntax::Opts => pieces.join(","),
                Syntax::Json => to_json_object(head, &pieces),
            };
            groups.push(vec![option.into(), value]);
        }
    }
    if let Some(k) = &p.kernel {
        groups.push(vec!["-kernel".into(), path_str(k)]);
    }
    if let Some(i) = &p.initrd {
        groups.push(vec!["-initrd".into(), path_str(i)]);
    }
    if let Some(a) = &p.append {
        groups.push(vec!["-append".into(), a.clone()]);
    }
    for disk in &p.disks {
        let format = match disk.extension().and_then(|e| e.to_str()) {
            Some("qcow2") => "qcow2",
            _ => "raw",
        };
        groups.push(vec![
            "-drive".into(),
            format!(
                "file={},format={format},if=virtio",
                escape_value(&path_str(disk))
            ),
        ]);
    }
    groups.extend(extra_groups(&p.extra_args));
    groups
}

/// The listed NUMA nodes as the line gave them (each backend, in the
/// profile's syntax, before its `-numa node`), then `-numa dist`; or, with
/// none listed, qpmem's own nodes.
fn numa_groups(p: &Profile) -> Vec<Group> {
    let mut groups = if p.numa.is_empty() {
        generated_numa_groups(p)
    } else {
        Vec::new()
    };
    for node in &p.numa {
        let mut opts = vec!["node".to_string()];
        if let Some(id) = node.nodeid {
            opts.push(format!("nodeid={id}"));
        }
        opts.extend(
            node.cpus
                .iter()
                .map(|c| format!("cpus={}", escape_value(c))),
        );
        if let Some(m) = &node.memdev {
            let mut object = vec![
                m.backend.clone(),
                format!("id={}", escape_value(&m.id)),
                format!("size={}", format_qemu(m.size.0)),
            ];
            object.extend(m.options.iter().cloned());
            let object = match p.syntax {
                Syntax::Opts => object.join(","),
                Syntax::Json => to_json_object("qom-type", &object),
            };
            groups.push(vec!["-object".into(), object]);
            opts.push(format!("memdev={}", escape_value(&m.id)));
        }
        if let Some(mem) = node.mem {
            opts.push(format!("mem={}", format_qemu(mem.0)));
        }
        if let Some(i) = node.initiator {
            opts.push(format!("initiator={i}"));
        }
        opts.extend(node.options.iter().cloned());
        groups.push(vec!["-numa".into(), opts.join(",")]);
    }
    for d in &p.numa_distances {
        groups.push(vec![
            "-numa".into(),
            format!("dist,src={},dst={},val={}", d.src, d.dst, d.val),
        ]);
    }
    groups
}

/// `-numa node` per node, each with an equal share of RAM on its own
/// memory backend (QEMU 5.1+ machine types require `memdev`) and a
/// contiguous range of CPUs.
fn generated_numa_groups(p: &Profile) -> Vec<Group> {
    let n = u64::from(p.numa_nodes);
    if n == 0 {
        return Vec::new();
    }
    let mut groups = Vec::new();
    let share = p.ram.0 / n;
    let cpus = u64::from(p.cpus);
    for i in 0..n {
        let size = if i == n - 1 {
            p.ram.0 - share * (n - 1)
        } else {
            share
        };
        groups.push(vec![
            "-object".into(),
            format!("memory-backend-ram,id=numa{i},size={}", format_qemu(size)),
        ]);
        let first = cpus * i / n;
        let last = cpus * (i + 1) / n;
        let mut node = format!("node,nodeid={i}");
        if last > first {
            if last - first == 1 {
                node.push_str(&format!(",cpus={first}"));
            } else {
                node.push_str(&format!(",cpus={first}-{}", last - 1));
            }
        }
        node.push_str(&format!(",memdev=numa{i}"));
        groups.push(vec!["-numa".into(), node]);
    }
    groups
}

/// QemuOpts pieces (`memory-backend-file`, `id=mem1`, `size=1G`, ...) as
/// the JSON QEMU takes for the same option, the first piece under
/// `head` (`qom-type`, `driver`): sizes and integers as numbers,
/// `on`/`off` as booleans, a list or object kept from a JSON line
/// (`host-nodes=[0]`) as itself, everything else as a string.
fn to_json_object(head: &str, pieces: &[String]) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut out = Vec::with_capacity(pieces.len());
    for (n, piece) in pieces.iter().enumerate() {
        if n == 0 {
            out.push(format!("{}:{}", q(head), q(piece)));
            continue;
        }
        let (key, value) = match piece.split_once('=') {
            Some((k, v)) => (k.to_string(), super::unescape(v)),
            None => (super::unescape(piece), "on".to_string()),
        };
        let json = match value.as_str() {
            "on" => "true".to_string(),
            "off" => "false".to_string(),
            v if SIZED.contains(&key.as_str()) => {
                match crate::core::size::parse_size(v, crate::core::size::BareUnit::Bytes) {
                    Ok(n) => n.to_string(),
                    Err(_) => q(v),
                }
            }
            v if NUMBERS.contains(&key.as_str()) && v.parse::<u64>().is_ok() => v.to_string(),
            v if v.starts_with('[') || v.starts_with('{') => {
                match serde_json::from_str::<serde_json::Value>(v) {
                    Ok(j) => j.to_string(),
                    Err(_) => q(v),
                }
            }
            v => q(v),
        };
        out.push(format!("{}:{json}", q(&key)));
    }
    format!("{{{}}}", out.join(","))
}

/// One device's `-object` and `-device` as JSON values: the arguments
/// QMP's `object-add` (QEMU 6.0+) and `device_add` take to hotplug it.
pub fn qmp_objects(d: &Dimm) -> (serde_json::Value, serde_json::Value) {
    let parse = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    (
        parse(to_json_object("qom-type", &backend_opts(d))),
        parse(to_json_object("driver", &device_opts(d))),
    )
}

/// Properties whose JSON value is a number of bytes.
const SIZED: &[&str] = &[
    "size",
    "align",
    "label-size",
    "addr",
    "memaddr",
    "block-size",
    "requested-size",
    "offset",
    "hugetlbsize",
];
/// Other integer properties.
const NUMBERS: &[&str] = &[
    "slot",
    "node",
    "prealloc-threads",
    "bus_nr",
    "port",
    "chassis",
    "sn",
];

fn backend_opts(d: &Dimm) -> Vec<String> {
    let mut o = vec![
        d.backend.qemu_object().to_string(),
        format!("id={}", escape_value(&d.memdev)),
    ];
    if let Backend::File(path) = &d.backend {
        o.push(format!("share={}", onoff(d.share)));
        o.push(format!("mem-path={}", escape_value(&path_str(path))));
    } else if d.share {
        o.push("share=on".into());
    }
    o.push(format!("size={}", format_qemu(d.size.0)));
    if let Backend::File(_) = d.backend {
        if let Some(a) = d.align {
            o.push(format!("align={}", format_qemu(a.0)));
        }
        if d.pmem {
            o.push("pmem=on".into());
        }
        if d.readonly {
            o.push("readonly=on".into());
        }
        if d.discard_data {
            o.push("discard-data=on".into());
        }
    }
    o.extend(d.backend_options.iter().cloned());
    o
}

fn device_opts(d: &Dimm) -> Vec<String> {
    let mut o = vec![
        d.kind.device().to_string(),
        format!("memdev={}", escape_value(&d.memdev)),
    ];
    // A device without an id, as QEMU allows.
    if !d.id.is_empty() {
        o.push(format!("id={}", escape_value(&d.id)));
    }
    let spec = d.kind.spec();
    // The settings this kind has, in one order (a profile's others draw
    // QP211 and stay out of the line); the guest address last.
    for s in Setting::ALL.iter().filter(|s| spec.has(**s)) {
        if let Some(v) = s.value(d) {
            o.push(format!("{}={v}", s.property()));
        }
    }
    if let Some(a) = d.addr {
        o.push(format!("{}={a}", spec.addr_property()));
    }
    o.extend(d.device_options.iter().cloned());
    o
}

/// Group verbatim arguments for the shell form: an option with the value
/// that follows it on one line.
fn extra_groups(args: &[String]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for arg in args {
        let starts_option = arg.starts_with('-') && arg.len() > 1;
        match groups.last_mut() {
            Some(g) if !starts_option && g.len() == 1 && g[0].starts_with('-') => {
                g.push(arg.clone())
            }
            _ => groups.push(vec![arg.clone()]),
        }
    }
    groups
}

/// Quote one word for POSIX sh: bare when it is made only of characters
/// the shell leaves alone, else in single quotes.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=:,./@%^".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command as a POSIX shell command, one option per line with ` \`
/// continuations, every word quoted so that paste into sh gives `argv`.
pub fn render_shell(profile: &Profile) -> String {
    render_shell_for(profile, None)
}

/// [`render_shell`] for QEMU `version` (see [`render_argv_for`]).
pub fn render_shell_for(profile: &Profile, version: Option<QemuVersion>) -> String {
    let groups = render_groups(profile, version);
    let lines: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let words: Vec<String> = g.iter().map(|w| shell_quote(w)).collect();
            let indent = if i == 0 { "" } else { "  " };
            format!("{indent}{}", words.join(" "))
        })
        .collect();
    let mut out = lines.join(" \\\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::size::Size;

    #[test]
    fn seed_renders_with_on_booleans_and_automatic_m() {
        let p = Profile::seed(Path::new("/vms"));
        let argv = render_argv(&p);
        assert_eq!(argv[0], "qemu-system-x86_64");
        assert_eq!(argv[1..3], ["-machine", "pc,nvdimm=on"]);
        assert_eq!(argv[3..5], ["-m", "2G,slots=2,maxmem=36608M"]);
        assert!(argv.contains(
            &"memory-backend-file,id=mem1,share=on,mem-path=/vms/nvdimm-1,size=17G,align=128M"
                .to_string()
        ));
        assert!(argv.contains(&"nvdimm,memdev=mem1,id=nv1,label-size=2M".to_string()));
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let mut p = Profile::empty("x");
        p.devices
            .push(Dimm::nvdimm(1, "/a,b/c".into(), Size::gib(1)));
        let argv = render_argv(&p);
        assert!(argv.iter().any(|a| a.contains("mem-path=/a,,b/c,size=1G")));
    }

    #[test]
    fn shell_quoting_covers_awkward_characters() {
        assert_eq!(shell_quote("plain/path-1.img"), "plain/path-1.img");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn numa_nodes_split_ram_and_cpus() {
        let mut p = Profile::empty("x");
        p.numa_nodes = 2;
        p.cpus = 4;
        let argv = render_argv(&p);
        assert!(argv.contains(&"memory-backend-ram,id=numa0,size=1G".to_string()));
        assert!(argv.contains(&"node,nodeid=1,cpus=2-3,memdev=numa1".to_string()));
    }

    #[test]
    fn extra_args_keep_their_values_on_one_line() {
        let mut p = Profile::empty("x");
        p.extra_args = vec!["-nographic".into(), "-serial".into(), "mon:stdio".into()];
        let shell = render_shell(&p);
        assert!(shell.contains("  -nographic \\\n  -serial mon:stdio\n"));
    }
}
