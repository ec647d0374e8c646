//! Independent health poller for `scripts/bench` (bench tooling, not part of plinth).
//!
//! `plinth-bench-poller --out FILE [--interval-ms 5] [--timeout-s 180] [--kubeconfig admin.conf]
//! [--ready-file PATH] NAME=URL...`
//!
//! One task per endpoint on a single thread: a GET every `--interval-ms` over a kept-alive
//! connection until the first HTTP 200, whose wall-clock time (CLOCK_REALTIME, Unix seconds) is
//! recorded. Endpoints named `kube-apiserver*` are verified against the CA of `--kubeconfig` and
//! authenticated with its client certificate (what plinth and kubeadm do); the file may appear
//! during the run and is read once complete. Other HTTPS endpoints are not verified (the
//! controller-manager and scheduler serve self-signed certificates). Writes
//! `{"first_ok": {NAME: secs|null}, "polls": {NAME: n}, "cpu": secs}` to FILE when every endpoint
//! answered 200, at the timeout, or on SIGTERM.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use base64::Engine as _;

struct Args {
    out: PathBuf,
    interval: Duration,
    timeout: Duration,
    kubeconfig: Option<PathBuf>,
    ready_file: Option<PathBuf>,
    endpoints: Vec<(String, String)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        out: PathBuf::new(),
        interval: Duration::from_millis(5),
        timeout: Duration::from_secs(180),
        kubeconfig: None,
        ready_file: None,
        endpoints: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => a.out = value()?.into(),
            "--interval-ms" => a.interval = Duration::from_millis(value()?.parse()?),
            "--timeout-s" => a.timeout = Duration::from_secs(value()?.parse()?),
            "--kubeconfig" => a.kubeconfig = Some(value()?.into()),
            "--ready-file" => a.ready_file = Some(value()?.into()),
            _ => match arg.split_once('=') {
                Some((name, url)) if !arg.starts_with('-') => {
                    a.endpoints.push((name.to_string(), url.to_string()));
                }
                _ => bail!("unknown argument {arg:?}"),
            },
        }
    }
    if a.out.as_os_str().is_empty() || a.endpoints.is_empty() {
        bail!("usage: plinth-bench-poller --out FILE [options] NAME=URL...");
    }
    Ok(a)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// CA and client identity (cert + key PEM) from a kubeconfig with embedded data; `None` while the
/// file is missing or not completely written.
fn identity(kubeconfig: &Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
            })
    };
    let ca = field("certificate-authority-data")?;
    let mut id = field("client-certificate-data")?;
    id.push(b'\n');
    id.extend(field("client-key-data")?);
    Some((ca, id))
}

fn client(name: &str, kubeconfig: Option<&Path>) -> anyhow::Result<Option<reqwest::Client>> {
    let b = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2));
    let b = match kubeconfig {
        Some(k) if name.starts_with("kube-apiserver") => {
            let Some((ca, id)) = identity(k) else {
                return Ok(None);
            };
            b.tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca)?)
                .identity(reqwest::Identity::from_pem(&id)?)
        }
        _ => b.tls_danger_accept_invalid_certs(true),
    };
    Ok(Some(b.build()?))
}

/// Polls one endpoint until its first 200; returns (time of that answer, number of requests).
async fn poll(
    name: String,
    url: String,
    interval: Duration,
    deadline: Instant,
    kubeconfig: Option<PathBuf>,
) -> (String, Option<f64>, u64) {
    let mut c: Option<reqwest::Client> = None;
    let mut polls = 0;
    while Instant::now() < deadline {
        if c.is_none() {
            match client(&name, kubeconfig.as_deref()) {
                Ok(x) => c = x,
                Err(e) => {
                    eprintln!("plinth-bench-poller: {name}: {e:#}");
                    return (name, None, polls);
                }
            }
        }
        if let Some(c) = &c {
            polls += 1;
            if let Ok(r) = c.get(&url).send().await {
                let ok = r.status().as_u16() == 200;
                let _ = r.bytes().await; // keep the connection reusable
                if ok {
                    return (name, Some(now()), polls);
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
    (name, None, polls)
}

/// User + system CPU seconds of this process (from /proc/self/stat, in clock ticks of 1/100 s).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let deadline = Instant::now() + a.timeout;
    let mut set = tokio::task::JoinSet::new();
    for (name, url) in &a.endpoints {
        set.spawn(poll(
            name.clone(),
            url.clone(),
            a.interval,
            deadline,
            a.kubeconfig.clone(),
        ));
    }
    if let Some(r) = &a.ready_file {
        std::fs::write(r, b"")?;
    }
    let mut first_ok = serde_json::Map::new();
    let mut polls = serde_json::Map::new();
    for (name, _) in &a.endpoints {
        first_ok.insert(name.clone(), serde_json::Value::Null);
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            r = set.join_next() => match r {
                Some(Ok((name, t, n))) => {
                    first_ok.insert(name.clone(), t.into());
                    polls.insert(name, n.into());
                }
                Some(Err(e)) => bail!("poll task failed: {e}"),
                None => break,
            },
            _ = term.recv() => break,
        }
    }
    let out = serde_json::json!({"first_ok": first_ok, "polls": polls, "cpu": cpu_secs()});
    let tmp = a.out.with_extension("tmp");
    std::fs::write(&tmp, out.to_string())?;
    std::fs::rename(&tmp, &a.out)?;
    Ok(())
}
