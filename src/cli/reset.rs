//! `plinth reset`: undo `plinth init` on this host.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::config::{self, parse_go_duration};
use crate::host::Paths;
use crate::manifests::Component;
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
    /// Clean kubeadm's directories whole, as `kubeadm reset` does, instead of only what plinth
    /// wrote (the path policy still applies: never /, /etc, /var, ...).
    #[arg(long)]
    pub all: bool,
    /// Clean through directories that are symbolic links (refused by default).
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Treat DIR as the host's root (tests and sandboxes).
    #[arg(long, hide = true)]
    pub root: Option<PathBuf>,
}

/// Runs reset.
///
/// # Errors
/// Config errors (exit 2), refusal without confirmation (exit 2), cleanup failures (exit 1).
pub(super) fn run(args: &ResetArgs) -> anyhow::Result<ExitCode> {
    // The same checks as init's, before anything is removed (exit 2 on a bad path).
    let config::ResetInput {
        reset,
        cluster,
        init,
    } = config::load_reset(args.config.as_deref())?;
    if let Some(d) = &args.cert_dir {
        super::check_dir_flag("--cert-dir", d)?;
    }
    if let Some(d) = &args.kubeconfig_dir {
        super::check_dir_flag("--kubeconfig-dir", d)?;
    }
    let root = args.root.as_deref().unwrap_or(std::path::Path::new("/"));
    let cert_dir = match args
        .cert_dir
        .clone()
        .or_else(|| reset.certificates_dir.clone().map(PathBuf::from))
        .or_else(|| cluster.certificates_dir.clone().map(PathBuf::from))
    {
        Some(d) => d,
        // kubeadm's reset takes certificatesDir from the cluster's kubeadm-config; without a
        // config file plinth reads it from this node's kube-apiserver manifest, which works with
        // the API server down, and checks it like any other input.
        None => cert_dir_from_manifest(&Paths::host(std::path::Path::new("/")).rooted(root))?
            .unwrap_or_else(|| PathBuf::from(crate::host::DEFAULT_CERT_DIR)),
    };
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
    let etcd_data_dir = etcd_data_dir(&paths, &cluster)?;
    crate::host::fs::allow_symlinks(args.allow_symlinks);
    let cleanup_tmp_dir = args.cleanup_tmp_dir || reset.cleanup_tmp_dir == Some(true);
    let targets = ResetContext::targets_for(&paths, etcd_data_dir.as_deref(), cleanup_tmp_dir);
    let dirs: Vec<PathBuf> = targets.iter().map(|t| t.dir.clone()).collect();
    super::check_no_symlinked_dirs(&dirs)?;
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
        .unwrap_or_else(|| crate::config::DEFAULT_CRI_SOCKET.into());
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
        facts: crate::host::Facts::detect(),
        targets,
        api_port,
        listen_addresses,
        all: args.all,
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

/// etcd's data directory: the one this node's etcd manifest names (kubeadm's reset reads it
/// there too, `app/cmd/phases/reset/cleanupnode.go` `getEtcdDataDir`), else the config's, else
/// kubeadm's default; none for external etcd. Whatever its source, it passes the path policy.
fn etcd_data_dir(
    paths: &Paths,
    cluster: &crate::config::v1beta4::ClusterConfiguration,
) -> Result<Option<PathBuf>, crate::cli::UsageError> {
    let manifest = paths.manifests_dir_disk().join(Component::Etcd.file_name());
    let (dir, source) = if let Some(d) = crate::preflight::etcd_data_dir(&manifest) {
        (d, format!("--data-dir of {}", manifest.display()))
    } else if cluster.etcd.external.is_some() {
        return Ok(None);
    } else {
        let d = cluster
            .etcd
            .local
            .as_ref()
            .and_then(|l| l.data_dir.clone())
            .unwrap_or_else(|| crate::config::DEFAULT_ETCD_DATA_DIR.into());
        (PathBuf::from(d), "etcd.local.dataDir".into())
    };
    config::pathpolicy::check_dir_path(&dir).map_err(|e| {
        crate::cli::UsageError(format!(
            "refusing to clean etcd's data directory {} (from {source}): {e} ({}); nothing was removed",
            dir.display(),
            e.hint()
        ))
    })?;
    Ok(Some(dir))
}

/// The certificates directory named by this node's kube-apiserver manifest, checked against the
/// path policy (exit 2 when it fails: nothing is removed).
fn cert_dir_from_manifest(paths: &Paths) -> Result<Option<PathBuf>, crate::cli::UsageError> {
    let manifest = paths
        .manifests_dir_disk()
        .join(Component::KubeApiserver.file_name());
    let Some(dir) = crate::preflight::apiserver_cert_dir(&manifest) else {
        return Ok(None);
    };
    config::pathpolicy::check_dir_path(&dir).map_err(|e| {
        crate::cli::UsageError(format!(
            "refusing to clean the certificates directory {} (from --client-ca-file of {}): {e} ({}); nothing was removed; pass --cert-dir or --config",
            dir.display(),
            manifest.display(),
            e.hint()
        ))
    })?;
    Ok(Some(dir))
}
