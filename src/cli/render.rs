//! `qpmem render`: the QEMU command line, or one of the export formats
//! (see `qpmem::core::export`), on stdout or into a file: atomically when it
//! is a regular file (or missing), directly into a FIFO or a character
//! device (`-o -` is stdout); anything else is refused untouched.

use super::common::{judge, load, out, Outcome, SourceArgs};
use clap::ValueEnum;
use qpmem::core::cmdline::{render_argv, render_shell};
use qpmem::core::export;
use qpmem::core::layout::layout;
use qpmem::core::profile::Backend;
use qpmem::store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One option per line, quoted for POSIX sh.
    Shell,
    /// One argument per line, the QEMU binary first.
    Argv,
    /// {"argv": [...], "shell", "map", "diagnostics"} for programs.
    Json,
    /// A POSIX sh script: create missing backing files (sparse), then exec QEMU.
    Script,
    /// A libvirt <domain> (notes on what libvirt changes go to stderr too).
    Libvirt,
    /// The ndctl/mkfs/mount commands (cxl create-region for CXL) to run inside the guest.
    Guest,
}

pub fn run(s: SourceArgs, format: Format, output: Option<PathBuf>) -> Outcome {
    let loaded = load(&s)?;
    let profile = &loaded.profile;
    // Printed whatever they say; errors go to stderr and set the exit code.
    let (diagnostics, code) = judge(&loaded);
    let text = match format {
        Format::Shell => render_shell(profile),
        Format::Argv => {
            let mut t = render_argv(profile).join("\n");
            t.push('\n');
            t
        }
        Format::Json => {
            // Only the JSON and the guest recipe carry the map, which
            // wants the host's facts (huge-page backing files): gathered
            // for them alone.
            let l = layout(profile, &qpmem::host::gather(profile));
            let v = export::json::render(profile, l.as_ref(), &diagnostics);
            let mut t = serde_json::to_string_pretty(&v)?;
            t.push('\n');
            t
        }
        Format::Script => export::script::render(profile),
        Format::Libvirt => {
            // libvirt needs absolute paths: resolve the emulator on PATH
            // and relative backing files against the current directory.
            let mut p = profile.clone();
            for d in &mut p.devices {
                if let Backend::File(path) = &mut d.backend {
                    if path.is_relative() {
                        if let Ok(abs) = std::path::absolute(&*path) {
                            *path = abs;
                        }
                    }
                }
            }
            let emulator = which::which(p.qemu_binary()).ok();
            // The map's slots are pinned in the export.
            let l = layout(&p, &qpmem::host::placement_facts(&p)).ok();
            let e = export::libvirt::render(&p, emulator.as_deref(), l.as_ref());
            for n in &e.notes {
                eprintln!("note: {n}");
            }
            e.text
        }
        Format::Guest => {
            let l = layout(profile, &qpmem::host::gather(profile)).ok();
            export::guest::render(profile, l.as_ref())
        }
    };
    match output {
        None => out(&text)?,
        Some(path) if path.as_os_str() == "-" => out(&text)?,
        Some(path) => {
            store::atomic::write_output(&path, &text, format == Format::Script)?;
            ExitCode::SUCCESS
        }
    };
    Ok(code)
}
