//! Rules about the machine as a whole: `-m RAM,slots=N,maxmem=M`, the
//! physical address bits of the default CPU, ACPI, the machine type.
//! QEMU checks these before it places any device (vl.c, hw/i386/pc.c).

use super::{Basis, Context, Edit, Finding, Fix, Rule, Severity};
use crate::core::layout::{device_memory_region, lowmem_split, MAX_SLOTS, PAGE_SIZE};
use crate::core::profile::{Auto, MachineFamily, Profile};
use crate::core::qemu::caps::{machine_version, AMD_1TB_HOLE_MACHINES, PHYS_BITS_CHECK};
use crate::core::size::{align_up, format_human, format_qemu, Size, GIB, MIB, TIB};

pub static MAXMEM_BELOW_RAM: Rule = Rule {
    code: "QP010",
    name: "maxmem-below-ram",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "maxmem= is smaller than the boot RAM (-m). QEMU refuses: \"maximum memory size \
must be at least the initial memory size\". maxmem is the ceiling for RAM plus every \
memory device.",
    check: maxmem_below_ram,
};

fn maxmem_below_ram(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let maxmem = p.effective_maxmem();
    if maxmem >= p.ram.0 {
        return Vec::new();
    }
    vec![maybe_fixed(
        format!(
            "maxmem={} is below the {} of RAM (-m {})",
            format_qemu(maxmem),
            format_human(p.ram.0),
            format_qemu(p.ram.0)
        ),
        auto_maxmem(p),
        None,
    )]
}

/// Let qpmem pick maxmem; `None` when it already does (and still fails).
fn auto_maxmem(p: &Profile) -> Option<Fix> {
    if p.maxmem == Auto::Auto {
        return None;
    }
    let mut q = p.clone();
    q.maxmem = Auto::Auto;
    Some(Fix::one(
        format!(
            "let qpmem pick maxmem (RAM plus what the devices need: {})",
            format_qemu(q.effective_maxmem())
        ),
        Edit::SetMaxmem { maxmem: Auto::Auto },
    ))
}

/// A finding with the automatic-maxmem fix when there is one.
fn maybe_fixed(message: String, fix: Option<Fix>, why: Option<&str>) -> Finding {
    match fix {
        Some(fix) => Finding::fixed(None, message, fix, why),
        None => Finding::about(None, message, why.map(str::to_string)),
    }
}

pub static MAXMEM_EQUALS_RAM: Rule = Rule {
    code: "QP011",
    name: "maxmem-equals-ram",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "slots= is given but maxmem= equals the boot RAM, leaving no room for memory \
devices. QEMU refuses: \"memory slots were specified but maximum memory size is equal \
to the initial memory size\".",
    check: maxmem_equals_ram,
};

fn maxmem_equals_ram(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let slots = p.effective_slots();
    if slots == 0 || p.effective_maxmem() != p.ram.0 {
        return Vec::new();
    }
    vec![maybe_fixed(
        format!(
            "maxmem={} equals RAM while slots={slots}: there is no room for memory devices",
            format_qemu(p.ram.0)
        ),
        auto_maxmem(p),
        None,
    )]
}

pub static MAXMEM_UNALIGNED: Rule = Rule {
    code: "QP012",
    name: "maxmem-unaligned",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "maxmem= above RAM must be a multiple of the 4 KiB page size. qemu-system-x86_64 \
refuses: \"maximum memory size must by aligned to multiple of 4096 bytes\". \
qemu-system-aarch64 7.2 does not check (measured: maxmem=8589934593 accepted on virt), so \
arm64 profiles are not judged.",
    check: maxmem_unaligned,
};

