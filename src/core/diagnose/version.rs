//! Rules about the QEMU that will run the profile: whether it was found,
//! and whether its release has every property and machine type the
//! profile uses ([`crate::core::qemu::caps`]).

use super::{Applicability, Basis, Context, Edit, Finding, Fix, Flag, Rule, Severity};
use crate::core::facts::QemuStatus;
use crate::core::profile::{Backend, DimmKind, Profile};
use crate::core::qemu::caps::{machine_version, release, Feature};
use crate::core::qemu::props::{Group, Prop};
use crate::core::qemu::QemuVersion;
use crate::core::size::{Size, GIB};

pub static QEMU_NOT_FOUND: Rule = Rule {
    code: "QP400",
    name: "qemu-not-found",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "No QEMU binary was found (--qemu, $QPMEM_QEMU, the profile's qemu, \
qemu-system-<arch> on PATH), so the version checks were skipped. A warning, not an error: \
the configuration may well be right for the machine that will run it; --deny warnings \
makes it fatal.",
    check: qemu_not_found,
};

fn qemu_not_found(ctx: &Context) -> Vec<Finding> {
    match &ctx.host.qemu {
        QemuStatus::NotFound {
            wanted,
            origin,
            reason,
        } => vec![Finding::about(
            None,
            format!(
                "QEMU not found: {wanted} (from {}): {reason}",
                origin.describe()
            ),
            Some(format!(
                "install it ({}) or give --qemu PATH; the version checks were skipped",
                ctx.profile.arch.install_hint()
            )),
        )],
        _ => Vec::new(),
    }
}

pub static QEMU_VERSION_UNKNOWN: Rule = Rule {
    code: "QP401",
    name: "qemu-version-unknown",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The QEMU binary exists but `--version` did not say which release it is, so the \
version checks were skipped. --qemu-version X.Y tells qpmem instead.",
    check: qemu_version_unknown,
};

fn qemu_version_unknown(ctx: &Context) -> Vec<Finding> {
    match &ctx.host.qemu {
        QemuStatus::NoVersion { path, reason } if ctx.qemu_version().is_none() => {
            vec![Finding::about(
                None,
                format!("cannot tell which QEMU {} is: {reason}", path.display()),
                Some("give --qemu-version X.Y; the version checks were skipped".into()),
            )]
        }
        _ => Vec::new(),
    }
}

pub static NEEDS_NEWER_QEMU: Rule = Rule {
    code: "QP402",
    name: "needs-newer-qemu",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The profile uses a property the QEMU release lacks: memory devices 2.1, nvdimm \
2.6, label-size 2.7, discard-data 2.11, align and unarmed 2.12, nvdimm-persistence 3.0, \
pmem 3.1, uuid 5.0, align above 1 GiB 5.2, readonly 6.0, offset 8.1, rom 8.2; and every other \
property whose release props.rs dates from QEMU's source (reserve 6.1, prealloc-threads 5.0, \
prealloc-context 7.2), on a device's backend, a NUMA node's backend or -machine; a property \
past the release that removed it likewise. QEMU refuses an unknown property (\"Property \
'.align' not found\").",
    check: needs_newer_qemu,
};

/// Which features the profile uses, and by which devices (empty for the
/// machine as a whole).
fn features_used(p: &Profile) -> Vec<(Feature, Vec<&str>)> {
    let mut used: Vec<(Feature, Vec<&str>)> = Vec::new();
    fn add<'p>(used: &mut Vec<(Feature, Vec<&'p str>)>, f: Feature, id: Option<&'p str>) {
        let pos = match used.iter().position(|(g, _)| *g == f) {
            Some(i) => i,
            None => {
                used.push((f, Vec::new()));
                used.len() - 1
            }
        };
        if let Some(id) = id {
            used[pos].1.push(id);
        }
    }
    if !p.devices.is_empty() {
        add(&mut used, Feature::MemoryDevices, None);
    }
    if p.machine_options
        .iter()
        .any(|o| o.starts_with("nvdimm-persistence="))
    {
        add(&mut used, Feature::NvdimmPersistence, None);
    }
    for d in &p.devices {
        let id = Some(d.id.as_str());
        let nv = d.kind == DimmKind::Nvdimm;
        let file = matches!(d.backend, Backend::File(_));
        let opt = |list: &[String], key: &str| list.iter().any(|o| o.starts_with(key));
        let checks = [
            (nv, Feature::Nvdimm),
            (nv && d.label_size.0 > 0, Feature::LabelSize),
            (nv && d.unarmed, Feature::Unarmed),
            (file && d.discard_data, Feature::DiscardData),
            (file && d.align.is_some(), Feature::Align),
            (
                file && d.align.is_some_and(|a| a.0 > GIB),
                Feature::AlignAbove1G,
            ),
            (file && d.pmem, Feature::Pmem),
            (file && d.readonly, Feature::Readonly),
            (opt(&d.device_options, "uuid="), Feature::Uuid),
            (opt(&d.backend_options, "offset="), Feature::Offset),
            (opt(&d.backend_options, "rom="), Feature::Rom),
            (d.kind == DimmKind::VirtioPmem, Feature::VirtioPmem),
            (d.kind == DimmKind::VirtioMem, Feature::VirtioMem),
        ];
        for (uses, f) in checks {
            if uses {
                add(&mut used, f, id);
            }
        }
    }
    used
}

