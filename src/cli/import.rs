//! `qpmem import`: a pasted command line as a profile.

use super::common::{out, Outcome};
use qpmem::cmdline::import;
use qpmem::store;

pub fn run(cmdline: &str) -> Outcome {
    let (profile, _notes) = import(cmdline)?;
    out(&store::to_ron(&profile)?)
}
