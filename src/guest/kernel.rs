//! Where the guest kernel comes from, and the QEMU arguments that boot it.
//!
//! Three sources: an explicit `vmlinuz` (with an optional modules tree), the
//! host's own kernel (`/boot/vmlinuz-$(uname -r)`, often absent in
//! containers and CI), or an unpacked Debian `linux-image-*-amd64` package
//! (`boot/vmlinuz-*` and `lib/modules/*` under one directory), which is what
//! tests and CI use: see `scripts/fetch-guest-kernel.sh`.
//!
//! Under software emulation about half of a boot goes to the bzImage
//! decompressing itself. [`GuestKernel::with_pvh_image`] does that once on
//! the host and caches the ELF `vmlinux`, which QEMU boots directly through
//! its PVH entry point (kernels built with `CONFIG_PVH`, as Debian's are).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use object::read::elf::{FileHeader, ProgramHeader};
use object::{elf, Endianness};

use super::compress::Compression;
use super::GuestError;

/// Environment variable naming a directory with an unpacked Debian kernel package.
pub const KERNEL_DIR_ENV: &str = "QPMEM_GUEST_KERNEL_DIR";

/// The kernel command line the report needs: console on the first serial
/// port (QEMU's `-serial stdio`), no reboot loop on panic, little noise.
pub const DEFAULT_APPEND: &str = "console=ttyS0 panic=-1 quiet";

/// A kernel ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestKernel {
    /// The kernel image (bzImage) for `-kernel`.
    pub vmlinuz: PathBuf,
    /// Its `/lib/modules/<release>` tree, if it has one.
    pub modules_dir: Option<PathBuf>,
    /// The release string, e.g. `6.1.0-56-amd64`, when known.
    pub release: Option<String>,
}

impl GuestKernel {
    /// `-kernel <vmlinuz> -initrd <initrd> -append <append>`, to add to a
    /// QEMU command line that also has `-serial stdio` (or another serial
    /// backend) and `-no-reboot`.
    pub fn qemu_args(&self, initrd: &Path, append: &str) -> Vec<OsString> {
        vec![
            "-kernel".into(),
            self.vmlinuz.clone().into(),
            "-initrd".into(),
            initrd.into(),
            "-append".into(),
            append.into(),
        ]
    }

    /// The same kernel, booting faster: if `vmlinuz` is a bzImage whose
    /// payload (gzip, xz or zstd) is an ELF with a PVH entry note, that ELF
    /// is written to `cache_dir` (once; reused while newer than the bzImage)
    /// and used instead. Otherwise the kernel is returned unchanged.
    pub fn with_pvh_image(self, cache_dir: &Path) -> Result<GuestKernel, GuestError> {
        let Some(file_name) = self.vmlinuz.file_name().and_then(|n| n.to_str()) else {
            return Ok(self);
        };
        let cached = cache_dir.join(format!("{file_name}.pvh.elf"));
        let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        if let (Some(c), Some(k)) = (modified(&cached), modified(&self.vmlinuz)) {
            if c >= k {
                return Ok(GuestKernel {
                    vmlinuz: cached,
                    ..self
                });
            }
        }
        let bzimage =
            fs::read(&self.vmlinuz).map_err(|e| GuestError::io("cannot read", &self.vmlinuz, e))?;
        let Some(vmlinux) = pvh_vmlinux(&self.vmlinuz, &bzimage)? else {
            return Ok(self);
        };
        fs::create_dir_all(cache_dir).map_err(|e| GuestError::io("cannot create", cache_dir, e))?;
        // Written whole under a temporary name, then renamed into place.
        let mut tmp = tempfile::NamedTempFile::new_in(cache_dir)
            .map_err(|e| GuestError::io("cannot create a file in", cache_dir, e))?;
        std::io::Write::write_all(&mut tmp, &vmlinux)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(fs::Permissions::from_mode(0o644))
            })
            .map_err(|e| GuestError::io("cannot write", tmp.path(), e))?;
        tmp.persist(&cached)
            .map_err(|e| GuestError::io("cannot write", &cached, e.error))?;
        Ok(GuestKernel {
            vmlinuz: cached,
            ..self
        })
    }
}

