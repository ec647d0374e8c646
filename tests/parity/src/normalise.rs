//! Turns each file into comparable facts: a JSON tree with everything random (keys, serials,
//! timestamps, signatures, key identifiers) replaced by what it means (algorithm and size,
//! validity length, which CA signed it, whether a key matches its certificate), and every
//! order-insensitive list turned into a set (`{"DNS:x": true}`) or a map keyed by name.
//!
//! The facts of one tree are a map from a key prefix (`cert:apiserver`, `manifest:etcd`,
//! `file:pki/ca.crt`) to a JSON value; [`crate::diff`] compares two such maps.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Map, Value, json};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::layout::{ApiSource, Tree};

/// Facts of one tree: key prefix → value.
pub type Facts = BTreeMap<String, Value>;

/// The CAs a leaf may be signed by, as logical names under `pki/`.
const CAS: [&str; 3] = ["ca", "front-proxy-ca", "etcd/ca"];

/// Extracts the facts of every file in `tree`.
///
/// # Errors
/// When a file cannot be read or does not parse as what its name says.
pub fn facts(tree: &Tree) -> Result<Facts> {
    let mut out = Facts::new();
    let cas = load_cas(tree)?;
    for (logical, path) in &tree.files {
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode()
            & 0o7777;
        out.insert(
            format!("file:{logical}"),
            json!({ "mode": format!("{mode:04o}") }),
        );
        let f = || format!("normalising {}", path.display());
        let text = || std::fs::read_to_string(path).with_context(f);
        if let Some(rel) = logical.strip_prefix("pki/") {
            if let Some(name) = rel.strip_suffix(".crt") {
                out.insert(
                    format!("cert:{name}"),
                    cert_facts(&text()?, &cas).with_context(f)?,
                );
            } else if let Some(name) = rel.strip_suffix(".key") {
                let cert = tree.files.get(&format!("pki/{name}.crt"));
                let public = tree.files.get(&format!("pki/{name}.pub"));
                let partner = match (cert, public) {
                    (Some(c), _) => Some(Partner::Cert(std::fs::read_to_string(c)?)),
                    (None, Some(p)) => Some(Partner::Public(std::fs::read_to_string(p)?)),
                    (None, None) => None,
                };
                out.insert(
                    format!("key:{name}"),
                    key_facts(&text()?, partner).with_context(f)?,
                );
            } else if let Some(name) = rel.strip_suffix(".pub") {
                out.insert(
                    format!("pub:{name}"),
                    public_key_facts(&text()?).with_context(f)?,
                );
            }
        } else if let Some(name) = logical.strip_prefix("kubeconfig/") {
            let v = kubeconfig_facts(&text()?, &cas).with_context(f)?;
            out.insert(format!("kubeconfig:{name}"), v);
        } else if let Some(stem) = logical
            .strip_prefix("manifests/")
            .and_then(|n| n.strip_suffix(".yaml"))
        {
            let v = manifest_facts(&text()?, stem).with_context(f)?;
            out.insert(format!("manifest:{stem}"), v);
        } else if let Some(name) = logical.strip_prefix("kubelet/") {
            // Other files (plinth's hidden `.plinth-owned` ledger) only have file facts.
            let v = match name {
                "kubeadm-flags.env" => env_file_facts(&text()?),
                "config.yaml" | "instance-config.yaml" => {
                    let mut v: Value = serde_saphyr::from_str(&text()?).with_context(f)?;
                    if name == "config.yaml" {
                        prune_zero(&mut v, false);
                    }
                    v
                }
                _ => continue,
            };
            out.insert(format!("kubelet:{name}"), v);
        }
    }
    let objects = match &tree.api {
        Some(ApiSource::KubeadmLog(log)) => crate::api::kubeadm_objects(
            &std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?,
        )?,
        Some(ApiSource::PlinthDir(dir)) => crate::api::plinth_objects(dir)?,
        None => Vec::new(),
    };
    out.extend(crate::api::api_facts(objects, &cas)?);
    Ok(out)
}

/// The CA certificates of a tree, by logical name (`ca`, `etcd/ca`), as DER.
fn load_cas(tree: &Tree) -> Result<Vec<(String, plinth::pki::Cert)>> {
    let mut cas = Vec::new();
    for name in CAS {
        if let Some(p) = tree.files.get(&format!("pki/{name}.crt")) {
            let text = std::fs::read_to_string(p)?;
            cas.push((name.to_string(), plinth::pki::parse_cert_pem(&text, p)?));
        }
    }
    Ok(cas)
}

