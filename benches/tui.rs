//! TUI speed: one frame on a TestBackend at 80x24, 160x50 and 250x80, for
//! the default profile, 8 DIMMs and 256 DIMMs (targets at 160x50: under
//! 1 ms for the default profile, under 5 ms for 256 DIMMs).

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::core::profile::{Auto, Dimm, Profile};
use qpmem::core::size::Size;
use qpmem::tui::{ui, App, Event};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};

fn app(profile: Profile, (w, h): (u16, u16)) -> App {
    let mut app = App::with_profile(profile);
    app.handle(Event::Resize(w, h));
    app
}

fn with_dimms(n: usize) -> Profile {
    let mut p = Profile::empty("many");
    p.slots = Auto::Fixed(256);
    p.devices = (1..=n)
        .map(|i| Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::gib(1)))
        .collect();
    p
}

fn frames(c: &mut Criterion) {
    for size in [(80, 24), (160, 50), (250, 80)] {
        for (what, profile) in [
            ("default profile", Profile::seed(Path::new("/vms"))),
            ("8 DIMMs", with_dimms(8)),
            ("256 DIMMs", with_dimms(256)),
        ] {
            let app = app(profile, size);
            let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
            c.bench_function(&format!("frame {what} {}x{}", size.0, size.1), |b| {
                b.iter(|| {
                    terminal.draw(|f| ui::draw(f, &app)).unwrap();
                })
            });
        }
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);
