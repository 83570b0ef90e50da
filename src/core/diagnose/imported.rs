//! Rules about a pasted QEMU command line ([`crate::core::cmdline::ImportNote`]):
//! what QEMU would do with the line *as it was pasted*. A line QEMU
//! refuses is an error, even where the profile made from it (and so the
//! line `qpmem render` prints) already mends it; the help says what
//! render changes, so that the user fixes their own scripts too. What
//! QEMU only deprecates is a warning. Plus the devices qpmem cannot
//! place yet (virtio-pmem, virtio-mem, CXL), named rather than left out
//! of the map silently.

use super::{Basis, Context, Finding, Rule, Severity};
use crate::core::cmdline::{ImportNote, ImportNoteKind};
use crate::core::qemu::caps::{release, BARE_BOOLEAN_DEPRECATED, BARE_BOOLEAN_MACHINE_REFUSED};
use crate::core::size::format_qemu;

pub static NVDIMM_NOT_ENABLED: Rule = Rule {
    code: "QP001",
    name: "nvdimm-not-enabled",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted line uses -device nvdimm without nvdimm=on on -machine. QEMU refuses \
it: \"nvdimm is not enabled: missing 'nvdimm' in '-M'\". `qpmem render` writes nvdimm=on.",
    check: nvdimm_not_enabled,
};

pub static SLOTS_MISSING: Rule = Rule {
    code: "QP002",
    name: "slots-missing",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted -m has no slots= but the line has memory devices. QEMU refuses them: \
\"no slots where allocated, please specify the 'slots' option\". `qpmem render` writes slots=.",
    check: slots_missing,
};

