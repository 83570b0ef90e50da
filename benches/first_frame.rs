//! Start-up: time from spawning `qpmem` (the editor, default profile) on a
//! real pseudo-terminal to its first frame on the screen (the DIMM list's
//! title). Target: under 50 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use qpmem::console::open_pty;
use std::fs::File;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn first_frame() -> Duration {
    let pty = open_pty(50, 160).expect("a pty");
    let home = std::env::temp_dir().join("qpmem-bench-first-frame");
    let stdio = |fd: &std::os::fd::OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_qpmem"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("TERM", "xterm-256color")
        .stdin(stdio(&pty.slave))
        .stdout(stdio(&pty.slave))
        .stderr(Stdio::piped())
        .spawn()
        .expect("qpmem starts");
    drop(pty.slave);
    let mut master = File::from(pty.master);
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    let elapsed = loop {
        let n = master.read(&mut buf).unwrap_or(0);
        if n == 0 {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("qpmem closed the terminal before drawing: {err}");
        }
        // Answer a cursor position query as a terminal would.
        if buf[..n].windows(4).any(|w| w == b"\x1b[6n") {
            let _ = master.write_all(b"\x1b[1;1R");
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(5).any(|w| w == b"DIMMs") {
            break start.elapsed();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn startup(c: &mut Criterion) {
    let mut g = c.benchmark_group("startup");
    g.sample_size(20);
    g.bench_function("qpmem to first frame (default profile, 160x50 pty)", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| first_frame()).sum())
    });
    g.finish();
}

criterion_group!(benches, startup);
criterion_main!(benches);
