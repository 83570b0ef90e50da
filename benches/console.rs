//! Console speed: bytes per second through the terminal emulator (and
//! into the pane), for a captured Linux boot log and for a flood of random
//! bytes, with the scrollback staying within its bound. Target: at least
//! 100 MB/s.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use qpmem::console::{ConsolePane, Emulator, DEFAULT_SCROLLBACK};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use std::hint::black_box;

/// A real guest's serial console: Debian's kernel booting under QEMU.
const BOOT_LOG: &[u8] = include_bytes!("data/linux-boot.txt");
const ROWS: u16 = 48;
const COLS: u16 = 160;
/// Bytes per iteration.
const CHUNK: usize = 4 << 20;

fn boot_stream() -> Vec<u8> {
    BOOT_LOG.iter().copied().cycle().take(CHUNK).collect()
}

/// xorshift64: reproducible noise, escape sequences and invalid UTF-8 included.
fn random_stream() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..CHUNK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// A warm emulator with full scrollback.
fn warm() -> Emulator {
    let mut e = Emulator::new(ROWS, COLS, DEFAULT_SCROLLBACK);
    let log = boot_stream();
    for _ in 0..4 {
        e.feed(&log);
    }
    e
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("console");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.sample_size(10);
    for (name, data) in [
        ("linux boot log", boot_stream()),
        ("random bytes", random_stream()),
    ] {
        let mut e = warm();
        g.bench_function(format!("ingest {name}"), |b| {
            b.iter(|| e.feed(black_box(&data)))
        });
        // The history never grows past its limit, whatever came in.
        assert!(e.scrollback_len() <= DEFAULT_SCROLLBACK);
        assert_eq!(e.scrollback_limit(), DEFAULT_SCROLLBACK);
        println!(
            "console/{name}: {} lines of history in {:.1} MiB",
            e.scrollback_len(),
            e.history_bytes() as f64 / f64::from(1 << 20)
        );

        // Into the pane, at worst: a redraw after every 64 KiB read (what
        // the reader thread hands over at most; the UI draws at most 60
        // frames a second, far fewer than this).
        let area = Rect::new(0, 0, COLS + 2, ROWS + 2);
        g.bench_function(format!("ingest and draw {name}"), |b| {
            b.iter_batched_ref(
                || Buffer::empty(area),
                |buf| {
                    for chunk in data.chunks(64 * 1024) {
                        e.feed(chunk);
                        ConsolePane::new(&e, "guest").render(area, buf);
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    // One frame of a full pane.
    let e = warm();
    let area = Rect::new(0, 0, COLS + 2, ROWS + 2);
    c.bench_function("console/draw 160x48 pane", |b| {
        b.iter_batched_ref(
            || Buffer::empty(area),
            |buf| ConsolePane::new(&e, "guest").render(area, buf),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, ingest);
criterion_main!(benches);
