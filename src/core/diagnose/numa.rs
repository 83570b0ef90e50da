//! Rules about the NUMA nodes a line declares (`-numa node`, `-numa
//! dist`, `-numa hmat-lb`/`hmat-cache`): what QEMU checks in
//! hw/core/numa.c before it builds the machine. Each message quotes
//! QEMU's own (all measured on 7.2).

use super::{Basis, Context, Finding, Rule, Severity};
use crate::core::qemu::caps::machine_version;
use crate::core::qemu::QemuVersion;
use crate::core::size::{format_human, format_qemu};

pub static NUMA_RAM_MISMATCH: Rule = Rule {
    code: "QP020",
    name: "numa-ram-mismatch",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The NUMA nodes' RAM (each -numa node's memdev= backend size, or mem=) does not add \
up to -m. QEMU refuses: \"total memory for NUMA nodes (0x20000000) should equal RAM size \
(0x40000000)\" (a node without memdev= or mem= holds none). Without -m QEMU's RAM is 128 MiB.",
    check: numa_ram_mismatch,
};

fn numa_ram_mismatch(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if p.numa.is_empty() {
        return Vec::new();
    }
    let nodes = p.numa_ram();
    let total = nodes.iter().fold(0u64, |a, (_, r)| a.saturating_add(*r));
    if total == p.ram.0 {
        return Vec::new();
    }
    let parts: Vec<String> = nodes
        .iter()
        .map(|(id, r)| format!("node {id} {}", format_human(*r)))
        .collect();
    vec![Finding::about(
        None,
        format!(
            "the NUMA nodes hold {} of RAM ({}), but -m is {}: QEMU refuses (\"total memory for \
NUMA nodes ({total:#x}) should equal RAM size ({:#x})\")",
            format_human(total),
            parts.join(" + "),
            format_human(p.ram.0),
            p.ram.0
        ),
        Some(format!(
            "make -m {} or resize the nodes' backends to add up to {}",
            format_qemu(total),
            format_qemu(p.ram.0)
        )),
    )]
}

pub static NUMA_MEM_UNSUPPORTED: Rule = Rule {
    code: "QP021",
    name: "numa-mem-unsupported",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "-numa node,mem= on a machine type of 5.1 or newer (pc, q35, pc-i440fx-5.1, ...). \
QEMU refuses: \"Parameter -numa node,mem is not supported by this machine type\"; only the \
5.0 and older machine types set numa_mem_supported (hw/i386/pc_piix.c, pc_q35.c). Give the \
node a backend: -object memory-backend-ram,id=ram0,size=... -numa node,memdev=ram0.",
    check: numa_mem_unsupported,
};

/// Machine types from this release on refuse `-numa node,mem=`.
const NUMA_MEM_DROPPED: QemuVersion = QemuVersion::new(5, 1, 0);

fn numa_mem_unsupported(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    // A versioned machine type says; an alias is the running QEMU's
    // newest (unknown: a current one).
    let machine = machine_version(&p.machine).or(ctx.qemu_version());
    if machine.is_some_and(|m| (m.major, m.minor) < (5, 1)) {
        return Vec::new();
    }
    p.numa_node_ids()
        .into_iter()
        .zip(&p.numa)
        .filter_map(|(id, n)| n.mem.map(|m| (id, m)))
        .map(|(id, mem)| {
            Finding::about(
                None,
                format!(
                    "-numa node,mem={} (node {id}) on machine type {}: QEMU refuses \"Parameter \
-numa node,mem is not supported by this machine type\" (machine types {}.{}+)",
                    format_qemu(mem.0),
                    p.machine,
                    NUMA_MEM_DROPPED.major,
                    NUMA_MEM_DROPPED.minor
                ),
                Some(format!(
                    "give node {id} a backend: -object memory-backend-ram,id=ram-node{id},size={} \
-numa node,nodeid={id},memdev=ram-node{id}",
                    format_qemu(mem.0)
                )),
            )
        })
        .collect()
}

pub static NUMA_NODE_MISSING: Rule = Rule {
    code: "QP022",
    name: "numa-node-missing",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "A NUMA node that does not exist: node ids with a gap (\"numa: Node ID missing: \
0\"), a -numa dist naming an undeclared node (\"Source/Destination NUMA node is missing\"), a \
-numa hmat-lb target or initiator, or an hmat-cache node-id, beyond the declared nodes (\"The \
target=1 should point to an existing node\"). A DIMM's node= is QP210.",
    check: numa_node_missing,
};

