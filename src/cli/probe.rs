//! `qpmem probe`: QEMU's real placement against the prediction, from a
//! QEMU qpmem starts paused, or (`--libvirt`) from a transient libvirt
//! domain created paused and destroyed after.

use super::common::{load, out, qemu_binary, Failure, LibvirtArgs, Outcome, QemuArgs, SourceArgs};
use qpmem::core::layout::{layout, Layout};
use qpmem::core::profile::Profile;
use qpmem::core::qemu::{compare, DeviceComparison, MemoryDeviceInfo};
use qpmem::host::placement_facts;
use qpmem::qemu;
use qpmem::vm::libvirt::{self, Destroyer, Domain, LibvirtError};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(s: SourceArgs, q: QemuArgs, l: LibvirtArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    if let Some(uri) = l.uri() {
        return probe_libvirt(&loaded.profile, &q, &uri, json);
    }
    let binary = qemu_binary(&q, &loaded.profile)?;
    let predicted = layout(&loaded.profile, &placement_facts(&loaded.profile))?;
    // Ctrl-C, TERM or HUP: QEMU is stopped and the scratch files removed.
    let cancel = super::common::cancel_on_signals()?;
    let timeout = Duration::from_secs(30);
    let probed = if loaded.profile.cxl.is_some() {
        qemu::probe_cxl(&loaded.profile, &binary, timeout, &cancel).map(|(d, w)| (d, Some(w)))
    } else {
        qemu::probe_cancellable(&loaded.profile, &binary, timeout, &cancel).map(|d| (d, None))
    };
    let (actual, windows) = match probed {
        Ok(a) => a,
        Err(qemu::ProbeError::Refused { message }) => {
            return Err(Failure {
                code: 2,
                message: format!("QEMU refused the configuration:\n{message}"),
            })
        }
        Err(e) => return Err(e.into()),
    };
    report(&predicted, &actual, windows, json)
}

/// `probe --libvirt`: the profile's domain created paused on `uri`,
/// `query-memory-devices` through libvirt, the domain destroyed (on
/// every way out: [`Destroyer`]). The profile's own backing files are
/// used and never created.
fn probe_libvirt(profile: &Profile, q: &QemuArgs, uri: &str, json: bool) -> Outcome {
    let refuse = |message: String| Failure { code: 2, message };
    if profile.cxl.is_some() {
        return Err(refuse(
            "probe --libvirt: libvirt has no CXL model and qpmem cannot read CXL windows through it; probe CXL without --libvirt".into(),
        ));
    }
    let remote = libvirt::remote_host(uri);
    // Another host's files are not this one's: hugetlbfs page sizes are
    // not known there.
    let facts = match remote {
        Some(_) => Default::default(),
        None => placement_facts(profile),
    };
    let predicted = layout(profile, &facts)?;
    let emulator = match remote {
        Some(host) => {
            eprintln!("note: {}", libvirt::remote_files_note(host));
            None
        }
        None => {
            let missing = libvirt::missing_backing_files(profile);
            if !missing.is_empty() {
                return Err(refuse(format!(
                    "not probing through libvirt:\n{}",
                    missing.join("\n")
                )));
            }
            Some(qemu_binary(q, profile)?)
        }
    };
    let name = format!("qpmem-probe-{}", std::process::id());
    let export = libvirt::domain_xml(
        &qpmem::qemu::probe::placement_only(profile),
        &name,
        emulator.as_deref(),
    );
    for n in &export.notes {
        eprintln!("note: {n}");
    }
    // A signal while the domain exists: the Destroyer still runs.
    let _cancel = super::common::cancel_on_signals()?;
    let domain = match Domain::create(uri, &name, &export.text, true) {
        Ok(d) => Destroyer::new(d),
        Err(e @ LibvirtError::Virsh { .. }) => {
            return Err(refuse(format!("libvirt refused the domain: {e}")))
        }
        Err(e) => return Err(e.into()),
    };
    let actual = domain.domain().query_memory_devices()?;
    drop(domain);
    report(&predicted, &actual, None, json)
}

