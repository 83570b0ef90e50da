//! The property table's 7.2 column ([`qpmem::core::qemu::props`]) against
//! the real binary's own lists: `qemu-system-x86_64 -machine q35,help`,
//! `-device nvdimm,help`, `-object memory-backend-file,help` and the rest.
//! Every property the binary lists must be in the table and accepted by
//! 7.2, and every property the table says 7.2 lists must be listed.
//! Skips when the binary is not 7.2 (the column would not apply), and
//! when QEMU is missing unless `QPMEM_REQUIRE_QEMU=1`.

mod common;

use qpmem::core::qemu::props::Group;
use qpmem::core::qemu::QemuVersion;
use std::collections::BTreeSet;
use std::process::Command;

fn listed(qemu: &std::path::Path, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new(qemu).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let names: BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once('=').map(|(k, _)| k.to_string()))
        .collect();
    assert!(names.len() > 3, "{args:?} listed almost nothing:\n{text}");
    names
}

#[test]
fn the_7_2_column_matches_the_binarys_help() {
    let Some(qemu) = common::qemu_or_skip("the_7_2_column_matches_the_binarys_help") else {
        return;
    };
    let v = qpmem::qemu::discover::cached_version(&qemu).unwrap();
    if (v.major, v.minor) != (7, 2) {
        eprintln!("skipped: the table's 7.2 column cannot be checked against QEMU {v}");
        return;
    }
    let v72 = QemuVersion::new(7, 2, 0);
    let groups: &[(&[&str], Group)] = &[
        (&["-machine", "q35,help"], Group::Machine),
        (&["-machine", "pc,help"], Group::Machine),
        (&["-device", "nvdimm,help"], Group::Nvdimm),
        (&["-device", "pc-dimm,help"], Group::PcDimm),
        (&["-device", "virtio-pmem-pci,help"], Group::VirtioPmemPci),
        (&["-device", "virtio-mem-pci,help"], Group::VirtioMemPci),
        (&["-device", "pxb-cxl,help"], Group::PxbCxl),
        (&["-device", "cxl-rp,help"], Group::CxlRootPort),
        (&["-device", "cxl-upstream,help"], Group::CxlUpstream),
        (&["-device", "cxl-downstream,help"], Group::CxlDownstream),
        (&["-device", "cxl-type3,help"], Group::CxlType3),
        (&["-object", "memory-backend-file,help"], Group::BackendFile),
        (&["-object", "memory-backend-ram,help"], Group::BackendRam),
        (
            &["-object", "memory-backend-memfd,help"],
            Group::BackendMemfd,
        ),
    ];
    let arm = common::aarch64_qemu_or_skip("the_7_2_column_matches_the_binarys_help");
    let mut problems = Vec::new();
    let mut all: Vec<(&std::path::Path, &[&str], Group)> = groups
        .iter()
        .map(|(a, g)| (qemu.as_path(), *a, *g))
        .collect();
    if let Some(arm) = &arm {
        all.push((
            arm.as_path(),
            &["-machine", "virt,help"],
            Group::MachineVirt,
        ));
    }
    for (qemu, args, group) in all {
        let help = listed(qemu, args);
        let table: BTreeSet<String> = group
            .props()
            .filter(|p| p.listed && p.in_version(v72))
            .map(|p| p.name.to_string())
            .collect();
        for missing in help.difference(&table) {
            problems.push(format!(
                "{args:?} lists {missing}, the table's 7.2 column does not"
            ));
        }
        for extra in table.difference(&help) {
            problems.push(format!(
                "the table says 7.2 lists {extra} for {args:?}; it does not"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
