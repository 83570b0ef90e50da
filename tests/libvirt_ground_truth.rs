//! Ground truth: the libvirt export run by a real libvirtd.
//!
//! For generated profiles (nvdimm and pc-dimm mixes, labels, align, NUMA
//! nodes, sometimes a virtio-mem), `qpmem render --format libvirt` is
//! held two ways:
//! - `virsh domxml-to-native qemu-argv`: the names, slots, backend sizes
//!   and `prealloc` libvirt gives each device equal what
//!   `core::libvirt::predict` (the export's notes, `check --libvirt`)
//!   says;
//! - `virsh create --paused` (TCG) and `query-memory-devices` through
//!   `virsh qemu-monitor-command`: every device's slot, address and size
//!   equal `qpmem map --json` of the same profile, device by device, and a
//!   preallocated backing file is fully allocated on disk while a
//!   `pmem=on` one stays sparse.
//!
//! libvirt's QEMU runs as `libvirt-qemu` on Debian (qemu.conf's default
//! user) and libvirt 9.0 does not relabel NVDIMM paths: the test hands
//! its scratch directory and backing files to that user.

mod common;

use common::libvirt::{libvirtd_or_skip, one_domain_at_a_time, URI};
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::libvirt::{predict, DevicePrediction};
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::{Size, GIB, MIB};
use qpmem::store::save_profile;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn qpmem(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qpmem"))
        .args(args)
        .output()
        .expect("run qpmem");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "qpmem {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn virsh(args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .args(["-c", URI])
        .args(args)
        .output()
        .map_err(|e| format!("virsh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "virsh {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Destroys the domain when dropped, whatever happened.
struct Domain(String);

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.0]);
    }
}

/// The uid and gid libvirt's QEMU runs as: `libvirt-qemu` when that user
/// exists (Debian's default), else none (QEMU runs as root).
fn qemu_user() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "libvirt-qemu"])
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// One generated device: kind (0 nvdimm, 1 pc-dimm, 2 virtio-mem; libvirt
/// 9.0 cannot start virtio-pmem, QP906, held below), a
/// size pick, a label/align pick, a NUMA node pick, pmem=on.
type GenDevice = (u8, u8, u8, u8, bool);

fn device(n: usize, dir: &Path, (kind, size, shape, node, pmem): GenDevice, nodes: u32) -> Dimm {
    let pick = |list: &[u64]| list[usize::from(size) % list.len()];
    let mut d = match kind % 3 {
        0 => {
            let mut d = Dimm::nvdimm(
                n,
                dir.join(format!("nv{n}")),
                Size(pick(&[GIB + 2 * MIB, 514 * MIB, GIB + 4 * MIB, 256 * MIB])),
            );
            d.label_size = Size([0, 128 * 1024, 2 * MIB][usize::from(shape) % 3]);
            d.align = [None, Some(Size::mib(2)), Some(Size::mib(128))][usize::from(shape / 3) % 3];
            d.pmem = pmem;
            d
        }
        1 => Dimm::pc_dimm(n, Size(pick(&[512 * MIB, 256 * MIB, GIB]))),
        _ => Dimm::virtio_mem(n, Size(pick(&[256 * MIB, 512 * MIB]))),
    };
    if d.kind.spec().qmp_type() != "virtio-pmem" && nodes > 0 {
        d.node = Some(u32::from(node) % nodes);
    }
    d
}

/// The memory `-object`s and `-device`s of `virsh domxml-to-native`, by id.
fn native_json(argv: &str) -> Vec<Value> {
    argv.split(" '")
        .skip(1)
        .filter_map(|s| s.split('\'').next())
        .filter_map(|s| serde_json::from_str::<Value>(s).ok())
        .collect()
}

fn by_id<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().find(|v| v["id"] == id)
}