fn set(items: impl IntoIterator<Item = String>) -> Value {
    Value::Object(items.into_iter().map(|k| (k, Value::Bool(true))).collect())
}

/// `87600h5m`: a duration in whole minutes (X.509 stores seconds; the two tools compute
/// NotBefore and NotAfter from clocks read a few milliseconds apart).
fn duration(secs: i64) -> String {
    let m = (secs + 30).div_euclid(60);
    let (h, m) = (m / 60, m % 60);
    if m == 0 {
        format!("{h}h")
    } else {
        format!("{h}h{m}m")
    }
}

fn spki_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> String {
    match spki.parsed() {
        Ok(PublicKey::RSA(r)) => format!("RSA-{}", r.key_size()),
        Ok(PublicKey::EC(e)) => format!("ECDSA-P{}", e.key_size()),
        Ok(other) => format!("other-{}", other.key_size()),
        Err(e) => format!("unparsable: {e}"),
    }
}

fn signature_algorithm(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        other => other.into(),
    }
}

fn extension_name(oid: &str) -> String {
    match oid {
        "2.5.29.14" => "subjectKeyIdentifier".into(),
        "2.5.29.35" => "authorityKeyIdentifier".into(),
        "2.5.29.15" => "keyUsage".into(),
        "2.5.29.37" => "extKeyUsage".into(),
        "2.5.29.19" => "basicConstraints".into(),
        "2.5.29.17" => "subjectAltName".into(),
        other => other.into(),
    }
}

/// Facts of a PEM certificate. `cas` are the tree's CAs, to say which one signed it.
///
/// # Errors
/// When the PEM or DER does not parse.
pub fn cert_facts(pem_text: &str, cas: &[(String, plinth::pki::Cert)]) -> Result<Value> {
    let parsed = plinth::pki::parse_cert_pem(pem_text, Path::new("cert"))?;
    cert_facts_der(&parsed, cas)
}

fn cert_facts_der(cert: &plinth::pki::Cert, cas: &[(String, plinth::pki::Cert)]) -> Result<Value> {
    let (_, x) = X509Certificate::from_der(&cert.der)?;
    let mut o = Map::new();
    o.insert("version".into(), json!(x.version().0 + 1));
    o.insert("subject".into(), json!(x.subject().to_string()));
    o.insert("issuer".into(), json!(x.issuer().to_string()));
    let signed_by = if cert.is_signed_by(cert) {
        "self".to_string()
    } else {
        cas.iter()
            .find(|(_, ca)| cert.is_signed_by(ca))
            .map_or_else(|| "no CA of this tree".to_string(), |(n, _)| n.clone())
    };
    o.insert("signed-by".into(), json!(signed_by));
    o.insert("public-key".into(), json!(spki_algorithm(x.public_key())));
    o.insert(
        "signature-algorithm".into(),
        json!(signature_algorithm(
            &x.signature_algorithm.algorithm.to_id_string()
        )),
    );
    let v = x.validity();
    o.insert(
        "validity".into(),
        json!(duration(v.not_after.timestamp() - v.not_before.timestamp())),
    );
    let mut exts = Map::new();
    let (mut sans, mut ku, mut eku) = (Vec::new(), Vec::new(), Vec::new());
    for e in x.extensions() {
        exts.insert(
            extension_name(&e.oid.to_id_string()),
            json!({ "critical": e.critical }),
        );
        match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                for n in &s.general_names {
                    sans.push(match n {
                        GeneralName::DNSName(d) => format!("DNS:{d}"),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => {
                                format!("IP:{}", std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b)?))
                            }
                            16 => format!(
                                "IP:{}",
                                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b)?)
                            ),
                            _ => format!("IP:?{b:?}"),
                        },
                        other => format!("{other:?}"),
                    });
                }
            }
            ParsedExtension::KeyUsage(k) => {
                for (on, name) in [
                    (k.digital_signature(), "digitalSignature"),
                    (k.non_repudiation(), "nonRepudiation"),
                    (k.key_encipherment(), "keyEncipherment"),
                    (k.data_encipherment(), "dataEncipherment"),
                    (k.key_agreement(), "keyAgreement"),
                    (k.key_cert_sign(), "keyCertSign"),
                    (k.crl_sign(), "cRLSign"),
                    (k.encipher_only(), "encipherOnly"),
                    (k.decipher_only(), "decipherOnly"),
                ] {
                    if on {
                        ku.push(name.to_string());
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(k) => {
                for (on, name) in [
                    (k.any, "any"),
                    (k.server_auth, "serverAuth"),
                    (k.client_auth, "clientAuth"),
                    (k.code_signing, "codeSigning"),
                    (k.email_protection, "emailProtection"),
                    (k.time_stamping, "timeStamping"),
                    (k.ocsp_signing, "ocspSigning"),
                ] {
                    if on {
                        eku.push(name.to_string());
                    }
                }
                eku.extend(k.other.iter().map(|o| o.to_id_string()));
            }
            ParsedExtension::BasicConstraints(b) => {
                o.insert(
                    "basic-constraints".into(),
                    json!({ "ca": b.ca, "path-len": b.path_len_constraint }),
                );
            }
            _ => {}
        }
    }
    o.insert("extension".into(), Value::Object(exts));
    o.insert("san".into(), set(sans));
    o.insert("key-usage".into(), set(ku));
    o.insert("ext-key-usage".into(), set(eku));
    Ok(Value::Object(o))
}

