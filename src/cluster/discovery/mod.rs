//! Join discovery: trusting a cluster from a bootstrap token and a CA pin.
//!
//! A joining node reads `kube-public/cluster-info` anonymously (over TLS it cannot verify
//! yet), checks the detached JWS the controller-manager's bootstrap signer put there for its
//! token ([`jws`]), and pins the CA inside by the SHA-256 of its SubjectPublicKeyInfo. Only
//! then does it trust that CA for everything else. This module holds the pure checks; the
//! fetch and its retries live with the join workflow. kubeadm:
//! `cmd/kubeadm/app/discovery/token/token.go` (`validateClusterInfoToken`,
//! `validateClusterCA`) and `app/util/pubkeypin/pubkeypin.go`.

pub mod jws;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::Digest as _;

use crate::kubeconfig::{self, Kubeconfig};

use super::BootstrapToken;

/// `cluster-info`'s key holding the kubeconfig (cluster only, no credentials).
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// Prefix of the per-token signature keys in `cluster-info`.
pub const JWS_KEY_PREFIX: &str = "jws-kubeconfig-";

/// Why discovery refused a cluster. The texts follow kubeadm's, with the values a user needs to
/// act on (the pins that were expected and the one that was found).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    /// A `--discovery-token-ca-cert-hash` that is not `sha256:<64 hex>`.
    #[error(
        "invalid discovery token CA certificate hash {given:?}: {why}; expected \"sha256:<64 hex digits>\" (the line `plinth init` printed, or: openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der | sha256sum)"
    )]
    BadPin {
        /// The value as given.
        given: String,
        /// What is wrong with it.
        why: String,
    },
    /// No `kubeconfig` key.
    #[error(
        "there is no {KUBECONFIG_KEY} key in the cluster-info ConfigMap. This API server isn't set up for token bootstrapping, can't connect"
    )]
    NoKubeconfig,
    /// No signature for this token.
    #[error(
        "token id {0:?} is invalid for this cluster or it has expired. Use \"plinth token create\" on a control-plane node to create a new valid token"
    )]
    UnknownToken(String),
    /// A signature that does not match.
    #[error(
        "failed to verify the JWS signature of the cluster-info ConfigMap for token id {0:?}: the token's secret is wrong, or the ConfigMap was tampered with; can't trust this API server"
    )]
    BadSignature(String),
    /// The signed kubeconfig does not parse or names no usable cluster.
    #[error("malformed kubeconfig in the cluster-info ConfigMap: {0}")]
    Kubeconfig(String),
    /// None of the CA certificates matches a pin.
    #[error(
        "the cluster CA in the cluster-info ConfigMap is not the one you pinned: expected {expected}, got {got}. Check --discovery-token-ca-cert-hash (and that you are joining the cluster you meant to)"
    )]
    CaNotPinned {
        /// The pins given, comma-separated.
        expected: String,
        /// The pins of the CA certificates found.
        got: String,
    },
}

/// A set of allowed CA public-key pins (`sha256:<hex>`), stored lowercase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins(Vec<String>);

impl Pins {
    /// Parses `format:hex` values; only `sha256` (case-insensitive) is known, and the value must
    /// be exactly 32 bytes of hex (kubeadm's `pubkeypin.Set.Allow`).
    ///
    /// # Errors
    /// [`DiscoveryError::BadPin`] naming the value and the problem.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, DiscoveryError> {
        let mut pins = Vec::new();
        for v in values {
            let given = v.as_ref();
            let bad = |why: String| DiscoveryError::BadPin {
                given: given.to_string(),
                why,
            };
            let mut parts = given.split(':');
            let (Some(format), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("not of the form format:hex-value".into()));
            };
            if !format.eq_ignore_ascii_case("sha256") {
                return Err(bad(format!(
                    "unknown hash format {format:?}; known: sha256"
                )));
            }
            if hex.len() != 64 {
                return Err(bad(format!(
                    "expected a 32 byte SHA-256 hash, found {} hex digits",
                    hex.len()
                )));
            }
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("not hexadecimal".into()));
            }
            let pin = format!("sha256:{}", hex.to_ascii_lowercase());
            if !pins.contains(&pin) {
                pins.push(pin);
            }
        }
        Ok(Pins(pins))
    }

    /// No pins (only allowed with `--discovery-token-unsafe-skip-ca-verification`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `pin` (`sha256:<lowercase hex>`) is allowed.
    #[must_use]
    pub fn allows(&self, pin: &str) -> bool {
        self.0.iter().any(|p| p == pin)
    }
}

