//! `probe --libvirt` and `launch --libvirt` against the real libvirtd
//! (tests/common/libvirt.rs starts it): QEMU's placement read through
//! `virsh qemu-monitor-command` against `qpmem map --json`, a busybox
//! guest's console in the launch view in tmux, quitting with destroy,
//! and a remote URI that touches no local file. Skips without libvirt
//! (or tmux, or the guest kernel) unless QPMEM_REQUIRE_QEMU=1.
//!
//! libvirt's QEMU runs as its own user (Debian: libvirt-qemu, qemu.conf's
//! default `user`): the backing files live in a temporary directory the
//! test opens to it (0755), which qpmem itself never does.

mod common;

use common::libvirt::{libvirtd_or_skip, one_domain_at_a_time, URI};
use qpmem::core::profile::{Dimm, Profile};
use qpmem::core::profile_ron::to_ron;
use qpmem::core::size::Size;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn qpmem() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qpmem"))
}

/// A temporary directory libvirt's QEMU user can traverse.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn virsh(args: &[&str]) -> std::process::Output {
    Command::new("virsh")
        .args(["-c", URI])
        .args(args)
        .output()
        .unwrap()
}

/// Every domain libvirt knows, running or not.
fn domains() -> Vec<String> {
    let out = virsh(&["list", "--all", "--name"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Destroys the domain of this name when dropped, whatever the test did.
struct DomainGuard(String);

impl Drop for DomainGuard {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.0]);
    }
}

