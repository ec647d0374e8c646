//! The endpoints to poll, from the static-Pod manifests and the kubelet's well-known port.

use std::path::Path;

use serde_json::Value;

use crate::manifests::Component;

/// How to talk TLS to an endpoint.
#[derive(Clone)]
pub enum TlsMode {
    /// Plain HTTP (kubelet healthz, etcd metrics).
    Plain,
    /// HTTPS verified against the cluster CA, authenticated with a client certificate
    /// (the API server; never skip verification there).
    Verify {
        /// CA bundle (PEM).
        ca_pem: Vec<u8>,
        /// Client certificate chain + key (PEM).
        identity_pem: Vec<u8>,
    },
    /// HTTPS without verification: the controller-manager and scheduler serve self-signed
    /// certificates (kubeadm uses InsecureSkipVerify there too).
    SkipVerify,
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            TlsMode::Plain => "Plain",
            TlsMode::Verify { .. } => "Verify",
            TlsMode::SkipVerify => "SkipVerify",
        })
    }
}

/// One endpoint to poll.
#[derive(Debug, Clone)]
pub struct Check {
    /// Component name (`kube-apiserver`, `etcd`, `kubelet`, ...).
    pub component: String,
    /// URL to GET; healthy means HTTP 200.
    pub url: String,
    /// TLS handling.
    pub tls: TlsMode,
    /// The manifest file the endpoint came from, if any.
    pub manifest: Option<std::path::PathBuf>,
}

/// Reads the static Pod `manifest` and returns the startup probe's URL
/// (falling back to liveness), with named ports resolved through the container's ports.
/// `None` when the manifest is missing or has no HTTP probe.
#[must_use]
pub(super) fn probe_url(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let pod: Value = serde_saphyr::from_str(&text).ok()?;
    let c = pod.pointer("/spec/containers/0")?;
    let probe = c
        .get("startupProbe")
        .or_else(|| c.get("livenessProbe"))?
        .get("httpGet")?;
    let port = match probe.get("port")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(name) => c
            .get("ports")?
            .as_array()?
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
            .get("containerPort")?
            .as_u64()?,
        _ => return None,
    };
    let host = probe
        .get("host")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let scheme = probe
        .get("scheme")
        .and_then(Value::as_str)
        .unwrap_or("HTTP")
        .to_lowercase();
    let path = probe.get("path").and_then(Value::as_str).unwrap_or("/");
    Some(format!("{scheme}://{host}:{port}{path}"))
}

/// The checks kubeadm's wait-control-plane makes, for the manifests present in `manifests_dir`.
/// The API server is polled at its probe address with `identity_pem` and `ca_pem`.
#[must_use]
pub fn checks_from_manifests(
    manifests_dir: &Path,
    ca_pem: &[u8],
    identity_pem: &[u8],
    with_kubelet: bool,
) -> Vec<Check> {
    let mut v = Vec::new();
    if with_kubelet {
        v.push(Check {
            component: "kubelet".into(),
            url: "http://127.0.0.1:10248/healthz".into(),
            tls: TlsMode::Plain,
            manifest: None,
        });
    }
    for component in Component::ALL {
        let manifest = manifests_dir.join(component.file_name());
        if component == Component::Etcd && !manifest.exists() {
            continue; // external etcd
        }
        let url = probe_url(&manifest).unwrap_or_default();
        let tls = match component {
            Component::KubeApiserver => TlsMode::Verify {
                ca_pem: ca_pem.to_vec(),
                identity_pem: identity_pem.to_vec(),
            },
            _ if url.starts_with("https") => TlsMode::SkipVerify,
            _ => TlsMode::Plain,
        };
        v.push(Check {
            component: component.name().into(),
            url,
            tls,
            manifest: Some(manifest),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const APISERVER: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n  - name: kube-apiserver\n    ports:\n    - containerPort: 7443\n      name: probe-port\n    startupProbe:\n      httpGet:\n        host: fd00::10\n        path: /livez\n        port: probe-port\n        scheme: HTTPS\n";

    #[test]
    fn urls_come_from_the_manifest_with_named_ports() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("kube-apiserver.yaml"), APISERVER).unwrap();
        assert_eq!(
            probe_url(&d.path().join("kube-apiserver.yaml")).unwrap(),
            "https://[fd00::10]:7443/livez"
        );
        assert!(probe_url(&d.path().join("kube-scheduler.yaml")).is_none());
        let checks = checks_from_manifests(d.path(), b"ca", b"id", true);
        let names: Vec<&str> = checks.iter().map(|c| c.component.as_str()).collect();
        assert_eq!(
            names,
            [
                "kubelet",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler"
            ]
        );
        assert!(matches!(checks[1].tls, TlsMode::Verify { .. }));
        assert_eq!(
            checks[2].url, "",
            "a missing manifest yields no URL; the waiter diagnoses it"
        );
        assert_eq!(format!("{:?}", checks[1].tls), "Verify");
    }
}
