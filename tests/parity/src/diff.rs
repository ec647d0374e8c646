//! Compares two fact maps and names every difference by a stable key:
//! `<prefix>:<path>` such as `cert:apiserver:san:DNS:cp-1`, `manifest:etcd:flag:--name` or
//! `file:pki/sa.pub:mode`.
//!
//! Semantics, not bytes: a `null` and an empty map equal an absent field (as in the Kubernetes
//! API), maps compare key by key, other values as a whole. An array under a key ending in
//! `-order` (`flag-order`, `api:create-order`) compares only the order of the entries both sides
//! have, so a missing flag or object is reported once, not again as an order change.

use serde_json::Value;

use crate::normalise::Facts;

/// One difference between kubeadm's and plinth's output for a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The stable key, e.g. `cert:apiserver:public-key`.
    pub key: String,
    /// kubeadm's value (`None`: absent).
    pub kubeadm: Option<Value>,
    /// plinth's value (`None`: absent).
    pub plinth: Option<Value>,
}

fn present(v: Option<&Value>) -> Option<&Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if m.values().all(|x| present(Some(x)).is_none()) => None,
        other => other,
    }
}

/// Order of the entries of `a` that also occur in `b` (multiset intersection, in `a`'s order).
fn common_order(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut rest = b.to_vec();
    a.iter()
        .filter(|x| {
            rest.iter().position(|y| y == *x).is_some_and(|i| {
                rest.remove(i);
                true
            })
        })
        .cloned()
        .collect()
}

fn walk(key: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
    let (a, b) = (present(a), present(b));
    match (a, b) {
        (None, None) => {}
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&format!("{key}:{k}"), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if key.ends_with("-order") => {
            let (cx, cy) = (common_order(x, y), common_order(y, x));
            if cx != cy {
                out.push(Difference {
                    key: key.to_string(),
                    kubeadm: Some(Value::Array(cx)),
                    plinth: Some(Value::Array(cy)),
                });
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(Difference {
            key: key.to_string(),
            kubeadm: x.cloned(),
            plinth: y.cloned(),
        }),
    }
}

/// Every difference between kubeadm's facts and plinth's, sorted by key. Content facts of a
/// file are only compared when both tools wrote it: a missing file is one difference
/// (`file:<logical name>`), not one per field.
#[must_use]
pub fn diff(kubeadm: &Facts, plinth: &Facts) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut prefixes: Vec<&String> = kubeadm.keys().chain(plinth.keys()).collect();
    prefixes.sort();
    prefixes.dedup();
    for p in prefixes {
        match (kubeadm.get(p), plinth.get(p)) {
            (Some(a), Some(b)) => walk(p, Some(a), Some(b), &mut out),
            (a, b) if p.starts_with("file:") => out.push(Difference {
                key: p.clone(),
                kubeadm: a.cloned(),
                plinth: b.cloned(),
            }),
            // The file is missing on one side: already reported under `file:`.
            _ => {}
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(v: Value) -> Facts {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn equal_trees_have_no_differences_and_null_or_empty_equals_absent() {
        let a = facts(json!({"m:x": {"a": 1, "b": null, "c": {}, "d": {"e": {}}}}));
        let b = facts(json!({"m:x": {"a": 1}}));
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn differences_are_keyed_by_path() {
        let a = facts(json!({"cert:ca": {"san": {"DNS:a": true, "DNS:b": true}, "v": [1, 2]}}));
        let b = facts(json!({"cert:ca": {"san": {"DNS:a": true, "DNS:c": true}, "v": [2, 1]}}));
        let keys: Vec<_> = diff(&a, &b).into_iter().map(|d| d.key).collect();
        assert_eq!(
            keys,
            ["cert:ca:san:DNS:b", "cert:ca:san:DNS:c", "cert:ca:v"]
        );
    }

    #[test]
    fn flag_order_compares_only_common_flags() {
        let a = facts(json!({"manifest:x": {"flag-order": ["--a", "--b", "--c"]}}));
        let b = facts(json!({"manifest:x": {"flag-order": ["--a", "--c"]}}));
        assert!(diff(&a, &b).is_empty());
        let c = facts(json!({"manifest:x": {"flag-order": ["--c", "--a", "--z"]}}));
        let d = diff(&a, &c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kubeadm, Some(json!(["--a", "--c"])));
        assert_eq!(d[0].plinth, Some(json!(["--c", "--a"])));
    }

    #[test]
    fn a_missing_file_is_one_difference() {
        let a = facts(json!({"file:pki/x.crt": {"mode": "0644"}, "cert:x": {"a": 1}}));
        let b = facts(json!({}));
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].key, "file:pki/x.crt");
        assert_eq!(d[0].plinth, None);
    }
}