/// The ELF kernel inside a bzImage, if it can be booted through PVH.
/// `Ok(None)`: not a bzImage, a compression we do not read (lzma, bzip2,
/// lz4, lzo), or no PVH note. A damaged payload is an error.
pub fn pvh_vmlinux(path: &Path, bzimage: &[u8]) -> Result<Option<Vec<u8>>, GuestError> {
    let u8_at = |off: usize| bzimage.get(off).copied();
    let u16_at = |off: usize| {
        Some(u16::from_le_bytes(
            bzimage.get(off..off + 2)?.try_into().ok()?,
        ))
    };
    let u32_at = |off: usize| {
        Some(u32::from_le_bytes(
            bzimage.get(off..off + 4)?.try_into().ok()?,
        ))
    };
    // x86 boot protocol: "HdrS" at 0x202, version >= 2.08 for payload_offset/length.
    if bzimage.get(0x202..0x206) != Some(b"HdrS") || u16_at(0x206).is_none_or(|v| v < 0x208) {
        return Ok(None);
    }
    let (Some(setup_sects), Some(offset), Some(length)) =
        (u8_at(0x1f1), u32_at(0x248), u32_at(0x24c))
    else {
        return Ok(None);
    };
    let setup_sects = if setup_sects == 0 {
        4
    } else {
        setup_sects as usize
    };
    let start = (setup_sects + 1) * 512 + offset as usize;
    let Some(payload) = start
        .checked_add(length as usize)
        .and_then(|end| bzimage.get(start..end))
    else {
        return Ok(None);
    };
    let Some(kind) = Compression::from_magic(payload) else {
        return Ok(None);
    };
    let vmlinux = kind.decompress(path, payload)?;
    Ok(has_pvh_note(&vmlinux).then_some(vmlinux))
}

/// Whether a 64-bit ELF carries the Xen `PHYS32_ENTRY` note (type 18) that
/// QEMU's `-kernel` needs to boot an uncompressed kernel.
fn has_pvh_note(data: &[u8]) -> bool {
    const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
    let Ok(header) = elf::FileHeader64::<Endianness>::parse(data) else {
        return false;
    };
    let Ok(endian) = header.endian() else {
        return false;
    };
    let Ok(phdrs) = header.program_headers(endian, data) else {
        return false;
    };
    phdrs.iter().any(|ph| {
        let Ok(Some(mut notes)) = ph.notes(endian, data) else {
            return false;
        };
        while let Ok(Some(note)) = notes.next() {
            if note.name() == b"Xen" && note.n_type(endian).0 == XEN_ELFNOTE_PHYS32_ENTRY {
                return true;
            }
        }
        false
    })
}

/// Where to take the kernel from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// A given kernel image, with its modules tree if it needs one.
    Path {
        vmlinuz: PathBuf,
        modules_dir: Option<PathBuf>,
    },
    /// The running host's kernel: `/boot/vmlinuz-$(uname -r)` and `/lib/modules/$(uname -r)`.
    Host,
    /// An unpacked Debian kernel package in this directory, or (`None`) in `$QPMEM_GUEST_KERNEL_DIR`.
    DebianCache(Option<PathBuf>),
}

impl KernelSource {
    /// Finds the files, checking that they are there.
    pub fn resolve(&self) -> Result<GuestKernel, GuestError> {
        match self {
            KernelSource::Path {
                vmlinuz,
                modules_dir,
            } => {
                require_readable(vmlinuz, "kernel image")?;
                if let Some(dir) = modules_dir {
                    require_dir(dir, "kernel modules directory")?;
                }
                Ok(GuestKernel {
                    vmlinuz: vmlinuz.clone(),
                    modules_dir: modules_dir.clone(),
                    release: release_from_image_name(vmlinuz),
                })
            }
            KernelSource::Host => host_kernel(),
            KernelSource::DebianCache(dir) => debian_kernel_cache(dir.as_deref()),
        }
    }
}

