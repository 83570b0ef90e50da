//! The QEMU command line: render a profile as argv and as a shell command,
//! and import a pasted command line back into a profile.
//!
//! QEMU option values are comma-separated `key=value` lists (QemuOpts): a
//! literal comma inside a value is written doubled (`mem-path=/a,,b`), and a
//! single comma starts the next property, so every value qpmem writes goes
//! through [`escape_value`]. Booleans are always written `=on`/`=off`,
//! never in the bare form QEMU deprecated.

mod import;
mod render;

pub use import::{import, ImportError, ImportNote, ImportNoteKind};
pub use render::{render_argv, render_shell, shell_quote};

/// Double every comma so QEMU reads `value` as one property value.
pub fn escape_value(value: &str) -> String {
    value.replace(',', ",,")
}

/// Split a QemuOpts string at single commas; `,,` stays in the piece as an
/// escaped comma (the pieces are still escaped: see [`unescape`]).
pub fn split_opts(s: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push_str(",,");
            } else {
                pieces.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    pieces.push(current);
    pieces
}

/// Undo [`escape_value`].
pub fn unescape(s: &str) -> String {
    s.replace(",,", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_are_doubled_and_split_back() {
        assert_eq!(escape_value("/a,b"), "/a,,b");
        let pieces = split_opts("memory-backend-file,id=m1,mem-path=/a,,b,size=1G");
        assert_eq!(
            pieces,
            vec!["memory-backend-file", "id=m1", "mem-path=/a,,b", "size=1G"]
        );
        assert_eq!(unescape(&pieces[2]), "mem-path=/a,b");
        assert_eq!(split_opts(""), vec![""]);
        assert_eq!(split_opts("a,,,b"), vec!["a,,", "b"]);
    }
}
