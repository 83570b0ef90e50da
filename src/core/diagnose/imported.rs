//! Rules about a pasted QEMU command line ([`crate::core::cmdline::ImportNote`]):
//! what QEMU would have said about the line as it was pasted. The profile
//! made from it, and so every line qpmem renders, already fixes these;
//! the warnings say so, so that the user fixes their own scripts too.

use super::{Basis, Context, Finding, Rule, Severity};
use crate::core::cmdline::{ImportNote, ImportNoteKind};
use crate::core::qemu::caps::{release, BARE_BOOLEAN_DEPRECATED, BARE_BOOLEAN_MACHINE_REFUSED};
use crate::core::size::format_qemu;

pub static NVDIMM_NOT_ENABLED: Rule = Rule {
    code: "QP001",
    name: "nvdimm-not-enabled",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted line uses -device nvdimm without nvdimm=on on -machine. QEMU refuses \
it: \"nvdimm is not enabled: missing 'nvdimm' in '-M'\". qpmem always writes nvdimm=on.",
    check: nvdimm_not_enabled,
};

pub static SLOTS_MISSING: Rule = Rule {
    code: "QP002",
    name: "slots-missing",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted -m has no slots=. QEMU refuses memory devices then: \"no slots where \
allocated, please specify the 'slots' option\". qpmem always writes slots=.",
    check: slots_missing,
};

pub static MAXMEM_MISSING: Rule = Rule {
    code: "QP003",
    name: "maxmem-missing",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted -m has no maxmem=. Without it there is no device memory region (and \
slots= alone is refused: \"slots specified but no max-size\"). qpmem always writes maxmem=.",
    check: maxmem_missing,
};

pub static BARE_BOOLEAN: Rule = Rule {
    code: "QP004",
    name: "bare-boolean",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "The pasted line writes a boolean bare (`share` for `share=on`, `-M pc,nvdimm`). \
QEMU 6.0 deprecated the short form, and since 6.1 -machine refuses it (\"Expected '=' \
after parameter 'nvdimm'\"); other options still warn. qpmem always writes =on/=off.",
    check: bare_boolean,
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
                Some("qpmem's command line adds nvdimm=on (see `qpmem render`)".into()),
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
                    "qpmem's command line sets slots={} (see `qpmem render`)",
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
                    "qpmem's command line sets maxmem={} (see `qpmem render`)",
                    format_qemu(ctx.profile.effective_maxmem())
                )),
            )
        })
        .collect()
}

fn bare_boolean(ctx: &Context) -> Vec<Finding> {
    notes(ctx, ImportNoteKind::BareBoolean)
        .map(|n| {
            let key = n.subject.rsplit(' ').next().unwrap_or(&n.subject);
            let on_machine = n.subject.starts_with("-machine");
            let refused = on_machine
                && ctx
                    .qemu_version()
                    .is_none_or(|v| v >= BARE_BOOLEAN_MACHINE_REFUSED);
            let consequence = if refused {
                format!(
                    "QEMU {}+ refuses it on -machine",
                    release(BARE_BOOLEAN_MACHINE_REFUSED)
                )
            } else {
                format!("deprecated since QEMU {}", release(BARE_BOOLEAN_DEPRECATED))
            };
            Finding::about(
                device_of(ctx, &n.subject).as_deref(),
                format!(
                    "the pasted line writes the boolean `{key}` bare ({}): {consequence}",
                    n.subject
                ),
                Some(format!("qpmem's command line writes {key}=on")),
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
        let bare = only(&ds, "QP004");
        assert_eq!(bare.len(), 2);
        assert!(bare[0].message.contains("`nvdimm`"), "{}", bare[0].message);
        assert!(bare[0].message.contains("refuses"), "{}", bare[0].message);
        assert_eq!(bare[1].device.as_deref(), Some("nv1"));
        assert!(bare[1].message.contains("deprecated since QEMU 6.0"));
        assert_eq!(
            bare[1].help.as_deref(),
            Some("qpmem's command line writes share=on")
        );
        // An old QEMU only deprecates the bare machine option.
        let ds = diags(SEED_LINE, Some(QemuVersion::new(6, 0, 0)));
        assert!(only(&ds, "QP004")[0].message.contains("deprecated"));
        // Written out: nothing to say.
        let good = SEED_LINE
            .replace("nvdimm -m", "nvdimm=on -m")
            .replace("share,", "share=on,");
        assert!(only(&diags(&good, None), "QP004").is_empty());
    }

    #[test]
    fn missing_nvdimm_slots_and_maxmem() {
        let line = "-machine pc -m 512M \
            -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=1G \
            -device nvdimm,memdev=mem1,id=nv1";
        let ds = diags(line, None);
        assert_eq!(only(&ds, "QP001").len(), 1);
        assert_eq!(
            only(&ds, "QP002")[0].help.as_deref(),
            Some("qpmem's command line sets slots=1 (see `qpmem render`)")
        );
        assert!(only(&ds, "QP003")[0]
            .help
            .as_deref()
            .unwrap()
            .contains("maxmem=1536M"));
        // The rendered line fixes all three, so nothing is an error.
        assert!(
            ds.iter().all(|d| d.severity != super::Severity::Error),
            "{ds:#?}"
        );
        let ok = diags(
            "-machine pc,nvdimm=on -m 512M,slots=1,maxmem=2G \
             -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=1G \
             -device nvdimm,memdev=mem1,id=nv1",
            None,
        );
        for code in ["QP001", "QP002", "QP003"] {
            assert!(only(&ok, code).is_empty(), "{code}");
        }
    }
}
