//! `qpmem probe` against real QEMU: the JSON contract, the exit codes, and
//! the rule that probe never creates a backing file the profile names.
//! Skips without qemu-system-x86_64 unless QPMEM_REQUIRE_QEMU=1.

use assert_cmd::Command;
use std::path::Path;

fn have_qemu() -> bool {
    if which::which("qemu-system-x86_64").is_ok() {
        return true;
    }
    if std::env::var("QPMEM_REQUIRE_QEMU").is_ok_and(|v| v == "1") {
        panic!("QPMEM_REQUIRE_QEMU=1 but qemu-system-x86_64 is not on PATH");
    }
    eprintln!("SKIPPED: qemu-system-x86_64 is not on PATH (set QPMEM_REQUIRE_QEMU=1 to fail)");
    false
}

/// Two 1 GiB labelled NVDIMMs on `dir/nv1`, `dir/nv2`, 512M of RAM.
fn cmdline(dir: &Path, extra: &str) -> String {
    let d = dir.display();
    format!(
        "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=4,maxmem=8G \
         -object memory-backend-file,id=mem1,share=on,mem-path={d}/nv1,size=1G,align=128M \
         -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
         -object memory-backend-file,id=mem2,share=on,mem-path={d}/nv2,size=1G,align=128M \
         -device nvdimm,memdev=mem2,id=nv2,label-size=2M {extra}"
    )
}

fn probe(line: &str, tmpdir: &Path) -> std::process::Output {
    Command::cargo_bin("qpmem")
        .unwrap()
        .args(["probe", "--json", "--cmdline", line])
        .env("TMPDIR", tmpdir)
        .output()
        .unwrap()
}

#[test]
fn json_contract_and_no_files_created() {
    if !have_qemu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("not-yet");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    // -nographic is set aside: probe owns the display.
    let out = probe(&cmdline(&data, "-nographic"), &scratch);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["matches"], true);
    let dimms = v["dimms"].as_array().unwrap();
    // 1G - 2M label, aligned down to 128M = 896 MiB, from 4 GiB on.
    let visible = 896u64 << 20;
    let want = [
        ("nv1", 0, 0x1_0000_0000u64),
        ("nv2", 1, 0x1_0000_0000 + visible),
    ];
    assert_eq!(dimms.len(), 2);
    for (d, (id, slot, addr)) in dimms.iter().zip(want) {
        assert_eq!(d["id"], id);
        assert_eq!(d["slot"], slot);
        assert_eq!(d["addr"], addr);
        assert_eq!(d["size"], visible);
    }
    // The profile's files were not created, and the scratch files are
    // gone: only the (empty) per-user parent directory is left.
    assert!(!data.exists());
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("qpmem-"));
    assert_eq!(std::fs::read_dir(&left[0]).unwrap().count(), 0);
}

#[test]
fn an_existing_file_is_used_as_it_is_and_qemu_refusal_exits_2() {
    if !have_qemu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Smaller than size=1G: QEMU refuses, and the file stays as it was.
    std::fs::write(tmp.path().join("nv1"), b"keep me").unwrap();
    let out = probe(&cmdline(tmp.path(), ""), tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("backing store size"), "{stderr}");
    assert_eq!(std::fs::read(tmp.path().join("nv1")).unwrap(), b"keep me");
    assert!(!tmp.path().join("nv2").exists());
}

#[test]
fn an_existing_empty_file_is_left_empty() {
    if !have_qemu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nv1 = tmp.path().join("nv1");
    std::fs::write(&nv1, b"").unwrap();
    let before = std::fs::metadata(&nv1).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = probe(&cmdline(tmp.path(), ""), tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // QEMU would have grown it to 1G: a scratch file stood in for it.
    let after = std::fs::metadata(&nv1).unwrap();
    assert_eq!(after.len(), 0);
    assert_eq!(after.modified().unwrap(), before);
    assert!(!tmp.path().join("nv2").exists());
}

#[test]
fn a_device_qpmem_does_not_model_is_a_difference() {
    if !have_qemu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // A pc-dimm hidden in the arguments a profile keeps verbatim.
    let (mut profile, _) = qpmem::core::cmdline::import(&cmdline(tmp.path(), "")).unwrap();
    profile.extra_args = [
        "-object",
        "memory-backend-ram,id=hidden,size=128M",
        "-device",
        "pc-dimm,memdev=hidden,id=dimmx",
    ]
    .map(String::from)
    .to_vec();
    let file = tmp.path().join("p.ron");
    qpmem::store::save_profile(&file, &profile).unwrap();
    let out = Command::cargo_bin("qpmem")
        .unwrap()
        .args(["probe", "--json"])
        .arg(&file)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["matches"], false);
    let extra = v["dimms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "dimmx")
        .expect("the unmodelled device is listed");
    assert_eq!(extra["predicted"], serde_json::Value::Null);
    assert_eq!(extra["matches"], false);
}

/// The run directories under `tmpdir`'s per-user parent.
fn run_dirs(tmpdir: &Path) -> Vec<std::path::PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    match std::fs::read_dir(tmpdir.join(format!("qpmem-{uid}"))) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn scratch_is_removed_on_signals_and_after_a_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    // A "QEMU" that never opens its QMP socket: probe waits on it.
    let fake = tmp.path().join("fake-qemu");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_qpmem"))
            .args(["probe", "--json", "--qemu"])
            .arg(&fake)
            .args(["--cmdline", &cmdline(&tmp.path().join("data"), "")])
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let has_scratch = |d: &Path| d.join("scratch-1").exists();
    // SIGKILL: nothing can clean up, the run directory stays...
    let mut killed = start();
    wait_for("the first run's scratch files", || {
        run_dirs(tmp.path()).iter().any(|d| has_scratch(d))
    });
    killed.kill().unwrap();
    killed.wait().unwrap();
    let stale = run_dirs(tmp.path());
    assert_eq!(stale.len(), 1, "{stale:?}");
    // ...until the next run, which removes it; TERM and HUP clean up.
    for sig in ["-TERM", "-HUP"] {
        let mut child = start();
        wait_for("the next run's scratch files", || {
            let dirs = run_dirs(tmp.path());
            dirs.len() == 1 && dirs[0] != stale[0] && has_scratch(&dirs[0])
        });
        let pid = child.id().to_string();
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(2), "{sig}: exits, not killed");
        assert!(run_dirs(tmp.path()).is_empty(), "{sig}: scratch left");
    }
    assert!(!tmp.path().join("data").exists());
}

#[test]
fn run_directory_is_private_under_umask_000() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("fake-qemu");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" probe --qemu "$1" --cmdline "$2""#)
        .arg(env!("CARGO_BIN_EXE_qpmem"))
        .arg(&fake)
        .arg(cmdline(&tmp.path().join("data"), ""))
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the run's scratch files", || {
        run_dirs(tmp.path())
            .iter()
            .any(|d| d.join("scratch-1").exists())
    });
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
    let dirs = run_dirs(tmp.path());
    let parent = dirs[0].parent().unwrap().to_path_buf();
    let (pm, dm) = (mode(&parent), mode(&dirs[0]));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(pm, 0o700, "per-user parent {}", parent.display());
    assert_eq!(dm, 0o700, "run directory {}", dirs[0].display());
}
