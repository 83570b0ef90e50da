//! What qpmem knows about QEMU without running it: what each release can
//! do ([`caps`]), the properties of each option group by release
//! ([`props`]), version strings ([`version`]), the options qpmem owns
//! when it runs QEMU ([`args`]) and QMP's answer held against the
//! prediction ([`compare`](mod@compare)).

pub mod args;
pub mod caps;
pub mod compare;
pub mod props;
pub mod version;

pub use compare::{compare, Comparison, DeviceComparison, MemoryDeviceInfo};
pub use version::QemuVersion;
