//! The shared control-plane certificates, encrypted for the `kubeadm-certs` Secret
//! (`init --upload-certs`, `join --control-plane --certificate-key`).
//!
//! Layout, byte for byte as kubeadm's so either tool reads the other's Secret
//! (`cmd/kubeadm/app/phases/copycerts/copycerts.go`, `app/util/crypto/crypto.go`): the
//! certificate key is 32 random bytes written as 64 lowercase hex digits; every file is
//! encrypted on its own with AES-256-GCM under that key, a fresh 12-byte nonce, no associated
//! data, stored as `nonce || ciphertext || tag`; the Secret key is the file's path under the
//! certificate directory with `/` replaced by `-` (`etcd/ca.crt` → `etcd-ca.crt`); a file that
//! is missing on disk is uploaded as an empty value.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::{SA_KEY_FILE, SA_PUB_FILE, find};

/// Why a certificate key or an encrypted value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CopyCertsError {
    /// Not 64 hex digits.
    #[error(
        "invalid certificate key: expected 64 hexadecimal digits (32 bytes), got {0} characters; use the key `plinth init --upload-certs` printed, or make a new one with `plinth certs certificate-key` and re-upload with `plinth init phase upload-certs --upload-certs --certificate-key <key>`"
    )]
    BadKey(usize),
    /// Shorter than a nonce.
    #[error("the encrypted value of {0} is shorter than its nonce: the Secret is damaged")]
    Short(String),
    /// The tag does not verify.
    #[error(
        "cannot decrypt {0} from the kubeadm-certs Secret: wrong --certificate-key, or the Secret was re-uploaded with another key"
    )]
    Decrypt(String),
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
    /// A shared file exists but cannot be read.
    #[error("reading {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        error: String,
    },
}

/// The 32-byte key that encrypts the shared certificates. `Debug` hides it: it opens the
/// cluster's CA keys to whoever holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey([u8; 32]);

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertificateKey(<redacted>)")
    }
}

impl CertificateKey {
    /// A fresh key from the OS CSPRNG (kubeadm's `CreateCertificateKey`).
    ///
    /// # Errors
    /// [`CopyCertsError::Random`].
    pub fn generate() -> Result<Self, CopyCertsError> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|_| CopyCertsError::Random)?;
        Ok(CertificateKey(k))
    }

    /// Parses 64 hex digits (either case; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`CopyCertsError::BadKey`].
    pub fn parse(s: &str) -> Result<Self, CopyCertsError> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CopyCertsError::BadKey(s.chars().count()));
        }
        let mut k = [0u8; 32];
        for (i, byte) in k.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|_| CopyCertsError::BadKey(s.len()))?;
        }
        Ok(CertificateKey(k))
    }

    /// The key as kubeadm prints it: 64 lowercase hex digits. Only for output the user asked for.
    #[must_use]
    pub fn expose(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is AES-256's key length, so this cannot fail.
        #[allow(clippy::unwrap_used)]
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).unwrap())
    }

    /// Encrypts one file's bytes: `nonce || ciphertext || tag`.
    ///
    /// # Errors
    /// [`CopyCertsError::Random`].
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CopyCertsError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CopyCertsError::Random)?;
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| CopyCertsError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value made by [`CertificateKey::seal`] (or by kubeadm). `name` is only used in
    /// errors.
    ///
    /// # Errors
    /// [`CopyCertsError::Short`], [`CopyCertsError::Decrypt`].
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, CopyCertsError> {
        if sealed.len() < NONCE_LEN {
            return Err(CopyCertsError::Short(name.to_string()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CopyCertsError::Short(name.to_string()))?;
        let mut buf = body.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| CopyCertsError::Decrypt(name.to_string()))?;
        Ok(plain.to_vec())
    }
}

/// One file carried by the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// The Secret's data key (`etcd-ca.key`).
    pub key: String,
    /// Where it lives on a control-plane node.
    pub path: PathBuf,
}

