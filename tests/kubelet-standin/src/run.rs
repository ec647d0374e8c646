//! The main loop: watch the manifest directory like the kubelet's file source, hand each static Pod's
//! desired plan to its worker, publish rejections, and tear everything down on SIGTERM/SIGINT.
//!
//! kubelet (`pkg/kubelet/config/file.go` `extractFromDir`): every non-hidden regular file in the directory
//! is a manifest, whatever its extension; subdirectories are not descended into. The whole directory is
//! the desired set, so a file that stops parsing stops its Pod; a directory that cannot be listed (for
//! example, it does not exist) changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::manifest::{PlanContext, PodPlan, Rejection, load_plan, sha256_hex};
use crate::node::{self, NodeConfig};
use crate::probe::Prober;
use crate::status::{self, PodStatus, Status};
use crate::worker::{WorkerCtx, run_worker};

/// Everything the stand-in needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The static Pod directory (kubelet `staticPodPath`).
    pub manifests_dir: PathBuf,
    /// The only place binaries come from.
    pub bin_dir: PathBuf,
    /// kubelet.conf, for node registration.
    pub kubeconfig: Option<PathBuf>,
    /// The node name.
    pub node_name: String,
    /// The node IP (status.hostIP/podIP, InternalIP address).
    pub node_ip: Option<IpAddr>,
    /// Where `/healthz` and `/status` are served.
    pub healthz_addr: SocketAddr,
    /// The root of the container logs.
    pub pod_log_dir: PathBuf,
    /// Where the JSON status is written.
    pub status_file: Option<PathBuf>,
    /// Create mirror Pods.
    pub mirror_pods: bool,
    /// First non-zero restart delay.
    pub backoff_base: Duration,
    /// Largest restart delay.
    pub backoff_max: Duration,
    /// Cap on termination grace periods.
    pub max_grace: Option<Duration>,
    /// How often the manifest directory is scanned.
    pub poll_interval: Duration,
    /// Node heartbeat period.
    pub node_status_interval: Duration,
    /// Reported kubelet version.
    pub kubelet_version: String,
}

struct Worker {
    tx: watch::Sender<Option<Arc<PodPlan>>>,
    join: JoinHandle<()>,
}

/// The file-source reconciler.
struct Reconciler {
    dir: PathBuf,
    plan_ctx: PlanContext,
    ctx: Arc<WorkerCtx>,
    cache: HashMap<PathBuf, (String, Result<Arc<PodPlan>, Rejection>)>,
    workers: HashMap<String, Worker>,
    next_owner: u64,
    dir_error: Option<String>,
}

/// Non-hidden regular files (symlinks followed) directly in `dir`, sorted, with their content.
///
/// # Errors
/// The directory cannot be listed.
pub fn scan_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue; // editors' and atomic writers' temp files
        }
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(m) if m.is_dir() => {
                tracing::debug!(path = %path.display(), "not recursing into a directory in the manifest path");
                continue;
            }
            _ => continue,
        }
        match std::fs::read(&path) {
            Ok(content) => files.push((path, content)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read manifest"),
        }
    }
    files.sort();
    Ok(files)
}

impl Reconciler {
    fn sync(&mut self) {
        let files = match scan_dir(&self.dir) {
            Ok(f) => {
                self.dir_error = None;
                f
            }
            Err(e) => {
                let msg = format!("unable to read config path {}: {e}", self.dir.display());
                if self.dir_error.as_ref() != Some(&msg) {
                    tracing::warn!("{msg}");
                    self.dir_error = Some(msg);
                }
                // kubelet: a failed listing sends no update, so running Pods keep running.
                return;
            }
        };
        let mut cache = HashMap::new();
        let mut desired: BTreeMap<String, Arc<PodPlan>> = BTreeMap::new();
        let mut rejections: Vec<(PathBuf, Rejection)> = Vec::new();
        for (path, content) in files {
            let hash = sha256_hex(&content);
            let result = match self.cache.remove(&path) {
                Some((h, r)) if h == hash => r,
                old => {
                    let r = load_plan(&path, &content, &self.plan_ctx).map(Arc::new);
                    let what = if old.is_some() { "changed" } else { "added" };
                    match &r {
                        Ok(p) => {
                            tracing::info!(manifest = %path.display(), pod = %p.full_name, "manifest {what}")
                        }
                        Err(rej) => {
                            tracing::warn!(manifest = %path.display(), "manifest {what} but rejected: {}", rej.message)
                        }
                    }
                    r
                }
            };
            cache.insert(path.clone(), (hash, result.clone()));
            match result {
                Ok(plan) => match desired.get(&plan.name) {
                    Some(first) => {
                        let rej = Rejection {
                            key: plan.name.clone(),
                            manifest_hash: plan.manifest_hash.clone(),
                            message: format!(
                                "pod {:?} rejected: duplicate pod name, already defined by {}",
                                plan.name,
                                first.file.display()
                            ),
                        };
                        rejections.push((path, rej));
                    }
                    None => {
                        desired.insert(plan.name.clone(), plan);
                    }
                },
                Err(rej) => rejections.push((path, rej)),
            }
        }
        for path in self.cache.keys() {
            tracing::info!(manifest = %path.display(), "manifest removed");
        }
        self.cache = cache;

        for (key, plan) in &desired {
            let alive = self.workers.get(key).filter(|w| !w.join.is_finished());
            match alive {
                Some(w) => {
                    if w.tx.borrow().as_ref().map(|p| &p.uid) != Some(&plan.uid) {
                        w.tx.send_replace(Some(plan.clone()));
                    }
                }
                None => {
                    self.next_owner += 1;
                    let (tx, rx) = watch::channel(Some(plan.clone()));
                    let join = tokio::spawn(run_worker(
                        self.ctx.clone(),
                        key.clone(),
                        self.next_owner,
                        rx,
                    ));
                    self.workers.insert(key.clone(), Worker { tx, join });
                }
            }
        }
        for (key, w) in &self.workers {
            if !desired.contains_key(key) && w.tx.borrow().is_some() {
                w.tx.send_replace(None);
            }
        }
        self.workers.retain(|_, w| !w.join.is_finished());

        // Rejections are keyed by Pod name unless that name is taken, then by file name.
        let mut rejected: BTreeMap<String, PodStatus> = BTreeMap::new();
        for (path, rej) in rejections {
            let file_key = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let key = if desired.contains_key(&rej.key) || rejected.contains_key(&rej.key) {
                file_key
            } else {
                rej.key.clone()
            };
            rejected.insert(
                key,
                PodStatus::rejected(&path, &rej.manifest_hash, &rej.message),
            );
        }
        for (key, entry) in &rejected {
            self.ctx.status.set_rejected(key, entry.clone());
        }
        self.ctx
            .status
            .retain_rejected(&|k| rejected.contains_key(k));
    }

