//! Private keys: generation for every `encryptionAlgorithm` (aws-lc-rs through rcgen), PEM in
//! kubeadm's formats, loading from PEM, and a [`KeyPool`] that generates keys in parallel.
//! Key material is never printed: [`PrivateKey`] and [`KeyPool`] have redacting `Debug`s.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use rcgen::{KeyPair, PublicKeyData, RsaKeySize};

use super::error::{Detail, Error, Result};
use crate::config::KeyAlgorithm;

/// The type of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (any size).
    Rsa,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

/// A private key. `Debug` shows only its type.
pub struct PrivateKey {
    kp: KeyPair,
    kind: KeyKind,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Generates one key of `alg`.
///
/// # Errors
/// [`Error::GenerateKey`].
pub fn generate_key(alg: KeyAlgorithm) -> Result<PrivateKey> {
    let err = |source| Error::GenerateKey {
        algorithm: alg,
        source,
    };
    let (kp, kind) = match alg {
        KeyAlgorithm::Rsa2048 => (rsa(RsaKeySize::_2048), KeyKind::Rsa),
        KeyAlgorithm::Rsa3072 => (rsa(RsaKeySize::_3072), KeyKind::Rsa),
        KeyAlgorithm::Rsa4096 => (rsa(RsaKeySize::_4096), KeyKind::Rsa),
        KeyAlgorithm::EcdsaP256 => (
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::EcdsaP256,
        ),
        KeyAlgorithm::EcdsaP384 => (
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyKind::EcdsaP384,
        ),
    };
    Ok(PrivateKey {
        kp: kp.map_err(err)?,
        kind,
    })
}

fn rsa(size: RsaKeySize) -> std::result::Result<KeyPair, rcgen::Error> {
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
}

/// Parses a PEM private key: PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#8
/// `PRIVATE KEY`. `path` is only used in errors.
///
/// # Errors
/// [`Error::ParseKey`]; [`Error::UnsupportedKey`] for anything but RSA and ECDSA P-256/P-384
/// (kubeadm rejects other key types too).
pub fn parse_key_pem(pem_text: &str, path: &Path) -> Result<PrivateKey> {
    let kp = KeyPair::from_pem(pem_text).map_err(|e| Error::ParseKey {
        path: path.to_path_buf(),
        source: Detail(e.to_string()),
    })?;
    let alg = kp.algorithm();
    let kind = if alg == &rcgen::PKCS_RSA_SHA256 {
        KeyKind::Rsa
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        KeyKind::EcdsaP256
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        KeyKind::EcdsaP384
    } else {
        return Err(Error::UnsupportedKey {
            path: path.to_path_buf(),
        });
    };
    Ok(PrivateKey { kp, kind })
}

/// Reads and parses the private key at `path`.
///
/// # Errors
/// [`Error::ReadFile`] and the errors of [`parse_key_pem`].
pub fn load_key(path: &Path) -> Result<PrivateKey> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    parse_key_pem(&text, path)
}

impl PrivateKey {
    /// The key type.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The signing key for rcgen.
    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.kp
    }

    /// The raw public key (the subjectPublicKey bits of a certificate holding it).
    #[must_use]
    pub fn public_key_raw(&self) -> &[u8] {
        self.kp.public_key_raw()
    }

    /// The DER SubjectPublicKeyInfo.
    #[must_use]
    pub fn public_key_der(&self) -> Vec<u8> {
        self.kp.subject_public_key_info()
    }

    /// The public key as PKIX `PUBLIC KEY` PEM (the format of kubeadm's `sa.pub`).
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        pem_lf("PUBLIC KEY", self.public_key_der())
    }

    /// The private key in kubeadm's format (client-go `keyutil.MarshalPrivateKeyToPEM`):
    /// RSA as PKCS#1 `RSA PRIVATE KEY`, ECDSA as SEC1 `EC PRIVATE KEY` with the namedCurve
    /// parameter (Go's `x509.ParseECPrivateKey` requires it).
    ///
    /// # Errors
    /// [`Error::EncodeKey`] if the key's DER is not what aws-lc-rs produces.
    pub fn to_pem(&self) -> Result<String> {
        let der = self.kp.serialized_der();
        let enc = |m: &str| Error::EncodeKey {
            source: Detail(m.to_string()),
        };
        match self.kind {
            KeyKind::Rsa => {
                let inner = match der::pkcs8_parts(der) {
                    Some((_, inner)) => inner,
                    // Loaded from a PKCS#1 file: already the right encoding.
                    None => der,
                };
                Ok(pem_lf("RSA PRIVATE KEY", inner.to_vec()))
            }
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => {
                let curve = match self.kind {
                    KeyKind::EcdsaP384 => der::OID_SECP384R1,
                    _ => der::OID_PRIME256V1,
                };
                let inner = match der::pkcs8_parts(der) {
                    Some((_, inner)) => inner,
                    None => der,
                };
                let sec1 = der::sec1_with_curve(inner, curve)
                    .ok_or_else(|| enc("malformed ECPrivateKey structure"))?;
                Ok(pem_lf("EC PRIVATE KEY", sec1))
            }
        }
    }
}