/// Where the etcd CA comes from, which decides the etcd entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdFiles {
    /// Stacked etcd: the etcd CA under the certificate directory.
    Local,
    /// External etcd: the client CA, certificate and key the config names.
    External {
        /// `etcd.external.caFile`.
        ca: PathBuf,
        /// `etcd.external.certFile`.
        cert: PathBuf,
        /// `etcd.external.keyFile`.
        key: PathBuf,
    },
}

/// The files the Secret carries (kubeadm's `certsToTransfer`, a map there; the Secret's data
/// is sorted by key either way): the cluster CA, the service-account key pair, the front-proxy
/// CA, then the etcd entries.
#[must_use]
pub fn shared_files(cert_dir: &Path, etcd: &EtcdFiles) -> Vec<SharedFile> {
    let mut rel: Vec<String> = Vec::new();
    for ca in ["ca", "front-proxy-ca"] {
        if let Some(spec) = find(ca) {
            rel.push(spec.cert_file());
            rel.push(spec.key_file());
        }
        if ca == "ca" {
            rel.push(SA_PUB_FILE.to_string());
            rel.push(SA_KEY_FILE.to_string());
        }
    }
    let mut out: Vec<SharedFile> = Vec::new();
    let mut push = |key: String, path: PathBuf| out.push(SharedFile { key, path });
    for r in rel {
        push(r.replace('/', "-"), cert_dir.join(&r));
    }
    match etcd {
        EtcdFiles::Local => {
            if let Some(spec) = find("etcd-ca") {
                for r in [spec.cert_file(), spec.key_file()] {
                    push(r.replace('/', "-"), cert_dir.join(&r));
                }
            }
        }
        EtcdFiles::External { ca, cert, key } => {
            push("external-etcd-ca.crt".into(), ca.clone());
            push("external-etcd.crt".into(), cert.clone());
            push("external-etcd.key".into(), key.clone());
        }
    }
    out
}

/// Reads and seals every file of `files`: the Secret's data. A file missing on disk becomes an
/// empty value (kubeadm keeps the key, so a joining node knows what it did not get).
///
/// # Errors
/// [`CopyCertsError::Read`] for a file that exists but cannot be read; [`CopyCertsError::Random`].
pub fn seal_files(
    files: &[SharedFile],
    key: &CertificateKey,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, CopyCertsError> {
    let mut out = std::collections::BTreeMap::new();
    for f in files {
        let sealed = match std::fs::read(&f.path) {
            Ok(bytes) => key.seal(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(CopyCertsError::Read {
                    path: f.path.display().to_string(),
                    error: e.to_string(),
                });
            }
        };
        out.insert(f.key.clone(), sealed);
    }
    Ok(out)
}

/// What a decrypted entry holds, which decides its file mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A private key: written 0600.
    PrivateKey,
    /// Certificates or a public key: written 0644.
    Public,
}

