//! `init phase wait-control-plane`: wait until the kubelet and every component answer healthy,
//! and when they do not, say why for each one. kubeadm: `app/cmd/phases/init/waitcontrolplane.go`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::InitContext;
use crate::health::{self, Diagnosis, Progress};
use crate::phases::runner::Decision;

const PHASE: &str = "wait-control-plane";

/// CA and client identity (cert + key PEM) from admin.conf, for the authenticated /livez poll.
fn admin_identity(kubeconfig: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let id = crate::cluster::kubeconfig_identity(kubeconfig)?;
    Ok((id.ca_pem, id.identity_pem))
}

fn hint(component: &str, d: &Diagnosis) -> &'static str {
    match d {
        Diagnosis::ManifestMissing(_) => {
            "run `plinth init phase control-plane all` (or `etcd local`) to write it"
        }
        Diagnosis::NotListening(_) if component == "kubelet" => {
            "check `systemctl status kubelet` and `journalctl -xeu kubelet`"
        }
        Diagnosis::NotListening(_) => {
            "the container is not running or crashed: `crictl ps -a | grep <component>`, then `crictl logs <id>`"
        }
        Diagnosis::UnknownCa | Diagnosis::NameNotInSans(_) | Diagnosis::Expired => {
            "run `plinth certs check-expiration` and `plinth init phase certs all` to find the bad certificate"
        }
        Diagnosis::ClientCertRejected => {
            "admin.conf's client certificate is not trusted: re-run `plinth init phase kubeconfig admin`"
        }
        Diagnosis::Unhealthy { .. } => "see the failing checks above and the component's log",
        Diagnosis::Other(_) => "see the component's log",
    }
}

/// `wait-control-plane` has nothing to wait for in a dry run.
pub(super) fn run_if(ctx: &InitContext) -> Decision {
    if ctx.dry_run {
        Decision::Skip("dry run: nothing is running".into())
    } else {
        Decision::Run
    }
}

/// The `wait-control-plane` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let manifests = ctx.paths.manifests_dir_disk();
    let (ca, id) = admin_identity(
        &ctx.paths
            .kubeconfig_dir_disk()
            .join(crate::kubeconfig::ADMIN_FILE),
    )?;
    let with_kubelet = ctx
        .paths
        .kubelet_dir_disk()
        .join(crate::kubelet::CONFIG_FILE)
        .exists();
    if !with_kubelet {
        ctx.report.say(
            PHASE,
            "No kubelet configuration found: not checking the kubelet's health",
        );
    }
    let checks = health::checks_from_manifests(&manifests, &ca, &id, with_kubelet);
    let timeout = ctx.cfg.timeouts.control_plane_component_health_check;
    ctx.report.say(
            PHASE,
            format!(
                "Waiting for the kubelet to boot up the control plane as static Pods from directory {:?}. This can take up to {}",
                ctx.paths.manifests_dir.display().to_string(),
                crate::config::format_go_duration(timeout)
            ),
        );
    let report = ctx.report.clone();
    let names: Vec<String> = checks.iter().map(|c| c.component.clone()).collect();
    // On a terminal: one live line per component; the kubeadm-style lines follow at the end.
    let live = ctx.report.live(&names).map(std::sync::Arc::new);
    let healthy_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (cb_live, cb_lines) = (live.clone(), healthy_lines.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = rt.block_on(health::wait_all(
        &checks,
        timeout,
        move |component, p| match p {
            Progress::Healthy(d) => {
                let line = format!("{component} is healthy after {:.3}s", d.as_secs_f64());
                match &cb_live {
                    Some(l) => {
                        l.healthy(component, d.as_secs_f64());
                        if let Ok(mut v) = cb_lines.lock() {
                            v.push(line);
                        }
                    }
                    None => report.say(PHASE, line),
                }
            }
            Progress::Waiting(Some(d)) => {
                if let Some(l) = &cb_live {
                    l.starting(component, &d.to_string());
                }
                tracing::debug!(component, "not healthy yet: {d}");
            }
            Progress::Waiting(None) => {}
        },
    ));
    if let Some(live) = live {
        if let Err(e) = &result {
            for (component, d) in &e.unhealthy {
                live.failing(component, &d.to_string());
            }
        }
        if let Ok(live) = std::sync::Arc::try_unwrap(live) {
            live.finish();
        }
        let lines = healthy_lines.lock().map(|v| v.clone()).unwrap_or_default();
        for line in lines {
            ctx.report.say(PHASE, line);
        }
    }
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let pod_logs = ctx.paths.disk(Path::new("/var/log/pods"));
            for (component, d) in &e.unhealthy {
                ctx.report
                    .say(PHASE, format!("{component} is not healthy: {d}"));
                ctx.report.say(
                    PHASE,
                    format!(
                        "  next: {}",
                        hint(component, d).replace("<component>", component)
                    ),
                );
                if let Some((log, lines)) =
                    health::last_log_lines(&pod_logs, "kube-system", component, component, 10)
                {
                    ctx.report
                        .say(PHASE, format!("  last lines of {}:", log.display()));
                    for l in lines {
                        ctx.report.text(format!("    {l}"));
                    }
                }
            }
            bail!(
                "the control plane did not become healthy within {:?}: {e}",
                Duration::from_secs(timeout.as_secs())
            )
        }
    }
}