/// The host's running kernel. Its modules directory is optional (the
/// drivers may be built in).
pub fn host_kernel() -> Result<GuestKernel, GuestError> {
    let osrelease = Path::new("/proc/sys/kernel/osrelease");
    let release = fs::read_to_string(osrelease)
        .map_err(|e| GuestError::io("cannot read", osrelease, e))?
        .trim()
        .to_owned();
    let vmlinuz = PathBuf::from(format!("/boot/vmlinuz-{release}"));
    if !vmlinuz.exists() {
        return Err(GuestError::Missing {
            what: "the host kernel image",
            path: vmlinuz,
            hint: format!(
                "this machine has no /boot image for its running kernel; use a Debian kernel \
                 (install linux-image-amd64, or set {KERNEL_DIR_ENV} to an unpacked package)"
            ),
        });
    }
    require_readable(&vmlinuz, "the host kernel image")?;
    let modules = PathBuf::from(format!("/lib/modules/{release}"));
    Ok(GuestKernel {
        vmlinuz,
        modules_dir: modules.is_dir().then_some(modules),
        release: Some(release),
    })
}

/// An unpacked Debian kernel package (`dpkg-deb -x linux-image-*.deb DIR`)
/// in `dir`, or if `dir` is `None`, in `$QPMEM_GUEST_KERNEL_DIR`. Needs
/// `boot/vmlinuz-<release>` and `lib/modules/<release>` (or
/// `usr/lib/modules/<release>`); with several kernels, the highest release wins.
pub fn debian_kernel_cache(dir: Option<&Path>) -> Result<GuestKernel, GuestError> {
    let dir = match dir {
        Some(d) => d.to_owned(),
        None => std::env::var_os(KERNEL_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(GuestError::NoKernelDir {
                var: KERNEL_DIR_ENV,
            })?,
    };
    let fetch_hint = || {
        format!(
            "unpack a Debian kernel package there: `scripts/fetch-guest-kernel.sh {}` \
             (apt-get download linux-image-<version>-amd64, the package linux-image-amd64 \
             depends on; then dpkg-deb -x)",
            dir.display()
        )
    };
    let boot = dir.join("boot");
    let mut releases: Vec<String> = match fs::read_dir(&boot) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_prefix("vmlinuz-").map(str::to_owned))
            .filter(|r| !r.is_empty())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(GuestError::io("cannot list", &boot, e)),
    };
    releases.sort_by(|a, b| compare_versions(a, b));
    let Some(release) = releases.pop() else {
        return Err(GuestError::Missing {
            what: "kernel image (boot/vmlinuz-*)",
            path: boot,
            hint: fetch_hint(),
        });
    };
    let vmlinuz = boot.join(format!("vmlinuz-{release}"));
    require_readable(&vmlinuz, "kernel image")?;
    let modules_dir = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| dir.join(m).join(&release))
        .find(|p| p.is_dir())
        .ok_or_else(|| GuestError::Missing {
            what: "kernel modules directory",
            path: dir.join("lib/modules").join(&release),
            hint: fetch_hint(),
        })?;
    Ok(GuestKernel {
        vmlinuz,
        modules_dir: Some(modules_dir),
        release: Some(release),
    })
}

/// `vmlinuz-6.1.0-56-amd64` -> `6.1.0-56-amd64`.
fn release_from_image_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("vmlinuz-").map(str::to_owned)
}

/// Orders releases so that `6.1.0-10` < `6.1.0-9` does not happen: runs of
/// digits compare as numbers, everything else as text.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(cb.iter()) {
        let ord = if *da && *db {
            let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then(ta.cmp(tb))
        } else {
            xa.cmp(xb)
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

fn require_readable(path: &Path, what: &'static str) -> Result<(), GuestError> {
    match fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(GuestError::Missing {
            what,
            path: path.to_owned(),
            hint: "check the path (Debian kernels come in the linux-image-amd64 package)".into(),
        }),
        Err(e) => Err(GuestError::io("cannot read", path, e)),
    }
}

