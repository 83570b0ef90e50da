//! Keyboard input for the guest: crossterm key events and pastes turned
//! into the bytes an xterm-compatible terminal sends.
//!
//! The guest's cursor-key mode (DECCKM) and bracketed-paste mode come from
//! the emulator's screen state, so arrows and Home/End follow what the
//! program in the guest asked for. `Ctrl-]` is never sent: it gives the
//! keyboard back to qpmem ([`KeyInput::Release`]).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The terminal modes that change what a key sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputModes {
    /// DECCKM (`ESC [ ? 1 h`): arrows and Home/End send `ESC O x`.
    pub application_cursor: bool,
    /// `ESC [ ? 2004 h`: pastes are wrapped in `ESC [ 200 ~` / `ESC [ 201 ~`.
    pub bracketed_paste: bool,
}

/// What a key means for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInput {
    /// Write these bytes to the guest.
    Send(Vec<u8>),
    /// `Ctrl-]`: give the keyboard back to the editor.
    Release,
    /// Nothing to send (a key release, a lone modifier, Caps Lock...).
    Ignore,
}

/// Is this the key that releases the keyboard? Terminals report `Ctrl-]`
/// either as Ctrl+`]` or, in the legacy encoding (byte 0x1d), as Ctrl+`5`.
pub fn is_release_key(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char(']') | KeyCode::Char('5'))
}

/// Encode one key event.
pub fn encode_key(key: &KeyEvent, modes: InputModes) -> KeyInput {
    if key.kind == KeyEventKind::Release {
        return KeyInput::Ignore;
    }
    if is_release_key(key) {
        return KeyInput::Release;
    }
    match encode(key.code, key.modifiers, modes) {
        Some(bytes) => KeyInput::Send(bytes),
        None => KeyInput::Ignore,
    }
}

/// xterm's modifier parameter: 1 + Shift(1) + Alt(2) + Ctrl(4); `None`
/// when no modifier is held.
fn modifier_param(m: KeyModifiers) -> Option<u8> {
    let mut p = 1;
    if m.contains(KeyModifiers::SHIFT) {
        p += 1;
    }
    if m.contains(KeyModifiers::ALT) {
        p += 2;
    }
    if m.contains(KeyModifiers::CONTROL) {
        p += 4;
    }
    (p > 1).then_some(p)
}

/// A cursor-style key (arrows, Home, End, F1-F4): `ESC [ x` or, in
/// application mode, `ESC O x`; with modifiers `ESC [ 1 ; m x`.
fn cursor_key(final_byte: u8, m: KeyModifiers, ss3: bool) -> Vec<u8> {
    match modifier_param(m) {
        Some(p) => format!("\x1b[1;{p}{}", final_byte as char).into_bytes(),
        None if ss3 => vec![0x1b, b'O', final_byte],
        None => vec![0x1b, b'[', final_byte],
    }
}

/// A `ESC [ n ~` key (Insert, Delete, PgUp, PgDn, F5-F12); with
/// modifiers `ESC [ n ; m ~`.
fn tilde_key(n: u8, m: KeyModifiers) -> Vec<u8> {
    match modifier_param(m) {
        Some(p) => format!("\x1b[{n};{p}~").into_bytes(),
        None => format!("\x1b[{n}~").into_bytes(),
    }
}

/// The control byte for Ctrl+`c`, as xterm sends it.
fn ctrl_byte(c: char) -> Option<u8> {
    match c {
        'a'..='z' => Some(c as u8 - b'a' + 1),
        'A'..='Z' => Some(c as u8 - b'A' + 1),
        '@' | ' ' | '2' => Some(0x00),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' => Some(0x1e),
        '_' | '7' | '/' => Some(0x1f),
        '8' | '?' => Some(0x7f),
        _ => None,
    }
}

fn with_alt(m: KeyModifiers, mut bytes: Vec<u8>) -> Vec<u8> {
    if m.contains(KeyModifiers::ALT) {
        bytes.insert(0, 0x1b);
    }
    bytes
}