/// `(id, addr, size)` of every DIMM in `qpmem map --json`.
fn predicted(data: &Path, source: &str) -> Vec<(String, u64, u64)> {
    let out = qpmem()
        .env("XDG_DATA_HOME", data)
        .args(["map", source, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["dimms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["addr"].as_u64().unwrap(),
                d["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn probe_through_libvirt_places_small_where_map_predicts() {
    let test = "probe_through_libvirt_places_small_where_map_predicts";
    if libvirtd_or_skip(test).is_none() {
        return;
    }
    let _one = one_domain_at_a_time();
    let data = open_dir();
    // The built-in example's one NVDIMM: 1 GiB + the 2 MiB label.
    let qp = data.path().join("qpmem");
    std::fs::create_dir(&qp).unwrap();
    std::fs::set_permissions(&qp, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = qp.join("small-1");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(1026 << 20)
        .unwrap();
    let before = domains();

    let out = qpmem()
        .env("XDG_DATA_HOME", data.path())
        .args(["probe", "--libvirt", "--connect", URI, "small", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // QEMU's own values (top level of each row), device by device.
    let qemu: Vec<(String, u64, u64)> = v["dimms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["addr"].as_u64().unwrap_or(0),
                d["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(qemu, predicted(data.path(), "small"), "{stderr}");
    assert_eq!(v["matches"], true);
    assert_eq!(v["dimms"][0]["kind"], "nvdimm");
    // The domain was destroyed; the file was used, not replaced.
    assert_eq!(domains(), before);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1026 << 20);

    // The text form says the same.
    let out = qpmem()
        .env("XDG_DATA_HOME", data.path())
        .args(["probe", "--libvirt", "small"])
        .env("LIBVIRT_DEFAULT_URI", URI)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("QEMU placed every device where qpmem predicted."),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with("nv1 ")).unwrap();
    assert!(
        row.contains("0x000100000000") && row.ends_with("match"),
        "{row}"
    );
    assert_eq!(domains(), before);
}

#[test]
fn probe_through_libvirt_refuses_a_missing_backing_file_and_creates_nothing() {
    let test = "probe_through_libvirt_refuses_a_missing_backing_file_and_creates_nothing";
    if libvirtd_or_skip(test).is_none() {
        return;
    }
    let _one = one_domain_at_a_time();
    let data = open_dir();
    let before = domains();
    let out = qpmem()
        .env("XDG_DATA_HOME", data.path())
        .args(["probe", "--libvirt", "small"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = data.path().join("qpmem/small-1");
    assert!(
        stderr.contains(&format!(
            "nv1: backing file {} is missing or empty",
            file.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    assert_eq!(domains(), before);
}

#[test]
fn a_remote_uri_is_a_clear_error_and_no_local_file_is_made() {
    // Needs only virsh: the connection fails before any daemon is asked.
    if which::which("virsh").is_err() {
        if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
            panic!("virsh is required (QPMEM_REQUIRE_QEMU=1)");
        }
        eprintln!("SKIPPED: virsh is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let uri = "qemu+ssh://nonexistent.invalid/system";
    let out = qpmem()
        .env("XDG_DATA_HOME", data.path())
        .args(["probe", "--libvirt", "--connect", uri, "small"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("note: cannot check remote files on nonexistent.invalid"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "qpmem: error: cannot connect to libvirt at {uri}: "
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nonexistent.invalid"), "{stderr}");
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}

#[test]
fn a_domain_of_the_same_name_stops_the_launch_before_anything_is_made() {
    let test = "a_domain_of_the_same_name_stops_the_launch_before_anything_is_made";
    if libvirtd_or_skip(test).is_none() {
        return;
    }
    let _one = one_domain_at_a_time();
    let dir = open_dir();
    let name = format!("qpmem-test-taken-{}", std::process::id());
    // A defined (not running) domain holds the name too.
    let xml = dir.path().join("taken.xml");
    std::fs::write(
        &xml,
        format!("<domain type='qemu'><name>{name}</name><memory unit='KiB'>131072</memory><os><type arch='x86_64'>hvm</type></os></domain>"),
    )
    .unwrap();
    let out = virsh(&["define", xml.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    struct Undefine(String);
    impl Drop for Undefine {
        fn drop(&mut self) {
            let _ = virsh(&["undefine", &self.0]);
        }
    }
    let _undefine = Undefine(name.clone());

    let mut p = Profile::empty(&name);
    p.devices
        .push(Dimm::nvdimm(1, dir.path().join("nv1"), Size::gib(1)));
    let profile = dir.path().join("p.ron");
    std::fs::write(&profile, to_ron(&p).unwrap()).unwrap();
    let out = qpmem()
        .args(["launch", "--libvirt", "--yes"])
        .arg(&profile)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "qpmem: error: a libvirt domain named '{name}' already exists on {URI}"
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("nv1").exists(), "no backing file made");
}

/// A tmux server of its own running `sh` in a 160x50 pane.
struct Tmux {
    socket: PathBuf,
    _home: tempfile::TempDir,
}

impl Tmux {
    fn start(home: tempfile::TempDir) -> Tmux {
        let t = Tmux {
            socket: home.path().join("tmux.sock"),
            _home: home,
        };
        let out = t
            .cmd()
            .env("TERM", "xterm-256color")
            .env("PS1", "$ ")
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "qp"])
            .args(["-x", "160", "-y", "50", "sh"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let out = self
            .cmd()
            .args(["send-keys", "-t", "qp"])
            .args(keys)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    fn type_line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "qp"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn tmux_or_skip() -> bool {
    if which::which("tmux").is_ok() {
        return true;
    }
    if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
        panic!("tmux is required (QPMEM_REQUIRE_QEMU=1) but not found");
    }
    eprintln!("SKIPPED: tmux not found");
    false
}

#[test]
fn a_real_guest_through_launch_libvirt_then_destroyed() {
    let test = "a_real_guest_through_launch_libvirt_then_destroyed";
    if libvirtd_or_skip(test).is_none() || !tmux_or_skip() {
        return;
    }
    let Some(g) = common::vm::guest(test) else {
        return;
    };
    let _one = one_domain_at_a_time();
    let _q = common::guest::one_qemu_at_a_time();
    let dir = open_dir();
    let name = format!("qpmem-test-launch-{}", std::process::id());
    let mut p = Profile::empty(&name);
    p.ram = Size::mib(512);
    p.cpus = 1;
    p.devices
        .push(Dimm::nvdimm(1, dir.path().join("nv1"), Size::gib(1)));
    common::vm::boot_into_shell(&mut p, &g, dir.path());
    let profile = dir.path().join("guest.ron");
    std::fs::write(&profile, to_ron(&p).unwrap()).unwrap();
    let _guard = DomainGuard(name.clone());

    let t = Tmux::start(tempfile::tempdir().unwrap());
    t.wait("the shell", Duration::from_secs(15), |s| {
        !s.trim().is_empty()
    });
    t.type_line(&format!(
        "{} launch --libvirt --connect {URI} --yes {}; echo status=$?",
        env!("CARGO_BIN_EXE_qpmem"),
        profile.display()
    ));
    // qpmem created the backing file, libvirt's QEMU placed it as
    // predicted, and the guest's shell is on the pane.
    t.wait("QEMU's placement", Duration::from_secs(600), |s| {
        s.contains("QEMU placed every device where qpmem predicted")
    });
    assert!(domains().contains(&name), "{:?}", domains());
    t.wait("the guest's shell", Duration::from_secs(240), |s| {
        s.contains("QPMEM-SHELL")
    });
    let token = format!("hello-{}", std::process::id() * 7 + 13);
    t.type_line(&format!("echo {token}"));
    let s = t.wait("the guest's echo", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.trim_matches(['│', ' ']) == token)
    });
    assert!(s.contains(&format!("domain {name}")), "{s}");

    t.keys(&["C-]"]);
    t.keys(&["q"]);
    t.wait("the quit question", Duration::from_secs(15), |s| {
        s.contains("l leave it running")
    });
    t.keys(&["d"]);
    let s = t.wait("qpmem's exit", Duration::from_secs(30), |s| {
        s.lines().any(|l| l.starts_with("status="))
    });
    assert!(s.contains("status=0"), "{s}");
    assert!(!domains().contains(&name), "{:?}", domains());
}
