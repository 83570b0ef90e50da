//! The `qpmem` command: parse arguments, pick a subcommand, run it.

// A panic is a bug: outside tests nothing unwraps or expects.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// Unsafe code only where it is allowed by name, with its SAFETY comment
// (the two `pre_exec` closures).
#![deny(unsafe_code)]

mod cli;

use clap::{Parser, Subcommand};
use cli::common::{LibvirtArgs, Outcome, QemuArgs, SourceArgs};
use std::process::ExitCode;

/// Configure QEMU's emulated NVDIMMs, see the guest address map, and run the VM.
#[derive(Parser)]
#[command(name = "qpmem", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The editor's (and the launch view's) theme: default, light,
    /// high-contrast, a name in $XDG_CONFIG_HOME/qpmem/themes/, or a path
    /// (else config.ron's theme). Only for the editor and launch.
    #[arg(long, value_name = "NAME|PATH")]
    theme: Option<String>,
}

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Render { .. } => "render",
            Command::Map { .. } => "map",
            Command::Import { .. } => "import",
            Command::Profiles { .. } => "profiles",
            Command::Edit { .. } => "edit",
            Command::Check(_) => "check",
            Command::Probe { .. } => "probe",
            Command::Launch { .. } => "launch",
            Command::Verify(_) => "verify",
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the QEMU command line.
    Render {
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long, value_enum, default_value = "shell")]
        format: cli::render::Format,
        /// Write to FILE instead of stdout: atomically when a regular file or new, directly into a FIFO or character device; - is stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Print the guest physical address map QEMU will build.
    Map {
        #[command(flatten)]
        source: SourceArgs,
        /// text (a table, the default), json (integers in bytes) or svg (a picture).
        #[arg(long, value_enum, conflicts_with = "json")]
        format: Option<cli::map::Format>,
        /// The same as --format json.
        #[arg(long)]
        json: bool,
        /// Write to FILE instead of stdout (as render's -o); - is stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Import a pasted QEMU command line or a libvirt domain: print it as a profile (RON), or save it.
    ///
    /// A libvirt domain's memory devices (<memory model='nvdimm'|'dimm'|'virtio-pmem'|'virtio-mem'>),
    /// RAM, maxMemory, vCPUs, NUMA cells, machine, kernel and emulator become the profile; what qpmem
    /// does not model (disks, interfaces, graphics, ...) is kept and written back by
    /// `render --format libvirt`; what it can neither model nor keep is printed as a note.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["cmdline", "libvirt", "domain"])))]
    Import {
        /// The command line, quoted as one argument.
        #[arg(long, value_name = "STRING", allow_hyphen_values = true)]
        cmdline: Option<String>,
        /// A libvirt domain XML file (`virsh dumpxml` output, `render --format libvirt` output).
        #[arg(long, value_name = "FILE")]
        libvirt: Option<std::path::PathBuf>,
        /// A libvirt domain by name, read with `virsh dumpxml NAME`.
        #[arg(long, value_name = "NAME")]
        domain: Option<String>,
        /// With --domain: the libvirt connection URI (`virsh -c URI`); without it, virsh's default (LIBVIRT_DEFAULT_URI, else libvirt's own choice).
        #[arg(long, value_name = "URI", requires = "domain", conflicts_with_all = ["cmdline", "libvirt"])]
        connect: Option<String>,
        /// Save it as the stored profile NAME instead of printing it.
        #[arg(long, value_name = "NAME")]
        save: Option<String>,
        /// With --save: replace an existing stored profile (kept as NAME.ron.bak).
        #[arg(long, requires = "save")]
        force: bool,
    },
    /// Stored profiles and built-in examples.
    Profiles {
        #[command(subcommand)]
        command: cli::profiles::Command,
    },
    /// Open the interactive editor on a profile or a pasted command line.
    ///
    /// In the editor, ? lists every key by mode and pane.
    /// $XDG_CONFIG_HOME/qpmem/keys.ron rebinds them (every entry optional,
    /// e.g. `(normal: { add_dimm: ["n"] })`; see README, "Your own keys").
    Edit {
        #[command(flatten)]
        source: SourceArgs,
        /// The editor's theme (see qpmem --theme).
        #[arg(long, value_name = "NAME|PATH")]
        theme: Option<String>,
    },
    /// Diagnose the profile: what QEMU would refuse, what would surprise the guest or lose data.
    Check(cli::check::CheckArgs),
    /// Start QEMU paused (-S), or a libvirt domain (--libvirt), and compare its placement with the prediction.
    Probe {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        qemu: QemuArgs,
        #[command(flatten)]
        libvirt: LibvirtArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Check, create missing backing files (after confirmation), and run the
    /// VM with its serial console full screen.
    Launch {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        qemu: QemuArgs,
        #[command(flatten)]
        libvirt: LibvirtArgs,
        /// Create missing backing files and directories without asking.
        #[arg(long)]
        yes: bool,
        /// Also append everything the guest writes on its console to FILE
        /// (raw, escape sequences included; a regular file, never one of the
        /// profile's files).
        #[arg(long, value_name = "FILE")]
        console_log: Option<std::path::PathBuf>,
        /// The launch view's theme, as the editor's (see qpmem --theme).
        #[arg(long, value_name = "NAME|PATH")]
        theme: Option<String>,
    },
    /// Boot a throwaway Linux guest on scratch files and compare what it saw with the prediction.
    Verify(cli::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = std::panic::catch_unwind(|| run(cli));
    // Asked to exit by SIGTERM/SIGHUP: everything has been put away.
    if let Some(sig) = qpmem::terminal::terminating() {
        return ExitCode::from(u8::try_from(128 + sig).unwrap_or(255));
    }
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(f)) => {
            // Messages echo values from profiles and QEMU: no raw escapes.
            eprintln!(
                "qpmem: error: {}",
                qpmem::core::printable::printable_lines(&f.message)
            );
            ExitCode::from(f.code)
        }
        Err(_) => {
            eprintln!("qpmem: internal error (this is a bug; please report it)");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    // A theme colours the full-screen views only: say so rather than
    // ignore it where nothing is drawn in colour.
    if let (Some(theme), Some(cmd)) = (&cli.theme, &cli.command) {
        if !matches!(cmd, Command::Edit { .. } | Command::Launch { .. }) {
            return Err(cli::common::Failure {
                code: 2,
                message: format!(
                    "--theme {theme}: `qpmem {}` draws nothing in colour; the theme is for the editor (`qpmem`, `qpmem edit`) and `qpmem launch`",
                    cmd.name()
                ),
            });
        }
    }
    match cli.command {
        None => cli::tui::run(None, cli.theme),
        Some(Command::Edit { source, theme }) => cli::tui::run(Some(source), theme.or(cli.theme)),
        Some(Command::Render {
            source,
            format,
            output,
        }) => cli::render::run(source, format, output),
        Some(Command::Map {
            source,
            format,
            json,
            output,
        }) => {
            let format = match (format, json) {
                (Some(f), _) => f,
                (None, true) => cli::map::Format::Json,
                (None, false) => cli::map::Format::Text,
            };
            cli::map::run(source, format, output)
        }
        Some(Command::Import {
            cmdline,
            libvirt,
            domain,
            connect,
            save,
            force,
        }) => {
            let what = match (cmdline, libvirt, domain) {
                (Some(line), _, _) => Some(cli::import::What::Cmdline(line)),
                (_, Some(file), _) => Some(cli::import::What::LibvirtFile(file)),
                (_, _, Some(name)) => Some(cli::import::What::Domain { name, connect }),
                // clap's group requires one of them.
                (None, None, None) => None,
            };
            cli::import::run(what, save.as_deref(), force)
        }
        Some(Command::Profiles { command }) => cli::profiles::run(command),
        Some(Command::Probe {
            source,
            qemu,
            libvirt,
            json,
        }) => cli::probe::run(source, qemu, libvirt, json),
        Some(Command::Check(args)) => cli::check::run(args),
        Some(Command::Launch {
            source,
            qemu,
            libvirt,
            yes,
            console_log,
            theme,
        }) => cli::launch::run(source, qemu, libvirt, yes, console_log, theme.or(cli.theme)),
        Some(Command::Verify(args)) => cli::verify::run(args),
    }
}
