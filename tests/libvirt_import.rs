//! libvirt domains read back: `import --libvirt FILE`, `import --domain
//! NAME` against a real libvirtd, a domain XML as SOURCE, and the export
//! of generated profiles imported again (pure, no libvirt needed).
//!
//! The fixtures are domains in the shapes of libvirt's own test data
//! (tests/qemuxmlconfdata/memory-hotplug-nvdimm*.xml, -virtio-pmem.xml,
//! -virtio-mem.xml), written here, each device's numbers as libvirt means
//! them.

mod common;

use assert_cmd::Command;
use proptest::prelude::*;
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::core::libvirt_import::import_domain;
use qpmem::core::map;
use qpmem::core::profile::{Addr, Auto, Dimm, DimmKind, Profile};
use qpmem::core::size::{Size, GIB, KIB, MIB};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

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
    fn qpmem(&self) -> Command {
        let mut c = Command::cargo_bin("qpmem").unwrap();
        c.env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("HOME", self.path())
            .current_dir(self.path())
            .timeout(Duration::from_secs(60));
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
    fn ok(&self, args: &[&str]) -> (String, String) {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "qpmem {args:?} failed:\n{out}\n{err}");
        (out, err)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn map_json(p: &Profile) -> Value {
    let l = layout(p, &HostFacts::default()).unwrap();
    serde_json::to_value(map::to_json(p, &l)).unwrap()
}

/// The domain part of an export (the leading comment holds notes, which
/// depend on what the profile left to the host).
fn body(xml: &str) -> &str {
    &xml[xml.find("-->").map_or(0, |i| i + 4)..]
}

/// The export as `render --format libvirt` writes it (slots pinned to
/// qpmem's map).
fn render(p: &Profile) -> String {
    let l = qpmem::core::layout::layout(p, &qpmem::core::facts::HostFacts::default()).ok();
    qpmem::core::export::libvirt::render(
        p,
        Some(Path::new("/usr/bin/qemu-system-x86_64")),
        l.as_ref(),
    )
    .text
}

// ---------------------------------------------------------------------
// Round trip of generated profiles (pure).

#[derive(Debug, Clone)]
struct Dev {
    kind: DimmKind,
    units: u64,
    label: u64,
    align: Option<u64>,
    share: bool,
    pmem: bool,
    node: u32,
    pin_slot: bool,
    pin_addr: bool,
    big_block: bool,
}

fn dev() -> impl Strategy<Value = Dev> {
    (
        prop::sample::select(DimmKind::ALL.to_vec()),
        2u64..200,
        prop::sample::select(vec![0, 128 * KIB, 2 * MIB]),
        prop::sample::select(vec![None, Some(2 * MIB), Some(128 * MIB)]),
        any::<bool>(),
        any::<bool>(),
        0u32..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(kind, units, label, align, share, pmem, node, pin_slot, pin_addr, big_block)| Dev {
                kind,
                units,
                label,
                align,
                share,
                pmem,
                node,
                pin_slot,
                pin_addr,
                big_block,
            },
        )
}

/// A profile libvirt takes as it is (sizes in whole 2 MiB, RAM a whole
/// number of MiB in each NUMA cell), with some devices pinned where QEMU
/// would put them anyway.
fn profile() -> impl Strategy<Value = Profile> {
    (
        prop::sample::select(vec!["pc", "q35"]),
        prop::sample::select(vec![768u64, 1536, 3072, 6144]),
        1u32..5,
        0u32..4,
        prop::collection::vec(dev(), 1..6),
        prop::option::of(0u64..8),
        prop::option::of(0u32..3),
    )
        .prop_map(|(machine, ram, cpus, nodes, devs, maxmem, slots)| {
            let mut p = Profile::empty("roundtrip");
            p.machine = machine.into();
            p.ram = Size::mib(ram);
            p.cpus = cpus;
            p.numa_nodes = nodes;
            // Numbered per kind, as qpmem names new devices.
            let mut counts = [0usize; 4];
            for d in &devs {
                let k = DimmKind::ALL.iter().position(|x| *x == d.kind).unwrap();
                counts[k] += 1;
                let n = counts[k];
                let path = PathBuf::from(format!("/vms/rt-{n}"));
                let mut x = match d.kind {
                    DimmKind::Nvdimm => {
                        // At least 256 MiB: room for a 128 MiB-aligned area.
                        let mut x = Dimm::nvdimm(n, path, Size(128 * MIB + d.units * 2 * MIB));
                        x.label_size = Size(d.label);
                        x.align = d.align.map(Size);
                        x.pmem = d.pmem;
                        x
                    }
                    DimmKind::PcDimm => Dimm::pc_dimm(n, Size(d.units * 2 * MIB)),
                    DimmKind::VirtioPmem => Dimm::virtio_pmem(n, path, Size(d.units * 2 * MIB)),
                    DimmKind::VirtioMem => {
                        let mut x = Dimm::virtio_mem(n, Size(d.units * 4 * MIB));
                        x.block_size = d.big_block.then_some(Size::mib(4));
                        x.requested_size = d.pin_slot.then_some(Size::mib(4));
                        x
                    }
                };
                if x.backend.path().is_some() {
                    x.share = d.share;
                }
                if nodes > 0 && d.kind != DimmKind::VirtioPmem {
                    x.node = Some(d.node % nodes);
                }
                p.devices.push(x);
            }
            let total: u64 = p.ram.0 + p.devices.iter().map(|d| d.size.0).sum::<u64>();
            if let Some(extra) = maxmem {
                p.maxmem = Auto::Fixed(Size(total + extra * GIB));
            }
            if let Some(spare) = slots {
                let dimms = p
                    .devices
                    .iter()
                    .filter(|d| d.kind.spec().takes_slot())
                    .count();
                p.slots = Auto::Fixed(u32::try_from(dimms).unwrap() + spare);
            }
            // Pin what QEMU chose: the same map, written down.
            let m = map_json(&p);
            for (i, d) in devs.iter().enumerate() {
                let placed = &m["dimms"][i];
                let x = &mut p.devices[i];
                if !x.kind.spec().takes_slot() {
                    continue;
                }
                if d.pin_slot {
                    x.slot = Some(u32::try_from(placed["slot"].as_u64().unwrap()).unwrap());
                }
                if d.pin_addr {
                    x.addr = Some(Addr(placed["addr"].as_u64().unwrap()));
                }
            }
            p
        })
}

/// What libvirt itself changes, as the export notes it: maxMemory holds
/// every module's full size (at least RAM + modules, in whole MiB), its
/// slots count every memory device, virtio ones too (libvirt 9.0 refuses
/// fewer: "memory device count '2' exceeds slots count '1'"), and there
/// is always a NUMA cell. libvirt runs QEMU with exactly that.
fn as_libvirt_runs(p: &Profile) -> Profile {
    let mut e = p.clone();
    let total: u64 = p.ram.0 + p.devices.iter().map(|d| d.size.0).sum::<u64>();
    let max = p.effective_maxmem().div_ceil(MIB) * MIB;
    e.maxmem = Auto::Fixed(Size(max.max(total)));
    let devices = u32::try_from(p.devices.len()).unwrap();
    e.slots = Auto::Fixed(p.effective_slots().max(devices));
    e.numa_nodes = p.numa_nodes.max(1);
    e
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn import_of_the_export_maps_as_the_original(p in profile()) {
        let xml = render(&p);
        let (back, notes) = import_domain(&xml).unwrap();
        prop_assert!(notes.is_empty(), "{notes:?}\n{xml}");
        let want = as_libvirt_runs(&p);
        prop_assert_eq!(map_json(&back), map_json(&want), "{}", xml);
        // Device by device, whatever libvirt changed around them.
        prop_assert_eq!(&map_json(&back)["dimms"], &map_json(&p)["dimms"]);
        // Exporting the import gives the same domain again.
        let again = render(&back);
        prop_assert_eq!(body(&again), body(&xml));
    }
}

#[test]
fn a_profile_libvirt_takes_unchanged_maps_exactly_as_before_through_the_binary() {
    let env = Env::new();
    let mut p = Profile::empty("lv-exact");
    p.ram = Size::mib(1536);
    p.numa_nodes = 2;
    p.cpus = 4;
    p.maxmem = Auto::Fixed(Size::gib(40));
    p.slots = Auto::Fixed(4);
    let mut nv = Dimm::nvdimm(1, env.path().join("nv1"), Size::gib(4));
    nv.node = Some(1);
    p.devices = vec![
        nv,
        Dimm::pc_dimm(1, Size::gib(1)),
        Dimm::virtio_pmem(1, env.path().join("vp1"), Size::gib(2)),
        Dimm::virtio_mem(1, Size::gib(1)),
    ];
    let src = env.path().join("orig.ron");
    qpmem::store::save_profile(&src, &p).unwrap();
    let src = src.to_str().unwrap();
    let (xml, _) = env.ok(&["render", "--format", "libvirt", src]);
    env.write("lv-exact.xml", &xml);
    let (_, err) = env.ok(&["import", "--libvirt", "lv-exact.xml", "--save", "lvexact"]);
    assert!(err.contains("Saved the profile 'lvexact'"), "{err}");
    let (orig, _) = env.ok(&["map", "--json", src]);
    let (back, _) = env.ok(&["map", "--json", "lvexact"]);
    let orig: Value = serde_json::from_str(&orig).unwrap();
    let back: Value = serde_json::from_str(&back).unwrap();
    assert_eq!(back, orig);
    assert_eq!(orig["dimms"].as_array().unwrap().len(), 4);
    // The XML file itself is a SOURCE, with the same map.
    let (direct, _) = env.ok(&["map", "--json", "lv-exact.xml"]);
    assert_eq!(serde_json::from_str::<Value>(&direct).unwrap(), orig);
}

// ---------------------------------------------------------------------
// Real-world shapes.

/// memory-hotplug-nvdimm-label's shape: a disk, controllers, a balloon,
/// `<cpu mode='custom'>` with a model and topology, one cell, an NVDIMM
/// with a 128 KiB label pinned to slot 0, sizes in KiB.
const NVDIMM_LABEL: &str = "<?xml version='1.0' encoding='UTF-8'?>
<!-- as virsh dumpxml writes it -->
<domain type='kvm'>
  <name>lvi-nvdimm-label</name>
  <uuid>0b9a3e4c-5d6e-4f70-8a1b-2c3d4e5f6071</uuid>
  <maxMemory slots='16' unit='KiB'>16777216</maxMemory>
  <memory unit='KiB'>1572864</memory>
  <currentMemory unit='KiB'>1572864</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='host-model' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
    <topology sockets='2' cores='1' threads='1'/>
    <numa>
      <cell id='0' cpus='0-1' memory='1048576' unit='KiB'/>
    </numa>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/guest.qcow2'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'/>
    <memballoon model='virtio'/>
    <memory model='nvdimm' access='shared'>
      <source>
        <path>/var/lib/libvirt/nvdimm-a</path>
        <alignsize unit='MiB'>2</alignsize>
        <pmem/>
      </source>
      <target>
        <size unit='KiB'>524288</size>
        <node>0</node>
        <label>
          <size unit='KiB'>128</size>
        </label>
      </target>
      <address type='dimm' slot='0'/>
    </memory>
  </devices>
</domain>
";

/// memory-hotplug-virtio-pmem's shape: a private virtio-pmem on a PCI
/// slot, sizes in MiB and bytes, no NUMA cells.
const VIRTIO_PMEM: &str = "<domain type='qemu'>
  <name>lvi-virtio-pmem</name>
  <maxMemory slots='16' unit='GiB'>8</maxMemory>
  <memory unit='MiB'>1536</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>/boot/vmlinuz</kernel>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memory model='virtio-pmem' access='private'>
      <source>
        <path>/tmp/virtio_pmem</path>
      </source>
      <target>
        <size unit='b'>536870912</size>
      </target>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </memory>
  </devices>
</domain>
";

/// memory-hotplug-virtio-mem's shape: maxMemory without slots, two
/// virtio-mem devices (the second at a fixed base, 4 MiB blocks, hugepage
/// source), a requested size, PCI addresses; then a DIMM with a base.
const VIRTIO_MEM: &str = "<domain type='kvm'>
  <name>lvi-virtio-mem</name>
  <maxMemory unit='KiB'>16777216</maxMemory>
  <memory unit='KiB'>5242880</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu>
    <numa>
      <cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>
    </numa>
  </cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memory model='virtio-mem'>
      <target>
        <size unit='KiB'>1048576</size>
        <node>0</node>
        <block unit='KiB'>2048</block>
        <requested unit='KiB'>524288</requested>
      </target>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memory>
    <memory model='virtio-mem'>
      <source>
        <pagesize unit='KiB'>2048</pagesize>
      </source>
      <target>
        <size unit='GiB'>1</size>
        <node>0</node>
        <block unit='MiB'>4</block>
        <requested unit='KiB'>0</requested>
        <address base='0x180000000'/>
      </target>
    </memory>
    <memory model='dimm'>
      <target>
        <size unit='KiB'>1048576</size>
        <node>0</node>
      </target>
      <address type='dimm' slot='1' base='0x200000000'/>
    </memory>
  </devices>
</domain>
";

fn dimm<'a>(p: &'a Profile, id: &str) -> &'a Dimm {
    p.devices
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", p.devices))
}