fn maxmem_unaligned(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let maxmem = p.effective_maxmem();
    // qemu-system-aarch64 7.2 takes any maxmem (measured: 8G+1 on virt).
    if p.arch != crate::core::arch::Arch::X86_64 {
        return Vec::new();
    }
    if maxmem <= p.ram.0 || maxmem % PAGE_SIZE == 0 {
        return Vec::new();
    }
    let message = format!(
        "maxmem={maxmem} is not a multiple of 4 KiB ({} bytes over)",
        maxmem % PAGE_SIZE
    );
    if p.maxmem == Auto::Auto {
        // Only a sum that overflowed 64 bits comes out unaligned.
        return vec![Finding::about(
            None,
            message,
            Some("the devices add up to more than any machine can address".into()),
        )];
    }
    let down = maxmem - maxmem % PAGE_SIZE;
    let (verb, to) = match align_up(maxmem, PAGE_SIZE) {
        Some(up) => ("up", up),
        None if down > p.ram.0 => ("down", down),
        None => return vec![Finding::about(None, message, None)],
    };
    vec![Finding::fixed(
        None,
        message,
        Fix::one(
            format!("round maxmem {verb} to {}", format_qemu(to)),
            Edit::SetMaxmem {
                maxmem: Auto::Fixed(Size(to)),
            },
        ),
        None,
    )]
}

pub static TOO_MANY_SLOTS: Rule = Rule {
    code: "QP013",
    name: "too-many-slots",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "slots= above 256 (ACPI_MAX_RAM_SLOTS). QEMU refuses: \"unsupported amount of \
memory slots\". Near the limit QEMU also warns that the ACPI tables outgrow 64 KiB.",
    check: too_many_slots,
};

fn too_many_slots(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let slots = p.effective_slots();
    if slots <= MAX_SLOTS || p.effective_maxmem() <= p.ram.0 {
        return Vec::new();
    }
    let message = format!("slots={slots} is more than QEMU's limit of {MAX_SLOTS}");
    if p.devices.len() <= MAX_SLOTS as usize {
        vec![Finding::fixed(
            None,
            message,
            Fix::one(
                format!("set slots={MAX_SLOTS}"),
                Edit::SetSlots {
                    slots: Auto::Fixed(MAX_SLOTS),
                },
            ),
            None,
        )]
    } else {
        vec![Finding::about(
            None,
            message,
            Some(format!(
                "the profile has {} devices: at most {MAX_SLOTS} fit one machine",
                p.devices.len()
            )),
        )]
    }
}

pub static PHYS_BITS_TOO_LOW: Rule = Rule {
    code: "QP014",
    name: "phys-bits-too-low",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The default CPU (qemu64) has 40 physical address bits: it reaches 1 TiB. The \
highest guest address QEMU uses is the end of the device memory region (RAM + maxmem + \
1 GiB per slot, from 4 GiB up) rounded up to 1 GiB, plus the 64-bit PCI hole (2 GiB on \
pc/i440fx, 32 GiB on q35). QEMU 7.1+ refuses when that reaches 1 TiB (\"phys-bits too \
low (40)\"); with machine types 7.1+ and the default AMD-vendor CPU it even moves memory \
above 1 TiB once the address reaches the HyperTransport hole at 0xfd00000000, and so \
refuses from there. Measured on QEMU 7.2. Not checked when -cpu is given.",
    check: phys_bits,
};

/// Bits of guest physical address the default `qemu64` CPU has.
pub const DEFAULT_PHYS_BITS: u32 = 40;
/// Start of the AMD HyperTransport hole below 1 TiB (`AMD_HT_START`).
pub const AMD_HT_START: u64 = 0xfd_0000_0000;

/// The 64-bit PCI hole QEMU reserves above the device memory.
pub fn pci_hole64(family: MachineFamily) -> u64 {
    family.spec().pci_hole64()
}

/// QEMU's `pc_max_used_gpa`: the highest guest physical address the
/// machine uses, for a given maxmem and slot count, with the device memory
/// above 4 GiB as usual. `None` when the device memory region's end does not
/// fit in 64 bits (see [`gpa_map`]).
pub fn max_used_gpa(family: MachineFamily, ram: u64, maxmem: u64, slots: u32) -> Option<u64> {
    let g = gpa_map(family, ram, maxmem, slots, false);
    (!g.overflows).then_some(g.used)
}

/// What QEMU 7.2's `pc_memory_init` computes, in its own wrapping `u64`
/// arithmetic (it rounds and adds without overflow checks, so a region
/// ending just below 2^64 wraps to a small address and is accepted:
/// measured with `-m 1G,slots=1,maxmem=0xfffffffefffff000` on pc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpaMap {
    /// `pc_max_used_gpa`, wrapped as QEMU wraps it.
    pub used: u64,
    /// `device_mem_base + device_mem_size < device_mem_size`: QEMU refuses,
    /// "unsupported amount of maximum memory".
    pub overflows: bool,
}

