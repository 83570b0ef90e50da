//! `qpmem` and `qpmem edit`: the interactive editor.

use super::common::{load, Failure, Outcome, SourceArgs};
use qpmem::source::{self, Loaded};
use qpmem::store::Store;
use qpmem::tui::{self, profiles};
use std::process::ExitCode;

/// `source` is `None` for bare `qpmem`: the last used profile, else the
/// built-in default.
pub fn run(source: Option<SourceArgs>, theme: Option<String>) -> Outcome {
    let (loaded, status) = match source {
        Some(s) => (load(&s)?, None),
        None => last_used_or_default()?,
    };
    tui::run(tui::Options {
        loaded,
        theme,
        status,
    })
    .map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn last_used_or_default() -> Result<(Loaded, Option<String>), Failure> {
    let last = Store::from_env().ok().and_then(|s| profiles::last_used(&s));
    if let Some(name) = last {
        match source::load(Some(&name), None) {
            Ok(l) => return Ok((l, None)),
            Err(e) => {
                let l = source::load(None, None)?;
                return Ok((
                    l,
                    Some(format!("last profile unreadable ({e}); opened the default")),
                ));
            }
        }
    }
    Ok((source::load(None, None)?, None))
}
