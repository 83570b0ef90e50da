//! The comparison at the heart of `verify`: each DIMM's predicted range
//! against the "Persistent Memory" ranges and nd regions the guest kernel
//! reported. Pure: a [`Layout`] and a [`GuestReport`] in, verdicts out.
//!
//! Matching is by address, never by position: the guest numbers its
//! regions in the order its NFIT lists them, which need not be DIMM order.

use crate::core::cxl::{Cxl, CxlLayout};
use crate::core::layout::Layout;
use crate::core::profile::DimmKind;
use crate::guest::GuestReport;
use serde::Serialize;

/// The `/proc/iomem` name of an NVDIMM range (NFIT SPA range). The e820
/// type-12 "Persistent Memory (legacy)" ranges are something else.
pub const PMEM_RANGE_NAME: &str = "Persistent Memory";

/// How one device fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The guest has a pmem range and an nd region exactly where predicted.
    Match,
    /// The guest has a range overlapping the prediction, but it starts or
    /// ends elsewhere, or its nd region differs or is missing.
    Different,
    /// Nothing the guest reported overlaps the prediction.
    Missing,
    /// The model predicted no placement (it expected QEMU to refuse the
    /// device), yet QEMU started.
    NotPredicted,
    /// A pc-dimm: volatile RAM, not reported as persistent memory.
    NotChecked,
}

impl Verdict {
    /// Whether this verdict agrees with the prediction.
    pub fn is_ok(self) -> bool {
        matches!(self, Verdict::Match | Verdict::NotChecked)
    }

    /// The word the table prints.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Different => "DIFFERENT",
            Verdict::Missing => "MISSING",
            Verdict::NotPredicted => "NOT PREDICTED",
            Verdict::NotChecked => "not checked (pc-dimm)",
        }
    }
}

/// One device: prediction, what the guest saw, verdict. Addresses and
/// sizes in bytes; `size` is the visible size (label and unaligned tail off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DimmCheck {
    pub id: String,
    pub kind: DimmKind,
    pub addr: Option<u64>,
    pub size: Option<u64>,
    pub guest_addr: Option<u64>,
    pub guest_size: Option<u64>,
    /// The nd region the guest made of it, e.g. `region1`.
    pub region: Option<String>,
    pub verdict: Verdict,
}

/// A pmem range the guest reported that no predicted DIMM accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestRange {
    pub addr: u64,
    pub size: u64,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub dimms: Vec<DimmCheck>,
    pub unexpected: Vec<GuestRange>,
}

impl Comparison {
    /// Every DIMM where predicted and nothing unexplained.
    pub fn all_match(&self) -> bool {
        self.dimms.iter().all(|d| d.verdict.is_ok()) && self.unexpected.is_empty()
    }
}

