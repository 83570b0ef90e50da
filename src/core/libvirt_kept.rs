//! What an imported libvirt domain holds that qpmem does not model (disks
//! and interfaces of its own shape, graphics, `<uuid>`, `<clock>`, CPU
//! features, boot order, ...): kept in the profile as XML, each element
//! with the place it came from, and written back by `render --format
//! libvirt` ([`write_back`]), so that importing a domain and exporting it
//! again loses none of it.

use serde::{Deserialize, Serialize};

/// The element a kept element sat in (and is written back into).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parent {
    /// `<domain>` itself.
    Domain,
    /// `<os>`.
    Os,
    /// `<features>`.
    Features,
    /// `<cpu>`.
    Cpu,
    /// `<devices>`.
    Devices,
}

impl Parent {
    /// The closing tag as the libvirt export writes it, indentation
    /// included: the kept elements go just before it.
    fn closing(self) -> &'static str {
        match self {
            Parent::Domain => "\n</domain>",
            Parent::Os => "\n  </os>",
            Parent::Features => "\n  </features>",
            Parent::Cpu => "\n  </cpu>",
            Parent::Devices => "\n  </devices>",
        }
    }

    /// The indentation of the parent's children in the export.
    fn indent(self) -> &'static str {
        match self {
            Parent::Domain => "  ",
            _ => "    ",
        }
    }
}

/// One element of a libvirt domain that qpmem keeps without modelling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptElement {
    /// Where it sat.
    pub parent: Parent,
    /// The element as XML, every namespace it uses declared on it.
    pub xml: String,
}

/// Is `xml` one well-formed element (namespaces declared, nothing
/// around it but white space), so that writing it back keeps the domain
/// well-formed? XML itself refuses control characters other than tab and
/// line ends; a DTD is refused too. The reason when it is not.
pub fn check(xml: &str) -> Result<(), String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let blank = |n: &roxmltree::Node| n.is_text() && n.text().is_some_and(|t| t.trim().is_empty());
    let outside = doc
        .root()
        .children()
        .any(|n| !(n.is_element() || blank(&n)));
    if outside {
        return Err("something other than white space outside the element".into());
    }
    Ok(())
}

/// `domain` (a `<domain>` as the libvirt export writes it) with the kept
/// elements written back, each at the end of its parent, in order. A
/// parent the document does not have (no `<features>`) takes its kept
/// elements at the end of `<domain>`. An element the export already
/// wrote, the same XML (one it writes since the domain was imported), is
/// not written twice.
pub fn write_back(domain: &str, kept: &[KeptElement]) -> String {
    if kept.is_empty() {
        return domain.to_string();
    }
    // Every place is found in the document as rendered, before anything
    // is inserted: kept XML can never be taken for a closing tag.
    let at = |parent: Parent| {
        domain
            .rfind(parent.closing())
            .or_else(|| domain.rfind(Parent::Domain.closing()))
    };
    let mut inserts: Vec<(usize, usize, String)> = kept
        .iter()
        .enumerate()
        .filter(|(_, k)| !domain.contains(k.xml.as_str()))
        .filter_map(|(i, k)| {
            at(k.parent).map(|pos| {
                let indent = if domain[pos..].starts_with(k.parent.closing()) {
                    k.parent.indent()
                } else {
                    Parent::Domain.indent()
                };
                (pos, i, format!("\n{indent}{}", k.xml))
            })
        })
        .collect();
    inserts.sort_by_key(|(pos, i, _)| (*pos, *i));
    let mut out =
        String::with_capacity(domain.len() + inserts.iter().map(|i| i.2.len()).sum::<usize>());
    let mut last = 0;
    for (pos, _, text) in inserts {
        out.push_str(&domain[last..pos]);
        out.push_str(&text);
        last = pos;
    }
    out.push_str(&domain[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_elements_go_to_the_end_of_their_parents_in_order() {
        let doc = "<domain>\n  <os>\n    <type>hvm</type>\n  </os>\n  <devices>\n    <emulator>/q</emulator>\n  </devices>\n</domain>\n";
        let kept = [
            KeptElement {
                parent: Parent::Devices,
                xml: "<graphics type='vnc'/>".into(),
            },
            KeptElement {
                parent: Parent::Domain,
                xml: "<uuid>1</uuid>".into(),
            },
            KeptElement {
                parent: Parent::Os,
                xml: "<boot dev='hd'/>".into(),
            },
            KeptElement {
                parent: Parent::Devices,
                xml: "<rng model='virtio'/>".into(),
            },
            KeptElement {
                parent: Parent::Features,
                xml: "<pae/>".into(),
            },
        ];
        assert_eq!(
            write_back(doc, &kept),
            "<domain>\n  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n  </os>\n  <devices>\n    <emulator>/q</emulator>\n    <graphics type='vnc'/>\n    <rng model='virtio'/>\n  </devices>\n  <uuid>1</uuid>\n  <pae/>\n</domain>\n"
        );
        assert_eq!(write_back(doc, &[]), doc);
        // What the export writes itself is not written again.
        let own = [KeptElement {
            parent: Parent::Devices,
            xml: "<emulator>/q</emulator>".into(),
        }];
        assert_eq!(write_back(doc, &own), doc);
    }

    #[test]
    fn only_single_well_formed_elements_are_kept() {
        assert_eq!(check("<uuid>1</uuid>"), Ok(()));
        assert_eq!(check("<a xmlns:q='urn:q'><q:b/></a>"), Ok(()));
        for bad in [
            "</devices><x>",
            "<a/><b/>",
            "text",
            "<a>\u{1b}</a>",
            "<q:b/>",
            "<!-- c --><a/>",
            "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
