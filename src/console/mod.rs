//! The guest's serial console: a pseudo-terminal, a terminal emulator
//! ([`term`]) with bounded scrollback, the keyboard encoding, and the pane
//! that draws it.
//!
//! [`open_pty`] makes the pseudo-terminal; the program (QEMU) gets the
//! slave side, a [`Console`] the master side. The console runs two small
//! threads: a reader that pumps the program's output into the emulator and
//! wakes the UI (at most one wake-up outstanding until [`Console::ack`], so
//! a flooding guest cannot fill the UI's queue), and a writer that sends
//! keys, so the UI never blocks on a guest that stopped reading. Memory is
//! bounded: the emulator keeps [`Emulator::scrollback_limit`] rows of
//! history (16 bytes per cell), and the input queue holds at most
//! [`INPUT_QUEUE`] writes.

pub mod keys;
pub mod pane;
pub mod term;

pub use keys::{encode_key, encode_paste, InputModes, KeyInput};
pub use pane::{ConsolePane, PaneStyle};
pub use term::{Attrs, Cell, Color, Emulator};

use crossterm::event::KeyEvent;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Rows of history kept above the screen.
pub const DEFAULT_SCROLLBACK: usize = 10_000;
/// Writes that may wait for the guest to read them.
pub const INPUT_QUEUE: usize = 1024;
/// After this many reads in a row shorter than [`SMALL_READ`], the reader
/// waits [`GATHER`] before each next one.
const SMALL_STREAK: u32 = 8;
const SMALL_READ: usize = 1024;
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

/// Called (from the console's reader thread) when there is new output to
/// draw or the program closed the terminal. It must not block.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The master and slave sides of a new pseudo-terminal.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Open a pseudo-terminal of `rows` x `cols`. Both ends are close-on-exec;
/// the slave is not made anyone's controlling terminal here.
pub fn open_pty(rows: u16, cols: u16) -> std::io::Result<Pty> {
    use rustix::pty::{grantpt, ioctl_tiocgptpeer, openpt, unlockpt, OpenptFlags};
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = openpt(flags)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave = ioctl_tiocgptpeer(&master, flags)?;
    set_winsize(&master, rows, cols)?;
    Ok(Pty { master, slave })
}

fn set_winsize(fd: impl AsFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Ok(rustix::termios::tcsetwinsize(fd, ws)?)
}

/// Spaces out the frames a flooding console asks for: new output is drawn
/// at most once per [`FramePacer::INTERVAL`], so the UI never holds the
/// emulator's lock more than a frame's drawing in every interval and the
/// reader thread keeps the guest's output flowing. Other events (keys,
/// status changes) still draw at once.
#[derive(Debug, Default)]
pub struct FramePacer {
    last: Option<std::time::Instant>,
    pending: bool,
}

impl FramePacer {
    /// About 60 frames a second.
    pub const INTERVAL: std::time::Duration = std::time::Duration::from_millis(16);

    /// New output arrived: whether to draw it now (otherwise wait at most
    /// [`FramePacer::wait`]).
    pub fn output(&mut self) -> bool {
        self.pending = true;
        self.last.is_none_or(|t| t.elapsed() >= Self::INTERVAL)
    }

    /// How long until output not yet drawn is due, if any is waiting.
    pub fn wait(&self) -> Option<std::time::Duration> {
        self.pending.then(|| {
            self.last.map_or(std::time::Duration::ZERO, |t| {
                Self::INTERVAL.saturating_sub(t.elapsed())
            })
        })
    }

    /// A frame was drawn.
    pub fn drawn(&mut self) {
        self.pending = false;
        self.last = Some(std::time::Instant::now());
    }
}

/// What a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Sent to the guest.
    Sent,
    /// `Ctrl-]`: the editor gets the keyboard back.
    Release,
    /// Nothing to send.
    Ignored,
}

/// Why input did not reach the guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the console is closed (the program exited)")]
    Closed,
    #[error(
        "the guest is not reading its console ({INPUT_QUEUE} writes are waiting): input dropped"
    )]
    Full,
}

/// A live console on a pseudo-terminal master.
pub struct Console {
    emulator: Arc<Mutex<Emulator>>,
    master: OwnedFd,
    /// The writer's queue; `None` once closed. The reader thread shares
    /// it to answer the program's queries.
    input: Arc<Mutex<Option<SyncSender<Vec<u8>>>>>,
    pending: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    /// Why writing the console log failed (logging stopped then).
    log_error: Arc<Mutex<Option<String>>>,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

use crate::lock;

/// Queue bytes for the writer thread without waiting.
fn send(input: &Mutex<Option<SyncSender<Vec<u8>>>>, bytes: Vec<u8>) -> Result<(), InputError> {
    let input = lock(input);
    let Some(tx) = input.as_ref() else {
        return Err(InputError::Closed);
    };
    match tx.try_send(bytes) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(InputError::Full),
        Err(TrySendError::Disconnected(_)) => Err(InputError::Closed),
    }
}

