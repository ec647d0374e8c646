//! Converging the PKI directory: reuse what is valid, generate what is missing, complete what
//! an interrupted run left (a key without its certificate), and refuse, naming the file and the
//! fix, anything else half-present or wrong. Nothing is ever overwritten.
//! kubeadm: `app/phases/certs/certs.go` (`writeCertificateAuthorityFilesIfNotExist`,
//! `writeCertificateFilesIfNotExist`, `CreateServiceAccountKeyAndPublicKeyFiles`).

use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::ca::{Ca, load_ca, validate_period};
use super::cert::{Cert, load_cert};
use super::error::{Detail, Error, Result};
use super::issue::{CertConfig, generate_ca_cert};
use super::keys::{KeyPool, PrivateKey, load_key};
use super::sans::alt_names;
use super::spec::{CERTS, CertSpec, ExtUsage, SA_KEY_FILE, SA_PUB_FILE, certs_for};
use crate::config::ResolvedConfig;
use crate::host::owned::write_recorded;

/// Mode of certificates and public files kubeadm makes world-readable.
pub const CERT_MODE: u32 = 0o644;
/// Mode of private keys (and `sa.pub`, which kubeadm writes with `WriteKey`).
pub const KEY_MODE: u32 = 0o600;

/// What [`ensure_cert`] did.
#[derive(Debug)]
pub enum CertOutcome {
    /// A new key and certificate were written (both files).
    Generated(Cert),
    /// A valid certificate and key already on disk were kept.
    Reused(Cert),
    /// A CA certificate without its key, with every certificate it signs present: external
    /// CA mode. Nothing was written.
    ExternalCa(Cert),
}

/// What [`ensure_sa`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaOutcome {
    /// `sa.key` and `sa.pub` were written.
    Generated,
    /// Both existed and match.
    Reused,
    /// `sa.key` existed; the missing `sa.pub` was derived from it and written.
    DerivedPublicKey,
}

/// Makes sure `spec`'s certificate and key exist in `dir` and are valid for `cfg`.
///
/// A CA is reused when present (never replaced); a leaf is reused when its key matches, its
/// CA signed it, and its CN, SANs, usages and validity fit. Missing pairs are generated with
/// a key from `keys`. A key without its certificate (a run killed between the two writes)
/// keeps its key and gets the certificate; for a CA key only while nothing the CA signs exists.
///
/// # Errors
/// A certificate without its key, or a CA key without its certificate next to certificates
/// it signed ([`Error::IncompletePair`]), [`Error::KeyMismatch`], [`Error::WrongIssuer`],
/// [`Error::WrongCommonName`], [`Error::MissingSans`], [`Error::MissingUsages`],
/// [`Error::Expired`], [`Error::NotYetValid`], [`Error::NotCa`], a missing CA
/// ([`Error::MissingCa`]) or CA key ([`Error::MissingCaKey`], [`Error::ExternalCaIncomplete`]),
/// read, parse, sign and write errors. Every error names the file.
pub fn ensure_cert(
    spec: &'static CertSpec,
    cfg: &ResolvedConfig,
    dir: &Path,
    keys: &mut KeyPool,
) -> Result<CertOutcome> {
    ensure_cert_at(spec, cfg, dir, keys, OffsetDateTime::now_utc())
}

/// [`ensure_cert`] at a given time (tests use a fixed clock).
///
/// # Errors
/// As [`ensure_cert`].
pub fn ensure_cert_at(
    spec: &'static CertSpec,
    cfg: &ResolvedConfig,
    dir: &Path,
    keys: &mut KeyPool,
    now: OffsetDateTime,
) -> Result<CertOutcome> {
    match spec.ca_spec() {
        None => ensure_ca(spec, cfg, dir, keys, now),
        Some(ca) => ensure_leaf(spec, ca, cfg, dir, keys, now),
    }
}

/// Whether [`ensure_cert`] would need a new key for `spec` (neither file exists).
#[must_use]
pub fn cert_needs_key(spec: &CertSpec, dir: &Path) -> bool {
    !dir.join(spec.cert_file()).exists() && !dir.join(spec.key_file()).exists()
}

/// Whether [`ensure_sa`] would need a new key.
#[must_use]
pub fn sa_needs_key(dir: &Path) -> bool {
    !dir.join(SA_KEY_FILE).exists() && !dir.join(SA_PUB_FILE).exists()
}

