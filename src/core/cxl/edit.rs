//! The CXL topology as rows of a tree, and the edits the editor's CXL
//! pane makes to it: add a child of a node (a host bridge, a root port
//! below a bridge, a type-3 device below a port, a downstream port below
//! a switch, a window), add a switch below a root port, remove a node and
//! everything below it, set a node's one value (a bridge's `bus_nr`, a
//! device's capacity, a window's size). Pure: every new id, bus number,
//! chassis/slot pair and file name is chosen from the tree as it is.

use super::{Cxl, HostBridge, Port, RootPort, Switch, Type3, Window, CXL_GRANULE};
use crate::core::size::{format_qemu, parse_size, BareUnit, Size, GIB};
use std::path::Path;

/// A row of the tree: what it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// "host bridges": `a` adds one.
    Bridges,
    HostBridge(usize),
    RootPort(usize, usize),
    /// A root port's `n`th switch.
    Switch(usize, usize, usize),
    /// A switch's `n`th downstream port.
    Downstream(usize, usize, usize, usize),
    /// A type-3 device: on a root port (`sw` None) or a downstream port.
    Device {
        hb: usize,
        rp: usize,
        sw: Option<(usize, usize)>,
        n: usize,
    },
    /// "windows": `a` adds one.
    Windows,
    Window(usize),
}

/// The rows of `cxl` in tree order, each with its depth (0 = a header).
pub fn rows(cxl: &Cxl) -> Vec<(Node, usize)> {
    let mut out = vec![(Node::Bridges, 0)];
    for (h, hb) in cxl.host_bridges.iter().enumerate() {
        out.push((Node::HostBridge(h), 1));
        for (r, rp) in hb.root_ports.iter().enumerate() {
            out.push((Node::RootPort(h, r), 2));
            for n in 0..rp.devices.len() {
                out.push((
                    Node::Device {
                        hb: h,
                        rp: r,
                        sw: None,
                        n,
                    },
                    3,
                ));
            }
            for (s, sw) in rp.switches.iter().enumerate() {
                out.push((Node::Switch(h, r, s), 3));
                for (d, ds) in sw.downstream.iter().enumerate() {
                    out.push((Node::Downstream(h, r, s, d), 4));
                    for n in 0..ds.devices.len() {
                        let sw = Some((s, d));
                        out.push((
                            Node::Device {
                                hb: h,
                                rp: r,
                                sw,
                                n,
                            },
                            5,
                        ));
                    }
                }
            }
        }
    }
    out.push((Node::Windows, 0));
    out.extend((0..cxl.windows.len()).map(|k| (Node::Window(k), 1)));
    out
}

/// What a row shows.
pub fn describe(cxl: &Cxl, node: Node) -> String {
    let size = |s: Size| format_qemu(s.0);
    match node {
        Node::Bridges => "host bridges (pxb-cxl)".into(),
        Node::Windows => "fixed memory windows (cxl-fmw)".into(),
        Node::HostBridge(h) => {
            let hb = &cxl.host_bridges[h];
            format!("{} bus_nr={}", hb.id, hb.bus_nr)
        }
        Node::RootPort(h, r) => {
            let p = &cxl.host_bridges[h].root_ports[r];
            format!(
                "{} root port {} chassis={} slot={}",
                p.id, p.port, p.chassis, p.slot
            )
        }
        Node::Switch(h, r, s) => {
            let sw = &cxl.host_bridges[h].root_ports[r].switches[s];
            format!("{} switch", sw.id)
        }
        Node::Downstream(h, r, s, d) => {
            let p = &cxl.host_bridges[h].root_ports[r].switches[s].downstream[d];
            format!(
                "{} downstream port {} chassis={} slot={}",
                p.id, p.port, p.chassis, p.slot
            )
        }
        Node::Device { .. } => {
            let Some(d) = device(cxl, node) else {
                return "?".into();
            };
            let pmem = d
                .persistent
                .as_ref()
                .map(|m| format!(" pmem {}", size(m.size)));
            let vol = d
                .volatile
                .as_ref()
                .map(|m| format!(" volatile {}", size(m.size)));
            let lsa = d
                .lsa
                .as_ref()
                .map_or(" no LSA".to_string(), |m| format!(" LSA {}", size(m.size)));
            format!(
                "{} type-3{}{}{lsa}",
                d.id,
                pmem.unwrap_or_default(),
                vol.unwrap_or_default()
            )
        }
        Node::Window(k) => {
            let w = &cxl.windows[k];
            let g = w
                .granularity
                .map(|g| format!(" granularity {}", size(g)))
                .unwrap_or_default();
            format!(
                "window {k} {} -> {}{g}",
                size(w.size),
                if w.targets.is_empty() {
                    "(no target)".to_string()
                } else {
                    w.targets.join(", ")
                }
            )
        }
    }
}