/// [`GpaMap`] with RAM above 4 GiB starting at 4 GiB, or at 1 TiB when
/// `relocated` (QEMU moves it there past the AMD HyperTransport hole).
pub fn gpa_map(
    family: MachineFamily,
    ram: u64,
    maxmem: u64,
    slots: u32,
    relocated: bool,
) -> GpaMap {
    let above = lowmem_split(family, ram).1;
    let start: u64 = if relocated {
        1 << DEFAULT_PHYS_BITS
    } else {
        4 * GIB
    };
    let above_end = start.wrapping_add(above);
    let round = |v: u64| v.wrapping_add(GIB - 1) & !(GIB - 1);
    let (top, overflows) = if maxmem > ram {
        let base = round(above_end);
        let size = (maxmem - ram).wrapping_add(u64::from(slots).wrapping_mul(GIB));
        let end = base.wrapping_add(size);
        (end, end < size)
    } else {
        (above_end, false)
    };
    GpaMap {
        used: round(top).wrapping_add(pci_hole64(family) - 1),
        overflows,
    }
}

/// Does QEMU move RAM above 4 GiB to 1 TiB (machine types 7.1+ with the
/// default AMD-vendor CPU, when the highest address reaches the hole)?
fn relocates(ctx: &Context, family: MachineFamily) -> bool {
    let p = ctx.profile;
    let machine = machine_version(&p.machine).or(ctx.qemu_version());
    let new_machine = machine.is_none_or(|v| v >= AMD_1TB_HOLE_MACHINES);
    let (maxmem, slots) = (p.effective_maxmem(), p.effective_slots());
    new_machine
        && !has_cpu(p)
        && gpa_map(family, p.ram.0, maxmem, slots, false).used >= AMD_HT_START
}

pub(super) fn has_cpu(p: &Profile) -> bool {
    p.extra_args.iter().any(|a| a == "-cpu" || a == "--cpu")
}

/// The highest address the machine may use before QEMU refuses it, and
/// why: the 1 TiB of 40 phys-bits, or the HyperTransport hole.
fn address_limit(ctx: &Context) -> (u64, bool) {
    let machine = machine_version(&ctx.profile.machine).or(ctx.qemu_version());
    let relocates = machine.is_none_or(|v| v >= AMD_1TB_HOLE_MACHINES);
    if relocates {
        (AMD_HT_START - 1, true)
    } else {
        ((1u64 << DEFAULT_PHYS_BITS) - 1, false)
    }
}

/// The profile's machine family, when it is an x86 one (the rules about
/// the PCs' address map judge nothing else).
fn x86_family(p: &Profile) -> Option<MachineFamily> {
    p.machine_family()
        .filter(|f| f.spec().arch() == crate::core::arch::Arch::X86_64)
}

