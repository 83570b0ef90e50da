//! `qpmem check` as a user runs it: the seed recipe, exit codes, JSON,
//! `--fix` rewriting a profile file, and which QEMU is judged. Old
//! releases, which real QEMU cannot show, come from a fake
//! `qemu-system-x86_64` shell script on PATH that prints a version.

use assert_cmd::Command;
use qpmem::core::profile::{Auto, Profile};
use qpmem::core::profile_ron::parse_profile;
use qpmem::core::size::Size;
use qpmem::store;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The recipe from the seed page, `align=128M` or not.
fn seed_line(align: bool) -> String {
    let a = if align { ",align=128M" } else { "" };
    format!(
        "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G \
         -object memory-backend-file,id=mem1,share,mem-path=/home/rzwisler/vms/nvdimm-3.1,size=17G{a} \
         -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
         -object memory-backend-file,id=mem2,share,mem-path=/home/rzwisler/vms/nvdimm-3.2,size=17G{a} \
         -device nvdimm,memdev=mem2,id=nv2,label-size=2M"
    )
}

/// `qpmem` with its environment pinned: a private cache, no QEMU from
/// the environment, PATH as given.
fn qpmem(cache: &Path, path: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qpmem"));
    c.env("XDG_CACHE_HOME", cache)
        .env("XDG_DATA_HOME", cache.join("data"))
        .env("PATH", path)
        .env_remove("QPMEM_QEMU");
    c
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fake `qemu-system-x86_64` in `dir` whose `--version` prints `line`
/// and that notes each run in `dir/runs`.
fn fake_qemu(dir: &Path, line: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("qemu-system-x86_64");
    let runs = dir.join("runs");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho run >> '{}'\necho '{line}'\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn the_seed_recipe_without_align_warns_about_nv2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--qemu-version",
            "7.2",
            "--cmdline",
            &seed_line(false),
        ])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "warning[QP100]: nv2 starts at 0x53fe00000, 126 MiB past a 128 MiB section boundary"
        ),
        "{text}"
    );
    assert!(text.contains("set align=128M on nv1, nv2"), "{text}");
    assert!(text.contains("Linux 5.3+"), "{text}");
    // The pasted bare booleans are reported, and said to be fixed already.
    assert!(text.contains("warning[QP004]"), "{text}");
    assert!(text.contains("check: 0 errors, "), "{text}");
    assert!(text.contains("QEMU 7.2.0 (--qemu-version)"), "{text}");
    // Denying warnings turns it into a failure.
    qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--qemu-version",
            "7.2",
            "--deny",
            "warnings",
            "--cmdline",
            &seed_line(false),
        ])
        .assert()
        .code(1);
}

/// `-machine pc,nvdimm` (the short form) is refused by QEMU 6.1+: exit 1
/// naming it, with what `qpmem render` writes instead; 6.0 only warns.
#[test]
fn a_bare_boolean_on_machine_is_an_error_on_7_2() {
    let tmp = tempfile::tempdir().unwrap();
    let line = seed_line(true).replace("nvdimm=on", "nvdimm");
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--qemu-version", "7.2", "--cmdline", &line])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error[QP005]"), "{text}");
    assert!(
        text.contains("write nvdimm=on, as `qpmem render` does"),
        "{text}"
    );
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--qemu-version", "6.0", "--cmdline", &line])
        .output()
        .unwrap();
    assert!(!stdout(&o).contains("error[QP005]"), "{}", stdout(&o));
}

#[test]
fn the_seed_recipe_with_align_on_2_11_is_an_error_naming_2_12() {
    let tmp = tempfile::tempdir().unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--qemu-version",
            "2.11",
            "--cmdline",
            &seed_line(true),
        ])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "error[QP402]: align= needs QEMU 2.12, but this QEMU is 2.11.0 (nv1, nv2 use it)"
        ),
        "{text}"
    );
    // 2.12 has it.
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--qemu-version",
            "2.12",
            "--cmdline",
            &seed_line(true),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn an_old_qemu_found_on_path_is_judged_and_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    let fake = fake_qemu(
        &bin,
        "QEMU emulator version 2.11.1 (Debian 1:2.11+dfsg-1ubuntu7)",
    );
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = qpmem(tmp.path(), &path)
        .args(["check", "--cmdline", &seed_line(true)])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("align= needs QEMU 2.12, but this QEMU is 2.11.1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("QEMU 2.11.1 at {} (from PATH)", fake.display())),
        "{text}"
    );
    assert_eq!(runs(&bin), 1);
    // Asked again: the cached answer, the binary is not run.
    qpmem(tmp.path(), &path)
        .args(["check", "--cmdline", &seed_line(true)])
        .assert()
        .code(1);
    assert_eq!(runs(&bin), 1, "the version should have come from the cache");
    assert!(tmp.path().join("qpmem/qemu-versions.json").is_file());
    // Upgraded in place (another build): read again.
    fake_qemu(
        &bin,
        "QEMU emulator version 9.0.50 (v9.0.0-1388-g80e8f06021-dirty)",
    );
    let o = qpmem(tmp.path(), &path)
        .args(["check", "--cmdline", &seed_line(true)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("QEMU 9.0.50"), "{}", stdout(&o));
    assert_eq!(runs(&bin), 2);
}

