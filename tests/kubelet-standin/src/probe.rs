//! Startup, liveness and readiness probes (`httpGet` and `tcpSocket`), with the kubelet's thresholds.
//!
//! kubelet (`pkg/kubelet/prober`): HTTPS skips certificate verification, no proxy, no keep-alive, success is
//! a status in 200..=399; a result only changes the probe's state after `successThreshold` or
//! `failureThreshold` equal results in a row. Redirects are not followed: a 3xx already counts as success.

use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::manifest::{ProbeAction, ProbeSpec};

/// Formats an error with its `source()` chain, `outer: inner: …`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// Runs single probe checks.
#[derive(Debug, Clone)]
pub struct Prober {
    client: reqwest::Client,
}

impl Prober {
    /// A prober with the kubelet's HTTP client settings.
    ///
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .user_agent("kube-probe/plinth-kubelet-standin")
            .build()?;
        Ok(Self { client })
    }

    /// One check; `Err` carries the kubelet-style failure text.
    pub async fn check(&self, spec: &ProbeSpec) -> Result<(), String> {
        match &spec.action {
            ProbeAction::Http { url, headers } => {
                let mut req = self
                    .client
                    .get(url)
                    .timeout(spec.timeout)
                    .header("Accept", "*/*");
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?;
                let code = resp.status().as_u16();
                if (200..400).contains(&code) {
                    Ok(())
                } else {
                    Err(format!("HTTP probe failed with statuscode: {code}"))
                }
            }
            ProbeAction::Tcp { addr } => {
                match tokio::time::timeout(spec.timeout, tokio::net::TcpStream::connect(addr)).await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("dial tcp {addr}: {e}")),
                    Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
                }
            }
        }
    }
}

/// Consecutive-result bookkeeping (kubelet: `worker.lastResult`/`resultRun`).
#[derive(Debug, Default)]
pub struct Thresholds {
    last: Option<bool>,
    run: u32,
}

impl Thresholds {
    /// Feeds one result; returns the new probe state once its threshold is reached.
    pub fn observe(
        &mut self,
        ok: bool,
        success_threshold: u32,
        failure_threshold: u32,
    ) -> Option<bool> {
        if self.last == Some(ok) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(ok);
            self.run = 1;
        }
        let needed = if ok {
            success_threshold
        } else {
            failure_threshold
        };
        (self.run >= needed).then_some(ok)
    }
}

/// Probes every `period` from `started + initialDelay`, and calls `on_state` each time a threshold is reached
/// (with the last failure text when failing). Returns as soon as `on_state` returns `Some`.
pub async fn run<T>(
    prober: &Prober,
    spec: &ProbeSpec,
    started: Instant,
    mut on_state: impl FnMut(bool, Option<&str>) -> Option<T>,
) -> T {
    tokio::time::sleep_until(started + spec.initial_delay).await;
    let mut ticks = tokio::time::interval(spec.period.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut thresholds = Thresholds::default();
    loop {
        ticks.tick().await;
        let result = prober.check(spec).await;
        let state = thresholds.observe(
            result.is_ok(),
            spec.success_threshold,
            spec.failure_threshold,
        );
        if let Some(done) =
            state.and_then(|st| on_state(st, result.as_ref().err().map(String::as_str)))
        {
            return done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_need_consecutive_results() {
        let mut t = Thresholds::default();
        assert_eq!(t.observe(false, 1, 3), None);
        assert_eq!(t.observe(false, 1, 3), None);
        assert_eq!(
            t.observe(true, 1, 3),
            Some(true),
            "a success resets the failure run"
        );
        assert_eq!(t.observe(false, 1, 3), None);
        assert_eq!(t.observe(false, 1, 3), None);
        assert_eq!(t.observe(false, 1, 3), Some(false));
        assert_eq!(t.observe(false, 1, 3), Some(false), "stays failed");
        let mut t = Thresholds::default();
        assert_eq!(t.observe(true, 2, 1), None);
        assert_eq!(t.observe(true, 2, 1), Some(true));
    }

    #[test]
    fn error_chain_shows_causes_once() {
        let inner = std::io::Error::other("connection refused");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(
            error_chain(&Outer(inner)),
            "request failed: connection refused"
        );
    }

    #[tokio::test]
    async fn https_probes_skip_certificate_verification() {
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls;
        // A self-signed certificate for a name the probe does not use: verification would fail twice over.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["not-this-host.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = vec![0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        let spec = ProbeSpec {
            action: ProbeAction::Http {
                url: format!("https://127.0.0.1:{port}/livez"),
                headers: vec![],
            },
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            success_threshold: 1,
            failure_threshold: 1,
            termination_grace: None,
        };
        assert_eq!(Prober::new().unwrap().check(&spec).await, Ok(()));
    }

    #[tokio::test]
    async fn http_status_classes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let code = req
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .trim_start_matches('/')
                    .to_owned();
                let resp =
                    format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        let prober = Prober::new().unwrap();
        let spec = |code: u16| ProbeSpec {
            action: ProbeAction::Http {
                url: format!("http://127.0.0.1:{port}/{code}"),
                headers: vec![],
            },
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            success_threshold: 1,
            failure_threshold: 1,
            termination_grace: None,
        };
        assert_eq!(prober.check(&spec(200)).await, Ok(()));
        assert_eq!(prober.check(&spec(302)).await, Ok(()));
        assert_eq!(prober.check(&spec(399)).await, Ok(()));
        assert_eq!(
            prober.check(&spec(400)).await,
            Err("HTTP probe failed with statuscode: 400".into())
        );
        assert_eq!(
            prober.check(&spec(500)).await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
        let tcp = ProbeSpec {
            action: ProbeAction::Tcp {
                addr: format!("127.0.0.1:{port}"),
            },
            ..spec(200)
        };
        assert_eq!(prober.check(&tcp).await, Ok(()));
    }
}
