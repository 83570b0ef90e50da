//! The guest architecture: which QEMU system emulator runs it, and what
//! Linux on it calls a memory section.

use crate::core::size::{KIB, MIB};
use serde::{Deserialize, Serialize};

/// The guest architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    #[default]
    X86_64,
    /// arm64, on QEMU's `virt` machine.
    Aarch64,
}

impl Arch {
    /// Every architecture qpmem models.
    pub const ALL: &'static [Arch] = &[Arch::X86_64, Arch::Aarch64];

    /// The name profiles use (`x86_64`, `aarch64`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The QEMU system emulator for this architecture.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The guest page sizes Linux builds for this architecture.
    pub fn page_sizes(self) -> &'static [u64] {
        match self {
            Arch::X86_64 => &[4 * KIB],
            Arch::Aarch64 => &[4 * KIB, 16 * KIB, 64 * KIB],
        }
    }

    /// Linux's memory section size (`SECTION_SIZE_BITS`) for a guest
    /// with `page_size` pages: 128 MiB on x86_64; on arm64 128 MiB with
    /// 4K and 16K pages, 512 MiB with 64K pages (Linux 5.12 and later;
    /// older kernels used 1 GiB). `None` for a page size the
    /// architecture does not build.
    pub fn section_size(self, page_size: u64) -> Option<u64> {
        if !self.page_sizes().contains(&page_size) {
            return None;
        }
        Some(match (self, page_size) {
            (Arch::Aarch64, p) if p == 64 * KIB => 512 * MIB,
            _ => 128 * MIB,
        })
    }

    /// How to install its QEMU: `apt-get install ..., dnf install ...`.
    pub fn install_hint(self) -> &'static str {
        match self {
            Arch::X86_64 => "apt-get install qemu-system-x86, dnf install qemu-system-x86-core",
            Arch::Aarch64 => {
                "apt-get install qemu-system-arm qemu-efi-aarch64, dnf install qemu-system-aarch64-core edk2-aarch64"
            }
        }
    }

    /// The machine types qpmem models for it, for messages.
    pub fn machines_hint(self) -> &'static str {
        match self {
            Arch::X86_64 => "pc, q35, pc-i440fx-X.Y or pc-q35-X.Y",
            Arch::Aarch64 => "virt or virt-X.Y",
        }
    }

    /// The serial port Linux names the first UART (`console=` for it).
    pub fn serial_console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }
}

/// The architecture named `name` (`x86_64`, `aarch64`, also `arm64`).
pub fn parse(name: &str) -> Option<Arch> {
    match name.trim() {
        "x86_64" | "x86-64" => Some(Arch::X86_64),
        "aarch64" | "arm64" => Some(Arch::Aarch64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_sizes_follow_the_page_size() {
        assert_eq!(Arch::X86_64.section_size(4 * KIB), Some(128 * MIB));
        assert_eq!(Arch::X86_64.section_size(64 * KIB), None);
        assert_eq!(Arch::Aarch64.section_size(4 * KIB), Some(128 * MIB));
        assert_eq!(Arch::Aarch64.section_size(16 * KIB), Some(128 * MIB));
        assert_eq!(Arch::Aarch64.section_size(64 * KIB), Some(512 * MIB));
        assert_eq!(Arch::Aarch64.section_size(8 * KIB), None);
        for a in Arch::ALL {
            assert_eq!(parse(a.name()), Some(*a));
        }
    }
}