#[test]
fn an_nvdimm_with_a_label_as_libvirt_writes_it() {
    let (p, notes) = import_domain(NVDIMM_LABEL).unwrap();
    assert_eq!(p.name, "lvi-nvdimm-label");
    assert_eq!(p.machine, "pc-i440fx-7.2");
    assert_eq!(p.machine_options, ["accel=kvm"]);
    assert_eq!(p.cpus, 2);
    // RAM is the cell's, not <memory> (which counts the module).
    assert_eq!(p.ram, Size::gib(1));
    assert_eq!(p.maxmem, Auto::Fixed(Size::gib(16)));
    assert_eq!(p.slots, Auto::Fixed(16));
    assert_eq!(p.numa_nodes, 1);
    assert_eq!(
        p.qemu.as_deref(),
        Some(Path::new("/usr/bin/qemu-system-x86_64"))
    );
    let nv = dimm(&p, "nv1");
    assert_eq!(nv.kind, DimmKind::Nvdimm);
    assert_eq!(
        nv.backend.path(),
        Some(Path::new("/var/lib/libvirt/nvdimm-a"))
    );
    assert_eq!(nv.size, Size::mib(512));
    assert_eq!(nv.label_size, Size(128 * KIB));
    assert_eq!(nv.align, Some(Size::mib(2)));
    assert!(nv.share && nv.pmem);
    assert_eq!(nv.node, Some(0));
    assert_eq!(nv.slot, Some(0));
    assert_eq!(nv.addr, None);
    // The cpu's mode (not libvirt's default) has no place: noted. The disk (IDE, not
    // qpmem's virtio shape), controller, balloon, uuid, clock, boot, apic,
    // model and topology are kept.
    let said: Vec<String> = notes
        .iter()
        .map(|n| format!("{} {}", n.subject, n.detail))
        .collect();
    assert!(
        said.iter().any(|n| n.contains("mode='host-model'")),
        "{said:?}"
    );
    assert!(!said.iter().any(|n| n.contains("match=")), "{said:?}");
    assert!(p.disks.is_empty());
    let kept: Vec<&str> = p.libvirt.iter().map(|k| k.xml.as_str()).collect();
    for want in [
        "<uuid>",
        "<boot dev='hd'/>",
        "<apic/>",
        "<model fallback='forbid'>qemu64</model>",
        "<topology ",
        "<clock ",
        "<on_poweroff>",
        "<disk type='file' device='disk'>",
        "<controller ",
        "<memballoon ",
    ] {
        assert!(
            kept.iter().any(|k| k.starts_with(want)),
            "{want} not kept: {kept:?}"
        );
    }
    // The map: the device memory region of pc with 1 GiB RAM starts at
    // 4 GiB; the NVDIMM shows 512M - 128K there, aligned down to 2 MiB.
    let m = map_json(&p);
    assert_eq!(m["dimms"][0]["addr"], 4 * GIB);
    assert_eq!(m["dimms"][0]["size"], 510 * MIB);
    assert_eq!(m["maxmem"], 16 * GIB);
}