/// How to do without a feature, where that is harmless.
fn drop_feature(f: Feature, ids: &[&str]) -> Option<Fix> {
    let edits: Vec<Edit> = ids
        .iter()
        .map(|id| {
            let device = id.to_string();
            match f {
                Feature::Align => Some(Edit::SetAlign {
                    device,
                    align: None,
                }),
                Feature::AlignAbove1G => Some(Edit::SetAlign {
                    device,
                    align: Some(Size(GIB)),
                }),
                Feature::DiscardData => Some(Edit::SetFlag {
                    device,
                    flag: Flag::DiscardData,
                    value: false,
                }),
                Feature::Pmem => Some(Edit::SetFlag {
                    device,
                    flag: Flag::Pmem,
                    value: false,
                }),
                _ => None,
            }
        })
        .collect::<Option<_>>()?;
    if edits.is_empty() {
        return None;
    }
    let what = match f {
        Feature::Align => "remove align= from".to_string(),
        Feature::AlignAbove1G => "set align=1G on".to_string(),
        Feature::DiscardData => "set discard-data=off on".to_string(),
        Feature::Pmem => "set pmem=off on".to_string(),
        _ => return None,
    };
    Some(Fix {
        summary: format!("{what} {}", ids.join(", ")),
        edits,
        applicability: Applicability::MachineApplicable,
    })
}

/// The properties `Feature` already names (with their fixes).
const AS_FEATURES: &[&str] = &[
    "label-size",
    "unarmed",
    "discard-data",
    "align",
    "pmem",
    "readonly",
    "uuid",
    "offset",
    "rom",
    "nvdimm-persistence",
];

/// Every property the profile writes, by option group, with who writes
/// it (a device id, a NUMA backend's id, or the option for -machine).
fn properties_used(p: &Profile) -> Vec<(Group, String, String)> {
    let key = |o: &String| o.split('=').next().unwrap_or(o).to_string();
    let mut out = Vec::new();
    for o in &p.machine_options {
        out.push((Group::machine(p.arch), key(o), "-machine".to_string()));
    }
    for d in &p.devices {
        let backend = match d.backend {
            Backend::File(_) => Group::BackendFile,
            Backend::Ram => Group::BackendRam,
        };
        let device = d.kind.spec().props();
        for o in &d.backend_options {
            out.push((backend, key(o), d.id.clone()));
        }
        for o in &d.device_options {
            out.push((device, key(o), d.id.clone()));
        }
    }
    for n in &p.numa {
        if let Some(m) = &n.memdev {
            if let Some(g) = Group::of_object(&m.backend) {
                for o in &m.options {
                    out.push((g, key(o), m.id.clone()));
                }
            }
        }
        for o in &n.options {
            out.push((Group::NumaNode, key(o), "-numa node".to_string()));
        }
    }
    out
}

