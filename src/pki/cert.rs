//! Reading certificates: an owned summary of the fields plinth checks (subject, SANs, usages,
//! validity, CA-ness, public key), parsed with x509-parser, plus signature verification.

use std::net::IpAddr;
use std::path::Path;

use ::time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::error::{Detail, Error, Result};
use super::keys::PrivateKey;
use super::sans::AltNames;

/// A parsed certificate: its DER and the fields plinth checks.
#[derive(Debug, Clone)]
pub struct Cert {
    /// The PEM text as read or written.
    pub pem: String,
    /// DER.
    pub der: Vec<u8>,
    /// Subject CN (first one), empty if none.
    pub common_name: String,
    /// Subject O values.
    pub organizations: Vec<String>,
    /// Issuer CN (first one), empty if none.
    pub issuer_common_name: String,
    /// SANs.
    pub alt_names: AltNames,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// EKU serverAuth.
    pub server_auth: bool,
    /// EKU clientAuth.
    pub client_auth: bool,
    /// The raw subjectPublicKey bits.
    pub public_key_raw: Vec<u8>,
    /// Serial number, big-endian bytes.
    pub serial: Vec<u8>,
}

fn detail(e: impl std::fmt::Display) -> Detail {
    Detail(e.to_string())
}

/// Parses the first `CERTIFICATE` block of `pem_text`; `path` is only used in errors.
///
/// # Errors
/// [`Error::ParseCert`].
pub fn parse_cert_pem(pem_text: &str, path: &Path) -> Result<Cert> {
    let err = |source| Error::ParseCert {
        path: path.to_path_buf(),
        source,
    };
    let block = pem::parse_many(pem_text)
        .map_err(|e| err(detail(e)))?
        .into_iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .ok_or_else(|| err(Detail("no CERTIFICATE block".into())))?;
    let mut c = parse_cert_der(block.contents(), path)?;
    c.pem = pem_text.to_string();
    Ok(c)
}

/// Parses a DER certificate; `path` is only used in errors. `pem` is re-encoded.
///
/// # Errors
/// [`Error::ParseCert`].
pub fn parse_cert_der(der: &[u8], path: &Path) -> Result<Cert> {
    let err = |source| Error::ParseCert {
        path: path.to_path_buf(),
        source,
    };
    let (_, x) = X509Certificate::from_der(der).map_err(|e| err(detail(e)))?;
    let strs = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let common_name = strs(&mut x.subject().iter_common_name())
        .into_iter()
        .next()
        .unwrap_or_default();
    let organizations = strs(&mut x.subject().iter_organization());
    let issuer_common_name = strs(&mut x.issuer().iter_common_name())
        .into_iter()
        .next()
        .unwrap_or_default();

    let mut alt_names = AltNames::default();
    if let Some(san) = x.subject_alternative_name().map_err(|e| err(detail(e)))? {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => alt_names.dns.push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        alt_names.ips.push(IpAddr::from(a));
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        alt_names.ips.push(IpAddr::from(a));
                    }
                }
                _ => {}
            }
        }
    }
    let (server_auth, client_auth) = match x.extended_key_usage().map_err(|e| err(detail(e)))? {
        Some(e) => (e.value.server_auth, e.value.client_auth),
        None => (false, false),
    };
    Ok(Cert {
        pem: pem_lf_cert(der),
        der: der.to_vec(),
        common_name,
        organizations,
        issuer_common_name,
        alt_names,
        not_before: x.validity().not_before.to_datetime(),
        not_after: x.validity().not_after.to_datetime(),
        is_ca: x.is_ca(),
        server_auth,
        client_auth,
        public_key_raw: x.public_key().subject_public_key.data.to_vec(),
        serial: x.raw_serial().to_vec(),
    })
}

pub(crate) fn pem_lf_cert(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Reads and parses the certificate at `path`.
///
/// # Errors
/// [`Error::ReadFile`], [`Error::ParseCert`].
pub fn load_cert(path: &Path) -> Result<Cert> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    parse_cert_pem(&text, path)
}

impl Cert {
    /// Whether `key` is the private half of this certificate's public key.
    #[must_use]
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        self.public_key_raw == key.public_key_raw()
    }

    /// Whether `issuer` signed this certificate: the issuer name equals the CA's subject and
    /// the signature verifies with the CA's public key (Go's chain building needs both).
    #[must_use]
    pub fn is_signed_by(&self, issuer: &Cert) -> bool {
        let (Ok((_, me)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        me.issuer().as_raw() == ca.subject().as_raw()
            && me.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// Seconds from `now` until notAfter (negative once expired).
    #[must_use]
    pub fn residual_seconds(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_seconds()
    }
}
