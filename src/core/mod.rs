//! The pure core: data and functions that do no I/O. Nothing here opens a
//! file, starts a process, reads the environment or draws on a terminal;
//! `tests/architecture.rs` fails when a file under `src/core/` does, or
//! when it imports a shell module. The shells (`host`, `qemu`, `store`,
//! `vm`, `console`, `guest`, `verify`, `tui`, `cli`) gather facts, call
//! into the core and act on what it returns.

pub mod cmdline;
pub mod diagnose;
pub mod examples;
pub mod export;
pub mod facts;
pub mod layout;
pub mod map;
pub mod printable;
pub mod profile;
pub mod profile_ron;
pub mod qemu;
pub mod size;
