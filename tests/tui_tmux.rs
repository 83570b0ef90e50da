//! The TUI in a real terminal: tmux runs the built `qpmem` in a 160x50
//! pane; the test types keys and reads the screen as a person would.
//! Skips when tmux is missing unless QPMEM_REQUIRE_QEMU=1.

mod common;

use qpmem::core::profile::{Dimm, Profile};
use qpmem::core::profile_ron::to_ron;
use qpmem::core::size::Size;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn tmux_present() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
            panic!("tmux is required (QPMEM_REQUIRE_QEMU=1) but not found");
        }
        eprintln!("skipping: tmux not found (install tmux, or set QPMEM_REQUIRE_QEMU=1 to fail)");
    }
    ok
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: PathBuf,
    home: tempfile::TempDir,
}

impl Tmux {
    fn start(width: u16, height: u16) -> Tmux {
        let home = tempfile::tempdir().unwrap();
        let socket = home.path().join("tmux.sock");
        let t = Tmux { socket, home };
        let h = t.home.path();
        let out = t
            .cmd()
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("PS1", "$ ")
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "qp"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["sh"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "qp"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "qp", "-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "qp"]).stdout).into_owned()
    }

    /// Wait until the screen satisfies `ok`; panic with the screen if not.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn a_session_in_a_real_terminal() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(env!("CARGO_BIN_EXE_qpmem"));

    // The default profile: both DIMMs, the map and the command line.
    let data = t.home().join("data/qpmem/nvdimm-1").display().to_string();
    t.wait("the editor: both DIMMs, the map, the command line", |s| {
        s.contains("nv1")
            && s.contains("nv2")
            && s.contains("-device nvdimm,memdev=mem2,id=nv2")
            && s.contains("qemu-system-x86_64 \\")
            && s.contains("Address map")
            && s.contains(&data)
    });

    // Add a DIMM.
    t.keys(&["a", "1"]);
    // The list, the title's unsaved mark and the command line all follow
    // (waited for together: a capture may catch a frame half drawn).
    t.wait("nv3 in the list and the command line", |s| {
        s.contains("nv3") && s.contains("[+]") && s.contains("id=nv3")
    });

    // Help lists the keys; Esc closes it.
    t.keys(&["?"]);
    t.wait("help", |s| {
        s.contains("Help") && s.contains("quit at once, always")
    });
    t.keys(&["Escape"]);
    t.wait("help closed", |s| !s.contains("quit at once, always"));

    // Too small, then back.
    t.run(&["resize-window", "-t", "qp", "-x", "60", "-y", "20"]);
    t.wait("the too-small notice", |s| s.contains("terminal too small"));
    t.run(&["resize-window", "-t", "qp", "-x", "160", "-y", "50"]);
    t.wait("the editor again", |s| {
        s.contains("nv3") && !s.contains("terminal too small")
    });

    // Quit: unsaved changes, so it asks.
    t.keys(&["q"]);
    t.wait("the quit question", |s| s.contains("Quit without saving"));
    t.keys(&["y"]);
    t.wait("the shell back", |s| !s.contains("Address map"));

    // The terminal is back in cooked mode with echo.
    t.type_line("stty -a");
    let s = t.wait("stty output", |s| s.contains("icanon"));
    let words: Vec<&str> = s.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{s}");
    assert!(words.contains(&"echo"), "{s}");
    assert!(
        !words.contains(&"-icanon") && !words.contains(&"-echo"),
        "{s}"
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(100, 30);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!(
        "{}; echo status=$?; stty -a | grep -o -- '-*icanon'",
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("the editor", |s| s.contains("Address map"));
    // qpmem is the pane shell's child.
    let pane = t.run(&["display-message", "-p", "-t", "qp", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    let pid = children
        .split_whitespace()
        .next()
        .expect("qpmem's pid")
        .to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let s = t.wait("stty output", |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    assert!(s.contains("status=143"), "exit 128+SIGTERM: {s}");
    assert!(s.lines().any(|l| l.trim() == "icanon"), "{s}");
    assert!(!s.contains("Address map"), "left the alternate screen: {s}");
}

#[test]
fn save_then_reopen_the_last_used_profile() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(env!("CARGO_BIN_EXE_qpmem"));
    t.wait("the editor", |s| s.contains("Address map"));
    t.keys(&["a", "1"]);
    t.wait("nv3", |s| s.contains("[+]"));
    t.keys(&["s"]);
    t.wait("the save prompt", |s| s.contains("Save as"));
    // Replace the suggested name ("default") with "mine".
    for _ in 0.."default".len() {
        t.keys(&["BSpace"]);
    }
    t.run(&["send-keys", "-t", "qp", "-l", "mine"]);
    t.keys(&["Enter"]);
    let saved = t.home().join("config/qpmem/profiles/mine.ron");
    t.wait("saved", |s| s.contains("saved") && !s.contains("[+]"));
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains("name: \"mine\"") && text.contains("\"nv3\""),
        "{text}"
    );
    // A profile saved from the built-in default has files of its own.
    for n in 1..=3 {
        assert!(
            text.contains(&format!("File(\"${{data}}/mine/nvdimm-{n}\")")),
            "{text}"
        );
    }
    // No unsaved changes: q quits at once.
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
    // Bare qpmem reopens it.
    t.type_line(env!("CARGO_BIN_EXE_qpmem"));
    let s = t.wait("the editor", |s| s.contains("Address map"));
    assert!(s.contains("qpmem mine"), "{s}");
    assert!(s.contains(&saved.display().to_string()), "{s}");
    assert!(s.contains("nv3"), "{s}");
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

fn qemu_present() -> bool {
    let ok = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
            panic!("qemu-system-x86_64 is required (QPMEM_REQUIRE_QEMU=1) but not found");
        }
        eprintln!("skipping: qemu-system-x86_64 not found");
    }
    ok
}

/// QEMU processes whose command line mentions `needle`.
fn qemu_processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("qemu-system") && cmd.contains(needle) {
                out.push(cmd);
            }
        }
    }
    out
}

