//! `qpmem import`: a pasted command line as a profile, printed or saved
//! in the store.

use super::common::{out, Outcome};
use qpmem::core::cmdline::import;
use qpmem::core::new_dimm::own_backing_files;
use qpmem::core::profile_ron::to_ron;
use qpmem::host;
use qpmem::store::{self, Store, StoreError};
use std::process::ExitCode;

pub fn run(cmdline: &str, save: Option<&str>, force: bool) -> Outcome {
    let Some(name) = save else {
        let (profile, _notes) = import(cmdline)?;
        return out(&to_ron(&profile)?);
    };
    // Check the name before the (possibly long) command line.
    store::validate_name(name)?;
    let (mut profile, _notes) = import(cmdline)?;
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
    // A new stored profile never shares qpmem's data files with another.
    let ctx = host::new_dimm_context(store.data_dir().to_path_buf(), None);
    let moved = own_backing_files(&mut profile, name, &ctx);
    let path = store.save(name, &profile)?;
    eprintln!("Saved the profile '{name}' to {}", path.display());
    for m in moved {
        eprintln!(
            "{}: a backing file of its own, {} (not {}, in qpmem's data directory)",
            m.id,
            m.to.display(),
            m.from.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
