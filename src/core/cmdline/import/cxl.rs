//! The CXL part of a pasted line: `-machine cxl=on,cxl-fmw.N...` and the
//! `pxb-cxl`, `cxl-rp`, `cxl-upstream`, `cxl-downstream` and `cxl-type3`
//! devices (QemuOpts or JSON), built into the profile's tree
//! ([`crate::core::cxl`]). A device whose `bus=` names nothing in the
//! tree (a type-3 on a plain PCIe port) is kept verbatim where it stood.

use super::{
    bad, check_keys, json_typed, number, size_value, Backing, ImportError, ImportNote, Parsed,
};
use crate::core::cxl::{Cxl, CxlMemory, HostBridge, Port, RootPort, Switch, Type3, Window};
use crate::core::profile::{is_valid_id, Backend};
use crate::core::qemu::props::Group;
use crate::core::size::{BareUnit, Size};
use std::collections::BTreeMap;

/// The `-device` drivers of the tree.
pub(super) fn is_cxl_driver(driver: &str) -> bool {
    matches!(
        driver,
        "pxb-cxl" | "cxl-rp" | "cxl-upstream" | "cxl-downstream" | "cxl-type3"
    )
}

/// One window's parts as `-machine` gave them.
#[derive(Default)]
pub(super) struct WindowParts {
    targets: BTreeMap<usize, String>,
    size: Option<Size>,
    granularity: Option<Size>,
}

/// `cxl-fmw.N.KEY[.M]=VALUE` from `-machine`: `Ok(false)` when the key is
/// not a window's.
pub(super) fn machine_key(
    windows: &mut BTreeMap<usize, WindowParts>,
    key: &str,
    value: Option<&str>,
    notes: &mut Vec<ImportNote>,
) -> Result<bool, ImportError> {
    let Some(rest) = key.strip_prefix("cxl-fmw.") else {
        return Ok(false);
    };
    let v = value.unwrap_or("");
    let refuse = |why: &str| bad("-machine", key, v, why);
    let mut parts = rest.splitn(3, '.');
    let index: usize = parts.next().and_then(|n| n.parse().ok()).ok_or_else(|| {
        refuse("expected cxl-fmw.N.targets.M, cxl-fmw.N.size or cxl-fmw.N.interleave-granularity")
    })?;
    let w = windows.entry(index).or_default();
    match (parts.next(), parts.next()) {
        (Some("targets"), Some(m)) => {
            let m: usize = m
                .parse()
                .map_err(|_| refuse("expected cxl-fmw.N.targets.M with a number M"))?;
            w.targets.insert(m, v.to_string());
        }
        (Some("size"), None) => {
            w.size = Some(size_value(
                "-machine",
                "-machine",
                key,
                v,
                BareUnit::Bytes,
                notes,
            )?)
        }
        (Some("interleave-granularity"), None) => {
            w.granularity = Some(size_value(
                "-machine",
                "-machine",
                key,
                v,
                BareUnit::Bytes,
                notes,
            )?)
        }
        _ => {
            return Err(refuse(
                "QEMU knows only targets.M, size and interleave-granularity in a cxl-fmw window",
            ))
        }
    }
    Ok(true)
}

/// The windows in index order; QEMU needs indices (of windows and of
/// targets) from 0 without gaps, a size and at least one target.
pub(super) fn windows(parts: BTreeMap<usize, WindowParts>) -> Result<Vec<Window>, ImportError> {
    let mut out = Vec::new();
    for (n, (index, w)) in parts.into_iter().enumerate() {
        let key = |k: &str| format!("cxl-fmw.{index}.{k}");
        if index != n {
            return Err(bad(
                "-machine",
                &format!("cxl-fmw.{n}"),
                "",
                "missing: QEMU numbers windows from 0 without gaps",
            ));
        }
        let size = w.size.ok_or_else(|| {
            bad(
                "-machine",
                &key("size"),
                "",
                "missing (QEMU: \"Parameter 'cxl-fmw.N.size' is missing\")",
            )
        })?;
        if w.targets.is_empty() {
            return Err(bad(
                "-machine",
                &key("targets"),
                "",
                "missing (QEMU: \"Parameter 'cxl-fmw.N.targets' is missing\")",
            ));
        }
        let mut targets = Vec::new();
        for (m, (i, t)) in w.targets.into_iter().enumerate() {
            if i != m {
                return Err(bad(
                    "-machine",
                    &key(&format!("targets.{m}")),
                    "",
                    "missing: targets are numbered from 0 without gaps",
                ));
            }
            targets.push(t);
        }
        out.push(Window {
            targets,
            size,
            granularity: w.granularity,
        });
    }
    Ok(out)
}

