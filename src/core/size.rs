//! Sizes in QEMU's syntax.
//!
//! QEMU reads sizes with `qemu_strtosz`: a decimal number with an optional
//! suffix `K M G T P E` (powers of 1024, either case; `B` means bytes). A
//! bare number means **MiB** for `-m` but **bytes** everywhere else
//! (`maxmem`, `size`, `label-size`, `align`). This module parses both forms,
//! prints the canonical form (`17G`, `2M`, `1088M`, else bytes) and a form
//! for people (`16.88 GiB`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;

/// What a bare number (no suffix) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareUnit {
    /// `size=`, `maxmem=`, `label-size=`, `align=`: a bare number is bytes.
    Bytes,
    /// `-m 512`: a bare number is MiB.
    Mebibytes,
}

/// Why a size could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("empty size")]
    Empty,
    #[error("negative sizes are not allowed")]
    Negative,
    #[error("fractional sizes are not supported (write it in a smaller unit)")]
    Fractional,
    #[error("unknown size suffix '{0}' (use K, M, G, T, P or E)")]
    UnknownSuffix(String),
    #[error("not a number")]
    NotANumber,
    #[error("too large: sizes must fit in 64 bits (at most 16 EiB - 1)")]
    Overflow,
}

const SUFFIXES: [(char, u32); 6] = [
    ('K', 10),
    ('M', 20),
    ('G', 30),
    ('T', 40),
    ('P', 50),
    ('E', 60),
];

/// Parse a size in QEMU's syntax.
///
/// Accepts decimal digits or a `0x` hexadecimal number, then an optional
/// suffix. Refuses negative, fractional and overflowing values.
pub fn parse_size(text: &str, bare: BareUnit) -> Result<u64, SizeError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(SizeError::Empty);
    }
    if s.starts_with('-') {
        return Err(SizeError::Negative);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let (number, suffix) = digits.split_at(end);
    if number.is_empty() {
        return Err(SizeError::NotANumber);
    }
    if suffix.starts_with('.') {
        return Err(SizeError::Fractional);
    }
    let value = u64::from_str_radix(number, radix).map_err(|_| SizeError::Overflow)?;
    let shift = match suffix {
        "" => match bare {
            BareUnit::Bytes => 0,
            BareUnit::Mebibytes => 20,
        },
        "b" | "B" => 0,
        other => {
            let mut chars = other.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            // Accept a trailing "iB"/"B" for convenience in hand-edited profiles? No:
            // QEMU does not, so neither do we.
            match (first, chars.next()) {
                (Some(c), None) => SUFFIXES
                    .iter()
                    .find(|(s, _)| *s == c)
                    .map(|(_, shift)| *shift)
                    .ok_or_else(|| SizeError::UnknownSuffix(other.to_string()))?,
                _ => return Err(SizeError::UnknownSuffix(other.to_string())),
            }
        }
    };
    value.checked_mul(1u64 << shift).ok_or(SizeError::Overflow)
}

/// The canonical QEMU spelling: the largest suffix that divides exactly.
/// `0` is `0`; bytes that fit no suffix are written bare (bytes).
pub fn format_qemu(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_string();
    }
    for (suffix, shift) in SUFFIXES.iter().rev() {
        let unit = 1u64 << shift;
        if bytes % unit == 0 {
            return format!("{}{}", bytes / unit, suffix);
        }
    }
    bytes.to_string()
}

/// A size for people: `16.88 GiB`, `2 MiB`, `512 B`.
/// Rounding never hides a difference: 17 GiB - 2 MiB is `16.998 GiB`,
/// not `17.00 GiB`.
pub fn format_human(bytes: u64) -> String {
    let with = |places: usize| {
        let opts = humansize::BINARY
            .decimal_places(places)
            .decimal_zeroes(0)
            .space_after_value(true);
        humansize::format_size(bytes, opts)
    };
    let two = with(2);
    if two.contains(".00 ") {
        with(3)
    } else {
        two
    }
}

/// A size in bytes, written in QEMU's syntax in profiles (`"17G"`) and read
/// from either that syntax or a plain integer of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    pub const fn bytes(self) -> u64 {
        self.0
    }
    pub const fn mib(n: u64) -> Size {
        Size(n * MIB)
    }
    pub const fn gib(n: u64) -> Size {
        Size(n * GIB)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_qemu(self.0))
    }
}

