//! `reset phase cleanup-node`: remove the static Pod manifests first, wait for the components
//! to stop, stop the kubelet, remove the runtime's Kubernetes Pods, unmount what the kubelet
//! mounted, then delete what the ledgers say plinth wrote. kubeadm:
//! `app/cmd/phases/reset/cleanupnode.go`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{COMPONENT_PORTS, ResetContext, describe, print_left_behind, say_left, say_scope};
use crate::host::InitSystem;
use crate::host::cleanup::{DirKind, Scope, execute, mounts_under, port_in_use};
use crate::retry::Retry;

/// How often the component ports are probed while waiting for them to close.
const PORT_POLL: Duration = Duration::from_millis(250);

/// The ports of the components still listening after `ctx.stop_timeout` (none when they all
/// stopped in time), on loopback and on the addresses they advertised.
fn wait_for_ports(ctx: &ResetContext) -> Vec<SocketAddr> {
    let mut hosts: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    hosts.extend(ctx.listen_addresses.iter().copied());
    let addrs: Vec<SocketAddr> = hosts
        .iter()
        .flat_map(|h| {
            COMPONENT_PORTS
                .iter()
                .copied()
                .chain([ctx.api_port])
                .map(|p| SocketAddr::new(*h, p))
        })
        .collect();
    wait_until_closed(&addrs, ctx.stop_timeout)
}

/// Warns about the component ports still listening (`busy`), if any.
fn warn_busy(ctx: &ResetContext, busy: &[SocketAddr]) {
    if busy.is_empty() {
        return;
    }
    let list: Vec<String> = busy.iter().map(ToString::to_string).collect();
    ctx.report.warn(
        "reset",
        format!(
            "still listening after {:?}: {} (is the kubelet running?)",
            ctx.stop_timeout,
            list.join(", ")
        ),
    );
}

/// Probes `addrs` until none accepts a connection or `timeout` has passed; returns those still
/// listening.
fn wait_until_closed(addrs: &[SocketAddr], timeout: Duration) -> Vec<SocketAddr> {
    Retry::new(timeout, PORT_POLL)
        .until_ok(|| {
            let busy: Vec<SocketAddr> = addrs.iter().copied().filter(|a| port_in_use(*a)).collect();
            if busy.is_empty() { Ok(()) } else { Err(busy) }
        })
        .err()
        .unwrap_or_default()
}

/// Stops and removes every Pod sandbox and container of the runtime, and says what is left.
fn remove_runtime_pods(ctx: &ResetContext) {
    use crate::host::cri::{CriCleanup, remove_all};
    let r = &ctx.report;
    let ep = &ctx.cri_socket;
    match remove_all(ep) {
        Ok(CriCleanup::NoSocket(s)) => r.say(
            "reset",
            format!("No container runtime socket at {s}: no containers to remove"),
        ),
        Ok(CriCleanup::NoCrictl) => r.warn(
            "reset",
            format!(
                "crictl is not installed: remove the Kubernetes Pods and containers of {ep} with your runtime's tools, or {}",
                crate::host::cri::INSTALL_CRICTL
            ),
        ),
        Ok(CriCleanup::Done(done)) => {
            r.say(
                "reset",
                format!(
                    "Stopped and removed {} Pod sandboxes and {} leftover containers through {ep}",
                    done.pods.len(),
                    done.containers.len()
                ),
            );
            for f in &done.failures {
                r.warn("reset", format!("removing containers: {f}"));
            }
            if !done.pods_left.is_empty() || !done.containers_left.is_empty() {
                r.warn(
                    "reset",
                    format!(
                        "the runtime at {ep} still lists Pod sandboxes [{}] and containers [{}]: see `crictl pods` and `crictl ps -a`, then `crictl rmp -fa` and `crictl rm -fa`",
                        done.pods_left.join(" "),
                        done.containers_left.join(" ")
                    ),
                );
            }
        }
        Err(e) => r.warn(
            "reset",
            format!("failed to remove containers through {ep}: {e}"),
        ),
    }
}