fn require_dir(path: &Path, what: &'static str) -> Result<(), GuestError> {
    if path.is_dir() {
        Ok(())
    } else {
        Err(GuestError::Missing {
            what,
            path: path.to_owned(),
            hint: "give the kernel's /lib/modules/<release> directory".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let mut v = vec![
            "6.1.0-9-amd64",
            "6.1.0-10-amd64",
            "5.10.0-30-amd64",
            "6.1.0-10-amd64-x",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "5.10.0-30-amd64",
                "6.1.0-9-amd64",
                "6.1.0-10-amd64",
                "6.1.0-10-amd64-x"
            ]
        );
    }

    #[test]
    fn finds_an_unpacked_package_and_picks_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("boot")).unwrap();
        for r in ["6.1.0-9-amd64", "6.1.0-10-amd64"] {
            fs::write(d.join(format!("boot/vmlinuz-{r}")), b"k").unwrap();
            fs::create_dir_all(d.join(format!("lib/modules/{r}"))).unwrap();
        }
        fs::write(d.join("boot/config-6.1.0-99-amd64"), b"").unwrap();
        let k = debian_kernel_cache(Some(d)).unwrap();
        assert_eq!(k.release.as_deref(), Some("6.1.0-10-amd64"));
        assert_eq!(k.vmlinuz, d.join("boot/vmlinuz-6.1.0-10-amd64"));
        assert_eq!(k.modules_dir, Some(d.join("lib/modules/6.1.0-10-amd64")));
        let args = k.qemu_args(Path::new("/t/initrd"), DEFAULT_APPEND);
        assert_eq!(args[0], "-kernel");
        assert_eq!(args[3], "/t/initrd");
        assert_eq!(args[5], DEFAULT_APPEND);
    }

    #[test]
    fn usr_lib_modules_layout_is_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("boot")).unwrap();
        fs::write(d.join("boot/vmlinuz-6.12.1-amd64"), b"k").unwrap();
        fs::create_dir_all(d.join("usr/lib/modules/6.12.1-amd64")).unwrap();
        let k = debian_kernel_cache(Some(d)).unwrap();
        assert_eq!(k.modules_dir, Some(d.join("usr/lib/modules/6.12.1-amd64")));
    }

    #[test]
    fn missing_pieces_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let msg = debian_kernel_cache(Some(d)).unwrap_err().to_string();
        assert!(
            msg.contains("boot/vmlinuz-*") && msg.contains("linux-image-amd64"),
            "{msg}"
        );
        fs::create_dir_all(d.join("boot")).unwrap();
        fs::write(d.join("boot/vmlinuz-6.1.0-5-amd64"), b"k").unwrap();
        let msg = debian_kernel_cache(Some(d)).unwrap_err().to_string();
        assert!(msg.contains("lib/modules/6.1.0-5-amd64"), "{msg}");
    }

    #[test]
    fn non_bzimage_has_no_pvh_image() {
        let p = Path::new("k");
        assert_eq!(pvh_vmlinux(p, b"").unwrap(), None);
        assert_eq!(pvh_vmlinux(p, &[0u8; 4096]).unwrap(), None);
        // A header pointing past the end of the file.
        let mut fake = vec![0u8; 1024];
        fake[0x202..0x206].copy_from_slice(b"HdrS");
        fake[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        fake[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pvh_vmlinux(p, &fake).unwrap(), None);
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("vmlinuz-x");
        fs::write(&img, &fake).unwrap();
        let k = KernelSource::Path {
            vmlinuz: img.clone(),
            modules_dir: None,
        }
        .resolve()
        .unwrap()
        .with_pvh_image(tmp.path())
        .unwrap();
        assert_eq!(k.vmlinuz, img);
    }

    #[test]
    fn explicit_path_is_checked() {
        let src = KernelSource::Path {
            vmlinuz: "/nonexistent/vmlinuz-1.2.3".into(),
            modules_dir: None,
        };
        let msg = src.resolve().unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/vmlinuz-1.2.3"), "{msg}");
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("vmlinuz-1.2.3");
        fs::write(&img, b"k").unwrap();
        let k = KernelSource::Path {
            vmlinuz: img,
            modules_dir: None,
        }
        .resolve()
        .unwrap();
        assert_eq!(k.release.as_deref(), Some("1.2.3"));
    }
}