/// Properties the table dates from QEMU's source that this release does
/// not have yet, or no longer has (`Feature` covers the memory ones).
fn props_not_in(p: &Profile, v: QemuVersion) -> Vec<Finding> {
    let mut seen: Vec<(&'static str, &'static str, Vec<String>, &'static Prop)> = Vec::new();
    for (group, key, who) in properties_used(p) {
        let Some(prop) = group.find(&key) else {
            continue;
        };
        if !prop.verified || prop.in_version(v) || AS_FEATURES.contains(&prop.name) {
            continue;
        }
        let option = group.option();
        match seen
            .iter_mut()
            .find(|(o, n, _, _)| *o == option && *n == prop.name)
        {
            Some((_, _, users, _)) => users.push(who),
            None => seen.push((option, prop.name, vec![who], prop)),
        }
    }
    seen.into_iter()
        .map(|(option, name, users, prop)| {
            let users = users.join(", ");
            let gone = prop.until.filter(|u| v >= QemuVersion::new(u.0.into(), u.1.into(), 0));
            let (message, help) = match gone {
                Some((major, minor)) => (
                    format!(
                        "{option} {name}= was removed in QEMU {major}.{minor}, and this QEMU is {v} \
({users})"
                    ),
                    format!("remove {name}= from {option}"),
                ),
                None => (
                    format!(
                        "{option} {name}= needs QEMU {}.{}, but this QEMU is {v} ({users})",
                        prop.since.0, prop.since.1
                    ),
                    format!(
                        "remove {name}= or upgrade QEMU to {}.{} or newer",
                        prop.since.0, prop.since.1
                    ),
                ),
            };
            Finding::about(None, message, Some(help))
        })
        .collect()
}

fn needs_newer_qemu(ctx: &Context) -> Vec<Finding> {
    let Some(v) = ctx.qemu_version() else {
        return Vec::new();
    };
    let mut out = props_not_in(ctx.profile, v);
    out.extend(
        features_used(ctx.profile)
            .into_iter()
            .filter(|(f, _)| !f.in_version(v))
            .map(|(f, ids)| {
                let since = release(f.since());
                let users = if ids.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} {} it)",
                        ids.join(", "),
                        if ids.len() == 1 { "uses" } else { "use" }
                    )
                };
                let message = format!(
                    "{} needs QEMU {since}, but this QEMU is {v}{users}",
                    f.spelling()
                );
                let upgrade = format!("upgrade QEMU to {since} or newer");
                match drop_feature(f, &ids) {
                    Some(fix) => Finding::fixed(
                        ids.first().copied(),
                        message,
                        fix,
                        Some(&format!("or {upgrade}")),
                    ),
                    None => Finding::about(ids.first().copied(), message, Some(upgrade)),
                }
            }),
    );
    out
}

pub static MACHINE_TOO_NEW: Rule = Rule {
    code: "QP403",
    name: "machine-too-new",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A versioned machine type (pc-i440fx-8.2, pc-q35-9.0, virt-8.0) newer than the QEMU release \
does not exist there. QEMU refuses: \"unsupported machine type\".",
    check: machine_too_new,
};

