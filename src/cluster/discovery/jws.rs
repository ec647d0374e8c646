//! The detached JWS that signs `kube-public/cluster-info` for one bootstrap token.
//!
//! The controller-manager's `bootstrapsigner` writes one `jws-kubeconfig-<token-id>` key per
//! signing token; a joining node recomputes it from its own token and compares. Mirrors
//! `staging/src/k8s.io/cluster-bootstrap/token/jws/jws.go` (`ComputeDetachedSignature`,
//! `DetachedTokenIsValid`): compact JWS, HS256, protected header `{"alg":"HS256","kid":"<id>"}`,
//! the payload segment dropped (`<header>..<mac>`), and the HMAC key is the token secret
//! zero-padded to 32 bytes (go-jose refuses shorter HS256 keys, so the Go side pads them).

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The shortest HMAC key go-jose accepts for HS256; shorter secrets are zero-padded to it.
const MIN_HS256_KEY: usize = 32;

/// The detached signature of `content` for the token `id.secret`.
#[must_use]
pub fn detached_signature(content: &str, id: &str, secret: &str) -> String {
    // Byte-exact: Go's encoding/json of the header struct, fields in this order.
    let header = format!(r#"{{"alg":"HS256","kid":"{id}"}}"#);
    let header = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(content);
    let mut key = secret.as_bytes().to_vec();
    if key.len() < MIN_HS256_KEY {
        key.resize(MIN_HS256_KEY, 0);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let tag = hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!("{header}..{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Whether `signature` is the detached signature of `content` for `id.secret` (compared in
/// constant time).
#[must_use]
pub fn detached_signature_is_valid(signature: &str, content: &str, id: &str, secret: &str) -> bool {
    let expected = detached_signature(content, id, secret);
    constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by the real `k8s.io/cluster-bootstrap/token/jws` v0.37.2
    /// (shared/reference/kubeadm-join-and-day2.md §1.3).
    const VECTOR: &str =
        "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..vH_kT4yiol-nrAWgjfCYqvum5wsKETXe0S7OOp1VgnE";

    #[test]
    fn matches_the_go_implementation() {
        let sig = detached_signature(
            "apiVersion: v1\nkind: Config\n",
            "abcdef",
            "0123456789abcdef",
        );
        assert_eq!(sig, VECTOR);
    }

    #[test]
    fn verification_rejects_other_content_token_or_signature() {
        let content = "apiVersion: v1\nkind: Config\n";
        assert!(detached_signature_is_valid(
            VECTOR,
            content,
            "abcdef",
            "0123456789abcdef"
        ));
        assert!(!detached_signature_is_valid(
            VECTOR,
            "apiVersion: v1\n",
            "abcdef",
            "0123456789abcdef"
        ));
        assert!(!detached_signature_is_valid(
            VECTOR,
            content,
            "abcdef",
            "0123456789abcdeg"
        ));
        assert!(!detached_signature_is_valid(
            VECTOR,
            content,
            "abcdeg",
            "0123456789abcdef"
        ));
        assert!(!detached_signature_is_valid(
            "",
            content,
            "abcdef",
            "0123456789abcdef"
        ));
    }
}
