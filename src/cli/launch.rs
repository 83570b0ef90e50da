//! `qpmem launch`: pre-flight, confirmation, then QEMU with its live
//! console full screen ([`qpmem::vm::view::LaunchView`]).

use super::common::{load, qemu_binary, Failure, Outcome, QemuArgs, SourceArgs};
use crossterm::event::Event;
use qpmem::console::FramePacer;
use qpmem::core::diagnose::Severity;
use qpmem::core::facts::QemuStatus;
use qpmem::vm::view::{LaunchView, ViewOutcome};
use qpmem::vm::{preflight, prepare, LaunchOptions, Notify, Vm, VmEvent, VmStatus};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub fn run(s: SourceArgs, q: QemuArgs, yes: bool, console_log: Option<PathBuf>) -> Outcome {
    let loaded = load(&s)?;
    if let Some(log) = &console_log {
        qpmem::vm::check_console_log(&loaded.profile, log)?;
    }
    let binary = qemu_binary(&q, &loaded.profile)?;
    let version = qpmem::qemu::read_version(&binary)?;
    let qemu = QemuStatus::Found {
        path: binary.clone(),
        version,
        origin: qpmem::qemu::discover::wanted(q.qemu.as_deref(), &loaded.profile).1,
    };
    let plan = preflight(&loaded.profile, &qemu, &loaded.notes);

    let mut err = std::io::stderr().lock();
    for d in plan
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Error)
    {
        let _ = writeln!(err, "{}", d.render());
    }
    for n in &plan.notes {
        let _ = writeln!(err, "note: {n}");
    }
    if !plan.set_aside.is_empty() {
        let _ = writeln!(
            err,
            "note: qpmem owns the console, monitor and display; set aside from the profile: {}",
            plan.set_aside.join(" ")
        );
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
    if plan.needs_confirmation() {
        let _ = writeln!(err, "qpmem will:");
        for c in plan.changes() {
            let _ = writeln!(err, "  {c}");
        }
        if !yes {
            if !std::io::stdin().is_terminal() {
                return Err(Failure {
                    code: 2,
                    message: "files must be created first: confirm with --yes".into(),
                });
            }
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
    }
    drop(err);
    prepare(&plan, true)?;

    if !std::io::stdout().is_terminal() {
        return Err(Failure {
            code: 2,
            message: "launch shows the guest console full screen: run it in a terminal".into(),
        });
    }
    let (cols, rows) = crossterm::terminal::size()?;
    let mut opts = LaunchOptions::new(binary);
    opts.console_log = console_log;
    // Console pane inside the screen: borders and the two status lines.
    opts.rows = rows.saturating_sub(4).max(1);
    opts.cols = cols.saturating_sub(2).max(1);

    let (tx, rx) = mpsc::channel::<AppEvent>();
    let vm_tx = tx.clone();
    let notify: Notify = Arc::new(move |e| {
        let _ = vm_tx.send(AppEvent::Vm(e));
    });
    let vm = Vm::launch(&loaded.profile, &opts, notify)?;
    let mut view = LaunchView::new(vm, format!("guest console: {}", loaded.profile.name));

    // The mouse wheel scrolls the console (Shift selects text in most
    // terminals while the mouse is captured).
    let session = qpmem::terminal::Session::enter()?;
    let wake = tx.clone();
    qpmem::terminal::on_terminate(move || {
        let _ = wake.send(AppEvent::Terminate);
    });
    std::thread::Builder::new()
        .name("qpmem-input".into())
        .spawn(move || {
            while let Ok(e) = crossterm::event::read() {
                if tx.send(AppEvent::Term(e)).is_err() {
                    break;
                }
            }
        })?;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    // A flooding console draws at the pacer's rate; everything else at once.
    let mut pacer = FramePacer::default();
    let mut draw = true;
    loop {
        if draw {
            terminal.draw(|f| view.draw(f, f.area()))?;
            pacer.drawn();
        }
        // A tick for the uptime when nothing else happens, sooner when
        // console output waits to be drawn.
        let wait = pacer.wait().unwrap_or(Duration::from_secs(1));
        let event = match rx.recv_timeout(wait) {
            Ok(e) => e,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                draw = true;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        draw = false;
        let mut next = Some(event);
        // Handle everything queued before drawing again.
        while let Some(e) = next {
            let console = matches!(e, AppEvent::Vm(VmEvent::Console));
            draw |= if console { pacer.output() } else { true };
            match e {
                // Drawing the view acknowledges console output.
                AppEvent::Vm(VmEvent::Console) => {}
                AppEvent::Vm(e) => view.on_event(&e),
                AppEvent::Term(Event::Key(k)) => {
                    if view.handle_key(k) == ViewOutcome::Leave {
                        drop(session);
                        return finish(view);
                    }
                }
                AppEvent::Term(Event::Paste(p)) => view.handle_paste(&p),
                AppEvent::Term(Event::Mouse(m)) => view.handle_mouse(m),
                AppEvent::Term(_) => {}
                AppEvent::Terminate => {}
            }
            // SIGTERM/SIGHUP: power the guest off with the screen still
            // up, saying so; main exits 128+signal afterwards.
            if let Some(sig) = qpmem::terminal::terminating() {
                view.on_terminate(sig);
                terminal.draw(|f| view.draw(f, f.area()))?;
                let outcome = finish(view);
                drop(session);
                return outcome;
            }
            next = rx.try_recv().ok();
        }
    }
    drop(session);
    finish(view)
}

/// After the view: stop the VM if it still runs, and say how QEMU ended.
fn finish(view: LaunchView) -> Outcome {
    let vm = view.into_vm();
    let status = vm.shutdown(qpmem::vm::SHUTDOWN_GRACE);
    let stderr = vm.stderr_lines();
    let state = vm.status();
    drop(vm);
    match status {
        // An error code is a failure; a signal we sent (force quit) is not.
        Some(s) if s.code().is_some_and(|c| c != 0) => Err(Failure {
            code: 2,
            message: format!(
                "QEMU {state}{}",
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", stderr.join("\n"))
                }
            ),
        }),
        _ => {
            if let VmStatus::Exited(_) = state {
                eprintln!("qpmem: QEMU {state}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

enum AppEvent {
    Term(Event),
    Vm(VmEvent),
    /// SIGTERM or SIGHUP arrived (see [`qpmem::terminal::terminating`]).
    Terminate,
}