fn device(cxl: &Cxl, node: Node) -> Option<&Type3> {
    let Node::Device { hb, rp, sw, n } = node else {
        return None;
    };
    let rp = cxl.host_bridges.get(hb)?.root_ports.get(rp)?;
    match sw {
        None => rp.devices.get(n),
        Some((s, d)) => rp.switches.get(s)?.downstream.get(d)?.devices.get(n),
    }
}

fn device_mut(cxl: &mut Cxl, node: Node) -> Option<&mut Type3> {
    let Node::Device { hb, rp, sw, n } = node else {
        return None;
    };
    let rp = cxl.host_bridges.get_mut(hb)?.root_ports.get_mut(rp)?;
    match sw {
        None => rp.devices.get_mut(n),
        Some((s, d)) => rp
            .switches
            .get_mut(s)?
            .downstream
            .get_mut(d)?
            .devices
            .get_mut(n),
    }
}

/// `prefix0`, `prefix1`... the first id the tree does not use.
fn free_id(cxl: &Cxl, prefix: &str) -> String {
    let ids = cxl.ids();
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|id| !ids.contains(&id.as_str()))
        .unwrap_or_else(|| prefix.to_string())
}

/// The next (chassis 0) slot no port uses: QEMU refuses two ports on one
/// chassis and slot.
fn free_slot(cxl: &Cxl) -> u16 {
    let mut used = Vec::new();
    for hb in &cxl.host_bridges {
        for rp in &hb.root_ports {
            used.push(rp.slot);
            for sw in &rp.switches {
                used.extend(sw.downstream.iter().map(|p| p.slot));
            }
        }
    }
    (0..=u16::MAX).find(|s| !used.contains(s)).unwrap_or(0)
}

/// The lowest port number none of `used` has.
fn free_port(used: impl Iterator<Item = u8> + Clone) -> u8 {
    (0..=u8::MAX)
        .find(|p| !used.clone().any(|u| u == *p))
        .unwrap_or(0)
}

/// A new type-3 device `id` (256 MiB of pmem, a 256 MiB LSA, files in
/// `dir`) at the end of `list`; its index.
fn push_device(list: &mut Vec<Type3>, id: &str, dir: &Path) -> usize {
    list.push(Type3::pmem(id, dir, Size(CXL_GRANULE)));
    list.len() - 1
}