/// The certificate config (`CertConfig`) `spec` gets under `cfg`.
#[must_use]
pub fn cert_config(spec: &CertSpec, cfg: &ResolvedConfig) -> CertConfig {
    CertConfig {
        common_name: spec.common_name(cfg),
        organization: spec.org.map(str::to_string),
        alt_names: alt_names(spec, cfg),
        usages: spec.usages.to_vec(),
        validity: if spec.is_ca() {
            cfg.ca_validity
        } else {
            cfg.cert_validity
        },
    }
}

/// Which of the two files exist; errors for exactly one.
fn pair_state(cert: &Path, key: &Path) -> Result<bool> {
    match (cert.exists(), key.exists()) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (true, false) => Err(Error::IncompletePair {
            present: cert.to_path_buf(),
            missing: key.to_path_buf(),
        }),
        (false, true) => Err(Error::IncompletePair {
            present: key.to_path_buf(),
            missing: cert.to_path_buf(),
        }),
    }
}

/// Key first, then certificate (kubeadm's order), so a crash leaves no certificate whose key
/// was never written.
fn write_pair(cert_path: &Path, cert: &Cert, key_path: &Path, key: &PrivateKey) -> Result<()> {
    write_recorded(key_path, key.to_pem()?.as_bytes(), KEY_MODE)?;
    write_recorded(cert_path, cert.pem.as_bytes(), CERT_MODE)?;
    Ok(())
}

fn ensure_ca(
    spec: &'static CertSpec,
    cfg: &ResolvedConfig,
    dir: &Path,
    keys: &mut KeyPool,
    now: OffsetDateTime,
) -> Result<CertOutcome> {
    let cert_path = dir.join(spec.cert_file());
    let key_path = dir.join(spec.key_file());
    if cert_path.exists() {
        if !key_path.exists() {
            // kubeadm's external CA mode: fine only if everything it would sign exists.
            let missing: Vec<PathBuf> = certs_for(cfg.is_external_etcd())
                .filter(|c| c.ca == Some(spec.name))
                .flat_map(|c| [dir.join(c.cert_file()), dir.join(c.key_file())])
                .filter(|p| !p.exists())
                .collect();
            if !missing.is_empty() {
                return Err(Error::ExternalCaIncomplete {
                    ca: cert_path,
                    ca_key: key_path,
                    missing,
                });
            }
            let ca = load_ca(spec, dir, now)?;
            return Ok(CertOutcome::ExternalCa(ca.cert));
        }
        let ca = load_ca(spec, dir, now)?;
        return Ok(CertOutcome::Reused(ca.cert));
    }
    if key_path.exists() {
        // A CA key without its certificate. plinth writes the CA pair before anything the CA
        // signs, so if nothing it could have signed is here, this is a run killed between
        // the key and the certificate: no CA exists yet, nothing trusts one, and the
        // certificate is issued for the key on disk (reused, not replaced, so even a
        // certificate signed with it elsewhere still verifies). If a leaf of this CA exists,
        // its ca.crt was lost after the fact: that is not ours to recreate (plinth never
        // replaces a CA), so it stays an error asking for the file.
        let signed = CERTS
            .iter()
            .filter(|c| c.ca == Some(spec.name))
            .flat_map(|c| [dir.join(c.cert_file()), dir.join(c.key_file())])
            .any(|p| p.exists());
        if signed {
            return Err(Error::IncompletePair {
                present: key_path,
                missing: cert_path,
            });
        }
        let key = load_key(&key_path)?;
        let cert = generate_ca_cert(&cert_config(spec, cfg), &key, now)?;
        write_recorded(&cert_path, cert.pem.as_bytes(), CERT_MODE)?;
        return Ok(CertOutcome::Generated(cert));
    }
    let key = keys.take()?;
    let cert = generate_ca_cert(&cert_config(spec, cfg), &key, now)?;
    write_pair(&cert_path, &cert, &key_path, &key)?;
    Ok(CertOutcome::Generated(cert))
}

