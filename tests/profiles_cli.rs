//! The profile store through the real `qpmem` binary: `profiles`
//! subcommands, names as SOURCE, `import --save`, and bad files refused
//! without a panic and without being modified.
//!
//! Every command runs with XDG_CONFIG_HOME / XDG_DATA_HOME in a temp dir.

use assert_cmd::Command;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn profiles(&self) -> PathBuf {
        self.config().join("qpmem/profiles")
    }
    fn qpmem(&self) -> Command {
        let mut c = Command::cargo_bin("qpmem").unwrap();
        c.env("XDG_CONFIG_HOME", self.config())
            .env("XDG_DATA_HOME", self.data())
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(30));
        c
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.qpmem().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const PASTED: &[&str] = &[
    "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G \
     -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G \
     -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
     -object memory-backend-file,id=mem2,share=on,mem-path=/vms/nv2,size=17G,align=128M \
     -device nvdimm,memdev=mem2,id=nv2,label-size=2M",
    r#"qemu-system-x86_64 -M q35,nvdimm=on,accel=tcg -m 3584M,slots=4,maxmem=64G -smp 4 \
     -object memory-backend-file,id=m1,share=on,mem-path='/tmp/a dir/it'"'"'s,,x $HOME',size=4G,pmem=off \
     -device nvdimm,memdev=m1,id=n1,node=0,slot=2 \
     -object memory-backend-ram,id=r1,size=1G -device pc-dimm,memdev=r1,id=d1 \
     -nographic -serial mon:stdio -append "console=ttyS0 root=/dev/pmem0""#,
];

