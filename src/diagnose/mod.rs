//! Diagnostics: one table of rules, each a declared item with a stable
//! code, a kebab-case name, a severity, its docs, a check and an optional
//! mechanical fix, in the manner of clippy's lints.
//!
//! Rules read a [`Context`] (the profile, its layout, the QEMU version and
//! facts about the host gathered beforehand) and never touch the system
//! themselves, so the TUI, `qpmem check` and the tests all see the same
//! findings. Rules live in one file per family; [`RULES`] lists them all.

mod placement;

use crate::cmdline::ImportNote;
use crate::layout::{HostFacts, Layout};
use crate::profile::{Auto, Profile};
use crate::qemu::QemuVersion;
use crate::size::Size;
use serde::Serialize;
use std::fmt;

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

/// Everything a rule may look at.
pub struct Context<'a> {
    pub profile: &'a Profile,
    /// `None` when the machine type is not modelled.
    pub layout: Option<&'a Layout>,
    /// The QEMU that will run it, when known.
    pub qemu_version: Option<QemuVersion>,
    /// What an imported command line got wrong.
    pub import_notes: &'a [ImportNote],
    pub host: &'a HostFacts,
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
}

impl Edit {
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
        }
    }
}

fn with_device(profile: &mut Profile, id: &str, f: impl FnOnce(&mut crate::profile::Dimm)) -> bool {
    match profile.devices.iter_mut().find(|d| d.id == id) {
        Some(d) => {
            f(d);
            true
        }
        None => false,
    }
}

/// A fix: what it does, in words, and the edits that do it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub summary: String,
    pub edits: Vec<Edit>,
}

impl Fix {
    pub fn apply(&self, profile: &mut Profile) -> bool {
        self.edits.iter().all(|e| e.apply(profile))
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

/// One rule of the table.
pub struct Rule {
    /// Stable code, `QP` and three digits.
    pub code: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    pub severity: Severity,
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
    /// rustc style: `warning[QP010]: message` then `  = help: ...`.
    pub fn render(&self) -> String {
        let mut s = format!("{}[{}]: {}", self.severity, self.code, self.message);
        if let Some(h) = &self.help {
            s.push_str(&format!("\n  = help: {h}"));
        }
        s
    }
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[&placement::SECTION_MISALIGNED];

/// Run every rule. Errors come first, then warnings, then notes; within a
/// severity, in rule order.
pub fn check(ctx: &Context) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = RULES
        .iter()
        .flat_map(|rule| {
            (rule.check)(ctx).into_iter().map(move |f| Diagnostic {
                code: rule.code,
                name: rule.name,
                severity: rule.severity,
                device: f.device,
                message: f.message,
                help: f.help,
                fix: f.fix,
            })
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.severity));
    out
}