pub static MAXMEM_MISSING: Rule = Rule {
    code: "QP003",
    name: "maxmem-missing",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted -m has no maxmem= but the line has memory devices. Without it there \
is no device memory region (and slots= alone is refused: \"slots specified but no \
max-size\"). `qpmem render` writes maxmem=.",
    check: maxmem_missing,
};

pub static BARE_BOOLEAN: Rule = Rule {
    code: "QP004",
    name: "bare-boolean",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted line writes a boolean bare (`share` for `share=on`). QEMU 6.0 \
deprecated the short form (\"short-form boolean option 'share' deprecated\"); -object, \
-device and -m still take it with a warning (on -machine see QP005). `qpmem render` \
writes =on/=off.",
    check: bare_boolean,
};

pub static BARE_BOOLEAN_REFUSED: Rule = Rule {
    code: "QP005",
    name: "bare-boolean-refused",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted -machine writes a boolean bare (`-M pc,nvdimm`). Since QEMU 6.1 \
-machine is parsed as keyval, which refuses it: \"Expected '=' after parameter 'nvdimm'\" \
(on older QEMU it is only deprecated, QP004). `qpmem render` writes nvdimm=on.",
    check: bare_boolean_refused,
};

pub static UNKNOWN_PROPERTY: Rule = Rule {
    code: "QP006",
    name: "unknown-property",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The pasted line gives a property that no QEMU release has in that option \
(qpmem's table of -machine, -object memory-backend-*, -device nvdimm/pc-dimm properties, \
src/core/qemu/props.rs). QEMU refuses it: \"Property 'nvdimm.lable-size' not found\", \
\"Invalid parameter 'lable'\". The help names the nearest real property.",
    check: unknown_property,
};

pub static STRAY_COMMA: Rule = Rule {
    code: "QP007",
    name: "stray-comma",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A path in the pasted line holds a single comma (`mem-path=/x/my dimm,1`). QEMU \
reads what follows as another property and refuses it (\"Invalid parameter '1'\"). A \
comma inside a value is written doubled: `mem-path=/x/my dimm,,1`.",
    check: stray_comma,
};

pub static HEX_SIZE_SUFFIX: Rule = Rule {
    code: "QP008",
    name: "hex-size-suffix",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted line writes a hexadecimal size with a unit suffix (`size=0x10M`). QEMU \
6.0 deprecated it (\"Using a multiplier suffix on hex numbers is deprecated\"). `qpmem \
render` writes sizes in decimal with a suffix.",
    check: hex_size_suffix,
};

pub static MACHINE_BACKEND: Rule = Rule {
    code: "QP024",
    name: "machine-memory-backend",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "`-machine memory-backend=ID` makes that backend the guest's RAM. QEMU refuses a \
backend the line does not define (\"Memory backend 'ID' not found\") and one whose size is \
not `-m`'s (\"Machine memory size does not match the size of the memory backend\").",
    check: machine_backend,
};

pub static NOT_MODELLED: Rule = Rule {
    code: "QP009",
    name: "device-not-modelled",
    severity: Severity::Error,
    basis: Basis::Unpredictable,
    docs: "The command line has a memory device qpmem does not place yet: the bare virtio-bus \
`virtio-pmem` and `virtio-mem` take room in the same device memory region as the DIMMs (first \
fit, in command-line order); a CXL device the modelled topology cannot hold (a type-3 device on \
a plain PCIe root port, a host bridge without id) stays outside it. Every address qpmem predicts after one \
could be wrong, so `qpmem map` refuses (exit 2) and check reports it, naming the device.",
    check: not_modelled,
};

pub static LIBVIRT_NOT_CARRIED: Rule = Rule {
    code: "QP025",
    name: "libvirt-not-carried",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The imported libvirt domain has something qpmem neither models nor keeps: an \
attribute of an element qpmem writes itself (`<cpu mode=...>` on x86, a cell's `memAccess`), \
a memory device's PCI address, a memory model qpmem does not place. Elements qpmem does not model (disks, interfaces, graphics, `<uuid>`) are kept and \
written back by `render --format libvirt`; these are not, and the finding names each.",
    check: libvirt_not_carried,
};

fn notes<'a>(ctx: &Context<'a>, kind: ImportNoteKind) -> impl Iterator<Item = &'a ImportNote> {
    ctx.import_notes.iter().filter(move |n| n.kind == kind)
}

/// The device an import note's subject (`mem1 share`, `nv1 unarmed`) is about.
fn device_of(ctx: &Context, subject: &str) -> Option<String> {
    let first = subject.split(' ').next()?;
    ctx.profile
        .devices
        .iter()
        .find(|d| d.id == first || d.memdev == first)
        .map(|d| d.id.clone())
}

fn nvdimm_not_enabled(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::MissingNvdimmOn)
        .map(|_| {
            Finding::about(
                None,
                "the pasted -machine has no nvdimm=on: QEMU refuses NVDIMMs without it".into(),
                Some("add nvdimm=on to -machine, as `qpmem render` does".into()),
            )
        })
        .collect()
}

fn slots_missing(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::MissingSlots)
        .map(|_| {
            Finding::about(
                None,
                "the pasted -m has no slots=: QEMU refuses memory devices without slots".into(),
                Some(format!(
                    "add slots={} to -m, as `qpmem render` does",
                    ctx.profile.effective_slots()
                )),
            )
        })
        .collect()
}

fn maxmem_missing(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::MissingMaxmem)
        .map(|_| {
            Finding::about(
                None,
                "the pasted -m has no maxmem=: QEMU then has no room for memory devices".into(),
                Some(format!(
                    "add maxmem={} to -m, as `qpmem render` does",
                    format_qemu(ctx.profile.effective_maxmem())
                )),
            )
        })
        .collect()
}

/// Does this QEMU refuse a bare boolean on -machine (unknown: assume a
/// current one, which does)?
fn machine_refuses_bare(ctx: &Context) -> bool {
    ctx.qemu_version()
        .is_none_or(|v| v >= BARE_BOOLEAN_MACHINE_REFUSED)
}

fn bare_finding(ctx: &Context, n: &ImportNote, consequence: String) -> Finding {
    let key = n.subject.rsplit(' ').next().unwrap_or(&n.subject);
    let written = match key.strip_prefix("no") {
        // QEMU reads a bare `noshare` as share=off.
        Some(k) if !k.is_empty() && key != "nodefaults" => format!("{k}=off"),
        _ => format!("{key}=on"),
    };
    Finding::about(
        device_of(ctx, &n.subject).as_deref(),
        format!(
            "the pasted line writes the boolean `{key}` bare ({}): {consequence}",
            n.subject
        ),
        Some(format!("write {written}, as `qpmem render` does")),
    )
}

fn bare_boolean(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::BareBoolean)
        .filter(|n| !(n.subject.starts_with("-machine ") && machine_refuses_bare(ctx)))
        .map(|n| {
            bare_finding(
                ctx,
                n,
                format!("deprecated since QEMU {}", release(BARE_BOOLEAN_DEPRECATED)),
            )
        })
        .collect()
}

fn bare_boolean_refused(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::BareBoolean)
        .filter(|n| n.subject.starts_with("-machine ") && machine_refuses_bare(ctx))
        .map(|n| {
            let key = n.subject.rsplit(' ').next().unwrap_or(&n.subject);
            bare_finding(
                ctx,
                n,
                format!(
                    "QEMU {}+ refuses it on -machine (\"Expected '=' after parameter '{key}'\")",
                    release(BARE_BOOLEAN_MACHINE_REFUSED)
                ),
            )
        })
        .collect()
}

