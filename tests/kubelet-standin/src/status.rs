//! The stand-in's observable state: one entry per static Pod (keyed by the manifest's `metadata.name`, or
//! the file name when no name could be read), plus node registration. Served at `GET /status` and written
//! atomically to `--status-file` after every change.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::watch;

use crate::manifest::PodPlan;

/// The lifecycle state of a static Pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PodState {
    /// Not started yet, or waiting to retry a failed preparation (missing binary, hostPath check).
    Waiting,
    /// The process is running.
    Running,
    /// The process exited and the restart is delayed by back-off (kubelet: CrashLoopBackOff).
    Crashloop,
    /// The process exited and the restart policy says not to restart it.
    Terminated,
    /// The manifest cannot be run; see `last_error`.
    Rejected,
}

/// The status of one static Pod.
#[derive(Debug, Clone, Serialize)]
pub struct PodStatus {
    /// The state.
    pub state: PodState,
    /// The PID (= process group ID) of the running process.
    pub pid: Option<u32>,
    /// How many times the container was restarted (kubelet: `restartCount`).
    pub restarts: u32,
    /// Readiness (true without a readiness probe once started).
    pub ready: bool,
    /// The startup probe succeeded (true without a startup probe once the process runs).
    pub startup_done: bool,
    /// The last error, probe failure or rejection reason.
    pub last_error: Option<String>,
    /// SHA-256 (hex) of the manifest file.
    pub manifest_hash: String,
    /// The manifest file.
    pub manifest: PathBuf,
    /// `<name>-<node>`.
    pub pod_name: Option<String>,
    /// The Pod namespace.
    pub namespace: Option<String>,
    /// The static Pod UID.
    pub uid: Option<String>,
    /// The current container log file.
    pub log_path: Option<PathBuf>,
    /// The exit code of the previous instance (negative: killed by that signal).
    pub last_exit_code: Option<i32>,
    /// When the current instance started (RFC 3339).
    pub started_at: Option<String>,
    /// The entry's writer: a worker id, or `None` for the reconciler (rejections).
    #[serde(skip)]
    pub(crate) owner: Option<u64>,
    /// The running plan, for mirror Pods.
    #[serde(skip)]
    pub plan: Option<Arc<PodPlan>>,
}

impl PodStatus {
    /// A rejected manifest.
    pub fn rejected(manifest: &Path, manifest_hash: &str, message: &str) -> Self {
        Self {
            state: PodState::Rejected,
            pid: None,
            restarts: 0,
            ready: false,
            startup_done: false,
            last_error: Some(message.to_owned()),
            manifest_hash: manifest_hash.to_owned(),
            manifest: manifest.to_path_buf(),
            pod_name: None,
            namespace: None,
            uid: None,
            log_path: None,
            last_exit_code: None,
            started_at: None,
            owner: None,
            plan: None,
        }
    }

    /// A Pod about to start.
    pub fn waiting(plan: &Arc<PodPlan>, owner: u64) -> Self {
        Self {
            state: PodState::Waiting,
            pid: None,
            restarts: 0,
            ready: false,
            startup_done: false,
            last_error: None,
            manifest_hash: plan.manifest_hash.clone(),
            manifest: plan.file.clone(),
            pod_name: Some(plan.full_name.clone()),
            namespace: Some(plan.namespace.clone()),
            uid: Some(plan.uid.clone()),
            log_path: None,
            last_exit_code: None,
            started_at: None,
            owner: Some(owner),
            plan: Some(plan.clone()),
        }
    }
}

/// The whole status document.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StatusDoc {
    /// The node name.
    pub node_name: String,
    /// The address the health server listens on (useful with port 0).
    pub healthz_addr: Option<String>,
    /// The Node object exists in the API server.
    pub node_registered: bool,
    /// The last registration or heartbeat error.
    pub node_error: Option<String>,
    /// Static Pods by name.
    pub pods: BTreeMap<String, PodStatus>,
}

/// Shared, observable status.
#[derive(Debug)]
pub struct Status {
    doc: Mutex<StatusDoc>,
    version: watch::Sender<u64>,
}