#[test]
fn launch_from_the_editor_and_come_back() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!("{} edit small", env!("CARGO_BIN_EXE_qpmem")));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    let file = t.home().join("data/qpmem/small-1");
    assert!(!file.exists());
    t.keys(&["l"]);
    // The backing file is missing: it asks before creating it.
    t.wait("the launch question, naming the file", |s| {
        s.contains("Launch, and first") && s.contains("small-1")
    });
    t.keys(&["y"]);
    t.wait("the console view", |s| s.contains("guest console: small"));
    // QMP's answer arrives once QEMU is up.
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        1026 << 20,
        "created at exactly its size"
    );
    let data = t.home().join("data").display().to_string();
    assert_eq!(qemu_processes_with(&data).len(), 1, "QEMU runs");
    // Take the keyboard back, quit the VM (it asks), and the editor returns.
    t.keys(&["C-]"]);
    t.keys(&["q"]);
    t.keys(&["y"]);
    // The editor again, and what QEMU placed stays on its map.
    let s = t.wait("the editor again", |s| {
        s.contains("Address map")
            && s.contains("QEMU exited")
            && s.contains("QEMU placed every DIMM as predicted")
    });
    assert!(!s.contains("guest console"), "{s}");
    let start = Instant::now();
    while !qemu_processes_with(&data).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "QEMU left behind"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

