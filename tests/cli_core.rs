//! The core CLI (`render`, `map`, `import`) as a user runs it: real
//! process, real files, exit codes and messages.

use assert_cmd::Command;
use qpmem::core::size::{GIB, MIB};
use serde_json::Value;

fn qpmem() -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    // Keep the user's own settings and files out of the tests.
    let home = std::env::temp_dir().join("qpmem-cli-core-home");
    c.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    c
}

const SEED_NO_ALIGN: &str = "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G \\
  -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G \\
  -device nvdimm,memdev=mem1,id=nv1,label-size=2M \\
  -object memory-backend-file,id=mem2,share=on,mem-path=/vms/nv2,size=17G \\
  -device nvdimm,memdev=mem2,id=nv2,label-size=2M";

fn map_json(args: &[&str]) -> Value {
    let out = qpmem()
        .arg("map")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn map_json_of_the_seed_without_align_shows_the_misaligned_nv2() {
    let v = map_json(&["--cmdline", SEED_NO_ALIGN]);
    assert_eq!(v["device_memory"]["base"], 0x1_0000_0000u64);
    // QEMU: the region is (maxmem - RAM) + 1 GiB per slot; the devices may
    // use maxmem - RAM only.
    assert_eq!(v["device_memory"]["usable"], 40 * GIB - 512 * MIB);
    assert_eq!(v["device_memory"]["slot_padding"], 2 * GIB);
    assert_eq!(v["device_memory"]["size"], 42 * GIB - 512 * MIB);
    let dimms = v["dimms"].as_array().unwrap();
    assert_eq!(dimms.len(), 2);
    assert_eq!(dimms[0]["id"], "nv1");
    assert_eq!(dimms[0]["kind"], "nvdimm");
    assert_eq!(dimms[0]["slot"], 0);
    assert_eq!(dimms[0]["size"], 17 * GIB - 2 * MIB);
    assert_eq!(dimms[0]["label_size"], 2 * MIB);
    assert_eq!(dimms[0]["backend_size"], 17 * GIB);
    assert_eq!(dimms[0]["start_aligned"], true);
    assert_eq!(dimms[0]["end_aligned"], false);
    assert_eq!(dimms[1]["addr"], 0x5_3fe0_0000u64);
    assert_eq!(dimms[1]["start_aligned"], false);
}

#[test]
fn map_json_of_the_default_profile_is_aligned() {
    let v = map_json(&[]);
    let dimms = v["dimms"].as_array().unwrap();
    assert_eq!(dimms[1]["addr"], 0x5_3800_0000u64);
    assert!(dimms
        .iter()
        .all(|d| d["start_aligned"] == true && d["end_aligned"] == true));
}

#[test]
fn map_table_names_the_missed_boundary() {
    let out = qpmem()
        .args(["map", "--cmdline", SEED_NO_ALIGN])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let region = text
        .lines()
        .find(|l| l.trim_start().starts_with("device memory"))
        .unwrap();
    assert!(
        region.ends_with(
            "41.50 GiB: 39.50 GiB for devices (maxmem - RAM), 2 GiB padding (1 GiB per slot)"
        ),
        "{region}"
    );
    let nv2 = text.lines().find(|l| l.starts_with("nv2")).unwrap();
    assert!(nv2.contains("0x00053fe00000"), "{nv2}");
    assert!(nv2.contains("126 MiB past 0x538000000"), "{nv2}");
}

#[test]
fn render_argv_then_import_gives_the_same_argv() {
    let out = qpmem()
        .args(["render", "--format", "argv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let argv: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(argv[0], "qemu-system-x86_64");
    // Paste the shell form back in.
    let shell = qpmem().arg("render").output().unwrap().stdout;
    let shell = String::from_utf8(shell).unwrap();
    let again = qpmem()
        .args(["render", "--format", "argv", "--cmdline", &shell])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: Vec<String> = String::from_utf8(again.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // slots/maxmem were automatic, so the import fixes them: same values.
    assert_eq!(again, argv);
}

#[test]
fn import_prints_a_profile_that_loads_back() {
    let out = qpmem()
        .args(["import", "--cmdline", SEED_NO_ALIGN])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.ron");
    std::fs::write(&path, &out.stdout).unwrap();
    let v = map_json(&[path.to_str().unwrap()]);
    assert_eq!(v["dimms"][1]["addr"], 0x5_3fe0_0000u64);
}

/// Each bad input: exit 2, one line naming the option and the value.
#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let obj = |props: &str| {
        format!("-m 1G,slots=2,maxmem=40G -object memory-backend-file,id=m1,mem-path=/x,{props} -device nvdimm,id=nv1,memdev=m1")
    };
    let cases: Vec<(String, &str)> = vec![
        (obj("size=17X"), "size=17X"),
        (obj("size=17E"), "size=17E"),
        (obj("size=99999999999999999999"), "99999999999999999999"),
        (obj("size=-1G"), "size=-1G"),
        (obj("size=1.5"), "size=1.5"),
        ("-m 1G,slots=2,maxmem=40G -object memory-backend-file,id=9m,mem-path=/x,size=1G".into(), "'9m'"),
        ("-object memory-backend-file,id=m1,mem-path=/x,size=1G -object memory-backend-file,id=m1,mem-path=/y,size=1G".into(), "duplicate id 'm1'"),
        ("-object memory-backend-file,id=m1,mem-path=/x,size=1G -device nvdimm,id=nv1,memdev=m9".into(), "memdev 'm9'"),
        ("-object memory-backend-file,id=m1,mem-path=/x,size=1G -device nvdimm,id=nv1,memdev=m1 -object memory-backend-file,id=m2,mem-path=/y,size=1G -device nvdimm,id=nv1,memdev=m2".into(), "duplicate id 'nv1'"),
        ("-m 1G -append 'unbalanced".into(), "unbalanced quotes"),
    ];
    for (line, needle) in cases {
        let out = qpmem().args(["map", "--cmdline", &line]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{line}: {err}");
        assert!(
            err.contains(needle),
            "{line}: expected {needle:?} in {err:?}"
        );
        assert!(err.starts_with("qpmem: error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn label_larger_than_the_device_is_a_placement_error_not_a_crash() {
    let line = "-m 1G,slots=2,maxmem=40G -object memory-backend-file,id=m1,mem-path=/x,size=2M -device nvdimm,id=nv1,memdev=m1,label-size=4M";
    let out = qpmem().args(["map", "--cmdline", line]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nv1") && text.contains("too small to contain the label"),
        "{text}"
    );
}

#[test]
fn a_bad_profile_file_points_at_the_line_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ron");
    std::fs::write(
        &path,
        "(\n    version: 1,\n    name: \"x\",\n    ram: \"2Q\",\n)\n",
    )
    .unwrap();
    let out = qpmem()
        .args(["map", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:", path.display())), "{err}");
    assert!(err.contains("ram") && err.contains("2Q"), "{err}");
    let missing = qpmem()
        .args(["map", "/nonexistent/p.ron"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/p.ron"));
}

/// Arguments that are not UTF-8 (a path, a pasted line): exit 2 with a
/// message, never a panic.
#[test]
fn invalid_utf8_arguments_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::OsStr::from_bytes(b"/tmp/\xff.ron");
    let line = std::ffi::OsStr::from_bytes(
        b"-object memory-backend-file,id=m,mem-path=/x\xff,size=1G -device nvdimm,id=n,memdev=m",
    );
    for args in [vec![path], vec![std::ffi::OsStr::new("--cmdline"), line]] {
        let out = qpmem().arg("map").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid UTF-8"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