fn phys_bits(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let Some(family) = x86_family(p) else {
        return Vec::new();
    };
    let old_qemu = ctx.qemu_version().is_some_and(|v| v < PHYS_BITS_CHECK);
    // With CXL the windows and the PCI hole above them are higher: QP813.
    if has_cpu(p) || old_qemu || p.cxl.is_some() {
        return Vec::new();
    }
    let (maxmem, slots) = (p.effective_maxmem(), p.effective_slots());
    let used = gpa_map(family, p.ram.0, maxmem, slots, false).used;
    let (limit, ht_hole) = address_limit(ctx);
    if used <= limit {
        return Vec::new();
    }
    // Once moved to 1 TiB, QEMU judges the moved map against 40 bits; a
    // map that then wraps past 2^64 is left to QP017.
    let moved = gpa_map(family, p.ram.0, maxmem, slots, true);
    if ht_hole && relocates(ctx, family) && (moved.overflows || moved.used < 1 << DEFAULT_PHYS_BITS)
    {
        return Vec::new();
    }
    let hole = format_human(pci_hole64(family));
    let message = if ht_hole {
        format!(
            "the highest guest address, {used:#x} (device memory end plus the {hole} 64-bit \
PCI hole), reaches the AMD HyperTransport hole at {AMD_HT_START:#x}: QEMU moves memory \
above 1 TiB, out of reach of the default CPU's {DEFAULT_PHYS_BITS} physical address bits"
        )
    } else {
        format!(
            "the highest guest address, {used:#x} (device memory end plus the {hole} 64-bit \
PCI hole), is beyond the 1 TiB the default CPU's {DEFAULT_PHYS_BITS} physical address bits reach"
        )
    };
    let largest = largest_maxmem(family, p.ram.0, slots, limit);
    let cpu_help = "or add -cpu qemu64,phys-bits=42 (or -cpu host) to the extra arguments";
    let mut auto = p.clone();
    auto.maxmem = Auto::Auto;
    let auto_fits =
        max_used_gpa(family, p.ram.0, auto.effective_maxmem(), slots).is_some_and(|u| u <= limit);
    if let Some(fix) = auto_maxmem(p).filter(|_| auto_fits) {
        return vec![Finding::fixed(None, message, fix, Some(cpu_help))];
    }
    let help = match largest {
        Some(m) => format!(
            "lower maxmem to at most {} or use fewer slots, {cpu_help}",
            format_qemu(m)
        ),
        None => format!("use fewer slots or less memory, {cpu_help}"),
    };
    vec![Finding::about(None, message, Some(help))]
}

/// The largest maxmem (in whole MiB) that stays within `limit`.
fn largest_maxmem(family: MachineFamily, ram: u64, slots: u32, limit: u64) -> Option<u64> {
    let region = device_memory_region(family, ram, ram.checked_add(MIB)?, slots)?;
    // used = align_up(base + (maxmem - ram) + slots GiB, 1 GiB) + hole - 1 <= limit
    let room = (limit + 1).checked_sub(pci_hole64(family))?;
    let top = room - room % GIB;
    let fixed = region.base.checked_add(u64::from(slots) * GIB)?;
    let m = top.checked_sub(fixed)?.checked_add(ram)?;
    (m > ram && m < 64 * TIB).then_some(m - m % MIB)
}

pub static MAXMEM_TOO_LARGE: Rule = Rule {
    code: "QP017",
    name: "maxmem-too-large",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The device memory region (from 4 GiB, or 1 TiB once QEMU moves memory past the \
AMD HyperTransport hole, for maxmem - RAM + 1 GiB per slot) must end below 2^64. QEMU \
refuses otherwise: \"unsupported amount of maximum memory\". Measured on QEMU 7.2 with \
-m 1G,slots=1 on pc: maxmem=0xffffffff00000000 is refused.",
    check: maxmem_too_large,
};

fn maxmem_too_large(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let Some(family) = x86_family(p) else {
        return Vec::new();
    };
    let (maxmem, slots) = (p.effective_maxmem(), p.effective_slots());
    let relocated = relocates(ctx, family);
    if !gpa_map(family, p.ram.0, maxmem, slots, relocated).overflows {
        return Vec::new();
    }
    let start = if relocated { "1 TiB" } else { "4 GiB" };
    vec![Finding::about(
        None,
        format!(
            "maxmem {} ({maxmem:#x}) is too large: the device memory region from above {start} \
would end past 2^64 (QEMU: \"unsupported amount of maximum memory\")",
            format_qemu(maxmem)
        ),
        Some("lower maxmem".into()),
    )]
}

