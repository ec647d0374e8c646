//! The `reset` workflow: undo exactly what init did on this node and say what was left alone.
//! kubeadm: `app/cmd/reset.go`, `app/cmd/phases/reset/{preflight,cleanupnode}.go`.
//! Runs best-effort (every phase runs, failures are aggregated), as kubeadm does.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::host::Paths;
use crate::host::cleanup::{clean_dir, dir_entries, mounts_under, port_in_use, remove_files};
use crate::report::Reporter;

use super::runner::{Decision, Node, Phase, Workflow};

/// The kubeconfig files kubeadm's reset deletes (kubeadm `resetConfigDir`).
pub const KUBECONFIG_FILES: [&str; 6] = [
    "admin.conf",
    "super-admin.conf",
    "kubelet.conf",
    "bootstrap-kubelet.conf",
    "controller-manager.conf",
    "scheduler.conf",
];

/// Ports of the control-plane components, checked after their manifests are removed.
pub const COMPONENT_PORTS: [u16; 5] = [2379, 2380, 10257, 10259, 10250];

/// Shared state of one `reset` run.
pub struct ResetContext {
    /// Where files are.
    pub paths: Paths,
    /// etcd's data directory (host view).
    pub etcd_data_dir: PathBuf,
    /// The API server port to wait for.
    pub api_port: u16,
    /// Extra addresses the components listened on (advertise address), besides loopback.
    pub listen_addresses: Vec<IpAddr>,
    /// Also remove `/etc/kubernetes/tmp`.
    pub cleanup_tmp_dir: bool,
    /// Do not ask for confirmation.
    pub force: bool,
    /// Only list what would be removed.
    pub dry_run: bool,
    /// How long to wait for components to stop.
    pub stop_timeout: Duration,
    /// Output.
    pub report: Reporter,
    /// The container runtime endpoint whose Kubernetes Pods are removed.
    pub cri_socket: String,
    /// Set by preflight once the user agreed (or `--force`); true from the start when preflight
    /// is skipped, as in kubeadm.
    pub confirmed: bool,
}

/// The `reset` phase tree.
#[must_use]
pub fn workflow() -> Workflow<ResetContext> {
    Workflow {
        name: "reset",
        nodes: vec![
            Node::Leaf(Box::new(Preflight)),
            Node::Leaf(Box::new(RemoveEtcdMember)),
            Node::Leaf(Box::new(CleanupNode)),
        ],
    }
}

/// A usage problem found by reset's preflight (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NeedsConfirmation(pub String);

struct Preflight;

impl Phase<ResetContext> for Preflight {
    fn name(&self) -> &'static str {
        "preflight"
    }
    fn summary(&self) -> &'static str {
        "Run reset pre-flight checks"
    }
    fn run(&self, ctx: &mut ResetContext) -> anyhow::Result<()> {
        ctx.report.say("reset", "Running pre-flight checks");
        if ctx.force || ctx.dry_run {
            ctx.confirmed = true;
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(NeedsConfirmation(
                "refusing to reset without confirmation: standard input is not a terminal; pass --force".into(),
            )
            .into());
        }
        print!(
            "[reset] The files plinth's init wrote on this host will be removed.\n[reset] Are you sure you want to proceed? [y/N]: "
        );
        std::io::stdout().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("failed to read the answer")?;
        match answer.trim().to_lowercase().as_str() {
            "y" | "yes" => {
                ctx.confirmed = true;
                Ok(())
            }
            _ => Err(NeedsConfirmation("reset aborted by the user".into()).into()),
        }
    }
}

struct RemoveEtcdMember;

