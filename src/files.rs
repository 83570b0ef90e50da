//! Files qpmem did not write itself: what kind of file a path is, reading
//! one only when it is a regular file and only up to a bound, appending to
//! one, opening an output that is a FIFO or a character device without
//! hanging, where an atomic replace of a path may rename onto (a regular
//! file or a missing path, through symbolic links), and removing the
//! temporary files a killed save left behind.
//!
//! Every read of a user's file (profiles and their backups, settings,
//! themes, the QEMU version cache) goes through [`read_regular`], the
//! console log through [`open_append_regular`], and every atomic replace
//! through [`replace_target`]: none of them opens a FIFO or a device, so
//! none can block forever or read without end.

use rustix::fs::{FlockOperation, OFlags};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Unknown,
}

impl Kind {
    pub fn of(meta: &Metadata) -> Kind {
        let t = meta.file_type();
        if t.is_file() {
            Kind::Regular
        } else if t.is_dir() {
            Kind::Directory
        } else if t.is_symlink() {
            Kind::Symlink
        } else if t.is_fifo() {
            Kind::Fifo
        } else if t.is_char_device() {
            Kind::CharDevice
        } else if t.is_block_device() {
            Kind::BlockDevice
        } else if t.is_socket() {
            Kind::Socket
        } else {
            Kind::Unknown
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Regular => "a regular file",
            Kind::Directory => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Fifo => "a FIFO",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Socket => "a socket",
            Kind::Unknown => "not a file qpmem knows",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: Kind },
    #[error("{} is {size} bytes, more than the {limit} bytes qpmem reads from it", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{} is a FIFO with no reader; start the reader first", path.display())]
    NoReader { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open for writing: `ENXIO` is a FIFO with no reader.
fn open_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |e| {
        if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
            FileError::NoReader {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path)(e)
        }
    }
}

fn regular_only(path: &Path, meta: &Metadata) -> Result<(), FileError> {
    match Kind::of(meta) {
        Kind::Regular => Ok(()),
        kind => Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Back to blocking I/O on a descriptor opened with `O_NONBLOCK`.
fn clear_nonblock(path: &Path, file: &File) -> Result<(), FileError> {
    let flags = rustix::fs::fcntl_getfl(file).map_err(|e| io_err(path)(e.into()))?;
    rustix::fs::fcntl_setfl(file, flags - OFlags::NONBLOCK).map_err(|e| io_err(path)(e.into()))
}

/// The flags every open of a file qpmem did not write uses: an open that
/// cannot block (a FIFO) and cannot take a controlling terminal.
fn careful_flags() -> i32 {
    (OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32
}

/// Open `path` for reading if it is a regular file. The type is checked
/// before the open (so a device is never opened) and again on the opened
/// descriptor (so a FIFO swapped in meanwhile is refused, not waited on).
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    regular_only(path, &std::fs::metadata(path).map_err(io_err(path))?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(careful_flags())
        .open(path)
        .map_err(io_err(path))?;
    regular_only(path, &file.metadata().map_err(io_err(path))?)?;
    clear_nonblock(path, &file)?;
    Ok(file)
}

/// The contents of the regular file `path`, refused unread when larger
/// than `limit` bytes (and cut off, then refused, if it grows past it).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let size = file.metadata().map_err(io_err(path))?.len();
    let too_large = |size| FileError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Open `path` for appending, creating it if missing; anything but a
/// regular file (a FIFO, a device, a directory) is refused.
pub fn open_append_regular(path: &Path) -> Result<File, FileError> {
    match std::fs::metadata(path) {
        Ok(meta) => regular_only(path, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path)(e)),
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(careful_flags())
        .open(path)
        .map_err(open_err(path))?;
    regular_only(path, &file.metadata().map_err(io_err(path))?)?;
    clear_nonblock(path, &file)?;
    Ok(file)
}

/// Symbolic links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The final target of `path` through any chain of symbolic links (the
/// path itself when it is not a link). The target need not exist: a
/// dangling link resolves to the path it names.
pub fn resolve_links(path: &Path) -> Result<PathBuf, FileError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(io_err(&current))?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(io_err(&current)(e)),
        }
    }
    Err(io_err(path)(io::Error::from_raw_os_error(
        rustix::io::Errno::LOOP.raw_os_error(),
    )))
}

/// The path an atomic replace of `path` renames onto: the final target of
/// its symbolic links (so the links survive), which must be a regular
/// file or missing. Nothing is ever renamed over a FIFO, a device, a
/// directory or a socket.
pub fn replace_target(path: &Path) -> Result<PathBuf, FileError> {
    let target = resolve_links(path)?;
    match std::fs::symlink_metadata(&target) {
        Ok(meta) => regular_only(path, &meta).map(|()| target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(target),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Where writing an output file (`render -o`) goes.
#[derive(Debug)]
pub enum Output {
    /// A regular file or a missing path: replace this (the final target of
    /// any symbolic links) atomically.
    Replace(PathBuf),
    /// A FIFO with a reader or a character device: write to it directly.
    Direct(File),
}

/// Decide how to write the output `path`: [`Output::Replace`] for a
/// regular file or a missing path, [`Output::Direct`] for a FIFO (opened
/// without waiting: no reader is [`FileError::NoReader`]) or a character
/// device; a directory, socket or block device is refused.
pub fn output(path: &Path) -> Result<Output, FileError> {
    let target = resolve_links(path)?;
    let kind = match std::fs::symlink_metadata(&target) {
        Ok(meta) => Kind::of(&meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Output::Replace(target)),
        Err(e) => return Err(io_err(path)(e)),
    };
    match kind {
        Kind::Regular => Ok(Output::Replace(target)),
        Kind::Fifo | Kind::CharDevice => {
            let file = OpenOptions::new()
                .write(true)
                .custom_flags(careful_flags())
                .open(&target)
                .map_err(open_err(path))?;
            let now = Kind::of(&file.metadata().map_err(io_err(path))?);
            if now != kind {
                return Err(FileError::NotRegular {
                    path: path.to_path_buf(),
                    kind: now,
                });
            }
            clear_nonblock(path, &file)?;
            Ok(Output::Direct(file))
        }
        kind => Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Take the lock that tells [`remove_stale_temps`] a temporary file is
/// still being written. Best effort: a file system without `flock` still
/// has the age rule.
pub fn lock_temp(file: &File) {
    let _ = rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive);
}

/// Remove temporary files a killed save left in `dir`: names starting with
/// one of `prefixes`, regular files (not links) owned by this user, last
/// modified more than `older_than` ago and not locked by a save still
/// writing them ([`lock_temp`]). Errors are ignored: cleaning up is never
/// a reason for a save to fail.
pub fn remove_stale_temps(dir: &Path, prefixes: &[&str], older_than: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags(careful_flags() | OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > older_than);
        if Kind::of(&meta) != Kind::Regular || meta.uid() != me || !old {
            continue;
        }
        if rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        path
    }

    #[test]
    fn only_regular_files_are_read_and_only_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = fifo(dir.path(), "fifo");
        // Would block forever in a plain open.
        let e = read_regular(&f, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{} is a FIFO, not a regular file", f.display())
        );
        let e = read_regular(dir.path(), 10).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a directory, not a regular file"),
            "{e}"
        );
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = read_regular(&link, 10).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a character device, not a regular file"),
            "{e}"
        );
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        let e = read_regular(&big, 10).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { size: 11, .. }), "{e}");
        assert_eq!(read_regular(&big, 11).unwrap().len(), 11);
    }

    #[test]
    fn append_refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = fifo(dir.path(), "fifo");
        let e = open_append_regular(&f).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::NotRegular {
                    kind: Kind::Fifo,
                    ..
                }
            ),
            "{e}"
        );
        let e = open_append_regular(Path::new("/dev/null")).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::NotRegular {
                    kind: Kind::CharDevice,
                    ..
                }
            ),
            "{e}"
        );
        let log = dir.path().join("log");
        open_append_regular(&log).unwrap();
        assert!(log.is_file());
    }

    #[test]
    fn links_resolve_to_their_final_target() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("b", d.join("a")).unwrap();
        std::os::unix::fs::symlink(d.join("c"), d.join("b")).unwrap();
        assert_eq!(resolve_links(&d.join("a")).unwrap(), d.join("c"));
        std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
        assert!(resolve_links(&d.join("loop")).is_err());
    }
}
