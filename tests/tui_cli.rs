//! `qpmem` and `qpmem edit` outside a terminal, and with bad input: a
//! clear message and exit code 2, never a panic.

use assert_cmd::Command;

fn qpmem(home: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"));
    c
}

#[test]
fn without_a_terminal_it_says_so() {
    let home = tempfile::tempdir().unwrap();
    let out = qpmem(home.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("qpmem map"), "{err}");
}

#[test]
fn edit_refuses_a_missing_profile_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let out = qpmem(home.path())
        .args(["edit", "/nonexistent/p.ron"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/p.ron"), "{err}");
}

#[test]
fn edit_refuses_a_bad_command_line() {
    let home = tempfile::tempdir().unwrap();
    let out = qpmem(home.path())
        .args([
            "edit",
            "--cmdline",
            "qemu-system-x86_64 -object 'unterminated",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}