/// The nodes `-numa hmat-lb`/`hmat-cache` kept among the extra arguments
/// name: (which option and key, the node).
fn hmat_references(args: &[String]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for w in args.windows(2) {
        if !matches!(w[0].as_str(), "-numa" | "--numa") {
            continue;
        }
        let pieces = crate::core::cmdline::split_opts(&w[1]);
        let Some(kind) = pieces.first() else { continue };
        let kind = kind.strip_prefix("type=").unwrap_or(kind);
        let keys: &[&str] = match kind {
            "hmat-lb" => &["initiator", "target"],
            "hmat-cache" => &["node-id"],
            "cpu" => &["node-id"],
            _ => continue,
        };
        for piece in &pieces[1..] {
            let Some((k, v)) = piece.split_once('=') else {
                continue;
            };
            if keys.contains(&k) {
                if let Ok(n) = v.parse::<u32>() {
                    out.push((format!("-numa {kind} {k}"), n));
                }
            }
        }
    }
    out
}

fn numa_node_missing(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let ids = p.numa_node_ids();
    let mut out = Vec::new();
    // Node ids must be 0..n without a gap; QEMU names the highest missing.
    if let Some(max) = ids.iter().max() {
        let missing: Vec<u32> = (0..*max).filter(|i| !ids.contains(i)).collect();
        if let Some(m) = missing.last() {
            out.push(Finding::about(
                None,
                format!(
                    "NUMA node {m} is missing: the nodes are {} but QEMU needs every id from 0 \
to {max} (\"numa: Node ID missing: {m}\")",
                    list(&ids)
                ),
                Some(format!(
                    "declare -numa node,nodeid={m} or renumber the nodes from 0"
                )),
            ));
        }
    }
    let exists = |n: u32| {
        if p.numa.is_empty() {
            n < p.declared_numa_nodes()
        } else {
            ids.contains(&n)
        }
    };
    for d in &p.numa_distances {
        for (key, n) in [("src", d.src), ("dst", d.dst)] {
            if !exists(n) {
                out.push(Finding::about(
                    None,
                    format!(
                        "-numa dist,src={},dst={} names NUMA node {n} ({key}=), which is not \
declared: QEMU refuses (\"Source/Destination NUMA node is missing\")",
                        d.src, d.dst
                    ),
                    Some(format!(
                        "declare node {n} with -numa node before it, or drop the distance"
                    )),
                ));
            }
        }
    }
    for (what, n) in hmat_references(&p.extra_args) {
        if !exists(n) {
            out.push(Finding::about(
                None,
                format!("{what}={n} names NUMA node {n}, which is not declared: QEMU refuses it"),
                Some(format!(
                    "declare node {n} with -numa node, or name one of the nodes {}",
                    list(&ids)
                )),
            ));
        }
    }
    out
}

pub static NUMA_DUPLICATE_NODE: Rule = Rule {
    code: "QP023",
    name: "numa-duplicate-node",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Two -numa node options get the same node id: both give nodeid=, or one without \
nodeid= takes the number of nodes before it, which an explicit nodeid= already used. QEMU \
refuses: \"Duplicate NUMA nodeid: 1\".",
    check: numa_duplicate_node,
};

fn numa_duplicate_node(ctx: &Context) -> Vec<Finding> {
    let ids = ctx.profile.numa_node_ids();
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            out.push(Finding::about(
                None,
                format!(
                    "the {} -numa node is node {id} again: QEMU refuses (\"Duplicate NUMA nodeid: \
{id}\")",
                    super::device::nth(i)
                ),
                Some("give each -numa node its own nodeid=".into()),
            ));
        }
    }
    out
}

