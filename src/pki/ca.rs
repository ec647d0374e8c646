//! A CA on disk: its certificate and, unless it is an external CA, its key, checked to belong
//! together, to be a CA and to be valid now. Signs leaves through [`super::issue`].

use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

use super::cert::{Cert, load_cert};
use super::error::{Error, Result};
use super::issue::{CertConfig, generate_signed_cert};
use super::keys::{PrivateKey, load_key};
use super::spec::CertSpec;

/// A loaded, validated CA.
#[derive(Debug)]
pub struct Ca {
    /// The CA's phase name (`ca`, `front-proxy-ca`, `etcd-ca`).
    pub name: &'static str,
    /// The certificate.
    pub cert: Cert,
    /// The key; `None` for an external CA.
    pub key: Option<PrivateKey>,
    /// `<dir>/<base>.crt`.
    pub cert_path: PathBuf,
    /// `<dir>/<base>.key`.
    pub key_path: PathBuf,
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Checks that `cert` is valid at `now`; `fix` says what to do otherwise.
pub(crate) fn validate_period(
    cert: &Cert,
    path: &Path,
    now: OffsetDateTime,
    fix: &str,
) -> Result<()> {
    if now < cert.not_before {
        return Err(Error::NotYetValid {
            cert: path.to_path_buf(),
            not_before: rfc3339(cert.not_before),
            fix: fix.to_string(),
        });
    }
    if now > cert.not_after {
        return Err(Error::Expired {
            cert: path.to_path_buf(),
            not_after: rfc3339(cert.not_after),
            fix: fix.to_string(),
        });
    }
    Ok(())
}

/// Loads the CA of `spec` (a CA spec) from `dir` and validates it at `now`. The certificate
/// must exist; the key may be missing (external CA).
///
/// # Errors
/// [`Error::ReadFile`] when the certificate is missing or unreadable, parse errors,
/// [`Error::NotCa`], [`Error::KeyMismatch`], [`Error::Expired`], [`Error::NotYetValid`].
pub fn load_ca(spec: &'static CertSpec, dir: &Path, now: OffsetDateTime) -> Result<Ca> {
    let cert_path = dir.join(spec.cert_file());
    let key_path = dir.join(spec.key_file());
    let cert = load_cert(&cert_path)?;
    if !cert.is_ca {
        return Err(Error::NotCa { path: cert_path });
    }
    let key = if key_path.exists() {
        let k = load_key(&key_path)?;
        if !cert.matches_key(&k) {
            return Err(Error::KeyMismatch {
                cert: cert_path,
                key: key_path,
                fix: " (plinth never replaces a CA: every certificate it signed depends on it)"
                    .into(),
            });
        }
        Some(k)
    } else {
        None
    };
    validate_period(
        &cert,
        &cert_path,
        now,
        "an invalid CA cannot be reused; replace the CA certificate and key (every certificate it signed must then be reissued)",
    )?;
    Ok(Ca {
        name: spec.name,
        cert,
        key,
        cert_path,
        key_path,
    })
}

impl Ca {
    /// Whether the key is present (plinth can issue with this CA).
    #[must_use]
    pub fn can_sign(&self) -> bool {
        self.key.is_some()
    }

    /// Issues a leaf for `key`; `target` is the file it is for (used in errors).
    ///
    /// # Errors
    /// [`Error::MissingCaKey`] for an external CA; [`Error::SignCert`].
    pub fn sign(
        &self,
        cfg: &CertConfig,
        key: &PrivateKey,
        target: &Path,
        now: OffsetDateTime,
    ) -> Result<Cert> {
        let ca_key = self.key.as_ref().ok_or_else(|| Error::MissingCaKey {
            cert: target.to_path_buf(),
            ca_key: self.key_path.clone(),
        })?;
        generate_signed_cert(cfg, key, &self.cert, ca_key, now)
    }
}
