//! What a newcomer hit in the first hour (issue 16), through the CLI: one
//! exit-code rule for `render`, `map` and `check`, `${data}` kept through
//! `check --fix`, each fix reported once, JSON that agrees with the text,
//! and messages that say what is wrong with the input.

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

/// qpmem with its XDG directories under `dir` and no QEMU override.
fn qpmem(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("qpmem").unwrap();
    c.env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("HOME", dir)
        .env_remove("QPMEM_QEMU")
        .current_dir(dir)
        .timeout(Duration::from_secs(60));
    c
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = qpmem(dir).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The seed recipe as pasted, each nvdimm with `label` and no align.
fn recipe(label: &str) -> String {
    format!(
        "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G \
         -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G \
         -device nvdimm,memdev=mem1,id=nv1,label-size={label} \
         -object memory-backend-file,id=mem2,share=on,mem-path=/vms/nv2,size=17G \
         -device nvdimm,memdev=mem2,id=nv2,label-size={label}"
    )
}

#[test]
fn a_configuration_qemu_refuses_exits_1_from_render_map_and_check() {
    let dir = tempfile::tempdir().unwrap();
    // QEMU refuses label-size=64K ("is required at least 0x20000").
    let refused = recipe("64K");
    for cmd in ["render", "map", "check"] {
        let (code, out, err) = run(dir.path(), &[cmd, "--cmdline", &refused]);
        assert_eq!(code, 1, "{cmd}: {out}{err}");
        let diagnostics = if cmd == "check" { &out } else { &err };
        assert!(diagnostics.contains("error[QP"), "{cmd}: {diagnostics}");
        assert!(diagnostics.contains("label"), "{cmd}: {diagnostics}");
    }
    // render and map still print their output.
    let (_, out, _) = run(dir.path(), &["render", "--cmdline", &refused]);
    assert!(out.contains("label-size=64K"), "{out}");
    let (_, out, _) = run(dir.path(), &["map", "--cmdline", &refused]);
    assert!(out.contains("nv1") && out.contains("nv2"), "{out}");
    let (code, out, _) = run(
        dir.path(),
        &["render", "--format", "json", "--cmdline", &refused],
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["argv"].is_array(), "{v}");

    // A backing file that is too small today is check's business, not the
    // configuration's: render (a script for another machine) still exits 0.
    std::fs::create_dir(dir.path().join("vms")).unwrap();
    let small = dir.path().join("vms/nv1");
    std::fs::write(&small, b"x").unwrap();
    let line = recipe("2M").replace("/vms/nv1", small.to_str().unwrap());
    let (code, _, err) = run(dir.path(), &["check", "--cmdline", &line]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(dir.path(), &["render", "--cmdline", &line]);
    assert_eq!(code, 0, "{err}");

    // A configuration with warnings only exits 0 everywhere.
    let fine = recipe("2M");
    for cmd in ["render", "map", "check"] {
        let (code, out, err) = run(dir.path(), &[cmd, "--cmdline", &fine]);
        assert_eq!(code, 0, "{cmd}: {out}{err}");
        if cmd != "check" {
            assert!(!err.contains("error"), "{cmd}: {err}");
        }
    }
    // Input qpmem cannot use is 2 everywhere.
    for cmd in ["render", "map", "check"] {
        let (code, _, err) = run(dir.path(), &[cmd, "--cmdline", "qemu-system-x86_64 -m"]);
        assert_eq!(code, 2, "{cmd}: {err}");
    }
}

#[test]
fn check_fix_keeps_the_data_placeholder_in_the_file_it_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text, _) = run(dir.path(), &["profiles", "show", "default"]);
    assert!(text.contains("${data}/nvdimm-1"), "{text}");
    let file = dir.path().join("mine.ron");
    // The fix this needs: grow each file so the guest sees whole GiBs.
    std::fs::write(&file, &text).unwrap();
    let (code, out, err) = run(dir.path(), &["check", "--fix", "mine.ron"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fixed: grow nv1"), "{err}");
    let written = std::fs::read_to_string(&file).unwrap();
    for shown in [&written, &out] {
        assert!(shown.contains(r#"File("${data}/nvdimm-1")"#), "{shown}");
        assert!(shown.contains(r#"File("${data}/nvdimm-2")"#), "{shown}");
        assert!(!shown.contains("data/qpmem"), "{shown}");
    }
}

#[test]
fn check_fix_reports_each_fix_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), &["check", "--fix", "--cmdline", &recipe("2M")]);
    assert_eq!(code, 0, "{err}");
    let fixed: Vec<&str> = err.lines().filter(|l| l.starts_with("fixed: ")).collect();
    assert!(!fixed.is_empty(), "{err}");
    // No DIMM's align is set twice.
    for id in ["nv1", "nv2"] {
        let aligns = fixed
            .iter()
            .filter(|l| l.contains("align") && l.contains(id))
            .count();
        assert_eq!(aligns, 1, "{id}: {fixed:#?}");
    }
    let mut unique = fixed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), fixed.len(), "{fixed:#?}");
}

#[test]
fn json_diagnostics_agree_with_the_text_and_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let line = recipe("2M");
    let (_, out, _) = run(
        dir.path(),
        &["render", "--format", "json", "--cmdline", &line],
    );
    let render: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (_, out, _) = run(dir.path(), &["check", "--json", "--cmdline", &line]);
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ds = render["diagnostics"].as_array().unwrap();
    assert!(!ds.is_empty(), "{render}");
    // QP100 has a fix: both say so the same way.
    let qp100 = ds.iter().find(|d| d["code"] == "QP100").unwrap();
    assert_eq!(qp100["fixable"], true, "{qp100}");
    assert!(qp100["fix"].is_string(), "{qp100}");
    let in_check = check["diagnostics"].as_array().unwrap();
    assert!(in_check.contains(qp100), "{check}");

    // Where the QEMU came from: the text says "from PATH", so does the JSON.
    let (_, text, _) = run(dir.path(), &["check", "--cmdline", &line]);
    if let Some(origin) = check["qemu"]["origin"].as_str() {
        assert_eq!(origin, "path", "{}", check["qemu"]);
        assert!(text.contains("(from PATH)"), "{text}");
    }
}