fn ensure_leaf(
    spec: &'static CertSpec,
    ca_spec: &'static CertSpec,
    cfg: &ResolvedConfig,
    dir: &Path,
    keys: &mut KeyPool,
    now: OffsetDateTime,
) -> Result<CertOutcome> {
    let cert_path = dir.join(spec.cert_file());
    let key_path = dir.join(spec.key_file());
    // A certificate without its key is an error (the key is lost; write_pair writes the key
    // first, so no crash of ours leaves that). A key without its certificate is what a run
    // killed between the two writes leaves: it is reused below.
    let (exists, orphan_key) = match pair_state(&cert_path, &key_path) {
        Err(Error::IncompletePair { present, .. }) if present == key_path => (false, true),
        other => (other?, false),
    };
    let ca_cert_path = dir.join(ca_spec.cert_file());
    if !ca_cert_path.exists() {
        return Err(Error::MissingCa {
            cert: cert_path,
            ca: ca_cert_path,
            ca_name: ca_spec.name,
        });
    }
    let ca = load_ca(ca_spec, dir, now)?;
    let want = cert_config(spec, cfg);
    if exists {
        let cert = load_cert(&cert_path)?;
        let key = load_key(&key_path)?;
        validate_leaf(&cert, &key, &want, &ca, &cert_path, &key_path, now)?;
        return Ok(CertOutcome::Reused(cert));
    }
    if !ca.can_sign() {
        return Err(Error::MissingCaKey {
            cert: cert_path,
            ca_key: ca.key_path,
        });
    }
    if orphan_key {
        // Reuse the key rather than replace it: nothing is overwritten (plinth never
        // overwrites), the key pool was sized for it (`cert_needs_key` counts the pair as
        // present), and a key placed there on purpose gets its certificate, as
        // `kubeadm certs renew` keeps keys. A key that does not parse stays an error naming it.
        let key = load_key(&key_path)?;
        let cert = ca.sign(&want, &key, &cert_path, now)?;
        write_recorded(&cert_path, cert.pem.as_bytes(), CERT_MODE)?;
        return Ok(CertOutcome::Generated(cert));
    }
    let key = keys.take()?;
    let cert = ca.sign(&want, &key, &cert_path, now)?;
    write_pair(&cert_path, &cert, &key_path, &key)?;
    Ok(CertOutcome::Generated(cert))
}

/// Checks an existing leaf against what the config requires.
pub(crate) fn validate_leaf(
    cert: &Cert,
    key: &PrivateKey,
    want: &CertConfig,
    ca: &Ca,
    cert_path: &Path,
    key_path: &Path,
    now: OffsetDateTime,
) -> Result<()> {
    let (c, k) = (cert_path.to_path_buf(), key_path.to_path_buf());
    if !cert.matches_key(key) {
        return Err(Error::KeyMismatch {
            cert: c,
            key: k.clone(),
            fix: format!(
                ", or remove {} and {} to have plinth issue a new pair",
                cert_path.display(),
                key_path.display()
            ),
        });
    }
    if !cert.is_signed_by(&ca.cert) {
        return Err(Error::WrongIssuer {
            cert: c,
            key: k,
            ca: ca.cert_path.clone(),
        });
    }
    if cert.common_name != want.common_name {
        return Err(Error::WrongCommonName {
            cert: c,
            key: k,
            expected: want.common_name.clone(),
            found: cert.common_name.clone(),
        });
    }
    let missing = want.alt_names.missing_from(&cert.alt_names);
    if !missing.is_empty() {
        return Err(Error::MissingSans {
            cert: c,
            key: k,
            missing,
        });
    }
    let missing: Vec<&'static str> = want
        .usages
        .iter()
        .filter_map(|u| match u {
            ExtUsage::Server if !cert.server_auth => Some("serverAuth"),
            ExtUsage::Client if !cert.client_auth => Some("clientAuth"),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingUsages {
            cert: c,
            key: k,
            missing,
        });
    }
    validate_period(
        cert,
        cert_path,
        now,
        &format!(
            "remove {} and {} to have plinth issue a new one",
            cert_path.display(),
            key_path.display()
        ),
    )
}

