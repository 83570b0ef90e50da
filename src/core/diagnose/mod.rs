//! Diagnostics: one table of rules, each a declared item with a stable
//! code, a kebab-case name, a severity, its docs, a check and an optional
//! mechanical fix, in the manner of clippy's lints.
//!
//! Rules read a [`Context`] (the profile, its layout, the QEMU version and
//! facts about the host gathered beforehand) and never touch the system
//! themselves, so the TUI, `qpmem check` and the tests all see the same
//! findings. Rules live in one file per family; [`RULES`] lists them all.

mod arm;
mod backing;
mod boot;
mod cxl;
mod device;
mod imported;
mod libvirt;
mod machine;
mod numa;
mod placement;
mod version;

use crate::core::cmdline::ImportNote;
use crate::core::device::Setting;
use crate::core::facts::HostFacts;
use crate::core::layout::{layout, DeviceLayout, Layout};
use crate::core::profile::{Addr, Auto, Dimm, Profile};
use crate::core::qemu::QemuVersion;
use crate::core::size::Size;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Note,
    /// It runs, but the guest or the user will be surprised.
    Warning,
    /// QEMU will refuse it, or data will be lost.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Why a rule's finding matters: what the test against real QEMU holds
/// each rule to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// QEMU refuses to start (its error-level rules must fire exactly when
    /// real QEMU refuses).
    QemuRefuses,
    /// QEMU starts, but data is lost or corrupted.
    DataLoss,
    /// QEMU starts; the guest kernel or the user is in for a surprise.
    Surprise,
    /// About the input rather than the VM: a pasted line, a missing QEMU.
    Input,
    /// qpmem cannot predict what QEMU will do (a device it does not model).
    Unpredictable,
}

/// Everything a rule may look at.
pub struct Context<'a> {
    pub profile: &'a Profile,
    /// `None` when the machine type is not modelled.
    pub layout: Option<&'a Layout>,
    /// What an imported command line got wrong.
    pub import_notes: &'a [ImportNote],
    /// What the file system says (`crate::host::gather`) and which QEMU was
    /// found; the default knows nothing, and rules needing a fact stay
    /// quiet.
    pub host: &'a HostFacts,
}

impl<'a> Context<'a> {
    /// The release of the QEMU that will run it, when known (detected, or
    /// given with `--qemu-version`): read from the one place that holds
    /// it, [`HostFacts::qemu`].
    pub fn qemu_version(&self) -> Option<QemuVersion> {
        self.host.qemu.version()
    }

    /// The first device with this id.
    pub fn device(&self, id: &str) -> Option<&'a Dimm> {
        self.profile.devices.iter().find(|d| d.id == id)
    }

    /// Each device with its outcome in the layout, in command-line order
    /// (the layout has one entry per device, in the same order).
    pub fn laid_out(&self) -> impl Iterator<Item = (&'a Dimm, &'a DeviceLayout)> {
        let devices = &self.profile.devices;
        self.layout
            .into_iter()
            .flat_map(move |l| devices.iter().zip(&l.devices))
    }
}

/// A boolean property of a device or its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    Share,
    Pmem,
    Readonly,
    DiscardData,
    Unarmed,
}

impl Flag {
    fn field(self, d: &mut Dimm) -> &mut bool {
        match self {
            Flag::Share => &mut d.share,
            Flag::Pmem => &mut d.pmem,
            Flag::Readonly => &mut d.readonly,
            Flag::DiscardData => &mut d.discard_data,
            Flag::Unarmed => &mut d.unarmed,
        }
    }
}

