//! `qpmem map`: the guest physical address map, as a table, JSON or an
//! SVG picture.

use super::common::{judge, load, out, Failure, Outcome, SourceArgs};
use clap::ValueEnum;
use qpmem::core::export::svg;
use qpmem::core::layout::layout;
use qpmem::core::map;
use qpmem::host::placement_facts;
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Text,
    /// JSON for programs (integers in bytes).
    Json,
    /// An SVG picture: the section grid, RAM, each DIMM's range, hidden tail and label.
    Svg,
}

pub fn run(s: SourceArgs, format: Format, output: Option<PathBuf>) -> Outcome {
    let loaded = load(&s)?;
    // A device qpmem does not place would make every address after it
    // wrong: say so instead of drawing a map without it.
    let unknown = qpmem::core::cmdline::unmodelled(&loaded.profile);
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        return Err(Failure {
            code: 2,
            message: qpmem::core::printable::printable(&format!(
                "qpmem cannot predict placement with {}: not modelled (`qpmem probe` asks real QEMU)",
                names.join(", ")
            ))
            .into_owned(),
        });
    }
    let l = layout(&loaded.profile, &placement_facts(&loaded.profile))?;
    // A device QEMU would not place is an error diagnostic too.
    let (_, code) = judge(&loaded);
    let text = match format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(&map::to_json(&loaded.profile, &l))?;
            t.push('\n');
            t
        }
        Format::Text => {
            qpmem::core::printable::printable_lines(&map::to_table(&loaded.profile, &l))
                .into_owned()
        }
        Format::Svg => svg::render(&loaded.profile, &l),
    };
    match output {
        Some(path) if path.as_os_str() != "-" => {
            qpmem::store::atomic::write_output(&path, &text, false)?
        }
        _ => {
            out(&text)?;
        }
    }
    Ok(code)
}