/// Compares the prediction with the guest's report, device by device in
/// command-line order.
pub fn compare(predicted: &Layout, guest: &GuestReport) -> Comparison {
    let mut ranges: Vec<GuestRange> = guest
        .pmem_ranges
        .iter()
        .filter(|r| r.name == PMEM_RANGE_NAME)
        .map(|r| GuestRange {
            addr: r.start,
            size: r.size(),
        })
        .collect();
    // virtio-pmem has no NFIT range in /proc/iomem: its nd region (what
    // `virtio_pmem` registers) is its range.
    let in_iomem = |start: u64, ranges: &[GuestRange]| {
        ranges
            .iter()
            .any(|r| r.addr <= start && start < r.addr.saturating_add(r.size))
    };
    for r in &guest.regions {
        if !in_iomem(r.start, &ranges) {
            ranges.push(GuestRange {
                addr: r.start,
                size: r.size,
            });
        }
    }
    let mut claimed = vec![false; ranges.len()];
    let overlaps = |r: &GuestRange, addr: u64, size: u64| {
        r.addr < addr.saturating_add(size) && addr < r.addr.saturating_add(r.size)
    };

    // Exact starts first, so a shifted neighbour cannot steal a range.
    let wanted: Vec<Option<(u64, u64)>> = predicted
        .devices
        .iter()
        .map(|d| {
            d.kind
                .spec()
                .guest_reports_range()
                .then(|| d.placement().map(|p| (p.addr, p.size)))
                .flatten()
        })
        .collect();
    let mut found: Vec<Option<usize>> = vec![None; wanted.len()];
    for (i, w) in wanted.iter().enumerate() {
        if let Some((addr, _)) = w {
            if let Some(j) = (0..ranges.len()).find(|&j| !claimed[j] && ranges[j].addr == *addr) {
                claimed[j] = true;
                found[i] = Some(j);
            }
        }
    }
    for (i, w) in wanted.iter().enumerate() {
        if let (Some((addr, size)), None) = (w, found[i]) {
            if let Some(j) =
                (0..ranges.len()).find(|&j| !claimed[j] && overlaps(&ranges[j], *addr, *size))
            {
                claimed[j] = true;
                found[i] = Some(j);
            }
        }
    }

    let dimms = predicted
        .devices
        .iter()
        .zip(&found)
        .map(|(d, at)| {
            let placement = d.placement();
            let guest_range = at.map(|j| &ranges[j]);
            let region = guest_range.and_then(|g| {
                guest
                    .regions
                    .iter()
                    .find(|r| r.start == g.addr)
                    .map(|r| (r.name.clone(), r.size))
            });
            let verdict = match (d.kind.spec().guest_reports_range(), placement, guest_range) {
                (false, _, _) => Verdict::NotChecked,
                (_, None, _) => Verdict::NotPredicted,
                (_, Some(_), None) => Verdict::Missing,
                (_, Some(p), Some(g)) => {
                    let region_ok = region.as_ref().is_some_and(|(_, size)| *size == g.size);
                    if g.addr == p.addr && g.size == p.size && region_ok {
                        Verdict::Match
                    } else {
                        Verdict::Different
                    }
                }
            };
            DimmCheck {
                id: d.id.clone(),
                kind: d.kind,
                addr: placement.map(|p| p.addr),
                size: placement.map(|p| p.size),
                guest_addr: guest_range.map(|g| g.addr),
                guest_size: guest_range.map(|g| g.size),
                region: region.map(|(name, _)| name),
                verdict,
            }
        })
        .collect();
    let unexpected = ranges
        .into_iter()
        .zip(claimed)
        .filter(|(_, c)| !c)
        .map(|(r, _)| r)
        .collect();
    Comparison { dimms, unexpected }
}

/// One CXL fixed memory window: predicted against the guest's root
/// decoder. A window the guest does not see is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowCheck {
    /// The window's `cxl-fmw.N` index.
    pub index: usize,
    pub base: u64,
    pub size: u64,
    /// The guest's root decoder for it, e.g. `decoder0.0`.
    pub decoder: Option<String>,
    pub guest_base: Option<u64>,
    pub guest_size: Option<u64>,
    pub verdict: Verdict,
}

/// One type-3 device: a memdev of its persistent size below its host
/// bridge's PCI root bus (`pci0000:BUS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemdevCheck {
    pub id: String,
    /// Its persistent capacity, bytes (0 for a volatile-only device).
    pub pmem_size: u64,
    /// The `bus_nr` of its host bridge.
    pub bus_nr: u8,
    /// The guest's memdev, e.g. `mem0`.
    pub memdev: Option<String>,
    pub verdict: Verdict,
}

/// The CXL part of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CxlComparison {
    pub windows: Vec<WindowCheck>,
    pub memdevs: Vec<MemdevCheck>,
    /// Root decoders no predicted window accounts for.
    pub unexpected: Vec<GuestRange>,
}

impl CxlComparison {
    /// Every window and device where predicted, nothing unexplained.
    pub fn all_match(&self) -> bool {
        self.windows.iter().all(|w| w.verdict.is_ok())
            && self.memdevs.iter().all(|m| m.verdict.is_ok())
            && self.unexpected.is_empty()
    }
}

