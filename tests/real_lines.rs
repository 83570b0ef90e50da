//! Real-world-shaped command lines, written for this test from the
//! public shapes named beside each, run through real QEMU (`-S`, QMP
//! `query-memory-devices`, the line exactly as written) and through
//! qpmem (`cmdline::import`, then the rule table and the layout). Both
//! must agree on accept/refuse, and on every device's id, slot, address
//! and size. Lines with a device qpmem does not model must be named by
//! QP009 instead. Paths point into a temp dir (`{d}`).
//!
//! Skips when QEMU is missing, unless `QPMEM_REQUIRE_QEMU=1`.

mod common;

use qpmem::core::cmdline::import;
use qpmem::core::diagnose::{self, Basis, Severity};
use qpmem::core::facts::{HostFacts, QemuStatus};
use qpmem::core::layout::layout;
use qpmem::host;
use qpmem::qemu::{probe_args, ProbeError};
use std::time::Duration;

/// (what it is and where its shape comes from, the line).
const LINES: &[(&str, &str)] = &[
    (
        "libvirt's generated argv for an NVDIMM with NUMA RAM (tests/qemuxmlconfdata/\
         memory-hotplug-nvdimm*.args: JSON -object/-device, -m size=...k, -numa memdev)",
        r#"-machine pc,usb=off,dump-guest-core=off,nvdimm=on -accel tcg -m size=1048576k,slots=16,maxmem=16777216k -smp 2,sockets=2,cores=1,threads=1 -object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824}' -numa node,nodeid=0,cpus=0-1,memdev=ram-node0 -object '{"qom-type":"memory-backend-file","id":"memnvdimm0","mem-path":"{d}/nvdimm0","share":true,"prealloc":true,"size":268435456}' -device '{"driver":"nvdimm","node":0,"label-size":131072,"memdev":"memnvdimm0","id":"nvdimm0","slot":0}'"#,
    ),
    (
        "libvirt, two NVDIMMs, the second with an explicit address (qemuxmlconfdata \
         memory-hotplug-nvdimm-*.args shape)",
        r#"-machine q35,nvdimm=on -m size=2097152k,slots=4,maxmem=8388608k -object '{"qom-type":"memory-backend-file","id":"memnvdimm0","mem-path":"{d}/a","share":true,"size":536870912}' -device '{"driver":"nvdimm","label-size":2097152,"memdev":"memnvdimm0","id":"nvdimm0","slot":0}' -object '{"qom-type":"memory-backend-file","id":"memnvdimm1","mem-path":"{d}/b","share":true,"size":268435456,"align":2097152}' -device '{"driver":"nvdimm","memdev":"memnvdimm1","id":"nvdimm1","slot":1,"addr":6442450944}'"#,
    ),
    (
        "QEMU docs/nvdimm.txt: two NVDIMMs, one with a label area",
        "-machine pc,nvdimm=on -m 1G,slots=4,maxmem=8G -object memory-backend-file,id=mem1,share=on,mem-path={d}/f1,size=1G -device nvdimm,id=nvdimm1,memdev=mem1 -object memory-backend-file,id=mem2,share=on,mem-path={d}/f2,size=512M -device nvdimm,id=nvdimm2,memdev=mem2,label-size=256K",
    ),
    (
        "pmem/run_qemu's run_qemu.sh generated line: q35, NUMA RAM nodes, 1G-aligned NVDIMMs on node=",
        "-machine q35,accel=tcg,nvdimm=on -m 2048M,slots=4,maxmem=8G -smp 2,sockets=2 -object memory-backend-ram,id=mem0,size=1024M -numa node,nodeid=0,memdev=mem0 -object memory-backend-ram,id=mem1,size=1024M -numa node,nodeid=1,memdev=mem1 -object memory-backend-file,id=nvmem0,share=on,mem-path={d}/nvm0,size=1G,align=1G -device nvdimm,memdev=nvmem0,id=nv0,label-size=2M,node=0 -object memory-backend-file,id=nvmem1,share=on,mem-path={d}/nvm1,size=1G,align=1G -device nvdimm,memdev=nvmem1,id=nv1,label-size=2M,node=1",
    ),
    (
        "the kernel wiki NVDIMM recipe (nvdimm.wiki.kernel.org): bare `-machine pc,nvdimm`, refused since 6.1",
        "-machine pc,nvdimm -m 2G,slots=2,maxmem=10G -object memory-backend-file,id=mem1,share,mem-path={d}/pmem,size=4G -device nvdimm,memdev=mem1,id=nv1",
    ),
    (
        "the seed recipe (bare share, align=128M) with nvdimm=on: accepted with a deprecation warning",
        "-machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G -object memory-backend-file,id=mem1,share,mem-path={d}/n1,size=17G,align=128M -device nvdimm,memdev=mem1,id=nv1,label-size=2M -object memory-backend-file,id=mem2,share,mem-path={d}/n2,size=17G,align=128M -device nvdimm,memdev=mem2,id=nv2,label-size=2M",
    ),
    (
        "mutation: the seed recipe in JSON syntax (same placement)",
        r#"-machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G -object '{"qom-type":"memory-backend-file","id":"mem1","share":true,"mem-path":"{d}/j1","size":18253611008,"align":134217728}' -device '{"driver":"nvdimm","memdev":"mem1","id":"nv1","label-size":2097152}' -object '{"qom-type":"memory-backend-file","id":"mem2","share":true,"mem-path":"{d}/j2","size":18253611008,"align":134217728}' -device '{"driver":"nvdimm","memdev":"mem2","id":"nv2","label-size":2097152}'"#,
    ),
    (
        "mutation: a single comma in a path",
        "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=4G -object memory-backend-file,id=m1,share=on,mem-path={d}/mydimm,1,size=1G -device nvdimm,memdev=m1,id=nv1",
    ),
    (
        "mutation: a misspelt property (lable-size)",
        "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=4G -object memory-backend-file,id=m1,share=on,mem-path={d}/ls,size=1G -device nvdimm,memdev=m1,id=nv1,lable-size=2M",
    ),
    (
        "mutation: no nvdimm=on",
        "-machine pc -m 1G,slots=1,maxmem=4G -object memory-backend-file,id=m1,share=on,mem-path={d}/nn,size=1G -device nvdimm,memdev=m1,id=nv1",
    ),
    (
        "mutation: no slots= and no maxmem=",
        "-machine pc,nvdimm=on -m 1G -object memory-backend-file,id=m1,share=on,mem-path={d}/ns,size=1G -device nvdimm,memdev=m1,id=nv1",
    ),
    (
        "mutation: a device without id= and a fractional size",
        "-machine pc,nvdimm=on -m 1G,slots=2,maxmem=8G -object memory-backend-file,id=m1,share=on,mem-path={d}/fr,size=1.5G -device nvdimm,memdev=m1",
    ),
    (
        "mutation: the address-space limit with no devices at all (TCG, phys-bits 40)",
        "-m 1G,slots=16,maxmem=1T",
    ),
    (
        "mutation: a bare boolean on -device (deprecated, accepted)",
        "-machine pc,nvdimm=on -m 1G,slots=1,maxmem=4G -object memory-backend-ram,id=m1,size=1G -device nvdimm,memdev=m1,id=nv1,unarmed",
    ),
    (
        "libvirt's argv for a two-cell guest (qemuxmlconfdata memory-hotplug-nvdimm*.args with \
         <numa> cells): RAM on -numa node,memdev=ram-nodeN (JSON backends), both NVDIMMs on node 1",
        r#"-machine pc,usb=off,dump-guest-core=off,nvdimm=on -accel tcg -m size=2097152k,slots=16,maxmem=16777216k -smp 2,sockets=2,cores=1,threads=1 -object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824}' -numa node,nodeid=0,cpus=0,memdev=ram-node0 -object '{"qom-type":"memory-backend-ram","id":"ram-node1","size":1073741824}' -numa node,nodeid=1,cpus=1,memdev=ram-node1 -object '{"qom-type":"memory-backend-file","id":"memnvdimm0","mem-path":"{d}/numa0","share":true,"size":536870912}' -device '{"driver":"nvdimm","node":1,"label-size":131072,"memdev":"memnvdimm0","id":"nvdimm0","slot":0}' -object '{"qom-type":"memory-backend-file","id":"memnvdimm1","mem-path":"{d}/numa1","share":true,"size":268435456}' -device '{"driver":"nvdimm","node":1,"memdev":"memnvdimm1","id":"nvdimm1","slot":1}'"#,
    ),
    (
        "mutation: the libvirt two-cell line with RAM nodes that do not add up to -m",
        r#"-machine pc,nvdimm=on -m size=3145728k,slots=16,maxmem=16777216k -smp 2 -object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824}' -numa node,nodeid=0,cpus=0,memdev=ram-node0 -object '{"qom-type":"memory-backend-ram","id":"ram-node1","size":1073741824}' -numa node,nodeid=1,cpus=1,memdev=ram-node1"#,
    ),
    (
        "QEMU docs (-machine memory-backend=, 5.0+): the RAM from a named backend of -m's size",
        "-machine pc,nvdimm=on,memory-backend=ram0 -object memory-backend-ram,id=ram0,size=1G -m 1G,slots=2,maxmem=4G -object memory-backend-file,id=m1,share=on,mem-path={d}/mb,size=1G -device nvdimm,memdev=m1,id=nv1",
    ),
    (
        "mutation: -machine memory-backend= of another size than -m",
        "-machine pc,nvdimm=on,memory-backend=ram0 -object memory-backend-ram,id=ram0,size=1G -m 512M,slots=2,maxmem=4G -object memory-backend-file,id=m1,share=on,mem-path={d}/mb2,size=1G -device nvdimm,memdev=m1,id=nv1",
    ),
    (
        "mutation: -machine memory-backend= naming no backend",
        "-machine pc,nvdimm=on,memory-backend=nope -m 1G,slots=2,maxmem=4G",
    ),
    (
        "mutation: an NVDIMM on node 2 of two NUMA nodes",
        "-machine pc,nvdimm=on -m 2G,slots=2,maxmem=8G -smp 2 -object memory-backend-ram,id=r0,size=1G -numa node,nodeid=0,cpus=0,memdev=r0 -object memory-backend-ram,id=r1,size=1G -numa node,nodeid=1,cpus=1,memdev=r1 -object memory-backend-file,id=m1,share=on,mem-path={d}/n2,size=512M -device nvdimm,memdev=m1,id=nv1,node=2",
    ),
    (
        "mutation: -numa node,mem= (QEMU docs' legacy form) on a 7.2 machine type",
        "-machine pc,nvdimm=on -m 1G -numa node,mem=512M -numa node,mem=512M",
    ),
    (
        "mutation: -numa node,mem= on pc-i440fx-5.0, which still takes it, a DIMM on node 1",
        "-machine pc-i440fx-5.0,nvdimm=on -m 1G,slots=2,maxmem=4G -numa node,mem=512M -numa node,mem=512 -object memory-backend-ram,id=m1,size=512M -device nvdimm,memdev=m1,id=nv1,node=1",
    ),
    (
        "mutation: node ids with a gap (node 1 alone)",
        "-m 1G -object memory-backend-ram,id=r0,size=1G -numa node,nodeid=1,memdev=r0",
    ),
    (
        "QEMU docs/system hmat example's shape, its hmat-lb naming target node 1 of one",
        "-machine q35,hmat=on -m 1G -smp 2 -object memory-backend-ram,id=r0,size=1G -numa node,nodeid=0,cpus=0-1,memdev=r0 -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=5",
    ),
    (
        "DOMAIN.md's measurement: a virtio-pmem device before an NVDIMM (QEMU: vpmem1 at 0x100000000, nv1 at 0x200000000)",
        "-machine pc,nvdimm=on -m 1G,slots=4,maxmem=32G -object memory-backend-file,id=vm1,share=on,mem-path={d}/vp,size=4G -device virtio-pmem-pci,memdev=vm1,id=vpmem1 -object memory-backend-file,id=m1,share=on,mem-path={d}/vn,size=2G -device nvdimm,memdev=m1,id=nv1",
    ),
];

