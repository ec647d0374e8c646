//! Polls every check concurrently until all are healthy or the deadline passes. Polls every
//! 50 ms over kept-alive connections so readiness is seen within ~100 ms of happening; backs off
//! to 100 ms while nothing listens yet.

use std::time::{Duration, Instant};

use super::diagnose::{Diagnosis, classify_error, failing_checks};
use super::endpoints::{Check, TlsMode};

/// A state change of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Polling; the last reason it is not healthy, if any.
    Waiting(Option<Diagnosis>),
    /// Healthy after this long.
    Healthy(Duration),
}

/// Some components did not become healthy in time.
#[derive(Debug, thiserror::Error)]
#[error("{} component(s) not healthy after {:?}: {}", unhealthy.len(), waited, unhealthy.iter().map(|(c, d)| format!("{c}: {d}")).collect::<Vec<_>>().join("; "))]
pub struct WaitError {
    /// Component → last diagnosis.
    pub unhealthy: Vec<(String, Diagnosis)>,
    /// How long we waited.
    pub waited: Duration,
}

fn client(tls: &TlsMode) -> Result<reqwest::Client, String> {
    let b = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(30));
    let b = match tls {
        TlsMode::Plain => b,
        TlsMode::SkipVerify => b.tls_danger_accept_invalid_certs(true),
        TlsMode::Verify {
            ca_pem,
            identity_pem,
        } => {
            let roots = reqwest::Certificate::from_pem_bundle(ca_pem)
                .map_err(|e| format!("bad CA bundle: {e}"))?;
            let id = reqwest::Identity::from_pem(identity_pem)
                .map_err(|e| format!("bad client identity: {e}"))?;
            b.tls_certs_only(roots).identity(id)
        }
    };
    b.build().map_err(|e| format!("{e:#}"))
}

/// An error and its sources, `: `-joined (reqwest hides the useful part in the sources).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One poll: `Ok(())` when healthy, else why not.
async fn poll(client: &reqwest::Client, check: &Check) -> Result<(), Diagnosis> {
    if let Some(m) = &check.manifest
        && !m.exists()
    {
        return Err(Diagnosis::ManifestMissing(m.clone()));
    }
    if check.url.is_empty() {
        return Err(Diagnosis::Other(
            "the manifest has no HTTP probe to poll".into(),
        ));
    }
    let authority = check
        .url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    match client.get(&check.url).send().await {
        Ok(r) if r.status().as_u16() == 200 => Ok(()),
        Ok(r) => {
            let status = r.status().as_u16();
            let sep = if check.url.contains('?') { '&' } else { '?' };
            let body = match client
                .get(format!("{}{sep}verbose", check.url))
                .send()
                .await
            {
                Ok(v) => v.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            Err(Diagnosis::Unhealthy {
                status,
                failing: failing_checks(&body),
            })
        }
        Err(e) => Err(classify_error(&chain(&e), &authority)),
    }
}

/// Waits until every check answers 200, calling `on_progress` on each state change.
///
/// # Errors
/// [`WaitError`] listing every component that was not healthy at the deadline, with why.
pub async fn wait_all(
    checks: &[Check],
    timeout: Duration,
    on_progress: impl Fn(&str, &Progress) + Send + Sync + 'static,
) -> Result<Vec<(String, Duration)>, WaitError> {
    let start = Instant::now();
    let on_progress = std::sync::Arc::new(on_progress);
    let mut set = tokio::task::JoinSet::new();
    for check in checks.iter().cloned() {
        let cb = on_progress.clone();
        set.spawn(async move {
            let client = match client(&check.tls) {
                Ok(c) => c,
                Err(e) => return (check.component, Err(Diagnosis::Other(e))),
            };
            let mut last: Option<Diagnosis> = None;
            cb(&check.component, &Progress::Waiting(None));
            loop {
                match poll(&client, &check).await {
                    Ok(()) => {
                        let took = start.elapsed();
                        cb(&check.component, &Progress::Healthy(took));
                        return (check.component, Ok(took));
                    }
                    Err(d) => {
                        let refused = matches!(d, Diagnosis::NotListening(_));
                        if last.as_ref() != Some(&d) {
                            cb(&check.component, &Progress::Waiting(Some(d.clone())));
                            last = Some(d.clone());
                        }
                        if start.elapsed() >= timeout {
                            return (check.component, Err(d));
                        }
                        let pause = if refused { 100 } else { 50 };
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                }
            }
        });
    }
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((c, Ok(d))) => healthy.push((c, d)),
            Ok((c, Err(d))) => unhealthy.push((c, d)),
            Err(e) => unhealthy.push(("<task>".into(), Diagnosis::Other(e.to_string()))),
        }
    }
    if unhealthy.is_empty() {
        healthy.sort_by_key(|(_, d)| *d);
        Ok(healthy)
    } else {
        unhealthy.sort_by(|a, b| a.0.cmp(&b.0));
        Err(WaitError {
            unhealthy,
            waited: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn serve(status: &'static str, body: &'static str) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming().take(50) {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        port
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn check(url: String) -> Check {
        Check {
            component: "c".into(),
            url,
            tls: TlsMode::Plain,
            manifest: None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn healthy_endpoint_is_seen_quickly() {
        let port = serve("200 OK", "ok");
        let r = wait_all(
            &[check(format!("http://127.0.0.1:{port}/healthz"))],
            Duration::from_secs(5),
            |_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(r[0].0, "c");
        assert!(r[0].1 < Duration::from_secs(2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn diagnoses_refused_and_failing_checks() {
        let closed = free_port();
        let failing = serve(
            "500 Internal Server Error",
            "[+]ping ok\n[-]etcd failed: reason withheld\n",
        );
        let checks = [
            check(format!("http://127.0.0.1:{closed}/livez")),
            Check {
                component: "d".into(),
                ..check(format!("http://127.0.0.1:{failing}/livez"))
            },
            Check {
                component: "e".into(),
                manifest: Some("/nonexistent/kube-scheduler.yaml".into()),
                ..check("http://127.0.0.1:1/livez".into())
            },
        ];
        let e = wait_all(&checks, Duration::from_millis(400), |_, _| {})
            .await
            .unwrap_err();
        assert_eq!(e.unhealthy.len(), 3);
        assert_eq!(
            e.unhealthy[0],
            (
                "c".to_string(),
                Diagnosis::NotListening(format!("127.0.0.1:{closed}"))
            )
        );
        assert_eq!(
            e.unhealthy[1].1,
            Diagnosis::Unhealthy {
                status: 500,
                failing: vec!["[-]etcd failed: reason withheld".into()]
            }
        );
        assert!(matches!(e.unhealthy[2].1, Diagnosis::ManifestMissing(_)));
        assert!(e.to_string().contains("nothing is listening on 127.0.0.1:"));
    }
}
