//! The compressions kernels and their modules come in: gzip, xz and zstd,
//! told apart by file extension (`.ko.xz`) or by magic bytes (the payload
//! inside a bzImage). Bytes after the first gzip member or xz stream, and
//! after the last zstd frame, are ignored: the kernel appends the
//! uncompressed size to its payload.

use std::io::Read;
use std::path::Path;

use super::GuestError;

/// A supported compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// From a file name ending in `.gz`, `.xz` or `.zst`.
    pub fn from_extension(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "gz" => Some(Compression::Gzip),
            "xz" => Some(Compression::Xz),
            "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// From the first bytes of the data.
    pub fn from_magic(data: &[u8]) -> Option<Self> {
        [
            (GZIP_MAGIC, Compression::Gzip),
            (XZ_MAGIC, Compression::Xz),
            (ZSTD_MAGIC, Compression::Zstd),
        ]
        .into_iter()
        .find(|(magic, _)| data.starts_with(magic))
        .map(|(_, kind)| kind)
    }

    /// Decompresses `data`; `path` only names the source in errors.
    pub fn decompress(self, path: &Path, data: &[u8]) -> Result<Vec<u8>, GuestError> {
        let fail = |reason: String| GuestError::Decompress {
            path: path.to_owned(),
            reason,
        };
        let mut out = Vec::new();
        match self {
            Compression::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .map_err(|e| fail(format!("gzip: {e}")))?;
            }
            Compression::Xz => out = xz_first_stream(data).map_err(|e| fail(format!("xz: {e}")))?,
            Compression::Zstd => {
                let mut input = data;
                while input.starts_with(ZSTD_MAGIC) {
                    let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
                        .map_err(|e| fail(format!("zstd: {e}")))?;
                    decoder
                        .read_to_end(&mut out)
                        .map_err(|e| fail(format!("zstd: {e}")))?;
                }
                if out.is_empty() && !data.starts_with(ZSTD_MAGIC) {
                    return Err(fail("zstd: no zstd frame".into()));
                }
            }
        }
        Ok(out)
    }
}

/// Decodes one xz stream and ignores what follows it (xz2's `Read`
/// adapters call trailing bytes a corrupt stream).
fn xz_first_stream(mut input: &[u8]) -> Result<Vec<u8>, String> {
    use xz2::stream::{Action, Status, Stream};
    let mut stream = Stream::new_stream_decoder(u64::MAX, 0).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).max(4096));
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let (in_before, out_before) = (stream.total_in(), stream.total_out());
        let action = if input.is_empty() {
            Action::Finish
        } else {
            Action::Run
        };
        let status = stream
            .process_vec(input, &mut out, action)
            .map_err(|e| e.to_string())?;
        let consumed = (stream.total_in() - in_before) as usize;
        input = input.get(consumed..).unwrap_or_default();
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if consumed == 0 && stream.total_out() == out_before {
            return Err(if input.is_empty() {
                "truncated stream".into()
            } else {
                "decoder made no progress".into()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"a kernel module, or so it says\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        xz2::read::XzEncoder::new(data, 1)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn round_trips_with_trailing_size_bytes() {
        for (kind, mut packed) in [
            (Compression::Gzip, gzip(TEXT)),
            (Compression::Xz, xz(TEXT)),
            (Compression::Zstd, zstd(TEXT)),
        ] {
            assert_eq!(Compression::from_magic(&packed), Some(kind));
            packed.extend_from_slice(&(TEXT.len() as u32).to_le_bytes());
            assert_eq!(
                kind.decompress(Path::new("x"), &packed).unwrap(),
                TEXT,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn several_zstd_frames_are_all_decoded() {
        let mut packed = zstd(b"one ");
        packed.extend(zstd(b"two"));
        let out = Compression::Zstd
            .decompress(Path::new("x"), &packed)
            .unwrap();
        assert_eq!(out, b"one two");
    }

    #[test]
    fn extensions() {
        assert_eq!(
            Compression::from_extension(Path::new("a/nfit.ko.xz")),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::from_extension(Path::new("nfit.ko.zst")),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_extension(Path::new("nfit.ko.gz")),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_extension(Path::new("nfit.ko")), None);
        assert_eq!(Compression::from_magic(b"\x7fELF"), None);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        for kind in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let err = kind
                .decompress(Path::new("/m/x.ko"), b"garbage!")
                .unwrap_err();
            assert!(err.to_string().contains("/m/x.ko"), "{err}");
        }
        // Truncated streams too.
        for packed in [gzip(TEXT), xz(TEXT), zstd(TEXT)] {
            let kind = Compression::from_magic(&packed).unwrap();
            let cut = &packed[..packed.len() / 2];
            assert!(kind.decompress(Path::new("x"), cut).is_err(), "{kind:?}");
        }
    }
}