#[test]
fn kept_elements_are_written_back_and_the_export_still_validates() {
    let (p, _) = import_domain(NVDIMM_LABEL).unwrap();
    let xml = render(&p);
    for want in [
        "\n  <uuid>0b9a3e4c-5d6e-4f70-8a1b-2c3d4e5f6071</uuid>",
        "\n    <boot dev='hd'/>\n  </os>",
        "\n    <apic/>\n  </features>",
        "<topology sockets='2' cores='1' threads='1'/>\n  </cpu>",
        "<source file='/var/lib/libvirt/images/guest.qcow2'/>",
        "\n    <memballoon model='virtio'/>",
        "\n  <on_poweroff>destroy</on_poweroff>",
    ] {
        assert!(xml.contains(want), "{want:?} not in\n{xml}");
    }
    // Read again: the same profile (the kept elements are kept again).
    let (again, _) = import_domain(&xml).unwrap();
    assert_eq!(again, p);
    let Some(validator) = common::virt_xml_validate_or_skip(
        "kept_elements_are_written_back_and_the_export_still_validates",
    ) else {
        return;
    };
    let env = Env::new();
    let file = env.write("back.xml", &xml);
    common::assert_valid_domain(&validator, &file, &xml);
}

#[test]
fn a_virtio_pmem_domain_without_cells() {
    let (p, notes) = import_domain(VIRTIO_PMEM).unwrap();
    assert_eq!(p.machine, "q35");
    assert!(p.machine_options.is_empty());
    // <memory> less the module.
    assert_eq!(p.ram, Size::gib(1));
    assert_eq!(p.numa_nodes, 0);
    assert_eq!(p.maxmem, Auto::Fixed(Size::gib(8)));
    assert_eq!(p.kernel.as_deref(), Some(Path::new("/boot/vmlinuz")));
    assert_eq!(p.append.as_deref(), Some("console=ttyS0"));
    let vp = dimm(&p, "vpmem1");
    assert_eq!(vp.kind, DimmKind::VirtioPmem);
    assert_eq!(vp.size, Size::mib(512));
    assert!(!vp.share);
    assert_eq!(vp.node, None);
    // libvirt's firmware selection has no place in a profile: noted.
    assert!(
        notes
            .iter()
            .any(|n| n.subject == "<os>" && n.detail.contains("firmware='efi'")),
        "{notes:?}"
    );
    // Its PCI address is QEMU's to choose in qpmem's line: noted.
    assert!(
        notes
            .iter()
            .any(|n| n.subject == "vpmem1" && n.detail.contains("type='pci'")),
        "{notes:?}"
    );
    let m = map_json(&p);
    assert_eq!(m["dimms"][0]["addr"], 4 * GIB);
}