/// A CXL `-device` as read, before the tree is built.
pub(super) struct Pending {
    pub parsed: Parsed,
}

/// Build the tree from the devices in command-line order. Each returned
/// flag says whether that device went into the tree (`false`: keep it
/// verbatim).
pub(super) fn build(
    cxl: &mut Cxl,
    pending: Vec<Pending>,
    backends: &mut [Backing],
    notes: &mut Vec<ImportNote>,
) -> Result<Vec<bool>, ImportError> {
    let mut taken = Vec::with_capacity(pending.len());
    for Pending { parsed } in pending {
        taken.push(add(cxl, parsed, backends, notes)?);
    }
    Ok(taken)
}

struct Props {
    id: Option<String>,
    bus: Option<String>,
    /// Properties the tree holds as fields, by name.
    known: BTreeMap<String, String>,
    /// Everything else, verbatim.
    options: Vec<String>,
}

fn read_props(
    driver: &str,
    parsed: Parsed,
    fields: &[&str],
    notes: &mut Vec<ImportNote>,
) -> Result<Props, ImportError> {
    let option = format!("-device {driver}");
    let mut props = Props {
        id: None,
        bus: None,
        known: BTreeMap::new(),
        options: Vec::new(),
    };
    let id = parsed
        .pieces
        .iter()
        .find(|p| p.key == "id")
        .and_then(|p| p.value.clone());
    let subject = id.clone().unwrap_or_else(|| driver.to_string());
    if let Some(group) = Group::of_device(driver) {
        check_keys(group, &option, &subject, &parsed.pieces, notes);
    }
    for p in parsed.pieces {
        json_typed(&option, &p)?;
        match p.key.as_str() {
            "id" => {}
            "bus" => props.bus = p.value,
            k if fields.contains(&k) => {
                props
                    .known
                    .insert(p.key.clone(), p.value.unwrap_or_default());
            }
            _ => props.options.push(p.raw),
        }
    }
    if let Some(id) = &id {
        if !is_valid_id(id) {
            return Err(ImportError::BadId {
                option,
                id: id.clone(),
            });
        }
    }
    props.id = id;
    Ok(props)
}

fn num<T: TryFrom<u64> + Default>(
    driver: &str,
    props: &Props,
    key: &str,
) -> Result<T, ImportError> {
    match props.known.get(key) {
        Some(v) => number(&format!("-device {driver}"), key, v),
        None => Ok(T::default()),
    }
}