/// A mechanical change to the profile that resolves a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
pub enum Edit {
    /// Set (or clear) `align=` on a device's backend.
    SetAlign { device: String, align: Option<Size> },
    /// Set a device's backend size.
    SetSize { device: String, size: Size },
    /// Set a device's label size.
    SetLabelSize { device: String, size: Size },
    /// Set `slots=`.
    SetSlots { slots: Auto<u32> },
    /// Set `maxmem=`.
    SetMaxmem { maxmem: Auto<Size> },
    /// Set the spare slots (room for hotplug: slots and an automatic
    /// maxmem grow with them).
    SetSpareSlots { spare: u32 },
    /// Set (or clear, letting QEMU choose) a device's `addr=`.
    SetAddr { device: String, addr: Option<Addr> },
    /// Set (or clear) a device's `slot=`.
    SetSlot { device: String, slot: Option<u32> },
    /// Set (or clear) a device's `node=`.
    SetNode { device: String, node: Option<u32> },
    /// Take a setting its kind does not have off a device.
    ClearSetting { device: String, setting: Setting },
    /// Set (or clear) a virtio-mem device's `block-size=`.
    SetBlockSize { device: String, size: Option<Size> },
    /// Set (or clear) a virtio-mem device's `requested-size=`.
    SetRequestedSize { device: String, size: Option<Size> },
    /// Turn a boolean property on or off.
    SetFlag {
        device: String,
        flag: Flag,
        value: bool,
    },
    /// Point a device's backend at another file.
    SetBackingFile { device: String, path: PathBuf },
    /// Rename the device at `index` (ids may be duplicated, so by position).
    RenameDevice { index: usize, id: String },
    /// Rename the backend object of the device at `index`.
    RenameMemdev { index: usize, memdev: String },
    /// Add a word to the kernel command line (`append`) unless it is there.
    AddKernelArg { arg: String },
    /// Append arguments to `extra_args` (`-bios PATH`, `-cpu max`).
    AddArgs { args: Vec<String> },
}

impl Edit {
    /// The device id the edit finds its device by, if any.
    pub fn device(&self) -> Option<&str> {
        match self {
            Edit::SetAlign { device, .. }
            | Edit::SetSize { device, .. }
            | Edit::SetLabelSize { device, .. }
            | Edit::SetAddr { device, .. }
            | Edit::SetSlot { device, .. }
            | Edit::SetNode { device, .. }
            | Edit::ClearSetting { device, .. }
            | Edit::SetBlockSize { device, .. }
            | Edit::SetRequestedSize { device, .. }
            | Edit::SetFlag { device, .. }
            | Edit::SetBackingFile { device, .. } => Some(device),
            Edit::SetSlots { .. }
            | Edit::SetMaxmem { .. }
            | Edit::SetSpareSlots { .. }
            | Edit::RenameDevice { .. }
            | Edit::RenameMemdev { .. }
            | Edit::AddKernelArg { .. }
            | Edit::AddArgs { .. } => None,
        }
    }

    /// Apply the edit; `false` when its device no longer exists.
    pub fn apply(&self, profile: &mut Profile) -> bool {
        match self {
            Edit::SetAlign { device: id, align } => with_device(profile, id, |d| d.align = *align),
            Edit::SetSize { device: id, size } => with_device(profile, id, |d| d.size = *size),
            Edit::SetLabelSize { device: id, size } => {
                with_device(profile, id, |d| d.label_size = *size)
            }
            Edit::SetSlots { slots } => {
                profile.slots = *slots;
                true
            }
            Edit::SetMaxmem { maxmem } => {
                profile.maxmem = *maxmem;
                true
            }
            Edit::SetSpareSlots { spare } => {
                profile.spare_slots = *spare;
                true
            }
            Edit::SetAddr { device: id, addr } => with_device(profile, id, |d| d.addr = *addr),
            Edit::SetSlot { device: id, slot } => with_device(profile, id, |d| d.slot = *slot),
            Edit::SetNode { device: id, node } => with_device(profile, id, |d| d.node = *node),
            Edit::ClearSetting {
                device: id,
                setting,
            } => with_device(profile, id, |d| setting.clear(d)),
            Edit::SetBlockSize { device: id, size } => {
                with_device(profile, id, |d| d.block_size = *size)
            }
            Edit::SetRequestedSize { device: id, size } => {
                with_device(profile, id, |d| d.requested_size = *size)
            }
            Edit::SetFlag {
                device: id,
                flag,
                value,
            } => with_device(profile, id, |d| *flag.field(d) = *value),
            Edit::SetBackingFile { device: id, path } => with_device(profile, id, |d| {
                d.backend = crate::core::profile::Backend::File(path.clone())
            }),
            Edit::RenameDevice { index, id } => match profile.devices.get_mut(*index) {
                Some(d) => {
                    d.id = id.clone();
                    true
                }
                None => false,
            },
            Edit::RenameMemdev { index, memdev } => match profile.devices.get_mut(*index) {
                Some(d) => {
                    d.memdev = memdev.clone();
                    true
                }
                None => false,
            },
            Edit::AddKernelArg { arg } => {
                let append = profile.append.get_or_insert_with(String::new);
                if !append.split_ascii_whitespace().any(|w| w == arg) {
                    if !append.trim_end().is_empty() {
                        append.truncate(append.trim_end().len());
                        append.push(' ');
                    }
                    append.push_str(arg);
                }
                true
            }
            Edit::AddArgs { args } => {
                profile.extra_args.extend(args.iter().cloned());
                true
            }
        }
    }
}