#[test]
fn qemu_is_chosen_by_flag_then_env_then_path() {
    let tmp = tempfile::tempdir().unwrap();
    let old = fake_qemu(&tmp.path().join("old"), "QEMU emulator version 2.11.0");
    let new = fake_qemu(
        &tmp.path().join("new"),
        "QEMU emulator version 8.2.2 (qemu-8.2.2-1.fc40)",
    );
    let path = format!("{}:/usr/bin:/bin", tmp.path().join("new").display());
    // $QPMEM_QEMU beats PATH.
    qpmem(tmp.path(), &path)
        .env("QPMEM_QEMU", &old)
        .args(["check", "--cmdline", &seed_line(true)])
        .assert()
        .code(1);
    // --qemu beats $QPMEM_QEMU.
    let o = qpmem(tmp.path(), &path)
        .env("QPMEM_QEMU", &old)
        .args(["check", "--qemu"])
        .arg(&new)
        .args(["--cmdline", &seed_line(true)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("(from --qemu)"), "{}", stdout(&o));
}

#[test]
fn a_missing_or_mute_qemu_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let path = empty.display().to_string();
    let o = qpmem(tmp.path(), &path)
        .args(["check", "--cmdline", &seed_line(true)])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning[QP400]: QEMU not found: qemu-system-x86_64"),
        "{text}"
    );
    qpmem(tmp.path(), &path)
        .args(["check", "--deny", "warnings", "--cmdline", &seed_line(true)])
        .assert()
        .code(1);
    let mute = fake_qemu(&tmp.path().join("mute"), "hello");
    let o = qpmem(tmp.path(), &path)
        .args(["check", "--qemu"])
        .arg(&mute)
        .args(["--cmdline", &seed_line(true)])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("warning[QP401]"), "{}", stdout(&o));
}

#[test]
fn json_names_code_severity_device_and_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--json",
            "--qemu-version",
            "7.2.0",
            "--cmdline",
            &seed_line(false),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ds = v["diagnostics"].as_array().unwrap();
    let nv2 = ds
        .iter()
        .find(|d| d["code"] == "QP100" && d["device"] == "nv2")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(nv2["name"], "section-misaligned");
    assert_eq!(nv2["severity"], "warning");
    assert_eq!(nv2["fixable"], true);
    assert_eq!(nv2["fix"], "set align=128M on nv1, nv2");
    assert!(nv2["message"].as_str().unwrap().contains("0x53fe00000"));
    assert!(nv2["help"].as_str().unwrap().starts_with("set align=128M"));
    let bare = ds.iter().find(|d| d["code"] == "QP004").unwrap();
    assert_eq!(bare["fixable"], false);
    assert!(bare["fix"].is_null());
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["qemu"]["version"], "7.2.0");
}

/// The seed recipe as a profile with two things `--fix` mends: no align
/// (nv2 off a section boundary) and nv2 not shared.
fn recipe_to_fix(dir: &Path) -> Profile {
    let mut p = Profile::seed(&dir.join("vms"));
    p.ram = Size::mib(512);
    p.slots = Auto::Fixed(2);
    p.maxmem = Auto::Fixed(Size::gib(40));
    for d in &mut p.devices {
        d.align = None;
    }
    p.devices[1].share = false;
    p
}

