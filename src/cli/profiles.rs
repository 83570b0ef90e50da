//! `qpmem profiles`: list, show, remove and locate stored profiles.

use super::common::{out, Failure, Outcome};
use clap::Subcommand;
use qpmem::core::examples;
use qpmem::core::size::format_human;
use qpmem::source::SourceError;
use qpmem::store::{Origin, Store};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Stored profiles and built-in examples: name, devices, total NVDIMM file size, what the guest sees of it, modified.
    List,
    /// Print a profile's RON (the stored one, else the built-in example).
    Show { name: String },
    /// Remove a stored profile (it is kept as NAME.ron.bak). Asks first.
    Rm {
        name: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Bring back the previous version of a stored profile (NAME.ron.bak, kept by every save and by rm); the version it replaces becomes the .bak.
    Restore { name: String },
    /// Print the profiles directory, or the file the stored profile NAME is (or would be) saved in.
    Path { name: Option<String> },
}

pub fn run(command: Command) -> Outcome {
    let store = Store::from_env()?;
    match command {
        Command::List => list(&store),
        Command::Show { name } => show(&store, &name),
        Command::Rm { name, yes } => rm(&store, &name, yes),
        Command::Path { name } => path(&store, name.as_deref()),
        Command::Restore { name } => {
            let path = store.restore(&name)?;
            eprintln!(
                "Restored '{name}' from {}.bak to {}",
                path.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(store: &Store) -> Outcome {
    let entries = store.list()?;
    let width = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut t = format!(
        "{:<width$}  {:<20}  {:>5}  {:>11}  {:>11}  MODIFIED\n",
        "NAME", "WHERE", "DIMMS", "PMEM FILES", "GUEST SEES"
    );
    for e in &entries {
        let place = match (&e.origin, e.shadowed) {
            (Origin::Stored { .. }, _) => "stored",
            (Origin::BuiltIn, false) => "built-in",
            (Origin::BuiltIn, true) => "built-in (shadowed)",
        };
        let modified = match &e.origin {
            Origin::Stored {
                modified: Some(m), ..
            } => humantime::format_rfc3339_seconds(*m).to_string(),
            _ => "-".to_string(),
        };
        match &e.summary {
            Ok(s) => t.push_str(&format!(
                "{:<width$}  {place:<20}  {:>5}  {:>11}  {:>11}  {modified}\n",
                e.name,
                s.devices,
                format_human(s.pmem_bytes),
                s.guest_pmem_bytes
                    .map(format_human)
                    .unwrap_or_else(|| "?".into())
            )),
            Err(err) => t.push_str(&format!(
                "{:<width$}  {place:<20}  {:>5}  {:>11}  {:>11}  {modified}  unreadable: {err}\n",
                e.name, "?", "?", "?"
            )),
        }
    }
    // "unreadable: ..." echoes the profile's bad value.
    out(&qpmem::core::printable::printable_lines(&t))
}

fn not_found(store: &Store, name: &str) -> Failure {
    let stored = match store.profile_path(name) {
        Ok(p) => p.display().to_string(),
        Err(e) => return e.into(),
    };
    SourceError::NotFound {
        name: name.to_string(),
        stored,
        examples: examples::names(),
    }
    .into()
}

fn show(store: &Store, name: &str) -> Outcome {
    match store.text(name)? {
        Some(text) => out(&text),
        None => Err(not_found(store, name)),
    }
}

fn rm(store: &Store, name: &str, yes: bool) -> Outcome {
    let Some(path) = store.stored_path(name)? else {
        return Err(match store.remove(name) {
            Err(e) => e.into(),
            Ok(_) => not_found(store, name),
        });
    };
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Failure {
                code: 2,
                message: format!(
                    "not removing '{name}' without confirmation: standard input is not a terminal (pass --yes)"
                ),
            });
        }
        eprint!(
            "Remove the stored profile '{name}' ({})? It is kept as {}.bak. [y/N] ",
            path.display(),
            path.display()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("Not removed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let bak = store.remove(name)?;
    eprintln!("Removed '{name}'; the last version is in {}", bak.display());
    Ok(ExitCode::SUCCESS)
}

fn path(store: &Store, name: Option<&str>) -> Outcome {
    match name {
        None => out(&format!("{}\n", store.profiles_dir().display())),
        Some(name) => {
            let p = store.profile_path(name)?;
            if !p.exists() && examples::find(name).is_some() {
                eprintln!("note: '{name}' is a built-in example; saving it there makes a stored copy that shadows it");
            }
            out(&format!("{}\n", p.display()))
        }
    }
}