impl Phase<ResetContext> for RemoveEtcdMember {
    fn name(&self) -> &'static str {
        "remove-etcd-member"
    }
    fn summary(&self) -> &'static str {
        "Remove this node's local etcd member from the etcd cluster"
    }
    fn decide(&self, ctx: &ResetContext) -> anyhow::Result<Decision> {
        if !ctx.confirmed {
            return Ok(Decision::Skip("reset was not confirmed".into()));
        }
        if ctx.paths.is_rooted() {
            return Ok(Decision::Skip(
                "re-rooted host tree: not talking to this machine's etcd".into(),
            ));
        }
        if !ctx.paths.manifests_dir_disk().join("etcd.yaml").exists() {
            return Ok(Decision::Skip(
                "no local etcd manifest (external etcd, or already removed)".into(),
            ));
        }
        Ok(Decision::Run)
    }
    /// kubeadm: `app/phases/etcd/local.go` RemoveStackedEtcdMemberFromCluster. Removal is
    /// skipped when this is the only member (removing it would destroy the cluster's quorum
    /// for nothing); an unreachable etcd is a warning, as in kubeadm.
    fn run(&self, ctx: &mut ResetContext) -> anyhow::Result<()> {
        use crate::cluster::etcd::{EtcdClient, peer_url_from_manifest};
        let r = &ctx.report;
        let manifest = ctx.paths.manifests_dir_disk().join("etcd.yaml");
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let Some(peer) = peer_url_from_manifest(&text) else {
            r.warn(
                "reset",
                "the etcd manifest names no --initial-advertise-peer-urls; not removing a member",
            );
            return Ok(());
        };
        let pki = ctx.paths.cert_dir_disk().join("etcd");
        let members = EtcdClient::new(
            "https://127.0.0.1:2379",
            &pki.join("ca.crt"),
            &pki.join("healthcheck-client.crt"),
            &pki.join("healthcheck-client.key"),
        )
        .and_then(|c| Ok((c.members()?, c)));
        let (members, client) = match members {
            Ok(m) => m,
            Err(e) => {
                r.warn(
                    "reset",
                    format!(
                        "failed to list etcd members ({e:#}); if this node's etcd member still exists, remove it with `etcdctl member remove`"
                    ),
                );
                return Ok(());
            }
        };
        let Some(me) = members.iter().find(|m| m.peer_urls.contains(&peer)) else {
            r.say(
                "reset",
                format!("No etcd member with peer URL {peer}: already removed"),
            );
            return Ok(());
        };
        if members.len() == 1 {
            r.say(
                "reset",
                format!(
                    "The etcd member {:?} is the only member of its cluster: not removing it",
                    me.name
                ),
            );
            return Ok(());
        }
        if ctx.dry_run {
            r.say(
                "reset",
                format!("Would remove etcd member {:?} ({peer})", me.name),
            );
            return Ok(());
        }
        // etcd refuses to remove a member while the rest have not been connected for a few
        // seconds ("unhealthy cluster"): retry for a while, as kubeadm's etcd client does.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match client.remove(&me.id) {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!("etcd member removal not accepted yet: {e:#}");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
        r.say(
            "reset",
            format!(
                "Removed etcd member {:?} ({peer}); {} members remain",
                me.name,
                members.len() - 1
            ),
        );
        Ok(())
    }
}

struct CleanupNode;

