//! The subcommands, one file each; `main.rs` parses and dispatches.

pub mod check;
pub mod common;
pub mod import;
pub mod launch;
pub mod map;
pub mod probe;
pub mod profiles;
pub mod render;
pub mod tui;
pub mod verify;