fn with_device(profile: &mut Profile, id: &str, f: impl FnOnce(&mut Dimm)) -> bool {
    match profile.devices.iter_mut().find(|d| d.id == id) {
        Some(d) => {
            f(d);
            true
        }
        None => false,
    }
}

/// Whether a fix may be applied without a person looking at it
/// (clippy's applicability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// What the user meant, whatever the profile is for: `check --fix`
    /// applies it.
    MachineApplicable,
    /// One answer among several (a smaller size instead of a larger file,
    /// dropping a NUMA node instead of adding it): offered one key away
    /// in the TUI, never applied by `--fix`.
    MaybeIncorrect,
}

/// A fix: what it does, in words, and the edits that do it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub summary: String,
    pub edits: Vec<Edit>,
    pub applicability: Applicability,
}

impl Fix {
    /// A fix made of these edits, safe to apply unattended.
    pub fn new(summary: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            summary: summary.into(),
            edits,
            applicability: Applicability::MachineApplicable,
        }
    }

    /// A fix made of one edit, safe to apply unattended.
    pub fn one(summary: impl Into<String>, edit: Edit) -> Fix {
        Fix {
            summary: summary.into(),
            edits: vec![edit],
            applicability: Applicability::MachineApplicable,
        }
    }

    /// The same fix, marked as needing a person's judgement.
    pub fn maybe_incorrect(self) -> Fix {
        Fix {
            applicability: Applicability::MaybeIncorrect,
            ..self
        }
    }

    /// `check --fix` may apply it.
    pub fn is_unattended(&self) -> bool {
        self.applicability == Applicability::MachineApplicable
    }

    /// Apply every edit; `false` when one of them found no device.
    pub fn apply(&self, profile: &mut Profile) -> bool {
        let mut all = true;
        for e in &self.edits {
            all &= e.apply(profile);
        }
        all
    }
}

/// What a rule's check reports: the rule fills in code, name, severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub device: Option<String>,
    pub message: String,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

impl Finding {
    /// A finding about `device` with a help line and no fix.
    pub fn about(device: Option<&str>, message: String, help: Option<String>) -> Finding {
        Finding {
            device: device.map(str::to_string),
            message,
            help,
            fix: None,
        }
    }

    /// A finding whose help is its fix's summary, plus an optional
    /// explanation after it.
    pub fn fixed(device: Option<&str>, message: String, fix: Fix, why: Option<&str>) -> Finding {
        let help = match why {
            Some(w) => format!("{} ({w})", fix.summary),
            None => fix.summary.clone(),
        };
        Finding {
            device: device.map(str::to_string),
            message,
            help: Some(help),
            fix: Some(fix),
        }
    }
}

/// One rule of the table.
pub struct Rule {
    /// Stable code, `QP` and three digits.
    pub code: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    pub severity: Severity,
    /// Why it matters.
    pub basis: Basis,
    /// What it catches and why it matters.
    pub docs: &'static str,
    pub check: fn(&Context) -> Vec<Finding>,
}

