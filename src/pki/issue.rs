//! Issuing certificates with rcgen: self-signed CAs and leaves signed by a CA, with kubeadm's
//! extensions, random serials and validity windows. Pure: keys and the clock come in as
//! arguments. kubeadm: `app/util/pkiutil/pki_helpers.go` (`NewCertificateAuthority`,
//! `NewSignedCert`), client-go `cert.NewSelfSignedCACert`.

use std::path::Path;
use std::time::Duration;

use ::time::{Duration as TimeDuration, OffsetDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber,
};

use super::cert::{Cert, parse_cert_der};
use super::error::{Error, Result};
use super::keys::PrivateKey;
use super::sans::AltNames;
use super::spec::ExtUsage;

/// How far NotBefore is backdated, to tolerate clock skew between nodes
/// (kubeadm `CertificateBackdate`, PR#118922).
pub const BACKDATE: TimeDuration = TimeDuration::minutes(5);

/// What a certificate says about its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertConfig {
    /// Subject CN.
    pub common_name: String,
    /// Subject O (rcgen supports at most one; kubeadm never needs more).
    pub organization: Option<String>,
    /// SANs.
    pub alt_names: AltNames,
    /// Extended key usages (leaves only).
    pub usages: Vec<ExtUsage>,
    /// Validity period from NotBefore.
    pub validity: Duration,
}

/// A random positive 128-bit serial. rcgen's default derives the serial from the public key,
/// so a re-issue for the same key would repeat it; kubeadm uses random serials too.
///
/// # Panics
/// If the OS random source fails, which leaves no safe way to issue certificates.
#[must_use]
pub fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random number generator is unavailable");
    // Positive (top bit clear) and exactly 16 octets (first byte non-zero).
    b[0] &= 0x7f;
    b[0] |= 0x01;
    SerialNumber::from_slice(&b)
}

/// The latest time X.509 can express (GeneralizedTime 99991231235959Z).
fn max_time() -> OffsetDateTime {
    OffsetDateTime::new_utc(
        ::time::Date::from_calendar_date(9999, ::time::Month::December, 31)
            .unwrap_or(::time::Date::MAX),
        ::time::Time::from_hms(23, 59, 59).unwrap_or(::time::Time::MIDNIGHT),
    )
}

/// `start + d`, saturating at the X.509 maximum.
fn add(start: OffsetDateTime, d: Duration) -> OffsetDateTime {
    TimeDuration::try_from(d)
        .ok()
        .and_then(|d| start.checked_add(d))
        .map_or_else(max_time, |t| t.min(max_time()))
}

/// `now`, truncated to whole seconds (what X.509 stores).
fn whole_seconds(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_nanosecond(0).unwrap_or(now)
}

/// kubeadm's validity window: NotBefore = now − 5 min, NotAfter = now + `validity`, so a
/// certificate is valid for `validity` plus the backdate (`certificateValidityPeriod` 8760h
/// gives 8760h5m, as the parity test observes on kubeadm 1.37).
// kubeadm: app/phases/certs/certlist.go KubeadmCert.GetConfig (creationTime ± periods)
fn window(now: OffsetDateTime, validity: Duration) -> (OffsetDateTime, OffsetDateTime) {
    let now = whole_seconds(now);
    (now - BACKDATE, add(now, validity))
}

fn dn(cfg: &CertConfig) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    if let Some(o) = &cfg.organization {
        d.push(DnType::OrganizationName, o.as_str());
    }
    d.push(DnType::CommonName, cfg.common_name.as_str());
    d
}

fn sans(cfg: &CertConfig, name: &str) -> Result<Vec<SanType>> {
    let mut v = Vec::new();
    for d in &cfg.alt_names.dns {
        let ia5 = d.as_str().try_into().map_err(|source| Error::SignCert {
            cert: name.to_string(),
            source,
        })?;
        v.push(SanType::DnsName(ia5));
    }
    v.extend(cfg.alt_names.ips.iter().copied().map(SanType::IpAddress));
    Ok(v)
}

/// Issues a self-signed CA certificate for `key`: NotBefore = now − 5 min, NotAfter =
/// now + `cfg.validity`; KU digitalSignature, keyEncipherment, keyCertSign (critical);
/// basicConstraints CA:TRUE (critical); SKI; random serial; `cfg.alt_names` as SANs (kubeadm
/// gives a CA one DNS SAN equal to its CN).
///
/// # Errors
/// [`Error::SignCert`].
pub fn generate_ca_cert(cfg: &CertConfig, key: &PrivateKey, now: OffsetDateTime) -> Result<Cert> {
    let name = cfg.common_name.as_str();
    let mut p = CertificateParams::default();
    (p.not_before, p.not_after) = window(now, cfg.validity);
    p.serial_number = Some(random_serial());
    p.distinguished_name = dn(cfg);
    p.subject_alt_names = sans(cfg, name)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    let c = p
        .self_signed(key.key_pair())
        .map_err(|source| Error::SignCert {
            cert: name.to_string(),
            source,
        })?;
    parse_cert_der(c.der(), Path::new(name))
}

