//! Every way out of qpmem, checked by the programs that consume it: a real
//! POSIX sh parses the shell form and runs the script, real QEMU accepts
//! the script's command line (-S, QMP), libvirt's virt-xml-validate accepts
//! the domain XML, and OSC 52 matches an independent base64.
//!
//! Tests that need QEMU or virt-xml-validate skip with a message when the
//! tool is missing, unless QPMEM_REQUIRE_QEMU=1 (CI), where they fail.

mod common;

use assert_cmd::Command;
use qpmem::core::profile::{Dimm, Profile};
use qpmem::core::size::Size;
use qpmem::store::save_profile;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    if which::which(tool).is_ok() {
        return true;
    }
    if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
        panic!("{tool} is required (QPMEM_REQUIRE_QEMU=1) but not installed");
    }
    eprintln!("skipping: {tool} is not installed");
    false
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn qpmem(&self, args: &[&str]) -> String {
        let out = Command::cargo_bin("qpmem")
            .unwrap()
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .current_dir(self.path())
            .timeout(Duration::from_secs(30))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "qpmem {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Directory names no shell or QEMU option parser should mangle.
const AWKWARD: &[&str] = &[
    "with space",
    "single'quote",
    "double\"quote",
    "dollar$HOME",
    "back\\slash",
    "com,ma",
    "nön-äscii-日本",
];

/// A profile whose backing files live under awkward directory names in
/// `root`, small enough for QEMU to map quickly.
fn awkward_profile(root: &Path) -> Profile {
    let mut p = Profile::empty("awk'ward $x");
    p.ram = Size::mib(256);
    p.cpus = 1;
    p.append = Some("console=ttyS0 a='b c' \"$PATH\" x\\y".into());
    // Extra arguments are verbatim QEMU syntax: a literal comma is doubled.
    p.extra_args = vec!["-name".into(), "vm \"quoted\",, $HOME".into()];
    for (i, dir) in AWKWARD.iter().enumerate() {
        let path = root.join(dir).join(format!("nv{}.img", i + 1));
        let mut d = Dimm::nvdimm(i + 1, path, Size::mib(130));
        d.align = Some(Size::mib(2));
        p.devices.push(d);
    }
    p
}

fn argv_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn shell_form_parsed_by_sh_and_json_argv_equal_the_argv_form() {
    let env = Env::new();
    let file = env.path().join("awkward.ron");
    save_profile(&file, &awkward_profile(env.path())).unwrap();
    let f = file.to_str().unwrap();
    let argv = argv_lines(&env.qpmem(&["render", f, "--format", "argv"]));
    assert!(argv.iter().any(|a| a.contains("com,,ma")), "{argv:?}");
    assert!(argv.iter().any(|a| a.contains("日本")), "{argv:?}");

    let shell = env.qpmem(&["render", f, "--format", "shell"]);
    assert_eq!(common::sh_words(&shell), argv);

    let json: serde_json::Value =
        serde_json::from_str(&env.qpmem(&["render", f, "--format", "json"])).unwrap();
    let json_argv: Vec<String> = serde_json::from_value(json["argv"].clone()).unwrap();
    assert_eq!(json_argv, argv);
    assert_eq!(
        json["map"]["dimms"].as_array().unwrap().len(),
        AWKWARD.len()
    );
    assert!(json["diagnostics"].is_array());
}

/// A stand-in for QEMU that records its arguments, NUL-separated.
fn recording_stub(dir: &Path) -> (PathBuf, PathBuf) {
    let stub = dir.join("fake-qemu");
    let record = dir.join("args.bin");
    fs::write(
        &stub,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", stub.to_str().unwrap()])
        .status()
        .unwrap();
    (stub, record)
}

#[test]
fn script_creates_missing_files_sparse_keeps_existing_ones_and_execs_the_argv() {
    let env = Env::new();
    let (stub, record) = recording_stub(env.path());
    let mut p = awkward_profile(&env.path().join("files"));
    p.qemu = Some(stub.clone());
    let file = env.path().join("p.ron");
    save_profile(&file, &p).unwrap();
    let f = file.to_str().unwrap();

    // One backing file exists already, larger than its size, with data.
    let existing = p.devices[1].backend.path().unwrap().to_path_buf();
    fs::create_dir_all(existing.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..64u32 << 10).map(|i| (i % 251) as u8).collect();
    fs::write(&existing, &data).unwrap();
    let before = fs::metadata(&existing).unwrap();

    let script = env.path().join("vm.sh");
    env.qpmem(&[
        "render",
        f,
        "--format",
        "script",
        "-o",
        script.to_str().unwrap(),
    ]);
    let n = std::process::Command::new("sh")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(n.success(), "sh -n refused the script");
    assert!(
        fs::metadata(&script).unwrap().mode() & 0o100 != 0,
        "executable"
    );

    let st = std::process::Command::new("sh")
        .arg(&script)
        .args(["-S", "extra arg"])
        .status()
        .unwrap();
    assert!(st.success());
    let recorded = fs::read(&record).unwrap();
    let mut got: Vec<String> = String::from_utf8(recorded)
        .unwrap()
        .split('\0')
        .map(str::to_string)
        .collect();
    got.pop();
    let mut want = argv_lines(&env.qpmem(&["render", f, "--format", "argv"]));
    assert_eq!(want[0], stub.to_str().unwrap());
    want.remove(0);
    want.extend(["-S".to_string(), "extra arg".to_string()]);
    assert_eq!(got, want);

    for (i, d) in p.devices.iter().enumerate() {
        let path = d.backend.path().unwrap();
        let m = fs::metadata(path).unwrap();
        if i == 1 {
            assert!(fs::read(path).unwrap() == data, "existing file modified");
            assert_eq!(m.len(), before.len());
            assert_eq!(m.modified().unwrap(), before.modified().unwrap());
        } else {
            assert_eq!(m.len(), d.size.0, "{}", path.display());
            assert!(m.blocks() * 512 < 1 << 20, "sparse: {} blocks", m.blocks());
        }
    }
}

#[test]
fn script_run_with_dash_s_is_accepted_by_real_qemu() {
    if !have("qemu-system-x86_64") {
        return;
    }
    let env = Env::new();
    let mut p = awkward_profile(&env.path().join("files"));
    p.append = None; // no kernel: -append alone is refused by QEMU
    let file = env.path().join("p.ron");
    save_profile(&file, &p).unwrap();
    let script = env.path().join("vm.sh");
    env.qpmem(&[
        "render",
        file.to_str().unwrap(),
        "--format",
        "script",
        "-o",
        script.to_str().unwrap(),
    ]);
    let sock = env.path().join("qmp.sock");
    let mut child = std::process::Command::new("sh")
        .arg(&script)
        .args(["-S", "-nodefaults", "-display", "none", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut qmp = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("QEMU refused the script's command line ({status}):\n{err}");
        }
        if sock.exists() {
            if let Ok(q) = qpmem::qemu::Qmp::connect(&sock, Duration::from_secs(10), child.id()) {
                break q;
            }
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("QEMU did not open QMP");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let devices = qmp.query_memory_devices().unwrap();
    let _ = qmp.execute("quit", None);
    let _ = child.wait();
    assert_eq!(devices.len(), AWKWARD.len(), "{devices:?}");
    for (d, want) in devices.iter().zip(&p.devices) {
        assert_eq!(d.id.as_deref(), Some(want.id.as_str()));
    }
}

#[test]
fn libvirt_output_of_every_example_passes_virt_xml_validate() {
    let Some(validator) = common::virt_xml_validate_or_skip(
        "libvirt_output_of_every_example_passes_virt_xml_validate",
    ) else {
        return;
    };
    let env = Env::new();
    let mut names: Vec<String> = qpmem::core::examples::EXAMPLES
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    // And the awkward profile, for escaping.
    let file = env.path().join("awkward.ron");
    let mut awk = awkward_profile(env.path());
    awk.kernel = Some("/boot/vmlinuz <&>".into());
    save_profile(&file, &awk).unwrap();
    names.push(file.to_str().unwrap().to_string());
    // Every device kind, virtio-mem with its block size.
    let mix_file = env.path().join("mix.ron");
    let mut mix = Profile::empty("mix");
    let mut vmem = Dimm::virtio_mem(4, Size::gib(1));
    vmem.block_size = Some(Size::mib(4));
    mix.devices = vec![
        Dimm::nvdimm(1, env.path().join("nv1"), Size::gib(1)),
        Dimm::pc_dimm(2, Size::gib(1)),
        Dimm::virtio_pmem(3, env.path().join("vp3"), Size::gib(1)),
        vmem,
    ];
    save_profile(&mix_file, &mix).unwrap();
    names.push(mix_file.to_str().unwrap().to_string());
    for name in &names {
        let xml = env.path().join("domain.xml");
        env.qpmem(&[
            "render",
            name,
            "--format",
            "libvirt",
            "-o",
            xml.to_str().unwrap(),
        ]);
        let text = fs::read_to_string(&xml).unwrap();
        if name.starts_with("cxl") {
            // No CXL model in libvirt: the CXL part is passed through.
            assert!(text.contains("<qemu:arg value='cxl-type3,"), "{text}");
        } else {
            assert!(text.contains("<memory model='nvdimm'"), "{text}");
        }
        if name == "virtio-pmem" || name.ends_with("mix.ron") {
            assert!(
                text.contains("<memory model='virtio-pmem' access='shared'>"),
                "{text}"
            );
        }
        if name.ends_with("awkward.ron") {
            // Extra arguments pass through, escaped, in the qemu namespace.
            assert!(
                text.contains("<qemu:arg value='vm &quot;quoted&quot;,, $HOME'/>"),
                "{text}"
            );
            assert!(text.contains("xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"));
        }
        if name.ends_with("mix.ron") {
            assert!(text.contains("<memory model='virtio-mem'>"), "{text}");
            assert!(text.contains("<block unit='KiB'>4096</block>"), "{text}");
        }
        common::assert_valid_domain(&validator, &xml, &format!("{name}:\n{text}"));
    }
}

#[test]
fn guest_commands_follow_the_profile() {
    let env = Env::new();
    let numa = env.qpmem(&["render", "numa", "--format", "guest"]);
    assert_eq!(numa.matches("ndctl init-labels").count(), 4, "{numa}");
    assert_eq!(numa.matches("mount -o dax").count(), 4, "{numa}");
    assert_eq!(numa.matches("qpmem_region 0x").count(), 4, "{numa}");
    let ll = env.qpmem(&["render", "label-less", "--format", "guest"]);
    assert!(!ll.contains("init-labels"), "{ll}");
    assert!(ll.contains("--mode=fsdax"), "{ll}");
    let guest = env.path().join("guest.sh");
    env.qpmem(&[
        "render",
        "numa",
        "--format",
        "guest",
        "-o",
        guest.to_str().unwrap(),
    ]);
    assert_eq!(fs::read_to_string(&guest).unwrap(), numa);
    let n = std::process::Command::new("sh")
        .arg("-n")
        .arg(&guest)
        .status()
        .unwrap();
    assert!(n.success());
}

#[test]
fn osc52_matches_an_independent_base64() {
    // RFC 4648 test vectors.
    for (plain, b64) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        let want = [b"\x1b]52;c;".as_slice(), b64.as_bytes(), b"\x07"].concat();
        assert_eq!(qpmem::clipboard::osc52(plain).as_bytes(), want.as_slice());
    }
    // A real command line, against coreutils' base64.
    let p = awkward_profile(Path::new("/vms"));
    let line = qpmem::core::cmdline::render_shell(&p);
    if !have("base64") {
        return;
    }
    let mut child = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let want = [b"\x1b]52;c;".as_slice(), out.stdout.as_slice(), b"\x07"].concat();
    let mut term = Vec::new();
    let report = qpmem::clipboard::copy(&line, &mut term, &qpmem::clipboard::Env::default());
    assert_eq!(term, want);
    assert_eq!(report.ways, [qpmem::clipboard::Way::Osc52]);
}

/// The guest script run by a real sh against a fake nd sysfs tree in which
/// the guest numbered the regions in reverse (as real guests may), with
/// ndctl, mkfs.ext4 and mount replaced by stubs that log their arguments.
#[test]
fn guest_script_finds_each_dimm_by_address_not_by_number() {
    let env = Env::new();
    let root = env.path();
    let nd = root.join("nd");
    for (region, addr, nmem) in [
        ("region0", "0x538000000", "nmem1"),
        ("region1", "0x100000000", "nmem0"),
    ] {
        fs::create_dir_all(nd.join(region)).unwrap();
        fs::write(nd.join(region).join("resource"), format!("{addr}\n")).unwrap();
        fs::write(
            nd.join(region).join("mapping0"),
            format!("{nmem},0,18117296128,0\n"),
        )
        .unwrap();
    }
    let bin = root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let log = root.join("log");
    let stub = |name: &str, extra: &str| {
        let path = bin.join(name);
        fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{extra}",
                log.display()
            ),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", path.to_str().unwrap()])
            .status()
            .unwrap();
    };
    // create-namespace --region=regionN prints ndctl's JSON naming pmemN.
    stub(
        "ndctl",
        "case \"$*\" in *create-namespace*) n=${2#--region=region}; printf '{\\n  \"dev\":\"namespace%s.0\",\\n  \"blockdev\":\"pmem%s\"\\n}\\n' \"$n\" \"$n\";; esac\n",
    );
    stub("mkfs.ext4", "");
    stub("mount", "");

    let text = env
        .qpmem(&["render", "default", "--format", "guest"])
        .replace("/sys/bus/nd/devices", nd.to_str().unwrap())
        .replace("/mnt/", &format!("{}/mnt/", root.display()));
    let script = root.join("guest.sh");
    fs::write(&script, text).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("sh")
        .arg(&script)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = fs::read_to_string(&log).unwrap();
    let mnt = root.join("mnt");
    let want = format!(
        "ndctl disable-region region1\n\
         ndctl init-labels nmem0\n\
         ndctl enable-region region1\n\
         ndctl create-namespace --region=region1 --mode=fsdax --align=2M\n\
         mkfs.ext4 /dev/pmem1\n\
         mount -o dax /dev/pmem1 {m}/nv1\n\
         ndctl disable-region region0\n\
         ndctl init-labels nmem1\n\
         ndctl enable-region region0\n\
         ndctl create-namespace --region=region0 --mode=fsdax --align=2M\n\
         mkfs.ext4 /dev/pmem0\n\
         mount -o dax /dev/pmem0 {m}/nv2\n",
        m = mnt.display()
    );
    assert_eq!(log, want);
    assert!(mnt.join("nv1").is_dir() && mnt.join("nv2").is_dir());

    // A DIMM the guest does not show is an error, not a silent skip.
    fs::remove_dir_all(nd.join("region0")).unwrap();
    let out = std::process::Command::new("sh")
        .arg(&script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no nd region at 0x538000000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An arm64 profile (UEFI as -bios, -cpu max, GICv3) and the same with
/// a pflash drive: libvirt's `<os>` names aarch64 and virt with the
/// firmware as `<loader>`, ACPI is on, and virt-xml-validate accepts it.
#[test]
fn libvirt_output_of_an_arm64_profile_passes_virt_xml_validate() {
    let Some(validator) = common::virt_xml_validate_or_skip(
        "libvirt_output_of_an_arm64_profile_passes_virt_xml_validate",
    ) else {
        return;
    };
    let env = Env::new();
    let mut p = Profile::empty("arm64");
    p.make_aarch64();
    p.machine_options = vec!["gic-version=3".into()];
    p.extra_args.extend([
        "-bios".to_string(),
        "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd".to_string(),
    ]);
    p.ram = Size::gib(1);
    p.devices = vec![
        Dimm::nvdimm(1, env.path().join("nv1"), Size::gib(1)),
        Dimm::nvdimm(2, env.path().join("nv2"), Size::mib(512 + 2)),
    ];
    let mut pflash = p.clone();
    pflash.extra_args.truncate(2);
    pflash.extra_args.extend([
        "-drive".to_string(),
        "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd".to_string(),
    ]);
    for (name, profile, loader) in [
        (
            "bios",
            &p,
            "<loader readonly='yes' type='rom'>/usr/share/qemu-efi-aarch64/QEMU_EFI.fd</loader>",
        ),
        (
            "pflash",
            &pflash,
            "<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>",
        ),
    ] {
        let file = env.path().join(format!("{name}.ron"));
        save_profile(&file, profile).unwrap();
        let xml = env.path().join(format!("{name}.xml"));
        env.qpmem(&[
            "render",
            file.to_str().unwrap(),
            "--format",
            "libvirt",
            "-o",
            xml.to_str().unwrap(),
        ]);
        let text = fs::read_to_string(&xml).unwrap();
        for want in [
            "<type arch='aarch64' machine='virt'>hvm</type>",
            loader,
            "<acpi/>",
            "<gic version='3'/>",
            "<cpu mode='maximum'>",
        ] {
            assert!(text.contains(want), "{name}: no {want} in\n{text}");
        }
        assert_eq!(text.matches("<memory model='nvdimm'").count(), 2);
        assert!(!text.contains("not carried over"), "{name}: {text}");
        common::assert_valid_domain(&validator, &xml, &format!("{name}:\n{text}"));
    }
}
