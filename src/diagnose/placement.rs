//! Rules about where devices land: Linux memory sections.

use super::{Context, Edit, Finding, Fix, Rule, Severity};
use crate::layout::{past_section, Placement};
use crate::size::{align_up, format_human, format_qemu, Size};

pub static SECTION_MISALIGNED: Rule = Rule {
    code: "QP100",
    name: "section-misaligned",
    severity: Severity::Warning,
    docs: "A DIMM that starts or ends off a Linux memory section (128 MiB on x86_64). \
Linux 5.3+ (sub-section hotplug) copes down to 2 MiB for pmem, but older kernels, \
memory hotplug next to pmem and hotplug memory blocks want whole sections. Setting \
align=128M on the backends puts every DIMM on a section boundary.",
    check: check_section,
};

fn check_section(ctx: &Context) -> Vec<Finding> {
    let Some(layout) = ctx.layout else {
        return Vec::new();
    };
    let section = layout.section_size;
    layout
        .placements()
        .filter(|(_, p)| !p.start_aligned || !p.end_aligned)
        .map(|(d, p)| {
            let message = describe(&d.id, p, section);
            let fix = ctx
                .profile
                .devices
                .iter()
                .find(|x| x.id == d.id)
                .filter(|x| x.backend.path().is_some())
                .map(|_| {
                    // Align every file-backed DIMM so the ones after it line up too.
                    let edits: Vec<Edit> = ctx
                        .profile
                        .devices
                        .iter()
                        .filter(|x| {
                            x.backend.path().is_some() && x.align.is_none_or(|a| a.0 < section)
                        })
                        .map(|x| Edit::SetAlign {
                            device: x.id.clone(),
                            align: Some(Size(section)),
                        })
                        .collect();
                    let names: Vec<&str> = ctx
                        .profile
                        .devices
                        .iter()
                        .filter(|x| {
                            x.backend.path().is_some() && x.align.is_none_or(|a| a.0 < section)
                        })
                        .map(|x| x.id.as_str())
                        .collect();
                    Fix {
                        summary: format!(
                            "set align={} on {}",
                            format_qemu(section),
                            names.join(", ")
                        ),
                        edits,
                    }
                });
            Finding {
                device: Some(d.id.clone()),
                message,
                help: fix.as_ref().map(|f| f.summary.clone()).or_else(|| {
                    Some(format!(
                        "give {} an addr= on a {} boundary ({:#x})",
                        d.id,
                        format_human(section),
                        align_up(p.addr, section).unwrap_or(p.addr)
                    ))
                }),
                fix,
            }
        })
        .collect()
}

fn describe(id: &str, p: &Placement, section: u64) -> String {
    if !p.start_aligned {
        format!(
            "{id} starts at {:#x}, {} past a {} section boundary",
            p.addr,
            format_human(past_section(p.addr, section)),
            format_human(section)
        )
    } else {
        format!(
            "{id} ends at {:#x}, {} past a {} section boundary",
            p.end(),
            format_human(past_section(p.end(), section)),
            format_human(section)
        )
    }
}
