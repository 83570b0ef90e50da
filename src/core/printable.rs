//! Making profile-supplied text safe to show a person.
//!
//! A profile (or a pasted command line) can hold any character; printed raw,
//! an escape sequence in a name or a path (OSC 52 sets the clipboard, OSC 0
//! the window title) would reach the terminal. [`printable`] writes control
//! characters as `\x1b`-style escapes.

use std::borrow::Cow;

/// Is this a character that must not reach a terminal raw?
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// `s` with control characters (C0, DEL, C1) written as `\xNN`
/// escapes; borrowed unchanged when there is nothing to escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            // Every control character (Unicode Cc) is below U+0100.
            c if is_control(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`] for text of several lines: line breaks are kept, every
/// other control character is escaped.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_control(c)) {
        return Cow::Borrowed(s);
    }
    let lines: Vec<_> = s.split('\n').map(printable).collect();
    Cow::Owned(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        assert!(matches!(printable("/vms/nv1"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}]52;c;aGk=\u{7}"), "a\\x1b]52;c;aGk=\\x07");
        assert_eq!(printable("\0\n\u{9b}"), "\\x00\\x0a\\x9b");
        assert_eq!(printable("a\\b\t"), "a\\b\\x09");
        assert_eq!(printable_lines("a\n\u{1b}b\n"), "a\n\\x1bb\n");
        assert!(matches!(printable_lines("a\nb"), Cow::Borrowed(_)));
    }
}
