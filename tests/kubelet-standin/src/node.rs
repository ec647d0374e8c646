//! Node registration the way the kubelet does it with `--kubeconfig` (normally
//! `/etc/kubernetes/kubelet.conf`): create `Node/<name>` (409 = already there), keep it Ready with a status
//! heartbeat and a `kube-node-lease` Lease, and optionally keep mirror Pods for the static Pods.
//!
//! The API server's certificate is always verified against the kubeconfig's CA; there is no way to skip it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::manifest::PodPlan;
use crate::probe::error_chain;
use crate::status::{PodState, PodStatus, Status};

/// Loading a kubeconfig into an API client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeconfigError {
    /// The file cannot be read.
    #[error("failed to read kubeconfig {}", path.display())]
    Read {
        /// The kubeconfig.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a kubeconfig.
    #[error("failed to parse kubeconfig {}", path.display())]
    Parse {
        /// The kubeconfig.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// The kubeconfig lacks something the stand-in needs, or asks for something it refuses.
    #[error("kubeconfig {}: {reason}", path.display())]
    Invalid {
        /// The kubeconfig.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS client cannot be built from the credentials.
    #[error("kubeconfig {}: cannot build the TLS client", path.display())]
    Tls {
        /// The kubeconfig.
        path: PathBuf,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

#[derive(Debug, Deserialize)]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Named<T> {
    name: String,
    cluster: T,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: User,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Debug, Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: String,
}

#[derive(Debug, Deserialize)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
    #[serde(rename = "certificate-authority")]
    ca_file: Option<PathBuf>,
    #[serde(rename = "tls-server-name")]
    tls_server_name: Option<String>,
    #[serde(rename = "insecure-skip-tls-verify", default)]
    insecure: bool,
}

#[derive(Debug, Default, Deserialize)]
struct User {
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<String>,
    #[serde(rename = "client-key-data")]
    key_data: Option<String>,
    #[serde(rename = "client-certificate")]
    cert_file: Option<PathBuf>,
    #[serde(rename = "client-key")]
    key_file: Option<PathBuf>,
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
}

/// The resolved connection settings of a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The API server URL, without a trailing slash.
    pub server: String,
    /// PEM CA bundle.
    pub ca_pem: Vec<u8>,
    /// PEM client certificate chain followed by the key, if any.
    pub identity_pem: Option<Vec<u8>>,
    /// A bearer token, if any.
    pub token: Option<String>,
    /// `tls-server-name`.
    pub tls_server_name: Option<String>,
}

/// Reads a kubeconfig and picks the current context (or the first cluster and user).
///
/// # Errors
/// See [`KubeconfigError`].
pub fn load_credentials(path: &Path) -> Result<Credentials, KubeconfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| KubeconfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let kc: Kubeconfig =
        serde_saphyr::from_str(&text).map_err(|source| KubeconfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
    let invalid = |reason: String| KubeconfigError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let base = path.parent().unwrap_or(Path::new("/"));
    let (cluster_name, user_name) = match kc.current_context.as_deref().filter(|c| !c.is_empty()) {
        Some(name) => {
            let ctx = kc
                .contexts
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| invalid(format!("current-context {name:?} not found")))?;
            (
                Some(ctx.context.cluster.clone()),
                Some(ctx.context.user.clone()),
            )
        }
        None => (None, None),
    };
    let cluster = match &cluster_name {
        Some(n) => kc.clusters.iter().find(|c| &c.name == n),
        None => kc.clusters.first(),
    }
    .ok_or_else(|| invalid("no cluster".into()))?;
    let user = match &user_name {
        Some(n) => kc.users.iter().find(|u| &u.name == n).map(|u| &u.user),
        None => kc.users.first().map(|u| &u.user),
    };
    let c = &cluster.cluster;
    if c.insecure {
        return Err(invalid(
            "insecure-skip-tls-verify is refused: the API server must be verified".into(),
        ));
    }
    let read = |p: &Path| {
        let full = base.join(p);
        std::fs::read(&full).map_err(|e| invalid(format!("cannot read {}: {e}", full.display())))
    };
    let decode = |what: &str, data: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| invalid(format!("{what} is not valid base64: {e}")))
    };
    let ca_pem = match (&c.ca_data, &c.ca_file) {
        (Some(d), _) => decode("certificate-authority-data", d)?,
        (None, Some(f)) => read(f)?,
        (None, None) => {
            return Err(invalid(
                "no certificate-authority(-data): the API server cannot be verified".into(),
            ));
        }
    };
    let mut identity_pem = None;
    let mut token = None;
    if let Some(u) = user {
        let cert = match (&u.cert_data, &u.cert_file) {
            (Some(d), _) => Some(decode("client-certificate-data", d)?),
            (None, Some(f)) => Some(read(f)?),
            _ => None,
        };
        let key = match (&u.key_data, &u.key_file) {
            (Some(d), _) => Some(decode("client-key-data", d)?),
            (None, Some(f)) => Some(read(f)?),
            _ => None,
        };
        identity_pem = match (cert, key) {
            (Some(mut cert), Some(key)) => {
                // kubelet-client-current.pem holds both; concatenating it twice is harmless for from_pem,
                // but keep a single copy when cert and key are the same file.
                if cert != key {
                    cert.push(b'\n');
                    cert.extend_from_slice(&key);
                }
                Some(cert)
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "client certificate and key must both be set".into(),
                ));
            }
        };
        token = match (&u.token, &u.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => Some(String::from_utf8_lossy(&read(f)?).trim().to_owned()),
            _ => None,
        };
    }
    if !c.server.starts_with("https://") {
        return Err(invalid(format!("server {:?} is not https", c.server)));
    }
    Ok(Credentials {
        server: c.server.trim_end_matches('/').to_owned(),
        ca_pem,
        identity_pem,
        token,
        tls_server_name: c.tls_server_name.clone().filter(|s| !s.is_empty()),
    })
}

