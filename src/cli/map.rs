//! `qpmem map`: the guest physical address map.

use super::common::{judge, load, out, Outcome, SourceArgs};
use qpmem::core::layout::layout;
use qpmem::core::map;
use qpmem::host::placement_facts;

pub fn run(s: SourceArgs, json: bool) -> Outcome {
    let loaded = load(&s)?;
    let l = layout(&loaded.profile, &placement_facts(&loaded.profile))?;
    // A device QEMU would not place is an error diagnostic too.
    let (_, code) = judge(&loaded);
    let text = if json {
        let mut t = serde_json::to_string_pretty(&map::to_json(&loaded.profile, &l))?;
        t.push('\n');
        t
    } else {
        qpmem::core::printable::printable_lines(&map::to_table(&loaded.profile, &l)).into_owned()
    };
    out(&text)?;
    Ok(code)
}
