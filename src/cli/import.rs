//! `qpmem import`: a pasted command line as a profile, printed or saved
//! in the store.

use super::common::{out, Outcome};
use qpmem::core::cmdline::import;
use qpmem::core::profile_ron::to_ron;
use qpmem::store::{self, Store, StoreError};
use std::process::ExitCode;

pub fn run(cmdline: &str, save: Option<&str>, force: bool) -> Outcome {
    let Some(name) = save else {
        let (profile, _notes) = import(cmdline)?;
        return out(&to_ron(&profile)?);
    };
    // Check the name before the (possibly long) command line.
    store::validate_name(name)?;
    let (profile, _notes) = import(cmdline)?;
    let store = Store::from_env()?;
    if let Some(existing) = store.stored_path(name)? {
        if !force {
            return Err(StoreError::Exists {
                name: name.to_string(),
                path: format!("{}; pass --force to replace it", existing.display()),
            }
            .into());
        }
    }
    let path = store.save(name, &profile)?;
    eprintln!("Saved the profile '{name}' to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
