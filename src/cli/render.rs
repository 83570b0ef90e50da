//! `qpmem render`: the QEMU command line.

use super::common::{load, out, Outcome, SourceArgs};
use clap::ValueEnum;
use qpmem::cmdline::{render_argv, render_shell};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// One option per line, quoted for POSIX sh.
    Shell,
    /// One argument per line, the QEMU binary first.
    Argv,
}

pub fn run(s: SourceArgs, format: Format) -> Outcome {
    let loaded = load(&s)?;
    let text = match format {
        Format::Shell => render_shell(&loaded.profile),
        Format::Argv => {
            let mut t = render_argv(&loaded.profile).join("\n");
            t.push('\n');
            t
        }
    };
    out(&text)
}