impl Status {
    /// A new status for `node_name`.
    pub fn new(node_name: &str) -> Arc<Self> {
        let doc = StatusDoc {
            node_name: node_name.to_owned(),
            ..StatusDoc::default()
        };
        Arc::new(Self {
            doc: Mutex::new(doc),
            version: watch::channel(0).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, StatusDoc> {
        // A panic while holding the lock leaves a consistent-enough document; keep serving it.
        self.doc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the document and notifies watchers.
    pub fn update<R>(&self, f: impl FnOnce(&mut StatusDoc) -> R) -> R {
        let r = f(&mut self.lock());
        self.version.send_modify(|v| *v += 1);
        r
    }

    /// Reads the document.
    pub fn read<R>(&self, f: impl FnOnce(&StatusDoc) -> R) -> R {
        f(&self.lock())
    }

    /// The document as pretty JSON.
    pub fn to_json(&self) -> String {
        let doc = self.lock();
        serde_json::to_string_pretty(&*doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Notified after every update.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Sets a reconciler-owned rejection for `key` (replacing whatever is there).
    pub fn set_rejected(&self, key: &str, entry: PodStatus) {
        self.update(|doc| {
            let unchanged = doc.pods.get(key).is_some_and(|old| {
                old.owner.is_none()
                    && old.last_error == entry.last_error
                    && old.manifest == entry.manifest
            });
            if !unchanged {
                doc.pods.insert(key.to_owned(), entry);
            }
        });
    }

    /// Removes reconciler-owned entries whose key is not in `keep`.
    pub fn retain_rejected(&self, keep: &dyn Fn(&str) -> bool) {
        self.update(|doc| doc.pods.retain(|k, v| v.owner.is_some() || keep(k)));
    }
}

/// A worker's view of its own status entry: writes only land while the worker owns the entry.
#[derive(Debug, Clone)]
pub struct PodStatusHandle {
    status: Arc<Status>,
    key: String,
    owner: u64,
}

impl PodStatusHandle {
    /// A handle for `key` owned by worker `owner`.
    pub fn new(status: Arc<Status>, key: &str, owner: u64) -> Self {
        Self {
            status,
            key: key.to_owned(),
            owner,
        }
    }

    /// Takes over the entry (replacing a rejection, for example).
    pub fn claim(&self, entry: PodStatus) {
        self.status.update(|doc| {
            doc.pods.insert(self.key.clone(), entry);
        });
    }

    /// Changes the entry if this worker still owns it.
    pub fn update(&self, f: impl FnOnce(&mut PodStatus)) {
        self.status.update(|doc| {
            if let Some(entry) = doc
                .pods
                .get_mut(&self.key)
                .filter(|e| e.owner == Some(self.owner))
            {
                f(entry);
            }
        });
    }

    /// Removes the entry if this worker still owns it.
    pub fn release(&self) {
        self.status.update(|doc| {
            if doc
                .pods
                .get(&self.key)
                .is_some_and(|e| e.owner == Some(self.owner))
            {
                doc.pods.remove(&self.key);
            }
        });
    }
}

/// Writes `data` to `path` atomically: a hidden temp file in the same directory, fsync, rename.
///
/// # Errors
/// Any I/O failure.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".status-")
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Keeps `path` in sync with the status until `shutdown` fires, then writes a last time.
pub async fn write_loop(status: Arc<Status>, path: PathBuf, mut shutdown: watch::Receiver<bool>) {
    let mut changes = status.subscribe();
    let mut last = String::new();
    loop {
        // Read the flag before the snapshot: a snapshot taken after seeing `true` holds every update
        // made before shutdown was signalled.
        let stopping = *shutdown.borrow();
        let json = status.to_json();
        if json != last {
            let (p, data) = (path.clone(), json.clone());
            match tokio::task::spawn_blocking(move || write_atomic(&p, data.as_bytes())).await {
                Ok(Ok(())) => last = json,
                Ok(Err(e)) => {
                    tracing::warn!(path = %path.display(), error = %e, "writing the status file failed")
                }
                Err(e) => tracing::warn!(error = %e, "status writer task failed"),
            }
        }
        if stopping {
            break;
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break },
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_checks_protect_entries() {
        let status = Status::new("n");
        status.set_rejected("a", PodStatus::rejected(Path::new("/m/a.yaml"), "h", "bad"));
        let worker = PodStatusHandle::new(status.clone(), "a", 7);
        worker.update(|e| e.restarts = 5); // not owned yet: ignored
        assert_eq!(status.read(|d| d.pods["a"].restarts), 0);
        let mut entry = PodStatus::rejected(Path::new("/m/a.yaml"), "h", "x");
        entry.owner = Some(7);
        entry.state = PodState::Running;
        worker.claim(entry);
        worker.update(|e| e.restarts = 5);
        status.retain_rejected(&|_| false); // worker entries survive
        assert_eq!(status.read(|d| d.pods["a"].restarts), 5);
        PodStatusHandle::new(status.clone(), "a", 8).release(); // another worker cannot remove it
        assert!(status.read(|d| d.pods.contains_key("a")));
        worker.release();
        assert!(status.read(|d| d.pods.is_empty()));
    }

    #[test]
    fn json_shape() {
        let status = Status::new("node1");
        status.set_rejected(
            "bad.yaml",
            PodStatus::rejected(Path::new("/m/bad.yaml"), "abc", "nope"),
        );
        let v: serde_json::Value = serde_json::from_str(&status.to_json()).unwrap();
        assert_eq!(v["node_name"], "node1");
        let p = &v["pods"]["bad.yaml"];
        assert_eq!(p["state"], "rejected");
        assert_eq!(p["last_error"], "nope");
        assert_eq!(p["restarts"], 0);
        assert_eq!(p["manifest_hash"], "abc");
        assert!(p.get("owner").is_none() && p.get("plan").is_none());
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left behind"
        );
    }
}
