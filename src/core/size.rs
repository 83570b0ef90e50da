//! Sizes in QEMU's syntax.
//!
//! QEMU reads sizes with `qemu_strtosz`: a decimal number, fractions
//! included (`1.5G`), or a `0x` hexadecimal one, with an optional suffix
//! `K M G T P E` (powers of 1024, either case; `B` means bytes). A
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
    #[error("a fraction needs a unit suffix (1.5G, not 1.5)")]
    FractionWithoutUnit,
    #[error("an exponent is not allowed in a size")]
    Exponent,
    #[error("a hexadecimal size cannot have a fraction")]
    HexFraction,
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

/// The shift of a unit suffix (`B` 0, `K` 10, ... `E` 60), either case.
fn suffix_shift(c: char) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    if c == 'B' {
        return Some(0);
    }
    SUFFIXES.iter().find(|(s, _)| *s == c).map(|(_, s)| *s)
}

/// What `strtoull` skips before a number (C's `isspace`).
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// A size as QEMU's `qemu_strtosz` reads it, and how it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedSize {
    pub bytes: u64,
    /// A hexadecimal number with a unit suffix (`0x10M`): deprecated in
    /// QEMU 6.0, refused from 8.1 ([`HEX_SUFFIX_REFUSED`]).
    pub hex_with_suffix: bool,
}

/// QEMU refuses a unit suffix on a hexadecimal size from this release on
/// (`0x10M`; 6.0 to 8.0 warn).
pub const HEX_SUFFIX_REFUSED: (u32, u32) = (8, 1);

/// Parse a size in QEMU's syntax; see [`parse_size_detailed`].
pub fn parse_size(text: &str, bare: BareUnit) -> Result<u64, SizeError> {
    parse_size_detailed(text, bare).map(|p| p.bytes)
}