/// A finding with its rule's identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub device: Option<String>,
    pub message: String,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// rustc style: `warning[QP100]: message` then `  = help: ...`, with
    /// control characters from profile values escaped.
    pub fn render(&self) -> String {
        use crate::core::printable::printable_lines;
        let mut s = format!(
            "{}[{}]: {}",
            self.severity,
            self.code,
            printable_lines(&self.message)
        );
        if let Some(h) = &self.help {
            s.push_str(&format!("\n  = help: {}", printable_lines(h)));
        }
        s
    }

    /// The rule that produced it.
    pub fn rule(&self) -> Option<&'static Rule> {
        rule(self.code)
    }
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &imported::NVDIMM_NOT_ENABLED,
    &imported::SLOTS_MISSING,
    &imported::MAXMEM_MISSING,
    &imported::BARE_BOOLEAN,
    &imported::BARE_BOOLEAN_REFUSED,
    &imported::UNKNOWN_PROPERTY,
    &imported::STRAY_COMMA,
    &imported::HEX_SIZE_SUFFIX,
    &imported::NOT_MODELLED,
    &machine::MAXMEM_BELOW_RAM,
    &machine::MAXMEM_EQUALS_RAM,
    &machine::MAXMEM_UNALIGNED,
    &machine::TOO_MANY_SLOTS,
    &machine::PHYS_BITS_TOO_LOW,
    &machine::ACPI_DISABLED,
    &machine::MACHINE_NOT_MODELLED,
    &machine::MAXMEM_TOO_LARGE,
    &numa::NUMA_RAM_MISMATCH,
    &numa::NUMA_MEM_UNSUPPORTED,
    &numa::NUMA_NODE_MISSING,
    &numa::NUMA_DUPLICATE_NODE,
    &imported::MACHINE_BACKEND,
    &imported::LIBVIRT_NOT_CARRIED,
    &placement::SECTION_MISALIGNED,
    &placement::ALIGN_WASTE,
    &placement::NO_DEVICE_MEMORY,
    &placement::NO_FREE_SLOT,
    &placement::INVALID_SLOT,
    &placement::SLOT_BUSY,
    &placement::NOT_ENOUGH_SPACE,
    &placement::ADDR_MISALIGNED,
    &placement::ADDR_OUTSIDE,
    &placement::ADDR_CONFLICT,
    &placement::FRAGMENTED,
    &device::TOO_SMALL,
    &device::PC_DIMM_SIZE_UNALIGNED,
    &device::LABEL_TOO_SMALL,
    &device::LABEL_UNALIGNED,
    &device::DUPLICATE_ID,
    &device::DUPLICATE_MEMDEV,
    &device::INVALID_ID,
    &device::ALIGN_NOT_POWER_OF_TWO,
    &device::ALIGN_BELOW_PAGE,
    &device::UNARMED_REQUIRED,
    &device::NODE_OUT_OF_RANGE,
    &device::SETTING_NOT_ON_KIND,
    &device::BLOCK_SIZE_INVALID,
    &device::REQUESTED_SIZE_UNALIGNED,
    &device::REQUESTED_SIZE_OVER_SIZE,
    &backing::FILE_TOO_SMALL,
    &backing::FILE_LARGER,
    &backing::BACKING_IS_DIRECTORY,
    &backing::NOT_PERSISTENT,
    &backing::DIR_MISSING,
    &backing::SHARED_BACKING_FILE,
    &backing::FILE_IN_USE,
    &backing::DISK_SPACE,
    &backing::PMEM_NOT_DAX,
    &backing::LABEL_HIDES_DATA,
    &backing::SHARE_OFF,
    &backing::DISCARD_DATA,
    &backing::COMMA_IN_PATH,
    &backing::EMPTY_FILE_GROWN,
    &backing::DATA_DIR_MISSING,
    &version::QEMU_NOT_FOUND,
    &version::QEMU_VERSION_UNKNOWN,
    &version::NEEDS_NEWER_QEMU,
    &version::MACHINE_TOO_NEW,
    &boot::KERNEL_CONSOLE_MISSING,
    &arm::NO_FIRMWARE,
    &arm::CPU_NOT_64_BIT,
    &arm::MACHINE_WITHOUT_GED,
    &arm::QEMU_TOO_OLD,
    &arm::ADDRESS_BITS,
    &arm::GUEST_PAGE_SIZE,
    &arm::MACHINE_ARCH_MISMATCH,
    &cxl::CXL_NOT_ENABLED,
    &cxl::CXL_MACHINE,
    &cxl::WINDOW_SIZE,
    &cxl::WINDOW_TARGET,
    &cxl::INTERLEAVE_WAYS,
    &cxl::GRANULARITY,
    &cxl::BUS_NR,
    &cxl::BUS_RANGE,
    &cxl::CHASSIS_SLOT,
    &cxl::TYPE3_MEMORY,
    &cxl::LSA_MISSING,
    &cxl::BACKEND_SIZE,
    &cxl::WINDOW_TOO_SMALL,
    &cxl::PHYS_BITS,
    &cxl::DUPLICATE_ID,
    &libvirt::LIBVIRT_PREALLOC,
    &libvirt::LIBVIRT_NAMES,
    &libvirt::LIBVIRT_MEMADDR,
    &libvirt::LIBVIRT_SIZE_ROUNDED,
    &libvirt::LIBVIRT_SLOTS,
    &libvirt::LIBVIRT_UNMEASURED,
    &libvirt::LIBVIRT_VIRTIO_PMEM,
];