/// A minimal Kubernetes API client over reqwest.
#[derive(Debug, Clone)]
pub struct ApiClient {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// An API response: status code and JSON body (or `Null`).
type ApiResult = Result<(u16, Value), String>;

impl ApiClient {
    /// Builds a client that trusts only the kubeconfig's CA and presents its client certificate.
    ///
    /// # Errors
    /// See [`KubeconfigError`].
    pub fn from_kubeconfig(path: &Path) -> Result<Self, KubeconfigError> {
        let creds = load_credentials(path)?;
        let tls = |source| KubeconfigError::Tls {
            path: path.to_path_buf(),
            source,
        };
        let mut builder = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&creds.ca_pem).map_err(tls)?)
            .https_only(true)
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10));
        if let Some(id) = &creds.identity_pem {
            builder = builder.identity(reqwest::Identity::from_pem(id).map_err(tls)?);
        }
        let mut base = creds.server.clone();
        if let Some(name) = &creds.tls_server_name {
            // Verify the certificate as `name` while connecting to the configured address.
            let url = reqwest::Url::parse(&creds.server).map_err(|e| KubeconfigError::Invalid {
                path: path.to_path_buf(),
                reason: format!("bad server URL: {e}"),
            })?;
            let port = url.port_or_known_default().unwrap_or(443);
            let ip: Option<IpAddr> = url
                .host_str()
                .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
            if let Some(ip) = ip {
                builder = builder.resolve(name, SocketAddr::new(ip, port));
                base = format!("https://{name}:{port}");
            } else {
                tracing::warn!(server = %creds.server, "tls-server-name is only honoured for IP server addresses");
            }
        }
        Ok(Self {
            client: builder.build().map_err(tls)?,
            base,
            token: creds.token,
        })
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        ctype: &str,
        body: Option<&Value>,
    ) -> ApiResult {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Accept", "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", ctype).body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
        let code = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
        Ok((code, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        ctype: &str,
        body: Option<&Value>,
        ok: &[u16],
    ) -> ApiResult {
        let (code, v) = self.request(method.clone(), path, ctype, body).await?;
        if ok.contains(&code) || (200..300).contains(&code) {
            Ok((code, v))
        } else {
            let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
            Err(format!("{method} {path}: HTTP {code} {msg}"))
        }
    }
}

/// Node registration settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The kubeconfig (kubelet.conf).
    pub kubeconfig: PathBuf,
    /// The Node name.
    pub node_name: String,
    /// Reported as the InternalIP address when set.
    pub node_ip: Option<IpAddr>,
    /// Heartbeat period (the kubelet's nodeStatusUpdateFrequency, 10 s).
    pub status_interval: Duration,
    /// Keep mirror Pods.
    pub mirror_pods: bool,
    /// Reported as `nodeInfo.kubeletVersion`.
    pub kubelet_version: String,
}

/// `kubernetes.io/arch` for this build.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn now_rfc3339() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

