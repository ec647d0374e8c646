//! When each certificate of the PKI directory expires (kubeadm `certs check-expiration`).
//! Reports only; never writes. kubeadm: `app/cmd/certs.go` `newCmdCertsExpiration`.

use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use serde::Serialize;

use super::ca::rfc3339;
use super::cert::{Cert, load_cert};
use super::error::Result;
use super::spec::certs_for;

/// Expiry of one certificate (or a note that it is missing).
#[derive(Debug, Clone, Serialize)]
pub struct CertExpiry {
    /// `apiserver`, `etcd-ca`, `admin.conf`, ...
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The file does not exist.
    pub missing: bool,
    /// notAfter, RFC 3339.
    pub expires: Option<String>,
    /// Seconds until notAfter (negative once expired).
    pub residual_seconds: Option<i64>,
    /// kubeadm's short form: `364d`, `9y`, `<invalid>` once expired.
    pub residual: Option<String>,
    /// The signing CA's name (`None` for CAs).
    pub ca: Option<String>,
    /// Whether this is a CA.
    pub is_ca: bool,
    /// The CA key is absent: the certificate is managed outside plinth (external CA).
    pub externally_managed: bool,
    /// notAfter, for formatting.
    #[serde(skip)]
    pub not_after: Option<OffsetDateTime>,
}

impl CertExpiry {
    /// Builds an entry from a loaded certificate (`None` = missing file).
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        path: PathBuf,
        cert: Option<&Cert>,
        ca: Option<&str>,
        externally_managed: bool,
        now: OffsetDateTime,
    ) -> Self {
        let residual = cert.map(|c| c.residual_seconds(now));
        CertExpiry {
            name: name.into(),
            path,
            missing: cert.is_none(),
            expires: cert.map(|c| rfc3339(c.not_after)),
            residual_seconds: residual,
            residual: residual.map(short_human_duration),
            ca: ca.map(str::to_string),
            is_ca: ca.is_none(),
            externally_managed,
            not_after: cert.map(|c| c.not_after),
        }
    }

    /// notAfter as kubeadm prints it: `Dec 30, 2026 23:36 UTC`.
    #[must_use]
    pub fn expires_human(&self) -> Option<String> {
        let t = self.not_after?.to_offset(::time::UtcOffset::UTC);
        let month = format!("{}", t.month());
        Some(format!(
            "{} {:02}, {} {:02}:{:02} UTC",
            &month[..3],
            t.day(),
            t.year(),
            t.hour(),
            t.minute()
        ))
    }
}

/// kubeadm's residual time (apimachinery `duration.ShortHumanDuration`).
#[must_use]
pub fn short_human_duration(secs: i64) -> String {
    if secs < -1 {
        "<invalid>".into()
    } else if secs < 0 {
        "0s".into()
    } else if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86400 {
        format!("{}h", secs / 3600)
    } else if secs < 365 * 86400 {
        format!("{}d", secs / 86400)
    } else {
        format!("{}y", secs / (365 * 86400))
    }
}

/// Every certificate of kubeadm's table in `dir` (etcd ones only with local etcd), leaves
/// first then CAs, each in table order. Missing files are listed with `missing: true`.
///
/// # Errors
/// A certificate that exists but cannot be read or parsed.
pub fn check_expiration(dir: &Path, external_etcd: bool) -> Result<Vec<CertExpiry>> {
    check_expiration_at(dir, external_etcd, OffsetDateTime::now_utc())
}

/// [`check_expiration`] at a given time.
///
/// # Errors
/// As [`check_expiration`].
pub fn check_expiration_at(
    dir: &Path,
    external_etcd: bool,
    now: OffsetDateTime,
) -> Result<Vec<CertExpiry>> {
    let mut leaves = Vec::new();
    let mut cas = Vec::new();
    for spec in certs_for(external_etcd) {
        let path = dir.join(spec.cert_file());
        let cert = if path.exists() {
            Some(load_cert(&path)?)
        } else {
            None
        };
        let signer = spec.ca_spec().unwrap_or(spec);
        let externally_managed =
            dir.join(signer.cert_file()).exists() && !dir.join(signer.key_file()).exists();
        let e = CertExpiry::new(
            spec.name,
            path,
            cert.as_ref(),
            spec.ca,
            externally_managed,
            now,
        );
        if spec.is_ca() {
            cas.push(e);
        } else {
            leaves.push(e);
        }
    }
    leaves.extend(cas);
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_times_read_like_kubeadm() {
        assert_eq!(short_human_duration(-5), "<invalid>");
        assert_eq!(short_human_duration(-1), "0s");
        assert_eq!(short_human_duration(59), "59s");
        assert_eq!(short_human_duration(600), "10m");
        assert_eq!(short_human_duration(5 * 3600), "5h");
        assert_eq!(short_human_duration(364 * 86400 + 3600), "364d");
        assert_eq!(short_human_duration(3650 * 86400 - 300), "9y");
    }
}
