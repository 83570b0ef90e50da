//! What qpmem knows about QEMU without running it: what each release can
//! do ([`caps`]), version strings ([`version`]), the options qpmem owns
//! when it runs QEMU ([`args`]) and QMP's answer held against the
//! prediction ([`compare`]).

pub mod args;
pub mod caps;
pub mod compare;
pub mod version;

pub use compare::{compare, Comparison, DeviceComparison, MemoryDeviceInfo};
pub use version::QemuVersion;