fn encode(code: KeyCode, m: KeyModifiers, modes: InputModes) -> Option<Vec<u8>> {
    let app = modes.application_cursor;
    let bytes = match code {
        KeyCode::Char(c) => {
            if m.contains(KeyModifiers::CONTROL) {
                match ctrl_byte(c) {
                    Some(b) => with_alt(m, vec![b]),
                    None => with_alt(m, c.to_string().into_bytes()),
                }
            } else {
                // Shift is already in the character crossterm reports.
                with_alt(m, c.to_string().into_bytes())
            }
        }
        KeyCode::Enter => with_alt(m, vec![b'\r']),
        KeyCode::Backspace => {
            let b = if m.contains(KeyModifiers::CONTROL) {
                0x08
            } else {
                0x7f
            };
            with_alt(m, vec![b])
        }
        KeyCode::Tab if m.contains(KeyModifiers::SHIFT) => b"\x1b[Z".to_vec(),
        KeyCode::Tab => with_alt(m, vec![b'\t']),
        KeyCode::BackTab => b"\x1b[Z".to_vec(),
        KeyCode::Esc => with_alt(m, vec![0x1b]),
        KeyCode::Null => vec![0x00],
        KeyCode::Up => cursor_key(b'A', m, app),
        KeyCode::Down => cursor_key(b'B', m, app),
        KeyCode::Right => cursor_key(b'C', m, app),
        KeyCode::Left => cursor_key(b'D', m, app),
        KeyCode::Home => cursor_key(b'H', m, app),
        KeyCode::End => cursor_key(b'F', m, app),
        KeyCode::Insert => tilde_key(2, m),
        KeyCode::Delete => tilde_key(3, m),
        KeyCode::PageUp => tilde_key(5, m),
        KeyCode::PageDown => tilde_key(6, m),
        KeyCode::F(n) => match n {
            1 => cursor_key(b'P', m, true),
            2 => cursor_key(b'Q', m, true),
            3 => cursor_key(b'R', m, true),
            4 => cursor_key(b'S', m, true),
            5 => tilde_key(15, m),
            6 => tilde_key(17, m),
            7 => tilde_key(18, m),
            8 => tilde_key(19, m),
            9 => tilde_key(20, m),
            10 => tilde_key(21, m),
            11 => tilde_key(23, m),
            12 => tilde_key(24, m),
            _ => return None,
        },
        _ => return None,
    };
    Some(bytes)
}

