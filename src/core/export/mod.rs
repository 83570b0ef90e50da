//! Every way out of qpmem besides the shell form: JSON for programs, a
//! POSIX sh script that creates the backing files and starts QEMU, a
//! libvirt `<domain>`, the commands to run inside the guest, and the
//! address map as an SVG picture.
//!
//! Each format is a pure function of the profile (and, where it needs
//! them, the layout and diagnostics computed by the caller), one file per
//! format, so the CLI (`qpmem render --format`) and the TUI show the same
//! text. Writing files is the caller's business (`store::atomic::write_atomic`).

pub mod guest;
pub mod json;
pub mod libvirt;
pub mod script;
pub mod svg;

/// A rendered export and what the user should know about it: where the
/// target would change something or could not carry something over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub text: String,
    pub notes: Vec<String>,
}