/// The rule with this code.
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.code == code)
}

/// The rule a person named: its code in any case (`qp100`) or its name.
pub fn find_rule(code_or_name: &str) -> Option<&'static Rule> {
    let wanted = code_or_name.trim();
    RULES
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(wanted) || r.name == wanted)
}

impl Basis {
    /// What the basis means, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Basis::QemuRefuses => "QEMU refuses to start",
            Basis::DataLoss => "QEMU starts, but data is lost or corrupted",
            Basis::Surprise => "QEMU starts; the guest kernel or the user is in for a surprise",
            Basis::Input => "about the input: a pasted line, a missing QEMU",
            Basis::Unpredictable => "qpmem cannot predict what QEMU will do",
        }
    }
}

impl Rule {
    /// What `qpmem check --explain` prints: the code, name, severity and
    /// basis, then the rule's docs, and how to silence it.
    pub fn explain(&self) -> String {
        format!(
            "{code} {name}: {severity}; {basis}\n\n{docs}\n\n\
             Silence it with `qpmem check --allow {code}`, or in the profile: `allow: [\"{code}\"]`.\n",
            code = self.code,
            name = self.name,
            severity = self.severity,
            basis = self.basis.describe(),
            docs = self.docs,
        )
    }
}

/// Whether the profile's `allow` list silences `rule`.
fn allowed(profile: &Profile, rule: &Rule) -> bool {
    profile
        .allow
        .iter()
        .any(|a| find_rule(a).is_some_and(|r| r.code == rule.code))
}

/// Run every rule. Errors come first, then warnings, then notes; within a
/// severity, in rule order. While two devices share an id, fixes that find
/// their device by that id are withheld (they could edit the wrong one):
/// the duplicate-id fix comes first.
pub fn check(ctx: &Context) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let shared: std::collections::HashSet<&str> = ctx
        .profile
        .devices
        .iter()
        .map(|d| d.id.as_str())
        .filter(|id| !seen.insert(*id))
        .collect();
    let ambiguous = |fix: &Fix| {
        !shared.is_empty()
            && fix
                .edits
                .iter()
                .any(|e| e.device().is_some_and(|id| shared.contains(id)))
    };
    let mut out: Vec<Diagnostic> = RULES
        .iter()
        .filter(|rule| !allowed(ctx.profile, rule))
        .flat_map(|rule| {
            (rule.check)(ctx).into_iter().map(move |f| Diagnostic {
                code: rule.code,
                name: rule.name,
                severity: rule.severity,
                device: f.device,
                message: f.message,
                help: f.help,
                fix: f.fix.filter(|fix| !ambiguous(fix)),
            })
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.severity));
    out
}

/// Lay the profile out and run every rule: the one call `qpmem check`
/// and the TUI make.
pub fn check_profile(
    profile: &Profile,
    import_notes: &[ImportNote],
    host: &HostFacts,
) -> Vec<Diagnostic> {
    let l = layout(profile, host).ok();
    check(&Context {
        profile,
        layout: l.as_ref(),
        import_notes,
        host,
    })
}

