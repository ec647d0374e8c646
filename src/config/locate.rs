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

/// How a scalar was written in the file, for the strict type check of the typed documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// A string in single or double quotes: always text, never a number or a boolean.
    Quoted(String),
    /// A plain (unquoted) string.
    Plain(String),
    /// A plain scalar YAML resolves to a number, with its spelling in the file.
    Number(String),
    /// A plain scalar YAML resolves to a boolean (`true`, but also YAML 1.1's `yes`, `n`, `on`),
    /// with its value and its spelling in the file.
    Bool(bool, String),
    /// `null`, `~` or nothing.
    Null,
}

/// Field path → position of the key (or of the sequence item).
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldIndex {
    keys: BTreeMap<String, Pos>,
    values: Vec<(Pos, String)>,
    scalars: BTreeMap<String, (Pos, Scalar)>,
}

impl FieldIndex {
    /// Builds the index of one document that starts at line `first_line` of its file, so the
    /// positions are the file's (documents are parsed one by one, each from its own slice).
    pub(crate) fn build(doc: &str, first_line: u64) -> Self {
        let mut idx = FieldIndex::default();
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(doc) {
            let mut w = Walk {
                doc: doc.as_bytes(),
                offset: first_line.saturating_sub(1),
                idx: &mut idx,
            };
            w.walk("", &root);
        }
        idx
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

    /// The scalar at `path` as written in the file, with the position of its value.
    pub(crate) fn scalar(&self, path: &str) -> Option<&(Pos, Scalar)> {
        self.scalars.get(path)
    }
}

struct Walk<'a> {
    doc: &'a [u8],
    offset: u64,
    idx: &'a mut FieldIndex,
}

impl Walk<'_> {
    fn pos(&self, l: &serde_saphyr::Location) -> Pos {
        Pos {
            line: l.line() + self.offset,
            column: l.column(),
        }
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
                    let (kp, vp) = (self.pos(&k.referenced), self.pos(&v.referenced));
                    self.idx.keys.insert(path.clone(), kp);
                    self.idx.values.push((vp, path.clone()));
                    self.walk(&path, v);
                }
            }
            Node::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    let path = format!("{prefix}[{i}]");
                    let p = self.pos(&v.referenced);
                    self.idx.keys.insert(path.clone(), p);
                    self.idx.values.push((p, path.clone()));
                    self.walk(&path, v);
                }
            }
            Node::Scalar(s) => {
                let s = match s {
                    // The visitor cannot tell `"1000"` from `abc`; the first byte of the value
                    // can. `defined`, not `referenced`: an alias (`*a`) is judged by its anchor.
                    Scalar::Plain(text) if self.quoted_at(&node.defined) => {
                        Scalar::Quoted(text.clone())
                    }
                    // As spelled in the file (`0755`, `1e3`), for the message.
                    Scalar::Number(n) => {
                        Scalar::Number(self.spelling(&node.defined).unwrap_or_else(|| n.clone()))
                    }
                    Scalar::Bool(b, t) => Scalar::Bool(
                        *b,
                        self.spelling(&node.defined).unwrap_or_else(|| t.clone()),
                    ),
                    other => other.clone(),
                };
                let p = self.pos(&node.referenced);
                self.idx.scalars.insert(prefix.to_string(), (p, s));
            }
        }
    }

    fn spelling(&self, l: &serde_saphyr::Location) -> Option<String> {
        let span = l.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let bytes = self.doc.get(start..start.checked_add(len)?)?;
        std::str::from_utf8(bytes)
            .ok()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn quoted_at(&self, l: &serde_saphyr::Location) -> bool {
        l.span()
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| self.doc.get(o))
            .is_some_and(|b| *b == b'"' || *b == b'\'')
    }
}

/// A YAML node that only remembers structure and positions.
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar(Scalar),
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
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Bool(b, b.to_string())))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Number(n.to_string())))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Number(n.to_string())))
    }
    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Number(n.to_string())))
    }
    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Number(n.to_string())))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Number(n.to_string())))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Plain(s.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
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
        let doc = "kind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.244.0.0/16\napiServer:\n  extraArgs:\n  - name: a\n    value: b\n";
        let idx = FieldIndex::build(doc, 3);
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

    #[test]
    fn scalars_remember_how_they_were_written() {
        let doc = "a: \"1000\"\nb: '2'\nc: 0755\nd: true\ne: text\nf:\ng: [1e3]\nh: n\ni: &p \"7\"\nj: *p\n";
        let idx = FieldIndex::build(doc, 1);
        let kind = |p: &str| idx.scalar(p).map(|(_, s)| s.clone());
        assert_eq!(kind("a"), Some(Scalar::Quoted("1000".into())));
        assert_eq!(kind("b"), Some(Scalar::Quoted("2".into())));
        assert_eq!(kind("c"), Some(Scalar::Number("0755".into())));
        assert_eq!(kind("d"), Some(Scalar::Bool(true, "true".into())));
        assert_eq!(kind("h"), Some(Scalar::Bool(false, "n".into())));
        assert_eq!(kind("e"), Some(Scalar::Plain("text".into())));
        assert_eq!(kind("f"), Some(Scalar::Null));
        assert_eq!(kind("g[0]"), Some(Scalar::Number("1e3".into())));
        assert_eq!(idx.scalar("a").unwrap().0, Pos { line: 1, column: 4 });
        // An alias is quoted when its anchor is, and is located where it is used.
        assert_eq!(kind("j"), Some(Scalar::Quoted("7".into())));
        assert_eq!(
            idx.scalar("j").unwrap().0,
            Pos {
                line: 10,
                column: 4
            }
        );
    }
}
