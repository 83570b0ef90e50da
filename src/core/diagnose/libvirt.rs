//! Rules for running the profile's libvirt export (`check --libvirt`):
//! what libvirt changes (`core::libvirt::predict`, measured on libvirt
//! 9.0 with `virsh domxml-to-native qemu-argv`) and what the export
//! cannot say. They judge only when the shell asked libvirt for its
//! version ([`LibvirtStatus`]); otherwise they stay quiet.

use super::{Basis, Context, Edit, Finding, Fix, Flag, Rule, Severity};
use crate::core::facts::LibvirtStatus;
use crate::core::libvirt::{predict, LibvirtVersion, MODULE_ALIGN};
use crate::core::size::{format_qemu, Size};

fn asked(ctx: &Context) -> bool {
    ctx.host.libvirt.asked()
}

pub static LIBVIRT_PREALLOC: Rule = Rule {
    code: "QP900",
    name: "libvirt-prealloc",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "libvirt 9.0 adds `prealloc=on` to every NVDIMM's file backend \
(qemuBuildMemoryBackendProps: a file-backed NVDIMM without `<source><pmem/>`), so QEMU writes \
every page of the backing file when the domain starts: a sparse file becomes fully \
allocated on disk, and a large one takes minutes before the guest runs. \
`<memoryBacking><allocation mode='ondemand'/>` does not turn it off in 9.0 (measured with \
`virsh domxml-to-native qemu-argv`); only `<pmem/>` does, and it also passes `pmem=on` to \
QEMU. The fix sets pmem=on on the device, which the export writes as `<pmem/>`: applied \
unattended when the file is on a DAX file system, to review otherwise (QEMU 7.2 warns that \
pmem=on on a non-DAX file is deprecated, QP308).",
    check: libvirt_prealloc,
};

fn libvirt_prealloc(ctx: &Context) -> Vec<Finding> {
    if !asked(ctx) {
        return Vec::new();
    }
    let p = ctx.profile;
    p.devices
        .iter()
        .zip(predict(p, ctx.layout))
        .filter(|(_, pr)| pr.prealloc)
        .map(|(d, pr)| {
            let dax = d
                .backend
                .path()
                .and_then(|path| ctx.host.files.get(path))
                .and_then(|f| f.fs.as_ref())
                .is_some_and(|fs| fs.dax);
            let fix = Fix::one(
                format!("set pmem=on on {} (the export writes <source><pmem/>)", d.id),
                Edit::SetFlag {
                    device: d.id.clone(),
                    flag: Flag::Pmem,
                    value: true,
                },
            );
            let (fix, why) = if dax {
                (fix, None)
            } else {
                (
                    fix.maybe_incorrect(),
                    Some("the file is not known to be on DAX: QEMU warns pmem=on there is deprecated; or accept the preallocation"),
                )
            };
            Finding::fixed(
                Some(&d.id),
                format!(
                    "libvirt preallocates {}'s backend (prealloc=on): QEMU writes every page of its {} file when the domain starts",
                    d.id,
                    format_qemu(pr.size)
                ),
                fix,
                why,
            )
        })
        .collect()
}

pub static LIBVIRT_NAMES: Rule = Rule {
    code: "QP901",
    name: "libvirt-names",
    severity: Severity::Note,
    basis: Basis::Surprise,
    docs: "libvirt gives memory devices names of its own: `nvdimm` or `dimm` and the slot \
(`nvdimm0`, `dimm1`), `virtiopmem` or `virtiomem` and a count per model (`virtiopmem0`), \
and `mem` before that for the backend (`memnvdimm0`). `query-memory-devices` through \
`virsh qemu-monitor-command` reports these, not the profile's ids. The export pins each \
DIMM's slot to the one in qpmem's map, so the names follow from the map.",
    check: libvirt_names,
};

fn libvirt_names(ctx: &Context) -> Vec<Finding> {
    if !asked(ctx) {
        return Vec::new();
    }
    let p = ctx.profile;
    predict(p, ctx.layout)
        .into_iter()
        .map(|pr| {
            let slot = pr.slot.map(|s| format!(", slot {s}")).unwrap_or_default();
            Finding::about(
                Some(&pr.id),
                format!(
                    "libvirt runs {} as {} (backend {}{slot})",
                    pr.id, pr.alias, pr.backend
                ),
                None,
            )
        })
        .collect()
}

