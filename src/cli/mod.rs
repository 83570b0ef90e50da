//! The subcommands, one file each; `main.rs` parses and dispatches.

pub mod check;
pub mod common;
pub mod import;
pub mod map;
pub mod probe;
pub mod render;
