//! What every subcommand shares: where the profile comes from, how output
//! is written, and how failures become exit codes.

use clap::Args;
use qpmem::source;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the profile comes from.
#[derive(Args, Clone, Default)]
pub struct SourceArgs {
    /// A stored profile NAME, a built-in example, or a profile file (.ron); the built-in default when omitted.
    pub source: Option<String>,
    /// A QEMU command line to import instead of a profile.
    #[arg(long, value_name = "STRING", allow_hyphen_values = true)]
    pub cmdline: Option<String>,
}

#[derive(Args, Clone, Default)]
pub struct QemuArgs {
    /// The QEMU binary (else $QPMEM_QEMU, the profile's, or qemu-system-<arch> on PATH).
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
}

/// Running the profile through libvirt instead of starting QEMU.
#[derive(Args, Clone, Default)]
pub struct LibvirtArgs {
    /// Run the profile as a transient libvirt domain (virsh create) instead of starting QEMU.
    #[arg(long)]
    pub libvirt: bool,
    /// The libvirt connection, e.g. qemu+ssh://host/system (else $LIBVIRT_DEFAULT_URI, else qemu:///system).
    #[arg(long, value_name = "URI", requires = "libvirt")]
    pub connect: Option<String>,
}

impl LibvirtArgs {
    /// The connection to use, when libvirt is asked for.
    pub fn uri(&self) -> Option<String> {
        self.libvirt
            .then(|| qpmem::vm::libvirt::uri(self.connect.as_deref()))
    }
}

/// Does the configuration have errors (what QEMU would refuse, or data
/// lost)? The one rule behind exit code 1 of `check`, `render` and `map`.
pub fn has_errors(diagnostics: &[qpmem::core::diagnose::Diagnostic]) -> bool {
    use qpmem::core::diagnose::Severity;
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// The diagnostics of the configuration itself, for the commands that
/// print something else (`render`, `map`): the rule table on the profile
/// and the placement facts only. They neither run QEMU for its version nor
/// judge the backing files as they are today (`check` does both). The
/// errors go to stderr and decide the exit code.
pub fn judge(loaded: &source::Loaded) -> (Vec<qpmem::core::diagnose::Diagnostic>, ExitCode) {
    let host = qpmem::host::placement_facts(&loaded.profile);
    let diagnostics = qpmem::core::diagnose::check_profile(&loaded.profile, &loaded.notes, &host);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == qpmem::core::diagnose::Severity::Error)
        .collect();
    for d in &errors {
        eprintln!("{}", d.render());
    }
    let code = if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "qpmem: {} error{}: QEMU would refuse this configuration or lose data (`qpmem check` explains)",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    };
    (diagnostics, code)
}

/// A failure that ends the command with a code: 1 for a configuration
/// with errors, 2 for unusable input or environment.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    }
}

pub type Outcome = Result<ExitCode, Failure>;

pub fn load(s: &SourceArgs) -> Result<source::Loaded, Failure> {
    Ok(source::load(s.source.as_deref(), s.cmdline.as_deref())?)
}

pub fn out(text: &str) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`qpmem map | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

pub fn qemu_binary(args: &QemuArgs, profile: &qpmem::Profile) -> Result<PathBuf, Failure> {
    Ok(qpmem::qemu::discover::resolve(
        args.qemu.as_deref(),
        profile,
    )?)
}

/// A flag set by SIGINT, SIGTERM or SIGHUP, for runs that stop QEMU and
/// remove their scratch files before they exit.
pub fn cancel_on_signals() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>, Failure> {
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&cancel))
            .map_err(|e| format!("cannot install a signal handler: {e}"))?;
    }
    Ok(cancel)
}