pub static ACPI_DISABLED: Rule = Rule {
    code: "QP015",
    name: "acpi-disabled",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Memory devices are announced to the guest through ACPI. With -no-acpi or \
-machine acpi=off QEMU refuses them: \"memory hotplug is not enabled: missing acpi device \
or acpi disabled\" on the PCs, \"memory hotplug is not enabled: missing acpi-ged device\" \
on arm64 virt (measured on QEMU 7.2, both -no-acpi and acpi=off).",
    check: acpi_disabled,
};

fn acpi_disabled(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if p.devices.is_empty() {
        return Vec::new();
    }
    let no_acpi = p
        .extra_args
        .iter()
        .any(|a| a == "-no-acpi" || a == "--no-acpi");
    let acpi_off = p
        .machine_options
        .iter()
        .any(|o| matches!(o.as_str(), "acpi=off" | "acpi=no" | "acpi=false"));
    if !no_acpi && !acpi_off {
        return Vec::new();
    }
    let what = if no_acpi {
        "-no-acpi"
    } else {
        "-machine acpi=off"
    };
    let refusal = p
        .machine_family()
        .map_or("memory hotplug is not enabled", |f| {
            f.spec().hotplug_refusal()
        });
    vec![Finding::about(
        p.devices.first().map(|d| d.id.as_str()),
        format!(
            "{what} disables ACPI, and QEMU needs it for memory devices ({} here): \"{refusal}\"",
            p.devices.len()
        ),
        Some(format!("remove {what}")),
    )]
}

pub static MACHINE_NOT_MODELLED: Rule = Rule {
    code: "QP016",
    name: "machine-not-modelled",
    severity: Severity::Warning,
    basis: Basis::Input,
    docs: "qpmem models the x86 pc (i440FX) and q35 machines and arm64's virt. For any other \
machine type it cannot predict where QEMU puts the devices, so the placement rules are \
skipped.",
    check: machine_not_modelled,
};