fn now_micro() -> String {
    format!("{:.6}", jiff::Timestamp::now())
}

/// The Node object the kubelet's `initialNode` creates.
pub fn initial_node(cfg: &NodeConfig) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": cfg.node_name,
            "labels": {
                "kubernetes.io/hostname": cfg.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": go_arch(),
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": go_arch(),
            },
            "annotations": { "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
        },
        "spec": {},
    })
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn mem_kib() -> u64 {
    read_trim("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The status patch of a heartbeat: Ready and the pressure conditions, addresses, capacity and node info.
pub fn node_status_patch(cfg: &NodeConfig, ready_since: &str) -> Value {
    let now = now_rfc3339();
    let cond = |t: &str, s: &str, reason: &str, msg: &str| {
        json!({"type": t, "status": s, "reason": reason, "message": msg,
               "lastHeartbeatTime": now, "lastTransitionTime": ready_since})
    };
    let mut addresses = Vec::new();
    if let Some(ip) = cfg.node_ip {
        addresses.push(json!({"type": "InternalIP", "address": ip.to_string()}));
    }
    addresses.push(json!({"type": "Hostname", "address": cfg.node_name}));
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .to_string();
    let resources = json!({"cpu": cpus, "memory": format!("{}Ki", mem_kib()), "pods": "110"});
    json!({
        "status": {
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (plinth-kubelet-standin)"),
            ],
            "addresses": addresses,
            "capacity": resources,
            "allocatable": resources,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": read_trim("/etc/machine-id"),
                "systemUUID": "",
                "bootID": read_trim("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": read_trim("/proc/sys/kernel/osrelease"),
                "osImage": "plinth-kubelet-standin",
                "containerRuntimeVersion": concat!("plinth-kubelet-standin://", env!("CARGO_PKG_VERSION")),
                "kubeletVersion": cfg.kubelet_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": go_arch(),
            },
        }
    })
}

const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSON: &str = "application/json";

/// Creates the Node (409 = it exists) and returns its UID.
async fn register(api: &ApiClient, cfg: &NodeConfig) -> Result<String, String> {
    let (code, v) = api
        .expect(
            reqwest::Method::POST,
            "/api/v1/nodes",
            JSON,
            Some(&initial_node(cfg)),
            &[409],
        )
        .await?;
    let v = if code == 409 {
        api.expect(
            reqwest::Method::GET,
            &format!("/api/v1/nodes/{}", cfg.node_name),
            JSON,
            None,
            &[],
        )
        .await?
        .1
    } else {
        v
    };
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "node has no uid".to_owned())
}

/// Renews `kube-node-lease/<node>` (creating it first), as the kubelet's lease controller does.
async fn renew_lease(api: &ApiClient, cfg: &NodeConfig, node_uid: &str) -> Result<(), String> {
    let base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    let patch = json!({"spec": {"holderIdentity": cfg.node_name, "leaseDurationSeconds": 40, "renewTime": now_micro()}});
    let path = format!("{base}/{}", cfg.node_name);
    let (code, _) = api
        .request(reqwest::Method::PATCH, &path, MERGE, Some(&patch))
        .await?;
    if code == 404 {
        let mut lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": cfg.node_name, "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": cfg.node_name, "uid": node_uid}]},
        });
        lease["spec"] = patch["spec"].clone();
        api.expect(reqwest::Method::POST, base, JSON, Some(&lease), &[409])
            .await?;
    } else if !(200..300).contains(&code) {
        return Err(format!("PATCH {path}: HTTP {code}"));
    }
    Ok(())
}

