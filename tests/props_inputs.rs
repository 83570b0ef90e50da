//! Hostile input for the parsers the other property suites do not cover:
//! theme files, console key and paste encoding, and absurdly large
//! command lines. Each must answer with a value or an error, never panic.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use proptest::prelude::*;
use qpmem::console::{encode_key, encode_paste, InputModes, KeyInput};
use qpmem::core::cmdline::{import, render_argv};
use qpmem::core::facts::HostFacts;
use qpmem::core::layout::layout;
use qpmem::tui::theme::Theme;

fn key_code() -> impl Strategy<Value = KeyCode> {
    prop_oneof![
        any::<char>().prop_map(KeyCode::Char),
        (0u8..=255).prop_map(KeyCode::F),
        Just(KeyCode::Enter),
        Just(KeyCode::Backspace),
        Just(KeyCode::Tab),
        Just(KeyCode::BackTab),
        Just(KeyCode::Esc),
        Just(KeyCode::Up),
        Just(KeyCode::Down),
        Just(KeyCode::Left),
        Just(KeyCode::Right),
        Just(KeyCode::Home),
        Just(KeyCode::End),
        Just(KeyCode::PageUp),
        Just(KeyCode::PageDown),
        Just(KeyCode::Insert),
        Just(KeyCode::Delete),
        Just(KeyCode::Null),
        Just(KeyCode::CapsLock),
        Just(KeyCode::Menu),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(512))]

    /// Any key with any modifiers in any mode: bytes, release or nothing.
    /// Pressed keys that are plain characters always reach the guest.
    #[test]
    fn every_key_encodes(
        code in key_code(),
        mods in 0u8..=0xff,
        press in any::<bool>(),
        app_cursor in any::<bool>(),
        paste in any::<bool>(),
    ) {
        let modes = InputModes { application_cursor: app_cursor, bracketed_paste: paste };
        let modifiers = KeyModifiers::from_bits_truncate(mods);
        let kind = if press { KeyEventKind::Press } else { KeyEventKind::Release };
        let ev = KeyEvent { code, modifiers, kind, state: KeyEventState::NONE };
        let out = encode_key(&ev, modes);
        if let (KeyCode::Char(c), true, true) = (code, press, modifiers.is_empty()) {
            let mut buf = [0u8; 4];
            prop_assert_eq!(out, KeyInput::Send(c.encode_utf8(&mut buf).as_bytes().to_vec()));
        }
    }

    /// Pasted text never smuggles out of a bracketed paste.
    #[test]
    fn pastes_stay_inside_their_brackets(text in "\\PC{0,64}|.*\x1b\\[201~.*") {
        let modes = InputModes { application_cursor: false, bracketed_paste: true };
        let out = encode_paste(&text, modes);
        let end = b"\x1b[201~";
        let ends = out.windows(end.len()).filter(|w| *w == end).count();
        prop_assert_eq!(ends, 1);
        prop_assert!(out.ends_with(end));
    }

    /// A theme file of any content loads something, and a broken one is
    /// reported rather than half applied.
    #[test]
    fn any_theme_file_loads_or_is_reported(text in "\\PC{0,200}|\\(\\s*[a-z_]{1,12}\\s*:\\s*\\PC{0,20}\\)") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ron");
        std::fs::write(&path, &text).unwrap();
        let (theme, problem) = Theme::load(path.to_str(), None, false);
        if problem.is_some() {
            prop_assert_eq!(theme, Theme::default_theme());
        }
    }
}

/// 100,000 characters of command line: a few hundred devices and a long
/// tail of options qpmem keeps verbatim. Imported, laid out and rendered.
#[test]
fn a_hundred_thousand_character_command_line() {
    let mut line =
        String::from("qemu-system-x86_64 -machine pc,nvdimm=on -m 1G,slots=256,maxmem=2T");
    for i in 0..300 {
        line.push_str(&format!(
            " -object memory-backend-file,id=m{i},share=on,mem-path=/vms/a-rather-long-directory-name/nv{i},size=1G \
             -device nvdimm,id=nv{i},memdev=m{i},label-size=2M"
        ));
    }
    while line.len() < 100_000 {
        line.push_str(" -global kvm-pit.lost_tick_policy=discard");
    }
    let (p, _) = import(&line).expect("imports");
    assert_eq!(p.devices.len(), 300);
    let l = layout(&p, &HostFacts::default()).expect("laid out");
    // 256 slots: the 257th device on has none, as QEMU would say.
    assert!(l.devices[255].result.is_ok());
    assert!(l.devices[256].result.is_err());
    assert!(render_argv(&p).len() > 600);
}

/// Garbage in place of a command line of the same size: an error or a
/// profile without DIMMs (nothing in it says -device), never a panic.
#[test]
fn a_hundred_thousand_characters_of_noise() {
    let mut x: u32 = 0x1234_5678;
    let noise: String = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let alphabet = b" -,='\"\\abc0123456789xyzKMGTE";
            char::from(alphabet[x as usize % alphabet.len()])
        })
        .collect();
    if let Ok((p, _)) = import(&noise) {
        assert!(p.devices.is_empty(), "DIMMs made up from noise: {p:?}");
    }
}
