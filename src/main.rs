//! The `qpmem` command: parse arguments, pick a subcommand, run it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use qpmem::cmdline::{import, render_argv, render_shell};
use qpmem::layout::{layout, HostFacts};
use qpmem::qemu;
use qpmem::{map, source, store};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Configure QEMU's emulated NVDIMMs, see the guest address map, and run the VM.
#[derive(Parser)]
#[command(name = "qpmem", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the profile comes from.
#[derive(Args, Clone)]
struct SourceArgs {
    /// A profile file (.ron); the built-in default when omitted.
    source: Option<String>,
    /// A QEMU command line to import instead of a profile.
    #[arg(long, value_name = "STRING")]
    cmdline: Option<String>,
}

#[derive(Args, Clone)]
struct QemuArgs {
    /// The QEMU binary (else $QPMEM_QEMU, the profile's, or qemu-system-<arch> on PATH).
    #[arg(long, value_name = "PATH")]
    qemu: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One option per line, quoted for POSIX sh.
    Shell,
    /// One argument per line, the QEMU binary first.
    Argv,
}

#[derive(Subcommand)]
enum Command {
    /// Print the QEMU command line.
    Render {
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long, value_enum, default_value = "shell")]
        format: Format,
    },
    /// Print the guest physical address map QEMU will build.
    Map {
        #[command(flatten)]
        source: SourceArgs,
        /// JSON instead of a table (integers in bytes).
        #[arg(long)]
        json: bool,
    },
    /// Import a pasted QEMU command line and print it as a profile (RON).
    Import {
        /// The command line, quoted as one argument.
        #[arg(long, value_name = "STRING")]
        cmdline: String,
    },
    /// Start QEMU paused (-S) and compare its placement with the prediction.
    Probe {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        qemu: QemuArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// A failure that ends the command with a code: 1 for a configuration
/// with errors, 2 for unusable input or environment.
struct Failure {
    code: u8,
    message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    }
}

type Outcome = Result<ExitCode, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = std::panic::catch_unwind(|| run(cli));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(f)) => {
            eprintln!("qpmem: error: {}", f.message);
            ExitCode::from(f.code)
        }
        Err(_) => {
            eprintln!("qpmem: internal error (this is a bug; please report it)");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        None => cmd_map(
            SourceArgs {
                source: None,
                cmdline: None,
            },
            false,
        ),
        Some(Command::Render { source, format }) => cmd_render(source, format),
        Some(Command::Map { source, json }) => cmd_map(source, json),
        Some(Command::Import { cmdline }) => cmd_import(&cmdline),
        Some(Command::Probe { source, qemu, json }) => cmd_probe(source, qemu, json),
    }
}

fn load(s: &SourceArgs) -> Result<source::Loaded, Failure> {
    Ok(source::load(s.source.as_deref(), s.cmdline.as_deref())?)
}

fn out(text: &str) -> Outcome {
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

fn cmd_render(s: SourceArgs, format: Format) -> Outcome {
    let loaded = load(&s)?;
    let text = match format {
        Format::Shell => render_shell(&loaded.profile),
        Format::Argv => {
            let mut t = render_argv(&loaded.profile).join("\n");
            t.push('\n');
            t
        }
    };
    out(&text)
}

fn cmd_map(s: SourceArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    let l = layout(&loaded.profile, &HostFacts::default())?;
    let code = if l.devices.iter().all(|d| d.result.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let text = if json {
        let mut t = serde_json::to_string_pretty(&map::to_json(&loaded.profile, &l))?;
        t.push('\n');
        t
    } else {
        map::to_table(&loaded.profile, &l)
    };
    out(&text)?;
    Ok(code)
}

fn cmd_import(cmdline: &str) -> Outcome {
    let (profile, _notes) = import(cmdline)?;
    out(&store::to_ron(&profile)?)
}

fn qemu_binary(args: &QemuArgs, profile: &qpmem::Profile) -> Result<PathBuf, Failure> {
    let wanted = args
        .qemu
        .clone()
        .or_else(|| std::env::var_os("QPMEM_QEMU").map(PathBuf::from))
        .unwrap_or_else(|| profile.qemu_binary());
    Ok(qemu::find_binary(&wanted)?)
}

fn cmd_probe(s: SourceArgs, q: QemuArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    let binary = qemu_binary(&q, &loaded.profile)?;
    let predicted = layout(&loaded.profile, &HostFacts::default())?;
    let actual = match qemu::probe(&loaded.profile, &binary, Duration::from_secs(30)) {
        Ok(a) => a,
        Err(qemu::ProbeError::Refused { message }) => {
            return Err(Failure {
                code: 2,
                message: format!("QEMU refused the configuration:\n{message}"),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let mut matches = actual.len() == predicted.devices.len();
    let mut rows = Vec::new();
    for a in &actual {
        let id = a.id.clone().unwrap_or_default();
        let p = predicted
            .devices
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.placement());
        let same = p.is_some_and(|p| p.addr == a.addr && p.size == a.size && p.slot == a.slot);
        matches &= same;
        rows.push((a, p.cloned(), same));
    }
    let text = if json {
        let dimms: Vec<_> = rows
            .iter()
            .map(|(a, p, same)| {
                serde_json::json!({
                    "id": a.id, "kind": a.kind, "slot": a.slot, "addr": a.addr, "size": a.size,
                    "node": a.node,
                    "predicted": p.as_ref().map(|p| serde_json::json!({"slot": p.slot, "addr": p.addr, "size": p.size})),
                    "matches": same,
                })
            })
            .collect();
        let mut t =
            serde_json::to_string_pretty(&serde_json::json!({"dimms": dimms, "matches": matches}))?;
        t.push('\n');
        t
    } else {
        let mut t = format!(
            "{:<10} {:>4}  {:<14} {:>12}  {:<14} {:>12}  RESULT\n",
            "ID", "SLOT", "QEMU ADDR", "QEMU SIZE", "PREDICTED", "SIZE"
        );
        for (a, p, same) in &rows {
            t.push_str(&format!(
                "{:<10} {:>4}  {:#014x} {:>12}  {:<14} {:>12}  {}\n",
                a.id.as_deref().unwrap_or("-"),
                a.slot,
                a.addr,
                qpmem::size::format_qemu(a.size),
                p.as_ref()
                    .map(|p| format!("{:#014x}", p.addr))
                    .unwrap_or("-".into()),
                p.as_ref()
                    .map(|p| qpmem::size::format_qemu(p.size))
                    .unwrap_or("-".into()),
                if *same { "match" } else { "DIFFERENT" }
            ));
        }
        t.push_str(if matches {
            "QEMU placed every device where qpmem predicted.\n"
        } else {
            "QEMU's placement DIFFERS from qpmem's prediction.\n"
        });
        t
    };
    out(&text)?;
    Ok(if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
