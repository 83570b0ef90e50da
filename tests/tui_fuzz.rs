//! Any key sequence, mouse action and terminal size: the app never panics,
//! keeps its selections in range, and every frame draws.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use proptest::prelude::*;
use qpmem::core::profile::{Auto, Profile};
use qpmem::core::size::Size;
use qpmem::tui::{ui, App, Event};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::Path;

fn event() -> impl Strategy<Value = Event> {
    let chars = prop::sample::select("adeJKfusoylq?+-0jkhgGnxY1G/. ".chars().collect::<Vec<_>>());
    let codes = prop::sample::select(vec![
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ]);
    prop_oneof![
        6 => chars.prop_map(|c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))),
        3 => codes.prop_map(|c| Event::Key(KeyEvent::new(c, KeyModifiers::NONE))),
        1 => Just(Event::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL))),
        1 => (0u16..200, 0u16..60, 0u8..3).prop_map(|(column, row, k)| Event::Mouse(MouseEvent {
            kind: match k {
                0 => MouseEventKind::Down(MouseButton::Left),
                1 => MouseEventKind::ScrollUp,
                _ => MouseEventKind::ScrollDown,
            },
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })),
        1 => (1u16..200, 1u16..60).prop_map(|(w, h)| Event::Resize(w, h)),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::seed(Path::new("/vms"))),
        Just(Profile::empty("empty")),
        Just({
            let mut p = Profile::seed(Path::new("/vms"));
            p.machine = "microvm".into();
            p
        }),
        Just({
            let mut p = Profile::seed(Path::new("/vms"));
            p.maxmem = Auto::Fixed(Size::gib(1));
            p.devices[0].size = Size::mib(1);
            p
        }),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(64))]
    #[test]
    fn never_panics(p in profile(), events in prop::collection::vec(event(), 1..80)) {
        let mut app = App::with_profile(p);
        app.handle(Event::Resize(100, 30));
        for ev in events {
            app.handle(ev);
            if app.quit {
                break;
            }
            let (w, h) = app.size;
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| ui::draw(f, &app)).unwrap();
            let n = app.doc.profile.devices.len();
            prop_assert!(n == 0 || app.doc.selected < n);
            prop_assert!(app.doc.derived.diagnostics.is_empty()
                || app.panes.diagnostics.selected < app.doc.derived.diagnostics.len());
        }
    }
}