/// What a private key is checked against.
enum Partner {
    /// The certificate of the same name.
    Cert(String),
    /// The public key of the same name (`sa.pub`).
    Public(String),
}

fn pem_label(text: &str) -> Result<String> {
    let blocks = pem::parse_many(text)?;
    if blocks.len() != 1 {
        bail!("{} PEM blocks, want 1", blocks.len());
    }
    Ok(blocks[0].tag().to_string())
}

fn key_facts(text: &str, partner: Option<Partner>) -> Result<Value> {
    let key = plinth::pki::parse_key_pem(text, Path::new("key"))?;
    let der = key.public_key_der();
    let (_, spki) = SubjectPublicKeyInfo::from_der(&der)?;
    let matches = match partner {
        Some(Partner::Cert(c)) => {
            Some(plinth::pki::parse_cert_pem(&c, Path::new("cert"))?.matches_key(&key))
        }
        Some(Partner::Public(p)) => Some(pem::parse(p)?.contents() == der.as_slice()),
        None => None,
    };
    Ok(json!({
        "pem": pem_label(text)?,
        "algorithm": spki_algorithm(&spki),
        "matches": matches,
    }))
}

fn public_key_facts(text: &str) -> Result<Value> {
    let block = pem::parse(text)?;
    let (_, spki) = SubjectPublicKeyInfo::from_der(block.contents())?;
    Ok(json!({ "pem": pem_label(text)?, "algorithm": spki_algorithm(&spki) }))
}

/// A list of objects → a map keyed by `field` (the field itself removed).
fn by_name(list: Option<Value>, field: &str) -> Value {
    let mut m = Map::new();
    for (i, item) in list
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let mut item = item;
        let name = item
            .as_object_mut()
            .and_then(|o| o.remove(field))
            .and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("#{i}"));
        m.insert(name, item);
    }
    Value::Object(m)
}

/// Facts of a kubeconfig: clusters, contexts and users keyed by name, the CA compared with the
/// tree's `ca.crt`, client certificate and key as facts.
///
/// # Errors
/// When the YAML, base64 or PEM inside does not parse.
pub fn kubeconfig_facts(text: &str, cas: &[(String, plinth::pki::Cert)]) -> Result<Value> {
    let mut v: Value = serde_saphyr::from_str(text)?;
    let o = v.as_object_mut().context("a kubeconfig is a map")?;
    let decode = |s: &Value| -> Result<String> {
        let b = base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or(""))?;
        Ok(String::from_utf8(b)?)
    };
    let ca_der = cas
        .iter()
        .find(|(n, _)| n == "ca")
        .map(|(_, c)| c.der.clone());
    let mut clusters = by_name(o.remove("clusters"), "name");
    for c in clusters
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        if let Some(d) = c.pointer_mut("/cluster/certificate-authority-data") {
            let pem_text = decode(d)?;
            let cert = plinth::pki::parse_cert_pem(&pem_text, Path::new("ca"))?;
            *d = if Some(&cert.der) == ca_der.as_ref() {
                json!("the tree's pki/ca.crt")
            } else {
                cert_facts_der(&cert, cas)?
            };
        }
    }
    let mut users = by_name(o.remove("users"), "name");
    for u in users
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        let cert_pem = match u.pointer("/user/client-certificate-data") {
            Some(d) => Some(decode(d)?),
            None => None,
        };
        if let Some(d) = u.pointer_mut("/user/client-key-data") {
            *d = key_facts(&decode(d)?, cert_pem.clone().map(Partner::Cert))?;
        }
        if let (Some(d), Some(pem_text)) =
            (u.pointer_mut("/user/client-certificate-data"), cert_pem)
        {
            *d = cert_facts(&pem_text, cas)?;
        }
    }
    o.insert("cluster".into(), clusters);
    o.insert(
        "context".into(),
        by_name(o.get("contexts").cloned(), "name"),
    );
    o.remove("contexts");
    o.insert("user".into(), users);
    Ok(v)
}

