//! The pure core: data and functions that do no I/O. Nothing here opens a
//! file, starts a process, reads the environment or draws on a terminal;
//! `tests/architecture.rs` fails when a file under `src/core/` does, or
//! when it imports a shell module. The shells (`host`, `qemu`, `store`,
//! `vm`, `console`, `guest`, `verify`, `tui`, `cli`) gather facts, call
//! into the core and act on what it returns.
//!
//! Sizes and addresses are u64 end to end: a cast that could truncate,
//! wrap or lose precision is refused here by clippy, so each conversion
//! says what happens at the edge (`try_from`, saturating arithmetic).

#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

pub mod arch;
pub mod cmdline;
pub mod cxl;
pub mod device;
pub mod diagnose;
pub mod examples;
pub mod export;
pub mod facts;
pub mod hotplug;
pub mod layout;
pub mod libvirt;
pub mod libvirt_import;
pub mod libvirt_kept;
pub mod machine;
pub mod map;
pub mod new_dimm;
pub mod printable;
pub mod profile;
pub mod profile_ron;
pub mod qemu;
pub mod size;
