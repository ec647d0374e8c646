//! One worker per static Pod name: runs the current plan's container, restarts it with back-off, acts on
//! probe results, and replaces or stops it when the desired plan changes.
//!
//! Like the kubelet's pod workers, a changed manifest (a new UID) fully stops the old instance before the
//! new one starts, and deleting the manifest stops it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::logs::{container_log_dir, container_log_file, open_log};
use crate::manifest::{ContainerPlan, HostPathType, HostPathVolume, PodPlan, RestartPolicy};
use crate::probe::{self, Prober};
use crate::process::{Instance, exit_code};
use crate::status::{PodState, PodStatus, PodStatusHandle, Status};

/// The desired plan for one Pod name: `None` means "stop and go away".
pub type PlanRx = watch::Receiver<Option<Arc<PodPlan>>>;

/// What every worker shares.
#[derive(Debug)]
pub struct WorkerCtx {
    /// The status document.
    pub status: Arc<Status>,
    /// The probe client.
    pub prober: Prober,
    /// `--pod-log-dir`.
    pub pod_log_dir: std::path::PathBuf,
    /// First non-zero restart delay.
    pub backoff_base: Duration,
    /// Largest restart delay.
    pub backoff_max: Duration,
    /// Set before the workers are told to stop at shutdown, so they keep their status entries.
    pub shutting_down: AtomicBool,
}

/// Runs until the desired plan becomes `None` (or the sender is dropped), then removes its status entry.
pub async fn run_worker(ctx: Arc<WorkerCtx>, key: String, owner: u64, mut rx: PlanRx) {
    let status = PodStatusHandle::new(ctx.status.clone(), &key, owner);
    loop {
        if rx.has_changed().is_err() {
            break; // the reconciler is gone
        }
        let Some(plan) = rx.borrow_and_update().clone() else {
            break;
        };
        status.claim(PodStatus::waiting(&plan, owner));
        run_pod(&ctx, &status, &plan, &mut rx).await;
    }
    if ctx.shutting_down.load(Ordering::SeqCst) {
        // Keep the last state in the status file for post-mortems; only the process is gone.
        status.update(|s| {
            s.state = PodState::Terminated;
            s.pid = None;
            s.ready = false;
            s.last_error = Some("stopped because the stand-in is shutting down".to_owned());
        });
    } else {
        status.release();
    }
}

/// Resolves once the desired plan is no longer `uid` (or the channel closed).
async fn superseded(rx: &mut PlanRx, uid: &str) {
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        let same = rx
            .borrow_and_update()
            .as_ref()
            .is_some_and(|p| p.uid == uid);
        if !same {
            return;
        }
    }
}

enum Outcome {
    Exited(std::process::ExitStatus),
    ProbeKill(String, Option<Duration>),
    Superseded,
}