/// Registers the node and keeps it Ready until `shutdown`. Never gives up: errors are retried every 1.5 s
/// and shown as `node_error` in the status.
pub async fn run(cfg: NodeConfig, status: Arc<Status>, mut shutdown: watch::Receiver<bool>) {
    let retry = Duration::from_millis(1500);
    let mut api: Option<ApiClient> = None;
    let mut node_uid: Option<String> = None;
    let mut ready_since = now_rfc3339();
    let mut next_heartbeat = Instant::now();
    let mut mirrors = Mirrors::default();
    let set_error = |e: Option<String>| {
        if let Some(e) = &e {
            tracing::debug!(error = %e, "node registration");
        }
        status.update(|d| d.node_error = e);
    };
    loop {
        let mut wait = Duration::from_secs(1);
        if api.is_none() {
            if !cfg.kubeconfig.exists() {
                set_error(Some(format!(
                    "waiting for kubeconfig {}",
                    cfg.kubeconfig.display()
                )));
            } else {
                match ApiClient::from_kubeconfig(&cfg.kubeconfig) {
                    Ok(c) => api = Some(c),
                    Err(e) => set_error(Some(error_chain(&e))),
                }
            }
        }
        if let Some(client) = api.clone() {
            if node_uid.is_none() {
                match register(&client, &cfg).await {
                    Ok(uid) => {
                        tracing::info!(node = %cfg.node_name, "node registered");
                        node_uid = Some(uid);
                        ready_since = now_rfc3339();
                        next_heartbeat = Instant::now();
                        status.update(|d| {
                            d.node_registered = true;
                            d.node_error = None;
                        });
                    }
                    Err(e) => {
                        set_error(Some(format!("registering node {}: {e}", cfg.node_name)));
                        api = None; // re-read the kubeconfig: it may be rewritten
                        wait = retry;
                    }
                }
            }
            if let Some(uid) = node_uid.clone() {
                if Instant::now() >= next_heartbeat {
                    let path = format!("/api/v1/nodes/{}/status", cfg.node_name);
                    let patch = node_status_patch(&cfg, &ready_since);
                    match client
                        .request(reqwest::Method::PATCH, &path, SMP, Some(&patch))
                        .await
                    {
                        Ok((code, _)) if (200..300).contains(&code) => {
                            next_heartbeat = Instant::now() + cfg.status_interval;
                            if let Err(e) = renew_lease(&client, &cfg, &uid).await {
                                tracing::debug!(error = %e, "lease renewal failed");
                            }
                            set_error(None);
                        }
                        Ok((404, _)) => {
                            set_error(Some(format!(
                                "node {} disappeared; registering again",
                                cfg.node_name
                            )));
                            node_uid = None;
                            status.update(|d| d.node_registered = false);
                        }
                        Ok((code, v)) => {
                            let msg = v
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned();
                            set_error(Some(format!("PATCH {path}: HTTP {code} {msg}")));
                            next_heartbeat = Instant::now() + retry;
                        }
                        Err(e) => {
                            set_error(Some(e));
                            api = None;
                            next_heartbeat = Instant::now() + retry;
                        }
                    }
                }
                if cfg.mirror_pods && node_uid.is_some() {
                    mirrors.sync(&client, &cfg, &uid, &status).await;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => if *shutdown.borrow() { break },
        }
    }
}

#[derive(Debug, Default)]
struct Mirrors {
    /// `namespace/name` → (static Pod UID, last status patch sent).
    known: HashMap<String, (String, Value)>,
}

impl Mirrors {
    /// Best effort: every error is logged and retried on the next round.
    async fn sync(&mut self, api: &ApiClient, cfg: &NodeConfig, node_uid: &str, status: &Status) {
        let pods: Vec<(Arc<PodPlan>, PodStatus)> = status.read(|d| {
            d.pods
                .values()
                .filter_map(|p| p.plan.clone().map(|plan| (plan, p.clone())))
                .collect()
        });
        let stale = |known: &HashMap<String, (String, Value)>, plan: &PodPlan| {
            known
                .get(&format!("{}/{}", plan.namespace, plan.full_name))
                .map(|k| &k.0)
                != Some(&plan.uid)
        };
        // The Node authorizer lets a node list the Pods bound to it but not GET an arbitrary Pod name, so
        // (like the kubelet's informer) look mirror Pods up in a field-selected list.
        let listed = if pods.iter().any(|(plan, _)| stale(&self.known, plan)) {
            match list_node_pods(api, cfg).await {
                Ok(listed) => Some(listed),
                Err(e) => {
                    tracing::debug!(error = %e, "listing the node's pods failed");
                    None
                }
            }
        } else {
            None
        };
        let mut seen = Vec::new();
        for (plan, ps) in pods {
            let key = format!("{}/{}", plan.namespace, plan.full_name);
            seen.push(key.clone());
            let path = format!(
                "/api/v1/namespaces/{}/pods/{}",
                plan.namespace, plan.full_name
            );
            if self.known.get(&key).map(|k| &k.0) != Some(&plan.uid) {
                let Some(listed) = &listed else { continue };
                match ensure_mirror(api, cfg, node_uid, &plan, &path, listed.get(&key)).await {
                    Ok(()) => {
                        self.known
                            .insert(key.clone(), (plan.uid.clone(), Value::Null));
                    }
                    Err(e) => {
                        tracing::debug!(pod = %plan.full_name, error = %e, "mirror pod sync failed");
                        continue;
                    }
                }
            }
            let patch = mirror_status_patch(cfg, &plan, &ps);
            if self.known.get(&key).is_some_and(|k| k.1 != patch) {
                match api
                    .request(
                        reqwest::Method::PATCH,
                        &format!("{path}/status"),
                        SMP,
                        Some(&patch),
                    )
                    .await
                {
                    Ok((code, _)) if (200..300).contains(&code) => {
                        if let Some(k) = self.known.get_mut(&key) {
                            k.1 = patch;
                        }
                    }
                    Ok((404, _)) => {
                        self.known.remove(&key);
                    }
                    Ok((code, v)) => {
                        tracing::debug!(pod = %plan.full_name, code, body = %v, "mirror pod status patch failed")
                    }
                    Err(e) => {
                        tracing::debug!(pod = %plan.full_name, error = %e, "mirror pod status patch failed")
                    }
                }
            }
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            let (ns, name) = key.split_once('/').unwrap_or(("default", &key));
            let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
            match api
                .request(reqwest::Method::DELETE, &path, JSON, None)
                .await
            {
                Ok((code, _)) if (200..300).contains(&code) || code == 404 => {
                    self.known.remove(&key);
                }
                Ok((code, _)) => tracing::debug!(pod = %key, code, "mirror pod delete failed"),
                Err(e) => tracing::debug!(pod = %key, error = %e, "mirror pod delete failed"),
            }
        }
    }
}

/// The Pods bound to this node, by `namespace/name`.
async fn list_node_pods(
    api: &ApiClient,
    cfg: &NodeConfig,
) -> Result<HashMap<String, Value>, String> {
    let path = format!(
        "/api/v1/pods?fieldSelector=spec.nodeName%3D{}",
        cfg.node_name
    );
    let (_, list) = api
        .expect(reqwest::Method::GET, &path, JSON, None, &[])
        .await?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let ns = item.pointer("/metadata/namespace")?.as_str()?.to_owned();
            let name = item.pointer("/metadata/name")?.as_str()?.to_owned();
            Some((format!("{ns}/{name}"), item))
        })
        .collect())
}