impl std::str::FromStr for Size {
    type Err = SizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s, BareUnit::Bytes).map(Size)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_qemu(self.0))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"17G\", \"2M\" or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("size {v}: negative sizes are not allowed")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v, BareUnit::Bytes)
                    .map(Size)
                    .map_err(|e| E::custom(format!("size \"{v}\": {e}")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Round `value` up to a multiple of `align` (a power of two or any non-zero
/// value). Returns `None` on overflow.
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    if align <= 1 {
        return Some(value);
    }
    if align.is_power_of_two() {
        let mask = align - 1;
        return value.checked_add(mask).map(|v| v & !mask);
    }
    let rem = value % align;
    if rem == 0 {
        Some(value)
    } else {
        value.checked_add(align - rem)
    }
}

/// Round `value` down to a multiple of `align`.
pub fn align_down(value: u64, align: u64) -> u64 {
    if align <= 1 {
        value
    } else {
        value - value % align
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1024_in_either_case() {
        assert_eq!(parse_size("17G", BareUnit::Bytes), Ok(17 * GIB));
        assert_eq!(parse_size("2m", BareUnit::Bytes), Ok(2 * MIB));
        assert_eq!(parse_size("128K", BareUnit::Bytes), Ok(128 * KIB));
        assert_eq!(parse_size("1t", BareUnit::Bytes), Ok(TIB));
        assert_eq!(parse_size("1P", BareUnit::Bytes), Ok(1 << 50));
        assert_eq!(parse_size("15E", BareUnit::Bytes), Ok(15 << 60));
        assert_eq!(parse_size("4096B", BareUnit::Bytes), Ok(4096));
    }

    #[test]
    fn bare_numbers_are_mib_for_dash_m_and_bytes_elsewhere() {
        assert_eq!(parse_size("512", BareUnit::Mebibytes), Ok(512 * MIB));
        assert_eq!(parse_size("512", BareUnit::Bytes), Ok(512));
        assert_eq!(parse_size("0x1000", BareUnit::Bytes), Ok(4096));
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        assert_eq!(parse_size("", BareUnit::Bytes), Err(SizeError::Empty));
        assert_eq!(parse_size("-1G", BareUnit::Bytes), Err(SizeError::Negative));
        assert_eq!(
            parse_size("1.5G", BareUnit::Bytes),
            Err(SizeError::Fractional)
        );
        assert_eq!(
            parse_size("17X", BareUnit::Bytes),
            Err(SizeError::UnknownSuffix("X".into()))
        );
        assert_eq!(
            parse_size("17GB", BareUnit::Bytes),
            Err(SizeError::UnknownSuffix("GB".into()))
        );
        assert_eq!(parse_size("G", BareUnit::Bytes), Err(SizeError::NotANumber));
        assert_eq!(parse_size("17E", BareUnit::Bytes), Err(SizeError::Overflow));
        assert_eq!(
            parse_size("99999999999999999999", BareUnit::Bytes),
            Err(SizeError::Overflow)
        );
        assert_eq!(
            parse_size("18446744073709551615", BareUnit::Bytes),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn canonical_form_uses_the_largest_exact_suffix() {
        assert_eq!(format_qemu(17 * GIB), "17G");
        assert_eq!(format_qemu(2 * MIB), "2M");
        assert_eq!(format_qemu(1088 * MIB), "1088M");
        assert_eq!(format_qemu(17 * GIB - 2 * MIB), "17406M");
        assert_eq!(format_qemu(4097), "4097");
        assert_eq!(format_qemu(0), "0");
        assert_eq!(format_qemu(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn human_form_has_two_decimals_at_most() {
        assert_eq!(format_human(16 * GIB + 896 * MIB), "16.88 GiB");
        assert_eq!(format_human(2 * MIB), "2 MiB");
        assert_eq!(format_human(17 * GIB - 2 * MIB), "16.998 GiB");
    }

    #[test]
    fn serde_writes_qemu_syntax_and_reads_both() {
        let s: Size = ron::from_str("\"17G\"").unwrap();
        assert_eq!(s, Size::gib(17));
        let s: Size = ron::from_str("4096").unwrap();
        assert_eq!(s.0, 4096);
        assert_eq!(ron::to_string(&Size::mib(2)).unwrap(), "\"2M\"");
        assert!(ron::from_str::<Size>("\"12Q\"").is_err());
    }

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_up(5, 4), Some(8));
        assert_eq!(align_up(8, 4), Some(8));
        assert_eq!(align_up(u64::MAX, 4), None);
        assert_eq!(align_down(7, 4), 4);
        assert_eq!(align_down(7, 0), 7);
    }
}
