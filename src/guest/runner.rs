//! Running QEMU with the guest: capture the serial console (QEMU's stdout
//! with `-serial stdio`), type into it (stdin), wait for text or for the
//! exit with a deadline, and never leave a QEMU process behind: on a
//! deadline, on an error and when a [`GuestVm`] is dropped, QEMU is killed
//! and reaped.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::report::{parse_report, GuestReport};
use super::GuestError;

/// How often a waiting call looks at the console and the process.
const POLL: Duration = Duration::from_millis(20);
/// How much console output error messages quote.
const TAIL_CHARS: usize = 3000;

/// A running QEMU whose serial console we hold.
pub struct GuestVm {
    child: Child,
    program: String,
    stdin: Option<ChildStdin>,
    console: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
}

/// A finished guest run.
#[derive(Debug)]
pub struct GuestRun {
    /// Everything the guest printed on the serial console.
    pub console: String,
    /// QEMU's own messages.
    pub stderr: String,
    pub status: ExitStatus,
    /// From spawning QEMU to its exit.
    pub elapsed: Duration,
    /// [`parse_report`] of `console`.
    pub report: GuestReport,
}

impl GuestVm {
    /// Starts `cmd` (a full QEMU command line using `-serial stdio`) with
    /// piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Result<Self, GuestError> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::qemu::die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| GuestError::Spawn {
            program: program.clone(),
            source,
        })?;
        let started = Instant::now();
        let console = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(pump(out, Arc::clone(&console)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(pump(err, Arc::clone(&stderr)));
        }
        Ok(GuestVm {
            stdin: child.stdin.take(),
            child,
            program,
            console,
            stderr,
            readers,
            started,
        })
    }

    /// The console output so far (invalid UTF-8 replaced).
    pub fn console(&self) -> String {
        snapshot(&self.console)
    }

    /// The report as far as the guest has printed it.
    pub fn report(&self) -> GuestReport {
        parse_report(&self.console())
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until the console output contains `needle`. If QEMU exits
    /// first, that is an error; if `timeout` passes, QEMU is killed.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<(), GuestError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.console().contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.try_wait()? {
                self.join_readers();
                if self.console().contains(needle) {
                    return Ok(());
                }
                return Err(GuestError::Exited {
                    status: status.to_string(),
                    waited_for: needle.to_owned(),
                    stderr: snapshot(&self.stderr),
                    console_tail: tail(&self.console()),
                });
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(GuestError::Timeout {
                    waited_for: format!("print {needle:?}"),
                    seconds: timeout.as_secs(),
                    console_tail: tail(&self.console()),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Types `text` on the guest console (nothing is added: end commands
    /// with `\n`).
    pub fn send(&mut self, text: &str) -> Result<(), GuestError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| GuestError::ConsoleWrite {
                source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "console closed"),
            })?;
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|source| GuestError::ConsoleWrite { source })
    }

    /// Waits for QEMU to exit (the guest powers off), at most `timeout`;
    /// then QEMU is killed and that is an error.
    pub fn wait(self, timeout: Duration) -> Result<GuestRun, GuestError> {
        self.wait_until(timeout, |_| ControlFlow::Continue(()))
    }

    /// [`GuestVm::wait`], calling `watch` with the running guest every
    /// poll (about 50 times a second) to show progress or to give up: when
    /// it returns `Break`, QEMU is killed and reaped and the result is
    /// [`GuestError::Cancelled`].
    pub fn wait_until(
        mut self,
        timeout: Duration,
        mut watch: impl FnMut(&GuestVm) -> ControlFlow<()>,
    ) -> Result<GuestRun, GuestError> {
        let deadline = Instant::now() + timeout;
        loop {
            if watch(&self).is_break() {
                self.kill();
                return Err(GuestError::Cancelled);
            }
            if let Some(status) = self.try_wait()? {
                let elapsed = self.started.elapsed();
                self.join_readers();
                let console = self.console();
                return Ok(GuestRun {
                    report: parse_report(&console),
                    console,
                    stderr: snapshot(&self.stderr),
                    status,
                    elapsed,
                });
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(GuestError::Timeout {
                    waited_for: "power off".into(),
                    seconds: timeout.as_secs(),
                    console_tail: tail(&self.console()),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, GuestError> {
        let program = &self.program;
        self.child
            .try_wait()
            .map_err(|e| GuestError::io("cannot wait for", program, e))
    }

    /// Kills and reaps QEMU if it is still running.
    fn kill(&mut self) {
        self.stdin = None;
        if let Ok(None) = self.child.try_wait() {
            // Errors here mean it already exited; wait() reaps it either way.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for GuestVm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Boots with the stock `/init` in report mode: spawn, wait for power off.
pub fn run_report(cmd: Command, timeout: Duration) -> Result<GuestRun, GuestError> {
    GuestVm::spawn(cmd)?.wait(timeout)
}

/// Copies a pipe into a shared buffer until EOF.
fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => crate::lock(&into).extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })
}

fn snapshot(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&crate::lock(buf)).into_owned()
}

/// The last [`TAIL_CHARS`] characters of `text`.
pub(crate) fn tail(text: &str) -> String {
    let count = text.chars().count();
    text.chars()
        .skip(count.saturating_sub(TAIL_CHARS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // These use `sh` as a stand-in process (not as a stand-in for QEMU's
    // behaviour): they check the process plumbing only.

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn captures_output_and_status() {
        let run = run_report(
            sh("echo QPMEM-BEGIN 1; echo QPMEM-END; echo oops >&2"),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(run.status.success());
        assert!(run.report.complete);
        assert_eq!(run.stderr, "oops\n");
    }

    #[test]
    fn timeout_kills_the_process() {
        let vm = GuestVm::spawn(sh("echo started; exec sleep 30")).unwrap();
        let pid = vm.child.id();
        let err = vm.wait(Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, GuestError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("started"), "{err}");
        // Reaped: no such process any more.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn cancelling_kills_the_process() {
        let vm = GuestVm::spawn(sh("echo started; exec sleep 30")).unwrap();
        let pid = vm.child.id();
        let mut polls = 0;
        let err = vm
            .wait_until(Duration::from_secs(30), |vm| {
                polls += 1;
                if vm.console().contains("started") {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
        assert!(matches!(err, GuestError::Cancelled), "{err}");
        assert!(polls >= 1);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn typing_and_waiting_for_text() {
        let mut vm = GuestVm::spawn(sh("read line; echo \"got $line\"")).unwrap();
        vm.send("hello\n").unwrap();
        vm.wait_for("got hello", Duration::from_secs(10)).unwrap();
        let run = vm.wait(Duration::from_secs(10)).unwrap();
        assert!(run.console.contains("got hello"));
    }

    #[test]
    fn early_exit_while_waiting_is_reported() {
        let mut vm = GuestVm::spawn(sh("echo bye; exit 3")).unwrap();
        let err = vm.wait_for("never", Duration::from_secs(10)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("exit status: 3") && msg.contains("bye"),
            "{msg}"
        );
    }

    #[test]
    fn drop_kills() {
        let vm = GuestVm::spawn(sh("exec sleep 30")).unwrap();
        let pid = vm.child.id();
        drop(vm);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn missing_program_names_it() {
        let err = GuestVm::spawn(Command::new("/nonexistent/qemu-system-x86_64"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/qemu-system-x86_64"));
    }
}