/// Add one device where its `bus=` puts it; `Ok(false)` when the tree
/// has no such parent (or the device has no id, so nothing can name it).
fn add(
    cxl: &mut Cxl,
    parsed: Parsed,
    backends: &mut [Backing],
    notes: &mut Vec<ImportNote>,
) -> Result<bool, ImportError> {
    let driver = parsed.head.clone();
    match driver.as_str() {
        "pxb-cxl" => {
            let props = read_props(&driver, parsed, &["bus_nr"], notes)?;
            let Some(id) = props.id.clone() else {
                return Ok(false);
            };
            cxl.host_bridges.push(HostBridge {
                id,
                bus_nr: num(&driver, &props, "bus_nr")?,
                bus: props.bus.unwrap_or_else(|| "pcie.0".into()),
                options: props.options,
                root_ports: Vec::new(),
            });
            Ok(true)
        }
        "cxl-rp" => {
            let props = read_props(&driver, parsed, &["port", "chassis", "slot"], notes)?;
            let (Some(id), Some(bus)) = (props.id.clone(), props.bus.clone()) else {
                return Ok(false);
            };
            let Some(hb) = cxl.host_bridges.iter_mut().find(|h| h.id == bus) else {
                return Ok(false);
            };
            hb.root_ports.push(RootPort {
                id,
                port: num(&driver, &props, "port")?,
                chassis: num(&driver, &props, "chassis")?,
                slot: num(&driver, &props, "slot")?,
                options: props.options,
                devices: Vec::new(),
                switches: Vec::new(),
            });
            Ok(true)
        }
        "cxl-upstream" => {
            let props = read_props(&driver, parsed, &[], notes)?;
            let (Some(id), Some(bus)) = (props.id.clone(), props.bus.clone()) else {
                return Ok(false);
            };
            let Some(rp) = root_port(cxl, &bus) else {
                return Ok(false);
            };
            rp.switches.push(Switch {
                id,
                options: props.options,
                downstream: Vec::new(),
            });
            Ok(true)
        }
        "cxl-downstream" => {
            let props = read_props(&driver, parsed, &["port", "chassis", "slot"], notes)?;
            let (Some(id), Some(bus)) = (props.id.clone(), props.bus.clone()) else {
                return Ok(false);
            };
            let port = Port {
                id,
                port: num(&driver, &props, "port")?,
                chassis: num(&driver, &props, "chassis")?,
                slot: num(&driver, &props, "slot")?,
                options: props.options,
                devices: Vec::new(),
            };
            let Some(sw) = switch(cxl, &bus) else {
                return Ok(false);
            };
            sw.downstream.push(port);
            Ok(true)
        }
        "cxl-type3" => {
            let props = read_props(
                &driver,
                parsed,
                &["memdev", "persistent-memdev", "volatile-memdev", "lsa"],
                notes,
            )?;
            let (Some(id), Some(bus)) = (props.id.clone(), props.bus.clone()) else {
                return Ok(false);
            };
            // Every backend it names must be one of the line's, used by
            // nothing else; otherwise keep the device as written.
            let wanted: Vec<(&str, &String)> =
                ["memdev", "persistent-memdev", "volatile-memdev", "lsa"]
                    .iter()
                    .filter_map(|k| props.known.get(*k).map(|v| (*k, v)))
                    .collect();
            let free = |m: &String| {
                backends
                    .iter()
                    .any(|b| &b.id == m && !b.used && b.size.is_some())
            };
            let distinct = wanted
                .iter()
                .all(|(k, m)| wanted.iter().filter(|(k2, m2)| k2 != k && m2 == m).count() == 0);
            if !wanted.iter().all(|(_, m)| free(m)) || !distinct || port_exists(cxl, &bus).is_none()
            {
                return Ok(false);
            }
            let mut take = |m: Option<&String>| -> Option<CxlMemory> {
                let b = backends.iter_mut().find(|b| Some(&b.id) == m)?;
                b.used = true;
                Some(CxlMemory {
                    id: b.id.clone(),
                    backend: match &b.path {
                        Some(p) if b.kind == "memory-backend-file" => Backend::File(p.clone()),
                        _ => Backend::Ram,
                    },
                    size: b.size.unwrap_or_default(),
                    share: b.share,
                    options: b.cxl_options(),
                })
            };
            let persistent = take(
                props
                    .known
                    .get("persistent-memdev")
                    .or(props.known.get("memdev")),
            );
            let volatile = take(props.known.get("volatile-memdev"));
            let lsa = take(props.known.get("lsa"));
            let t = Type3 {
                id,
                persistent,
                volatile,
                lsa,
                options: props.options,
            };
            if let Some(devices) = port_devices(cxl, &bus) {
                devices.push(t);
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn root_port<'a>(cxl: &'a mut Cxl, id: &str) -> Option<&'a mut RootPort> {
    cxl.host_bridges
        .iter_mut()
        .flat_map(|h| h.root_ports.iter_mut())
        .find(|r| r.id == id)
}

fn switch<'a>(cxl: &'a mut Cxl, id: &str) -> Option<&'a mut Switch> {
    cxl.host_bridges
        .iter_mut()
        .flat_map(|h| h.root_ports.iter_mut())
        .flat_map(|r| r.switches.iter_mut())
        .find(|s| s.id == id)
}

fn port_exists(cxl: &Cxl, id: &str) -> Option<()> {
    cxl.host_bridges
        .iter()
        .flat_map(|h| h.root_ports.iter())
        .any(|r| {
            r.id == id
                || r.switches
                    .iter()
                    .any(|s| s.downstream.iter().any(|p| p.id == id))
        })
        .then_some(())
}

