//! A small Kubernetes API client over reqwest + rustls: exactly the verbs the post-API phases
//! need (get, list, server-side apply, merge patch), authenticated with a kubeconfig's client
//! certificate and trusting only its embedded CA. Blocking facade over a private
//! current-thread runtime, because phases are synchronous.
//!
//! Why not kube-rs: plinth needs six verbs on a dozen kinds; reqwest and rustls are already in
//! the binary for the health checks, and kube's tower/hyper stack would add build time and
//! resident memory for nothing (docs/architecture.md, "API client").

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The field manager plinth's server-side applies are recorded under.
pub const FIELD_MANAGER: &str = "plinth";

/// What went wrong talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The kubeconfig cannot be used.
    #[error("{path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Transport failure (connection, TLS, timeout).
    #[error("{verb} {url}: {reason}")]
    Transport {
        /// HTTP verb.
        verb: &'static str,
        /// Request URL.
        url: String,
        /// Error chain.
        reason: String,
    },
    /// The API server answered with an error status.
    #[error("{verb} {url}: HTTP {status}: {message}")]
    Status {
        /// HTTP verb.
        verb: &'static str,
        /// Request URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The `Status` object's message (or the body).
        message: String,
    },
    /// An object plinth built cannot be addressed (a bug).
    #[error("cannot address object: {0}")]
    Object(String),
}

impl ApiError {
    /// Whether the server said 403 Forbidden.
    #[must_use]
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ApiError::Status { status: 403, .. })
    }

    /// Whether trying again may help: transport failures, 5xx and 429 (Too Many Requests).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport { .. } => true,
            ApiError::Status { status, .. } => *status >= 500 || *status == 429,
            ApiError::Kubeconfig { .. } | ApiError::Object(_) => false,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applied {
    /// The object did not exist.
    Created,
    /// The object existed and changed.
    Updated,
    /// The object existed and already matched (resourceVersion unchanged).
    Unchanged,
}

/// `kind namespace/name` of an object, for messages and dry-run listings.
#[must_use]
pub fn describe(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or("?");
    let name = obj["metadata"]["name"].as_str().unwrap_or("?");
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The REST path of an object (`name` = None: its collection).
///
/// # Errors
/// Unknown kind or missing fields.
pub fn object_path(obj: &Value, with_name: bool) -> Result<String, ApiError> {
    let api_version = obj["apiVersion"]
        .as_str()
        .ok_or_else(|| ApiError::Object("no apiVersion".into()))?;
    let kind = obj["kind"]
        .as_str()
        .ok_or_else(|| ApiError::Object("no kind".into()))?;
    let name = obj["metadata"]["name"]
        .as_str()
        .ok_or_else(|| ApiError::Object(format!("{kind} without metadata.name")))?;
    let ns = obj["metadata"]["namespace"].as_str();
    let (plural, namespaced) = match kind {
        "ConfigMap" => ("configmaps", true),
        "Secret" => ("secrets", true),
        "ServiceAccount" => ("serviceaccounts", true),
        "Service" => ("services", true),
        "Node" => ("nodes", false),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "Deployment" => ("deployments", true),
        "DaemonSet" => ("daemonsets", true),
        other => return Err(ApiError::Object(format!("unsupported kind {other}"))),
    };
    let mut p = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    match (namespaced, ns) {
        (true, Some(ns)) => p.push_str(&format!("/namespaces/{ns}")),
        (true, None) => {
            return Err(ApiError::Object(format!("{kind} {name} has no namespace")));
        }
        (false, _) => {}
    }
    p.push('/');
    p.push_str(plural);
    if with_name {
        p.push('/');
        p.push_str(name);
    }
    Ok(p)
}

/// A client for one API server and one identity.
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    rt: tokio::runtime::Runtime,
    /// The kubeconfig it came from (for messages).
    pub source: PathBuf,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiClient({} via {})", self.base, self.source.display())
    }
}

use crate::health::error_chain as chain;

