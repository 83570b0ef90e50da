//! `qpmem render -o` into files that are not regular files: a FIFO gets
//! the bytes (or, without a reader, a prompt error), a character device is
//! written to and stays a device, a directory or a socket is refused with
//! one line and nothing written, a symbolic link is written through.
//! Every file is made in a temp dir; every run has a timeout.

use assert_cmd::Command;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

fn qpmem(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("qpmem")
        .unwrap()
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .current_dir(dir)
        .timeout(Duration::from_secs(10))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// What `render` prints on stdout, to compare the files with.
fn rendered(dir: &Path) -> String {
    let (code, out, err) = qpmem(dir, &["render", "small"]);
    assert_eq!(code, 0, "{err}");
    out
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

#[test]
fn a_fifo_with_a_reader_gets_the_bytes_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out");
    mkfifo(&fifo);
    // The read end, open before qpmem runs (a non-blocking open does not
    // wait for a writer); the pipe holds the few hundred bytes.
    let mut reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .unwrap();
    let (code, out, err) = qpmem(dir.path(), &["render", "small", "-o", "out"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, rendered(dir.path()));
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_fifo_without_a_reader_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out");
    mkfifo(&fifo);
    let (code, _, err) = qpmem(dir.path(), &["render", "small", "-o", "out"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "qpmem: error: out is a FIFO with no reader; start the reader first\n"
    );
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_character_device_is_written_to_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/null's numbers, in the temp dir (we run as root).
    let null = dir.path().join("null");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &null,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let (code, _, err) = qpmem(dir.path(), &["render", "small", "-o", "null"]);
    assert_eq!(code, 0, "{err}");
    let t = fs::symlink_metadata(&null).unwrap().file_type();
    assert!(t.is_char_device(), "{t:?}");
    let (code, _, err) = qpmem(dir.path(), &["render", "--format", "script", "-o", "null"]);
    assert_eq!(code, 0, "{err}");
    assert!(fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn a_directory_or_a_socket_is_refused_with_one_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("d")).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    for (name, kind) in [("d", "a directory"), ("sock", "a socket")] {
        let (code, out, err) = qpmem(dir.path(), &["render", "small", "-o", name]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!("qpmem: error: {name} is {kind}, not a regular file\n")
        );
    }
    assert!(dir.path().join("d").is_dir());
    assert!(fs::symlink_metadata(dir.path().join("sock"))
        .unwrap()
        .file_type()
        .is_socket());
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["d", "sock"]);
    assert_eq!(fs::read_dir(dir.path().join("d")).unwrap().count(), 0);
}

#[test]
fn dash_is_stdout_and_a_link_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = qpmem(dir.path(), &["render", "small", "-o", "-"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, rendered(dir.path()));
    assert!(!dir.path().join("-").exists());
    fs::create_dir(dir.path().join("real")).unwrap();
    fs::write(dir.path().join("real/vm.sh"), "old").unwrap();
    std::os::unix::fs::symlink("real/vm.sh", dir.path().join("vm.sh")).unwrap();
    let (code, _, err) = qpmem(dir.path(), &["render", "small", "-o", "vm.sh"]);
    assert_eq!(code, 0, "{err}");
    let link = fs::symlink_metadata(dir.path().join("vm.sh")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_to_string(dir.path().join("real/vm.sh")).unwrap(),
        rendered(dir.path())
    );
}
