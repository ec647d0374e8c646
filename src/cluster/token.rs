//! Bootstrap tokens (`[a-z0-9]{6}.[a-z0-9]{16}`) and the discovery hash of the cluster CA.

use std::fmt;

/// A bootstrap token. `Debug` and `Display` show only the public id, so a token never lands
/// in a log by accident; [`BootstrapToken::secret`] and [`BootstrapToken::expose`] are the
/// explicit ways to get at it.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// The public part (6 characters), also the Secret's name suffix.
    pub id: String,
    secret: String,
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn valid(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

impl BootstrapToken {
    /// Parses `id.secret`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let (id, secret) = s.split_once('.')?;
        (valid(id, 6) && valid(secret, 16)).then(|| BootstrapToken {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// From the two halves (as stored in a token Secret).
    #[must_use]
    pub fn from_parts(id: &str, secret: &str) -> Option<Self> {
        Self::parse(&format!("{id}.{secret}"))
    }

    /// A fresh token from the OS CSPRNG (rejection sampling: no modulo bias).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut out = String::with_capacity(23);
        let mut buf = [0u8; 64];
        while out.len() < 22 {
            getrandom::fill(&mut buf)?;
            for b in buf {
                // 252 = 7 * 36: bytes above it would favour the first letters.
                if b < 252 && out.len() < 22 {
                    out.push(ALPHABET[usize::from(b % 36)] as char);
                }
            }
        }
        let (id, secret) = out.split_at(6);
        Ok(BootstrapToken {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The secret half.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The whole token, for the join command the user asked for.
    #[must_use]
    pub fn expose(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// `abcdef.****************`.
    #[must_use]
    pub fn masked(&self) -> String {
        format!("{}.{}", self.id, "*".repeat(16))
    }
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({})", self.masked())
    }
}

impl fmt::Display for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// `sha256:<hex>` of the CA certificate's DER SubjectPublicKeyInfo: the
/// `--discovery-token-ca-cert-hash` kubeadm join pins.
// kubeadm: app/util/pubkeypin/pubkeypin.go Hash
///
/// # Errors
/// When `ca_pem` is not a PEM certificate.
pub fn ca_cert_hash(ca_pem: &[u8]) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem)
        .map_err(|e| anyhow::anyhow!("the CA certificate is not PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| anyhow::anyhow!("the CA certificate does not parse: {e}"))?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    Ok(format!("sha256:{:x}", sha2::Sha256::digest(spki)))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, `ttl` from now (the Secret's `expiration`).
#[must_use]
pub fn expiration_after(ttl: std::time::Duration) -> String {
    rfc3339(time::OffsetDateTime::now_utc() + ttl)
}

/// RFC 3339 in UTC with whole seconds, as Go's `time.RFC3339` prints it.
#[must_use]
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_valid_and_differ() {
        let a = BootstrapToken::generate().unwrap();
        let b = BootstrapToken::generate().unwrap();
        assert!(BootstrapToken::parse(&a.expose()).is_some());
        assert_ne!(a, b);
        assert!(!format!("{a:?} {a}").contains(a.secret()));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        for bad in [
            "abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde_",
        ] {
            assert!(BootstrapToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_ca_hash_is_over_the_spki_and_matches_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let crt = dir.path().join("c");
        let ok = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=ca",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .unwrap();
        assert!(ok.status.success());
        // kubeadm's documented way to compute the hash by hand.
        let sh = format!(
            "openssl x509 -pubkey -in {} | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1",
            crt.display()
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(sh)
            .output()
            .unwrap();
        let want = String::from_utf8(out.stdout).unwrap();
        let got = ca_cert_hash(&std::fs::read(&crt).unwrap()).unwrap();
        assert_eq!(got, format!("sha256:{}", want.trim()));
    }

    #[test]
    fn rfc3339_has_whole_seconds() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(rfc3339(t), "2027-01-15T08:00:00Z");
    }
}
