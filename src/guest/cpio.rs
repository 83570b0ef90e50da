//! A writer of the SVR4 "newc" cpio format, the one the Linux kernel
//! unpacks as an initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Each entry is a 110-byte ASCII header (`070701` then thirteen 8-digit hex
//! fields), the NUL-terminated name padded to a multiple of 4 bytes, then the
//! data padded to a multiple of 4. The archive ends with `TRAILER!!!`.
//! Timestamps are 0 and owners root, so the same inputs give the same bytes.

use std::io::Write;

use super::GuestError;

const MAGIC: &str = "070701";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// File type bits of `st_mode`.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

/// Streams cpio entries into any [`Write`]; call [`CpioWriter::finish`] to
/// append the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    next_ino: u32,
}

/// What the 13 header fields say, minus the ones that are always 0 here.
struct Header<'a> {
    name: &'a str,
    mode: u32,
    nlink: u32,
    size: u32,
    rdev: (u32, u32),
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            written: 0,
            next_ino: 1,
        }
    }

    /// Adds a directory; `perm` is the permission bits (e.g. `0o755`).
    pub fn dir(&mut self, name: &str, perm: u32) -> Result<(), GuestError> {
        self.entry(
            Header {
                name,
                mode: S_IFDIR | (perm & 0o7777),
                nlink: 2,
                size: 0,
                rdev: (0, 0),
            },
            &[],
        )
    }

    /// Adds a regular file with the given contents.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> Result<(), GuestError> {
        let size = u32::try_from(data.len()).map_err(|_| GuestError::CpioEntry {
            name: name.to_owned(),
            reason: format!("{} bytes is over the format's 4 GiB limit", data.len()),
        })?;
        self.entry(
            Header {
                name,
                mode: S_IFREG | (perm & 0o7777),
                nlink: 1,
                size,
                rdev: (0, 0),
            },
            data,
        )
    }

    /// Adds a symbolic link `name` -> `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> Result<(), GuestError> {
        if target.is_empty() || target.contains('\0') {
            return Err(GuestError::CpioEntry {
                name: name.to_owned(),
                reason: format!("bad symlink target {target:?}"),
            });
        }
        self.entry(
            Header {
                name,
                mode: S_IFLNK | 0o777,
                nlink: 1,
                size: target.len() as u32,
                rdev: (0, 0),
            },
            target.as_bytes(),
        )
    }

    /// Adds a character device node (e.g. `dev/console`, 5:1).
    pub fn char_device(
        &mut self,
        name: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), GuestError> {
        self.entry(
            Header {
                name,
                mode: S_IFCHR | (perm & 0o7777),
                nlink: 1,
                size: 0,
                rdev: (major, minor),
            },
            &[],
        )
    }

    /// Writes the trailer and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, GuestError> {
        let trailer = Header {
            name: TRAILER,
            mode: 0,
            nlink: 1,
            size: 0,
            rdev: (0, 0),
        };
        self.write_entry(trailer, &[], 0)?;
        Ok(self.out)
    }

    fn entry(&mut self, header: Header<'_>, data: &[u8]) -> Result<(), GuestError> {
        check_name(header.name)?;
        let ino = self.next_ino;
        self.next_ino += 1;
        self.write_entry(header, data, ino)
    }

    fn write_entry(&mut self, h: Header<'_>, data: &[u8], ino: u32) -> Result<(), GuestError> {
        let namesize = h.name.len() + 1;
        let fields = [
            ino,
            h.mode,
            0, // uid
            0, // gid
            h.nlink,
            0, // mtime
            h.size,
            0, // devmajor
            0, // devminor
            h.rdev.0,
            h.rdev.1,
            namesize as u32,
            0, // check
        ];
        let mut buf = Vec::with_capacity(HEADER_LEN + namesize + 3 + data.len() + 3);
        buf.extend_from_slice(MAGIC.as_bytes());
        for f in fields {
            buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        buf.extend_from_slice(h.name.as_bytes());
        buf.push(0);
        pad4(&mut buf, self.written);
        buf.extend_from_slice(data);
        pad4(&mut buf, self.written);
        self.out.write_all(&buf).map_err(|source| GuestError::Io {
            action: "cannot write cpio entry",
            path: h.name.into(),
            source,
        })?;
        self.written += buf.len() as u64;
        Ok(())
    }
}

/// Pads `buf` (which will start at archive offset `base`) to a 4-byte boundary.
fn pad4(buf: &mut Vec<u8>, base: u64) {
    while (base + buf.len() as u64) % 4 != 0 {
        buf.push(0);
    }
}

