//! The kubeconfig file format (client-go `clientcmd/api/v1.Config`), typed with serde, with
//! embedded keys and tokens wrapped in [`Secret`] so `Debug` cannot leak them. Field order is
//! alphabetical, as client-go writes it.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// A string that must not appear in logs: `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    /// The secret itself.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A kubeconfig document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kubeconfig {
    /// `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// Named clusters.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub clusters: Vec<NamedCluster>,
    /// Named contexts.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contexts: Vec<NamedContext>,
    /// The context used by default.
    #[serde(rename = "current-context", default)]
    pub current_context: String,
    /// `Config`.
    #[serde(default)]
    pub kind: String,
    /// Always empty, and then not written (client-go as of kubeadm 1.37 omits it; older
    /// versions wrote `preferences: {}`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub preferences: serde_json::Map<String, serde_json::Value>,
    /// Named users.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub users: Vec<NamedUser>,
}

/// `clusters[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    /// The cluster.
    #[serde(default)]
    pub cluster: Cluster,
    /// Its name.
    pub name: String,
}

/// A cluster: where the API server is and which CA vouches for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Base64 PEM of the CA bundle.
    #[serde(
        rename = "certificate-authority-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_authority_data: Option<String>,
    /// Path of the CA bundle (instead of the data).
    #[serde(
        rename = "certificate-authority",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_authority: Option<String>,
    /// `https://host:port`.
    #[serde(default)]
    pub server: String,
}

/// `contexts[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    /// The context.
    #[serde(default)]
    pub context: Context,
    /// Its name.
    pub name: String,
}

/// A (cluster, user) pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Cluster name.
    #[serde(default)]
    pub cluster: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// User name.
    #[serde(default)]
    pub user: String,
}

/// `users[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedUser {
    /// Its name.
    pub name: String,
    /// The credentials.
    #[serde(default)]
    pub user: AuthInfo,
}

/// Client credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// Path of the client certificate (kubelet.conf after kubelet-finalize).
    #[serde(
        rename = "client-certificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate: Option<String>,
    /// Base64 PEM of the client certificate.
    #[serde(
        rename = "client-certificate-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate_data: Option<String>,
    /// Path of the client key.
    #[serde(
        rename = "client-key",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key: Option<String>,
    /// Base64 PEM of the client key.
    #[serde(
        rename = "client-key-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key_data: Option<Secret>,
    /// A bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

/// `null` as an empty list: Go writes a nil slice as `null` (cluster-info's `contexts: null`,
/// `users: null`), and client-go reads it as empty.
fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl Kubeconfig {
    /// One cluster, one user with an embedded client certificate and key, one context
    /// `<user>@<cluster>` set as current (kubeadm `CreateWithCerts`).
    #[must_use]
    pub fn with_client_cert(
        cluster_name: &str,
        server: &str,
        ca_pem: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Self {
        let context = format!("{user}@{cluster_name}");
        Kubeconfig {
            api_version: "v1".into(),
            clusters: vec![NamedCluster {
                cluster: Cluster {
                    certificate_authority_data: Some(b64(ca_pem.as_bytes())),
                    certificate_authority: None,
                    server: server.into(),
                },
                name: cluster_name.into(),
            }],
            contexts: vec![NamedContext {
                context: Context {
                    cluster: cluster_name.into(),
                    namespace: None,
                    user: user.into(),
                },
                name: context.clone(),
            }],
            current_context: context,
            kind: "Config".into(),
            preferences: serde_json::Map::new(),
            users: vec![NamedUser {
                name: user.into(),
                user: AuthInfo {
                    client_certificate_data: Some(b64(cert_pem.as_bytes())),
                    client_key_data: Some(Secret::new(b64(key_pem.as_bytes()))),
                    ..AuthInfo::default()
                },
            }],
        }
    }

    /// The current context's cluster and user, if they resolve.
    #[must_use]
    pub fn current(&self) -> Option<(&NamedContext, Option<&NamedCluster>, Option<&NamedUser>)> {
        let ctx = self
            .contexts
            .iter()
            .find(|c| c.name == self.current_context)?;
        let cluster = self.clusters.iter().find(|c| c.name == ctx.context.cluster);
        let user = self.users.iter().find(|u| u.name == ctx.context.user);
        Some((ctx, cluster, user))
    }
}

/// Renders a kubeconfig as YAML. `path` is only used in errors.
///
/// # Errors
/// [`Error::RenderKubeconfig`].
pub fn render_kubeconfig(k: &Kubeconfig, path: &Path) -> Result<String> {
    let mut opts = serde_saphyr::SerializerOptions::default();
    // Long base64 lines stay plain scalars rather than folded blocks.
    opts.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(k, opts).map_err(|source| Error::RenderKubeconfig {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses kubeconfig YAML (unknown fields are ignored, as client-go does). `path` is only
/// used in errors.
///
/// # Errors
/// [`Error::ParseKubeconfig`].
pub fn parse_kubeconfig(text: &str, path: &Path) -> Result<Kubeconfig> {
    serde_saphyr::from_str(text).map_err(|source| Error::ParseKubeconfig {
        path: path.to_path_buf(),
        source,
    })
}

/// Decodes a base64 `*-data` field. `field` and `path` are only used in errors.
///
/// # Errors
/// [`Error::DecodeData`].
pub fn decode_data(data: &str, field: &'static str, path: &Path) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|source| Error::DecodeData {
            path: path.to_path_buf(),
            field,
            source,
        })
}