    async fn shutdown(&mut self) {
        self.ctx
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for w in self.workers.values() {
            w.tx.send_replace(None);
        }
        for (key, w) in self.workers.drain() {
            if let Err(e) = w.join.await {
                tracing::warn!(pod = %key, error = %e, "worker failed");
            }
        }
    }
}

/// Runs the stand-in until SIGTERM or SIGINT, then stops every Pod and returns.
///
/// # Errors
/// The health address cannot be bound, signal handlers cannot be installed, or the probe client fails.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let status = Status::new(&cfg.node_name);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut sigterm =
        signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut sigint =
        signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;

    let listener = tokio::net::TcpListener::bind(cfg.healthz_addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.healthz_addr))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound health address")?;
    status.update(|d| d.healthz_addr = Some(bound.to_string()));
    tracing::info!(addr = %bound, "serving /healthz and /status");
    let server = tokio::spawn(crate::server::serve(
        listener,
        status.clone(),
        shutdown_rx.clone(),
    ));
    let writer = cfg
        .status_file
        .clone()
        .map(|p| tokio::spawn(status::write_loop(status.clone(), p, shutdown_rx.clone())));
    let node = cfg.kubeconfig.clone().map(|kubeconfig| {
        let ncfg = NodeConfig {
            kubeconfig,
            node_name: cfg.node_name.clone(),
            node_ip: cfg.node_ip,
            status_interval: cfg.node_status_interval,
            mirror_pods: cfg.mirror_pods,
            kubelet_version: cfg.kubelet_version.clone(),
        };
        tokio::spawn(node::run(ncfg, status.clone(), shutdown_rx.clone()))
    });

    let ctx = Arc::new(WorkerCtx {
        status: status.clone(),
        prober: Prober::new().context("cannot build the probe HTTP client")?,
        pod_log_dir: cfg.pod_log_dir.clone(),
        backoff_base: cfg.backoff_base,
        backoff_max: cfg.backoff_max,
        shutting_down: std::sync::atomic::AtomicBool::new(false),
    });
    let mut rec = Reconciler {
        dir: cfg.manifests_dir.clone(),
        plan_ctx: PlanContext {
            bin_dir: cfg.bin_dir.clone(),
            node_name: cfg.node_name.clone(),
            node_ip: cfg.node_ip,
            max_grace: cfg.max_grace,
        },
        ctx,
        cache: HashMap::new(),
        workers: HashMap::new(),
        next_owner: 0,
        dir_error: None,
    };
    tracing::info!(manifests = %cfg.manifests_dir.display(), bin_dir = %cfg.bin_dir.display(), node = %cfg.node_name, "kubelet stand-in started");
    let mut ticks = tokio::time::interval(cfg.poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => rec.sync(),
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping all pods"); break }
            _ = sigint.recv() => { tracing::info!("SIGINT: stopping all pods"); break }
        }
    }
    rec.shutdown().await;
    let _ = shutdown_tx.send(true);
    for task in [Some(server), writer, node].into_iter().flatten() {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, "background task failed");
        }
    }
    tracing::info!("kubelet stand-in stopped");
    Ok(())
}
