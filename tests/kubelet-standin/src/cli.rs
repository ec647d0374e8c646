//! Command line: flags, defaults and the tokio runtime. Flags that mirror kubelet flags keep their names
//! (`--kubeconfig`, `--node-name` ≈ `--hostname-override`, `--node-ip`, `--pod-log-dir` ≈ `podLogsDir`).

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::run::Config;

/// A kubelet stand-in for plinth's end-to-end tests: runs hostNetwork static Pods as host processes.
#[derive(Debug, Parser)]
#[command(name = "plinth-kubelet-standin", version)]
pub struct Cli {
    /// The static Pod manifest directory (kubelet staticPodPath).
    #[arg(long, value_name = "DIR")]
    pub manifests_dir: PathBuf,
    /// Directory holding one executable per image name; the only place binaries are looked up.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: PathBuf,
    /// kubeconfig used to register the Node (e.g. /etc/kubernetes/kubelet.conf); waits for it to appear.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Node name [default: the host name, lowercased].
    #[arg(long)]
    pub node_name: Option<String>,
    /// Node IP: the InternalIP address and the value of status.hostIP/status.podIP field references.
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Address of GET /healthz and GET /status (port 0 picks a free port; see healthz_addr in the status).
    #[arg(long, default_value = "127.0.0.1:10248")]
    pub healthz_addr: SocketAddr,
    /// Root of the container logs.
    #[arg(long, value_name = "DIR", default_value = "/var/log/pods")]
    pub pod_log_dir: PathBuf,
    /// Write the JSON status here after every change (atomically).
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Create and maintain mirror Pods in the API server (needs --kubeconfig).
    #[arg(long)]
    pub mirror_pods: bool,
    /// First non-zero restart delay (kubelet: 10s).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub restart_backoff_base: Duration,
    /// Largest restart delay (kubelet: 5m).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub restart_backoff_max: Duration,
    /// Cap every termination grace period (SIGTERM → SIGKILL) at this duration.
    #[arg(long, value_parser = parse_duration)]
    pub max_grace_period: Option<Duration>,
    /// How often the manifest directory is rescanned.
    #[arg(long, value_parser = parse_duration, default_value = "200ms")]
    pub poll_interval: Duration,
    /// Node status heartbeat period (kubelet: nodeStatusUpdateFrequency).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub node_status_interval: Duration,
    /// Reported as the Node's kubeletVersion.
    #[arg(long, default_value = "")]
    pub kubelet_version: String,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "STANDIN_LOG", default_value = "info")]
    pub log: String,
}

/// Parses `250ms`, `2s`, `1m` or a bare number of seconds.
///
/// # Errors
/// Anything else.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration {s:?} (use ms, s or m)")),
    }
}

fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl Cli {
    /// Resolves defaults into a [`Config`].
    pub fn into_config(self) -> Config {
        Config {
            manifests_dir: self.manifests_dir,
            bin_dir: self.bin_dir,
            kubeconfig: self.kubeconfig,
            node_name: self
                .node_name
                .map(|n| n.to_lowercase())
                .unwrap_or_else(default_node_name),
            node_ip: self.node_ip,
            healthz_addr: self.healthz_addr,
            pod_log_dir: self.pod_log_dir,
            status_file: self.status_file,
            mirror_pods: self.mirror_pods,
            backoff_base: self.restart_backoff_base,
            backoff_max: self.restart_backoff_max,
            max_grace: self.max_grace_period,
            poll_interval: self.poll_interval.max(Duration::from_millis(10)),
            node_status_interval: self.node_status_interval.max(Duration::from_millis(100)),
            kubelet_version: self.kubelet_version,
        }
    }
}

/// Sets up logging to stderr and runs the stand-in on a tokio runtime.
///
/// # Errors
/// Invalid flags or any fatal error of [`crate::run::run`].
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).context("invalid --log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if cli.mirror_pods && cli.kubeconfig.is_none() {
        anyhow::bail!("--mirror-pods needs --kubeconfig");
    }
    if !cli.bin_dir.is_absolute() {
        anyhow::bail!("--bin-dir must be an absolute path");
    }
    let cfg = cli.into_config();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(crate::run::run(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn cli_parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "plinth-kubelet-standin",
            "--manifests-dir",
            "/etc/kubernetes/manifests",
            "--bin-dir",
            "/opt/bin",
            "--kubeconfig",
            "/etc/kubernetes/kubelet.conf",
            "--node-name",
            "CP-1",
            "--status-file",
            "/tmp/s.json",
            "--mirror-pods",
        ])
        .unwrap();
        let cfg = cli.into_config();
        assert_eq!(cfg.node_name, "cp-1");
        assert_eq!(cfg.healthz_addr, "127.0.0.1:10248".parse().unwrap());
        assert_eq!(cfg.pod_log_dir, PathBuf::from("/var/log/pods"));
        assert_eq!(
            (cfg.backoff_base, cfg.backoff_max),
            (Duration::from_secs(1), Duration::from_secs(30))
        );
        assert!(cfg.mirror_pods);
    }
}
