//! The API objects of the post-API phases. kubeadm's dry run only prints them (`[dryrun] Would
//! perform action CREATE …` then `[dryrun] Attached object:` and the YAML), so they are read
//! from its log; plinth's dry run writes one file per object under `<dry-run-dir>/api-objects/`.
//!
//! Facts: `api:<Kind>/<namespace>/<name>` (cluster-scoped: `api:<Kind>/<name>`) per object, and
//! `api:create-order`, the order of creation (compared over the objects both sides create).
//! Random parts are replaced by what they are: the bootstrap token's id, secret and expiration,
//! embedded CA certificates (via the kubeconfig facts) and the component-config hash.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::normalise::{Facts, canonical_durations, kubeconfig_facts, prune_zero};

/// The objects kubeadm's dry-run log says it would create, in order.
///
/// # Errors
/// When an attached object does not parse.
pub fn kubeadm_objects(log: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut lines = log.lines().peekable();
    let mut create = false;
    while let Some(line) = lines.next() {
        if line.starts_with("[dryrun] Would perform action ") {
            create = line.starts_with("[dryrun] Would perform action CREATE ");
        } else if line == "[dryrun] Attached object:" && create {
            let mut doc = String::new();
            while let Some(l) = lines.next_if(|l| !l.starts_with('[')) {
                doc.push_str(l);
                doc.push('\n');
            }
            out.push(serde_saphyr::from_str(&doc).context("an object in kubeadm's log")?);
        }
    }
    Ok(out)
}

/// The objects plinth's dry run wrote (`NNN-<Kind>_<ns>_<name>.yaml`), in file order.
///
/// # Errors
/// When the directory or a file cannot be read or parsed.
pub fn plinth_objects(dir: &Path) -> Result<Vec<Value>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)?;
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", f.display()))
        })
        .collect()
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `<placeholder>` when `s` has `len` token characters, else `s`.
fn token_part(s: &str, len: usize, placeholder: &str) -> String {
    if s.len() == len && s.chars().all(is_token_char) {
        placeholder.to_string()
    } else {
        s.to_string()
    }
}

fn id(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or("?");
    let mut name = o["metadata"]["name"].as_str().unwrap_or("?").to_string();
    if let Some(t) = name.strip_prefix("bootstrap-token-") {
        name = format!("bootstrap-token-{}", token_part(t, 6, "<id>"));
    }
    match o["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn normalise_secret(o: &mut Map<String, Value>) -> Result<()> {
    let Some(Value::Object(data)) = o.get_mut("data") else {
        return Ok(());
    };
    for (k, v) in data.iter_mut() {
        let b = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or(""))?;
        let s = String::from_utf8(b)?;
        *v = json!(match k.as_str() {
            "token-id" => token_part(&s, 6, "<token id>"),
            "token-secret" => token_part(&s, 16, "<token secret>"),
            "expiration" if s.len() == 20 && s.ends_with('Z') && s.contains('T') => {
                "<RFC 3339 time>".to_string()
            }
            _ => s,
        });
    }
    if let Some(Value::Object(m)) = o.get_mut("metadata")
        && let Some(Value::String(n)) = m.get_mut("name")
        && let Some(t) = n.strip_prefix("bootstrap-token-")
    {
        *n = format!("bootstrap-token-{}", token_part(t, 6, "<id>"));
    }
    Ok(())
}

fn normalise_config_map(
    o: &mut Map<String, Value>,
    cas: &[(String, plinth::pki::Cert)],
) -> Result<()> {
    let Some(Value::Object(data)) = o.get_mut("data") else {
        return Ok(());
    };
    for v in data.values_mut() {
        let Some(text) = v.as_str().map(str::to_string) else {
            continue;
        };
        let Ok(Value::Object(doc)) = serde_saphyr::from_str::<Value>(&text) else {
            continue;
        };
        let kind = doc.get("kind").and_then(Value::as_str).map(str::to_string);
        let mut d = Value::Object(doc);
        match kind.as_deref() {
            Some("Config") => d = kubeconfig_facts(&text, cas)?,
            Some("KubeletConfiguration") => prune_zero(&mut d, false),
            Some("KubeProxyConfiguration" | "ClusterConfiguration") => {
                prune_zero(&mut d, true);
                canonical_durations(&mut d);
            }
            _ => {}
        }
        *v = d;
    }
    // A digest of the data compared above; its exact bytes depend on the serializer.
    let hash = o
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(|a| a.get_mut("kubeadm.kubernetes.io/component-config.hash"));
    if let Some(h) = hash
        && h.as_str()
            .is_some_and(|s| s.starts_with("sha256:") && s.len() == 7 + 64)
    {
        *h = json!("sha256:<hex>");
    }
    Ok(())
}

