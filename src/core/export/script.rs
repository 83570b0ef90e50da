//! `--format script`: a POSIX sh script that creates each missing backing
//! file (sparse, with its parent directories) and then `exec`s QEMU with
//! exactly the argv of `--format argv`, plus the script's own arguments
//! (`sh vm.sh -S` starts it paused).
//!
//! An existing backing file is never truncated or resized: the file is
//! created with the shell's noclobber (`set -C`, an O_EXCL open), so one
//! that appears between the test and the creation makes the script stop
//! instead of being cut; only a file the script itself just created is
//! extended with `truncate -s`.

use crate::core::cmdline::{render_shell, shell_quote};
use crate::core::profile::{Backend, Profile};
use crate::core::size::format_qemu;
use std::fmt::Write;

const PREAMBLE: &str = r#"set -eu

# Create a missing backing file, sparse, with its parent directories.
# An existing file (or directory) is left exactly as it is.
qpmem_backing() {
    if [ ! -e "$1" ]; then
        mkdir -p -- "$(dirname -- "$1")"
        (set -C; : > "$1")
        truncate -s "$2" -- "$1"
    fi
}
"#;

/// The script text.
pub fn render(profile: &Profile) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# Start the VM of the qpmem profile {}.",
        shell_comment(&profile.name)
    );
    s.push_str("# Extra arguments are passed to QEMU (e.g. -S to start paused).\n");
    s.push_str(PREAMBLE);
    let files: Vec<_> = profile
        .devices
        .iter()
        .filter_map(|d| match &d.backend {
            Backend::File(path) => Some((d, path)),
            Backend::Ram => None,
        })
        .collect();
    if !files.is_empty() {
        s.push('\n');
    }
    for (d, path) in files {
        let _ = writeln!(
            s,
            "qpmem_backing {} {}  # {}: {}",
            shell_quote(&path.to_string_lossy()),
            d.size.0,
            shell_comment(&d.id),
            format_qemu(d.size.0)
        );
    }
    s.push('\n');
    let shell = render_shell(profile);
    s.push_str("exec ");
    s.push_str(shell.trim_end());
    s.push_str(" \\\n  \"$@\"\n");
    s
}

/// Text safe inside a `#` comment: one line.
fn shell_comment(text: &str) -> String {
    // Escaped, so the comment stays one line and holds no raw escapes.
    format!("'{}'", crate::core::printable::printable(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn creates_backing_files_then_execs_qemu() {
        let s = render(&Profile::seed(Path::new("/vms")));
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("qpmem_backing /vms/nvdimm-1 18253611008  # 'nv1': 17G\n"));
        assert!(s.contains("\nexec qemu-system-x86_64 \\\n  -machine pc,nvdimm=on \\\n"));
        assert!(s.ends_with("label-size=2M \\\n  \"$@\"\n"), "{s}");
    }

    #[test]
    fn comments_cannot_break_out_of_their_line() {
        let mut p = Profile::empty("two\nlines");
        p.devices.push(crate::core::profile::Dimm::nvdimm(
            1,
            "/a\nb".into(),
            crate::core::size::Size::gib(1),
        ));
        let s = render(&p);
        assert!(s.contains("profile 'two\\x0alines'."), "{s}");
        assert!(s.contains("qpmem_backing '/a\nb' "), "{s}");
    }
}