/// The `cleanup-node` leaf.
pub(super) fn run(ctx: &mut ResetContext) -> anyhow::Result<()> {
    let p = &ctx.paths;
    let r = &ctx.report;
    if ctx.dry_run {
        let plan = ctx.plan()?;
        describe(r, &plan, true);
        r.say(
            "reset",
            "Would delete the static Pod manifests first, then wait for the components to stop",
        );
        r.say(
            "reset",
            format!(
                "Would stop and remove every Pod sandbox and container of the runtime at {}",
                ctx.cri_socket
            ),
        );
        print_left_behind(r);
        return Ok(());
    }

    // Manifests first, so the kubelet stops the components before their files go away.
    let first = ctx.plan()?;
    say_scope(r, &first);
    let manifests = first
        .dirs
        .iter()
        .zip(&ctx.targets)
        .find(|(_, t)| t.kind == DirKind::Manifests)
        .map(|(d, _)| d.clone())
        .unwrap_or_default();
    let removed = execute(&manifests)?;
    // The kubelet ignores dot-files (plinth's ledger is one): count only what it ran.
    let pods = removed
        .paths
        .iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .count();
    r.say(
        "reset",
        format!(
            "Deleted {pods} static Pod manifests from {:?}",
            p.manifests_dir.display().to_string()
        ),
    );
    // Under systemd, as kubeadm does: stop the kubelet and remove its Pods through the runtime,
    // then check the ports (closed by then). Waiting for the kubelet to stop the static Pods
    // itself took each container's grace period (~30 s on the real kubelet). Without systemd
    // (a kubelet run by hand, the e2e stand-in) the kubelet is left to stop them.
    let stop_kubelet = !p.is_rooted() && ctx.facts.init == InitSystem::Systemd;
    if pods > 0 && !stop_kubelet {
        r.say("reset", "Waiting for the control-plane components to stop");
        warn_busy(ctx, &wait_for_ports(ctx));
    }
    if stop_kubelet {
        r.say("reset", "Stopping the kubelet service");
        let st = std::process::Command::new("systemctl")
            .args(["stop", "kubelet"])
            .status();
        if !matches!(st, Ok(s) if s.success()) {
            r.warn(
                "reset",
                "failed to stop the kubelet service; stop it with `systemctl stop kubelet`",
            );
        }
    }
    if !p.is_rooted() {
        remove_runtime_pods(ctx);
    }
    if pods > 0 && stop_kubelet {
        warn_busy(ctx, &wait_for_ports(ctx));
    }
    // Read now, not a host fact: stopping the kubelet and its Pods above changes the mounts.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = mounts_under(&p.kubelet_dir_disk(), &mountinfo);
    if !mounts.is_empty() {
        r.say(
            "reset",
            format!(
                "Unmounting mounted directories in {:?}",
                p.kubelet_dir.display().to_string()
            ),
        );
        for m in &mounts {
            let st = std::process::Command::new("umount").arg(m).status();
            if !matches!(st, Ok(s) if s.success()) {
                r.warn("reset", format!("failed to unmount {}", m.display()));
            }
        }
    }
    // The plan made before anything was removed (the manifests' ledger, which says whether
    // etcd's data is plinth's, is gone by now); the manifests are done.
    let plan = first;
    let mut gone = removed.paths;
    let mut names = Vec::new();
    for (dp, t) in plan.dirs.iter().zip(&ctx.targets) {
        if t.kind == DirKind::Manifests {
            continue;
        }
        gone.extend(execute(dp)?.paths);
        names.push(dp.dir.display().to_string());
    }
    r.say(
        "reset",
        format!(
            "Deleted {} entries {} in [{}]",
            gone.len(),
            match plan.scope {
                Scope::Ledger => "that plinth wrote or configured",
                Scope::Kubeadm(_) | Scope::All => "(kubeadm's list)",
            },
            names.join(" ")
        ),
    );
    for g in &gone {
        r.wrote(g);
    }
    say_left(r, &plan);
    print_left_behind(r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_ports_end_the_wait_at_once() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let start = std::time::Instant::now();
        assert!(wait_until_closed(&[addr], Duration::from_secs(10)).is_empty());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_port_still_listening_at_the_deadline_is_returned() {
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = listening.local_addr().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let free = closed.local_addr().unwrap();
        drop(closed);
        let start = std::time::Instant::now();
        let left = wait_until_closed(&[busy, free], Duration::from_millis(600));
        assert_eq!(left, vec![busy]);
        assert!(start.elapsed() >= Duration::from_millis(600));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