fn pem_lf(tag: &str, contents: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, contents),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Minimal DER walking for re-labelling keys; this is encoding, not cryptography.
mod der {
    /// `06 08 2A8648CE3D030107`: prime256v1.
    pub(super) const OID_PRIME256V1: &[u8] =
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// `06 05 2B81040022`: secp384r1.
    pub(super) const OID_SECP384R1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

    /// One TLV: (tag, whole TLV, content, rest).
    type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

    /// Splits off the first TLV (definite lengths up to 3 length bytes).
    pub(super) fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
        let tag = *b.first()?;
        let first = *b.get(1)? as usize;
        let (len, hl) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 3 {
                return None;
            }
            let bytes = b.get(2..2 + n)?;
            (
                bytes.iter().fold(0usize, |a, &x| (a << 8) | x as usize),
                2 + n,
            )
        };
        let end = hl.checked_add(len)?;
        if b.len() < end {
            return None;
        }
        Some((tag, &b[..end], &b[hl..end], &b[end..]))
    }

    pub(super) fn len_bytes(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else if n < 0x100 {
            vec![0x81, n as u8]
        } else if n < 0x1_0000 {
            vec![0x82, (n >> 8) as u8, n as u8]
        } else {
            vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]
        }
    }

    /// If `der` is PKCS#8 (`SEQ { INTEGER, SEQ algId, OCTET STRING }`), returns
    /// (AlgorithmIdentifier content, privateKey content). PKCS#1 and SEC1 give `None`: their
    /// second element is an INTEGER or OCTET STRING, not a SEQUENCE.
    pub(super) fn pkcs8_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
        let (tag, _, body, _) = tlv(der)?;
        if tag != 0x30 {
            return None;
        }
        let (vtag, _, _, r) = tlv(body)?;
        let (atag, _, alg, r) = tlv(r)?;
        let (otag, _, oct, _) = tlv(r)?;
        (vtag == 0x02 && atag == 0x30 && otag == 0x04).then_some((alg, oct))
    }

    /// Re-encodes a SEC1 `ECPrivateKey` so that it carries `[0] namedCurve` (aws-lc's inner
    /// PKCS#8 key omits it; Go needs it). Keeps an existing `[0]`.
    pub(super) fn sec1_with_curve(ec: &[u8], curve_oid_tlv: &[u8]) -> Option<Vec<u8>> {
        let (tag, _, mut body, _) = tlv(ec)?;
        if tag != 0x30 {
            return None;
        }
        let mut out_body = Vec::with_capacity(body.len() + curve_oid_tlv.len() + 2);
        let mut has_params = false;
        let mut index = 0;
        while !body.is_empty() {
            let (t, full, _, rest) = tlv(body)?;
            if t == 0xa0 {
                has_params = true;
            }
            if t == 0xa1 && !has_params {
                push_params(&mut out_body, curve_oid_tlv);
                has_params = true;
            }
            out_body.extend_from_slice(full);
            body = rest;
            index += 1;
        }
        // version + privateKey are mandatory.
        if index < 2 {
            return None;
        }
        if !has_params {
            push_params(&mut out_body, curve_oid_tlv);
        }
        let mut out = vec![0x30];
        out.extend(len_bytes(out_body.len()));
        out.extend(out_body);
        Some(out)
    }

    fn push_params(out: &mut Vec<u8>, curve_oid_tlv: &[u8]) {
        out.push(0xa0);
        out.extend(len_bytes(curve_oid_tlv.len()));
        out.extend_from_slice(curve_oid_tlv);
    }
}

/// Keys of one algorithm generated ahead of time, in parallel, and handed out one by one.
///
/// RSA key generation dominates a PKI run (about 100 ms of CPU per RSA-2048 key); the pool
/// spreads it across cores. Keys stream in: [`KeyPool::take`] returns as soon as any worker has
/// finished one, so certificates are signed and written (and fsynced) while the other keys are
/// still being generated. Workers go on until `n` keys are finished, whichever worker finishes
/// them: a worker with nothing left to start begins one more key instead of idling next to the
/// last one in progress (a prime search takes anywhere from 20 to 300 ms, so racing it shortens
/// the tail). That costs at most `workers - 1` spare keys, which later [`take`](Self::take)s use.
/// [`KeyPool::take`] generates on demand when nothing is left or coming.
pub struct KeyPool {
    algorithm: KeyAlgorithm,
    keys: Vec<PrivateKey>,
    incoming: Option<Incoming>,
}