/// The child `a` adds to `at`, and the new node; `None` when `at` takes
/// no child (a device). New type-3 devices get 256 MiB of pmem and a
/// 256 MiB LSA on files `ID.mem`/`ID.lsa` in `dir`; new windows 4 GiB on
/// the host bridge the selection is under (else the first).
pub fn add(cxl: &mut Cxl, at: Node, dir: &Path) -> Option<Node> {
    let slot = free_slot(cxl);
    match at {
        Node::Bridges => {
            let id = free_id(cxl, "cxl.");
            // Each bridge's hierarchy numbers its buses from bus_nr up:
            // leave room for 16 below the highest.
            let bus_nr = cxl
                .host_bridges
                .iter()
                .map(|h| h.bus_nr.saturating_add(16))
                .max()
                .unwrap_or(12);
            cxl.host_bridges.push(HostBridge {
                id,
                bus_nr,
                bus: "pcie.0".into(),
                options: Vec::new(),
                root_ports: Vec::new(),
            });
            Some(Node::HostBridge(cxl.host_bridges.len() - 1))
        }
        Node::HostBridge(h) => {
            let id = free_id(cxl, &format!("hb{h}rp"));
            let hb = cxl.host_bridges.get_mut(h)?;
            let port = free_port(hb.root_ports.iter().map(|r| r.port));
            hb.root_ports.push(RootPort {
                id,
                port,
                chassis: 0,
                slot,
                options: Vec::new(),
                devices: Vec::new(),
                switches: Vec::new(),
            });
            Some(Node::RootPort(h, hb.root_ports.len() - 1))
        }
        Node::RootPort(h, r) => {
            let id = free_id(cxl, "cxl-pmem");
            let rp = cxl.host_bridges.get_mut(h)?.root_ports.get_mut(r)?;
            let n = push_device(&mut rp.devices, &id, dir);
            Some(Node::Device {
                hb: h,
                rp: r,
                sw: None,
                n,
            })
        }
        Node::Switch(h, r, s) => {
            let id = free_id(cxl, "swport");
            let sw = cxl
                .host_bridges
                .get_mut(h)?
                .root_ports
                .get_mut(r)?
                .switches
                .get_mut(s)?;
            let port = free_port(sw.downstream.iter().map(|d| d.port));
            sw.downstream.push(Port {
                id,
                port,
                chassis: 0,
                slot,
                options: Vec::new(),
                devices: Vec::new(),
            });
            Some(Node::Downstream(h, r, s, sw.downstream.len() - 1))
        }
        Node::Downstream(h, r, s, d) => {
            let id = free_id(cxl, "cxl-pmem");
            let ds = cxl
                .host_bridges
                .get_mut(h)?
                .root_ports
                .get_mut(r)?
                .switches
                .get_mut(s)?
                .downstream
                .get_mut(d)?;
            let n = push_device(&mut ds.devices, &id, dir);
            Some(Node::Device {
                hb: h,
                rp: r,
                sw: Some((s, d)),
                n,
            })
        }
        Node::Device { .. } => None,
        Node::Windows | Node::Window(_) => {
            let target = cxl.host_bridges.first().map(|h| h.id.clone());
            cxl.windows.push(Window {
                targets: target.into_iter().collect(),
                size: Size(4 * GIB),
                granularity: None,
            });
            Some(Node::Window(cxl.windows.len() - 1))
        }
    }
}

/// A switch (with one downstream port) below root port `at`; `None` when
/// `at` is not a root port.
pub fn add_switch(cxl: &mut Cxl, at: Node) -> Option<Node> {
    let Node::RootPort(h, r) = at else {
        return None;
    };
    let id = free_id(cxl, "cxl-up");
    let rp = cxl.host_bridges.get_mut(h)?.root_ports.get_mut(r)?;
    rp.switches.push(Switch {
        id,
        options: Vec::new(),
        downstream: Vec::new(),
    });
    let s = Node::Switch(h, r, rp.switches.len() - 1);
    add(cxl, s, Path::new(""))?;
    Some(s)
}