/// `--a=1 --b --a=2 pos` → flags `{"--a": ["1","2"], "--b": [""]}`, their order, positionals.
fn split_args(args: &[String]) -> (Map<String, Value>, Vec<Value>, Vec<Value>) {
    let mut flags = Map::new();
    let (mut order, mut positional) = (Vec::new(), Vec::new());
    for a in args {
        if a.starts_with('-') {
            let (name, value) = a.split_once('=').unwrap_or((a.as_str(), ""));
            if let Value::Array(vs) = flags.entry(name.to_string()).or_insert_with(|| json!([])) {
                vs.push(json!(value));
            }
            order.push(json!(name));
        } else {
            positional.push(json!(a));
        }
    }
    (flags, order, positional)
}

fn strings(v: Option<Value>) -> Vec<String> {
    v.and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default()
}

/// Facts of a static Pod manifest. With one container named after the file, its command
/// becomes `argv0`, `flag:<name>` (values in order), `flag-order` and `positional`; its
/// mounts, env and ports are keyed by name (`mount:<name>`, `env:<name>`, `port:<name>`); the
/// Pod's volumes too (`volume:<name>`); the rest is kept under `container`, `pod`
/// (the spec), `metadata` and `status`.
///
/// # Errors
/// When the YAML does not parse or has no `spec.containers`.
pub fn manifest_facts(text: &str, stem: &str) -> Result<Value> {
    let mut pod: Value = serde_saphyr::from_str(text)?;
    let p = pod.as_object_mut().context("a manifest is a map")?;
    let mut spec = p.remove("spec").unwrap_or(Value::Null);
    let s = spec.as_object_mut().context("spec is a map")?;
    let containers = s
        .remove("containers")
        .and_then(|c| c.as_array().cloned())
        .context("no spec.containers")?;
    let mut out = Map::new();
    out.insert("volume".into(), by_name(s.remove("volumes"), "name"));
    for (k, v) in std::mem::take(p) {
        out.insert(k, v);
    }
    out.insert("pod".into(), spec);
    let single = containers.len() == 1 && containers[0]["name"] == json!(stem);
    if single {
        let mut c = containers.into_iter().next().unwrap_or_default();
        let co = c.as_object_mut().context("a container is a map")?;
        co.remove("name");
        let mut argv = strings(co.remove("command"));
        argv.extend(strings(co.remove("args")));
        let (flags, order, positional) = split_args(argv.get(1..).unwrap_or_default());
        out.insert("argv0".into(), json!(argv.first()));
        out.insert("flag".into(), Value::Object(flags));
        out.insert("flag-order".into(), Value::Array(order));
        out.insert("positional".into(), Value::Array(positional));
        out.insert("mount".into(), by_name(co.remove("volumeMounts"), "name"));
        out.insert("env".into(), by_name(co.remove("env"), "name"));
        out.insert("port".into(), by_name(co.remove("ports"), "name"));
        out.insert("container".into(), c);
    } else {
        out.insert(
            "containers".into(),
            by_name(Some(Value::Array(containers)), "name"),
        );
    }
    Ok(Value::Object(out))
}

/// `KEY="--a=1 --b=2"` lines → `{KEY: {flag, flag-order, positional}}`. kubeadm joins the
/// flags with single spaces and never quotes inside the value.
fn env_file_facts(text: &str) -> Value {
    let mut m = Map::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        let args: Vec<String> = v
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        let (flags, order, positional) = split_args(&args);
        m.insert(
            k.to_string(),
            json!({ "flag": flags, "flag-order": order, "positional": positional }),
        );
    }
    Value::Object(m)
}

/// Removes zero values (`0`, `"0"`, `"0s"`, `""`, and `false` when `false_is_zero`) from a
/// component configuration: kubeadm serializes the whole Go struct, so its documents spell out
/// every unset duration, counter and string as zero, which the component defaults exactly like
/// an absent field. `false` only counts as unset where the type has plain (not pointer) bools:
/// KubeProxyConfiguration and ClusterConfiguration, not KubeletConfiguration (`failSwapOn`,
/// `serializeImagePulls` default to true). Maps left empty are dropped by the differ.
pub fn prune_zero(v: &mut Value, false_is_zero: bool) {
    if let Value::Object(m) = v {
        m.retain(|_, x| match x {
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !(s.is_empty() || s == "0" || s == "0s"),
            Value::Bool(b) => *b || !false_is_zero,
            _ => true,
        });
        for x in m.values_mut() {
            prune_zero(x, false_is_zero);
        }
    } else if let Value::Array(a) = v {
        a.iter_mut().for_each(|x| prune_zero(x, false_is_zero));
    }
}

