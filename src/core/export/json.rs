//! `--format json`: the argv (exactly the `argv` form), the shell form,
//! the address map ([`crate::core::map::to_json`]) and the diagnostics, as one
//! JSON object for programs.

use crate::core::cmdline::{render_argv, render_shell};
use crate::core::diagnose::{Applicability, Diagnostic, Fix, Severity};
use crate::core::layout::{Layout, LayoutError};
use crate::core::map;
use crate::core::profile::Profile;
use serde::Serialize;
use serde_json::{json, Value};

/// A diagnostic as every JSON output writes it (`check --json`, `render
/// --format json`): `fix` is the fix's summary, `fixable` whether there is one.
#[derive(Debug, Serialize)]
pub struct DiagnosticJson<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub severity: Severity,
    pub device: Option<&'a str>,
    pub message: &'a str,
    pub help: Option<&'a str>,
    /// `check --fix` applies it.
    pub fixable: bool,
    pub fix: Option<&'a str>,
    /// `machine-applicable` (`--fix` applies it) or `maybe-incorrect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicability: Option<Applicability>,
}

impl<'a> DiagnosticJson<'a> {
    pub fn of(d: &'a Diagnostic) -> DiagnosticJson<'a> {
        DiagnosticJson {
            code: d.code,
            name: d.name,
            severity: d.severity,
            device: d.device.as_deref(),
            message: &d.message,
            help: d.help.as_deref(),
            fixable: d.fix.as_ref().is_some_and(Fix::is_unattended),
            fix: d.fix.as_ref().map(|f| f.summary.as_str()),
            applicability: d.fix.as_ref().map(|f| f.applicability),
        }
    }
}

/// `{"argv": [...], "shell": "...", "map": {...} | null, "map_error":
/// "..." (only when there is no map), "diagnostics": [...]}`.
pub fn render(
    profile: &Profile,
    layout: Result<&Layout, &LayoutError>,
    diagnostics: &[Diagnostic],
) -> Value {
    let mut v = json!({
        "argv": render_argv(profile),
        "shell": render_shell(profile),
        "map": layout.ok().map(|l| map::to_json(profile, l)),
        "diagnostics": diagnostics.iter().map(DiagnosticJson::of).collect::<Vec<_>>(),
    });
    if let (Err(e), Some(obj)) = (layout, v.as_object_mut()) {
        obj.insert("map_error".into(), Value::String(e.to_string()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use std::path::Path;

    #[test]
    fn argv_map_and_diagnostics_are_all_there() {
        let p = Profile::seed(Path::new("/vms"));
        let l = layout(&p, &HostFacts::default()).unwrap();
        let v = render(&p, Ok(&l), &[]);
        let argv: Vec<String> = serde_json::from_value(v["argv"].clone()).unwrap();
        assert_eq!(argv, render_argv(&p));
        assert_eq!(v["map"]["dimms"][1]["addr"], 0x538000000u64);
        assert!(v["diagnostics"].as_array().unwrap().is_empty());
        assert!(v.get("map_error").is_none());

        let mut odd = p.clone();
        odd.machine = "microvm".into();
        let e = layout(&odd, &HostFacts::default()).unwrap_err();
        let v = render(&odd, Err(&e), &[]);
        assert!(v["map"].is_null());
        assert!(v["map_error"].as_str().unwrap().contains("microvm"));
    }
}
