//! Where the distribution keeps UEFI firmware for a guest architecture:
//! Debian's qemu-efi-aarch64 (`/usr/share/qemu-efi-aarch64/QEMU_EFI.fd`,
//! and its AAVMF copies), Fedora's edk2-aarch64 (`/usr/share/edk2/aarch64/`).
//! The first that exists is what QP600's fix adds as `-bios`.

use crate::core::arch::Arch;
use std::path::{Path, PathBuf};

/// Firmware images loadable with `-bios`, most likely first.
pub fn candidates(arch: Arch) -> &'static [&'static str] {
    match arch {
        // x86 QEMU loads SeaBIOS by itself.
        Arch::X86_64 => &[],
        Arch::Aarch64 => &[
            "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
            "/usr/share/edk2/aarch64/QEMU_EFI.fd",
            "/usr/share/edk2/aarch64/QEMU_EFI.silent.fd",
            "/usr/share/AAVMF/AAVMF_CODE.fd",
            "/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw",
        ],
    }
}

/// The first candidate that is a regular file.
pub fn find(arch: Arch) -> Option<PathBuf> {
    candidates(arch)
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
}