/// Rewrites every Go duration string (`720h`, `4m0s`, `90s`) in Go's canonical form
/// (`720h0m0s`, `4m0s`, `1m30s`), so `720h` and kubeadm's `720h0m0s` compare equal.
pub fn canonical_durations(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(secs) = parse_duration(s) {
                let (h, m, sec) = (secs / 3600, secs % 3600 / 60, secs % 60);
                *s = match (h, m) {
                    (0, 0) => format!("{sec}s"),
                    (0, _) => format!("{m}m{sec}s"),
                    _ => format!("{h}h{m}m{sec}s"),
                };
            }
        }
        Value::Object(m) => m.values_mut().for_each(canonical_durations),
        Value::Array(a) => a.iter_mut().for_each(canonical_durations),
        _ => {}
    }
}

/// `1h2m3s` (any of the parts, in that order, whole numbers) → seconds.
fn parse_duration(s: &str) -> Option<u64> {
    let (mut total, mut rest, mut last) = (0u64, s, 0);
    if s.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        let (unit, rank) = match rest[digits..].chars().next()? {
            'h' => (3600, 1),
            'm' => (60, 2),
            's' => (1, 3),
            _ => return None,
        };
        if rank <= last {
            return None;
        }
        last = rank;
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_minutes() {
        assert_eq!(duration(8760 * 3600), "8760h");
        assert_eq!(duration(8760 * 3600 + 300), "8760h5m");
        assert_eq!(duration(8760 * 3600 + 301), "8760h5m");
    }

    #[test]
    fn args_keep_repeated_values_in_order() {
        let a: Vec<String> = ["--a=1", "--b", "--a=2", "pos", "--c=x=y"]
            .map(String::from)
            .to_vec();
        let (f, o, p) = split_args(&a);
        assert_eq!(
            Value::Object(f),
            json!({"--a": ["1", "2"], "--b": [""], "--c": ["x=y"]})
        );
        assert_eq!(
            o,
            vec![json!("--a"), json!("--b"), json!("--a"), json!("--c")]
        );
        assert_eq!(p, vec![json!("pos")]);
    }

    #[test]
    fn manifests_key_lists_by_name_and_ignore_quoting() {
        let plain = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --name=cp-1\n    env:\n    - name: A\n      value: b\n  volumes:\n  - name: d\n    hostPath:\n      path: /d\n";
        let quoted = "apiVersion: \"v1\"\nkind: Pod\nmetadata:\n  name: \"etcd\"\nspec:\n  volumes:\n  - hostPath:\n      path: \"/d\"\n    name: d\n  containers:\n  - command: [\"etcd\", \"--name=cp-1\"]\n    name: \"etcd\"\n    env: [{name: A, value: \"b\"}]\n";
        let a = manifest_facts(plain, "etcd").unwrap();
        assert_eq!(a, manifest_facts(quoted, "etcd").unwrap());
        assert_eq!(a["flag"]["--name"], json!(["cp-1"]));
        assert_eq!(a["env"]["A"], json!({"value": "b"}));
        assert_eq!(a["volume"]["d"]["hostPath"]["path"], json!("/d"));
    }

    #[test]
    fn env_files_split_into_flags() {
        let v = env_file_facts("KUBELET_KUBEADM_ARGS=\"--node-ip=10.0.0.1 --v=2\"\n");
        assert_eq!(
            v["KUBELET_KUBEADM_ARGS"]["flag"],
            json!({"--node-ip": ["10.0.0.1"], "--v": ["2"]})
        );
    }

    #[test]
    fn zero_values_are_pruned() {
        let mut v = json!({"a": "0s", "b": 0, "c": {"d": "0", "g": ""}, "e": "1m", "f": false});
        prune_zero(&mut v, false);
        assert_eq!(v, json!({"c": {}, "e": "1m", "f": false}));
        prune_zero(&mut v, true);
        assert_eq!(v, json!({"c": {}, "e": "1m"}));
    }

    #[test]
    fn durations_are_canonical() {
        let mut v = json!([
            "720h", "720h0m0s", "90s", "4m0s", "0s", "1h30m", "abc", "10", "5m1h", ""
        ]);
        canonical_durations(&mut v);
        assert_eq!(
            v,
            json!([
                "720h0m0s", "720h0m0s", "1m30s", "4m0s", "0s", "1h30m0s", "abc", "10", "5m1h", ""
            ])
        );
    }
}