/// Turns every list of objects that all have a distinct `name` (containers, volumes, env, ports,
/// subjects) into a map keyed by that name, so a difference names the item.
fn key_named_lists(v: &mut Value) {
    match v {
        Value::Array(a) => {
            a.iter_mut().for_each(key_named_lists);
            let names: Vec<&str> = a.iter().filter_map(|x| x["name"].as_str()).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            if !a.is_empty() && names.len() == a.len() && unique.len() == a.len() {
                let mut m = Map::new();
                for mut x in std::mem::take(a) {
                    if let Some(o) = x.as_object_mut()
                        && let Some(Value::String(n)) = o.remove("name")
                    {
                        m.insert(n, x);
                    }
                }
                *v = Value::Object(m);
            }
        }
        Value::Object(m) => m.values_mut().for_each(key_named_lists),
        _ => {}
    }
}

/// Facts of a list of objects (see the module docs).
///
/// # Errors
/// When a Secret's data is not base64 text or an embedded kubeconfig does not parse.
pub fn api_facts(objects: Vec<Value>, cas: &[(String, plinth::pki::Cert)]) -> Result<Facts> {
    let mut out = Facts::new();
    let mut order = Vec::new();
    for mut o in objects {
        let key = id(&o);
        order.push(json!(key));
        let m = o.as_object_mut().context("an API object is a map")?;
        // Ignored on create.
        m.remove("status");
        match m.get("kind").and_then(Value::as_str) {
            Some("Secret") => normalise_secret(m)?,
            Some("ConfigMap") => normalise_config_map(m, cas)?,
            _ => {}
        }
        key_named_lists(&mut o);
        out.insert(format!("api:{key}"), o);
    }
    if !order.is_empty() {
        out.insert("api:create-order".into(), Value::Array(order));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "[dryrun] Would perform action GET on resource \"nodes\"\n[dryrun] Attached object:\nkind: Node\nmetadata:\n  name: n\n\n[dryrun] Would perform action CREATE on resource \"secrets\"\n[dryrun] Attached object:\napiVersion: v1\ndata:\n  token-id: YWJjZGVm\n  token-secret: MDEyMzQ1Njc4OWFiY2RlZg==\n  expiration: MjAyNi0xMS0yOVQwNDoyMjo0M1o=\nkind: Secret\nmetadata:\n  name: bootstrap-token-abcdef\n  namespace: kube-system\n\n[bootstrap-token] next\n";

    #[test]
    fn reads_only_created_objects_and_hides_the_token() {
        let objs = kubeadm_objects(LOG).unwrap();
        assert_eq!(objs.len(), 1);
        let f = api_facts(objs, &[]).unwrap();
        let s = &f["api:Secret/kube-system/bootstrap-token-<id>"];
        assert_eq!(s["data"]["token-id"], json!("<token id>"));
        assert_eq!(s["data"]["token-secret"], json!("<token secret>"));
        assert_eq!(s["data"]["expiration"], json!("<RFC 3339 time>"));
        assert_eq!(s["metadata"]["name"], json!("bootstrap-token-<id>"));
        assert_eq!(
            f["api:create-order"],
            json!(["Secret/kube-system/bootstrap-token-<id>"])
        );
    }

    #[test]
    fn named_lists_become_maps() {
        let mut v = json!({"containers": [{"name": "a", "image": "x"}], "rules": [{"verbs": ["get"]}],
            "dup": [{"name": "a"}, {"name": "a"}]});
        key_named_lists(&mut v);
        assert_eq!(v["containers"], json!({"a": {"image": "x"}}));
        assert_eq!(v["rules"], json!([{"verbs": ["get"]}]));
        assert_eq!(v["dup"], json!([{"name": "a"}, {"name": "a"}]));
    }

    #[test]
    fn component_configs_are_compared_as_documents() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "kubelet-config",
            "namespace": "kube-system", "annotations": {"kubeadm.kubernetes.io/component-config.hash":
            format!("sha256:{}", "a".repeat(64))}},
            "data": {"kubelet": "kind: KubeletConfiguration\nsyncFrequency: 0s\nmaxPods: 10\n"}});
        let f = api_facts(vec![cm], &[]).unwrap();
        let v = &f["api:ConfigMap/kube-system/kubelet-config"];
        assert_eq!(
            v["data"]["kubelet"],
            json!({"kind": "KubeletConfiguration", "maxPods": 10})
        );
        assert_eq!(
            v["metadata"]["annotations"]["kubeadm.kubernetes.io/component-config.hash"],
            json!("sha256:<hex>")
        );
    }
}