pub static LIBVIRT_MEMADDR: Rule = Rule {
    code: "QP902",
    name: "libvirt-memaddr-dropped",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "libvirt 9.0 has no element for a virtio-pmem or virtio-mem device's address \
(`memaddr=`): its schema refuses `<target><address base=..>` (added in later releases), so \
the export leaves it out and QEMU places the device first fit, where qpmem's map shows \
the pinned address. The fix clears memaddr, so the map shows where libvirt's QEMU puts it.",
    check: libvirt_memaddr,
};

fn libvirt_memaddr(ctx: &Context) -> Vec<Finding> {
    if !asked(ctx) {
        return Vec::new();
    }
    ctx.profile
        .devices
        .iter()
        .filter(|d| !d.kind.spec().takes_slot())
        .filter_map(|d| {
            let a = d.addr?;
            Some(Finding::fixed(
                Some(&d.id),
                format!(
                    "{}'s memaddr={a} is not carried over: libvirt {} cannot express it, QEMU places {} first fit",
                    d.id,
                    LibvirtVersion::MEASURED,
                    d.id
                ),
                Fix::one(
                    format!("clear memaddr on {}", d.id),
                    Edit::SetAddr {
                        device: d.id.clone(),
                        addr: None,
                    },
                )
                .maybe_incorrect(),
                None,
            ))
        })
        .collect()
}

pub static LIBVIRT_SIZE_ROUNDED: Rule = Rule {
    code: "QP903",
    name: "libvirt-size-rounded",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "libvirt rounds a memory module's size up to 2 MiB (`<target><size>`): QEMU then \
needs a backing file of the rounded size, the guest sees a different size than qpmem's map \
(an NVDIMM's visible size is what is left after the label, aligned down), and every device \
placed after it may move. The fix sets the size libvirt will use.",
    check: libvirt_size_rounded,
};

fn libvirt_size_rounded(ctx: &Context) -> Vec<Finding> {
    if !asked(ctx) {
        return Vec::new();
    }
    let p = ctx.profile;
    p.devices
        .iter()
        .zip(predict(p, ctx.layout))
        .filter(|(d, pr)| pr.size != d.size.0)
        .map(|(d, pr)| {
            Finding::fixed(
                Some(&d.id),
                format!(
                    "libvirt rounds {}'s size {} up to {} ({} MiB modules): the map changes",
                    d.id,
                    format_qemu(d.size.0),
                    format_qemu(pr.size),
                    MODULE_ALIGN >> 20
                ),
                Fix::one(
                    format!("set {}'s size to {}", d.id, format_qemu(pr.size)),
                    Edit::SetSize {
                        device: d.id.clone(),
                        size: Size(pr.size),
                    },
                )
                .maybe_incorrect(),
                None,
            )
        })
        .collect()
}

pub static LIBVIRT_SLOTS: Rule = Rule {
    code: "QP904",
    name: "libvirt-slots-raised",
    severity: Severity::Note,
    basis: Basis::Surprise,
    docs: "libvirt counts every memory device against `<maxMemory slots=..>`, virtio-pmem \
and virtio-mem too, and refuses a domain with more (\"memory device count '2' exceeds slots \
count '1'\", measured on 9.0), where QEMU gives slots to DIMMs only. The export raises slots \
to the number of devices; the device memory region grows by 1 GiB per slot added, the \
addresses stay.",
    check: libvirt_slots,
};

fn libvirt_slots(ctx: &Context) -> Vec<Finding> {
    if !asked(ctx) {
        return Vec::new();
    }
    let p = ctx.profile;
    let slots = crate::core::libvirt::slots(p);
    if slots == p.effective_slots() {
        return Vec::new();
    }
    vec![Finding::about(
        None,
        format!(
            "the export writes slots='{slots}' (the profile has {}): libvirt counts the virtio memory devices against slots",
            p.effective_slots()
        ),
        None,
    )]
}