fn port_devices<'a>(cxl: &'a mut Cxl, id: &str) -> Option<&'a mut Vec<Type3>> {
    for rp in cxl
        .host_bridges
        .iter_mut()
        .flat_map(|h| h.root_ports.iter_mut())
    {
        if rp.id == id {
            return Some(&mut rp.devices);
        }
        for sw in &mut rp.switches {
            for p in &mut sw.downstream {
                if p.id == id {
                    return Some(&mut p.devices);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::core::cmdline::{import, render_argv, render_argv_for, unmodelled, ImportNoteKind};
    use crate::core::profile::Syntax;
    use crate::core::qemu::QemuVersion;

    /// QEMU's docs/system/devices/cxl.rst example, as DOMAIN.md has it.
    const DOCS: &str = "qemu-system-x86_64 -M q35,cxl=on -m 4G,maxmem=8G,slots=8 \
-object memory-backend-file,id=cxl-mem1,share=on,mem-path=/tmp/cxltest.raw,size=256M \
-object memory-backend-file,id=cxl-lsa1,share=on,mem-path=/tmp/lsa.raw,size=256M \
-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 \
-device cxl-rp,port=0,bus=cxl.1,id=root_port13,chassis=0,slot=2 \
-device cxl-type3,bus=root_port13,memdev=cxl-mem1,lsa=cxl-lsa1,id=cxl-pmem0 \
-M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G";

    #[test]
    fn the_docs_line_becomes_a_tree_and_renders_back() {
        let (p, notes) = import(DOCS).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(p.extra_args.is_empty(), "{:?}", p.extra_args);
        assert!(unmodelled(&p).is_empty());
        let c = p.cxl.as_ref().unwrap();
        assert_eq!(c.host_bridges[0].bus_nr, 12);
        let rp = &c.host_bridges[0].root_ports[0];
        assert_eq!(
            (rp.id.as_str(), rp.port, rp.chassis, rp.slot),
            ("root_port13", 0, 0, 2)
        );
        let t = &rp.devices[0];
        assert_eq!(t.persistent.as_ref().unwrap().size.0, 256 << 20);
        assert_eq!(t.lsa.as_ref().unwrap().id, "cxl-lsa1");
        assert_eq!(c.windows[0].targets, ["cxl.1"]);
        assert_eq!(c.windows[0].size.0, 4 << 30);
        let argv = render_argv(&p);
        assert!(argv
            .iter()
            .any(|a| a.ends_with(",cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G")));
        assert!(argv.contains(
            &"cxl-type3,bus=root_port13,memdev=cxl-mem1,lsa=cxl-lsa1,id=cxl-pmem0".to_string()
        ));
        let v8 = render_argv_for(&p, Some(QemuVersion::new(8, 0, 0)));
        assert!(v8.iter().any(|a| a.contains("persistent-memdev=cxl-mem1")));
        // The rendered line imports to the same profile.
        let again = import(&crate::core::cmdline::render_shell(&p)).unwrap().0;
        assert_eq!(again.cxl, p.cxl);
    }

    #[test]
    fn json_devices_give_the_same_tree() {
        let json = DOCS
            .replace(
                "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1",
                r#"-device '{"driver":"pxb-cxl","bus_nr":12,"bus":"pcie.0","id":"cxl.1"}'"#,
            )
            .replace(
                "-device cxl-type3,bus=root_port13,memdev=cxl-mem1,lsa=cxl-lsa1,id=cxl-pmem0",
                r#"-device '{"driver":"cxl-type3","bus":"root_port13","memdev":"cxl-mem1","lsa":"cxl-lsa1","id":"cxl-pmem0"}'"#,
            );
        let (p, _) = import(&json).unwrap();
        assert_eq!(p.cxl, import(DOCS).unwrap().0.cxl);
        assert_eq!(p.syntax, Syntax::Json);
        let argv = render_argv(&p);
        assert!(argv
            .iter()
            .any(|a| a.starts_with(r#"{"driver":"pxb-cxl","bus_nr":12,"#)));
    }

    #[test]
    fn what_the_tree_cannot_hold_stays_verbatim_and_is_named() {
        let line = format!(
            "{DOCS} -device pcie-root-port,id=prp,bus=pcie.0,chassis=1,slot=9 \
-object memory-backend-ram,id=m2,size=256M -object memory-backend-ram,id=l2,size=256M \
-device cxl-type3,bus=prp,memdev=m2,lsa=l2,id=stray"
        );
        let (p, _) = import(&line).unwrap();
        assert!(p.extra_args.iter().any(|a| a.ends_with("id=stray")));
        assert!(p.extra_args.iter().any(|a| a.contains("id=m2")));
        assert_eq!(unmodelled(&p)[0].to_string(), "cxl-type3 stray");
    }

    #[test]
    fn host_bridges_without_cxl_on_are_noted_and_bad_windows_refused() {
        let (_, notes) = import(&DOCS.replace("q35,cxl=on", "q35")).unwrap();
        assert!(notes.iter().any(|n| n.kind == ImportNoteKind::MissingCxlOn));
        let e = import(&DOCS.replace("cxl-fmw.0.size=4G", "cxl-fmw.0.sise=4G")).unwrap_err();
        assert!(e.to_string().contains("cxl-fmw.0.sise"), "{e}");
        let e = import(&DOCS.replace(",cxl-fmw.0.size=4G", "")).unwrap_err();
        assert!(e.to_string().contains("cxl-fmw.0.size"), "{e}");
    }
}