/// Entry names are relative paths like `bin/busybox`: no leading `/`, no
/// empty, `.` or `..` component, no NUL, and not the trailer's name.
fn check_name(name: &str) -> Result<(), GuestError> {
    let bad = |reason: &str| {
        Err(GuestError::CpioEntry {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return bad("empty name");
    }
    if name.contains('\0') {
        return bad("name contains a NUL byte");
    }
    if name.starts_with('/') {
        return bad("name must be relative (no leading '/')");
    }
    if name == TRAILER {
        return bad("name is reserved for the archive trailer");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("name has an empty, '.' or '..' component");
    }
    if name.len() >= 4096 {
        return bad("name is longer than PATH_MAX");
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One entry read back from an archive.
    #[derive(Debug, PartialEq)]
    pub(crate) struct Entry {
        pub name: String,
        pub mode: u32,
        pub rdev: (u32, u32),
        pub data: Vec<u8>,
    }

    fn hex(field: &[u8]) -> u32 {
        let s = std::str::from_utf8(field).expect("ascii header");
        u32::from_str_radix(s, 16).expect("hex field")
    }

    fn align4(n: usize) -> usize {
        n.div_ceil(4) * 4
    }

    /// An independent reader of newc archives, for tests only.
    pub(crate) fn read_archive(bytes: &[u8]) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut pos = 0;
        loop {
            let h = &bytes[pos..pos + HEADER_LEN];
            assert_eq!(&h[..6], MAGIC.as_bytes(), "magic at offset {pos}");
            let field = |i: usize| hex(&h[6 + 8 * i..14 + 8 * i]);
            let mode = field(1);
            let size = field(6) as usize;
            let rdev = (field(9), field(10));
            let namesize = field(11) as usize;
            let name_start = pos + HEADER_LEN;
            let name = std::str::from_utf8(&bytes[name_start..name_start + namesize - 1])
                .expect("utf-8 name")
                .to_owned();
            assert_eq!(bytes[name_start + namesize - 1], 0, "name NUL");
            let data_start = align4(name_start + namesize);
            let data = bytes[data_start..data_start + size].to_vec();
            pos = align4(data_start + size);
            if name == TRAILER {
                assert_eq!(pos, bytes.len(), "nothing after the trailer");
                return entries;
            }
            entries.push(Entry {
                name,
                mode,
                rdev,
                data,
            });
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file("bin/hello", 0o755, b"#!/bin/sh\necho hi\n").unwrap();
        w.file("empty", 0o644, b"").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        w.dir("dev", 0o755).unwrap();
        w.char_device("dev/console", 0o600, 5, 1).unwrap();
        w.file("odd", 0o600, b"12345").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_through_an_independent_reader() {
        let bytes = sample();
        assert_eq!(bytes.len() % 4, 0);
        let entries = read_archive(&bytes);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/hello",
                "empty",
                "bin/sh",
                "dev",
                "dev/console",
                "odd"
            ]
        );
        assert_eq!(entries[0].mode, 0o040_755);
        assert_eq!(entries[1].mode, 0o100_755);
        assert_eq!(entries[1].data, b"#!/bin/sh\necho hi\n");
        assert_eq!(entries[3].mode, 0o120_777);
        assert_eq!(entries[3].data, b"busybox");
        assert_eq!(entries[5].mode, 0o020_600);
        assert_eq!(entries[5].rdev, (5, 1));
        assert_eq!(entries[6].data, b"12345");
    }

    #[test]
    fn first_header_is_exactly_as_specified() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("a", 0o644, b"xy").unwrap();
        let bytes = w.finish().unwrap();
        let expected_header = concat!(
            "070701", "00000001", "000081a4", "00000000", "00000000", "00000001", "00000000",
            "00000002", "00000000", "00000000", "00000000", "00000000", "00000002", "00000000"
        );
        assert_eq!(&bytes[..HEADER_LEN], expected_header.as_bytes());
        // name "a\0" ends at 112, already aligned; data "xy" then 2 bytes padding.
        assert_eq!(&bytes[110..116], b"a\0xy\0\0");
    }

    #[test]
    fn rejects_bad_names() {
        let mut w = CpioWriter::new(Vec::new());
        for name in ["", "/abs", "a//b", "../x", "a/./b", "nul\0", TRAILER] {
            let err = w.file(name, 0o644, b"").unwrap_err();
            assert!(
                matches!(err, GuestError::CpioEntry { .. }),
                "{name:?}: {err}"
            );
        }
        assert!(w.symlink("l", "").is_err());
    }

    /// If GNU cpio or bsdcpio is installed, it must unpack our archive too.
    #[test]
    fn unpacks_with_system_cpio_if_present() {
        let Ok(tool) = which::which("cpio").or_else(|_| which::which("bsdcpio")) else {
            eprintln!("skipped: neither cpio nor bsdcpio is installed");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.cpio");
        // The device node needs privileges to create; leave it out here.
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file("bin/hello", 0o750, b"hello\n").unwrap();
        w.symlink("bin/sh", "hello").unwrap();
        w.file("odd", 0o600, b"12345").unwrap();
        std::fs::write(&archive, w.finish().unwrap()).unwrap();
        let out_dir = dir.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        let status = std::process::Command::new(tool)
            .args(["-idm", "-F"])
            .arg(&archive)
            .current_dir(&out_dir)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            std::fs::read(out_dir.join("bin/hello")).unwrap(),
            b"hello\n"
        );
        assert_eq!(std::fs::read(out_dir.join("odd")).unwrap(), b"12345");
        assert_eq!(
            std::fs::read_link(out_dir.join("bin/sh")).unwrap(),
            std::path::Path::new("hello")
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join("bin/hello"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
    }
}
