//! `qpmem launch`: pre-flight, confirmation, then QEMU with its live
//! console full screen, run by the launch loop the editor uses too
//! ([`qpmem::tui::launch`]). With `--libvirt`, libvirt runs QEMU as a
//! transient domain ([`qpmem::vm::Engine::Libvirt`]); on a remote
//! connection this host's files are neither checked nor created.
//!
//! Everything that can stop the launch is checked before a file is
//! created: the console log, QEMU and its version, the pre-flight, the
//! confirmation (or `--yes`) and the terminal.

use super::common::{load, qemu_binary, Failure, LibvirtArgs, Outcome, QemuArgs, SourceArgs};
use qpmem::core::diagnose::Severity;
use qpmem::core::facts::QemuStatus;
use qpmem::store::Store;
use qpmem::tui::launch::{self, Ended, Incoming, Launch};
use qpmem::tui::theme::Theme;
use qpmem::vm::{libvirt, preflight, preflight_remote, prepare, Engine, LaunchOptions, VmStatus};
use std::convert::Infallible;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

pub fn run(
    s: SourceArgs,
    q: QemuArgs,
    l: LibvirtArgs,
    yes: bool,
    console_log: Option<PathBuf>,
    theme: Option<String>,
) -> Outcome {
    let loaded = load(&s)?;
    if let Some(log) = &console_log {
        qpmem::vm::check_console_log(&loaded.profile, log)?;
    }
    let uri = l.uri();
    let remote = uri.as_deref().and_then(libvirt::remote_host);
    let (binary, mut plan) = match remote {
        // The other host's QEMU and files: libvirt's to judge.
        Some(host) => (
            loaded.profile.qemu_binary(),
            preflight_remote(&loaded.profile, host, &loaded.notes),
        ),
        None => {
            let binary = qemu_binary(&q, &loaded.profile)?;
            let version = qpmem::qemu::read_version(&binary)?;
            let qemu = QemuStatus::Found {
                path: binary.clone(),
                version,
                origin: qpmem::qemu::discover::wanted(q.qemu.as_deref(), &loaded.profile).1,
            };
            let plan = preflight(&loaded.profile, &qemu, &loaded.notes);
            (binary, plan)
        }
    };
    if let Some(uri) = &uri {
        // Before any file is made or the screen taken.
        libvirt::check_free(uri, &loaded.profile.name)?;
        // What the domain changes from the profile.
        let emulator = remote.is_none().then_some(binary.as_path());
        plan.notes
            .extend(libvirt::domain_xml(&loaded.profile, &loaded.profile.name, emulator).notes);
    }

    let mut err = std::io::stderr().lock();
    for d in plan
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Error)
    {
        let _ = writeln!(err, "{}", d.render());
    }
    let notes = plan.launch_notes();
    for n in &notes {
        let _ = writeln!(err, "note: {n}");
    }
    if plan.is_blocked() {
        let code = if plan
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            1
        } else {
            2
        };
        return Err(Failure {
            code,
            message: format!("not launching:\n{}", plan.errors().join("\n")),
        });
    }
    let ask = plan.needs_confirmation() && !yes;
    if plan.needs_confirmation() {
        let _ = writeln!(err, "qpmem will:");
        for c in plan.changes() {
            let _ = writeln!(err, "  {c}");
        }
        if ask && !std::io::stdin().is_terminal() {
            return Err(Failure {
                code: 2,
                message: "files must be created first: confirm with --yes".into(),
            });
        }
    }
    if !std::io::stdout().is_terminal() {
        return Err(Failure {
            code: 2,
            message: "launch shows the guest console full screen: run it in a terminal".into(),
        });
    }
    let store = Store::from_env().ok();
    let (theme, theme_problem) = Theme::for_terminal(theme.as_deref(), store.as_ref());
    // Reads the terminal's size: a terminal that cannot say fails here.
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    if ask {
        let _ = write!(err, "Go ahead? [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure {
                code: 2,
                message: "nothing created; not launching".into(),
            });
        }
    }
    drop(err);

    // The mouse wheel scrolls the console (Shift selects text in most
    // terminals while the mouse is captured).
    let session = qpmem::terminal::Session::enter()?;
    prepare(&plan, true)?;
    let mut options = LaunchOptions::new(binary);
    options.console_log = console_log;
    let title = match &uri {
        Some(uri) => format!(
            "guest console: {0} (libvirt domain {0} on {uri})",
            loaded.profile.name
        ),
        None => format!("guest console: {}", loaded.profile.name),
    };
    if let Some(uri) = uri {
        options.engine = Engine::Libvirt { uri };
    }
    let (tx, rx) = mpsc::channel::<Incoming<Infallible>>();
    launch::wake_on_terminate(tx.clone());
    launch::spawn_input(tx.clone())?;
    let ended = launch::run(
        &mut terminal,
        &loaded.profile,
        Launch {
            options,
            title,
            theme,
            notes,
            message: theme_problem,
        },
        &tx,
        &rx,
        |never| match never {},
    );
    drop(session);
    finish(ended?)
}

/// Say how QEMU ended.
fn finish(ended: Ended) -> Outcome {
    let state = ended.state;
    if ended.failed() {
        return Err(Failure {
            code: 2,
            message: format!(
                "QEMU {state}{}",
                if ended.stderr.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", ended.stderr.join("\n"))
                }
            ),
        });
    }
    if let Some((name, uri)) = &ended.left_running {
        eprintln!(
            "qpmem: domain {name} left running on {uri} (virsh -c {uri} console {name}; virsh -c {uri} shutdown {name}; virsh -c {uri} destroy {name})"
        );
    } else if let VmStatus::Exited(_) = state {
        eprintln!("qpmem: QEMU {state}");
    }
    if !ended.hotplugged.is_empty() {
        let ids: Vec<&str> = ended.hotplugged.iter().map(|d| d.id.as_str()).collect();
        eprintln!(
            "qpmem: hotplugged in this session, not in the profile: {} (a launch from the editor, `l`, adds them to it)",
            ids.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
