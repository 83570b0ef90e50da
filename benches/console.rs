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
        let mut full = Emulator::new(ROWS, COLS, DEFAULT_SCROLLBACK);
        for _ in 0..4 {
            full.feed(&data);
        }
        assert_eq!(full.scrollback_len(), DEFAULT_SCROLLBACK);
        println!(
            "console/{name}: 16 MiB in, {} lines of history held in {:.1} MiB",
            full.scrollback_len(),
            full.history_bytes() as f64 / f64::from(1 << 20)
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

    // The whole path: a "guest" writing into a real pseudo-terminal as
    // fast as the kernel takes it, the console's reader thread feeding the
    // emulator, and this thread drawing the pane at the UI's pace.
    let flood = {
        let mut v: Vec<u8> = BOOT_LOG.iter().copied().cycle().take(16 * CHUNK).collect();
        v.extend_from_slice(b"\r\nQPMEM-FLOOD-END\r\n");
        std::sync::Arc::new(v)
    };
    g.throughput(Throughput::Bytes(flood.len() as u64));
    g.bench_function("pty flood into the pane at 60 frames/s", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                total += pty_flood(&flood);
            }
            total
        })
    });
    g.finish();

    // A key typed while the guest floods: from Console::key until the
    // guest reads it.
    c.bench_function("console/key during a flood", |b| {
        b.iter_custom(key_latency_under_flood)
    });

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

/// Time from the first byte written until the pane shows the last line.
fn pty_flood(data: &std::sync::Arc<Vec<u8>>) -> std::time::Duration {
    use qpmem::console::{open_pty, Console, FramePacer};
    use std::io::Write;
    use std::time::{Duration, Instant};

    let pty = open_pty(ROWS, COLS).expect("a pty");
    let mut t = rustix::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    t.make_raw();
    rustix::termios::tcsetattr(&pty.slave, rustix::termios::OptionalActions::Now, &t)
        .expect("raw mode");
    let (tx, rx) = std::sync::mpsc::channel();
    let waker: qpmem::console::Waker = std::sync::Arc::new(move || {
        let _ = tx.send(());
    });
    let console =
        Console::new(pty.master, ROWS, COLS, DEFAULT_SCROLLBACK, waker, None).expect("a console");
    let area = Rect::new(0, 0, COLS + 2, ROWS + 2);
    let mut buf = Buffer::empty(area);
    let mut pacer = FramePacer::default();
    let start = Instant::now();
    let mut guest = std::fs::File::from(pty.slave);
    let writer = {
        let data = std::sync::Arc::clone(data);
        std::thread::spawn(move || {
            let _ = guest.write_all(&data);
            guest
        })
    };
    loop {
        let wait = pacer.wait().unwrap_or(Duration::from_secs(1));
        let draw = match rx.recv_timeout(wait) {
            Ok(()) => pacer.output(),
            Err(_) => true,
        };
        if draw {
            console.ack();
            let emu = console.emulator();
            ConsolePane::new(&emu, "guest").render(area, &mut buf);
            pacer.drawn();
            if emu.contents().contains("QPMEM-FLOOD-END") {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the flood stalled"
        );
    }
    let took = start.elapsed();
    drop(writer.join());
    took
}

/// Total time for `iters` keys to reach a guest that floods its console.
fn key_latency_under_flood(iters: u64) -> std::time::Duration {
    use qpmem::console::{open_pty, Console};
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let pty = open_pty(ROWS, COLS).expect("a pty");
    let mut t = rustix::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    t.make_raw();
    rustix::termios::tcsetattr(&pty.slave, rustix::termios::OptionalActions::Now, &t)
        .expect("raw mode");
    let waker: qpmem::console::Waker = Arc::new(|| {});
    let console =
        Console::new(pty.master, ROWS, COLS, DEFAULT_SCROLLBACK, waker, None).expect("a console");
    let stop = Arc::new(AtomicBool::new(false));
    let mut out = std::fs::File::from(pty.slave.try_clone().expect("dup"));
    let flood = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if out.write_all(BOOT_LOG).is_err() {
                    break;
                }
            }
        })
    };
    let mut keyboard = std::fs::File::from(pty.slave);
    let key = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('k'),
        crossterm::event::KeyModifiers::NONE,
    );
    let mut total = Duration::ZERO;
    let mut byte = [0u8; 1];
    for _ in 0..iters {
        let start = Instant::now();
        console.key(&key).expect("key sent");
        // Skip the console's answers to the log's queries, if any.
        loop {
            keyboard.read_exact(&mut byte).expect("read the key");
            if byte[0] == b'k' {
                break;
            }
        }
        total += start.elapsed();
        console.ack();
    }
    stop.store(true, Ordering::Relaxed);
    drop(keyboard);
    drop(console);
    let _ = flood.join();
    total
}

criterion_group!(benches, ingest);
criterion_main!(benches);