fn machine_too_new(ctx: &Context) -> Vec<Finding> {
    let (Some(v), Some(m)) = (ctx.qemu_version(), machine_version(&ctx.profile.machine)) else {
        return Vec::new();
    };
    if (m.major, m.minor) <= (v.major, v.minor) {
        return Vec::new();
    }
    let (family, prefix) = ctx
        .profile
        .machine_family()
        .map_or(("pc", "pc-i440fx-"), |f| {
            (f.spec().name(), f.spec().version_prefix())
        });
    vec![Finding::about(
        None,
        format!(
            "machine type {} needs QEMU {}.{}, but this QEMU is {v}",
            ctx.profile.machine, m.major, m.minor
        ),
        Some(format!(
            "use machine {family} (this QEMU's newest) or {prefix}{}.{}",
            v.major, v.minor
        )),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::facts::Origin;
    use crate::core::profile::Dimm;
    use crate::core::qemu::QemuVersion;

    fn at(p: &Profile, major: u32, minor: u32) -> Vec<super::super::Diagnostic> {
        run_with(
            p,
            &[],
            &HostFacts::default(),
            Some(QemuVersion::new(major, minor, 0)),
        )
    }

    #[test]
    fn align_on_2_11_names_2_12() {
        let p = seed(Some(Size::mib(128)));
        let ds = at(&p, 2, 11);
        let e = only(&ds, "QP402");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert_eq!(
            e[0].message,
            "align= needs QEMU 2.12, but this QEMU is 2.11.0 (nv1, nv2 use it)"
        );
        assert_eq!(
            e[0].help.as_deref(),
            Some("remove align= from nv1, nv2 (or upgrade QEMU to 2.12 or newer)")
        );
        assert!(only(&at(&p, 2, 12), "QP402").is_empty());
        // Without a known version nothing is judged.
        assert!(only(&run(&p), "QP402").is_empty());
    }

    #[test]
    fn virtio_devices_name_their_releases() {
        let mut p = seed(None);
        p.devices = vec![
            Dimm::virtio_pmem(1, "/vms/vp1".into(), Size::gib(1)),
            Dimm::virtio_mem(2, Size::gib(1)),
        ];
        let msgs = |major, minor| -> Vec<String> {
            only(&at(&p, major, minor), "QP402")
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        let old = msgs(4, 0);
        assert!(
            old.iter()
                .any(|m| m.starts_with("-device virtio-pmem-pci needs QEMU 4.1")),
            "{old:?}"
        );
        assert!(
            old.iter()
                .any(|m| m.starts_with("-device virtio-mem-pci needs QEMU 5.1")),
            "{old:?}"
        );
        let mid = msgs(4, 1);
        assert!(
            !mid.iter().any(|m| m.contains("virtio-pmem-pci")),
            "{mid:?}"
        );
        assert!(msgs(5, 1).iter().all(|m| !m.contains("virtio-mem-pci")));
    }

    #[test]
    fn each_feature_names_its_release() {
        let mut p = seed(Some(Size::gib(2)));
        p.devices[0].readonly = true;
        p.devices[0].unarmed = true;
        p.devices[1].pmem = true;
        p.devices[1].device_options = vec!["uuid=01234567-89ab-cdef-0123-456789abcdef".into()];
        let ds = at(&p, 2, 5);
        let msgs: Vec<&str> = only(&ds, "QP402")
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        for want in [
            "-device nvdimm needs QEMU 2.6",
            "label-size= needs QEMU 2.7",
            "unarmed= needs QEMU 2.12",
            "align= needs QEMU 2.12",
            "align= above 1 GiB needs QEMU 5.2",
            "readonly= needs QEMU 6.0",
            "pmem= needs QEMU 3.1",
            "uuid= needs QEMU 5.0",
        ] {
            assert!(
                msgs.iter().any(|m| m.starts_with(want)),
                "{want}: {msgs:#?}"
            );
        }
        assert!(!msgs.iter().any(|m| m.starts_with("memory devices")));
        let ds = at(&p, 5, 1);
        let msgs: Vec<&str> = only(&ds, "QP402")
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(only(&at(&p, 6, 0), "QP402").is_empty());
    }

    /// Properties the table dates (props.rs), not only those `Feature`
    /// knows: a backend's reserve= on 6.0, a NUMA node's backend with
    /// prealloc-context= on 7.1.
    #[test]
    fn table_properties_newer_than_the_qemu_are_named() {
        let mut p = seed(None);
        p.devices[0].backend_options = vec!["reserve=off".into()];
        let ds = at(&p, 6, 0);
        let e = only(&ds, "QP402");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert_eq!(
            e[0].message,
            "-object memory-backend-* reserve= needs QEMU 6.1, but this QEMU is 6.0.0 (nv1)"
        );
        assert!(only(&at(&p, 6, 1), "QP402").is_empty());
        let (q, _) = crate::core::cmdline::import(
            "-m 1G -object memory-backend-ram,id=r0,size=1G,prealloc-context=tc -numa node,memdev=r0",
        )
        .unwrap();
        let ds = at(&q, 7, 1);
        let e = only(&ds, "QP402");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert!(
            e[0].message.contains("prealloc-context= needs QEMU 7.2"),
            "{}",
            e[0].message
        );
        assert!(e[0].message.ends_with("(r0)"), "{}", e[0].message);
        // Unchecked releases never refuse (acpi= is listed from 5.2).
        let mut m = seed(None);
        m.machine_options = vec!["acpi=on".into()];
        assert!(only(&at(&m, 4, 0), "QP402")
            .iter()
            .all(|d| !d.message.contains("acpi")));
    }

    #[test]
    fn versioned_machine_types_must_exist() {
        let mut p = seed(None);
        p.machine = "pc-i440fx-8.2".into();
        let ds = at(&p, 7, 2);
        let e = only(&ds, "QP403");
        assert_eq!(
            e[0].message,
            "machine type pc-i440fx-8.2 needs QEMU 8.2, but this QEMU is 7.2.0"
        );
        assert!(only(&at(&p, 8, 2), "QP403").is_empty());
        p.machine = "q35".into();
        assert!(only(&at(&p, 2, 12), "QP403").is_empty());
    }

    #[test]
    fn qemu_missing_or_mute() {
        let p = seed(None);
        assert!(only(&run(&p), "QP400").is_empty());
        let mut h = HostFacts {
            qemu: QemuStatus::NotFound {
                wanted: "qemu-system-x86_64".into(),
                origin: Origin::Default,
                reason: "not on PATH".into(),
            },
            ..Default::default()
        };
        let ds = run_with(&p, &[], &h, None);
        let w = only(&ds, "QP400");
        assert_eq!(w[0].severity, Severity::Warning);
        assert!(
            w[0].message.contains("qemu-system-x86_64 (from PATH)"),
            "{}",
            w[0].message
        );
        h.qemu = QemuStatus::NoVersion {
            path: "/usr/bin/qemu".into(),
            reason: "no version".into(),
        };
        assert_eq!(only(&run_with(&p, &[], &h, None), "QP401").len(), 1);
        // Given a version by hand, the mute binary does not matter.
        let v = Some(QemuVersion::new(7, 2, 0));
        assert!(only(&run_with(&p, &[], &h, v), "QP401").is_empty());
    }
}