#[test]
fn virtio_mem_and_a_dimm_at_fixed_bases() {
    let (p, notes) = import_domain(VIRTIO_MEM).unwrap();
    assert_eq!(p.ram, Size::gib(2));
    assert_eq!(p.slots, Auto::Fixed(0));
    assert_eq!(p.maxmem, Auto::Fixed(Size::gib(16)));
    let a = dimm(&p, "vmem1");
    assert_eq!(
        (a.kind, a.size, a.block_size, a.addr),
        (DimmKind::VirtioMem, Size::gib(1), None, None)
    );
    let b = dimm(&p, "vmem2");
    assert_eq!(
        p.devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["vmem1", "vmem2", "dimm1"]
    );
    assert_eq!(b.block_size, Some(Size::mib(4)));
    assert_eq!(b.addr, Some(Addr(0x1_8000_0000)));
    let c = dimm(&p, "dimm1");
    assert_eq!(
        (c.kind, c.slot, c.addr),
        (DimmKind::PcDimm, Some(1), Some(Addr(0x2_0000_0000)))
    );
    let said: Vec<String> = notes
        .iter()
        .map(|n| format!("{}: {}", n.subject, n.detail))
        .collect();
    assert_eq!(a.requested_size, Some(Size::mib(512)));
    assert_eq!(b.requested_size, None);
    assert!(
        said.iter()
            .any(|n| n.starts_with("vmem2: <source><pagesize>")),
        "{said:?}"
    );
    // `check` shows them as QP025, and the import is otherwise clean.
    let env = Env::new();
    env.write("vmem.xml", VIRTIO_MEM);
    let (_, out, _) = env.run(&["check", "--qemu-version", "7.2.0", "vmem.xml"]);
    assert!(out.contains("QP025"), "{out}");
    assert!(out.contains("vmem2: <source><pagesize>"), "{out}");
}

