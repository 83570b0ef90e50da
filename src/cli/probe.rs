//! `qpmem probe`: QEMU's real placement against the prediction.

use super::common::{load, out, qemu_binary, Failure, Outcome, QemuArgs, SourceArgs};
use qpmem::layout::{layout, HostFacts};
use qpmem::qemu;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(s: SourceArgs, q: QemuArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    let binary = qemu_binary(&q, &loaded.profile)?;
    let predicted = layout(&loaded.profile, &HostFacts::default())?;
    let actual = match qemu::probe(&loaded.profile, &binary, Duration::from_secs(30)) {
        Ok(a) => a,
        Err(qemu::ProbeError::Refused { message }) => {
            return Err(Failure {
                code: 2,
                message: format!("QEMU refused the configuration:\n{message}"),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let mut matches = actual.len() == predicted.devices.len();
    let mut rows = Vec::new();
    for a in &actual {
        let id = a.id.clone().unwrap_or_default();
        let p = predicted
            .devices
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.placement());
        let same = p.is_some_and(|p| p.addr == a.addr && p.size == a.size && p.slot == a.slot);
        matches &= same;
        rows.push((a, p.cloned(), same));
    }
    let text = if json {
        let dimms: Vec<_> = rows
            .iter()
            .map(|(a, p, same)| {
                serde_json::json!({
                    "id": a.id, "kind": a.kind, "slot": a.slot, "addr": a.addr, "size": a.size,
                    "node": a.node,
                    "predicted": p.as_ref().map(|p| serde_json::json!({"slot": p.slot, "addr": p.addr, "size": p.size})),
                    "matches": same,
                })
            })
            .collect();
        let mut t =
            serde_json::to_string_pretty(&serde_json::json!({"dimms": dimms, "matches": matches}))?;
        t.push('\n');
        t
    } else {
        let mut t = format!(
            "{:<10} {:>4}  {:<14} {:>12}  {:<14} {:>12}  RESULT\n",
            "ID", "SLOT", "QEMU ADDR", "QEMU SIZE", "PREDICTED", "SIZE"
        );
        for (a, p, same) in &rows {
            t.push_str(&format!(
                "{:<10} {:>4}  {:#014x} {:>12}  {:<14} {:>12}  {}\n",
                a.id.as_deref().unwrap_or("-"),
                a.slot,
                a.addr,
                qpmem::size::format_qemu(a.size),
                p.as_ref()
                    .map(|p| format!("{:#014x}", p.addr))
                    .unwrap_or("-".into()),
                p.as_ref()
                    .map(|p| qpmem::size::format_qemu(p.size))
                    .unwrap_or("-".into()),
                if *same { "match" } else { "DIFFERENT" }
            ));
        }
        t.push_str(if matches {
            "QEMU placed every device where qpmem predicted.\n"
        } else {
            "QEMU's placement DIFFERS from qpmem's prediction.\n"
        });
        t
    };
    out(&text)?;
    Ok(if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