#[test]
fn real_world_lines_agree_with_real_qemu() {
    let Some(qemu) = common::qemu_or_skip("real_world_lines_agree_with_real_qemu") else {
        return;
    };
    let version = qpmem::qemu::discover::cached_version(&qemu).ok();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let (mut refused_n, mut compared) = (0, 0);
    for (what, template) in LINES {
        let line = template.replace("{d}", &dir.path().display().to_string());
        let (profile, notes) = import(&line).unwrap_or_else(|e| panic!("{what}: {e}"));
        let host = HostFacts {
            qemu: QemuStatus::stated(version),
            ..host::gather(&profile)
        };
        let ds = diagnose::check_profile(&profile, &notes, &host);
        let errors = |basis: Basis| -> Vec<String> {
            ds.iter()
                .filter(|d| {
                    d.severity == Severity::Error && d.rule().map(|r| r.basis) == Some(basis)
                })
                .map(|d| d.render())
                .collect()
        };
        let args = shlex::split(&line).unwrap();
        let verdict = probe_args(&args, &qemu, Duration::from_secs(60));
        let unpredictable = errors(Basis::Unpredictable);
        let refuses = errors(Basis::QemuRefuses);
        let actual = match verdict {
            Ok(a) => Some(a),
            Err(ProbeError::Refused { message }) => {
                refused_n += 1;
                if refuses.is_empty() {
                    failures.push(format!(
                        "{what}: QEMU refused ({message}), check found no error"
                    ));
                }
                None
            }
            Err(e) => panic!("{what}: probe failed: {e}"),
        };
        let Some(actual) = actual else { continue };
        if !refuses.is_empty() {
            failures.push(format!("{what}: QEMU accepted, check says {refuses:?}"));
            continue;
        }
        let has_unmodelled = actual.iter().any(|a| {
            !qpmem::core::profile::DimmKind::ALL
                .iter()
                .any(|k| k.spec().qmp_type() == a.kind)
        });
        if has_unmodelled {
            if unpredictable.is_empty() {
                failures.push(format!("{what}: QEMU placed a device qpmem does not name"));
            }
            continue;
        }
        let predicted = layout(&profile, &host::placement_facts(&profile)).unwrap();
        if predicted.devices.len() != actual.len() {
            failures.push(format!(
                "{what}: QEMU {} devices, qpmem {}",
                actual.len(),
                predicted.devices.len()
            ));
            continue;
        }
        for (d, dimm) in predicted.devices.iter().zip(&profile.devices) {
            let want_id = (!d.id.is_empty()).then(|| d.id.clone());
            let Some(a) = actual.iter().find(|a| a.id == want_id) else {
                failures.push(format!("{what}: QEMU has no device {:?}", want_id));
                continue;
            };
            let Some(p) = d.placement() else {
                failures.push(format!("{what}: qpmem refuses {} but QEMU placed it", d.id));
                continue;
            };
            compared += 1;
            // QMP gives virtio-pmem no node.
            let node = dimm.node.unwrap_or(0);
            let want_node = (a.kind != "virtio-pmem").then_some(node);
            if a.node != want_node {
                failures.push(format!(
                    "{what}: {:?}: QEMU node {:?}, qpmem node {node}",
                    d.id, a.node
                ));
            }
            if (a.slot, a.addr, a.size) != (p.slot, p.addr, p.size) {
                failures.push(format!(
                    "{what}: {:?}: QEMU slot {:?} addr {:#x} size {:#x}, qpmem slot {:?} addr {:#x} size {:#x}",
                    d.id, a.slot, a.addr, a.size, p.slot, p.addr, p.size
                ));
            }
        }
    }
    eprintln!(
        "real_lines: {} lines, {refused_n} refused by QEMU, {compared} devices compared",
        LINES.len()
    );
    assert!(
        failures.is_empty(),
        "qpmem and QEMU disagree:\n{}",
        failures.join("\n")
    );
    assert!(
        refused_n >= 11 && compared >= 13,
        "{refused_n} refusals, {compared} devices"
    );
}