/// Encode pasted text: line ends become carriage returns (what Enter
/// sends), and with bracketed paste the text is wrapped so the guest can
/// tell it from typing. An embedded end marker is removed so a paste
/// cannot break out of the brackets.
pub fn encode_paste(text: &str, modes: InputModes) -> Vec<u8> {
    let normalised = text.replace("\r\n", "\r").replace('\n', "\r");
    if modes.bracketed_paste {
        let inner = normalised.replace("\x1b[201~", "");
        let mut out = Vec::with_capacity(inner.len() + 12);
        out.extend_from_slice(b"\x1b[200~");
        out.extend_from_slice(inner.as_bytes());
        out.extend_from_slice(b"\x1b[201~");
        out
    } else {
        normalised.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NORMAL: InputModes = InputModes {
        application_cursor: false,
        bracketed_paste: false,
    };
    const APP: InputModes = InputModes {
        application_cursor: true,
        bracketed_paste: false,
    };

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    fn send(code: KeyCode, m: KeyModifiers, modes: InputModes) -> Vec<u8> {
        match encode_key(&key(code, m), modes) {
            KeyInput::Send(b) => b,
            other => panic!("{code:?} {m:?} gave {other:?}"),
        }
    }

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;
    const ALT: KeyModifiers = KeyModifiers::ALT;
    const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

    #[test]
    fn plain_keys() {
        assert_eq!(send(KeyCode::Enter, NONE, NORMAL), b"\r");
        assert_eq!(send(KeyCode::Backspace, NONE, NORMAL), b"\x7f");
        assert_eq!(send(KeyCode::Backspace, CTRL, NORMAL), b"\x08");
        assert_eq!(send(KeyCode::Tab, NONE, NORMAL), b"\t");
        assert_eq!(send(KeyCode::BackTab, SHIFT, NORMAL), b"\x1b[Z");
        assert_eq!(send(KeyCode::Esc, NONE, NORMAL), b"\x1b");
        assert_eq!(send(KeyCode::Char('a'), NONE, NORMAL), b"a");
        assert_eq!(send(KeyCode::Char('A'), SHIFT, NORMAL), b"A");
    }

    #[test]
    fn utf8_characters() {
        assert_eq!(send(KeyCode::Char('é'), NONE, NORMAL), b"\xc3\xa9");
        assert_eq!(send(KeyCode::Char('€'), NONE, NORMAL), b"\xe2\x82\xac");
        assert_eq!(send(KeyCode::Char('🦀'), NONE, NORMAL), b"\xf0\x9f\xa6\x80");
    }

    #[test]
    fn arrows_follow_the_cursor_key_mode() {
        assert_eq!(send(KeyCode::Up, NONE, NORMAL), b"\x1b[A");
        assert_eq!(send(KeyCode::Down, NONE, NORMAL), b"\x1b[B");
        assert_eq!(send(KeyCode::Right, NONE, NORMAL), b"\x1b[C");
        assert_eq!(send(KeyCode::Left, NONE, NORMAL), b"\x1b[D");
        assert_eq!(send(KeyCode::Up, NONE, APP), b"\x1bOA");
        assert_eq!(send(KeyCode::Down, NONE, APP), b"\x1bOB");
        assert_eq!(send(KeyCode::Right, NONE, APP), b"\x1bOC");
        assert_eq!(send(KeyCode::Left, NONE, APP), b"\x1bOD");
        assert_eq!(send(KeyCode::Home, NONE, NORMAL), b"\x1b[H");
        assert_eq!(send(KeyCode::End, NONE, NORMAL), b"\x1b[F");
        assert_eq!(send(KeyCode::Home, NONE, APP), b"\x1bOH");
        assert_eq!(send(KeyCode::End, NONE, APP), b"\x1bOF");
        // Modified arrows use the CSI form in either mode.
        assert_eq!(send(KeyCode::Left, CTRL, APP), b"\x1b[1;5D");
        assert_eq!(send(KeyCode::Up, SHIFT, NORMAL), b"\x1b[1;2A");
        assert_eq!(send(KeyCode::Right, ALT, NORMAL), b"\x1b[1;3C");
        assert_eq!(send(KeyCode::End, CTRL | SHIFT, NORMAL), b"\x1b[1;6F");
    }

    #[test]
    fn editing_and_function_keys() {
        assert_eq!(send(KeyCode::Insert, NONE, NORMAL), b"\x1b[2~");
        assert_eq!(send(KeyCode::Delete, NONE, NORMAL), b"\x1b[3~");
        assert_eq!(send(KeyCode::PageUp, NONE, NORMAL), b"\x1b[5~");
        assert_eq!(send(KeyCode::PageDown, NONE, NORMAL), b"\x1b[6~");
        assert_eq!(send(KeyCode::Delete, CTRL, NORMAL), b"\x1b[3;5~");
        let f: Vec<&[u8]> = vec![
            b"\x1bOP",
            b"\x1bOQ",
            b"\x1bOR",
            b"\x1bOS",
            b"\x1b[15~",
            b"\x1b[17~",
            b"\x1b[18~",
            b"\x1b[19~",
            b"\x1b[20~",
            b"\x1b[21~",
            b"\x1b[23~",
            b"\x1b[24~",
        ];
        for (i, want) in f.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap();
            assert_eq!(send(KeyCode::F(n), NONE, NORMAL), *want, "F{n}");
        }
        assert_eq!(send(KeyCode::F(1), SHIFT, NORMAL), b"\x1b[1;2P");
        assert_eq!(send(KeyCode::F(5), CTRL, NORMAL), b"\x1b[15;5~");
        assert_eq!(
            encode_key(&key(KeyCode::F(13), NONE), NORMAL),
            KeyInput::Ignore
        );
    }

    #[test]
    fn ctrl_and_alt_combinations() {
        assert_eq!(send(KeyCode::Char('c'), CTRL, NORMAL), b"\x03");
        assert_eq!(send(KeyCode::Char('a'), CTRL, NORMAL), b"\x01");
        assert_eq!(send(KeyCode::Char('z'), CTRL, NORMAL), b"\x1a");
        assert_eq!(send(KeyCode::Char('D'), CTRL | SHIFT, NORMAL), b"\x04");
        assert_eq!(send(KeyCode::Char(' '), CTRL, NORMAL), b"\x00");
        assert_eq!(send(KeyCode::Char('['), CTRL, NORMAL), b"\x1b");
        assert_eq!(send(KeyCode::Char('\\'), CTRL, NORMAL), b"\x1c");
        assert_eq!(send(KeyCode::Char('_'), CTRL, NORMAL), b"\x1f");
        assert_eq!(send(KeyCode::Char('x'), ALT, NORMAL), b"\x1bx");
        assert_eq!(send(KeyCode::Char('X'), ALT | SHIFT, NORMAL), b"\x1bX");
        assert_eq!(send(KeyCode::Char('c'), CTRL | ALT, NORMAL), b"\x1b\x03");
        assert_eq!(send(KeyCode::Backspace, ALT, NORMAL), b"\x1b\x7f");
        assert_eq!(send(KeyCode::Enter, ALT, NORMAL), b"\x1b\r");
    }

    #[test]
    fn ctrl_bracket_releases_the_keyboard() {
        assert_eq!(
            encode_key(&key(KeyCode::Char(']'), CTRL), NORMAL),
            KeyInput::Release
        );
        // The legacy encoding of 0x1d as crossterm reports it.
        assert_eq!(
            encode_key(&key(KeyCode::Char('5'), CTRL), APP),
            KeyInput::Release
        );
        assert_eq!(send(KeyCode::Char(']'), NONE, NORMAL), b"]");
    }

    #[test]
    fn key_releases_and_modifiers_alone_send_nothing() {
        let mut k = key(KeyCode::Char('a'), NONE);
        k.kind = KeyEventKind::Release;
        assert_eq!(encode_key(&k, NORMAL), KeyInput::Ignore);
        assert_eq!(
            encode_key(&key(KeyCode::CapsLock, NONE), NORMAL),
            KeyInput::Ignore
        );
    }

    #[test]
    fn paste_plain_and_bracketed() {
        assert_eq!(encode_paste("ls\nuname -a\r\n", NORMAL), b"ls\runame -a\r");
        let bracketed = InputModes {
            application_cursor: false,
            bracketed_paste: true,
        };
        assert_eq!(
            encode_paste("a\nb", bracketed),
            b"\x1b[200~a\rb\x1b[201~".to_vec()
        );
        assert_eq!(
            encode_paste("x\x1b[201~rm -rf /\n", bracketed),
            b"\x1b[200~xrm -rf /\r\x1b[201~".to_vec()
        );
    }
}
