//! Maps field paths (`networking.podSubnet`, `apiServer.extraArgs[1].value`) of one YAML
//! document to their line and column, so semantic errors can point at the file.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Line and column (1-based) of a key and of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: u64,
    pub(crate) column: u64,
}

/// Field path → position of the key (or of the sequence item).
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldIndex {
    keys: BTreeMap<String, Pos>,
    values: Vec<(Pos, String)>,
}

impl FieldIndex {
    /// Builds the index of one document (the text may be left-padded with newlines).
    pub(crate) fn build(doc: &str) -> Self {
        let mut idx = FieldIndex::default();
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(doc) {
            idx.walk("", &root);
        }
        idx
    }

    fn walk(&mut self, prefix: &str, node: &Spanned<Node>) {
        match &node.value {
            Node::Map(entries) => {
                for (k, v) in entries {
                    let path = if prefix.is_empty() {
                        k.value.clone()
                    } else {
                        format!("{prefix}.{}", k.value)
                    };
                    self.keys.insert(path.clone(), pos(&k.referenced));
                    self.values.push((pos(&v.referenced), path.clone()));
                    self.walk(&path, v);
                }
            }
            Node::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    let path = format!("{prefix}[{i}]");
                    self.keys.insert(path.clone(), pos(&v.referenced));
                    self.values.push((pos(&v.referenced), path.clone()));
                    self.walk(&path, v);
                }
            }
            Node::Scalar => {}
        }
    }

    /// Position of the key at `path`, falling back to the nearest existing parent.
    pub(crate) fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.keys.get(&p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }

    /// The field path whose key or value sits at `line`/`column`, if any.
    pub(crate) fn path_at(&self, line: u64, column: u64) -> Option<String> {
        let at = Pos { line, column };
        self.keys
            .iter()
            .find(|(_, p)| **p == at)
            .map(|(k, _)| k.clone())
            .or_else(|| {
                self.values
                    .iter()
                    .find(|(p, _)| *p == at)
                    .map(|(_, k)| k.clone())
            })
    }
}

fn pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: l.line(),
        column: l.column(),
    }
}

/// A YAML node that only remembers structure and positions.
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            v.push(item);
        }
        Ok(Node::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = map.next_key::<Spanned<String>>()? {
            let val = map.next_value::<Spanned<Node>>()?;
            v.push((k, val));
        }
        Ok(Node::Map(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields_and_list_items() {
        let doc = "\n\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.244.0.0/16\napiServer:\n  extraArgs:\n  - name: a\n    value: b\n";
        let idx = FieldIndex::build(doc);
        assert_eq!(
            idx.find("networking.podSubnet"),
            Some(Pos { line: 5, column: 3 })
        );
        assert_eq!(
            idx.find("apiServer.extraArgs[0].value"),
            Some(Pos { line: 9, column: 5 })
        );
        // Missing leaf falls back to its parent.
        assert_eq!(
            idx.find("networking.serviceSubnet"),
            Some(Pos { line: 4, column: 1 })
        );
        assert_eq!(idx.path_at(5, 3).as_deref(), Some("networking.podSubnet"));
    }
}