/// Apply every automatic fix, checking again after each round (a fix can
/// reveal the next finding: aligning a DIMM shows the tail it wastes)
/// until nothing fixable is left or nothing changes. Import notes are
/// only judged in the first round: the profile already fixes them.
/// Returns the summaries of the fixes applied, in order.
pub fn fix_all(
    profile: &mut Profile,
    import_notes: &[ImportNote],
    host: &HostFacts,
) -> Vec<String> {
    // One fix at a time, judged again after each, the one that does the
    // most first: two findings often offer overlapping fixes (QP100 on nv1
    // sets align on nv1, on nv2 on nv1 and nv2), and what one covers must
    // not be applied and reported again.
    const MAX_FIXES: usize = 64;
    let mut applied = Vec::new();
    let mut notes = import_notes;
    while applied.len() < MAX_FIXES {
        let next = check_profile(profile, notes, host)
            .into_iter()
            .filter_map(|d| d.fix)
            .filter(Fix::is_unattended)
            .filter(|fix| {
                let mut p = profile.clone();
                fix.apply(&mut p) && p != *profile
            })
            .fold(None::<Fix>, |best, fix| match best {
                Some(b) if b.edits.len() >= fix.edits.len() => Some(b),
                _ => Some(fix),
            });
        let Some(fix) = next else { break };
        fix.apply(profile);
        applied.push(fix.summary);
        // The pasted line's complaints are answered by the first fix.
        notes = &[];
    }
    applied
}

/// Counts for a summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    /// Fixes `check --fix` applies.
    pub fixable: usize,
    /// Fixes offered for a person to judge (the TUI's `f`).
    pub to_review: usize,
}

impl Tally {
    pub fn of(diagnostics: &[Diagnostic]) -> Tally {
        diagnostics.iter().fold(Tally::default(), |mut t, d| {
            match d.severity {
                Severity::Error => t.errors += 1,
                Severity::Warning => t.warnings += 1,
                Severity::Note => t.notes += 1,
            }
            t.fixable += usize::from(d.fix.as_ref().is_some_and(Fix::is_unattended));
            t.to_review += usize::from(d.fix.as_ref().is_some_and(|f| !f.is_unattended()));
            t
        })
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        write!(
            f,
            "{}, {}, {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.notes, "note")
        )?;
        match (self.fixable, self.to_review) {
            (0, 0) => {}
            (n, 0) => write!(f, " ({n} fixable with --fix)")?,
            (0, 1) => write!(f, " (1 fix to review)")?,
            (0, r) => write!(f, " ({r} fixes to review)")?,
            (n, r) => write!(f, " ({n} fixable with --fix, {r} to review)")?,
        }
        Ok(())
    }
}