/// Remove `at` and everything below it (a host bridge also leaves the
/// windows that targeted it); `false` for the headers.
pub fn remove(cxl: &mut Cxl, at: Node) -> bool {
    let hbs = &mut cxl.host_bridges;
    match at {
        Node::Bridges | Node::Windows => return false,
        Node::HostBridge(h) if h < hbs.len() => {
            let id = hbs.remove(h).id;
            for w in &mut cxl.windows {
                w.targets.retain(|t| *t != id);
            }
        }
        Node::RootPort(h, r) => {
            let Some(hb) = hbs.get_mut(h).filter(|hb| r < hb.root_ports.len()) else {
                return false;
            };
            hb.root_ports.remove(r);
        }
        Node::Switch(h, r, s) => {
            let Some(rp) = hbs
                .get_mut(h)
                .and_then(|hb| hb.root_ports.get_mut(r))
                .filter(|rp| s < rp.switches.len())
            else {
                return false;
            };
            rp.switches.remove(s);
        }
        Node::Downstream(h, r, s, d) => {
            let Some(sw) = hbs
                .get_mut(h)
                .and_then(|hb| hb.root_ports.get_mut(r))
                .and_then(|rp| rp.switches.get_mut(s))
                .filter(|sw| d < sw.downstream.len())
            else {
                return false;
            };
            sw.downstream.remove(d);
        }
        Node::Device { hb, rp, sw, n } => {
            let Some(rp) = hbs.get_mut(hb).and_then(|h| h.root_ports.get_mut(rp)) else {
                return false;
            };
            let list = match sw {
                None => &mut rp.devices,
                Some((s, d)) => {
                    match rp.switches.get_mut(s).and_then(|s| s.downstream.get_mut(d)) {
                        Some(p) => &mut p.devices,
                        None => return false,
                    }
                }
            };
            if n >= list.len() {
                return false;
            }
            list.remove(n);
        }
        Node::Window(k) if k < cxl.windows.len() => {
            cxl.windows.remove(k);
        }
        Node::HostBridge(_) | Node::Window(_) => return false,
    }
    true
}

/// The value Enter edits on `at`: its name and its text now; `None` for
/// the nodes without one.
pub fn value(cxl: &Cxl, at: Node) -> Option<(&'static str, String)> {
    match at {
        Node::HostBridge(h) => Some(("bus_nr", cxl.host_bridges.get(h)?.bus_nr.to_string())),
        Node::Device { .. } => {
            let m = device(cxl, at)?.persistent.as_ref()?;
            Some(("pmem size", format_qemu(m.size.0)))
        }
        Node::Window(k) => Some(("size", format_qemu(cxl.windows.get(k)?.size.0))),
        _ => None,
    }
}

