//! `qpmem check`: run the diagnostics on a profile and print them
//! rustc-style (or as JSON), or apply every automatic fix with `--fix`.
//! Exit 0 when nothing is an error (warnings too with `--deny warnings`),
//! 1 when something is, 2 when the input itself is unusable.

use super::common::{has_errors, load, out, Failure, Outcome, QemuArgs, SourceArgs};
use clap::{Args, ValueEnum};
use qpmem::core::diagnose::{self, Diagnostic, Tally};
use qpmem::core::examples;
use qpmem::core::export::json::DiagnosticJson;
use qpmem::core::facts::HostFacts;
use qpmem::core::facts::{LibvirtStatus, QemuStatus};
use qpmem::core::profile_ron::to_ron;
use qpmem::core::qemu::QemuVersion;
use qpmem::host;
use qpmem::qemu::discover;
use qpmem::store::{self, Store};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub qemu: QemuArgs,
    /// Judge against this QEMU release instead of asking the binary.
    #[arg(long, value_name = "X.Y[.Z]")]
    pub qemu_version: Option<QemuVersion>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Treat this level as errors for the exit code.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub deny: Option<Deny>,
    /// Apply every fix that is safe unattended (fixes "to review" are
    /// left): print the fixed profile (RON), and rewrite SOURCE in place
    /// when it is a profile file.
    #[arg(long)]
    pub fix: bool,
    /// Silence a rule, by code (QP100) or name; repeatable. A profile's
    /// `allow: [..]` list does the same.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Judge the libvirt export too: what the libvirt daemon will change
    /// (prealloc, names, slots, rounding; QP900-QP905), asking it for its
    /// release.
    #[arg(long)]
    pub libvirt: bool,
    /// The libvirt daemon --libvirt asks (else qemu:///system).
    #[arg(long, value_name = "URI", requires = "libvirt")]
    pub connect: Option<String>,
    /// Print what a rule catches and why, then exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Warnings fail the check too.
    Warnings,
}

#[derive(Serialize)]
struct QemuJson {
    version: Option<String>,
    #[serde(flatten)]
    status: QemuStatus,
}

#[derive(Serialize)]
struct FixedJson {
    applied: Vec<String>,
    /// The fixed profile as RON.
    profile: String,
    /// The profile file rewritten, if any.
    written: Option<String>,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    diagnostics: Vec<DiagnosticJson<'a>>,
    summary: Tally,
    qemu: QemuJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed: Option<FixedJson>,
}

/// The diagnostics as rustc prints them, then a summary line.
pub fn render_text(diagnostics: &[Diagnostic], qemu: &str) -> String {
    let mut text = String::new();
    for d in diagnostics {
        text.push_str(&d.render());
        text.push('\n');
        match &d.fix {
            Some(f) if f.is_unattended() => {
                text.push_str("  = fix: `qpmem check --fix` applies this\n");
            }
            Some(_) => text.push_str(
                "  = fix: to review, so `--fix` leaves it: press f on it in the TUI, or edit the profile\n",
            ),
            None => {}
        }
        text.push('\n');
    }
    text.push_str(&format!("check: {}; {qemu}\n", Tally::of(diagnostics)));
    text
}

fn describe_qemu(status: &QemuStatus) -> String {
    match status {
        QemuStatus::Found {
            path,
            version,
            origin,
        } => format!(
            "QEMU {version} at {} (from {})",
            path.display(),
            origin.describe()
        ),
        QemuStatus::Stated { version } => format!("QEMU {version} (--qemu-version)"),
        QemuStatus::NotFound { wanted, .. } => format!("QEMU not found ({wanted})"),
        QemuStatus::NoVersion { path, .. } => {
            format!("QEMU at {} of unknown version", path.display())
        }
        QemuStatus::NotChecked => "QEMU unknown".to_string(),
    }
}

/// The rule `what` names, or a failure that lists where to find them.
fn named_rule(what: &str, value: &str) -> Result<&'static diagnose::Rule, Failure> {
    diagnose::find_rule(value).ok_or_else(|| Failure {
        code: 2,
        message: format!(
            "{what}: no rule {value:?} (codes and names are listed in README.md, Diagnostics)"
        ),
    })
}

pub fn run(args: CheckArgs) -> Outcome {
    if let Some(r) = &args.explain {
        return out(&named_rule("--explain", r)?.explain());
    }
    let cli_allow = args
        .allow
        .iter()
        .map(|a| named_rule("--allow", a).map(|r| r.code.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = load(&args.source)?;
    let mut profile = loaded.profile;
    for (i, a) in profile.allow.iter().enumerate() {
        named_rule(&format!("allow[{i}]"), a)?;
    }
    // Silenced for this run only: a profile written back by --fix keeps
    // its own list.
    let own_allow = profile.allow.clone();
    profile.allow.extend(cli_allow);
    let status = match args.qemu_version {
        Some(version) => QemuStatus::Stated { version },
        None => discover::detect(args.qemu.qemu.as_deref(), &profile),
    };
    let libvirt = if args.libvirt {
        host::libvirt::status(
            args.connect
                .as_deref()
                .unwrap_or(host::libvirt::DEFAULT_URI),
        )
    } else {
        LibvirtStatus::NotAsked
    };
    let facts = |p: &qpmem::Profile| HostFacts {
        qemu: status.clone(),
        libvirt: libvirt.clone(),
        ..host::gather(p)
    };
    let mut host = facts(&profile);
    let mut notes = loaded.notes;

    let fixed = if args.fix {
        let applied = diagnose::fix_all(&mut profile, &notes, &host);
        // The pasted line's complaints are answered by the profile itself.
        notes.clear();
        host = facts(&profile);
        let mut saved = profile.clone();
        saved.allow = own_allow;
        // Written as loaded: `${data}` stays a placeholder.
        examples::collapse_placeholders(&mut saved, Store::from_env_or_temp().data_dir());
        let ron = to_ron(&saved)?;
        let written = match &loaded.path {
            Some(path) if !applied.is_empty() => {
                store::save_profile(path, &saved)?;
                Some(path.display().to_string())
            }
            _ => None,
        };
        Some(FixedJson {
            applied,
            profile: ron,
            written,
        })
    } else {
        None
    };

    let diagnostics = diagnose::check_profile(&profile, &notes, &host);
    let tally = Tally::of(&diagnostics);
    let failed =
        has_errors(&diagnostics) || (args.deny == Some(Deny::Warnings) && tally.warnings > 0);
    let qemu_line = describe_qemu(&status);

    if args.json {
        let report = ReportJson {
            diagnostics: diagnostics.iter().map(DiagnosticJson::of).collect(),
            summary: tally,
            qemu: QemuJson {
                version: status.version().map(|v| v.to_string()),
                status: status.clone(),
            },
            fixed,
        };
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        out(&text)?;
    } else if let Some(fixed) = fixed {
        // stdout is the profile; what was done and what is left go to stderr.
        out(&fixed.profile)?;
        let mut report = String::new();
        for a in &fixed.applied {
            report.push_str(&format!("fixed: {a}\n"));
        }
        if let Some(path) = &fixed.written {
            report.push_str(&format!(
                "wrote {path} (the previous version is {path}.bak)\n"
            ));
        }
        report.push_str(&render_text(&diagnostics, &qemu_line));
        eprint!("{report}");
    } else {
        out(&render_text(&diagnostics, &qemu_line))?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