#[test]
fn fix_rewrites_the_profile_file_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("vm.ron");
    let p = recipe_to_fix(tmp.path());
    store::save_profile(&file, &p).unwrap();

    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--fix", "--qemu-version", "7.2"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("fixed: set align=128M on nv1, nv2"), "{err}");
    assert!(err.contains("fixed: set share=on on nv2"), "{err}");
    // stdout is the fixed profile, and the file now holds it.
    let printed = parse_profile(&stdout(&o), "stdout").unwrap();
    let saved = store::load_profile(&file).unwrap();
    assert_eq!(printed, saved);
    for d in &saved.devices {
        assert_eq!(d.align, Some(Size::mib(128)));
        assert_eq!(d.size, Size::mib(17410));
        assert!(d.share);
    }
    let mut bak = file.clone().into_os_string();
    bak.push(".bak");
    assert_eq!(store::load_profile(Path::new(&bak)).unwrap(), p);
    // Nothing fixable is left.
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--qemu-version", "7.2"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!stdout(&o).contains("--fix"), "{}", stdout(&o));
}

#[test]
fn fix_without_a_file_only_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--fix",
            "--qemu-version",
            "7.2",
            "--cmdline",
            &seed_line(false),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let p = parse_profile(&stdout(&o), "stdout").unwrap();
    assert!(p.devices.iter().all(|d| d.align == Some(Size::mib(128))));
}

#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        qpmem(tmp.path(), "/usr/bin:/bin")
            .arg("check")
            .args(args)
            .output()
            .unwrap()
    };
    // An error in the configuration: 1.
    let too_small = seed_line(true).replace("maxmem=40G", "maxmem=20G");
    let o = run(&["--qemu-version", "7.2", "--cmdline", &too_small]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("error[QP114]: nv2 needs"),
        "{}",
        stdout(&o)
    );
    // Unusable input: 2.
    assert_eq!(run(&["/nonexistent/vm.ron"]).status.code(), Some(2));
    assert_eq!(run(&["--qemu-version", "banana"]).status.code(), Some(2));
    assert_eq!(run(&["--cmdline", "-m '1G"]).status.code(), Some(2));
    assert_eq!(run(&["--deny", "everything"]).status.code(), Some(2));
}