/// Makes sure the mirror Pod exists and carries this static Pod's hash (kubelet: `podManager`/`mirrorClient`).
async fn ensure_mirror(
    api: &ApiClient,
    cfg: &NodeConfig,
    node_uid: &str,
    plan: &PodPlan,
    path: &str,
    existing: Option<&Value>,
) -> Result<(), String> {
    if let Some(existing) = existing {
        let hash = existing
            .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
            .and_then(Value::as_str);
        if hash == Some(plan.uid.as_str()) {
            return Ok(());
        }
        // An outdated mirror Pod (or a regular Pod squatting the name): replace it, as the kubelet does.
        let uid = existing
            .pointer("/metadata/uid")
            .cloned()
            .unwrap_or(Value::Null);
        let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}});
        api.expect(reqwest::Method::DELETE, path, JSON, Some(&opts), &[404])
            .await?;
    }
    let mut pod = serde_json::to_value(&plan.pod).map_err(|e| e.to_string())?;
    if let Some(obj) = pod.as_object_mut() {
        obj.remove("status");
    }
    let meta = &mut pod["metadata"];
    if let Some(m) = meta.as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generateName",
        ] {
            m.remove(k);
        }
    }
    meta["name"] = json!(plan.full_name);
    meta["namespace"] = json!(plan.namespace);
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    let ann = &mut meta["annotations"];
    ann["kubernetes.io/config.mirror"] = json!(plan.uid);
    ann["kubernetes.io/config.hash"] = json!(plan.uid);
    ann["kubernetes.io/config.source"] = json!("file");
    ann["kubernetes.io/config.seen"] = json!(format!("{:.9}", jiff::Timestamp::now()));
    meta["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "Node", "name": cfg.node_name, "uid": node_uid, "controller": true}]);
    pod["spec"]["nodeName"] = json!(cfg.node_name);
    let base = format!("/api/v1/namespaces/{}/pods", plan.namespace);
    api.expect(reqwest::Method::POST, &base, JSON, Some(&pod), &[])
        .await?;
    tracing::info!(pod = %plan.full_name, "mirror pod created");
    Ok(())
}