fn compare_native(native: &[Value], pr: &DevicePrediction) -> Result<(), String> {
    let dev = by_id(native, &pr.alias).ok_or(format!("no -device id {}", pr.alias))?;
    let obj = by_id(native, &pr.backend).ok_or(format!("no -object id {}", pr.backend))?;
    let got = (
        dev["memdev"].as_str().map(str::to_string),
        dev["slot"].as_u64().map(|s| s as u32),
        obj["size"].as_u64(),
        obj["prealloc"].as_bool().unwrap_or(false),
    );
    let want = (
        Some(pr.backend.clone()),
        pr.slot,
        Some(pr.size),
        pr.prealloc,
    );
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{}: domxml-to-native (memdev, slot, size, prealloc) {got:?}, predicted {want:?}",
            pr.id
        ))
    }
}

/// The backing files at the sizes libvirt gives QEMU, empty and sparse,
/// owned by libvirt's QEMU user.
fn make_files(p: &Profile, predicted: &[DevicePrediction], owner: Option<(u32, u32)>) {
    for (d, pr) in p.devices.iter().zip(predicted) {
        if let Some(path) = d.backend.path() {
            let f = std::fs::File::create(path).unwrap();
            f.set_len(pr.size).unwrap();
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
    }
}

#[test]
fn libvirt_runs_the_export_where_the_map_says() {
    use proptest::prelude::*;
    let test = "libvirt_runs_the_export_where_the_map_says";
    if common::qemu_or_skip(test).is_none() || libvirtd_or_skip(test).is_none() {
        return;
    }
    let _one = one_domain_at_a_time();
    let owner = qemu_user();
    let gen_device = (0u8..3, any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>());
    let strategy = (
        any::<bool>(),
        0u32..3,
        proptest::collection::vec(gen_device, 1..5),
    );
    let compared = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(common::proptest_config(4));
    let result = runner.run(&strategy, |(q35, nodes, devices)| {
        let dir = tempfile::tempdir().unwrap();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        // A name no leftover domain has.
        let name = format!(
            "qpmem-gt-{}",
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let mut p = Profile::empty(&name);
        p.machine = if q35 { "q35" } else { "pc" }.into();
        p.ram = Size(GIB);
        p.cpus = 2;
        p.numa_nodes = nodes;
        p.devices = devices
            .iter()
            .enumerate()
            .map(|(i, d)| device(i + 1, dir.path(), *d, nodes))
            .collect();
        let dimms = p
            .devices
            .iter()
            .filter(|d| d.kind.spec().takes_slot())
            .count();
        p.slots = Auto::Fixed(dimms.max(1) as u32);
        let total: u64 = p.devices.iter().map(|d| d.size.0).sum();
        p.maxmem = Auto::Fixed(Size(GIB + total + GIB));

        let l = layout(&p, &HostFacts::default()).unwrap();
        prop_assume!(l.devices.iter().all(|d| d.result.is_ok()));
        let predicted = predict(&p, Some(&l));
        let file = dir.path().join("p.ron");
        save_profile(&file, &p).unwrap();
        let file = file.to_str().unwrap();
        let xml: PathBuf = dir.path().join("domain.xml");
        qpmem(&[
            "render",
            file,
            "--format",
            "libvirt",
            "-o",
            xml.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&xml).unwrap();
        let map: Value = serde_json::from_str(&qpmem(&["map", file, "--json"])).unwrap();

        // What libvirt will run, against the prediction.
        let argv = virsh(&["domxml-to-native", "qemu-argv", xml.to_str().unwrap()])
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let native = native_json(&argv);
        for pr in &predicted {
            compare_native(&native, pr).map_err(|e| TestCaseError::fail(format!("{e}\n{argv}")))?;
        }

        // What it runs, against the map.
        make_files(&p, &predicted, owner);
        virsh(&["create", xml.to_str().unwrap(), "--paused"])
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let _domain = Domain(name.clone());
        let answer = virsh(&[
            "qemu-monitor-command",
            &name,
            r#"{"execute":"query-memory-devices"}"#,
        ])
        .map_err(TestCaseError::fail)?;
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let actual = answer["return"].as_array().unwrap();
        prop_assert_eq!(actual.len(), p.devices.len(), "{}", answer);
        let dimms = map["dimms"].as_array().unwrap();
        for (pr, want) in predicted.iter().zip(dimms) {
            prop_assert_eq!(want["id"].as_str(), Some(pr.id.as_str()));
            let got = actual
                .iter()
                .map(|a| &a["data"])
                .find(|a| a["id"] == pr.alias.as_str());
            prop_assert!(got.is_some(), "QEMU has no {}: {}", pr.alias, answer);
            let got = got.unwrap();
            let addr = got.get("addr").or_else(|| got.get("memaddr"));
            // virtio-mem's `size` is what the guest plugged; the region it
            // takes is its `max-size`.
            let size = got.get("max-size").unwrap_or(&got["size"]);
            prop_assert_eq!(
                (
                    got["slot"].as_u64(),
                    addr.and_then(Value::as_u64),
                    size.as_u64()
                ),
                (
                    want["slot"].as_u64(),
                    want["addr"].as_u64(),
                    want["size"].as_u64()
                ),
                "{} ({}): QEMU under libvirt vs map --json\n{}",
                pr.id,
                pr.alias,
                text
            );
            compared.set(compared.get() + 1);
        }
        // prealloc is visible on disk: a preallocated file is all there.
        for (d, pr) in p.devices.iter().zip(&predicted) {
            if let Some(path) = d.backend.path() {
                let m = std::fs::metadata(path).unwrap();
                let allocated = m.blocks() * 512;
                prop_assert_eq!(
                    allocated >= pr.size,
                    pr.prealloc,
                    "{}: {} of {} bytes allocated, prealloc predicted {}",
                    d.id,
                    allocated,
                    pr.size,
                    pr.prealloc
                );
            }
        }
        Ok(())
    });
    eprintln!("libvirt: {} devices compared", compared.get());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(compared.get() > 0, "no case ran a domain");
}

/// libvirt 9.0 defines a domain with virtio-pmem and then fails to start
/// it, as QP906 says: `virsh create --paused` of the built-in
/// `virtio-pmem` example's export gives libvirt's own error, and
/// `check --libvirt` names the device beforehand.
#[test]
fn libvirt_9_0_cannot_start_virtio_pmem_as_qp906_says() {
    let test = "libvirt_9_0_cannot_start_virtio_pmem_as_qp906_says";
    if common::qemu_or_skip(test).is_none() || libvirtd_or_skip(test).is_none() {
        return;
    }
    let _one = one_domain_at_a_time();
    let version = virsh(&["version", "--daemon"]).unwrap();
    if !version.contains("libvirt 9.0.") {
        eprintln!("{test}: SKIPPED: QP906 is libvirt 9.0's; this daemon says {version}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    if let Some((uid, gid)) = qemu_user() {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    }
    let name = format!(
        "qpmem-gt-{}",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let mut p = qpmem::core::examples::find("virtio-pmem")
        .unwrap()
        .load(dir.path())
        .unwrap();
    p.name = name.clone();
    let file = dir.path().join("p.ron");
    save_profile(&file, &p).unwrap();
    let file = file.to_str().unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_qpmem"))
        .args(["check", file, "--libvirt", "--connect", URI])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("QP906"), "{said}");
    let xml = qpmem(&["render", file, "--format", "libvirt"]);
    let l = layout(&p, &HostFacts::default()).unwrap();
    make_files(&p, &predict(&p, Some(&l)), qemu_user());
    let domain = dir.path().join("domain.xml");
    std::fs::write(&domain, &xml).unwrap();
    let _gone = Domain(name.clone());
    let err = virsh(&["create", domain.to_str().unwrap(), "--paused"]).unwrap_err();
    assert!(
        err.contains("virtio-pmem memory device info is not handled yet"),
        "{err}"
    );
}
