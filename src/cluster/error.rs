//! `cluster::Error`: the one error type of the cluster area (API client, etcd member
//! management, CRI cleanup, tokens). Causes are kept as `#[source]` (never pasted into the
//! message too), and an API server's `Status` is parsed so callers ask `is_conflict()` instead
//! of matching numbers.

use std::fmt;
use std::path::PathBuf;

/// An HTTP verb plinth uses. Typed, so a typo cannot silently become another verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Read an object or a collection.
    Get,
    /// Create an object (or call an RPC-style endpoint such as etcd's gateway).
    Post,
    /// Server-side apply or a merge patch.
    Patch,
    /// Delete an object.
    Delete,
}

impl Verb {
    /// The upper-case name as it goes on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    pub(crate) fn method(self) -> reqwest::Method {
        match self {
            Verb::Get => reqwest::Method::GET,
            Verb::Post => reqwest::Method::POST,
            Verb::Patch => reqwest::Method::PATCH,
            Verb::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed answer: the HTTP code plus what the server's `Status` object (or etcd's error
/// object) said, when the body was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// HTTP status code.
    pub code: u16,
    /// The `Status` object's machine-readable `reason` (`Conflict`, `AlreadyExists`,
    /// `NotFound`, …), if the body had one.
    pub reason: Option<String>,
    /// The `Status` object's `message`, or the whole body when it was not one.
    pub message: String,
}

impl Status {
    /// Parses an error body: a Kubernetes `Status` (`reason`, `message`) or etcd's gateway
    /// error (`message`); anything else becomes the message as text.
    #[must_use]
    pub fn from_body(code: u16, body: &[u8]) -> Self {
        let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v[k].as_str()).map(str::to_string);
        Status {
            code,
            reason: field("reason").filter(|r| !r.is_empty()),
            message: field("message")
                .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string()),
        }
    }
}