/// Issues a leaf certificate for `key`, signed by `ca_cert`/`ca_key`.
///
/// NotBefore = now − 5 min (kubeadm ≥ 1.31 backdates leaves the same way; older kubeadm used
/// the CA's NotBefore), NotAfter = now + `cfg.validity`, but never after the CA's
/// NotAfter (a leaf cannot outlive the CA that vouches for it). KU digitalSignature and
/// keyEncipherment (critical), EKU per `cfg.usages`, basicConstraints CA:FALSE, SKI, AKI,
/// random serial.
///
/// # Errors
/// [`Error::SignCert`].
pub fn generate_signed_cert(
    cfg: &CertConfig,
    key: &PrivateKey,
    ca_cert: &Cert,
    ca_key: &PrivateKey,
    now: OffsetDateTime,
) -> Result<Cert> {
    let name = cfg.common_name.as_str();
    let err = |source| Error::SignCert {
        cert: name.to_string(),
        source,
    };
    let mut p = CertificateParams::default();
    let (not_before, not_after) = window(now, cfg.validity);
    p.not_before = not_before;
    p.not_after = not_after.min(ca_cert.not_after);
    p.serial_number = Some(random_serial());
    p.distinguished_name = dn(cfg);
    p.subject_alt_names = sans(cfg, name)?;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = cfg
        .usages
        .iter()
        .map(|u| match u {
            ExtUsage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            ExtUsage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        })
        .collect();
    // Off by default in rcgen; Go always writes it and chain building uses it.
    p.use_authority_key_identifier_extension = true;
    let issuer =
        Issuer::from_ca_cert_der(&ca_cert.der.as_slice().into(), ca_key.key_pair()).map_err(err)?;
    let c = p.signed_by(key.key_pair(), &issuer).map_err(err)?;
    parse_cert_der(c.der(), Path::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyAlgorithm;
    use crate::pki::keys::generate_key;
    use x509_parser::prelude::{FromDer, X509Certificate};

    fn ca_cfg() -> CertConfig {
        CertConfig {
            common_name: "kubernetes".into(),
            organization: None,
            alt_names: AltNames {
                dns: vec!["kubernetes".into()],
                ips: vec![],
            },
            usages: vec![],
            validity: Duration::from_secs(10 * 365 * 86400),
        }
    }

    fn leaf_cfg(validity_days: u64) -> CertConfig {
        CertConfig {
            common_name: "kube-apiserver".into(),
            organization: Some("example:group".into()),
            alt_names: AltNames {
                dns: vec!["kubernetes".into(), "cp-1".into()],
                ips: vec!["10.96.0.1".parse().unwrap(), "::1".parse().unwrap()],
            },
            usages: vec![ExtUsage::Server, ExtUsage::Client],
            validity: Duration::from_secs(validity_days * 86400),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn ca_has_kubeadm_extensions_and_validity() {
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let ca = generate_ca_cert(&ca_cfg(), &key, now()).unwrap();
        assert!(ca.is_ca);
        assert!(ca.matches_key(&key));
        assert_eq!(ca.not_before, now() - TimeDuration::minutes(5));
        assert_eq!(ca.not_after, now() + TimeDuration::days(10 * 365));
        assert_eq!(ca.alt_names.dns, ["kubernetes"]);
        assert!(ca.is_signed_by(&ca));
        let (_, x) = X509Certificate::from_der(&ca.der).unwrap();
        let ku = x.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert!(ku.value.digital_signature() && ku.value.key_encipherment());
        assert!(ku.value.key_cert_sign());
        let bc = x.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        assert!(
            x.get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn leaf_is_signed_with_aki_usages_and_capped_validity() {
        let ca_key = generate_key(KeyAlgorithm::EcdsaP384).unwrap();
        let ca = generate_ca_cert(&ca_cfg(), &ca_key, now()).unwrap();
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = generate_signed_cert(&leaf_cfg(365), &key, &ca, &ca_key, now()).unwrap();
        assert!(leaf.is_signed_by(&ca));
        assert!(leaf.matches_key(&key) && !leaf.matches_key(&ca_key));
        assert!(!leaf.is_ca);
        assert!(leaf.server_auth && leaf.client_auth);
        assert_eq!(leaf.common_name, "kube-apiserver");
        assert_eq!(leaf.organizations, ["example:group"]);
        assert_eq!(leaf.issuer_common_name, "kubernetes");
        assert_eq!(leaf.alt_names, leaf_cfg(1).alt_names);
        assert_eq!(leaf.not_before, now() - TimeDuration::minutes(5));
        assert_eq!(leaf.not_after, now() + TimeDuration::days(365));

        let (_, x) = X509Certificate::from_der(&leaf.der).unwrap();
        let aki = x
            .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
            .unwrap();
        assert!(aki.is_some());
        let ku = x.key_usage().unwrap().unwrap();
        assert!(ku.value.digital_signature() && ku.value.key_encipherment());
        assert!(!ku.value.key_cert_sign());

        // A leaf asking to outlive its CA ends with the CA.
        let long = generate_signed_cert(&leaf_cfg(20 * 365), &key, &ca, &ca_key, now()).unwrap();
        assert_eq!(long.not_after, ca.not_after);

        // Another CA's leaf does not verify against this CA.
        let other_key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let other = generate_ca_cert(&ca_cfg(), &other_key, now()).unwrap();
        assert!(!leaf.is_signed_by(&other));
    }

    #[test]
    fn serials_are_random_positive_and_not_key_derived() {
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let a = generate_ca_cert(&ca_cfg(), &key, now()).unwrap();
        let b = generate_ca_cert(&ca_cfg(), &key, now()).unwrap();
        assert_ne!(
            a.serial, b.serial,
            "same key, same params, different serials"
        );
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let s = random_serial().to_bytes();
            assert_eq!(s.len(), 16);
            assert!(s[0] & 0x80 == 0 && s[0] != 0);
            assert!(seen.insert(s));
        }
        assert!(a.serial.len() >= 16 && a.serial[0] & 0x80 == 0);
    }

    #[test]
    fn huge_validity_saturates_instead_of_overflowing() {
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let mut cfg = ca_cfg();
        cfg.validity = Duration::from_secs(1_000_000_000_000);
        let ca = generate_ca_cert(&cfg, &key, now()).unwrap();
        assert_eq!(ca.not_after.year(), 9999);
    }
}
