//! Profiles holding NUL bytes and terminal escapes, run through the CLI:
//! a NUL in an argument is refused naming the field (exit 2), and what a
//! person reads never carries a raw ESC or BEL, only its escaped form.

use assert_cmd::Command;
use qpmem::core::profile::{Backend, Profile};
use qpmem::core::profile_ron::to_ron;
use std::path::{Path, PathBuf};

/// OSC 52 (set the clipboard) as a hostile profile would carry it.
const OSC52: &str = "\u{1b}]52;c;aGk=\u{7}";
const OSC52_ESCAPED: &str = "\\x1b]52;c;aGk=\\x07";

fn qpmem(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qpmem"));
    c.env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("QPMEM_QEMU");
    c
}

fn write_profile(dir: &Path, p: &Profile) -> PathBuf {
    let path = dir.join("hostile.ron");
    std::fs::write(&path, to_ron(p).unwrap()).unwrap();
    path
}

fn seed(dir: &Path) -> Profile {
    Profile::seed(&dir.join("data"))
}

fn refused(dir: &Path, p: &Profile, field: &str) -> String {
    let path = write_profile(dir, p);
    let o = qpmem(dir).arg("check").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("qpmem: error: "), "{err}");
    assert!(err.contains(field), "{field} not named: {err}");
    assert!(!o.stderr.contains(&0), "raw NUL echoed: {err:?}");
    err
}

#[test]
fn a_nul_in_a_path_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = seed(dir.path());
    p.devices[1].backend = Backend::File(PathBuf::from("/vms/nv\u{0}2"));
    let err = refused(
        dir.path(),
        &p,
        "devices[1].backend: path contains a NUL byte",
    );
    assert!(err.contains("/vms/nv\\x002"), "{err}");
}

#[test]
fn a_nul_in_an_extra_arg_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = seed(dir.path());
    p.extra_args = vec!["-nographic".into(), "-serial\u{0}stdio".into()];
    refused(
        dir.path(),
        &p,
        "extra_args[1]: argument contains a NUL byte",
    );
    // And render, which would otherwise write the NUL into the script.
    let path = write_profile(dir.path(), &p);
    let o = qpmem(dir.path())
        .args(["render", "--format", "script"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stdout.contains(&0));
}

#[test]
fn nuls_elsewhere_are_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = seed(dir.path());
    p.machine_options = vec!["accel=kvm\u{0}".into()];
    refused(dir.path(), &p, "machine_options[0]");
    let mut p = seed(dir.path());
    p.append = Some("console=ttyS0\u{0}".into());
    refused(dir.path(), &p, "append");
    let mut p = seed(dir.path());
    p.devices[0].id = "nv\u{0}1".into();
    refused(dir.path(), &p, "devices[0].id");
}

#[test]
fn a_nul_in_a_pasted_command_line_is_refused() {
    let (_, _) = qpmem::core::cmdline::import("qemu-system-x86_64 -m 1G").unwrap();
    let e = qpmem::core::cmdline::import(
        "qemu-system-x86_64 -m 1G,slots=1,maxmem=2G -append 'a\u{0}b'",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("append: value contains a NUL byte"),
        "{e}"
    );
}

/// Every human-readable output of a profile named with an escape.
fn human_outputs(dir: &Path, path: &Path) -> Vec<(String, std::process::Output)> {
    let runs: [&[&str]; 5] = [
        &["check"],
        &["map"],
        &["render", "--format", "guest"],
        &["render", "--format", "script"],
        &["probe"],
    ];
    runs.iter()
        .map(|args| {
            let o = qpmem(dir).args(*args).arg(path).output().unwrap();
            (args.join(" "), o)
        })
        .collect()
}

fn assert_no_raw_escapes(what: &str, o: &std::process::Output) {
    for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&0x07),
            "{what}: raw ESC/BEL on {stream}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn escapes_in_paths_and_ids_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    for (field, edit) in [("devices[0].backend", 0), ("devices[1].id", 1)] {
        let mut p = seed(dir.path());
        match edit {
            0 => p.devices[0].backend = Backend::File(PathBuf::from(format!("/vms/{OSC52}"))),
            _ => p.devices[1].id = format!("nv{OSC52}"),
        }
        let path = write_profile(dir.path(), &p);
        for (what, o) in human_outputs(dir.path(), &path) {
            assert_no_raw_escapes(&what, &o);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{what}: {err}");
            assert!(
                err.contains(field) && err.contains(OSC52_ESCAPED),
                "{what}: {err}"
            );
        }
    }
}

#[test]
fn an_escape_in_the_name_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = seed(dir.path());
    p.name = format!("evil{OSC52}");
    p.description = "title \u{1b}]0;pwned\u{7}".to_string();
    let path = write_profile(dir.path(), &p);
    for (what, o) in human_outputs(dir.path(), &path) {
        assert_no_raw_escapes(&what, &o);
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if text.contains("evil") {
            assert!(text.contains(OSC52_ESCAPED), "{what}: {text}");
        }
    }
}

#[test]
fn an_error_that_echoes_a_bad_value_escapes_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = to_ron(&seed(dir.path())).unwrap();
    assert!(text.contains("\"17G\""), "{text}");
    let path = dir.path().join("bad-size.ron");
    std::fs::write(
        &path,
        text.replacen("\"17G\"", &format!("\"17{OSC52}G\""), 1),
    )
    .unwrap();
    for (what, o) in human_outputs(dir.path(), &path) {
        assert_no_raw_escapes(&what, &o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    }
}

#[test]
fn profiles_list_escapes_an_unreadable_profile_s_error() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("config/qpmem/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    // An unparsable size: the parse error quotes it.
    let text = to_ron(&seed(dir.path())).unwrap();
    let text = text.replacen("\"17G\"", &format!("\"17{OSC52}G\""), 1);
    std::fs::write(profiles.join("bad.ron"), text).unwrap();
    let o = qpmem(dir.path())
        .args(["profiles", "list"])
        .output()
        .unwrap();
    assert_no_raw_escapes("profiles list", &o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("bad") && text.contains(OSC52_ESCAPED),
        "{text}"
    );
}
