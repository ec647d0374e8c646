//! `plinth reset`: undo `plinth init` on this host.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::config::{self, Error as ConfigError, parse_go_duration};
use crate::host::Paths;
use crate::phases::reset::{ResetContext, workflow};
use crate::phases::runner::{Event, Outcome, Policy, Selection};
use crate::report::Reporter;

/// `plinth reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// kubeadm.k8s.io/v1beta4 config file (ResetConfiguration, ClusterConfiguration).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// List what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Certificates directory (default: from the config, else /etc/kubernetes/pki).
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// Kubeconfig directory (default /etc/kubernetes).
    #[arg(long)]
    pub kubeconfig_dir: Option<PathBuf>,
    /// Also delete /etc/kubernetes/tmp.
    #[arg(long)]
    pub cleanup_tmp_dir: bool,
    /// Container runtime endpoint whose Kubernetes Pods are removed
    /// (default: ResetConfiguration/InitConfiguration criSocket, else containerd's).
    #[arg(long)]
    pub cri_socket: Option<String>,
    /// Phases to skip.
    #[arg(long, value_delimiter = ',')]
    pub skip_phases: Option<Vec<String>>,
    /// Treat DIR as the host's root (tests and sandboxes).
    #[arg(long, hide = true)]
    pub root: Option<PathBuf>,
}

/// Runs reset.
///
/// # Errors
/// Config errors (exit 2), refusal without confirmation (exit 2), cleanup failures (exit 1).
pub(super) fn run(args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let docs = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.clone(),
                source,
            })?;
            config::load_documents(&text, &p.display().to_string())
                .map_err(|issues| ConfigError::Invalid { issues })?
        }
        None => config::Documents::default(),
    };
    let reset = docs
        .reset
        .as_ref()
        .map(|(r, _)| r.clone())
        .unwrap_or_default();
    let cluster = docs
        .cluster
        .as_ref()
        .map(|(c, _)| c.clone())
        .unwrap_or_default();
    let cert_dir = args
        .cert_dir
        .clone()
        .or_else(|| reset.certificates_dir.clone().map(PathBuf::from))
        .or_else(|| cluster.certificates_dir.clone().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/kubernetes/pki"));
    let etcd_data_dir = cluster
        .etcd
        .local
        .as_ref()
        .and_then(|l| l.data_dir.clone())
        .map_or_else(|| PathBuf::from("/var/lib/etcd"), PathBuf::from);
    let init = docs
        .init
        .as_ref()
        .map(|(i, _)| i.clone())
        .unwrap_or_default();
    let stop_timeout = reset
        .timeouts
        .as_ref()
        .and_then(|t| t.control_plane_component_health_check.as_deref())
        .and_then(|d| parse_go_duration(d).ok())
        .unwrap_or(Duration::from_secs(60));

    let mut paths = Paths::host(&cert_dir);
    if let Some(d) = &args.kubeconfig_dir {
        paths.kubeconfig_dir.clone_from(d);
    }
    if let Some(root) = &args.root {
        paths = paths.rooted(root);
    }
    let listen_addresses: Vec<IpAddr> = init
        .local_api_endpoint
        .advertise_address
        .as_deref()
        .and_then(|a| a.parse().ok())
        .into_iter()
        .collect();
    let api_port = init
        .local_api_endpoint
        .bind_port
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(6443);
    let cri_socket = args
        .cri_socket
        .clone()
        .or_else(|| reset.cri_socket.clone())
        .or_else(|| init.node_registration.cri_socket.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unix:///var/run/containerd/containerd.sock".into());
    let report = Reporter::stdout();
    let wf = workflow();
    let skip = args
        .skip_phases
        .clone()
        .or(reset.skip_phases.clone())
        .unwrap_or_default();
    let plan = wf.plan(&Selection { only: None, skip })?;
    let mut ctx = ResetContext {
        paths,
        etcd_data_dir,
        api_port,
        listen_addresses,
        cleanup_tmp_dir: args.cleanup_tmp_dir || reset.cleanup_tmp_dir == Some(true),
        force: args.force || reset.force == Some(true),
        dry_run: args.dry_run || reset.dry_run == Some(true),
        stop_timeout,
        report: report.clone(),
        cri_socket,
        confirmed: !plan.contains("preflight"),
    };
    // One writer per host (a dry run changes nothing and takes no lock).
    let _lock = if ctx.dry_run {
        None
    } else {
        Some(crate::host::lock::acquire_host(&ctx.paths)?)
    };
    // Confirmation comes first: nothing may be removed before the user agreed.
    let result = wf.run(&plan, &mut ctx, Policy::BestEffort, |ev| {
        if let Event::Finished(step) = ev
            && let Outcome::Failed(e) = &step.outcome
        {
            report.say("reset", format!("phase {} failed: {e}", step.path));
        }
    });
    if let Err(crate::phases::runner::WorkflowError::Aggregate { report: r, .. }) = &result {
        // A refusal in preflight must stop everything, and exits 2.
        let refused = r
            .steps
            .iter()
            .any(|s| s.path == "preflight" && matches!(s.outcome, Outcome::Failed(_)));
        if refused && !ctx.confirmed {
            return Err(crate::cli::UsageError(
                "reset did not run: it needs confirmation (answer y, or pass --force); nothing was removed".into(),
            )
            .into());
        }
    }
    let _ = result?;
    Ok(ExitCode::SUCCESS)
}