/// The Pod status the kubelet would report for a static Pod, as a strategic merge patch.
pub fn mirror_status_patch(cfg: &NodeConfig, plan: &PodPlan, ps: &PodStatus) -> Value {
    let running = ps.state == PodState::Running;
    let phase = match ps.state {
        PodState::Running => "Running",
        PodState::Terminated if ps.last_exit_code == Some(0) => "Succeeded",
        PodState::Terminated => "Failed",
        _ if ps.restarts > 0 => "Running",
        _ => "Pending",
    };
    let b = |v: bool| if v { "True" } else { "False" };
    let state = match ps.state {
        PodState::Running => json!({"running": {"startedAt": ps.started_at}}),
        PodState::Crashloop => {
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": ps.last_error}})
        }
        PodState::Terminated => json!({"terminated": {"exitCode": ps.last_exit_code.unwrap_or(0)}}),
        _ => json!({"waiting": {"reason": "ContainerCreating", "message": ps.last_error}}),
    };
    let mut status = json!({
        "phase": phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": b(running && ps.ready)},
            {"type": "Ready", "status": b(running && ps.ready)},
        ],
        "containerStatuses": [{
            "name": plan.container.name,
            "image": plan.container.image,
            "imageID": "",
            "containerID": ps.pid.map(|p| format!("standin://{}-{p}", plan.uid)),
            "ready": running && ps.ready,
            "started": running && ps.startup_done,
            "restartCount": ps.restarts,
            "state": state,
        }],
    });
    if let Some(ip) = cfg.node_ip {
        status["hostIP"] = json!(ip.to_string());
        status["podIP"] = json!(ip.to_string());
    }
    json!({"status": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64_CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="; // "-----BEGIN CERTIFICATE-----\n"

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("kubelet.conf");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn kubeconfig_selection_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.pem"), "CERTKEY").unwrap();
        let p = write(
            dir.path(),
            &format!(
                "apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {{server: 'https://other:6443', certificate-authority-data: {B64_CA}}}
- name: kubernetes
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: {B64_CA}
contexts:
- name: system:node:n1@kubernetes
  context: {{cluster: kubernetes, user: system:node:n1}}
current-context: system:node:n1@kubernetes
users:
- name: system:node:n1
  user:
    client-certificate: client.pem
    client-key: client.pem
preferences: {{}}
"
            ),
        );
        let c = load_credentials(&p).unwrap();
        assert_eq!(c.server, "https://10.0.0.1:6443");
        assert_eq!(c.ca_pem, b"-----BEGIN CERTIFICATE-----\n");
        assert_eq!(
            c.identity_pem.as_deref(),
            Some(&b"CERTKEY"[..]),
            "one copy when cert and key share a file"
        );
    }

    #[test]
    fn kubeconfig_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "clusters:\n- name: c\n  cluster: {server: 'https://x', insecure-skip-tls-verify: true}\n",
                "insecure-skip-tls-verify is refused",
            ),
            (
                "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n",
                "no certificate-authority",
            ),
            (
                &*format!(
                    "clusters:\n- name: c\n  cluster: {{server: 'http://x', certificate-authority-data: {B64_CA}}}\n"
                ),
                "is not https",
            ),
            (
                &*format!(
                    "clusters:\n- name: c\n  cluster: {{server: 'https://x', certificate-authority-data: {B64_CA}}}\nusers:\n- name: u\n  user: {{client-certificate-data: {B64_CA}}}\n"
                ),
                "must both be set",
            ),
            (
                "current-context: nope\nclusters: []\n",
                "current-context \"nope\" not found",
            ),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), text);
            let err = load_credentials(&p).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
    }

    #[test]
    fn node_object_and_heartbeat() {
        let cfg = NodeConfig {
            kubeconfig: PathBuf::new(),
            node_name: "cp-1".into(),
            node_ip: Some("10.0.0.1".parse().unwrap()),
            status_interval: Duration::from_secs(10),
            mirror_pods: false,
            kubelet_version: "v1.37.2".into(),
        };
        let node = initial_node(&cfg);
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "cp-1");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/arch"], go_arch());
        let patch = node_status_patch(&cfg, "2026-01-01T00:00:00Z");
        let ready = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert!(
            ready["lastHeartbeatTime"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
        assert_eq!(patch["status"]["addresses"][0]["address"], "10.0.0.1");
        assert_eq!(patch["status"]["nodeInfo"]["kubeletVersion"], "v1.37.2");
    }
}