/// Issue 20's check, as a person does it: a real guest booted from the
/// editor, an NVDIMM hotplugged from the launch view where qpmem
/// predicted (QMP's report), the guest's own /proc/iomem typed into the
/// console pane showing the new range, and the DIMM kept in the profile.
#[test]
fn hotplug_into_a_real_guest_from_the_launch_view() {
    if !tmux_present() {
        return;
    }
    let Some(g) = common::vm::guest("hotplug_into_a_real_guest_from_the_launch_view") else {
        return;
    };
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    // 512M of RAM, nv1 (1026M, label 2M, align 128M) and a spare slot.
    let data = t.home().join("data/qpmem/hot");
    let mut p = Profile::empty("hot");
    p.ram = Size::mib(512);
    p.cpus = 1;
    p.spare_slots = 1;
    let mut nv1 = Dimm::nvdimm(1, data.join("nvdimm-1"), Size::mib(1026));
    nv1.label_size = Size::mib(2);
    p.devices.push(nv1);
    common::vm::boot_into_shell(&mut p, &g, t.home());
    let file = t.home().join("hot.ron");
    std::fs::write(&file, to_ron(&p).unwrap()).unwrap();
    t.type_line(&format!(
        "{} edit {}",
        env!("CARGO_BIN_EXE_qpmem"),
        file.display()
    ));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    t.keys(&["l"]);
    t.wait("the launch question", |s| s.contains("Launch, and first"));
    t.keys(&["y"]);
    let boot = Instant::now();
    while !t.screen().contains("QPMEM-SHELL") {
        assert!(
            boot.elapsed() < Duration::from_secs(240),
            "no guest shell:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    t.keys(&["C-]"]);
    t.keys(&["+"]);
    let s = t.wait("the hotplug panel", |s| s.contains("Hotplug nv2"));
    // nv1 shows 1 GiB from 4 GiB; nv2 goes right after it, in slot 1.
    assert!(s.contains("0x140000000-0x17fffffff, slot 1"), "{s}");
    let new_file = data.join("nvdimm-2");
    assert!(s.contains(&new_file.display().to_string()), "{s}");
    assert!(!new_file.exists());
    t.keys(&["Enter"]);
    t.wait("the file question", |s| {
        s.contains("Create the backing file and plug it? y / n")
    });
    t.keys(&["y"]);
    t.wait("plugged where predicted (QMP's report)", |s| {
        s.contains("nv2 plugged at 0x140000000, slot 1, as predicted")
    });
    assert_eq!(std::fs::metadata(&new_file).unwrap().len(), 1026 << 20);
    // The guest's kernel sees the new range (after the ACPI notification).
    t.keys(&["Enter"]);
    let seen = Instant::now();
    loop {
        t.type_line("grep 'Persistent Memory' /proc/iomem");
        std::thread::sleep(Duration::from_secs(1));
        if t.screen()
            .contains("140000000-17fffffff : Persistent Memory")
        {
            break;
        }
        assert!(
            seen.elapsed() < Duration::from_secs(60),
            "the guest never showed nv2:\n{}",
            t.screen()
        );
    }
    // Leave; the editor has nv2 as a cold-plugged device.
    t.keys(&["C-]"]);
    t.keys(&["q"]);
    t.keys(&["y"]);
    let s = t.wait("the editor again", |s| {
        s.contains("Address map") && s.contains("hotplugged nv2: now in the profile")
    });
    assert!(s.contains("[+]"), "{s}");
    t.keys(&["u"]);
    t.wait("undone", |s| s.contains("undone") && !s.contains("[+]"));
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

/// With `$QPMEM_QEMU` set, the TUI judges against, shows and launches that
/// QEMU: a wrapper that logs its calls and claims version 7.2.77.
#[test]
fn the_editor_detects_and_launches_qpmem_qemu() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    let real = which::which("qemu-system-x86_64").unwrap();
    let (wrapper, log) = common::qemu_wrapper(t.home(), &real, "7.2.77");
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!(
        "QPMEM_QEMU='{}' {} edit small",
        wrapper.display(),
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("the editor showing the wrapper's version", |s| {
        s.contains("Address map") && s.contains("7.2.77")
    });
    t.keys(&["l"]);
    t.wait("the launch question", |s| s.contains("Launch, and first"));
    t.keys(&["y"]);
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.lines().any(|l| l.contains("-qmp")),
        "the launch did not run the wrapper: {calls}"
    );
    t.keys(&["C-]"]);
    t.keys(&["q"]);
    t.keys(&["y"]);
    t.wait("the editor again", |s| s.contains("QEMU exited"));
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

#[test]
fn sigterm_powers_the_guest_off_and_cleans_up() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    let run = t.home().join("run");
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(&run)
        .unwrap();
    t.type_line(&format!(
        "XDG_RUNTIME_DIR={} {} edit small; echo status=$?",
        run.display(),
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("the editor", |s| s.contains("Address map"));
    t.keys(&["l"]);
    t.wait("the launch question", |s| s.contains("Launch, and first"));
    t.keys(&["y"]);
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    let data = t.home().join("data").display().to_string();
    assert_eq!(qemu_processes_with(&data).len(), 1, "QEMU runs");
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 1, "runtime dir");
    let pane = t.run(&["display-message", "-p", "-t", "qp", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    let pid = children.split_whitespace().next().expect("qpmem's pid");
    assert!(Command::new("kill")
        .args(["-TERM", pid])
        .status()
        .unwrap()
        .success());
    // Not killed at once: the guest is asked to power off, and says so.
    t.wait("the powering-off status", |s| {
        s.contains("SIGTERM: powering the guest off")
    });
    assert_eq!(qemu_processes_with(&data).len(), 1, "QEMU still runs");
    // The firmware-only guest ignores ACPI: after the grace QMP quit.
    let s = t.wait("qpmem's exit", |s| {
        s.lines().any(|l| l.starts_with("status="))
    });
    assert!(s.contains("status=143"), "exit 128+SIGTERM: {s}");
    assert!(qemu_processes_with(&data).is_empty(), "QEMU left behind");
    let left: Vec<_> = std::fs::read_dir(&run).unwrap().collect();
    assert!(left.is_empty(), "runtime dir left: {left:?}");
}

/// The pid of the command the pane's shell is running (qpmem).
fn pane_child(t: &Tmux) -> String {
    let pane = t.run(&["display-message", "-p", "-t", "qp", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    children
        .split_whitespace()
        .next()
        .expect("the shell runs qpmem")
        .to_string()
}

/// The launch view's status line (`running  up 00:00:01  pid 123 ...`).
fn status_line(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains("  up ") && l.contains("  pid "))
        .unwrap_or_else(|| panic!("no status line:\n{screen}"))
        .to_string()
}

#[test]
fn qpmem_launch_says_paused_once() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!(
        "{} launch small --yes; echo status=$?",
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    t.keys(&["C-]"]);
    t.keys(&["p"]);
    let s = t.wait("the paused badge", |s| {
        s.lines().any(|l| l.starts_with(" paused "))
    });
    let line = status_line(&s);
    assert_eq!(line.matches("paused").count(), 1, "said once: {line}");
    t.keys(&["p"]);
    let s = t.wait("the running badge", |s| {
        s.lines().any(|l| l.starts_with(" running "))
    });
    let line = status_line(&s);
    assert_eq!(line.matches("running").count(), 1, "said once: {line}");
    assert!(!line.contains("resumed"), "{line}");
    t.keys(&["q"]);
    t.keys(&["y"]);
    let s = t.wait("qpmem's exit", |s| {
        s.lines().any(|l| l.starts_with("status="))
    });
    assert!(s.contains("status=0"), "a force quit is not a failure: {s}");
    assert!(s.contains("qpmem: QEMU exited"), "{s}");
}

#[test]
fn qpmem_launch_on_sigterm_powers_the_guest_off_and_cleans_up() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    let run = t.home().join("run");
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(&run)
        .unwrap();
    t.type_line(&format!(
        "XDG_RUNTIME_DIR={} {} launch small --yes; echo status=$?",
        run.display(),
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    let data = t.home().join("data").display().to_string();
    assert_eq!(qemu_processes_with(&data).len(), 1, "QEMU runs");
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 1, "runtime dir");
    let pid = pane_child(&t);
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // Not killed at once: the guest is asked to power off, and says so.
    t.wait("the powering-off status", |s| {
        s.contains("SIGTERM: powering the guest off")
    });
    assert_eq!(qemu_processes_with(&data).len(), 1, "QEMU still runs");
    // The firmware-only guest ignores ACPI: after the grace QMP quit.
    let s = t.wait("qpmem's exit", |s| {
        s.lines().any(|l| l.starts_with("status="))
    });
    assert!(s.contains("status=143"), "exit 128+SIGTERM: {s}");
    assert!(qemu_processes_with(&data).is_empty(), "QEMU left behind");
    let left: Vec<_> = std::fs::read_dir(&run).unwrap().collect();
    assert!(left.is_empty(), "runtime dir left: {left:?}");
    // The terminal is back: the shell's prompt answers.
    t.type_line("echo after-$((6*7))");
    t.wait("the shell", |s| s.contains("after-42"));
}

/// The text of the dialog titled `title`, its lines joined into one, if
/// it is on the screen.
fn dialog_text(screen: &str, title: &str) -> Option<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let top = format!("┌ {title} ");
    let (y, left) = lines.iter().enumerate().find_map(|(y, l)| {
        let s: String = l.iter().collect();
        let x = s.find(&top)?;
        Some((y, s[..x].chars().count()))
    })?;
    let right = (left + 1..lines[y].len()).find(|&x| lines[y][x] == '┐')?;
    let mut words = Vec::new();
    for l in &lines[y + 1..] {
        if l.get(left) != Some(&'│') {
            break;
        }
        let inside: String = l[left + 1..right.min(l.len())].iter().collect();
        words.extend(inside.split_whitespace().map(String::from));
    }
    Some(words.join(" "))
}

#[test]
fn a_launch_from_the_editor_with_nothing_to_boot_says_so() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    const NOTE: &str = "no kernel and no disk: the guest firmware will find nothing to boot";
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!("{} edit small", env!("CARGO_BIN_EXE_qpmem")));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    t.keys(&["l"]);
    // The question names the file, then says what to expect.
    t.wait("the launch question with the note", |s| {
        dialog_text(s, "Confirm").is_some_and(|q| {
            q.starts_with("Launch, and first") && q.contains(&format!("Note: {NOTE}."))
        })
    });
    t.keys(&["y"]);
    // The console stays blank (the firmware boots nothing): the view says why.
    t.wait("the console view with the note", |s| {
        s.contains("guest console: small") && s.contains(&format!("note: {NOTE}"))
    });
    t.wait("QEMU's placement", |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    t.keys(&["C-]"]);
    t.keys(&["q"]);
    t.keys(&["y"]);
    t.wait("the editor again", |s| {
        s.contains("Address map") && s.contains("QEMU exited")
    });
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

#[test]
fn the_editor_finds_no_qemu_before_it_makes_a_file() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    let missing = t.home().join("no-qemu-here");
    t.type_line(&format!(
        "QPMEM_QEMU='{}' {} edit small",
        missing.display(),
        env!("CARGO_BIN_EXE_qpmem")
    ));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    t.keys(&["l"]);
    let s = t.wait("the refusal naming the QEMU", |s| {
        s.contains("not launching: QEMU") && s.contains("no-qemu-here: no such file")
    });
    assert!(!s.contains("Launch, and first"), "asked anyway: {s}");
    assert!(
        !t.home().join("data/qpmem").exists(),
        "a backing file was made for a QEMU that is not there"
    );
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

/// `$XDG_CONFIG_HOME/qpmem/keys.ron` rebinds keys in the real program, the
/// help shows them; a bad one is reported in the status line and on
/// stderr, and the default keys work.
#[test]
fn a_keys_file_rebinds_keys_and_a_bad_one_is_reported() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    let dir = t.home().join("config/qpmem");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.ron");
    std::fs::write(&file, "(normal: { add_dimm: [\"n\"] })\n").unwrap();
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(env!("CARGO_BIN_EXE_qpmem"));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv2")
    });
    t.keys(&["n", "1"]);
    t.wait("nv3, added by n", |s| {
        s.contains("nv3") && s.contains("[+]")
    });
    // a no longer adds (typed before n, so it is handled first).
    t.keys(&["a", "1"]);
    t.keys(&["n", "1"]);
    let s = t.wait("nv4, added by n", |s| s.contains("nv4"));
    assert!(!s.contains("nv5"), "a still adds a DIMM: {s}");
    t.keys(&["?"]);
    t.wait("help listing n for add", |s| {
        s.lines().any(|l| l.contains("  n           add a device"))
    });
    t.keys(&["Escape"]);
    t.wait("help closed", |s| !s.contains("add a device"));
    t.keys(&["q"]);
    t.wait("the quit question", |s| s.contains("Quit without saving"));
    t.keys(&["y"]);
    t.wait("the shell back", |s| !s.contains("Address map"));

    t.run(&["send-keys", "-t", "qp", "-l", "clear"]);
    t.keys(&["Enter"]);
    std::fs::write(&file, "(normal: { add_dimm: [\"Ctrl-\"] })\n").unwrap();
    t.type_line(env!("CARGO_BIN_EXE_qpmem"));
    let s = t.wait("the editor, the problem in the status line", |s| {
        s.contains("Address map") && s.contains("keys.ron")
    });
    let status = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(status.contains("keys.ron"), "{s}");
    // The default keys work.
    t.keys(&["a", "1"]);
    t.wait("nv3, added by a", |s| s.contains("nv3"));
    t.keys(&["q"]);
    t.wait("the quit question", |s| s.contains("Quit without saving"));
    t.keys(&["y"]);
    // After the editor, its stderr line is on the screen (after the
    // shell's prompt, as root's `# ` in CI).
    let s = t.wait("the shell back", |s| !s.contains("Address map"));
    let line = s
        .lines()
        .find(|l| l.contains("qpmem: keys "))
        .unwrap_or_else(|| panic!("no stderr line: {s}"));
    assert!(
        line.contains("keys.ron: normal.add_dimm: \"Ctrl-\" is not a key"),
        "{line}"
    );
}

/// The rows inside the pane whose top border starts `┌ TITLE `, as drawn
/// (trailing blanks dropped).
fn pane_rows(screen: &str, title: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let top = format!("┌ {title} ");
    let Some((y, left)) = lines.iter().enumerate().find_map(|(y, l)| {
        let s: String = l.iter().collect();
        let x = s.find(&top)?;
        Some((y, s[..x].chars().count()))
    }) else {
        return Vec::new();
    };
    let Some(right) = (left + 1..lines[y].len()).find(|&x| lines[y][x] == '┐') else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for l in &lines[y + 1..] {
        if l.get(left) != Some(&'│') {
            break;
        }
        let inside: String = l[left + 1..right.min(l.len())].iter().collect();
        rows.push(inside.trim_end().to_string());
    }
    rows
}

/// The words `sh` makes of a command line: `qemu-system-x86_64` is a
/// script (first on `PATH`) that prints its arguments one per line.
fn shell_words(command: &str) -> Vec<String> {
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("qemu-system-x86_64");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh refused:\n{command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Every row of the focused pane `title`, scrolling it down one row at a
/// time from the top until nothing new comes.
fn copy_pane(t: &Tmux, title: &str) -> Vec<String> {
    t.keys(&["g"]);
    std::thread::sleep(Duration::from_millis(200));
    let mut seen: Vec<String> = Vec::new();
    let mut last: Option<Vec<String>> = None;
    for _ in 0..300 {
        let rows = pane_rows(&t.screen(), title);
        if last.as_ref() == Some(&rows) {
            break;
        }
        match &last {
            None => seen = rows.clone(),
            Some(_) => seen.push(rows.last().cloned().unwrap_or_default()),
        }
        last = Some(rows);
        t.keys(&["j"]);
        std::thread::sleep(Duration::from_millis(150));
    }
    while seen.last().is_some_and(|r| r.is_empty()) {
        seen.pop();
    }
    seen
}

/// The words of a recipe's comments, each comment as it is in the source
/// (a whole line from `#`, or from ` # ` to its end).
fn comments(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| {
            let c = if l.trim_start().starts_with('#') {
                l.trim_start()
            } else {
                &l[l.find(" # ")? + 1..]
            };
            Some(
                c.trim_start_matches('#')
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
            )
        })
        .collect()
}

/// What the command-line pane draws at 80 columns, copied from the screen,
/// is the command `qpmem render` prints (the shell makes the same words of
/// both, a quoted path with a space included); the guest recipe copied
/// from the screen is valid shell, each comment still a comment.
#[test]
fn the_command_line_pane_copied_from_the_screen_is_the_command() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(80, 30);
    t.wait("the shell", |s| !s.trim().is_empty());
    let line = "qemu-system-x86_64 -machine pc,nvdimm=on -m 2G,slots=2,maxmem=20G \
        -object memory-backend-file,id=mem1,share=on,mem-path='/tmp/my vms/a longer directory/nvdimm-1',size=1G \
        -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
        -object memory-backend-file,id=mem2,share=on,mem-path=/tmp/no-space/directory/for/this/one/nvdimm-2,size=1G,align=2M \
        -device nvdimm,memdev=mem2,id=nv2";
    let file = t.home().join("line.txt");
    std::fs::write(&file, line).unwrap();
    let bin = env!("CARGO_BIN_EXE_qpmem");
    let render = |format: &str| {
        let out = Command::new(bin)
            .args(["render", "--format", format, "--cmdline", line])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let rendered = render("shell");
    let want = shell_words(&rendered);
    assert!(
        want.iter()
            .any(|w| w.contains("mem-path=/tmp/my vms/a longer directory/nvdimm-1")),
        "{want:?}"
    );
    t.type_line(&format!(
        "{bin} edit --cmdline \"$(cat '{}')\"",
        file.display()
    ));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv2")
    });
    // r twice: the command line again, with the pane focused.
    t.keys(&["r"]);
    t.wait("the recipe", |s| s.contains("guest recipe"));
    t.keys(&["r"]);
    t.wait("the command line", |s| s.contains("copies"));
    let rows = copy_pane(&t, "Command line");
    assert!(
        rows.len() > rendered.lines().count(),
        "nothing wrapped: {rows:#?}"
    );
    let copied = rows.join("\n");
    assert_eq!(
        shell_words(&copied),
        want,
        "copied from the screen:\n{copied}"
    );
    // The recipe, copied from the screen.
    t.keys(&["r"]);
    t.wait("the recipe", |s| s.contains("guest recipe"));
    let rows = copy_pane(&t, "Command line");
    let recipe = rows.join("\n");
    assert!(recipe.starts_with("#!/bin/sh"), "{recipe}");
    assert!(recipe.contains("mkfs"), "{recipe}");
    let check = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(&recipe)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sh -n: {}\n{recipe}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Each comment of the recipe is on rows that all start with `#`.
    let source = comments(&render("guest"));
    let is_comment = |r: &String| r.trim_start().starts_with('#');
    let shown: Vec<Vec<String>> = rows
        .iter()
        .map(|r| comments(r).pop().unwrap_or_default())
        .collect();
    let mut wrapped = 0;
    for want in &source {
        let found = (0..rows.len()).any(|i| {
            let mut got: Vec<String> = shown[i].clone();
            let mut n = 1;
            while got.len() < want.len() && i + n < rows.len() && is_comment(&rows[i + n]) {
                got.extend(shown[i + n].iter().cloned());
                n += 1;
            }
            if n > 1 && got.starts_with(want) {
                wrapped += 1;
            }
            got.starts_with(want)
        });
        assert!(found, "comment {want:?} not shown as comments:\n{recipe}");
    }
    assert!(wrapped > 0, "no comment needed wrapping:\n{recipe}");
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

/// `t` cycles the themes and remembers the choice in config.ron.
#[test]
fn p_saves_the_maps_picture() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    let qpmem = env!("CARGO_BIN_EXE_qpmem");
    t.type_line(&format!("{qpmem} edit small"));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    t.keys(&["p"]);
    t.wait("the picture prompt", |s| {
        s.contains("Save the map's picture") && s.contains("small-map.svg")
    });
    // Not a .svg name: refused in place.
    let picture = t.home().join("map.svg");
    t.keys(&["C-u"]);
    t.run(&[
        "send-keys",
        "-t",
        "qp",
        "-l",
        &format!("{}.png", picture.display()),
    ]);
    t.wait("the refusal", |s| s.contains("ending in .svg"));
    for _ in 0..".png".len() {
        t.keys(&["BSpace"]);
    }
    t.keys(&["Enter"]);
    t.wait("saved", |s| s.contains("saved the map's picture to"));
    let drawn = std::fs::read_to_string(&picture).unwrap();
    let out = Command::new(qpmem)
        .env("XDG_CONFIG_HOME", t.home().join("config"))
        .env("XDG_DATA_HOME", t.home().join("data"))
        .args(["map", "small", "--format", "svg"])
        .output()
        .unwrap();
    assert_eq!(drawn, String::from_utf8_lossy(&out.stdout));
    assert!(drawn.contains(r#"data-id="nv1""#), "{drawn}");
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

#[test]
fn t_cycles_the_theme_and_remembers_it() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!("{} edit small", env!("CARGO_BIN_EXE_qpmem")));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    let config = t.home().join("config/qpmem/config.ron");
    t.keys(&["t"]);
    t.wait("the theme remembered", |s| {
        s.contains("theme light (remembered in config.ron)")
    });
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(r#"theme: "light""#), "{text}");
    t.keys(&["t"]);
    t.wait("the next theme", |s| {
        s.contains("theme high-contrast (remembered")
    });
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(r#"theme: "high-contrast""#), "{text}");
    // What was there before is kept.
    assert!(text.contains("last_profile"), "{text}");
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

/// With every backing file there, `l` still asks once (a one-line
/// summary); `n` starts nothing.
#[test]
fn the_first_launch_asks_even_when_nothing_is_created() {
    if !tmux_present() || !qemu_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    let data = t.home().join("data/qpmem");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::File::create(data.join("small-1"))
        .unwrap()
        .set_len(1026 << 20)
        .unwrap();
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!("{} edit small", env!("CARGO_BIN_EXE_qpmem")));
    t.wait("the editor", |s| {
        s.contains("Address map") && s.contains("nv1")
    });
    t.keys(&["l"]);
    let s = t.wait("the launch question", |s| {
        dialog_text(s, "Confirm").is_some()
    });
    let q = dialog_text(&s, "Confirm").unwrap();
    assert!(
        q.starts_with("Launch small with qemu-system-x86_64:"),
        "{q}"
    );
    assert!(!q.contains("first"), "nothing to create, yet: {q}");
    t.keys(&["n"]);
    t.wait("the question gone", |s| dialog_text(s, "Confirm").is_none());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        qemu_processes_with(&t.home().display().to_string()).is_empty(),
        "QEMU started after n"
    );
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}

#[test]
fn the_editor_opens_a_libvirt_domain_xml() {
    if !tmux_present() {
        return;
    }
    let t = Tmux::start(160, 50);
    let xml = t.home().join("guest.xml");
    std::fs::write(
        &xml,
        "<?xml version='1.0'?>\n<domain type='qemu'>\n  <name>from-libvirt</name>\n  \
         <maxMemory slots='4' unit='GiB'>16</maxMemory>\n  <memory unit='GiB'>4</memory>\n  \
         <vcpu>2</vcpu>\n  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n  \
         <features><acpi/></features>\n  <cpu mode='host-model'/>\n  <devices>\n    \
         <memory model='nvdimm' access='shared'><source><path>/vms/lv-nv</path></source>\
         <target><size unit='GiB'>2</size><label><size unit='KiB'>2048</size></label></target>\
         <address type='dimm' slot='3'/></memory>\n    \
         <memory model='dimm'><target><size unit='MiB'>1024</size></target></memory>\n  \
         </devices>\n</domain>\n",
    )
    .unwrap();
    t.wait("the shell", |s| !s.trim().is_empty());
    t.type_line(&format!(
        "{} edit {}",
        env!("CARGO_BIN_EXE_qpmem"),
        xml.display()
    ));
    // Both devices as the domain has them, the map, and the domain's
    // `<cpu mode>` reported as not carried over.
    t.wait("the domain's devices and what was not carried", |s| {
        s.contains("nv1")
            && s.contains("dimm1")
            && s.contains("mem-path=/vms/lv-nv")
            && s.contains("slot=3")
            && s.contains("Address map")
            && s.contains("QP025")
    });
    t.keys(&["q"]);
    t.wait("the shell back", |s| !s.contains("Address map"));
}
