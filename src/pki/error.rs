//! `pki::Error`: every failure names the file or certificate, and validation failures say how
//! to fix them. Causes sit in `#[source]` only.

use std::path::PathBuf;

use crate::config::KeyAlgorithm;
use crate::host::fs::FsError;

/// A cause that only exists as text (x509-parser's nom errors, DER re-wrapping problems).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Detail(pub(crate) String);

/// A PKI operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file failed.
    #[error("failed to read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate file is not a PEM X.509 certificate.
    #[error("failed to parse certificate {}", path.display())]
    ParseCert {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Detail,
    },
    /// A key file is not a PEM private or public key.
    #[error("failed to parse key {}", path.display())]
    ParseKey {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Detail,
    },
    /// A key is of a type kubeadm does not accept (only RSA and ECDSA are).
    #[error("{} holds a key that is neither RSA nor ECDSA P-256/P-384", path.display())]
    UnsupportedKey {
        /// The file.
        path: PathBuf,
    },
    /// Generating a private key failed.
    #[error("failed to generate a {algorithm} private key")]
    GenerateKey {
        /// The algorithm.
        algorithm: KeyAlgorithm,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// Encoding a private key as PEM failed.
    #[error("failed to encode a private key as PEM")]
    EncodeKey {
        /// The cause.
        #[source]
        source: Detail,
    },
    /// Issuing (signing) a certificate failed.
    #[error("failed to sign certificate {cert}")]
    SignCert {
        /// The certificate name.
        cert: String,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// Only one half of a certificate/key pair exists.
    #[error(
        "{} exists but {} does not; restore {}, or remove {} to have plinth issue a new pair",
        present.display(), missing.display(), missing.display(), present.display()
    )]
    IncompletePair {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A private key does not belong to its certificate.
    #[error(
        "{} does not match the public key in {}; restore the matching key{}",
        key.display(), cert.display(), fix
    )]
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
        /// How to fix it, beyond restoring the key.
        fix: String,
    },
    /// A certificate that must be a CA is not one.
    #[error(
        "{} is not a CA certificate (basicConstraints CA:TRUE missing); replace it with a CA certificate",
        path.display()
    )]
    NotCa {
        /// The file.
        path: PathBuf,
    },
    /// A certificate was not issued by the CA it must chain to.
    #[error(
        "{} is not signed by {}; remove {} and {} to have plinth issue a new one",
        cert.display(), ca.display(), cert.display(), key.display()
    )]
    WrongIssuer {
        /// The certificate.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
        /// The CA certificate.
        ca: PathBuf,
    },
    /// A certificate's subject CN is not the one the config requires.
    #[error(
        "{} has common name {found:?} but {expected:?} is required; remove {} and {} to have plinth issue a new one",
        cert.display(), cert.display(), key.display()
    )]
    WrongCommonName {
        /// The certificate.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
        /// The CN required.
        expected: String,
        /// The CN found.
        found: String,
    },
    /// A certificate lacks subject alternative names the config requires.
    #[error(
        "{} lacks the subject alternative names {} that the configuration requires; remove {} and {} to have plinth issue a new one",
        cert.display(), missing.join(", "), cert.display(), key.display()
    )]
    MissingSans {
        /// The certificate.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
        /// `DNS:x` / `IP:y` entries that are missing.
        missing: Vec<String>,
    },
    /// A certificate lacks an extended key usage it needs.
    #[error(
        "{} lacks the extended key usage {}; remove {} and {} to have plinth issue a new one",
        cert.display(), missing.join(", "), cert.display(), key.display()
    )]
    MissingUsages {
        /// The certificate.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
        /// `serverAuth` / `clientAuth`.
        missing: Vec<&'static str>,
    },
    /// A certificate has expired.
    #[error("{} expired on {not_after}; {fix}", cert.display())]
    Expired {
        /// The certificate.
        cert: PathBuf,
        /// Its notAfter (RFC 3339).
        not_after: String,
        /// How to fix it.
        fix: String,
    },
    /// A certificate is not valid yet (clock skew, or a certificate from the future).
    #[error("{} is not valid before {not_before}; check the system clock, {fix}", cert.display())]
    NotYetValid {
        /// The certificate.
        cert: PathBuf,
        /// Its notBefore (RFC 3339).
        not_before: String,
        /// How to fix it.
        fix: String,
    },
    /// A certificate needs its CA certificate, which does not exist.
    #[error(
        "cannot issue or check {} because its CA certificate {} does not exist; run `plinth init phase certs {}` first",
        cert.display(), ca.display(), ca_name
    )]
    MissingCa {
        /// The certificate.
        cert: PathBuf,
        /// The CA certificate file.
        ca: PathBuf,
        /// The CA's phase name.
        ca_name: &'static str,
    },
    /// A certificate must be issued but the CA key is absent (external CA mode).
    #[error(
        "cannot issue {} because {} does not exist (external CA mode); provide {} signed by the external CA, or the CA key",
        cert.display(), ca_key.display(), cert.display()
    )]
    MissingCaKey {
        /// The file that would be issued.
        cert: PathBuf,
        /// The CA key file.
        ca_key: PathBuf,
    },
    /// A CA certificate exists without its key but not every certificate it signs does.
    #[error(
        "{} exists without {}, so plinth cannot issue certificates with it (external CA mode), but {} are missing; provide them signed by the external CA, or provide {}",
        ca.display(), ca_key.display(), missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), ca_key.display()
    )]
    ExternalCaIncomplete {
        /// The CA certificate.
        ca: PathBuf,
        /// The missing CA key.
        ca_key: PathBuf,
        /// Missing certificate or key files.
        missing: Vec<PathBuf>,
    },
    /// Writing a file failed.
    #[error(transparent)]
    Write(#[from] FsError),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