#[test]
fn explain_prints_a_rules_docs_and_refuses_an_unknown_rule() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["QP100", "qp100", "section-misaligned"] {
        let o = qpmem(tmp.path(), "/usr/bin:/bin")
            .args(["check", "--explain", name])
            .output()
            .unwrap();
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{text}");
        assert!(
            text.starts_with("QP100 section-misaligned: warning;"),
            "{text}"
        );
        // The rule's own words about Linux's sections, and how to silence it.
        assert!(text.contains("128 MiB on x86_64"), "{text}");
        assert!(text.contains("--allow QP100"), "{text}");
    }
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--explain", "QP999"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--explain: no rule \"QP999\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn allow_silences_a_rule_from_the_command_line_or_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |extra: &[&str]| {
        let o = qpmem(tmp.path(), "/usr/bin:/bin")
            .args([
                "check",
                "--qemu-version",
                "7.2",
                "--cmdline",
                &seed_line(false),
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            stdout(&o),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (_, all, _) = check(&[]);
    assert!(all.contains("warning[QP100]"), "{all}");
    for allow in ["QP100", "section-misaligned"] {
        let (code, text, _) = check(&["--allow", allow]);
        assert_eq!(code, Some(0), "{text}");
        assert!(!text.contains("QP100"), "--allow {allow}: {text}");
        // Only that rule.
        assert!(text.contains("warning[QP004]"), "{text}");
    }
    let (code, _, err) = check(&["--allow", "QP999"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--allow: no rule \"QP999\""), "{err}");

    // The profile's own list; --fix keeps it as it was and never writes
    // the command line's.
    let file = tmp.path().join("vm.ron");
    let mut p = recipe_to_fix(tmp.path());
    p.allow = vec!["section-misaligned".into()];
    store::save_profile(&file, &p).unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--qemu-version", "7.2"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!stdout(&o).contains("QP100"), "{}", stdout(&o));
    assert!(stdout(&o).contains("share=on"), "{}", stdout(&o));
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args([
            "check",
            "--qemu-version",
            "7.2",
            "--fix",
            "--allow",
            "QP301",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let saved = store::load_profile(&file).unwrap();
    assert_eq!(saved.allow, ["section-misaligned"]);
    // The silenced rule's fix (align=128M) was not applied.
    assert!(saved.devices.iter().all(|d| d.align.is_none()));

    // An unknown entry in the profile is named by its field.
    p.allow = vec!["QP100".into(), "no-such-rule".into()];
    store::save_profile(&file, &p).unwrap();
    let o = qpmem(tmp.path(), "/usr/bin:/bin")
        .args(["check", "--qemu-version", "7.2"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("allow[1]: no rule \"no-such-rule\""), "{err}");
}

/// `check` on aarch64 lines speaks of arm64: its binary, virt's GED,
/// firmware, the CPU's address bits, the PL011 console; never of the PCs
/// (qemu64, phys-bits, the HyperTransport hole, the 4 GiB split, ttyS0,
/// qemu-system-x86). A fake `qemu-system-aarch64` says 7.2, so every rule
/// that needs the release runs.
#[test]
fn check_on_an_aarch64_line_names_arm64_facts_only() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("qemu-system-aarch64");
    std::fs::write(&fake, "#!/bin/sh\necho 'QEMU emulator version 7.2.0'\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let lines = [
        // No firmware, no -cpu (cortex-a15), no nvdimm=on, a huge maxmem
        // for cortex-a15's 40 bits, a kernel without the PL011 console.
        "qemu-system-aarch64 -M virt -m 1G,slots=2,maxmem=2000G -kernel /x/Image -append quiet \
         -object memory-backend-file,id=m1,share=on,mem-path=/x/f1,size=1G -device nvdimm,memdev=m1,id=nv1",
        // A machine without the GED, acpi=off, a 32-bit -cpu, maxmem 1 byte off 4K.
        "qemu-system-aarch64 -M virt-4.1,nvdimm=on,acpi=off -cpu cortex-a9 -m 1G,slots=2,maxmem=8589934593 \
         -object memory-backend-ram,id=r1,size=1G -device pc-dimm,memdev=r1,id=d1",
        // Far beyond 2^64 with the largest slots count.
        "qemu-system-aarch64 -M virt,nvdimm=on -cpu max -m 1G,slots=256,maxmem=16000000T",
    ];
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let mut all = String::new();
    for line in lines {
        let out = qpmem(tmp.path(), &path)
            .args(["check", "--cmdline", line])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{line}: {}", stdout(&out));
        all.push_str(&stdout(&out));
        all.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    for code in [
        "QP001", "QP600", "QP601", "QP602", "QP604", "QP015", "QP500",
    ] {
        assert!(all.contains(&format!("[{code}]")), "no {code} in\n{all}");
    }
    for arm in [
        "acpi-ged",
        "cortex-a15",
        "ttyAMA0",
        "qemu-system-aarch64",
        "40 physical address bits",
    ] {
        assert!(all.contains(arm), "no {arm:?} in\n{all}");
    }
    for x86 in [
        "qemu64",
        "phys-bits",
        "HyperTransport",
        "4 GiB",
        "ttyS0",
        "qemu-system-x86",
        "pc-i440fx",
        "q35",
        "4096 bytes",
        "[QP012]",
        "[QP014]",
        "[QP017]",
    ] {
        assert!(!all.contains(x86), "{x86:?} in an aarch64 check:\n{all}");
    }
}

/// `check --libvirt` judges the libvirt export only when asked: QP900
/// (prealloc of the NVDIMM's file, a fix to review that sets pmem=on),
/// QP901 (libvirt's names); an unreachable daemon adds QP905. libvirt's
/// in-process test driver (`test:///default`) answers without a daemon.
#[test]
fn check_libvirt_findings_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    let codes = |args: &[&str]| -> Vec<serde_json::Value> {
        let o = qpmem(dir.path(), &path)
            .args(["check", "small", "--json", "--qemu-version", "7.2"])
            .args(args)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"].as_str().unwrap().starts_with("QP9"))
            .cloned()
            .collect()
    };
    assert!(codes(&[]).is_empty());
    for uri in ["test:///default", "bogus:///x"] {
        let ds = codes(&["--libvirt", "--connect", uri]);
        let pre = ds.iter().find(|d| d["code"] == "QP900").expect("QP900");
        assert_eq!(pre["device"], "nv1");
        assert!(
            pre["message"].as_str().unwrap().contains("1026M file"),
            "{pre}"
        );
        assert!(
            pre["fix"]
                .as_str()
                .unwrap()
                .starts_with("set pmem=on on nv1"),
            "{pre}"
        );
        assert_eq!(pre["applicability"], "maybe-incorrect", "{pre}");
        let names = ds.iter().find(|d| d["code"] == "QP901").expect("QP901");
        assert!(
            names["message"].as_str().unwrap().contains("nvdimm0"),
            "{names}"
        );
        if uri.starts_with("bogus") {
            assert!(ds.iter().any(|d| d["code"] == "QP905"), "{ds:?}");
        }
    }
}