fn unknown_property(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::UnknownProperty)
        .map(|n| {
            let (option, key) = n.subject.rsplit_once(' ').unwrap_or(("", &n.subject));
            let help = if n.detail.is_empty() {
                format!("remove {key}= from {option}: no QEMU release knows it there")
            } else {
                format!(
                    "did you mean {}? (`qpmem render` keeps the line's {key}=)",
                    n.detail
                )
            };
            Finding::about(
                None,
                format!("{option} has no property `{key}`: QEMU refuses the line"),
                Some(help),
            )
        })
        .collect()
}

fn stray_comma(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::StrayComma)
        .map(|n| {
            let (path, tail) = n.detail.rsplit_once(',').unwrap_or((&n.detail, ""));
            Finding::about(
                device_of(ctx, &n.subject).as_deref(),
                format!(
                    "a single comma in `{}`: QEMU reads `{tail}` as another property and refuses it",
                    n.detail
                ),
                Some(format!("write ,, for a comma in a path: {path},,{tail}")),
            )
        })
        .collect()
}

fn machine_backend(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::MachineBackend)
        .map(|n| {
            let (message, help) = if n.detail.is_empty() {
                (
                    format!(
                        "-machine memory-backend={}: the line defines no such backend",
                        n.subject
                    ),
                    format!(
                        "add -object memory-backend-ram,id={},size={}",
                        n.subject,
                        format_qemu(ctx.profile.ram.0)
                    ),
                )
            } else {
                (
                    format!(
                        "-machine memory-backend={} is {} but -m is {}: QEMU refuses a machine \
memory size that does not match its backend",
                        n.subject,
                        n.detail,
                        format_qemu(ctx.profile.ram.0)
                    ),
                    format!("make -m and {}'s size= the same", n.subject),
                )
            };
            Finding::about(None, message, Some(help))
        })
        .collect()
}

fn hex_size_suffix(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::HexSizeSuffix)
        .map(|n| {
            Finding::about(
                device_of(ctx, &n.subject).as_deref(),
                format!(
                    "a hexadecimal size with a unit suffix ({}): deprecated since QEMU 6.0",
                    n.subject
                ),
                Some("write it in decimal with a suffix, as `qpmem render` does".into()),
            )
        })
        .collect()
}

fn libvirt_not_carried(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::LibvirtNotCarried)
        .map(|n| {
            let device = ctx
                .profile
                .devices
                .iter()
                .find(|d| d.id == n.subject)
                .map(|d| d.id.as_str());
            Finding::about(
                device,
                format!("libvirt domain: {}: {}", n.subject, n.detail),
                Some(
                    "`render --format libvirt` writes the domain without it; add it back by hand (or with `virsh edit`) if it matters"
                        .into(),
                ),
            )
        })
        .collect()
}