impl CleanupNode {
    fn wait_for_ports(ctx: &ResetContext) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        let mut hosts: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        hosts.extend(ctx.listen_addresses.iter().copied());
        for h in &hosts {
            for p in COMPONENT_PORTS.iter().copied().chain([ctx.api_port]) {
                addrs.push(SocketAddr::new(*h, p));
            }
        }
        let deadline = Instant::now() + ctx.stop_timeout;
        loop {
            let busy: Vec<SocketAddr> = addrs.iter().copied().filter(|a| port_in_use(*a)).collect();
            if busy.is_empty() || Instant::now() >= deadline {
                return busy;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Phase<ResetContext> for CleanupNode {
    fn name(&self) -> &'static str {
        "cleanup-node"
    }
    fn summary(&self) -> &'static str {
        "Run cleanup node."
    }
    fn decide(&self, ctx: &ResetContext) -> anyhow::Result<Decision> {
        if ctx.confirmed {
            Ok(Decision::Run)
        } else {
            Ok(Decision::Skip("reset was not confirmed".into()))
        }
    }
    fn run(&self, ctx: &mut ResetContext) -> anyhow::Result<()> {
        let p = &ctx.paths;
        let r = &ctx.report;
        let manifests = p.manifests_dir_disk();
        let mut dirs = vec![
            p.kubelet_dir_disk(),
            p.disk(&ctx.etcd_data_dir),
            p.cert_dir_disk(),
        ];
        if ctx.cleanup_tmp_dir {
            dirs.push(p.kubeconfig_dir_disk().join("tmp"));
        }
        let files: Vec<PathBuf> = KUBECONFIG_FILES
            .iter()
            .map(|f| p.kubeconfig_dir_disk().join(f))
            .collect();

        if ctx.dry_run {
            r.say(
                "reset",
                "Would delete the static Pod manifests, then wait for the components to stop",
            );
            for d in std::iter::once(&manifests).chain(&dirs) {
                let e = dir_entries(d)?;
                r.say(
                    "reset",
                    format!(
                        "Would delete contents of {} ({} entries)",
                        d.display(),
                        e.len()
                    ),
                );
            }
            let existing: Vec<String> = files
                .iter()
                .filter(|f| f.exists())
                .map(|f| f.display().to_string())
                .collect();
            r.say(
                "reset",
                format!("Would delete files: [{}]", existing.join(" ")),
            );
            r.say(
                "reset",
                format!(
                    "Would stop and remove the Kubernetes Pods of the runtime at {}",
                    ctx.cri_socket
                ),
            );
            print_left_behind(r);
            return Ok(());
        }

        // Manifests first, so the kubelet stops the components before their files go away.
        let removed = clean_dir(&manifests)?;
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
        if !removed.paths.is_empty() {
            r.say("reset", "Waiting for the control-plane components to stop");
            let busy = Self::wait_for_ports(ctx);
            if !busy.is_empty() {
                let list: Vec<String> = busy.iter().map(ToString::to_string).collect();
                r.warn(
                    "reset",
                    format!(
                        "still listening after {:?}: {} (is the kubelet running?)",
                        ctx.stop_timeout,
                        list.join(", ")
                    ),
                );
            }
        }
        if !p.is_rooted() && systemd_is_init() {
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
            use crate::host::cri::{CriCleanup, remove_all_pods};
            match remove_all_pods(&ctx.cri_socket) {
                Ok(CriCleanup::NoSocket(s)) => r.say(
                    "reset",
                    format!("No container runtime socket at {s}: no containers to remove"),
                ),
                Ok(CriCleanup::NoCrictl) => r.warn(
                    "reset",
                    format!(
                        "crictl is not installed: remove the Kubernetes containers of {} with your runtime's tools",
                        ctx.cri_socket
                    ),
                ),
                Ok(CriCleanup::Removed(ids)) => r.say(
                    "reset",
                    format!(
                        "Stopped and removed {} Pod sandboxes through {}",
                        ids.len(),
                        ctx.cri_socket
                    ),
                ),
                Err(e) => r.warn(
                    "reset",
                    format!("failed to remove containers through {}: {e:#}", ctx.cri_socket),
                ),
            }
        }
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
        let mut gone = Vec::new();
        for d in &dirs {
            gone.extend(clean_dir(d)?.paths);
        }
        let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        r.say(
            "reset",
            format!("Deleting contents of directories: [{}]", names.join(" ")),
        );
        let removed_files = remove_files(&files)?;
        let fnames: Vec<String> = removed_files
            .paths
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        r.say("reset", format!("Deleting files: [{}]", fnames.join(" ")));
        for g in gone.iter().chain(&removed_files.paths) {
            r.wrote(g);
        }
        print_left_behind(r);
        Ok(())
    }
}

fn systemd_is_init() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
}

fn print_left_behind(r: &Reporter) {
    r.text(
        "\nThe reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d\n\n\
         The reset process does not reset or clean up iptables rules or IPVS tables.\n\
         If you wish to reset iptables, you must do so manually by using the \"iptables\" command.\n\
         If your cluster was setup to utilize IPVS, run ipvsadm --clear (or similar) to reset your system's IPVS tables.\n\n\
         The reset process does not clean your kubeconfig files and you must remove them manually.\n\
         Please, check the contents of the $HOME/.kube/config file.",
    );
}