/// The CXL windows and type-3 devices against the guest's root decoders
/// and memdevs. Decoders are matched by address (the kernel numbers them
/// in CEDT order), memdevs by size and host bridge (the kernel numbers
/// them in probe order).
pub fn compare_cxl(cxl: &Cxl, predicted: &CxlLayout, guest: &GuestReport) -> CxlComparison {
    let mut taken = vec![false; guest.cxl_decoders.len()];
    let mut pick = |pred: &dyn Fn(&crate::guest::CxlDecoder) -> bool| {
        let j = (0..taken.len()).find(|&j| !taken[j] && pred(&guest.cxl_decoders[j]))?;
        taken[j] = true;
        Some(&guest.cxl_decoders[j])
    };
    let mut windows = Vec::new();
    let mut found = Vec::new();
    for w in &predicted.windows {
        found.push(pick(&|d| d.start == w.base && d.size == w.size));
    }
    for (w, f) in predicted.windows.iter().zip(found.iter_mut()) {
        if f.is_none() {
            *f = pick(&|d| {
                d.start < w.base.saturating_add(w.size) && w.base < d.start.saturating_add(d.size)
            });
        }
    }
    for (w, f) in predicted.windows.iter().zip(found) {
        let verdict = match f {
            None => Verdict::Missing,
            Some(d) if d.start == w.base && d.size == w.size => Verdict::Match,
            Some(_) => Verdict::Different,
        };
        windows.push(WindowCheck {
            index: w.index,
            base: w.base,
            size: w.size,
            decoder: f.map(|d| d.name.clone()),
            guest_base: f.map(|d| d.start),
            guest_size: f.map(|d| d.size),
            verdict,
        });
    }
    let unexpected = guest
        .cxl_decoders
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(d, _)| GuestRange {
            addr: d.start,
            size: d.size,
        })
        .collect();

    let mut claimed = vec![false; guest.cxl_memdevs.len()];
    let memdevs = cxl
        .devices()
        .into_iter()
        .map(|(d, at)| {
            let pmem_size = d.persistent.as_ref().map_or(0, |m| m.size.0);
            let bus_nr = at.host_bridge.bus_nr;
            let below = format!("/pci0000:{bus_nr:02x}/");
            let j = (0..claimed.len()).find(|&j| {
                let m = &guest.cxl_memdevs[j];
                !claimed[j] && m.pmem_size == pmem_size && m.path.contains(&below)
            });
            if let Some(j) = j {
                claimed[j] = true;
            }
            MemdevCheck {
                id: d.id.clone(),
                pmem_size,
                bus_nr,
                memdev: j.map(|j| guest.cxl_memdevs[j].name.clone()),
                verdict: if j.is_some() {
                    Verdict::Match
                } else {
                    Verdict::Missing
                },
            }
        })
        .collect();
    CxlComparison {
        windows,
        memdevs,
        unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::layout::layout;
    use crate::core::profile::{Auto, Dimm, Profile};
    use crate::core::size::{Size, GIB, MIB};
    use crate::guest::parse_report;

    /// Two 2 GiB DIMMs, label 2M, align 128M, on pc with 512M: QEMU puts
    /// them at 4 GiB and 4 GiB + 1920 MiB, 1920 MiB visible each.
    fn two_dimms() -> Layout {
        let mut p = Profile::empty("t");
        p.ram = Size::mib(512);
        p.slots = Auto::Fixed(2);
        p.maxmem = Auto::Fixed(Size::gib(40));
        p.devices = (1..=2)
            .map(|n| Dimm::nvdimm(n, format!("/nonexistent/nv{n}").into(), Size::gib(2)))
            .collect();
        layout(&p, &HostFacts::default()).unwrap()
    }

    fn report(lines: &[&str]) -> GuestReport {
        let mut text = String::from("QPMEM-BEGIN 1\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text.push_str("QPMEM-END\n");
        parse_report(&text)
    }

    const IOMEM1: &str = "QPMEM-IOMEM 100000000-177ffffff : Persistent Memory";
    const IOMEM2: &str = "QPMEM-IOMEM 178000000-1efffffff : Persistent Memory";
    // The guest numbers regions in NFIT order: region0 is the second DIMM.
    const REGION_A: &str = "QPMEM-REGION region1 start=0x100000000 size=2013265920";
    const REGION_B: &str = "QPMEM-REGION region0 start=0x178000000 size=2013265920";

    #[test]
    fn matches_by_address_not_region_number() {
        let c = compare(&two_dimms(), &report(&[IOMEM1, IOMEM2, REGION_B, REGION_A]));
        assert!(c.all_match(), "{c:#?}");
        assert_eq!(c.dimms[0].region.as_deref(), Some("region1"));
        assert_eq!(c.dimms[1].region.as_deref(), Some("region0"));
        assert_eq!(c.dimms[1].guest_addr, Some(4 * GIB + 1920 * MIB));
        assert_eq!(c.dimms[1].guest_size, Some(1920 * MIB));
    }

    #[test]
    fn a_missing_dimm_fails() {
        let c = compare(&two_dimms(), &report(&[IOMEM1, REGION_A]));
        assert!(!c.all_match());
        assert_eq!(c.dimms[0].verdict, Verdict::Match);
        assert_eq!(c.dimms[1].verdict, Verdict::Missing);
        assert_eq!(c.dimms[1].guest_addr, None);
    }

    #[test]
    fn a_shifted_range_is_different_and_leftovers_are_unexpected() {
        let c = compare(
            &two_dimms(),
            &report(&[
                IOMEM1,
                "QPMEM-IOMEM 17fe00000-1f7dfffff : Persistent Memory",
                "QPMEM-IOMEM 300000000-3ffffffff : Persistent Memory",
                "QPMEM-IOMEM 400000000-4ffffffff : Persistent Memory (legacy)",
                REGION_A,
                "QPMEM-REGION region0 start=0x17fe00000 size=2013265920",
            ]),
        );
        assert_eq!(c.dimms[0].verdict, Verdict::Match);
        assert_eq!(c.dimms[1].verdict, Verdict::Different);
        assert_eq!(c.dimms[1].guest_addr, Some(0x1_7fe0_0000));
        assert_eq!(
            c.unexpected,
            [GuestRange {
                addr: 0x3_0000_0000,
                size: 4 * GIB
            }]
        );
        assert!(!c.all_match());
    }

    #[test]
    fn a_range_without_its_region_is_different() {
        let c = compare(&two_dimms(), &report(&[IOMEM1, IOMEM2, REGION_A]));
        assert_eq!(c.dimms[1].verdict, Verdict::Different);
        assert_eq!(c.dimms[1].region, None);
    }

    #[test]
    fn pc_dimms_are_not_checked_and_refused_devices_not_predicted() {
        let mut p = Profile::empty("t");
        p.ram = Size::mib(512);
        p.devices = vec![
            Dimm::pc_dimm(1, Size::gib(1)),
            Dimm::nvdimm(2, "/nonexistent/nv2".into(), Size::mib(100)),
        ];
        let l = layout(&p, &HostFacts::default()).unwrap();
        assert!(l.devices[1].placement().is_none(), "100M < align 128M");
        let c = compare(&l, &report(&[]));
        assert_eq!(c.dimms[0].verdict, Verdict::NotChecked);
        assert_eq!(c.dimms[1].verdict, Verdict::NotPredicted);
        assert!(!c.all_match());
    }

    #[test]
    fn a_cxl_window_the_guest_does_not_see_is_an_error() {
        let p = crate::core::examples::find("cxl")
            .unwrap()
            .load(std::path::Path::new("/nonexistent"))
            .unwrap();
        let l = layout(&p, &HostFacts::default()).unwrap();
        let (cxl, cl) = (p.cxl.as_ref().unwrap(), l.cxl.as_ref().unwrap());
        let w = &cl.windows[0];
        let mem = "QPMEM-CXL-MEM mem0 pmem=0x10000000 path=/sys/devices/pci0000:0c/0000:0c:00.0/0000:0d:00.0/mem0";
        let seen = report(&[
            &format!(
                "QPMEM-CXL-DECODER decoder0.0 start={:#x} size={:#x}",
                w.base, w.size
            ),
            mem,
        ]);
        assert!(seen.problems.is_empty(), "{:?}", seen.problems);
        let c = compare_cxl(cxl, cl, &seen);
        assert!(c.all_match(), "{c:?}");
        assert_eq!(c.windows[0].decoder.as_deref(), Some("decoder0.0"));
        assert_eq!(c.memdevs[0].memdev.as_deref(), Some("mem0"));

        // No root decoder: the window is missing, the run fails.
        let c = compare_cxl(cxl, cl, &report(&[mem]));
        assert_eq!(c.windows[0].verdict, Verdict::Missing);
        assert!(!c.all_match());
        // A decoder elsewhere: different, and nothing else explains it.
        let moved = format!(
            "QPMEM-CXL-DECODER decoder0.0 start={:#x} size={:#x}",
            w.base + (256 << 20),
            w.size
        );
        let c = compare_cxl(cxl, cl, &report(&[&moved, mem]));
        assert_eq!(c.windows[0].verdict, Verdict::Different);
        // A memdev below another host bridge is not this device's.
        let elsewhere = mem.replace("pci0000:0c", "pci0000:35");
        let ok = format!(
            "QPMEM-CXL-DECODER decoder0.0 start={:#x} size={:#x}",
            w.base, w.size
        );
        let c = compare_cxl(cxl, cl, &report(&[&ok, &elsewhere]));
        assert_eq!(c.memdevs[0].verdict, Verdict::Missing);
        assert!(!c.all_match());
    }
}