fn list(ids: &[u32]) -> String {
    let v: Vec<String> = ids.iter().map(u32::to_string).collect();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::cmdline::import;
    use crate::core::qemu::QemuVersion;

    fn diags(line: &str) -> Vec<super::super::Diagnostic> {
        let (p, notes) = import(line).unwrap();
        run_with(
            &p,
            &notes,
            &Default::default(),
            Some(QemuVersion::new(7, 2, 0)),
        )
    }

    const TWO_NODES: &str = "-m 2G,slots=2,maxmem=8G -smp 2 \
        -object memory-backend-ram,id=r0,size=1G -numa node,nodeid=0,cpus=0,memdev=r0 \
        -object memory-backend-ram,id=r1,size=1G -numa node,nodeid=1,cpus=1,memdev=r1";

    #[test]
    fn node_ram_must_add_up_to_m() {
        assert!(only(&diags(TWO_NODES), "QP020").is_empty());
        let ds = diags(&TWO_NODES.replace("-m 2G", "-m 3G"));
        let e = only(&ds, "QP020");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .contains("(0x80000000) should equal RAM size (0xc0000000)"),
            "{}",
            e[0].message
        );
        assert!(
            e[0].message.contains("node 0 1 GiB + node 1 1 GiB"),
            "{}",
            e[0].message
        );
        assert_eq!(
            e[0].help.as_deref(),
            Some("make -m 2G or resize the nodes' backends to add up to 3G")
        );
        // A node with no memory holds none: `-numa node -numa node` is refused.
        let ds = diags("-m 1G -numa node -numa node");
        assert_eq!(only(&ds, "QP020").len(), 1);
    }

    #[test]
    fn mem_is_refused_on_5_1_machine_types() {
        let line = "-m 1G -numa node,mem=512M -numa node,mem=512";
        let ds = diags(line);
        let e = only(&ds, "QP021");
        assert_eq!(e.len(), 2, "{ds:#?}");
        assert!(e[0]
            .message
            .contains("mem=512M (node 0) on machine type pc"));
        // mem= without a suffix is MiB, as QEMU reads it: the sum is right.
        assert!(only(&ds, "QP020").is_empty(), "{ds:#?}");
        let old = diags(&format!("-machine pc-i440fx-5.0 {line}"));
        assert!(only(&old, "QP021").is_empty());
        let new = diags(&format!("-machine pc-q35-5.1 {line}"));
        assert_eq!(only(&new, "QP021").len(), 2);
    }

    #[test]
    fn nodes_that_do_not_exist_are_named() {
        // A gap: node 1 alone.
        let ds =
            diags("-m 1G -object memory-backend-ram,id=r0,size=1G -numa node,nodeid=1,memdev=r0");
        let e = only(&ds, "QP022");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert!(
            e[0].message.contains("\"numa: Node ID missing: 0\""),
            "{}",
            e[0].message
        );
        // dist and hmat naming node 2 of two.
        let ds = diags(&format!(
            "-machine q35,hmat=on {TWO_NODES} -numa dist,src=0,dst=2,val=20 \
             -numa hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=access-latency,latency=5"
        ));
        let msgs: Vec<&str> = only(&ds, "QP022")
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(msgs[0].starts_with("-numa dist,src=0,dst=2 names NUMA node 2 (dst=)"));
        assert!(msgs[1].starts_with("-numa hmat-lb target=2 names NUMA node 2"));
        assert!(only(
            &diags(&format!("{TWO_NODES} -numa dist,src=0,dst=1,val=20")),
            "QP022"
        )
        .is_empty());
    }

    #[test]
    fn duplicate_node_ids() {
        let ds = diags(
            "-m 1G -object memory-backend-ram,id=r0,size=512M -object memory-backend-ram,id=r1,size=512M \
             -numa node,memdev=r0,nodeid=1 -numa node,memdev=r1",
        );
        let e = only(&ds, "QP023");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert!(e[0].message.contains("the 2nd -numa node is node 1 again"));
    }

    #[test]
    fn a_dimm_on_a_node_the_line_does_not_declare() {
        let ds = diags(&format!(
            "-machine pc,nvdimm=on {TWO_NODES} -object memory-backend-ram,id=m,size=1G \
             -device nvdimm,memdev=m,id=nv1,node=2"
        ));
        let e = only(&ds, "QP210");
        assert_eq!(e.len(), 1, "{ds:#?}");
        assert!(e[0]
            .message
            .contains("nv1 is on node=2, but the machine has 2 NUMA nodes"));
        let ds = diags(&format!(
            "-machine pc,nvdimm=on {TWO_NODES} -object memory-backend-ram,id=m,size=1G \
             -device nvdimm,memdev=m,id=nv1,node=1"
        ));
        assert!(only(&ds, "QP210").is_empty());
    }
}
