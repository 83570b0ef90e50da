//! TUI speed: one frame on a 160x50 TestBackend, for the default profile
//! (target under 1 ms) and for 256 DIMMs (under 5 ms).

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::profile::{Auto, Dimm, Profile};
use qpmem::size::Size;
use qpmem::tui::{ui, App, Event};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};

fn app(profile: Profile) -> App {
    let mut app = App::with_profile(profile);
    app.handle(Event::Resize(160, 50));
    app
}

fn frames(c: &mut Criterion) {
    let mut big = Profile::empty("big");
    big.slots = Auto::Fixed(256);
    big.devices = (1..=256)
        .map(|i| Dimm::nvdimm(i, PathBuf::from(format!("/vms/nv{i}")), Size::gib(1)))
        .collect();
    for (name, profile) in [
        (
            "frame default profile 160x50",
            Profile::seed(Path::new("/vms")),
        ),
        ("frame 256 DIMMs 160x50", big),
    ] {
        let app = app(profile);
        let mut terminal = Terminal::new(TestBackend::new(160, 50)).unwrap();
        c.bench_function(name, |b| {
            b.iter(|| {
                terminal.draw(|f| ui::draw(f, &app)).unwrap();
            })
        });
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);