fn machine_not_modelled(ctx: &Context) -> Vec<Finding> {
    if ctx.profile.machine_family().is_some() {
        return Vec::new();
    }
    vec![Finding::about(
        None,
        format!(
            "machine type '{}' is not modelled: qpmem cannot predict where QEMU places the devices",
            ctx.profile.machine
        ),
        Some(format!("use {}", ctx.profile.arch.machines_hint())),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::qemu::QemuVersion;

    #[test]
    fn maxmem_below_ram() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP010").is_empty());
        p.maxmem = Auto::Fixed(Size::mib(256));
        let ds = run(&p);
        let d = only(&ds, "QP010");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("maxmem=256M"), "{}", d[0].message);
        let mut q = p.clone();
        assert!(d[0].fix.as_ref().unwrap().apply(&mut q));
        assert_eq!(q.maxmem, Auto::Auto);
    }

    #[test]
    fn maxmem_equal_to_ram_with_slots() {
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size::mib(512));
        assert_eq!(only(&run(&p), "QP011").len(), 1);
        p.slots = Auto::Fixed(0);
        p.devices.clear();
        assert!(only(&run(&p), "QP011").is_empty());
    }

    #[test]
    fn maxmem_not_a_page_multiple() {
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size(40 * GIB + 1));
        let ds = run(&p);
        let d = only(&ds, "QP012");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].help.as_deref(), Some("round maxmem up to 41943044K"));
        p.maxmem = Auto::Fixed(Size(40 * GIB + 4096));
        assert!(only(&run(&p), "QP012").is_empty());
    }

    #[test]
    fn more_than_256_slots() {
        let mut p = seed(None);
        p.slots = Auto::Fixed(257);
        let ds = run(&p);
        assert_eq!(only(&ds, "QP013")[0].help.as_deref(), Some("set slots=256"));
        p.slots = Auto::Fixed(256);
        assert!(only(&run(&p), "QP013").is_empty());
    }

    #[test]
    fn phys_bits_boundaries_measured_on_qemu_7_2() {
        // -m 512M,slots=1: pc accepts maxmem=1029632M and refuses 1 MiB more;
        // pc-i440fx-7.0 (no AMD hole relocation) accepts up to 1041920M;
        // q35 (32 GiB PCI hole) up to 998912M; -m 5000M pc up to 1032072M.
        let case = |machine: &str, ram: u64, maxmem_mib: u64| {
            let mut p = Profile::empty("x");
            p.machine = machine.into();
            p.ram = Size::mib(ram);
            p.slots = Auto::Fixed(1);
            p.maxmem = Auto::Fixed(Size::mib(maxmem_mib));
            let v = Some(QemuVersion::new(7, 2, 0));
            only(&run_with(&p, &[], &Default::default(), v), "QP014").len()
        };
        assert_eq!(case("pc", 512, 1029632), 0);
        assert_eq!(case("pc", 512, 1029633), 1);
        assert_eq!(case("pc-i440fx-7.1", 512, 1029633), 1);
        assert_eq!(case("pc-i440fx-7.0", 512, 1041920), 0);
        assert_eq!(case("pc-i440fx-7.0", 512, 1041921), 1);
        assert_eq!(case("q35", 512, 998912), 0);
        assert_eq!(case("q35", 512, 998913), 1);
        assert_eq!(case("pc-q35-7.0", 512, 1011200), 0);
        assert_eq!(case("pc-q35-7.0", 512, 1011201), 1);
        assert_eq!(case("pc", 5000, 1032072), 0);
        assert_eq!(case("pc", 5000, 1032073), 1);
    }

    #[test]
    fn phys_bits_message_help_and_exemptions() {
        let mut p = seed(None);
        p.maxmem = Auto::Fixed(Size::gib(1100));
        let ds = run(&p);
        let d = only(&ds, "QP014");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("HyperTransport"), "{}", d[0].message);
        // Automatic maxmem fits, so that is the fix.
        assert_eq!(
            d[0].fix.as_ref().unwrap().edits,
            [Edit::SetMaxmem { maxmem: Auto::Auto }]
        );
        // Devices too big for any maxmem: the help names the largest maxmem.
        let mut big = seed(None);
        big.slots = Auto::Fixed(2);
        big.devices[0].size = Size::gib(1030);
        big.maxmem = Auto::Auto;
        let ds = run(&big);
        let d = only(&ds, "QP014");
        assert!(d[0].fix.is_none());
        // 4 GiB base + 2 slots + 2 GiB hole: 1010 GiB of region end at most.
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .contains("lower maxmem to at most 1028608M"),
            "{:?}",
            d[0].help
        );
        let used = |m| max_used_gpa(MachineFamily::Pc, 512 * MIB, m, 2).unwrap();
        assert!(used(1028608 * MIB) < AMD_HT_START);
        assert!(used(1028609 * MIB) >= AMD_HT_START);
        // A CPU of the user's own, or a QEMU before 7.1: not judged.
        p.extra_args = vec!["-cpu".into(), "host".into()];
        assert!(only(&run(&p), "QP014").is_empty());
        p.extra_args.clear();
        let old = Some(QemuVersion::new(7, 0, 0));
        assert!(only(&run_with(&p, &[], &Default::default(), old), "QP014").is_empty());
    }

    #[test]
    fn acpi_off_with_devices() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP015").is_empty());
        p.extra_args = vec!["-no-acpi".into()];
        assert_eq!(only(&run(&p), "QP015").len(), 1);
        p.extra_args.clear();
        p.machine_options = vec!["acpi=off".into()];
        assert!(only(&run(&p), "QP015")[0].message.contains("acpi=off"));
    }

    #[test]
    fn unknown_machines_are_flagged() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP016").is_empty());
        p.machine = "microvm".into();
        let ds = run(&p);
        assert!(only(&ds, "QP016")[0].message.contains("'microvm'"));
    }
}