impl Console {
    /// Start the reader and writer threads on `master`.
    pub fn new(
        master: OwnedFd,
        rows: u16,
        cols: u16,
        scrollback: usize,
        waker: Waker,
        log: Option<File>,
    ) -> std::io::Result<Console> {
        let emulator = Arc::new(Mutex::new(Emulator::new(rows, cols, scrollback)));
        let pending = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicBool::new(false));
        let mut read_end = File::from(master.try_clone()?);
        let mut write_end = File::from(master.try_clone()?);

        let (tx, rx) = sync_channel::<Vec<u8>>(INPUT_QUEUE);
        let input = Arc::new(Mutex::new(Some(tx)));
        let log_error = Arc::new(Mutex::new(None));
        let reader = {
            let mut log = log;
            let log_error = Arc::clone(&log_error);
            let input = Arc::clone(&input);
            let emulator = Arc::clone(&emulator);
            let pending = Arc::clone(&pending);
            let closed = Arc::clone(&closed);
            let waker = Arc::clone(&waker);
            std::thread::Builder::new()
                .name("qpmem-console-read".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut small_reads = 0;
                    loop {
                        match read_end.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if let Some(file) = log.as_mut() {
                                    if let Err(e) = file.write_all(&buf[..n]) {
                                        // Say so once, and stop logging.
                                        *lock(&log_error) = Some(e.to_string());
                                        log = None;
                                    }
                                }
                                let answer = {
                                    let mut emulator = lock(&emulator);
                                    emulator.feed(&buf[..n]);
                                    emulator.take_replies()
                                };
                                // Answers to the program's queries (where
                                // is the cursor?) go back like keys.
                                if !answer.is_empty() {
                                    let _ = send(&input, answer);
                                }
                                if !pending.swap(true, Ordering::AcqRel) {
                                    waker();
                                }
                                // A guest writing through an emulated UART
                                // hands over a few bytes per read: once
                                // reads keep coming small, let more gather
                                // between them (by at most GATHER; the
                                // first byte after a pause is never
                                // delayed) instead of a read per character.
                                small_reads = if n < SMALL_READ { small_reads + 1 } else { 0 };
                                if small_reads >= SMALL_STREAK {
                                    std::thread::sleep(GATHER);
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            // EIO: every slave descriptor is closed.
                            Err(_) => break,
                        }
                    }
                    closed.store(true, Ordering::Release);
                    waker();
                })?
        };
        let writer = std::thread::Builder::new()
            .name("qpmem-console-write".into())
            .spawn(move || {
                while let Ok(bytes) = rx.recv() {
                    if write_end.write_all(&bytes).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Console {
            emulator,
            master,
            input,
            pending,
            closed,
            log_error,
            reader: Some(reader),
            writer: Some(writer),
        })
    }

    /// Send raw bytes to the program.
    pub fn send(&self, bytes: Vec<u8>) -> Result<(), InputError> {
        if bytes.is_empty() {
            return Ok(());
        }
        send(&self.input, bytes)
    }

    /// Handle a key: encode it for the guest's current modes and send it
    /// (the view returns to the bottom, as terminals do when you type).
    pub fn key(&self, key: &KeyEvent) -> Result<KeyOutcome, InputError> {
        let modes = self.input_modes();
        match encode_key(key, modes) {
            KeyInput::Send(bytes) => {
                lock(&self.emulator).scroll_to_bottom();
                self.send(bytes).map(|()| KeyOutcome::Sent)
            }
            KeyInput::Release => Ok(KeyOutcome::Release),
            KeyInput::Ignore => Ok(KeyOutcome::Ignored),
        }
    }

    /// Send pasted text (bracketed when the guest enabled it).
    pub fn paste(&self, text: &str) -> Result<(), InputError> {
        let bytes = encode_paste(text, self.input_modes());
        lock(&self.emulator).scroll_to_bottom();
        self.send(bytes)
    }

    pub fn input_modes(&self) -> InputModes {
        lock(&self.emulator).input_modes()
    }

    /// Resize the emulator and the pseudo-terminal (the pane reports its
    /// inner size when drawn).
    pub fn resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        if lock(&self.emulator).resize(rows, cols) {
            set_winsize(&self.master, rows.max(1), cols.max(1))?;
        }
        Ok(())
    }

    /// The emulator, locked: read the screen, scroll. Hold it briefly.
    pub fn emulator(&self) -> MutexGuard<'_, Emulator> {
        lock(&self.emulator)
    }

    /// The visible text.
    pub fn contents(&self) -> String {
        lock(&self.emulator).contents()
    }

    /// Mark the output as seen: call it just before drawing the screen. Until
    /// then there is no new wake-up, so a flooding guest wakes the UI at
    /// most once per frame; after it, the next output wakes the UI again.
    pub fn ack(&self) {
        self.pending.store(false, Ordering::Release);
    }

    /// Why the console log could not be written, if it could not (the
    /// console goes on without it).
    pub fn log_error(&self) -> Option<String> {
        lock(&self.log_error).clone()
    }

    /// The program closed the terminal (it exited).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // Closing the queue ends the writer; the reader ends when the
        // program's side closes (its process is gone by now, or it gets
        // SIGHUP when the last master descriptor closes).
        lock(&self.input).take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        if self.closed.load(Ordering::Acquire) {
            if let Some(r) = self.reader.take() {
                let _ = r.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_draws_output_at_most_once_per_interval() {
        let mut p = FramePacer::default();
        assert_eq!(p.wait(), None);
        // The first output draws at once.
        assert!(p.output());
        p.drawn();
        assert_eq!(p.wait(), None);
        // More right after waits for the rest of the interval.
        assert!(!p.output());
        let wait = p.wait().unwrap();
        assert!(wait > std::time::Duration::ZERO && wait <= FramePacer::INTERVAL);
        std::thread::sleep(wait);
        assert!(p.output());
        assert_eq!(p.wait(), Some(std::time::Duration::ZERO));
        p.drawn();
        assert_eq!(p.wait(), None);
    }

    #[test]
    fn emulator_keeps_bounded_history_and_scrolls() {
        let mut e = Emulator::new(5, 20, 100);
        for i in 0..1000 {
            e.feed(format!("line {i}\r\n").as_bytes());
        }
        assert_eq!(e.scrollback_len(), 100);
        assert!(e.contents().contains("line 999"));
        e.scroll_by(3);
        assert_eq!(e.scroll_offset(), 3);
        assert!(e.contents().contains("line 996"));
        assert!(!e.contents().contains("line 999"));
        e.scroll_to_top();
        assert_eq!(e.scroll_offset(), 100);
        assert!(e.contents().starts_with("line 896"), "{}", e.contents());
        e.scroll_by(-1000);
        assert_eq!(e.scroll_offset(), 0);
        let all = e.all_text();
        assert!(all.starts_with("line 896\n"), "{all}");
        assert!(all.contains("line 999\n"));
        assert_eq!(all.matches("line 950\n").count(), 1);
    }

    #[test]
    fn emulator_follows_modes_and_resizes() {
        let mut e = Emulator::new(24, 80, 10);
        assert_eq!(e.input_modes(), InputModes::default());
        e.feed(b"\x1b[?1h\x1b[?2004h");
        assert_eq!(
            e.input_modes(),
            InputModes {
                application_cursor: true,
                bracketed_paste: true
            }
        );
        assert!(e.resize(10, 40));
        assert!(!e.resize(10, 40));
        assert_eq!(e.size(), (10, 40));
        assert!(e.resize(0, 0));
        assert_eq!(e.size(), (1, 1));
    }

    #[test]
    fn console_on_a_real_pty_reads_writes_and_resizes() {
        let pty = open_pty(24, 80).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waker: Waker = Arc::new(move || {
            let _ = tx.send(());
        });
        let console = Console::new(pty.master, 24, 80, 100, waker, None).unwrap();
        // Raw mode on the slave so bytes pass unchanged.
        let mut t = rustix::termios::tcgetattr(&pty.slave).unwrap();
        t.make_raw();
        rustix::termios::tcsetattr(&pty.slave, rustix::termios::OptionalActions::Now, &t).unwrap();
        let mut slave = File::from(pty.slave);
        slave.write_all(b"\x1b[31mred\x1b[0m text").unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert!(console.contents().starts_with("red text"));
        {
            let emu = console.emulator();
            let cell = emu.cell(0, 0).unwrap();
            assert_eq!(cell.fg(), Color::Idx(1));
        }
        console.ack();
        console
            .key(&KeyEvent::new(
                crossterm::event::KeyCode::Up,
                crossterm::event::KeyModifiers::NONE,
            ))
            .unwrap();
        let mut got = [0u8; 3];
        slave.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"\x1b[A");
        console.resize(30, 100).unwrap();
        let ws = rustix::termios::tcgetwinsize(&slave).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (30, 100));
        drop(slave);
        // The reader sees the slave close.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !console.is_closed() && std::time::Instant::now() < deadline {
            let _ = rx.recv_timeout(std::time::Duration::from_millis(50));
        }
        assert!(console.is_closed());
    }

    #[test]
    fn a_console_log_that_cannot_be_written_stops_with_a_reason() {
        // /dev/full (on every Linux) takes the open and refuses every
        // write (ENOSPC).
        let full = std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .unwrap();
        let pty = open_pty(24, 80).unwrap();
        let mut t = rustix::termios::tcgetattr(&pty.slave).unwrap();
        t.make_raw();
        rustix::termios::tcsetattr(&pty.slave, rustix::termios::OptionalActions::Now, &t).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waker: Waker = Arc::new(move || {
            let _ = tx.send(());
        });
        let console = Console::new(pty.master, 24, 80, 100, waker, Some(full)).unwrap();
        assert_eq!(console.log_error(), None);
        let mut slave = File::from(pty.slave);
        slave.write_all(b"first").unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        let error = console.log_error().expect("the failed write is reported");
        assert!(error.contains("No space left"), "{error}");
        // The console itself goes on.
        console.ack();
        slave.write_all(b" second").unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert!(console.contents().starts_with("first second"));
        drop(slave);
    }

    /// Keys reach the program while it floods the console: the writer
    /// thread does not wait behind the reader. The bound is generous; it
    /// checks liveness, not speed (benches/console.rs measures speed).
    #[test]
    fn keys_reach_the_program_during_a_flood() {
        use std::sync::atomic::AtomicU64;
        use std::time::{Duration, Instant};

        let pty = open_pty(48, 160).unwrap();
        let mut t = rustix::termios::tcgetattr(&pty.slave).unwrap();
        t.make_raw();
        rustix::termios::tcsetattr(&pty.slave, rustix::termios::OptionalActions::Now, &t).unwrap();
        let wakes = Arc::new(AtomicU64::new(0));
        let waker: Waker = {
            let wakes = Arc::clone(&wakes);
            Arc::new(move || {
                wakes.fetch_add(1, Ordering::Relaxed);
            })
        };
        let console = Console::new(pty.master, 48, 160, DEFAULT_SCROLLBACK, waker, None).unwrap();

        // The "guest": writes a boot log as fast as the pty takes it until
        // told to stop, and counts the bytes.
        let mut out = File::from(pty.slave.try_clone().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let flood = {
            let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
            std::thread::spawn(move || {
                let log = include_bytes!("../../benches/data/linux-boot.txt");
                while !stop.load(Ordering::Relaxed) {
                    if out.write_all(log).is_err() {
                        break;
                    }
                    written.fetch_add(log.len() as u64, Ordering::Relaxed);
                }
            })
        };
        // Its keyboard: the bytes the console sends.
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let mut input = File::from(pty.slave.try_clone().unwrap());
        // (The boot log asks where the cursor is, so answers come too.)
        let keyboard = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            while input.read_exact(&mut byte).is_ok() {
                got.push(byte[0]);
                if got.ends_with(b"\x1b[A") {
                    let _ = got_tx.send(());
                    break;
                }
            }
        });

        // The flood is under way: over a megabyte through the emulator.
        let deadline = Instant::now() + Duration::from_secs(30);
        while written.load(Ordering::Relaxed) < 1 << 20 {
            assert!(Instant::now() < deadline, "the flood did not start");
            std::thread::sleep(Duration::from_millis(10));
            console.ack();
        }
        let before = written.load(Ordering::Relaxed);
        let up = KeyEvent::new(
            crossterm::event::KeyCode::Up,
            crossterm::event::KeyModifiers::NONE,
        );
        assert_eq!(console.key(&up), Ok(KeyOutcome::Sent));
        // The flood runs until `stop`, so the key arrives in the middle of it.
        let got = got_rx.recv_timeout(Duration::from_secs(5));
        assert_eq!(got, Ok(()), "the key never reached the program");
        // And the output keeps flowing after it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while written.load(Ordering::Relaxed) < before + (1 << 20) {
            assert!(Instant::now() < deadline, "the flood stalled after the key");
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        assert!(wakes.load(Ordering::Relaxed) > 0);
        {
            let emu = console.emulator();
            assert!(emu.contents().contains("] "), "{}", emu.contents());
            assert!(emu.scrollback_len() <= DEFAULT_SCROLLBACK);
        }
        flood.join().unwrap();
        keyboard.join().unwrap();
        drop(pty.slave);
        drop(console);
    }
}
