//! `qpmem probe`: QEMU's real placement against the prediction.

use super::common::{load, out, qemu_binary, Failure, Outcome, QemuArgs, SourceArgs};
use qpmem::core::layout::layout;
use qpmem::core::qemu::{compare, DeviceComparison};
use qpmem::host::placement_facts;
use qpmem::qemu;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(s: SourceArgs, q: QemuArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    let binary = qemu_binary(&q, &loaded.profile)?;
    let predicted = layout(&loaded.profile, &placement_facts(&loaded.profile))?;
    // Ctrl-C, TERM or HUP: QEMU is stopped and the scratch files removed.
    let cancel = super::common::cancel_on_signals()?;
    let actual =
        match qemu::probe_cancellable(&loaded.profile, &binary, Duration::from_secs(30), &cancel) {
            Ok(a) => a,
            Err(qemu::ProbeError::Refused { message }) => {
                return Err(Failure {
                    code: 2,
                    message: format!("QEMU refused the configuration:\n{message}"),
                })
            }
            Err(e) => return Err(e.into()),
        };
    let comparison = compare(&predicted, &actual);
    let matches = comparison.matches();
    let text = if json {
        let dimms: Vec<_> = comparison.devices.iter().map(json_row).collect();
        let mut t =
            serde_json::to_string_pretty(&serde_json::json!({"dimms": dimms, "matches": matches}))?;
        t.push('\n');
        t
    } else {
        qpmem::core::printable::printable_lines(&table(&comparison.devices, matches)).into_owned()
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