/// Shared by the rule files' tests: the seed recipe with a fixed `-m`.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::core::facts::QemuStatus;
    use std::path::Path;

    /// The recipe: `-m 512M,slots=2,maxmem=40G`, two 17G NVDIMMs with
    /// label-size=2M and `align` as given.
    pub fn seed(align: Option<Size>) -> Profile {
        Profile::original_recipe(Path::new("/vms"), align)
    }

    /// Run the whole table with these host facts and this QEMU.
    pub fn run_with(
        p: &Profile,
        notes: &[ImportNote],
        host: &HostFacts,
        v: Option<QemuVersion>,
    ) -> Vec<Diagnostic> {
        let host = match v {
            Some(version) => &HostFacts {
                qemu: QemuStatus::Stated { version },
                ..host.clone()
            },
            None => host,
        };
        check_profile(p, notes, host)
    }

    /// Run the table with no host facts and no QEMU version.
    pub fn run(p: &Profile) -> Vec<Diagnostic> {
        run_with(p, &[], &HostFacts::default(), None)
    }

    /// The diagnostics of one rule.
    pub fn only<'a>(ds: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
        ds.iter().filter(|d| d.code == code).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for r in RULES {
            assert!(codes.insert(r.code), "duplicate code {}", r.code);
            assert!(names.insert(r.name), "duplicate name {}", r.name);
            assert!(
                r.code.len() == 5
                    && r.code.starts_with("QP")
                    && r.code[2..].chars().all(|c| c.is_ascii_digit()),
                "{}",
                r.code
            );
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                r.name
            );
            assert!(r.docs.len() > 40, "{} needs docs", r.code);
            // Errors are either refusals or data loss; a surprise is never an error.
            if r.severity == Severity::Error {
                assert!(
                    matches!(
                        r.basis,
                        Basis::QemuRefuses | Basis::DataLoss | Basis::Unpredictable
                    ),
                    "{}",
                    r.code
                );
            }
        }
        let sorted: Vec<_> = RULES.iter().map(|r| r.code).collect();
        let mut want = sorted.clone();
        want.sort();
        assert_eq!(sorted, want, "RULES must be in code order");
    }

    #[test]
    fn the_readme_lists_every_rule() {
        let readme = include_str!("../../../README.md");
        for r in RULES {
            let row = readme
                .lines()
                .find(|l| l.contains(&format!("`{}`", r.code)))
                .unwrap_or_else(|| panic!("README has no row for {}", r.code));
            assert!(
                row.contains(r.name),
                "README row for {} lacks {}",
                r.code,
                r.name
            );
            assert!(
                row.contains(&r.severity.to_string()),
                "README row for {} lacks {}",
                r.code,
                r.severity
            );
        }
        // ... and no rule that is not in the table.
        for piece in readme.split("`QP").skip(1) {
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            if digits.len() == 3 && piece[3..].starts_with('`') {
                let code = format!("QP{digits}");
                assert!(
                    rule(&code).is_some(),
                    "README lists {code}, which is no rule"
                );
            }
        }
    }

    #[test]
    fn errors_sort_first_and_render_like_rustc() {
        let mut p = seed(None);
        p.devices[1].discard_data = true;
        let ds = run(&p);
        assert_eq!(ds[0].severity, Severity::Error);
        assert!(ds.windows(2).all(|w| w[0].severity >= w[1].severity));
        let text = ds[0].render();
        assert!(text.starts_with("error[QP"), "{text}");
        assert!(text.contains("\n  = help: "), "{text}");
    }

    #[test]
    fn fix_all_reaches_a_clean_seed() {
        let mut p = seed(None);
        p.devices[0].share = false;
        let applied = fix_all(&mut p, &[], &HostFacts::default());
        assert!(!applied.is_empty());
        let left = run(&p);
        assert!(left.iter().all(|d| d.fix.is_none()), "{left:#?}");
        assert!(p.devices.iter().all(|d| d.align == Some(Size::mib(128))));
        assert!(p.devices[0].share);
        // Grown so the guest sees whole GiBs.
        assert_eq!(p.devices[0].size, Size::mib(17410));
    }

    #[test]
    fn tally_reads_like_rustc() {
        let t = Tally {
            errors: 1,
            warnings: 2,
            notes: 0,
            fixable: 2,
            to_review: 0,
        };
        assert_eq!(
            t.to_string(),
            "1 error, 2 warnings, 0 notes (2 fixable with --fix)"
        );
        let t = Tally { to_review: 1, ..t };
        assert_eq!(
            t.to_string(),
            "1 error, 2 warnings, 0 notes (2 fixable with --fix, 1 to review)"
        );
        let t = Tally { fixable: 0, ..t };
        assert_eq!(
            t.to_string(),
            "1 error, 2 warnings, 0 notes (1 fix to review)"
        );
    }

    /// `fix_all` (what `check --fix` runs) leaves a fix that needs a
    /// person: a DIMM on NUMA node 3 of a one-node machine is not told to
    /// drop its node, while the TUI still offers that fix.
    #[test]
    fn fix_all_applies_only_unattended_fixes() {
        let mut p = seed(Some(Size::mib(128)));
        p.devices[0].share = true;
        p.devices[1].share = true;
        p.devices[1].node = Some(3);
        let offered = run(&p);
        let node = offered
            .iter()
            .find(|d| d.fix.as_ref().is_some_and(|f| f.summary.contains("node=")))
            .unwrap_or_else(|| panic!("no node fix offered: {offered:#?}"));
        assert_eq!(
            node.fix.as_ref().map(|f| f.applicability),
            Some(Applicability::MaybeIncorrect)
        );
        let applied = fix_all(&mut p, &[], &HostFacts::default());
        assert!(applied.iter().all(|a| !a.contains("node=")), "{applied:?}");
        assert_eq!(p.devices[1].node, Some(3));
    }
}