/// Something in the cluster area failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kubeconfig cannot be read, parsed or decoded (the error names the file).
    #[error(transparent)]
    Kubeconfig(#[from] crate::kubeconfig::Error),
    /// A kubeconfig lacks something the client needs.
    #[error("{}: {problem}", path.display())]
    KubeconfigIncomplete {
        /// The file.
        path: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// A certificate, key or CA file cannot be read.
    #[error("failed to read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA, client certificate or key does not load, or the HTTP client cannot be built.
    #[error("{}: bad {what}", path.display())]
    Tls {
        /// The kubeconfig or PEM file it came from.
        path: PathBuf,
        /// `certificate-authority-data`, `client certificate or key`, …
        what: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The private async runtime cannot start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Transport failure (connection, TLS, timeout): no answer.
    #[error("{verb} {url}")]
    Transport {
        /// HTTP verb.
        verb: Verb,
        /// Request URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{verb} {url}: HTTP {}: {}", status.code, status.message)]
    Status {
        /// HTTP verb.
        verb: Verb,
        /// Request URL.
        url: String,
        /// What the server said.
        status: Box<Status>,
    },
    /// A successful answer does not decode into the expected type.
    #[error("{verb} {url}: unexpected answer")]
    Decode {
        /// HTTP verb.
        verb: Verb,
        /// Request URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An object plinth built cannot be addressed or encoded (a bug).
    #[error("cannot address object: {0}")]
    Unaddressable(String),
    /// A wait ended at its deadline without the condition holding.
    #[error("{what}: not {condition} after {}", crate::config::format_go_duration(*after))]
    Timeout {
        /// `Kind namespace/name` or a URL.
        what: String,
        /// What was waited for (`found`, `approved`, …).
        condition: &'static str,
        /// How long it waited.
        after: std::time::Duration,
    },
    /// The CA certificate is not PEM.
    #[error("the CA certificate is not PEM")]
    CaPem(#[source] x509_parser::nom::Err<x509_parser::error::PEMError>),
    /// The CA certificate's PEM does not hold a certificate.
    #[error("the CA certificate does not parse")]
    CaCert(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
}

impl Error {
    /// The server's answer, when there was one with an error status.
    #[must_use]
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    fn code(&self) -> Option<u16> {
        self.status().map(|s| s.code)
    }

    /// 404 Not Found.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// 403 Forbidden.
    #[must_use]
    pub fn is_forbidden(&self) -> bool {
        self.code() == Some(403)
    }

    /// 409 because the object changed under us (optimistic concurrency): read again and retry.
    /// A 409 `AlreadyExists` is not a conflict in that sense; see [`Error::is_already_exists`].
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.status()
            .is_some_and(|s| s.code == 409 && s.reason.as_deref() != Some("AlreadyExists"))
    }

    /// 409 `AlreadyExists`: a create found the object there.
    #[must_use]
    pub fn is_already_exists(&self) -> bool {
        self.status()
            .is_some_and(|s| s.code == 409 && s.reason.as_deref() == Some("AlreadyExists"))
    }

    /// Whether trying again may help: transport failures, 5xx and 429 (Too Many Requests).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Status { status, .. } => status.code >= 500 || status.code == 429,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_error(code: u16, body: &str) -> Error {
        Error::Status {
            verb: Verb::Patch,
            url: "https://10.0.0.5:6443/api/v1/nodes/cp-1".into(),
            status: Box::new(Status::from_body(code, body.as_bytes())),
        }
    }

    #[test]
    fn a_kubernetes_status_body_gives_reason_and_message() {
        let e = status_error(
            409,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure",
                "message":"Operation cannot be fulfilled on nodes \"cp-1\": the object has been modified",
                "reason":"Conflict","code":409}"#,
        );
        let s = e.status().unwrap();
        assert_eq!(s.reason.as_deref(), Some("Conflict"));
        assert_eq!(
            e.to_string(),
            "PATCH https://10.0.0.5:6443/api/v1/nodes/cp-1: HTTP 409: Operation cannot be \
             fulfilled on nodes \"cp-1\": the object has been modified"
        );
        assert!(e.is_conflict() && !e.is_already_exists() && !e.is_transient());
    }

    #[test]
    fn a_body_that_is_not_a_status_becomes_the_message() {
        let e = status_error(502, "  Bad Gateway\n");
        assert_eq!(e.status().unwrap().message, "Bad Gateway");
        assert_eq!(e.status().unwrap().reason, None);
        assert!(e.is_transient() && !e.is_conflict());
        // etcd's gateway: {"error", "code", "message"} without a reason.
        let etcd = Status::from_body(400, br#"{"error":"etcdserver: unhealthy cluster","code":9,"message":"etcdserver: unhealthy cluster"}"#);
        assert_eq!(etcd.message, "etcdserver: unhealthy cluster");
        assert_eq!(etcd.reason, None);
    }

    #[test]
    fn already_exists_is_not_a_conflict() {
        let e = status_error(
            409,
            r#"{"kind":"Status","reason":"AlreadyExists","message":"exists","code":409}"#,
        );
        assert!(e.is_already_exists() && !e.is_conflict());
        // A bare 409 without a Status body is treated as a conflict (retry with a fresh read).
        assert!(status_error(409, "").is_conflict());
    }

    #[test]
    fn status_codes_classify_as_their_names_say() {
        assert!(status_error(404, "{}").is_not_found());
        assert!(status_error(403, "{}").is_forbidden());
        for code in [500, 503, 429] {
            assert!(status_error(code, "{}").is_transient(), "{code}");
        }
        for code in [400, 403, 404, 409, 422] {
            assert!(!status_error(code, "{}").is_transient(), "{code}");
        }
        let unaddressable = Error::Unaddressable("x".into());
        assert!(!unaddressable.is_transient() && !unaddressable.is_not_found());
        // No answer at all (here: a request that cannot even be built) may go away on retry.
        let transport = Error::Transport {
            verb: Verb::Get,
            url: "not a url".into(),
            source: reqwest::Client::new().get("not a url").build().unwrap_err(),
        };
        assert!(transport.is_transient() && transport.status().is_none());
    }

    #[test]
    fn verbs_go_on_the_wire_upper_case() {
        let all = [Verb::Get, Verb::Post, Verb::Patch, Verb::Delete];
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["GET", "POST", "PATCH", "DELETE"]);
        for v in all {
            assert_eq!(v.method().as_str(), v.as_str());
        }
    }
}