pub static LIBVIRT_VIRTIO_PMEM: Rule = Rule {
    code: "QP906",
    name: "libvirt-virtio-pmem",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "libvirt 9.0 defines a domain with `<memory model='virtio-pmem'>` and then fails to start it: after QEMU starts, libvirt reads the memory devices back and refuses what QEMU reports for virtio-pmem (\"internal error: virtio-pmem memory device info is not handled yet\", measured with `virsh create --paused` of the `virtio-pmem` example's export; the domain is destroyed). Run such a profile directly (`qpmem launch`) or on a newer libvirt. Judged only when libvirt was asked (`check --libvirt`) and its release is 9.0.",
    check: libvirt_virtio_pmem,
};

fn libvirt_virtio_pmem(ctx: &Context) -> Vec<Finding> {
    let LibvirtStatus::Found { version, .. } = &ctx.host.libvirt else {
        return Vec::new();
    };
    if !version.is_measured() {
        return Vec::new();
    }
    ctx.profile
        .devices
        .iter()
        .filter(|d| d.kind.spec().libvirt_model() == "virtio-pmem")
        .map(|d| {
            Finding::about(
                Some(&d.id),
                format!(
                    "{}: libvirt {version} cannot start a domain with a virtio-pmem device (\"virtio-pmem memory device info is not handled yet\")",
                    d.id
                ),
                Some("run it with `qpmem launch` (QEMU directly), or on a newer libvirt".into()),
            )
        })
        .collect()
}

pub static LIBVIRT_UNMEASURED: Rule = Rule {
    code: "QP905",
    name: "libvirt-unmeasured",
    severity: Severity::Note,
    basis: Basis::Unpredictable,
    docs: "What libvirt changes (QP900-QP904, and the notes of `render --format libvirt`) was \
measured on libvirt 9.0. Another release, or a daemon that did not answer, may name, \
preallocate or round differently: run `virsh domxml-to-native qemu-argv FILE` on the \
export to see what it will run.",
    check: libvirt_unmeasured,
};

fn libvirt_unmeasured(ctx: &Context) -> Vec<Finding> {
    let message = match &ctx.host.libvirt {
        LibvirtStatus::NotAsked => return Vec::new(),
        LibvirtStatus::Found { version, .. } if version.is_measured() => return Vec::new(),
        LibvirtStatus::Found { uri, version } => format!(
            "libvirt {version} at {uri}: the libvirt findings were measured on {}",
            LibvirtVersion::MEASURED
        ),
        LibvirtStatus::Unreachable { uri, reason } => format!(
            "libvirt at {uri} did not answer ({reason}): the libvirt findings are libvirt {}'s",
            LibvirtVersion::MEASURED
        ),
    };
    vec![Finding::about(
        None,
        message,
        Some("compare with `virsh domxml-to-native qemu-argv` of the export".into()),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::check_profile;
    use crate::core::facts::{HostFacts, LibvirtStatus};
    use crate::core::libvirt::LibvirtVersion;
    use crate::core::profile::Profile;
    use std::path::Path;

    fn codes(p: &Profile, libvirt: LibvirtStatus) -> Vec<&'static str> {
        let host = HostFacts {
            libvirt,
            ..HostFacts::default()
        };
        check_profile(p, &[], &host)
            .into_iter()
            .map(|d| d.code)
            .filter(|c| c.starts_with("QP9"))
            .collect()
    }

    #[test]
    fn quiet_unless_asked_and_prealloc_until_pmem() {
        let mut p = Profile::seed(Path::new("/vms"));
        assert!(codes(&p, LibvirtStatus::NotAsked).is_empty());
        let found = LibvirtStatus::Found {
            uri: "qemu:///system".into(),
            version: LibvirtVersion::MEASURED,
        };
        let c = codes(&p, found.clone());
        assert_eq!(c.iter().filter(|c| **c == "QP900").count(), 2, "{c:?}");
        assert_eq!(c.iter().filter(|c| **c == "QP901").count(), 2, "{c:?}");
        for d in &mut p.devices {
            d.pmem = true;
        }
        assert!(!codes(&p, found).contains(&"QP900"));
        let other = LibvirtStatus::Found {
            uri: "x".into(),
            version: LibvirtVersion::parse("10.5.0").unwrap(),
        };
        assert!(codes(&p, other).contains(&"QP905"));
    }
}