/// What a kubeconfig with embedded data authenticates with.
pub struct KubeconfigIdentity {
    /// `certificate-authority-data`, decoded (PEM).
    pub ca_pem: Vec<u8>,
    /// Client certificate and key, decoded and concatenated (PEM).
    pub identity_pem: Vec<u8>,
    /// The current cluster's server URL.
    pub server: String,
}

/// The CA, client identity and server of a kubeconfig's current context.
///
/// # Errors
/// [`ApiError::Kubeconfig`] when the file lacks what is needed.
pub fn kubeconfig_identity(path: &Path) -> Result<KubeconfigIdentity, ApiError> {
    let bad = |reason: String| ApiError::Kubeconfig {
        path: path.to_path_buf(),
        reason,
    };
    let k = crate::kubeconfig::read_kubeconfig(path).map_err(|e| bad(format!("{e:#}")))?;
    let (_, cluster, user) = k
        .current()
        .ok_or_else(|| bad("no current context".into()))?;
    let cluster = cluster.ok_or_else(|| bad("the current context names no cluster".into()))?;
    let user = user.ok_or_else(|| bad("the current context names no user".into()))?;
    let dec = |d: Option<&str>, f: &'static str| -> Result<Vec<u8>, ApiError> {
        let d = d.ok_or_else(|| bad(format!("no {f} (only embedded data is supported)")))?;
        crate::kubeconfig::decode_data(d, f, path).map_err(|e| bad(format!("{e:#}")))
    };
    let ca_pem = dec(
        cluster.cluster.certificate_authority_data.as_deref(),
        "certificate-authority-data",
    )?;
    let mut identity_pem = dec(
        user.user.client_certificate_data.as_deref(),
        "client-certificate-data",
    )?;
    identity_pem.push(b'\n');
    identity_pem.extend(dec(
        user.user.client_key_data.as_ref().map(|s| s.expose()),
        "client-key-data",
    )?);
    Ok(KubeconfigIdentity {
        ca_pem,
        identity_pem,
        server: cluster.cluster.server.clone(),
    })
}

impl ApiClient {
    /// A client from a kubeconfig with embedded CA and client certificate data (the kind
    /// plinth writes). `server` overrides the kubeconfig's server URL when given.
    ///
    /// # Errors
    /// [`ApiError::Kubeconfig`] when the file lacks what is needed.
    pub fn from_kubeconfig(path: &Path, timeout: Duration) -> Result<Self, ApiError> {
        let bad = |reason: String| ApiError::Kubeconfig {
            path: path.to_path_buf(),
            reason,
        };
        let KubeconfigIdentity {
            ca_pem: ca,
            identity_pem: id,
            server,
        } = kubeconfig_identity(path)?;
        let roots = reqwest::Certificate::from_pem_bundle(&ca)
            .map_err(|e| bad(format!("bad certificate-authority-data: {e}")))?;
        let identity = reqwest::Identity::from_pem(&id)
            .map_err(|e| bad(format!("bad client certificate or key: {e}")))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only(roots)
            .identity(identity)
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .map_err(|e| bad(chain(&e)))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the async runtime: {e}")))?;
        Ok(ApiClient {
            http,
            base: server.trim_end_matches('/').to_string(),
            rt,
            source: path.to_path_buf(),
        })
    }

