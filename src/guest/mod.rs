//! The tiny Linux guest: a second, independent judge of the NVDIMM layout.
//!
//! This module owns everything needed to boot a stock distribution kernel
//! with a busybox initramfs under QEMU and read back what the guest sees:
//!
//! - [`compress`]: gzip, xz and zstd, as kernels and modules use them;
//! - [`cpio`]: a writer of the `newc` cpio format (the initramfs container);
//! - [`modules`]: finding the nvdimm kernel modules and their dependencies in
//!   a `/lib/modules/<release>` tree, decompressing `.ko.{gz,xz,zst}`;
//! - [`initramfs`]: packing busybox, the modules and `/init` into an image;
//! - [`init_script`](fn@init_script): the `/init` shell script, which prints a
//!   machine-readable report (`QPMEM-…` lines) and powers off or opens a shell;
//! - [`kernel`]: where the kernel comes from (an explicit path, the host's
//!   own, or an unpacked Debian `linux-image-*` package), and turning a
//!   bzImage into an ELF that boots twice as fast under TCG (PVH entry);
//! - [`report`]: parsing the console text into a [`GuestReport`];
//! - [`runner`]: running QEMU with a deadline, capturing the serial console,
//!   typing into it, and never leaving a QEMU process behind.
//!
//! It knows nothing of profiles or placement rules: the caller renders the
//! QEMU command line (machine, memory, NVDIMMs) and adds
//! [`GuestKernel::qemu_args`] to it.

pub mod compress;
pub mod cpio;
pub mod init_script;
pub mod initramfs;
pub mod kernel;
pub mod modules;
pub mod report;
pub mod runner;

use std::path::PathBuf;

pub use init_script::{init_script, InitMode};
pub use initramfs::{build_initramfs, find_busybox, write_initramfs, InitramfsSpec};
pub use kernel::{
    debian_kernel_cache, host_kernel, GuestKernel, KernelSource, DEFAULT_APPEND, KERNEL_DIR_ENV,
};
pub use modules::{CXL_MODULES, NVDIMM_MODULES, VIRTIO_PMEM_MODULES};
pub use report::{
    parse_report, CxlDecoder, CxlMemdev, GuestReport, IomemRange, KernelMessage, ModuleLoad,
    Namespace, Region,
};
pub use runner::{run_report, GuestRun, GuestVm};

/// Everything that can go wrong while preparing or running the guest.
/// Each message names the file, module or value involved.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// A file or directory could not be read, written or listed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A required file is absent; `hint` says how to get it.
    #[error("{what} not found at {path}: {hint}")]
    Missing {
        what: &'static str,
        path: PathBuf,
        hint: String,
    },
    /// busybox was not found at any of the usual places.
    #[error("busybox not found (looked for `busybox` in PATH, /bin/busybox, /usr/bin/busybox): install the busybox-static package")]
    BusyboxNotFound,
    /// The busybox binary needs a dynamic loader, which the initramfs lacks.
    #[error("{path} is dynamically linked (it has an ELF interpreter) and cannot run in the initramfs: install the busybox-static package")]
    BusyboxNotStatic { path: PathBuf },
    /// A file that should be an ELF binary or kernel module is not one.
    #[error("{path} is not a usable ELF file: {reason}")]
    BadElf { path: PathBuf, reason: String },
    /// No kernel directory was given and the environment variable is unset.
    #[error("no guest kernel directory: set {var} to a directory holding an unpacked linux-image-*-amd64 package (see scripts/fetch-guest-kernel.sh)")]
    NoKernelDir { var: &'static str },
    /// A kernel module is neither a file in the modules tree nor built in.
    #[error(
        "kernel module {module} is neither built in (modules.builtin) nor present under {dir}"
    )]
    ModuleNotFound { module: String, dir: PathBuf },
    /// `modules.dep` has a line that cannot be understood.
    #[error("{path}:{line}: malformed modules.dep line: {text:?}")]
    BadModulesDep {
        path: PathBuf,
        line: usize,
        text: String,
    },
    /// Modules depend on each other in a circle.
    #[error("kernel module dependency cycle through {module}")]
    ModuleCycle { module: String },
    /// A compressed kernel module could not be decompressed.
    #[error("cannot decompress {path}: {reason}")]
    Decompress { path: PathBuf, reason: String },
    /// An entry cannot be represented in a newc cpio archive.
    #[error("cpio entry {name:?}: {reason}")]
    CpioEntry { name: String, reason: String },
    /// QEMU could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The guest did not finish (or print `waited_for`) before the deadline.
    #[error("guest did not {waited_for} within {seconds} s; QEMU was killed. Last console output:\n{console_tail}")]
    Timeout {
        waited_for: String,
        seconds: u64,
        console_tail: String,
    },
    /// QEMU exited while we were still waiting for console output.
    #[error("QEMU exited ({status}) before the guest printed {waited_for:?}. stderr:\n{stderr}\nLast console output:\n{console_tail}")]
    Exited {
        status: String,
        waited_for: String,
        stderr: String,
        console_tail: String,
    },
    /// The caller gave up waiting (Ctrl-C, a key in the TUI); QEMU was killed.
    #[error("cancelled; QEMU was killed")]
    Cancelled,
    /// Writing to the guest console (QEMU's stdin) failed.
    #[error("cannot type into the guest console: {source}")]
    ConsoleWrite {
        #[source]
        source: std::io::Error,
    },
}

impl GuestError {
    /// Shorthand for [`GuestError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        GuestError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