fn not_modelled(ctx: &Context) -> Vec<Finding> {
    crate::core::cmdline::unmodelled(ctx.profile)
        .into_iter()
        .map(|u| {
            Finding::about(
                None,
                format!("qpmem cannot predict placement with {u}: not modelled"),
                Some(
                    "the addresses qpmem shows for the DIMMs may be wrong; `qpmem probe` asks \
real QEMU"
                        .into(),
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::cmdline::import;
    use crate::core::qemu::QemuVersion;

    const SEED_LINE: &str = "qemu-system-x86_64 -machine pc,nvdimm -m 512M,slots=2,maxmem=40G \
        -object memory-backend-file,id=mem1,share,mem-path=/vms/nv1,size=17G,align=128M \
        -device nvdimm,memdev=mem1,id=nv1,label-size=2M";

    fn diags(line: &str, v: Option<QemuVersion>) -> Vec<super::super::Diagnostic> {
        let (p, notes) = import(line).unwrap();
        run_with(&p, &notes, &Default::default(), v)
    }

    #[test]
    fn bare_booleans_of_the_seed_line() {
        let ds = diags(SEED_LINE, None);
        // -machine pc,nvdimm: refused by a current QEMU, an error.
        let refused = only(&ds, "QP005");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].severity, super::Severity::Error);
        assert!(
            refused[0].message.contains("`nvdimm`"),
            "{}",
            refused[0].message
        );
        assert!(
            refused[0].message.contains("refuses"),
            "{}",
            refused[0].message
        );
        assert_eq!(
            refused[0].help.as_deref(),
            Some("write nvdimm=on, as `qpmem render` does")
        );
        // share: only deprecated.
        let bare = only(&ds, "QP004");
        assert_eq!(bare.len(), 1);
        assert_eq!(bare[0].device.as_deref(), Some("nv1"));
        assert!(bare[0].message.contains("deprecated since QEMU 6.0"));
        assert_eq!(
            bare[0].help.as_deref(),
            Some("write share=on, as `qpmem render` does")
        );
        // QEMU 6.0 only deprecates the bare machine option.
        let ds = diags(SEED_LINE, Some(QemuVersion::new(6, 0, 0)));
        assert!(only(&ds, "QP005").is_empty());
        assert_eq!(only(&ds, "QP004").len(), 2);
        // Written out: nothing to say.
        let good = SEED_LINE
            .replace("nvdimm -m", "nvdimm=on -m")
            .replace("share,", "share=on,");
        let ds = diags(&good, None);
        assert!(only(&ds, "QP004").is_empty() && only(&ds, "QP005").is_empty());
    }

    #[test]
    fn missing_nvdimm_slots_and_maxmem_are_errors_of_the_pasted_line() {
        let line = "-machine pc -m 512M \
            -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=1G \
            -device nvdimm,memdev=mem1,id=nv1";
        let ds = diags(line, None);
        for code in ["QP001", "QP002", "QP003"] {
            let d = only(&ds, code);
            assert_eq!(d.len(), 1, "{code}");
            assert_eq!(d[0].severity, super::Severity::Error, "{code}");
        }
        assert_eq!(
            only(&ds, "QP002")[0].help.as_deref(),
            Some("add slots=1 to -m, as `qpmem render` does")
        );
        assert!(only(&ds, "QP003")[0]
            .help
            .as_deref()
            .unwrap()
            .contains("maxmem=1536M"));
        let ok = diags(
            "-machine pc,nvdimm=on -m 512M,slots=1,maxmem=2G \
             -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=1G \
             -device nvdimm,memdev=mem1,id=nv1",
            None,
        );
        for code in ["QP001", "QP002", "QP003"] {
            assert!(only(&ok, code).is_empty(), "{code}");
        }
        // A profile's own automatic values raise nothing.
        let mut p = crate::core::profile::Profile::seed(std::path::Path::new("/vms"));
        p.slots = crate::core::profile::Auto::Auto;
        let ds = run_with(&p, &[], &Default::default(), None);
        assert!(ds.iter().all(|d| !d.code.starts_with("QP00")), "{ds:#?}");
    }

    #[test]
    fn unknown_properties_get_a_did_you_mean_and_stray_commas_their_own_help() {
        let ds = diags(
            "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=4G \
             -object memory-backend-file,id=m1,share=on,mem-path=/x/my,1,size=1G \
             -device nvdimm,memdev=m1,id=nv1,lable-size=2M",
            None,
        );
        let unknown = only(&ds, "QP006");
        assert_eq!(unknown.len(), 1, "{ds:#?}");
        assert!(unknown[0]
            .message
            .contains("-device nvdimm has no property `lable-size`"));
        assert!(unknown[0]
            .help
            .as_deref()
            .unwrap()
            .contains("did you mean label-size?"));
        let comma = only(&ds, "QP007");
        assert_eq!(comma.len(), 1, "{ds:#?}");
        assert_eq!(comma[0].severity, super::Severity::Error);
        assert!(
            comma[0].message.contains("`mem-path=/x/my,1`"),
            "{}",
            comma[0].message
        );
        assert_eq!(
            comma[0].help.as_deref(),
            Some("write ,, for a comma in a path: mem-path=/x/my,,1")
        );
        // A misspelt machine property too.
        let ds = diags("-machine pc,nvdimm=on,lable=1 -m 1G", None);
        assert_eq!(only(&ds, "QP006").len(), 1);
    }

    #[test]
    fn unmodelled_devices_are_named() {
        let ds = diags(
            "-machine pc,nvdimm=on -m 1G,slots=4,maxmem=32G \
             -object memory-backend-file,id=vm1,share=on,mem-path=/x/v,size=4G \
             -device virtio-pmem,memdev=vm1,id=vpmem1 \
             -object memory-backend-file,id=m1,share=on,mem-path=/x/n,size=2G \
             -device nvdimm,memdev=m1,id=nv1",
            None,
        );
        let d = only(&ds, "QP009");
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "qpmem cannot predict placement with virtio-pmem vpmem1: not modelled"
        );
        // virtio-pmem-pci is a device kind qpmem places.
        let ds = diags(
            "-machine pc,nvdimm=on -m 1G,slots=4,maxmem=32G \
             -object memory-backend-file,id=vm1,share=on,mem-path=/x/v,size=4G \
             -device virtio-pmem-pci,memdev=vm1,id=vpmem1",
            None,
        );
        assert!(only(&ds, "QP009").is_empty());
    }
}