/// Keys still to arrive from the worker threads.
struct Incoming {
    rx: mpsc::Receiver<Result<PrivateKey>>,
    /// Keys the workers still owe (`n` minus those received).
    owed: usize,
}

impl fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPool")
            .field("algorithm", &self.algorithm)
            .field("available", &self.available())
            .finish()
    }
}

impl KeyPool {
    /// An empty pool: every [`take`](Self::take) generates a key.
    #[must_use]
    pub fn empty(algorithm: KeyAlgorithm) -> Self {
        KeyPool {
            algorithm,
            keys: Vec::new(),
            incoming: None,
        }
    }

    /// Starts generating `n` keys of `algorithm` on up to `available_parallelism` threads and
    /// returns at once; the keys arrive through [`take`](Self::take).
    ///
    /// # Errors
    /// [`Error::GenerateKey`] if the worker threads cannot be started and generating the keys
    /// here fails.
    pub fn generate(algorithm: KeyAlgorithm, n: usize) -> Result<Self> {
        let workers = std::thread::available_parallelism()
            .map(std::num::NonZero::get)
            .unwrap_or(1)
            .min(n);
        let (tx, rx) = mpsc::channel();
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..workers {
            let (tx, finished) = (tx.clone(), Arc::clone(&finished));
            let spawned = std::thread::Builder::new()
                .name("plinth-keygen".into())
                .spawn(move || {
                    while finished.load(Ordering::Relaxed) < n {
                        let key = generate_key(algorithm);
                        let failed = key.is_err();
                        if !failed {
                            finished.fetch_add(1, Ordering::Relaxed);
                        }
                        // The pool was dropped (or the error is delivered): stop.
                        if tx.send(key).is_err() || failed {
                            break;
                        }
                    }
                });
            if spawned.is_err() {
                break; // fewer workers; take() generates whatever does not arrive
            }
        }
        Ok(KeyPool {
            algorithm,
            keys: Vec::new(),
            incoming: Some(Incoming { rx, owed: n }),
        })
    }

    /// The algorithm of every key in the pool.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Keys the pool holds or is generating, i.e. how many [`take`](Self::take)s need not start
    /// a generation of their own.
    #[must_use]
    pub fn available(&self) -> usize {
        self.keys.len() + self.incoming.as_ref().map_or(0, |i| i.owed)
    }