/// Set `at`'s value from `text`, or say why not (naming the value).
pub fn set_value(cxl: &mut Cxl, at: Node, text: &str) -> Result<(), String> {
    let t = text.trim();
    let size = |what: &str| {
        parse_size(t, BareUnit::Bytes)
            .map_err(|e| format!("{what} \"{t}\": {e}"))
            .and_then(|s| {
                if s == 0 {
                    Err(format!("{what} \"{t}\": must be more than 0"))
                } else {
                    Ok(Size(s))
                }
            })
    };
    match at {
        Node::HostBridge(h) => {
            let v: u8 = t
                .parse()
                .map_err(|_| format!("bus_nr \"{t}\": a bus number 0-255"))?;
            cxl.host_bridges
                .get_mut(h)
                .ok_or("no such host bridge")?
                .bus_nr = v;
        }
        Node::Device { .. } => {
            let s = size("pmem size")?;
            let m = device_mut(cxl, at)
                .and_then(|d| d.persistent.as_mut())
                .ok_or("this device has no persistent capacity")?;
            m.size = s;
        }
        Node::Window(k) => {
            let s = size("size")?;
            cxl.windows.get_mut(k).ok_or("no such window")?.size = s;
        }
        _ => return Err("nothing to edit here".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cxl::layout::place;

    #[test]
    fn a_tree_built_with_add_is_the_single_device_example() {
        let dir = Path::new("/d");
        let mut c = Cxl::default();
        let hb = add(&mut c, Node::Bridges, dir).unwrap();
        let rp = add(&mut c, hb, dir).unwrap();
        let dev = add(&mut c, rp, dir).unwrap();
        let w = add(&mut c, Node::Windows, dir).unwrap();
        assert_eq!(add(&mut c, dev, dir), None, "a device takes no child");
        assert_eq!(c.host_bridges[0].id, "cxl.0");
        assert_eq!(c.host_bridges[0].root_ports[0].id, "hb0rp0");
        let d = &c.host_bridges[0].root_ports[0].devices[0];
        assert_eq!(d.id, "cxl-pmem0");
        assert_eq!(
            d.persistent.as_ref().unwrap().backend.path(),
            Some(Path::new("/d/cxl-pmem0.mem"))
        );
        assert_eq!(c.windows[0].targets, ["cxl.0"]);
        assert_eq!(describe(&c, w), "window 0 4G -> cxl.0");
        let kinds: Vec<Node> = rows(&c).into_iter().map(|(n, _)| n).collect();
        assert_eq!(kinds, [Node::Bridges, hb, rp, dev, Node::Windows, w]);
        // It places like any other topology.
        let l = place(&c, 4 * GIB, 4 * GIB, 4 * GIB, 0);
        assert_eq!(l.windows.len(), 1);
    }

    #[test]
    fn new_nodes_never_reuse_ids_slots_or_bus_numbers() {
        let dir = Path::new("/d");
        let mut c = Cxl::default();
        for _ in 0..2 {
            let hb = add(&mut c, Node::Bridges, dir).unwrap();
            let rp = add(&mut c, hb, dir).unwrap();
            add(&mut c, rp, dir).unwrap();
            let sw = add_switch(&mut c, rp).unwrap();
            let ds = add(&mut c, sw, dir).unwrap();
            add(&mut c, ds, dir).unwrap();
        }
        let ids = c.ids();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "{ids:?}");
        let buses: Vec<u8> = c.host_bridges.iter().map(|h| h.bus_nr).collect();
        assert_eq!(buses, [12, 28]);
        let mut slots = Vec::new();
        for hb in &c.host_bridges {
            for rp in &hb.root_ports {
                slots.push(rp.slot);
                for sw in &rp.switches {
                    slots.extend(sw.downstream.iter().map(|p| p.slot));
                }
            }
        }
        let n = slots.len();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), n, "chassis 0 slots collide");
        assert_eq!(c.devices().len(), 4);
    }

    #[test]
    fn remove_takes_the_subtree_and_the_windows_targets() {
        let dir = Path::new("/d");
        let mut c = Cxl::default();
        let hb = add(&mut c, Node::Bridges, dir).unwrap();
        let rp = add(&mut c, hb, dir).unwrap();
        add(&mut c, rp, dir).unwrap();
        add(&mut c, Node::Windows, dir).unwrap();
        assert!(!remove(&mut c, Node::Bridges));
        assert!(remove(&mut c, hb));
        assert!(c.host_bridges.is_empty());
        assert!(c.windows[0].targets.is_empty());
        assert!(remove(&mut c, Node::Window(0)));
        assert!(!remove(&mut c, Node::Window(0)));
        assert_eq!(c, Cxl::default());
    }

    #[test]
    fn values_are_checked_and_name_what_is_wrong() {
        let dir = Path::new("/d");
        let mut c = Cxl::default();
        let hb = add(&mut c, Node::Bridges, dir).unwrap();
        let rp = add(&mut c, hb, dir).unwrap();
        let dev = add(&mut c, rp, dir).unwrap();
        let w = add(&mut c, Node::Windows, dir).unwrap();
        assert_eq!(value(&c, w), Some(("size", "4G".into())));
        set_value(&mut c, w, "8G").unwrap();
        assert_eq!(c.windows[0].size, Size(8 * GIB));
        set_value(&mut c, dev, "512M").unwrap();
        assert_eq!(value(&c, dev), Some(("pmem size", "512M".into())));
        set_value(&mut c, hb, "40").unwrap();
        assert_eq!(c.host_bridges[0].bus_nr, 40);
        assert_eq!(
            set_value(&mut c, hb, "300").unwrap_err(),
            "bus_nr \"300\": a bus number 0-255"
        );
        assert!(set_value(&mut c, w, "4X")
            .unwrap_err()
            .starts_with("size \"4X\""));
        assert_eq!(value(&c, rp), None);
        assert!(set_value(&mut c, rp, "1").is_err());
    }
}