/// Parse a size exactly as QEMU 7.2's `qemu_strtosz` (util/cutils.c) does:
/// optional leading white space and `+`; a decimal integer, optionally
/// with a fraction (`1.5G`; `1.` and `1.G` too), or `0x` hexadecimal
/// (no fraction); then one optional suffix `B K M G T P E` (powers of
/// 1024, either case) and nothing after it. A fraction needs a suffix
/// other than `B`; the result is rounded to the nearest byte, half up.
/// Refused: a minus sign anywhere in the number, an exponent, a missing
/// integer part (`.5G`), anything after the suffix, and values of 2^64
/// or more. For `-m` a value that ends in a digit is in MiB
/// ([`BareUnit::Mebibytes`]), as QEMU's legacy rule has it (so `-m 0x1e`
/// is 30 bytes and `-m 1.0` is 1 MiB).
pub fn parse_size_detailed(text: &str, bare: BareUnit) -> Result<ParsedSize, SizeError> {
    let body = text.trim_start_matches(is_c_space);
    if body.is_empty() {
        return Err(SizeError::Empty);
    }
    let (neg, unsigned) = match body.as_bytes()[0] {
        b'-' => (true, &body[1..]),
        b'+' => (false, &body[1..]),
        _ => (false, body),
    };
    let digits_end = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unsigned.len());
    if digits_end == 0 {
        return Err(if neg {
            SizeError::Negative
        } else {
            SizeError::NotANumber
        });
    }
    if neg {
        return Err(SizeError::Negative);
    }
    let (int_text, mut rest) = unsigned.split_at(digits_end);
    let mut hex = false;
    let mut fraction: u64 = 0;
    let int_value: u64;
    let looks_hex = int_text.bytes().all(|b| b == b'0') && rest.starts_with(['x', 'X']);
    if looks_hex {
        let after = &rest[1..];
        let end = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        if end == 0 || int_text.len() > 1 {
            return Err(SizeError::NotANumber);
        }
        int_value = u64::from_str_radix(&after[..end], 16).map_err(|_| SizeError::Overflow)?;
        rest = &after[end..];
        if rest.starts_with('.') {
            return Err(SizeError::HexFraction);
        }
        hex = true;
    } else {
        int_value = int_text.parse().map_err(|_| SizeError::Overflow)?;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let digits = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            if digits == 0 {
                // strtod finds no number: QEMU steps over the '.'.
                rest = after_dot;
            } else {
                let tail = &after_dot[digits..];
                // strtod would read an exponent (e5, E-3): refused.
                let mut t = tail.chars();
                if matches!(t.next(), Some('e' | 'E')) {
                    let mut t2 = t.clone();
                    let c = t2.next();
                    let exp_digit = match c {
                        Some('+' | '-') => t2.next().is_some_and(|c| c.is_ascii_digit()),
                        Some(c) => c.is_ascii_digit(),
                        None => false,
                    };
                    if exp_digit {
                        return Err(SizeError::Exponent);
                    }
                }
                let f: f64 = format!("0.{}", &after_dot[..digits])
                    .parse()
                    .map_err(|_| SizeError::NotANumber)?;
                // C's (uint64_t)(f * 2^64) on x86-64: 2^64 itself wraps to 0.
                let scaled = f * 18_446_744_073_709_551_616.0;
                fraction = if scaled >= 18_446_744_073_709_551_616.0 {
                    0
                } else {
                    // In [0, 2^64) here, and truncation toward zero is
                    // exactly what C's conversion does.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let truncated = scaled as u64;
                    truncated
                };
                rest = tail;
            }
        }
    }
    let after_number = rest;
    let mut chars = rest.chars();
    let (shift, explicit) = match chars.next().and_then(suffix_shift) {
        Some(s) => {
            rest = chars.as_str();
            (s, true)
        }
        None => (0, false),
    };
    if !rest.is_empty() {
        return Err(
            if after_number.starts_with(|c: char| c.is_ascii_alphabetic()) {
                SizeError::UnknownSuffix(after_number.to_string())
            } else {
                SizeError::NotANumber
            },
        );
    }
    let bytes = if shift == 0 {
        if fraction != 0 {
            return Err(SizeError::FractionWithoutUnit);
        }
        int_value
    } else {
        // 64.64 fixed point times 2^shift, rounded half up.
        let whole = u128::from(int_value) << shift;
        let frac = (u128::from(fraction) << shift) >> 63;
        let rounded = (frac >> 1) + (frac & 1);
        let total = whole + rounded;
        u64::try_from(total).map_err(|_| SizeError::Overflow)?
    };
    let bytes = match bare {
        BareUnit::Mebibytes if text.ends_with(|c: char| c.is_ascii_digit()) => {
            bytes.checked_mul(MIB).ok_or(SizeError::Overflow)?
        }
        _ => bytes,
    };
    Ok(ParsedSize {
        bytes,
        hex_with_suffix: hex && explicit,
    })
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
            parse_size("1.5", BareUnit::Bytes),
            Err(SizeError::FractionWithoutUnit)
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

    /// Each accepted or refused exactly as QEMU 7.2 did (measured with
    /// `-object memory-backend-ram,id=r,size=VALUE -S`).
    #[test]
    fn follows_qemu_strtosz() {
        let b = |s: &str| parse_size(s, BareUnit::Bytes);
        assert_eq!(b("1.5G"), Ok(1_610_612_736));
        assert_eq!(b("0.5K"), Ok(512));
        assert_eq!(b("1."), Ok(1));
        assert_eq!(b("1.G"), Ok(GIB));
        assert_eq!(b("1.k"), Ok(KIB));
        assert_eq!(b("1.0"), Ok(1));
        assert_eq!(b(" 1G"), Ok(GIB));
        assert_eq!(b("+1G"), Ok(GIB));
        assert_eq!(b("00012M"), Ok(12 * MIB));
        assert_eq!(b("012"), Ok(12));
        assert_eq!(b("0x1e"), Ok(30));
        assert_eq!(b("1.5E"), Ok(3 << 59));
        // Rounded to the nearest byte, half up: 1/3 KiB is 341.33 bytes.
        assert_eq!(b("0.333333333333333333K"), Ok(341));
        // The fraction rounds to 1.0 as a double, which C's conversion to
        // 64-bit fixed point wraps to 0 on x86-64: QMP qom-get said 1024.
        assert_eq!(b("1.999999999999999999999K"), Ok(KIB));
        assert_eq!(b("18446744073709551615"), Ok(u64::MAX));
        let hex = parse_size_detailed("0x1000K", BareUnit::Bytes).unwrap();
        assert_eq!((hex.bytes, hex.hex_with_suffix), (4 * MIB, true));
        assert!(
            !parse_size_detailed("0x1000", BareUnit::Bytes)
                .unwrap()
                .hex_with_suffix
        );
        for refused in [
            "1.5",
            ".5G",
            "0x1.8G",
            "1e3",
            "1.5e3G",
            "1.5EG",
            "1G5",
            "1KiB",
            "1GB",
            "1.0001B",
            "16E",
            "1.5b",
            "0x",
            "0xG",
            "1.5 G",
            "18446744073709551616",
            "-0",
            "1.-5G",
            "1.+5G",
            "1.0x5G",
            "1. G",
            "1.inf",
            "1.nanG",
            "1G ",
            "00x10",
        ] {
            assert!(b(refused).is_err(), "{refused:?} must be refused");
        }
        // -m: a value ending in a digit is MiB, else as written.
        let m = |s: &str| parse_size(s, BareUnit::Mebibytes);
        assert_eq!(m("1.0"), Ok(MIB));
        assert_eq!(m("0x1e"), Ok(30));
        assert_eq!(m("0x100"), Ok(256 * MIB));
        assert_eq!(m("1.5G"), Ok(1_610_612_736));
        assert_eq!(m("17592186044416"), Err(SizeError::Overflow));
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