    /// A fresh key: from the pool (waiting for the next one the workers finish), or generated
    /// now when none is left or coming.
    ///
    /// # Errors
    /// [`Error::GenerateKey`].
    pub fn take(&mut self) -> Result<PrivateKey> {
        if let Some(k) = self.keys.pop() {
            return Ok(k);
        }
        if let Some(inc) = &mut self.incoming {
            // After the owed keys, take a spare one only if it is already there.
            let next = if inc.owed > 0 {
                inc.rx.recv().ok()
            } else {
                inc.rx.try_recv().ok()
            };
            match next {
                Some(key) => {
                    inc.owed = inc.owed.saturating_sub(1);
                    return key;
                }
                None if inc.owed > 0 => self.incoming = None, // every worker is gone
                None => {}
            }
        }
        generate_key(self.algorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("test.key")
    }

    #[test]
    fn ecdsa_keys_are_sec1_with_named_curve_and_load_back() {
        for (alg, kind, oid) in [
            (
                KeyAlgorithm::EcdsaP256,
                KeyKind::EcdsaP256,
                der::OID_PRIME256V1,
            ),
            (
                KeyAlgorithm::EcdsaP384,
                KeyKind::EcdsaP384,
                der::OID_SECP384R1,
            ),
        ] {
            let k = generate_key(alg).unwrap();
            let text = k.to_pem().unwrap();
            assert!(
                text.starts_with("-----BEGIN EC PRIVATE KEY-----\n"),
                "{alg}"
            );
            let parsed = pem::parse(&text).unwrap();
            // SEQ { INTEGER 1, OCTET STRING, [0] { namedCurve }, [1] pubkey }
            let (_, _, body, _) = der::tlv(parsed.contents()).unwrap();
            let (t0, v, _, r) = der::tlv(body).unwrap();
            assert_eq!((t0, v), (0x02, &[0x02, 0x01, 0x01][..]));
            let (t1, _, _, r) = der::tlv(r).unwrap();
            assert_eq!(t1, 0x04);
            let (t2, _, params, r) = der::tlv(r).unwrap();
            assert_eq!((t2, params), (0xa0, oid));
            let (t3, _, _, r) = der::tlv(r).unwrap();
            assert_eq!(t3, 0xa1);
            assert!(r.is_empty());

            let back = parse_key_pem(&text, p()).unwrap();
            assert_eq!(back.kind(), kind);
            assert_eq!(back.public_key_raw(), k.public_key_raw());
            // Re-encoding a loaded SEC1 key keeps it identical.
            assert_eq!(back.to_pem().unwrap(), text);
        }
    }

    #[test]
    fn rsa_keys_are_pkcs1_and_load_back() {
        let k = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        let text = k.to_pem().unwrap();
        assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let parsed = pem::parse(&text).unwrap();
        // PKCS#1: SEQ { INTEGER 0, INTEGER n, ... }
        let (_, _, body, _) = der::tlv(parsed.contents()).unwrap();
        let (_, _, _, r) = der::tlv(body).unwrap();
        assert_eq!(der::tlv(r).unwrap().0, 0x02);
        assert!(der::pkcs8_parts(parsed.contents()).is_none());
        let back = parse_key_pem(&text, p()).unwrap();
        assert_eq!(back.kind(), KeyKind::Rsa);
        assert_eq!(back.public_key_raw(), k.public_key_raw());
        assert_eq!(back.to_pem().unwrap(), text);
    }

    #[test]
    fn pkcs8_keys_load_and_public_key_is_pkix() {
        let k = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let pkcs8 = k.key_pair().serialize_pem();
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = parse_key_pem(&pkcs8, p()).unwrap();
        assert_eq!(back.public_key_raw(), k.public_key_raw());
        assert!(
            k.public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
    }

    #[test]
    fn ed25519_and_garbage_are_rejected_naming_the_file() {
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let e = parse_key_pem(&ed.serialize_pem(), Path::new("/x/sa.key")).unwrap_err();
        assert!(matches!(e, Error::UnsupportedKey { .. }));
        assert!(e.to_string().contains("/x/sa.key"), "{e}");
        let e = parse_key_pem("not a key", Path::new("/x/ca.key")).unwrap_err();
        assert_eq!(e.to_string(), "failed to parse key /x/ca.key");
    }

    #[test]
    fn debug_never_shows_key_material() {
        let k = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let pem_body: String = k.to_pem().unwrap().lines().nth(1).unwrap().into();
        let dbg = format!("{k:?}");
        assert!(
            dbg.contains("EcdsaP256") && !dbg.contains(&pem_body[..16]),
            "{dbg}"
        );
        let pool = KeyPool::generate(KeyAlgorithm::EcdsaP256, 3).unwrap();
        assert_eq!(
            format!("{pool:?}"),
            "KeyPool { algorithm: EcdsaP256, available: 3 }"
        );
    }

    #[test]
    fn pool_hands_out_distinct_keys_then_generates_on_demand() {
        let mut pool = KeyPool::generate(KeyAlgorithm::EcdsaP256, 5).unwrap();
        assert_eq!(pool.available(), 5);
        let mut seen = Vec::new();
        for _ in 0..7 {
            let k = pool.take().unwrap();
            assert_eq!(k.kind(), KeyKind::EcdsaP256);
            assert!(!seen.contains(&k.public_key_raw().to_vec()));
            seen.push(k.public_key_raw().to_vec());
        }
        assert_eq!(pool.available(), 0);
        let mut none = KeyPool::generate(KeyAlgorithm::EcdsaP384, 0).unwrap();
        assert_eq!(none.take().unwrap().kind(), KeyKind::EcdsaP384, "on demand");
        assert_eq!(
            KeyPool::generate(KeyAlgorithm::EcdsaP384, 0)
                .unwrap()
                .available(),
            0
        );
        assert_eq!(
            KeyPool::empty(KeyAlgorithm::Rsa2048).algorithm(),
            KeyAlgorithm::Rsa2048
        );
    }

    #[test]
    fn sec1_without_params_gets_them_and_bad_der_is_refused() {
        // version, privateKey, [1] publicKey (no [0]).
        let ec = [
            0x30, 0x0b, 0x02, 0x01, 0x01, 0x04, 0x01, 0xaa, 0xa1, 0x03, 0x03, 0x01, 0x00,
        ];
        let out = der::sec1_with_curve(&ec, der::OID_SECP384R1).unwrap();
        let (_, _, body, _) = der::tlv(&out).unwrap();
        let (_, _, _, r) = der::tlv(body).unwrap();
        let (_, _, _, r) = der::tlv(r).unwrap();
        assert_eq!(der::tlv(r).unwrap().2, der::OID_SECP384R1);
        assert!(der::sec1_with_curve(&[0x30, 0x05, 0x02], der::OID_PRIME256V1).is_none());
        assert!(der::tlv(&[0x30, 0x84, 1, 2, 3, 4]).is_none());
        assert!(der::pkcs8_parts(&[]).is_none());
    }
}