/// Makes sure the service-account key pair `sa.key`/`sa.pub` exists in `dir`.
///
/// Both present and matching: reused. Only `sa.key`: `sa.pub` is derived from it. Only
/// `sa.pub`: error (the private half cannot be recovered). Neither: generated.
///
/// # Errors
/// [`Error::IncompletePair`], [`Error::KeyMismatch`], read, parse and write errors.
pub fn ensure_sa(dir: &Path, keys: &mut KeyPool) -> Result<SaOutcome> {
    let key_path = dir.join(SA_KEY_FILE);
    let pub_path = dir.join(SA_PUB_FILE);
    match (key_path.exists(), pub_path.exists()) {
        (true, true) => {
            let key = load_key(&key_path)?;
            let text = std::fs::read_to_string(&pub_path).map_err(|source| Error::ReadFile {
                path: pub_path.clone(),
                source,
            })?;
            if public_key_raw(&text, &pub_path)? != key.public_key_raw() {
                return Err(Error::KeyMismatch {
                    cert: pub_path,
                    key: key_path,
                    fix: format!(
                        ", or remove {} to have plinth derive it from {} (tokens signed with the old key stop validating)",
                        dir.join(SA_PUB_FILE).display(),
                        dir.join(SA_KEY_FILE).display()
                    ),
                });
            }
            Ok(SaOutcome::Reused)
        }
        (true, false) => {
            let key = load_key(&key_path)?;
            write_recorded(&pub_path, key.public_key_pem().as_bytes(), KEY_MODE)?;
            Ok(SaOutcome::DerivedPublicKey)
        }
        (false, true) => Err(Error::IncompletePair {
            present: pub_path,
            missing: key_path,
        }),
        (false, false) => {
            let key = keys.take()?;
            write_recorded(&key_path, key.to_pem()?.as_bytes(), KEY_MODE)?;
            write_recorded(&pub_path, key.public_key_pem().as_bytes(), KEY_MODE)?;
            Ok(SaOutcome::Generated)
        }
    }
}