#[test]
fn input_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), &["import", "--cmdline", "ls -la"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a QEMU command line"), "{err}");
    assert!(err.contains("\"ls\""), "{err}");
    assert!(!err.contains("missing value"), "{err}");
    // A path to a QEMU binary is one.
    let (code, _, err) = run(
        dir.path(),
        &["import", "--cmdline", "/usr/bin/qemu-system-x86_64 -m 1G"],
    );
    assert_eq!(code, 0, "{err}");

    std::fs::write(dir.path().join("empty.ron"), "").unwrap();
    let (code, _, err) = run(dir.path(), &["map", "empty.ron"]);
    assert_eq!(code, 2);
    assert!(err.contains("empty.ron:1:1: the file is empty"), "{err}");

    std::fs::write(
        dir.path().join("unknown.ron"),
        "(\n version: 1,\n name: \"x\", bogus: 3,\n)\n",
    )
    .unwrap();
    let (code, _, err) = run(dir.path(), &["map", "unknown.ron"]);
    assert_eq!(code, 2);
    assert!(err.contains("`bogus`"), "{err}");
    assert!(!err.contains("name: "), "{err}");
}

#[test]
fn theme_is_refused_where_nothing_is_drawn_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--theme", "light", "map"][..],
        &["--theme", "light", "render"],
        &["--theme", "nosuch", "check", "--qemu-version", "7.2"],
        &["--theme", "light", "profiles", "list"],
    ] {
        let (code, out, err) = run(dir.path(), args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        let sub = args[2];
        assert!(
            err.contains(&format!(
                "--theme {}: `qpmem {sub}` draws nothing in colour",
                args[1]
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("qpmem launch"), "{err}");
    }
    // The editor and launch take it (launch then stops for want of a
    // terminal, not because of the theme).
    let (code, _, err) = run(dir.path(), &["--theme", "light", "launch", "--yes"]);
    assert_eq!(code, 2);
    assert!(!err.contains("draws nothing in colour"), "{err}");
}

#[test]
fn a_missing_directory_in_qpmems_own_data_directory_is_a_note() {
    let dir = tempfile::tempdir().unwrap();
    // The built-in default keeps its files in ${data}, which does not
    // exist yet: a note each, no QP304 warning.
    let (code, out, err) = run(dir.path(), &["check", "--qemu-version", "7.2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("QP304"), "{out}");
    let data = dir.path().join("data/qpmem");
    let notes: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("note[QP314]"))
        .collect();
    assert_eq!(notes.len(), 2, "{out}");
    assert!(
        notes[0].contains(&format!("where {} does not exist yet", data.display())),
        "{out}"
    );
    // The seed's own QP101 warnings stay; nothing else warns.
    let warnings: Vec<&str> = out.lines().filter(|l| l.starts_with("warning[")).collect();
    assert!(
        warnings.iter().all(|w| w.starts_with("warning[QP101]")),
        "{out}"
    );
    // A directory of the user's own is still a warning.
    let mine = recipe("2M").replace("/vms/", &format!("{}/vms/", dir.path().display()));
    let (_, out, _) = run(
        dir.path(),
        &["check", "--qemu-version", "7.2", "--cmdline", &mine],
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("warning[QP304]"))
            .count(),
        2,
        "{out}"
    );
    assert!(!out.contains("QP314"), "{out}");
}