    /// The server URL.
    #[must_use]
    pub fn server(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        verb: &'static str,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Option<Value>, ApiError> {
        let url = format!("{}{path}", self.base);
        let method = match verb {
            "GET" => reqwest::Method::GET,
            "PATCH" => reqwest::Method::PATCH,
            "POST" => reqwest::Method::POST,
            "DELETE" => reqwest::Method::DELETE,
            _ => reqwest::Method::PUT,
        };
        let mut req = self
            .http
            .request(method, &url)
            .header("Accept", "application/json")
            .header("User-Agent", concat!("plinth/", env!("CARGO_PKG_VERSION")));
        if let Some((ct, b)) = body {
            req = req.header("Content-Type", ct).body(b);
        }
        let fut = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        };
        let (status, bytes) = self.rt.block_on(fut).map_err(|e| ApiError::Transport {
            verb,
            url: url.clone(),
            reason: chain(&e),
        })?;
        if status == 404 && verb == "GET" {
            return Ok(None);
        }
        let v: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !(200..300).contains(&status) {
            let message = v
                .as_ref()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
            return Err(ApiError::Status {
                verb,
                url,
                status,
                message,
            });
        }
        Ok(v)
    }

    /// GET a path; `None` on 404.
    ///
    /// # Errors
    /// Transport or status errors other than 404.
    pub fn get(&self, path: &str) -> Result<Option<Value>, ApiError> {
        self.send("GET", path, None)
    }

    /// Server-side apply (`fieldManager=plinth`, `force=true`): creates the object or brings
    /// the fields plinth owns back to `obj`. A no-op apply does not bump resourceVersion, which
    /// is how [`Applied::Unchanged`] is told apart.
    ///
    /// # Errors
    /// Transport or status errors.
    pub fn apply(&self, obj: &Value) -> Result<Applied, ApiError> {
        let path = object_path(obj, true)?;
        let before = self.get(&path)?;
        let body = serde_json::to_vec(obj).map_err(|e| ApiError::Object(e.to_string()))?;
        let after = self.send(
            "PATCH",
            &format!("{path}?fieldManager={FIELD_MANAGER}&force=true"),
            Some(("application/apply-patch+yaml", body)),
        )?;
        let rv = |v: &Value| {
            v["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string)
        };
        Ok(match (before, after) {
            (None, _) => Applied::Created,
            (Some(b), Some(a)) if rv(&b) == rv(&a) => Applied::Unchanged,
            _ => Applied::Updated,
        })
    }

    /// JSON merge patch (RFC 7396) on a path.
    ///
    /// # Errors
    /// Transport or status errors.
    pub fn merge_patch(&self, path: &str, patch: &Value) -> Result<Option<Value>, ApiError> {
        let body = serde_json::to_vec(patch).map_err(|e| ApiError::Object(e.to_string()))?;
        self.send("PATCH", path, Some(("application/merge-patch+json", body)))
    }

    /// Polls `path` until it exists, up to `timeout`.
    ///
    /// # Errors
    /// The last error, or a 404 status after the timeout.
    pub fn wait_for(&self, path: &str, timeout: Duration) -> Result<Value, ApiError> {
        crate::retry::Retry::new(timeout, Duration::from_millis(100)).until_ok(|| {
            self.get(path)?.ok_or_else(|| ApiError::Status {
                verb: "GET",
                url: format!("{}{path}", self.base),
                status: 404,
                message: format!(
                    "not found after {}",
                    crate::config::format_go_duration(timeout)
                ),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_follow_the_api_layout() {
        let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"kube-system"}});
        assert_eq!(
            object_path(&cm, true).unwrap(),
            "/api/v1/namespaces/kube-system/configmaps/a"
        );
        let crb = json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"kubeadm:get-nodes"}});
        assert_eq!(
            object_path(&crb, true).unwrap(),
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:get-nodes"
        );
        let ds = json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kube-proxy","namespace":"kube-system"}});
        assert_eq!(
            object_path(&ds, false).unwrap(),
            "/apis/apps/v1/namespaces/kube-system/daemonsets"
        );
        let no_ns = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}});
        assert!(object_path(&no_ns, true).is_err());
        let odd = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","namespace":"y"}});
        assert!(object_path(&odd, true).is_err());
        assert_eq!(describe(&cm), "ConfigMap kube-system/a");
        assert_eq!(describe(&crb), "ClusterRoleBinding kubeadm:get-nodes");
    }

    #[test]
    fn transport_errors_5xx_and_429_are_transient_the_rest_not() {
        let status = |status| ApiError::Status {
            verb: "GET",
            url: "u".into(),
            status,
            message: String::new(),
        };
        for s in [500, 503, 429] {
            assert!(status(s).is_transient(), "{s}");
        }
        for s in [400, 403, 404, 409, 422] {
            assert!(!status(s).is_transient(), "{s}");
        }
        let transport = ApiError::Transport {
            verb: "GET",
            url: "u".into(),
            reason: "connection refused".into(),
        };
        assert!(transport.is_transient());
        assert!(!ApiError::Object("x".into()).is_transient());
    }
}