// ---------------------------------------------------------------------
// Bad input.

#[test]
fn bad_domains_are_refused_naming_the_element_and_value() {
    let env = Env::new();
    let cases: &[(&str, String, &[&str])] = &[
        (
            "unit.xml",
            NVDIMM_LABEL.replace(
                "<size unit='KiB'>524288</size>",
                "<size unit='KiBi'>524288</size>",
            ),
            &[
                "<memory model='nvdimm'> #1 <target><size>",
                "\"524288\"",
                "KiBi",
                "unknown unit",
            ],
        ),
        (
            "number.xml",
            NVDIMM_LABEL.replace(
                "<memory unit='KiB'>1572864</memory>",
                "<memory unit='KiB'>1.5G</memory>",
            ),
            &["<memory>", "\"1.5G\"", "not a whole number"],
        ),
        (
            "cell.xml",
            NVDIMM_LABEL.replace("memory='1048576'", "memory='lots'"),
            &["<cell id='0'>", "\"lots\""],
        ),
        (
            "base.xml",
            VIRTIO_MEM.replace("base='0x200000000'", "base='0xzz'"),
            &["<address>", "\"0xzz\"", "hexadecimal"],
        ),
        (
            "xml.xml",
            NVDIMM_LABEL.replace("</devices>", "</device>"),
            &["not well-formed XML"],
        ),
        (
            "arch.xml",
            NVDIMM_LABEL.replace("arch='x86_64'", "arch='s390x'"),
            &["arch='s390x'"],
        ),
        (
            "nopath.xml",
            VIRTIO_PMEM.replace("<path>/tmp/virtio_pmem</path>", ""),
            &["<memory model='virtio-pmem'> #1", "<source><path>"],
        ),
    ];
    for (file, text, wants) in cases {
        env.write(file, text);
        for args in [vec!["import", "--libvirt", file], vec!["map", file]] {
            let (code, out, err) = env.run(&args);
            assert_eq!(code, 2, "{args:?}: {out}{err}");
            assert!(!err.contains("panicked"), "{err}");
            for w in *wants {
                assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
            }
        }
    }
    // --connect is for --domain only.
    let (code, _, err) = env.run(&[
        "import",
        "--libvirt",
        "unit.xml",
        "--connect",
        "qemu:///system",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot be used with") && err.contains("--connect"),
        "{err}"
    );
    // Not a domain at all.
    env.write("net.xml", "<network><name>x</name></network>");
    let (code, _, err) = env.run(&["import", "--libvirt", "net.xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("<network>, not <domain>"), "{err}");
    // A missing file.
    let (code, _, err) = env.run(&["import", "--libvirt", "nothing.xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing.xml"), "{err}");
}

#[test]
fn a_profile_from_before_the_libvirt_field_still_loads() {
    let old = "(version: 1, name: \"old\", devices: [(kind: nvdimm, id: \"nv1\", memdev: \"mem1\", backend: File(\"/x\"), size: \"1G\")])";
    let p = qpmem::core::profile_ron::parse_profile(old, "old.ron").unwrap();
    assert!(p.libvirt.is_empty());
    // And it is not written when empty.
    assert!(!qpmem::core::profile_ron::to_ron(&p)
        .unwrap()
        .contains("libvirt"));
}

// ---------------------------------------------------------------------
// `--domain NAME` against the real libvirtd.

/// A defined domain, undefined when dropped.
struct Defined {
    name: String,
}

impl Drop for Defined {
    fn drop(&mut self) {
        let _ = std::process::Command::new("virsh")
            .args([
                "-c",
                common::libvirt::URI,
                "undefine",
                "--nvram",
                &self.name,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::process::Command::new("virsh")
            .args(["-c", common::libvirt::URI, "undefine", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn import_domain_reads_a_domain_libvirt_holds() {
    if common::libvirt::libvirtd_or_skip("import_domain_reads_a_domain_libvirt_holds").is_none() {
        return;
    }
    let _one = common::libvirt::one_domain_at_a_time();
    let env = Env::new();
    let name = format!("qpmem-lvi-import-{}", std::process::id());
    // A domain as qpmem exports it, with an element it does not model.
    let mut p = Profile::empty(&name);
    p.ram = Size::mib(1536);
    p.numa_nodes = 2;
    p.maxmem = Auto::Fixed(Size::gib(24));
    p.slots = Auto::Fixed(4);
    let mut nv = Dimm::nvdimm(1, env.path().join("nv1"), Size::gib(2));
    nv.node = Some(1);
    nv.slot = Some(2);
    p.devices = vec![nv, Dimm::pc_dimm(1, Size::gib(1))];
    let qemu = which::which("qemu-system-x86_64")
        .unwrap_or_else(|_| PathBuf::from("/usr/bin/qemu-system-x86_64"));
    let l = qpmem::core::layout::layout(&p, &qpmem::core::facts::HostFacts::default()).ok();
    let xml = qpmem::core::export::libvirt::render(&p, Some(&qemu), l.as_ref()).text;
    let file = env.write("dom.xml", &xml);
    let defined = std::process::Command::new("virsh")
        .args(["-c", common::libvirt::URI, "define"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        defined.status.success(),
        "virsh define: {}\n{xml}",
        String::from_utf8_lossy(&defined.stderr)
    );
    let _guard = Defined { name: name.clone() };

    let (ron, err) = env.ok(&[
        "import",
        "--domain",
        &name,
        "--connect",
        common::libvirt::URI,
    ]);
    let back = qpmem::core::profile_ron::parse_profile(&ron, "stdout").unwrap();
    // libvirt adds its own elements (uuid, clock, controllers, ...): kept.
    assert!(
        back.libvirt.iter().any(|k| k.xml.starts_with("<uuid>")),
        "{:?}",
        back.libvirt
    );
    // libvirt names the machine type it resolved `pc` to, and writes what
    // it chose into the domain (the pc-dimm's slot): pinned where QEMU
    // would put it anyway, so the map is the same.
    assert!(back.machine.starts_with("pc-i440fx-"), "{}", back.machine);
    let mut want = map_json(&p);
    want["machine"] = Value::from(back.machine.clone());
    assert_eq!(map_json(&back), want, "{ron}\n{err}");
    assert!(!err.contains("QP025") && !err.contains("note:"), "{err}");
    assert_eq!(dimm(&back, "nv1").slot, Some(2));

    // What libvirt added is written back where it was, and the schema
    // still accepts the domain.
    let again = render(&back);
    assert!(again.contains("<uuid>"), "{again}");
    // With QPMEM_REQUIRE_QEMU=1 a missing validator fails the test.
    if let Some(validator) = common::virt_xml_validate_or_skip("import --domain's export") {
        let file = env.write("again.xml", &again);
        common::assert_valid_domain(&validator, &file, &again);
    }

    // Without --connect, virsh's own default: LIBVIRT_DEFAULT_URI here.
    let out = env
        .qpmem()
        .env("LIBVIRT_DEFAULT_URI", common::libvirt::URI)
        .args(["import", "--domain", &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), ron);

    // A domain libvirt does not have: virsh's error, exit 2.
    let (code, _, err) = env.run(&[
        "import",
        "--domain",
        "qpmem-lvi-no-such-domain",
        "--connect",
        common::libvirt::URI,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("virsh -c qemu:///system dumpxml qpmem-lvi-no-such-domain failed"),
        "{err}"
    );
}

#[test]
fn a_kept_element_that_is_not_one_element_is_refused_on_load() {
    let env = Env::new();
    for xml in ["</devices><x>", "<a/><b/>", "<q:x/>"] {
        env.write(
            "bad.ron",
            &format!("(version: 1, name: \"b\", libvirt: [(parent: devices, xml: {xml:?})])"),
        );
        let (code, _, err) = env.run(&["render", "--format", "libvirt", "bad.ron"]);
        assert_eq!(code, 2, "{xml}: {err}");
        assert!(err.contains("libvirt[0].xml: not one XML element"), "{err}");
    }
}

#[test]
fn every_example_comes_back_from_its_export_as_libvirt_runs_it() {
    // The CXL examples travel through <qemu:commandline>: read back as
    // the command line libvirt appends, the topology is modelled again.
    for e in qpmem::core::examples::EXAMPLES {
        let p = e.load(Path::new("/data")).unwrap();
        let xml = render(&p);
        let (back, notes) =
            import_domain(&xml).unwrap_or_else(|err| panic!("{}: {err}\n{xml}", e.name));
        assert!(notes.is_empty(), "{}: {notes:?}", e.name);
        assert_eq!(back.cxl, p.cxl, "{}", e.name);
        // The map libvirt's QEMU builds: with <maxMemory> there is always a
        // device memory region, so cxl-run-qemu's windows (no memory
        // hotplug in the profile itself) sit above it.
        assert_eq!(
            map_json(&back),
            map_json(&as_libvirt_runs(&p)),
            "{}",
            e.name
        );
        assert_eq!(
            map_json(&back)["dimms"],
            map_json(&p)["dimms"],
            "{}",
            e.name
        );
        let exported = render(&back);
        assert_eq!(body(&exported), body(&xml), "{}", e.name);
    }
}
