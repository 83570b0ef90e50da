//! QEMU's version: parsed from `--version` output in its many spellings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A QEMU release, `major.minor.micro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl QemuVersion {
    pub const fn new(major: u32, minor: u32, micro: u32) -> QemuVersion {
        QemuVersion {
            major,
            minor,
            micro,
        }
    }

    /// Read `X.Y[.Z]`.
    pub fn parse(text: &str) -> Option<QemuVersion> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let micro = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(QemuVersion::new(major, minor, micro))
    }

    /// Find the version in `qemu-system-* --version` output: Debian's
    /// `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)`, git builds'
    /// `9.0.50 (v9.0.0-1388-g80e8f06021-dirty)`, old `QEMU PC emulator
    /// version 0.12.5`.
    pub fn from_version_output(output: &str) -> Option<QemuVersion> {
        let line = output.lines().find(|l| l.contains("version"))?;
        let after = &line[line.find("version")? + "version".len()..];
        let token: String = after
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        QemuVersion::parse(token.trim_end_matches('.'))
    }
}

impl fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

impl std::str::FromStr for QemuVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QemuVersion::parse(s).ok_or_else(|| format!("'{s}' is not a version: use X.Y or X.Y.Z"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_spellings() {
        let v = |s| QemuVersion::from_version_output(s);
        assert_eq!(
            v("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022"),
            Some(QemuVersion::new(7, 2, 22))
        );
        assert_eq!(
            v("QEMU emulator version 9.0.50 (v9.0.0-1388-g80e8f06021-dirty)"),
            Some(QemuVersion::new(9, 0, 50))
        );
        assert_eq!(
            v("QEMU PC emulator version 0.12.5 (qemu-kvm-0.12.5), Copyright (c) 2003-2008 Fabrice Bellard"),
            Some(QemuVersion::new(0, 12, 5))
        );
        assert_eq!(
            v("QEMU emulator version 8.2.2 (qemu-8.2.2-1.fc40)"),
            Some(QemuVersion::new(8, 2, 2))
        );
        assert_eq!(
            v("QEMU emulator version 2.11"),
            Some(QemuVersion::new(2, 11, 0))
        );
        assert_eq!(v("nonsense"), None);
        assert_eq!(v("version x.y"), None);
        assert_eq!(v(""), None);
    }

    #[test]
    fn orders_numerically() {
        assert!(QemuVersion::new(2, 11, 0) < QemuVersion::new(2, 12, 0));
        assert!(QemuVersion::new(10, 0, 0) > QemuVersion::new(9, 2, 0));
        assert_eq!(
            "2.12".parse::<QemuVersion>(),
            Ok(QemuVersion::new(2, 12, 0))
        );
        assert!("2".parse::<QemuVersion>().is_err());
        assert!("1.2.3.4".parse::<QemuVersion>().is_err());
    }
}
