//! Turning a failed poll into a reason a person can act on.

use std::path::{Path, PathBuf};

/// Why a component is not healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// Its manifest is missing, so the kubelet will not start it.
    ManifestMissing(PathBuf),
    /// Nothing accepts connections on its port.
    NotListening(String),
    /// TLS failed: the server certificate is not signed by the cluster CA.
    UnknownCa,
    /// TLS failed: the host polled is not in the certificate's SANs.
    NameNotInSans(String),
    /// TLS failed: a certificate has expired or is not yet valid.
    Expired,
    /// TLS failed: the server rejected our client certificate.
    ClientCertRejected,
    /// It answered with a non-200 status; the failing checks from `?verbose`, if any.
    Unhealthy {
        /// HTTP status.
        status: u16,
        /// Lines such as `[-]etcd failed: reason withheld`.
        failing: Vec<String>,
    },
    /// Anything else, with the error chain.
    Other(String),
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Diagnosis::ManifestMissing(p) => {
                write!(f, "static Pod manifest {} is missing", p.display())
            }
            Diagnosis::NotListening(a) => write!(f, "nothing is listening on {a}"),
            Diagnosis::UnknownCa => {
                f.write_str("TLS: the serving certificate is not signed by the cluster CA")
            }
            Diagnosis::NameNotInSans(m) => write!(
                f,
                "TLS: the address polled is not in the serving certificate's SANs ({m})"
            ),
            Diagnosis::Expired => f.write_str("TLS: a certificate has expired or is not yet valid"),
            Diagnosis::ClientCertRejected => {
                f.write_str("TLS: the server rejected the client certificate")
            }
            Diagnosis::Unhealthy { status, failing } if failing.is_empty() => {
                write!(f, "HTTP {status}")
            }
            Diagnosis::Unhealthy { status, failing } => {
                write!(f, "HTTP {status}, failing checks: {}", failing.join("; "))
            }
            Diagnosis::Other(e) => f.write_str(e),
        }
    }
}

/// Classifies a request error from its whole source chain.
#[must_use]
pub fn classify_error(chain: &str, authority: &str) -> Diagnosis {
    let c = chain.to_lowercase();
    if c.contains("connection refused") || c.contains("connect error") && c.contains("refused") {
        Diagnosis::NotListening(authority.to_string())
    } else if c.contains("unknownissuer")
        || c.contains("unknown issuer")
        || c.contains("unknown ca")
    {
        Diagnosis::UnknownCa
    } else if c.contains("notvalidforname") || c.contains("not valid for name") {
        Diagnosis::NameNotInSans(chain.rsplit(": ").next().unwrap_or_default().to_string())
    } else if c.contains("expired") || c.contains("notvalidyet") || c.contains("not valid yet") {
        Diagnosis::Expired
    } else if c.contains("certificate required")
        || c.contains("bad certificate")
        || c.contains("certificaterequired")
        || c.contains("badcertificate")
    {
        Diagnosis::ClientCertRejected
    } else {
        Diagnosis::Other(chain.to_string())
    }
}

/// The `[-]name failed...` lines of a `?verbose` health answer.
#[must_use]
pub fn failing_checks(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| l.starts_with("[-]"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// The last `n` lines of the newest container log of `pod` under the kubelet's pod log dir
/// (`/var/log/pods/<ns>_<pod>-<node>_<uid>/<container>/<n>.log`).
#[must_use]
pub fn last_log_lines(
    pod_log_dir: &Path,
    namespace: &str,
    pod: &str,
    container: &str,
    n: usize,
) -> Option<(PathBuf, Vec<String>)> {
    let prefix = format!("{namespace}_{pod}-");
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(pod_log_dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .flat_map(|e| {
            std::fs::read_dir(e.path().join(container))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter_map(|f| Some((f.metadata().ok()?.modified().ok()?, f.path())))
        .collect();
    logs.sort();
    let (_, newest) = logs.pop()?;
    let text = std::fs::read_to_string(&newest).ok()?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines.len().saturating_sub(n);
    Some((newest, lines[start..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_tls_and_socket_failures() {
        assert_eq!(
            classify_error(
                "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
                "127.0.0.1:6443"
            ),
            Diagnosis::NotListening("127.0.0.1:6443".into())
        );
        assert_eq!(
            classify_error("invalid peer certificate: UnknownIssuer", "a"),
            Diagnosis::UnknownCa
        );
        assert!(matches!(
            classify_error(
                "invalid peer certificate: certificate not valid for name \"10.0.0.9\"; certificate is only valid for ...",
                "a"
            ),
            Diagnosis::NameNotInSans(_)
        ));
        assert_eq!(
            classify_error("invalid peer certificate: Expired", "a"),
            Diagnosis::Expired
        );
        assert_eq!(
            classify_error("received fatal alert: CertificateRequired", "a"),
            Diagnosis::ClientCertRejected
        );
        assert!(matches!(
            classify_error("something else", "a"),
            Diagnosis::Other(_)
        ));
    }

    #[test]
    fn verbose_output_keeps_failing_checks() {
        let body = "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nlivez check failed\n";
        assert_eq!(
            failing_checks(body),
            vec!["[-]etcd failed: reason withheld"]
        );
    }

    #[test]
    fn newest_container_log_tail() {
        let d = tempfile::tempdir().unwrap();
        let dir = d
            .path()
            .join("kube-system_kube-apiserver-cp-1_abc/kube-apiserver");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0.log"), "a\nb\nc\nd\n").unwrap();
        let (p, lines) = last_log_lines(
            d.path(),
            "kube-system",
            "kube-apiserver",
            "kube-apiserver",
            2,
        )
        .unwrap();
        assert_eq!(lines, vec!["c", "d"]);
        assert!(p.ends_with("0.log"));
        assert!(last_log_lines(d.path(), "kube-system", "etcd", "etcd", 2).is_none());
    }
}