/// The pin of a certificate: `sha256:` and the lowercase hex SHA-256 of its DER
/// SubjectPublicKeyInfo (kubeadm's `pubkeypin.Hash`).
#[must_use]
pub fn pin_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> String {
    format!(
        "sha256:{:x}",
        sha2::Sha256::digest(cert.tbs_certificate.subject_pki.raw)
    )
}

/// What discovery trusts once the checks pass: the signed kubeconfig and its CA.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// The kubeconfig exactly as signed (compared byte for byte on the second, verified read).
    pub raw: String,
    /// The parsed kubeconfig.
    pub kubeconfig: Kubeconfig,
    /// The API server URL of its current cluster.
    pub server: String,
    /// The CA bundle (PEM) of its current cluster.
    pub ca_pem: Vec<u8>,
}

/// Checks an anonymously read `cluster-info` ConfigMap's data for `token` and `pins`.
/// With empty `pins` the CA is trusted on the signature alone (the caller has checked that the
/// user asked for that).
///
/// # Errors
/// Each [`DiscoveryError`] variant but `BadPin`.
pub fn validate_cluster_info(
    data: &BTreeMap<String, String>,
    token: &BootstrapToken,
    pins: &Pins,
) -> Result<ClusterInfo, DiscoveryError> {
    let raw = data
        .get(KUBECONFIG_KEY)
        .filter(|s| !s.is_empty())
        .ok_or(DiscoveryError::NoKubeconfig)?;
    let sig = data
        .get(&format!("{JWS_KEY_PREFIX}{}", token.id))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DiscoveryError::UnknownToken(token.id.clone()))?;
    if !jws::detached_signature_is_valid(sig, raw, &token.id, token.secret()) {
        return Err(DiscoveryError::BadSignature(token.id.clone()));
    }
    let info = parse_signed_kubeconfig(raw)?;
    if !pins.is_empty() {
        check_pins(&info.ca_pem, pins)?;
    }
    Ok(info)
}

/// Parses the signed kubeconfig and takes its current cluster's server and CA.
fn parse_signed_kubeconfig(raw: &str) -> Result<ClusterInfo, DiscoveryError> {
    let source = Path::new("cluster-info");
    let kc = kubeconfig::parse_kubeconfig(raw, source).map_err(|e| {
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        DiscoveryError::Kubeconfig(cause.unwrap_or_else(|| e.to_string()))
    })?;
    // cluster-info has one cluster and, as kubeadm writes it, no current context: take the
    // current context's cluster when there is one, else the only cluster.
    let cluster = match kc.current() {
        Some((_, Some(c), _)) => c.clone(),
        _ => match kc.clusters.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(DiscoveryError::Kubeconfig(
                    "no current context and not exactly one cluster".into(),
                ));
            }
        },
    };
    let server = cluster.cluster.server.clone();
    if server.is_empty() {
        return Err(DiscoveryError::Kubeconfig(
            "the cluster has no server".into(),
        ));
    }
    let data = cluster
        .cluster
        .certificate_authority_data
        .as_deref()
        .ok_or_else(|| {
            DiscoveryError::Kubeconfig("the cluster has no certificate-authority-data".into())
        })?;
    let ca_pem = kubeconfig::decode_data(data, "certificate-authority-data", source)
        .map_err(|e| DiscoveryError::Kubeconfig(e.to_string()))?;
    Ok(ClusterInfo {
        raw: raw.to_string(),
        kubeconfig: kc,
        server,
        ca_pem,
    })
}

/// Passes if any certificate of the bundle has an allowed pin (kubeadm's `CheckAny`).
fn check_pins(ca_pem: &[u8], pins: &Pins) -> Result<(), DiscoveryError> {
    let mut got = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(ca_pem) {
        let pem = pem.map_err(|e| DiscoveryError::Kubeconfig(format!("CA bundle: {e}")))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let cert = pem
            .parse_x509()
            .map_err(|e| DiscoveryError::Kubeconfig(format!("CA certificate: {e}")))?;
        let pin = pin_of(&cert);
        if pins.allows(&pin) {
            return Ok(());
        }
        got.push(pin);
    }
    if got.is_empty() {
        return Err(DiscoveryError::Kubeconfig(
            "the CA bundle holds no certificate".into(),
        ));
    }
    Err(DiscoveryError::CaNotPinned {
        expected: pins.0.join(", "),
        got: got.join(", "),
    })
}

#[cfg(test)]
mod tests;