/// The subjectPublicKey bits of a PKIX `PUBLIC KEY` PEM.
fn public_key_raw(text: &str, path: &Path) -> Result<Vec<u8>> {
    let err = |m: String| Error::ParseKey {
        path: path.to_path_buf(),
        source: Detail(m),
    };
    let block = pem::parse(text).map_err(|e| err(e.to_string()))?;
    if block.tag() != "PUBLIC KEY" {
        return Err(err(format!("expected PUBLIC KEY, found {}", block.tag())));
    }
    let (_, spki) =
        SubjectPublicKeyInfo::from_der(block.contents()).map_err(|e| err(e.to_string()))?;
    Ok(spki.subject_public_key.data.to_vec())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use ::time::Duration as TimeDuration;

    use super::*;
    use crate::config::KeyAlgorithm;
    use crate::host::fs::write_atomic;
    use crate::pki::issue::generate_signed_cert;
    use crate::pki::keys::generate_key;
    use crate::pki::spec::{CERTS, find};
    use crate::pki::testutil::{cfg, snapshot};

    fn spec(name: &str) -> &'static CertSpec {
        find(name).unwrap()
    }

    /// Generates the whole PKI for `c` into a new temp dir.
    fn full(c: &ResolvedConfig) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::generate(c.key_algorithm, 11).unwrap();
        for s in certs_for(c.is_external_etcd()) {
            ensure_cert(s, c, d.path(), &mut keys).unwrap();
        }
        ensure_sa(d.path(), &mut keys).unwrap();
        d
    }

    /// Runs `f`, expecting an error whose message contains every `needle`, and checks that
    /// nothing under `dir` changed.
    fn fails_untouched(
        dir: &Path,
        needles: &[&str],
        f: impl FnOnce() -> Result<CertOutcome>,
    ) -> Error {
        let before = snapshot(dir);
        let e = f().unwrap_err();
        let msg = e.to_string();
        for n in needles {
            assert!(msg.contains(n), "{msg:?} should mention {n:?}");
        }
        assert_eq!(snapshot(dir), before, "nothing may change on error");
        e
    }

    #[test]
    fn fresh_dir_gets_every_file_with_kubeadm_modes_and_reruns_reuse() {
        let c = cfg("", "");
        let d = full(&c);
        for s in CERTS.iter() {
            let crt = d.path().join(s.cert_file());
            let key = d.path().join(s.key_file());
            assert_eq!(
                std::fs::metadata(&crt).unwrap().permissions().mode() & 0o777,
                0o644
            );
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert!(
                std::fs::read_to_string(&key)
                    .unwrap()
                    .starts_with("-----BEGIN EC PRIVATE KEY-----")
            );
        }
        for f in [SA_KEY_FILE, SA_PUB_FILE] {
            assert_eq!(
                std::fs::metadata(d.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        assert_eq!(
            std::fs::metadata(d.path().join("etcd"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755 & !umask()
        );

        let before = snapshot(d.path());
        let mut keys = KeyPool::empty(c.key_algorithm);
        for s in CERTS.iter() {
            let o = ensure_cert(s, &c, d.path(), &mut keys).unwrap();
            assert!(matches!(o, CertOutcome::Reused(_)), "{}: {o:?}", s.name);
        }
        assert_eq!(ensure_sa(d.path(), &mut keys).unwrap(), SaOutcome::Reused);
        assert_eq!(snapshot(d.path()), before);
    }

    fn umask() -> u32 {
        // The directory mode is subject to the umask; read it back from a fresh dir.
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        std::fs::DirBuilder::new().create(&p).unwrap();
        0o777 & !(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777)
    }

    #[test]
    fn generated_leaves_carry_the_config() {
        let c = cfg(
            "nodeRegistration:\n  name: node-x",
            "apiServer:\n  certSANs: [api.example.com]",
        );
        let d = full(&c);
        let api = load_cert(&d.path().join("apiserver.crt")).unwrap();
        assert_eq!(api.common_name, "kube-apiserver");
        assert!(api.alt_names.dns.contains(&"api.example.com".to_string()));
        assert!(api.alt_names.dns.contains(&"node-x".to_string()));
        assert!(api.server_auth && !api.client_auth);
        let ca = load_cert(&d.path().join("ca.crt")).unwrap();
        assert!(api.is_signed_by(&ca));
        // kubeadm's window: five minutes backdated, the period counted from now.
        let five = TimeDuration::minutes(5);
        assert_eq!(
            api.not_after - api.not_before,
            TimeDuration::days(365) + five
        );
        assert_eq!(
            ca.not_after - ca.not_before,
            TimeDuration::days(3650) + five
        );
        let peer = load_cert(&d.path().join("etcd/peer.crt")).unwrap();
        assert_eq!(peer.common_name, "node-x");
        assert!(peer.is_signed_by(&load_cert(&d.path().join("etcd/ca.crt")).unwrap()));
        assert!(!peer.is_signed_by(&ca));
        let hc = load_cert(&d.path().join("etcd/healthcheck-client.crt")).unwrap();
        assert!(hc.organizations.is_empty());
        let fp = load_cert(&d.path().join("front-proxy-client.crt")).unwrap();
        assert!(fp.is_signed_by(&load_cert(&d.path().join("front-proxy-ca.crt")).unwrap()));
    }

    #[test]
    fn half_a_pair_is_an_error_naming_both_files() {
        let c = cfg("", "");
        let d = full(&c);
        std::fs::remove_file(d.path().join("apiserver.key")).unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = fails_untouched(
            d.path(),
            &["apiserver.key", "apiserver.crt", "remove"],
            || ensure_cert(spec("apiserver"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::IncompletePair { .. }));
        std::fs::remove_file(d.path().join("ca.crt")).unwrap();
        fails_untouched(d.path(), &["ca.key exists but", "ca.crt"], || {
            ensure_cert(spec("ca"), &c, d.path(), &mut keys)
        });
    }

    #[test]
    fn a_leaf_key_left_without_its_certificate_gets_one_and_is_kept() {
        let c = cfg("", "");
        let d = full(&c);
        for leaf in ["apiserver", "etcd-peer"] {
            let s = spec(leaf);
            std::fs::remove_file(d.path().join(s.cert_file())).unwrap();
            let key_before = std::fs::read(d.path().join(s.key_file())).unwrap();
            let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
            let o = ensure_cert(s, &c, d.path(), &mut keys).unwrap();
            assert!(matches!(o, CertOutcome::Generated(_)), "{leaf}: {o:?}");
            assert_eq!(
                std::fs::read(d.path().join(s.key_file())).unwrap(),
                key_before,
                "{leaf}: the key is reused, not replaced"
            );
            let cert = load_cert(&d.path().join(s.cert_file())).unwrap();
            assert!(cert.matches_key(&load_key(&d.path().join(s.key_file())).unwrap()));
            let ca = load_cert(&d.path().join(s.ca_spec().unwrap().cert_file())).unwrap();
            assert!(cert.is_signed_by(&ca), "{leaf}");
            assert_eq!(
                std::fs::metadata(d.path().join(s.cert_file()))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o644
            );
            // And the next run reuses the completed pair.
            assert!(matches!(
                ensure_cert(s, &c, d.path(), &mut keys).unwrap(),
                CertOutcome::Reused(_)
            ));
        }
    }

    #[test]
    fn a_ca_key_without_any_ca_certificate_is_completed_with_that_key() {
        let c = cfg("", "");
        let d = tempfile::tempdir().unwrap();
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let pem = key.to_pem().unwrap();
        write_atomic(&d.path().join("etcd/ca.key"), pem.as_bytes(), KEY_MODE).unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let o = ensure_cert(spec("etcd-ca"), &c, d.path(), &mut keys).unwrap();
        assert!(matches!(o, CertOutcome::Generated(_)), "{o:?}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("etcd/ca.key")).unwrap(),
            pem
        );
        let ca = load_cert(&d.path().join("etcd/ca.crt")).unwrap();
        assert!(ca.is_ca && ca.matches_key(&key));
        assert!(matches!(
            ensure_cert(spec("etcd-ca"), &c, d.path(), &mut keys).unwrap(),
            CertOutcome::Reused(_)
        ));
    }

    #[test]
    fn a_ca_key_whose_certificate_is_lost_after_signing_is_refused() {
        let c = cfg("", "");
        let d = full(&c);
        // Only the leaf's key is left of what etcd-ca signed: still evidence of a CA.
        for s in CERTS.iter().filter(|s| s.ca == Some("etcd-ca")) {
            std::fs::remove_file(d.path().join(s.cert_file())).unwrap();
            if s.name != "etcd-server" {
                std::fs::remove_file(d.path().join(s.key_file())).unwrap();
            }
        }
        std::fs::remove_file(d.path().join("etcd/ca.crt")).unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = fails_untouched(
            d.path(),
            &["etcd/ca.key exists but", "etcd/ca.crt does not", "restore"],
            || ensure_cert(spec("etcd-ca"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::IncompletePair { .. }));
    }

    #[test]
    fn a_key_that_does_not_match_is_an_error() {
        let c = cfg("", "");
        let d = full(&c);
        let other = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        write_atomic(
            &d.path().join("apiserver.key"),
            other.to_pem().unwrap().as_bytes(),
            KEY_MODE,
        )
        .unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = fails_untouched(
            d.path(),
            &["apiserver.key does not match", "apiserver.crt"],
            || ensure_cert(spec("apiserver"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::KeyMismatch { .. }));

        write_atomic(
            &d.path().join("etcd/ca.key"),
            other.to_pem().unwrap().as_bytes(),
            KEY_MODE,
        )
        .unwrap();
        fails_untouched(
            d.path(),
            &["etcd/ca.key does not match", "never replaces a CA"],
            || ensure_cert(spec("etcd-ca"), &c, d.path(), &mut keys),
        );
        // The leaves of that CA fail too rather than being re-signed.
        fails_untouched(d.path(), &["etcd/ca.key"], || {
            ensure_cert(spec("etcd-server"), &c, d.path(), &mut keys)
        });
    }

    #[test]
    fn a_leaf_from_another_ca_is_an_error() {
        let c = cfg("", "");
        let d = full(&c);
        let other = full(&c);
        for f in ["apiserver.crt", "apiserver.key"] {
            std::fs::copy(other.path().join(f), d.path().join(f)).unwrap();
        }
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = fails_untouched(
            d.path(),
            &["apiserver.crt is not signed by", "ca.crt", "remove"],
            || ensure_cert(spec("apiserver"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::WrongIssuer { .. }));
        // Signed by the right CA's sibling (front-proxy-ca) is wrong too.
        let fp_ca = load_ca(spec("front-proxy-ca"), d.path(), OffsetDateTime::now_utc()).unwrap();
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = generate_signed_cert(
            &cert_config(spec("apiserver"), &c),
            &key,
            &fp_ca.cert,
            fp_ca.key.as_ref().unwrap(),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        write_pair(
            &d.path().join("apiserver.crt"),
            &leaf,
            &d.path().join("apiserver.key"),
            &key,
        )
        .unwrap();
        fails_untouched(d.path(), &["apiserver.crt is not signed by"], || {
            ensure_cert(spec("apiserver"), &c, d.path(), &mut keys)
        });
    }

    #[test]
    fn missing_sans_wrong_cn_and_usages_are_errors() {
        let c = cfg("", "");
        let d = full(&c);
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let more = cfg("", "apiServer:\n  certSANs: [api.example.com, 10.9.9.9]");
        let e = fails_untouched(
            d.path(),
            &[
                "apiserver.crt lacks",
                "DNS:api.example.com, IP:10.9.9.9",
                "remove",
                "apiserver.key",
            ],
            || ensure_cert(spec("apiserver"), &more, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::MissingSans { .. }));

        let renamed = cfg("nodeRegistration:\n  name: cp-2", "");
        let e = fails_untouched(
            d.path(),
            &["etcd/server.crt has common name \"cp-1\"", "\"cp-2\""],
            || ensure_cert(spec("etcd-server"), &renamed, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::WrongCommonName { .. }));

        // A client certificate where a server one is needed.
        for f in ["crt", "key"] {
            std::fs::copy(
                d.path().join(format!("apiserver-kubelet-client.{f}")),
                d.path().join(format!("apiserver.{f}")),
            )
            .unwrap();
        }
        fails_untouched(d.path(), &["apiserver.crt has common name"], || {
            ensure_cert(spec("apiserver"), &c, d.path(), &mut keys)
        });
    }

    #[test]
    fn expired_and_not_yet_valid_certs_are_errors() {
        let c = cfg("", "");
        let d = full(&c);
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let later = OffsetDateTime::now_utc() + TimeDuration::days(400);
        let e = fails_untouched(d.path(), &["apiserver.crt expired on", "remove"], || {
            ensure_cert_at(spec("apiserver"), &c, d.path(), &mut keys, later)
        });
        assert!(matches!(e, Error::Expired { .. }));
        // The CA is still fine then.
        assert!(matches!(
            ensure_cert_at(spec("ca"), &c, d.path(), &mut keys, later).unwrap(),
            CertOutcome::Reused(_)
        ));
        let much_later = OffsetDateTime::now_utc() + TimeDuration::days(3700);
        fails_untouched(
            d.path(),
            &["ca.crt expired on", "an invalid CA cannot be reused"],
            || ensure_cert_at(spec("ca"), &c, d.path(), &mut keys, much_later),
        );
        let earlier = OffsetDateTime::now_utc() - TimeDuration::days(1);
        let e = fails_untouched(
            d.path(),
            &["ca.crt is not valid before", "system clock"],
            || ensure_cert_at(spec("ca"), &c, d.path(), &mut keys, earlier),
        );
        assert!(matches!(e, Error::NotYetValid { .. }));
    }

    #[test]
    fn external_ca_mode_needs_every_signed_cert() {
        let c = cfg("", "");
        let d = full(&c);
        std::fs::remove_file(d.path().join("ca.key")).unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        assert!(matches!(
            ensure_cert(spec("ca"), &c, d.path(), &mut keys).unwrap(),
            CertOutcome::ExternalCa(_)
        ));
        // Leaves signed by it are checked and reused.
        assert!(matches!(
            ensure_cert(spec("apiserver"), &c, d.path(), &mut keys).unwrap(),
            CertOutcome::Reused(_)
        ));
        // A missing leaf cannot be issued.
        std::fs::remove_file(d.path().join("apiserver.crt")).unwrap();
        std::fs::remove_file(d.path().join("apiserver.key")).unwrap();
        let e = fails_untouched(
            d.path(),
            &["ca.crt exists without", "apiserver.crt", "apiserver.key"],
            || ensure_cert(spec("ca"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::ExternalCaIncomplete { .. }));
        let e = fails_untouched(
            d.path(),
            &["cannot issue", "apiserver.crt", "ca.key does not exist"],
            || ensure_cert(spec("apiserver"), &c, d.path(), &mut keys),
        );
        assert!(matches!(e, Error::MissingCaKey { .. }));
    }

    #[test]
    fn external_etcd_ignores_etcd_certs_for_external_ca_mode() {
        let c = cfg(
            "",
            "etcd:\n  external:\n    endpoints: [https://10.0.0.2:2379]\n    caFile: /etc/etcd/ca.crt\n    certFile: /etc/etcd/client.crt\n    keyFile: /etc/etcd/client.key",
        );
        assert!(c.is_external_etcd());
        let d = full(&c);
        assert!(!d.path().join("etcd").exists());
        assert!(!d.path().join("apiserver-etcd-client.crt").exists());
        std::fs::remove_file(d.path().join("ca.key")).unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        assert!(matches!(
            ensure_cert(spec("ca"), &c, d.path(), &mut keys).unwrap(),
            CertOutcome::ExternalCa(_)
        ));
    }

    #[test]
    fn a_leaf_without_its_ca_names_the_phase_to_run() {
        let c = cfg("", "");
        let d = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = ensure_cert(spec("etcd-peer"), &c, d.path(), &mut keys).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("etcd/ca.crt does not exist") && msg.contains("certs etcd-ca"),
            "{msg}"
        );
        assert!(snapshot(d.path()).is_empty());
    }

    #[test]
    fn sa_pair_is_reused_derived_or_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::Rsa2048);
        assert_eq!(
            ensure_sa(d.path(), &mut keys).unwrap(),
            SaOutcome::Generated
        );
        let key_text = std::fs::read_to_string(d.path().join(SA_KEY_FILE)).unwrap();
        assert!(key_text.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let pub_text = std::fs::read_to_string(d.path().join(SA_PUB_FILE)).unwrap();
        assert!(pub_text.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(ensure_sa(d.path(), &mut keys).unwrap(), SaOutcome::Reused);

        std::fs::remove_file(d.path().join(SA_PUB_FILE)).unwrap();
        assert_eq!(
            ensure_sa(d.path(), &mut keys).unwrap(),
            SaOutcome::DerivedPublicKey
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join(SA_PUB_FILE)).unwrap(),
            pub_text
        );

        let other = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        write_atomic(
            &d.path().join(SA_PUB_FILE),
            other.public_key_pem().as_bytes(),
            KEY_MODE,
        )
        .unwrap();
        let before = snapshot(d.path());
        let e = ensure_sa(d.path(), &mut keys).unwrap_err();
        assert!(
            e.to_string()
                .contains("sa.key does not match the public key in"),
            "{e}"
        );
        assert_eq!(snapshot(d.path()), before);

        std::fs::remove_file(d.path().join(SA_KEY_FILE)).unwrap();
        let e = ensure_sa(d.path(), &mut keys).unwrap_err();
        assert!(e.to_string().contains("sa.pub exists but"), "{e}");
    }

    #[test]
    fn needs_key_counts_only_absent_pairs() {
        let c = cfg("", "");
        let d = full(&c);
        assert!(CERTS.iter().all(|s| !cert_needs_key(s, d.path())));
        assert!(!sa_needs_key(d.path()));
        let e = tempfile::tempdir().unwrap();
        assert!(CERTS.iter().all(|s| cert_needs_key(s, e.path())));
        assert!(sa_needs_key(e.path()));
    }

    #[test]
    fn existing_rsa_pki_is_reused_under_an_ecdsa_config() {
        // Changing encryptionAlgorithm later must not invalidate what is on disk.
        let rsa = cfg("", "encryptionAlgorithm: RSA-2048");
        let d = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::generate(KeyAlgorithm::Rsa2048, 2).unwrap();
        ensure_cert(spec("ca"), &rsa, d.path(), &mut keys).unwrap();
        ensure_cert(spec("apiserver"), &rsa, d.path(), &mut keys).unwrap();
        let ec = cfg("", "");
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        assert!(matches!(
            ensure_cert(spec("apiserver"), &ec, d.path(), &mut keys).unwrap(),
            CertOutcome::Reused(_)
        ));
        // New leaves get ECDSA keys signed by the RSA CA.
        ensure_cert(spec("apiserver-kubelet-client"), &ec, d.path(), &mut keys).unwrap();
        let k = load_key(&d.path().join("apiserver-kubelet-client.key")).unwrap();
        assert_eq!(k.kind(), crate::pki::KeyKind::EcdsaP256);
        assert!(
            load_cert(&d.path().join("apiserver-kubelet-client.crt"))
                .unwrap()
                .is_signed_by(&load_cert(&d.path().join("ca.crt")).unwrap())
        );
    }
}