#[test]
fn import_save_then_render_by_name_gives_the_pasted_lines_argv() {
    let env = Env::new();
    for (i, line) in PASTED.iter().enumerate() {
        let name = format!("pasted {i}");
        let (code, out, err) = env.run(&["import", "--cmdline", line, "--save", &name]);
        assert_eq!(code, 0, "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(env.profiles().join(format!("{name}.ron")).is_file());
        let (c1, by_name, e1) = env.run(&["render", &name, "--format", "argv"]);
        let (c2, pasted, e2) = env.run(&["render", "--cmdline", line, "--format", "argv"]);
        assert_eq!((c1, c2), (0, 0), "{e1}{e2}");
        assert_eq!(by_name, pasted);
        assert!(pasted.lines().count() > 8, "{pasted}");
    }
    // Saving again needs --force, and keeps a backup.
    let (code, _, err) = env.run(&["import", "--cmdline", PASTED[1], "--save", "pasted 0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = env.run(&[
        "import",
        "--cmdline",
        PASTED[1],
        "--save",
        "pasted 0",
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(env.profiles().join("pasted 0.ron.bak").is_file());
}

#[test]
fn an_imported_profile_gets_its_own_files_in_the_data_directory() {
    let env = Env::new();
    let data = env.data().join("qpmem");
    // The built-in default's rendered line, pasted: its files are qpmem's
    // shared ones in the data directory; /vms/other is the user's own.
    let line = format!(
        "qemu-system-x86_64 -machine pc,nvdimm=on -m 2G,slots=2,maxmem=20G \
         -object memory-backend-file,id=mem1,share=on,mem-path={d}/nvdimm-1,size=1G \
         -device nvdimm,memdev=mem1,id=nv1 \
         -object memory-backend-file,id=mem2,share=on,mem-path=/vms/other,size=1G \
         -device nvdimm,memdev=mem2,id=nv2",
        d = data.display()
    );
    let (code, _, err) = env.run(&["import", "--cmdline", &line, "--save", "mine"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nv1: a backing file of its own"), "{err}");
    assert!(!err.contains("nv2"), "{err}");
    let (code, ron, err) = env.run(&["profiles", "show", "mine"]);
    assert_eq!(code, 0, "{err}");
    assert!(ron.contains(r#"File("${data}/mine/nvdimm-1")"#), "{ron}");
    assert!(ron.contains(r#"File("/vms/other")"#), "{ron}");
}

#[test]
fn bad_names_are_refused_on_save() {
    let env = Env::new();
    for bad in ["a/b", "", ".hidden", "../up"] {
        let (code, _, err) = env.run(&["import", "--cmdline", PASTED[0], "--save", bad]);
        assert_eq!(code, 2, "{bad:?}");
        assert!(err.contains("invalid profile name"), "{bad:?}: {err}");
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
    assert!(!env.config().join("qpmem/profiles").exists());
}

#[test]
fn list_show_path_and_rm() {
    let env = Env::new();
    let (code, out, _) = env.run(&["profiles", "list"]);
    assert_eq!(code, 0);
    for name in ["default", "small", "numa", "label-less"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains("built-in")),
            "{out}"
        );
    }
    let numa = out.lines().find(|l| l.starts_with("numa ")).unwrap();
    let cols: Vec<_> = numa.split_whitespace().collect();
    assert_eq!(cols[2], "4", "{numa}");

    env.run(&["import", "--cmdline", PASTED[0], "--save", "mine"]);
    let (_, out, _) = env.run(&["profiles", "list"]);
    let mine = out.lines().find(|l| l.starts_with("mine ")).unwrap();
    assert!(mine.contains("stored") && mine.contains(" 2 "), "{mine}");
    assert!(mine.contains("34 GiB"), "{mine}");
    let year = humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..4].to_string();
    assert!(mine.contains(&year), "modified time shown: {mine}");

    let (code, out, _) = env.run(&["profiles", "show", "mine"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        fs::read_to_string(env.profiles().join("mine.ron")).unwrap()
    );
    let (_, out, _) = env.run(&["profiles", "show", "small"]);
    assert!(out.contains("${data}/small-1"), "{out}");

    let (_, out, _) = env.run(&["profiles", "path"]);
    assert_eq!(out.trim_end(), env.profiles().display().to_string());
    let (_, out, _) = env.run(&["profiles", "path", "mine"]);
    assert_eq!(
        out.trim_end(),
        env.profiles().join("mine.ron").display().to_string()
    );

    // rm: refuses without a terminal or --yes, refuses built-ins, keeps .bak.
    let (code, _, err) = env.run(&["profiles", "rm", "mine"]);
    assert_eq!(code, 2);
    assert!(err.contains("--yes"), "{err}");
    assert!(env.profiles().join("mine.ron").exists());
    let (code, _, err) = env.run(&["profiles", "rm", "default", "--yes"]);
    assert_eq!(code, 2);
    assert!(err.contains("built-in"), "{err}");
    let (code, _, err) = env.run(&["profiles", "rm", "mine", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(!env.profiles().join("mine.ron").exists());
    assert!(env.profiles().join("mine.ron.bak").exists());
    let (code, _, _) = env.run(&["profiles", "show", "mine"]);
    assert_eq!(code, 2);
}

#[test]
fn names_resolve_to_stored_then_builtin_with_absolute_backing_paths() {
    let env = Env::new();
    let (code, out, err) = env.run(&["render", "small", "--format", "argv"]);
    assert_eq!(code, 0, "{err}");
    let want = format!("mem-path={}/qpmem/small-1,", env.data().display());
    assert!(out.contains(&want), "{out}");
    assert!(!out.contains("${data}"), "{out}");
    // A stored profile of the same name shadows the example.
    env.run(&["import", "--cmdline", PASTED[0], "--save", "small"]);
    let (_, out, _) = env.run(&["render", "small", "--format", "argv"]);
    assert!(out.contains("mem-path=/vms/nv1,"), "{out}");
    // A path is a path: ./small does not exist.
    let (code, _, err) = env.run(&["render", "./small"]);
    assert_eq!(code, 2);
    assert!(err.contains("./small"), "{err}");
}

#[test]
fn a_missing_profile_exits_2_naming_what_was_looked_for() {
    let env = Env::new();
    let (code, out, err) = env.run(&["map", "no-such"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    let stored = env.profiles().join("no-such.ron");
    assert!(err.contains(&stored.display().to_string()), "{err}");
    assert!(err.contains("built-in example"), "{err}");
    assert!(err.contains("./no-such"), "{err}");
    let (code, _, err) = env.run(&["render", "missing.ron"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.ron"), "{err}");
}

#[test]
fn malformed_ron_exits_2_with_path_line_column_and_the_parsers_message() {
    let env = Env::new();
    let path = env.dir.path().join("bad.ron");
    fs::write(
        &path,
        "(\n    version: 1,\n    name: \"x\",\n    ram: \"2G\"\n    cpus: 2,\n)\n",
    )
    .unwrap();
    let (code, _, err) = env.run(&["render", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let want = format!("{}:5:", path.display());
    assert!(err.contains(&want), "{err}");
    assert!(err.to_lowercase().contains("expected"), "{err}");

    fs::write(&path, "(version: 1, name: \"x\", colour: 3)").unwrap();
    let (code, _, err) = env.run(&["render", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(":1:") && err.contains("colour"), "{err}");
}

fn snapshot(p: &Path) -> (Vec<u8>, SystemTime) {
    (
        fs::read(p).unwrap(),
        fs::metadata(p).unwrap().modified().unwrap(),
    )
}

#[test]
fn hostile_files_are_refused_without_a_panic_and_left_unmodified() {
    let env = Env::new();
    fs::create_dir_all(env.profiles()).unwrap();
    // Random bytes from a fixed xorshift, so a failure reproduces.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut big = b"(version: 1, name: \"".to_vec();
    big.resize(10 << 20, b'a');
    let nested_parens = "(".repeat(200_000);
    let nested_in_field = format!(
        "(version: 1, name: \"x\", devices: {}{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("random", random),
        ("ten-mb", big),
        ("nested", nested_parens.into_bytes()),
        ("nested-field", nested_in_field.into_bytes()),
        ("not-utf8", vec![b'(', 0xff, 0xfe, b')']),
    ];
    for (name, bytes) in &cases {
        // Both as a path and as a stored profile name.
        let path = env.profiles().join(format!("{name}.ron"));
        fs::write(&path, bytes).unwrap();
        let before = snapshot(&path);
        for source in [path.to_str().unwrap(), name] {
            for cmd in [
                &["render", source][..],
                &["map", source],
                &["profiles", "show", name],
            ] {
                let (code, _, err) = env.run(cmd);
                assert_eq!(code, 2, "{name} {cmd:?}: {err}");
                assert!(err.contains(&format!("{name}.ron")), "{name}: {err}");
                assert!(!err.contains("internal error"), "{name}: {err}");
            }
        }
        let (code, out, err) = env.run(&["profiles", "list"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains("unreadable")),
            "{name}: {out}"
        );
        assert_eq!(snapshot(&path), before, "{name} was modified by reading");
    }
}

#[test]
fn restore_brings_back_the_backup() {
    let env = Env::new();
    env.run(&["import", "--cmdline", PASTED[0], "--save", "mine"]);
    let first = fs::read_to_string(env.profiles().join("mine.ron")).unwrap();
    env.run(&[
        "import",
        "--cmdline",
        PASTED[1],
        "--save",
        "mine",
        "--force",
    ]);
    let second = fs::read_to_string(env.profiles().join("mine.ron")).unwrap();
    assert_ne!(first, second);
    let (code, _, err) = env.run(&["profiles", "restore", "mine"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(env.profiles().join("mine.ron")).unwrap(),
        first
    );
    // Removed, then restored.
    env.run(&["profiles", "rm", "mine", "--yes"]);
    let (code, _, err) = env.run(&["profiles", "restore", "mine"]);
    assert_eq!(code, 0, "{err}");
    assert!(env.profiles().join("mine.ron").is_file());
    let (code, _, err) = env.run(&["profiles", "restore", "never"]);
    assert_eq!(code, 2);
    assert!(err.contains("no backup") && err.contains("never"), "{err}");
}

#[test]
fn list_shows_the_file_sizes_and_what_the_guest_sees() {
    let env = Env::new();
    let (code, out, _) = env.run(&["profiles", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().contains("GUEST SEES"), "{out}");
    // default: two 17G files with a 2M label and align=128M: 16.875 GiB each.
    let default = out.lines().find(|l| l.starts_with("default ")).unwrap();
    assert!(
        default.contains("34 GiB") && default.contains("33.75 GiB"),
        "{default}"
    );
    // small: a 1026M file that shows exactly 1 GiB.
    let small = out.lines().find(|l| l.starts_with("small ")).unwrap();
    assert!(small.contains("1 GiB"), "{small}");
}