async fn run_pod(ctx: &WorkerCtx, status: &PodStatusHandle, plan: &Arc<PodPlan>, rx: &mut PlanRx) {
    let c = &plan.container;
    tracing::info!(pod = %plan.full_name, manifest = %plan.file.display(), program = %c.program.display(), "starting static pod");
    let log_dir = container_log_dir(
        &ctx.pod_log_dir,
        &plan.namespace,
        &plan.full_name,
        &plan.uid,
        &c.name,
    );
    let mut backoff = Backoff::new(ctx.backoff_base, ctx.backoff_max);
    let mut instances: u32 = 0;
    loop {
        if let Err(e) = prepare(plan) {
            tracing::warn!(pod = %plan.full_name, error = %e, "cannot start container yet");
            status.update(|s| {
                s.state = PodState::Waiting;
                s.last_error = Some(e);
            });
            tokio::select! {
                _ = tokio::time::sleep(ctx.backoff_base) => continue,
                _ = superseded(rx, &plan.uid) => return,
            }
        }
        let log_path = container_log_file(&log_dir, instances);
        let log = match open_log(&log_path).await {
            Ok(log) => log,
            Err(e) => {
                let msg = format!("cannot open container log {}: {e}", log_path.display());
                tracing::warn!(pod = %plan.full_name, "{msg}");
                status.update(|s| {
                    s.state = PodState::Waiting;
                    s.last_error = Some(msg);
                });
                tokio::select! {
                    _ = tokio::time::sleep(ctx.backoff_base) => continue,
                    _ = superseded(rx, &plan.uid) => return,
                }
            }
        };
        let restarts = instances;
        instances += 1;
        let started = Instant::now();
        let (code, message, failed) = match Instance::spawn(c, &log) {
            Err(e) => {
                // A runtime reports this as a StartError: the container exists and exited with 128.
                let msg = format!("failed to start {}: {e}", c.program.display());
                tracing::warn!(pod = %plan.full_name, "{msg}");
                (128, msg, true)
            }
            Ok(mut inst) => {
                let pid = inst.pid();
                tracing::info!(pod = %plan.full_name, pid, restarts, "container started");
                status.update(|s| {
                    s.state = PodState::Running;
                    s.pid = Some(pid);
                    s.restarts = restarts;
                    s.ready = false;
                    s.startup_done = c.startup.is_none();
                    s.log_path = Some(log_path.clone());
                    s.started_at = Some(jiff::Timestamp::now().to_string());
                });
                let outcome = tokio::select! {
                    st = inst.wait() => Outcome::Exited(st),
                    (msg, grace) = probes(&ctx.prober, c, started, status) => Outcome::ProbeKill(msg, grace),
                    _ = superseded(rx, &plan.uid) => Outcome::Superseded,
                };
                let result = match outcome {
                    Outcome::Superseded => {
                        tracing::info!(pod = %plan.full_name, pid, grace = ?plan.grace_period, "stopping static pod");
                        let st = inst.stop(plan.grace_period).await;
                        inst.cleanup().await;
                        tracing::info!(pod = %plan.full_name, pid, code = exit_code(st), "static pod stopped");
                        return;
                    }
                    Outcome::ProbeKill(msg, grace) => {
                        let grace = grace.unwrap_or(plan.grace_period);
                        tracing::warn!(pod = %plan.full_name, pid, "{msg}, killing the container");
                        let st = inst.stop(grace).await;
                        (
                            exit_code(st),
                            format!("{msg}; container killed and will be restarted"),
                            true,
                        )
                    }
                    Outcome::Exited(st) => {
                        let code = exit_code(st);
                        tracing::warn!(pod = %plan.full_name, pid, code, "container exited");
                        (
                            code,
                            format!("container exited with code {code}"),
                            code != 0,
                        )
                    }
                };
                inst.cleanup().await;
                result
            }
        };
        drop(log);
        status.update(|s| {
            s.state = PodState::Waiting;
            s.pid = None;
            s.restarts = restarts;
            s.ready = false;
            s.startup_done = false;
            s.last_exit_code = Some(code);
            s.last_error = Some(message.clone());
        });

        let restart = match plan.restart_policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Never => false,
        };
        if !restart {
            status.update(|s| s.state = PodState::Terminated);
            superseded(rx, &plan.uid).await;
            return;
        }
        let delay = backoff.on_exit(Instant::now().into_std());
        if !delay.is_zero() {
            tracing::info!(pod = %plan.full_name, ?delay, "back-off restarting failed container");
            status.update(|s| {
                s.state = PodState::Crashloop;
                s.last_error = Some(format!(
                    "back-off {delay:?} restarting failed container: {message}"
                ));
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = superseded(rx, &plan.uid) => return,
        }
    }
}

/// Runs the probes of one container instance. Returns only when the container must be killed: the startup
/// probe failed, or the liveness probe failed after startup succeeded. Readiness only updates the status.
async fn probes(
    prober: &Prober,
    c: &ContainerPlan,
    started: Instant,
    status: &PodStatusHandle,
) -> (String, Option<Duration>) {
    if let Some(sp) = &c.startup {
        let failed = probe::run(prober, sp, started, |ok, err| {
            Some((!ok).then(|| format!("Startup probe failed: {}", err.unwrap_or("unknown error"))))
        })
        .await;
        if let Some(msg) = failed {
            return (msg, sp.termination_grace);
        }
        tracing::info!(container = %c.name, "startup probe succeeded");
    }
    status.update(|s| {
        s.startup_done = true;
        if c.readiness.is_none() {
            s.ready = true;
        }
    });
    let liveness = async {
        match &c.liveness {
            Some(lp) => {
                probe::run(prober, lp, started, |ok, err| {
                    (!ok).then(|| {
                        (
                            format!("Liveness probe failed: {}", err.unwrap_or("unknown error")),
                            lp.termination_grace,
                        )
                    })
                })
                .await
            }
            None => std::future::pending().await,
        }
    };
    let readiness = async {
        match &c.readiness {
            Some(rp) => {
                probe::run(prober, rp, started, |ok, err| {
                    status.update(|s| {
                        s.ready = ok;
                        if let Some(e) = err {
                            s.last_error = Some(format!("Readiness probe failed: {e}"));
                        }
                    });
                    None::<()>
                })
                .await
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = liveness => r,
        () = readiness => std::future::pending().await,
    }
}

/// Everything the kubelet checks or creates before starting a container: hostPath volumes, the binary
/// ("image") and the working directory.
fn prepare(plan: &PodPlan) -> Result<(), String> {
    for v in &plan.host_paths {
        ensure_host_path(v)?;
    }
    let c = &plan.container;
    match std::fs::metadata(&c.program) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{} is not a file", c.program.display())),
        Err(e) => {
            return Err(format!(
                "image {}: binary {} not found ({e}); the stand-in resolves images and commands only in --bin-dir",
                c.image,
                c.program.display()
            ));
        }
    }
    // runc creates a missing working directory.
    if !c.working_dir.is_dir() {
        create_dir(&c.working_dir)
            .map_err(|e| format!("cannot create workingDir {}: {e}", c.working_dir.display()))?;
    }
    Ok(())
}

fn create_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

/// Applies `hostPath.type` like the kubelet's hostPath plugin (`hostPathTypeChecker`).
pub fn ensure_host_path(v: &HostPathVolume) -> Result<(), String> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let p = &v.path;
    let shown = p.display();
    let meta = std::fs::metadata(p).ok();
    let fail = |what: &str| {
        Err(format!(
            "hostPath type check failed: {shown} is not a {what}"
        ))
    };
    match v.kind {
        // containerd creates a missing bind-mount source as a directory.
        HostPathType::Unset => match meta {
            Some(_) => Ok(()),
            None => create_dir(p).map_err(|e| format!("cannot create hostPath {shown}: {e}")),
        },
        HostPathType::DirectoryOrCreate => match meta {
            Some(m) if m.is_dir() => Ok(()),
            Some(_) => fail("directory"),
            None => {
                create_dir(p).map_err(|e| format!("cannot create hostPath directory {shown}: {e}"))
            }
        },
        HostPathType::Directory => match meta {
            Some(m) if m.is_dir() => Ok(()),
            _ => fail("directory"),
        },
        // kubelet: makeFile opens with O_CREATE and 0644; it does not create the parent directory.
        HostPathType::FileOrCreate => match meta {
            Some(m) if !m.is_dir() => Ok(()),
            Some(_) => fail("file"),
            None => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(p)
                .map(drop)
                .map_err(|e| format!("cannot create hostPath file {shown}: {e}")),
        },
        HostPathType::File => match meta {
            Some(m) if !m.is_dir() => Ok(()),
            _ => fail("file"),
        },
        HostPathType::Socket => match meta {
            Some(m) if m.file_type().is_socket() => Ok(()),
            _ => fail("socket"),
        },
        HostPathType::CharDevice => match meta {
            Some(m) if m.file_type().is_char_device() => Ok(()),
            _ => fail("character device"),
        },
        HostPathType::BlockDevice => match meta {
            Some(m) if m.file_type().is_block_device() => Ok(()),
            _ => fail("block device"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn vol(path: &Path, kind: HostPathType) -> HostPathVolume {
        HostPathVolume {
            name: "v".into(),
            path: path.to_path_buf(),
            kind,
        }
    }

    #[test]
    fn host_path_types() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        ensure_host_path(&vol(&d, HostPathType::DirectoryOrCreate)).unwrap();
        assert!(d.is_dir());
        ensure_host_path(&vol(&d, HostPathType::Directory)).unwrap();
        let f = d.join("kubeconfig");
        assert!(ensure_host_path(&vol(&f, HostPathType::File)).is_err());
        ensure_host_path(&vol(&f, HostPathType::FileOrCreate)).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        assert!(m.is_file() && m.len() == 0);
        assert_eq!(m.permissions().mode() & 0o777 & !0o644, 0, "at most 0644");
        ensure_host_path(&vol(&f, HostPathType::File)).unwrap();
        assert!(
            ensure_host_path(&vol(&f, HostPathType::Directory))
                .unwrap_err()
                .contains("is not a directory")
        );
        assert!(
            ensure_host_path(&vol(&d, HostPathType::FileOrCreate))
                .unwrap_err()
                .contains("is not a file")
        );
        // FileOrCreate does not create the parent directory, as in the kubelet.
        assert!(
            ensure_host_path(&vol(
                &dir.path().join("x/y.conf"),
                HostPathType::FileOrCreate
            ))
            .is_err()
        );
        assert!(ensure_host_path(&vol(&f, HostPathType::Socket)).is_err());
        let u = dir.path().join("unset");
        ensure_host_path(&vol(&u, HostPathType::Unset)).unwrap();
        assert!(u.is_dir());
    }
}