/// Classifies a decrypted entry by its PEM blocks (kubeadm's `writeCertOrKey`).
///
/// # Errors
/// A message naming the entry when it is not PEM of a kind a certificate directory holds.
pub fn classify(name: &str, pem_bytes: &[u8]) -> Result<Content, String> {
    let blocks = pem::parse_many(pem_bytes).map_err(|e| format!("{name}: not PEM ({e})"))?;
    let Some(first) = blocks.first() else {
        return Err(format!("{name}: no PEM block"));
    };
    match first.tag() {
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => Ok(Content::PrivateKey),
        "CERTIFICATE" | "PUBLIC KEY" => Ok(Content::Public),
        other => Err(format!(
            "{name}: unknown data found in the Secret entry (PEM {other:?})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CertificateKey {
        CertificateKey::parse(&"0f".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let sealed = key().seal(b"-----BEGIN CERTIFICATE-----\n").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 28 + 16);
        assert_eq!(
            key().open("ca.crt", &sealed).unwrap(),
            b"-----BEGIN CERTIFICATE-----\n"
        );
        let other = CertificateKey::parse(&"f0".repeat(32)).unwrap();
        let err = other.open("ca.crt", &sealed).unwrap_err();
        assert_eq!(err, CopyCertsError::Decrypt("ca.crt".into()));
        assert!(err.to_string().contains("wrong --certificate-key"));
        assert_eq!(
            key().open("ca.key", &sealed[..5]).unwrap_err(),
            CopyCertsError::Short("ca.key".into())
        );
    }

    #[test]
    fn two_seals_of_one_file_differ_by_nonce() {
        let a = key().seal(b"x").unwrap();
        let b = key().seal(b"x").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    /// Independent of aws-lc: NIST SP 800-38D test case 13 (AES-256, zero key, zero 96-bit IV,
    /// empty plaintext) has tag 530f8afbc74536b9a963b4f1c4cb738b; a value laid out
    /// `nonce || ciphertext || tag` with that tag must open to the empty plaintext.
    #[test]
    fn the_layout_is_nonce_then_ciphertext_then_tag() {
        let zero = CertificateKey([0; 32]);
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[
            0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9, 0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb,
            0x73, 0x8b,
        ]);
        assert_eq!(zero.open("t", &v).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn keys_parse_as_64_hex_digits_and_print_lowercase() {
        let k = CertificateKey::parse(&format!(" {} ", "AB".repeat(32))).unwrap();
        assert_eq!(k.expose(), "ab".repeat(32));
        assert_eq!(format!("{k:?}"), "CertificateKey(<redacted>)");
        assert_eq!(
            CertificateKey::parse("abc").unwrap_err(),
            CopyCertsError::BadKey(3)
        );
        assert!(CertificateKey::parse(&"zz".repeat(32)).is_err());
        let g = CertificateKey::generate().unwrap();
        assert_eq!(CertificateKey::parse(&g.expose()).unwrap(), g);
    }

    #[test]
    fn the_secret_carries_kubeadms_keys() {
        let d = Path::new("/etc/kubernetes/pki");
        let keys: Vec<String> = shared_files(d, &EtcdFiles::Local)
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(
            keys,
            [
                "ca.crt",
                "ca.key",
                "sa.pub",
                "sa.key",
                "front-proxy-ca.crt",
                "front-proxy-ca.key",
                "etcd-ca.crt",
                "etcd-ca.key"
            ]
        );
        let f = shared_files(d, &EtcdFiles::Local);
        assert_eq!(f[6].path, Path::new("/etc/kubernetes/pki/etcd/ca.crt"));
        let ext = EtcdFiles::External {
            ca: "/x/ca.pem".into(),
            cert: "/x/c.pem".into(),
            key: "/x/k.pem".into(),
        };
        let f = shared_files(d, &ext);
        assert_eq!(f.len(), 9);
        assert_eq!(
            f[8],
            SharedFile {
                key: "external-etcd.key".into(),
                path: "/x/k.pem".into()
            }
        );
    }

    #[test]
    fn sealing_reads_every_file_and_keeps_missing_ones_as_empty_values() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ca.crt"), b"CA").unwrap();
        let files = shared_files(d.path(), &EtcdFiles::Local);
        let data = seal_files(&files, &key()).unwrap();
        assert_eq!(data.len(), 8);
        assert_eq!(key().open("ca.crt", &data["ca.crt"]).unwrap(), b"CA");
        assert!(data["etcd-ca.key"].is_empty());
    }

    #[test]
    fn entries_are_classified_by_their_pem() {
        assert_eq!(
            classify(
                "ca.key",
                b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
            ),
            Ok(Content::PrivateKey)
        );
        assert_eq!(
            classify(
                "sa.pub",
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
            ),
            Ok(Content::Public)
        );
        assert!(classify("x", b"hello").is_err());
        assert!(
            classify("x", b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
                .unwrap_err()
                .contains("unknown data")
        );
    }
}