/// Print QEMU's placement against the prediction; exit 1 when they
/// differ.
fn report(
    predicted: &Layout,
    actual: &[MemoryDeviceInfo],
    windows: Option<Vec<(u64, u64)>>,
    json: bool,
) -> Outcome {
    let comparison = compare(predicted, actual);
    let windows = windows.map(|w| cxl_rows(predicted, &w));
    let windows_match = windows
        .as_ref()
        .is_none_or(|w| w.iter().all(|r| r.predicted == r.qemu));
    let matches = comparison.matches() && windows_match;
    let text = if json {
        let dimms: Vec<_> = comparison.devices.iter().map(json_row).collect();
        let mut v = serde_json::json!({"dimms": dimms, "matches": matches});
        if let Some(w) = &windows {
            v["cxl_windows"] = serde_json::json!(w
                .iter()
                .map(|r| serde_json::json!({
                    "index": r.index,
                    "qemu": r.qemu.map(|(base, size)| serde_json::json!({"base": base, "size": size})),
                    "predicted": r.predicted.map(|(base, size)| serde_json::json!({"base": base, "size": size})),
                    "matches": r.predicted == r.qemu,
                }))
                .collect::<Vec<_>>());
        }
        let mut t = serde_json::to_string_pretty(&v)?;
        t.push('\n');
        t
    } else {
        let mut t = table(&comparison.devices, comparison.matches());
        if let Some(w) = &windows {
            t.push_str(&cxl_table(w));
        }
        qpmem::core::printable::printable_lines(&t).into_owned()
    };
    out(&text)?;
    Ok(if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// QEMU's values at the top level (null when QEMU did not report the
/// device), the prediction beside them.
fn json_row(d: &DeviceComparison) -> serde_json::Value {
    let a = d.actual.as_ref();
    serde_json::json!({
        "id": d.id,
        "kind": a.map(|a| &a.kind),
        "slot": a.and_then(|a| a.slot),
        "addr": a.map(|a| a.addr),
        "size": a.map(|a| a.size),
        "node": a.and_then(|a| a.node),
        "predicted": d.predicted,
        "matches": d.matches(),
        "differences": d.differences,
    })
}

fn table(rows: &[DeviceComparison], matches: bool) -> String {
    let mut t = format!(
        "{:<10} {:>4}  {:<14} {:>12}  {:<14} {:>12}  RESULT\n",
        "ID", "SLOT", "QEMU ADDR", "QEMU SIZE", "PREDICTED", "SIZE"
    );
    let dash = || "-".to_string();
    for d in rows {
        let a = d.actual.as_ref();
        let p = d.predicted.as_ref();
        t.push_str(&format!(
            "{:<10} {:>4}  {:<14} {:>12}  {:<14} {:>12}  {}\n",
            d.id,
            a.and_then(|a| a.slot.map(|s| s.to_string()))
                .unwrap_or_else(dash),
            a.map(|a| format!("{:#014x}", a.addr)).unwrap_or_else(dash),
            a.map(|a| qpmem::core::size::format_qemu(a.size))
                .unwrap_or_else(dash),
            p.map(|p| format!("{:#014x}", p.addr)).unwrap_or_else(dash),
            p.map(|p| qpmem::core::size::format_qemu(p.size))
                .unwrap_or_else(dash),
            if d.matches() { "match" } else { "DIFFERENT" }
        ));
        for diff in &d.differences {
            t.push_str(&format!("    {diff}\n"));
        }
    }
    t.push_str(if matches {
        "QEMU placed every device where qpmem predicted.\n"
    } else {
        "QEMU's placement DIFFERS from qpmem's prediction.\n"
    });
    t
}

/// One CXL window: where QEMU mapped it against the prediction, paired
/// in address order (QEMU's `info mtree` names no index).
struct WindowRow {
    index: usize,
    qemu: Option<(u64, u64)>,
    predicted: Option<(u64, u64)>,
}

fn cxl_rows(predicted: &qpmem::core::layout::Layout, qemu: &[(u64, u64)]) -> Vec<WindowRow> {
    let mut ours: Vec<(u64, u64)> = predicted
        .cxl
        .iter()
        .flat_map(|c| c.windows.iter().map(|w| (w.base, w.size)))
        .collect();
    ours.sort_unstable();
    (0..ours.len().max(qemu.len()))
        .map(|index| WindowRow {
            index,
            qemu: qemu.get(index).copied(),
            predicted: ours.get(index).copied(),
        })
        .collect()
}

fn cxl_table(rows: &[WindowRow]) -> String {
    let cell = |r: Option<(u64, u64)>| {
        r.map_or("-".to_string(), |(b, s)| {
            format!("{b:#014x} {:>8}", qpmem::core::size::format_qemu(s))
        })
    };
    let mut t = format!(
        "\n{:<10} {:<23}  {:<23}  RESULT\n",
        "CXL WINDOW", "QEMU BASE      SIZE", "PREDICTED      SIZE"
    );
    for r in rows {
        t.push_str(&format!(
            "{:<10} {:<23}  {:<23}  {}\n",
            r.index,
            cell(r.qemu),
            cell(r.predicted),
            if r.qemu == r.predicted {
                "ok"
            } else {
                "DIFFERENT"
            }
        ));
    }
    if rows.iter().all(|r| r.qemu == r.predicted) {
        t.push_str("QEMU mapped every CXL window where qpmem predicted.\n");
    }
    t
}
