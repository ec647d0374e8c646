//! The `reset` workflow: undo exactly what init did on this node and say what was left alone.
//! kubeadm: `app/cmd/reset.go`, `app/cmd/phases/reset/{preflight,cleanupnode}.go`.
//! Runs best-effort (every phase runs, failures are aggregated), as kubeadm does.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::host::Paths;
use crate::host::cleanup::{
    CleanupPlan, DirKind, Scope, Target, execute, mounts_under, plan, port_in_use,
};
use crate::report::Reporter;

use super::runner::{Decision, Node, Phase, Workflow};

/// Ports of the control-plane components, checked after their manifests are removed.
pub const COMPONENT_PORTS: [u16; 5] = [2379, 2380, 10257, 10259, 10250];

/// Shared state of one `reset` run.
pub struct ResetContext {
    /// Where files are.
    pub paths: Paths,
    /// The directories reset cleans, on disk, manifests first (see [`ResetContext::targets_for`]).
    pub targets: Vec<Target>,
    /// The API server port to wait for.
    pub api_port: u16,
    /// Extra addresses the components listened on (advertise address), besides loopback.
    pub listen_addresses: Vec<IpAddr>,
    /// `--all`: clean kubeadm's directories whole, as kubeadm does, not only plinth's files.
    pub all: bool,
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
        match ctx.plan() {
            Ok(p) => describe(&ctx.report, &p, false),
            Err(e) => ctx.report.warn("reset", format!("{e:#}")),
        }
        print!("[reset] Are you sure you want to proceed? [y/N]: ");
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
        .and_then(|c| Ok((c.members()?, c)))
        .map_err(anyhow::Error::from);
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
            match client.remove(&me.id).map_err(anyhow::Error::from) {
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
                    "Would stop and remove the Kubernetes Pods of the runtime at {}",
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
        if pods > 0 {
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
            match remove_all_pods(&ctx.cri_socket).map_err(anyhow::Error::from) {
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
}

impl ResetContext {
    /// The directories a reset of `paths` looks at, in cleaning order: the manifests, the
    /// kubelet's directory, etcd's data directory (when local), the PKI, the kubeconfig files, and
    /// `/etc/kubernetes/tmp` when asked.
    #[must_use]
    pub fn targets_for(
        paths: &Paths,
        etcd_data_dir: Option<&std::path::Path>,
        cleanup_tmp_dir: bool,
    ) -> Vec<Target> {
        let mut t = vec![
            Target {
                dir: paths.manifests_dir_disk(),
                kind: DirKind::Manifests,
            },
            Target {
                dir: paths.kubelet_dir_disk(),
                kind: DirKind::Kubelet,
            },
        ];
        if let Some(d) = etcd_data_dir {
            t.push(Target {
                dir: paths.disk(d),
                kind: DirKind::EtcdData,
            });
        }
        t.push(Target {
            dir: paths.cert_dir_disk(),
            kind: DirKind::Pki,
        });
        t.push(Target {
            dir: paths.kubeconfig_dir_disk(),
            kind: DirKind::Kubeconfig,
        });
        if cleanup_tmp_dir {
            t.push(Target {
                dir: paths.kubeconfig_dir_disk().join("tmp"),
                kind: DirKind::Tmp,
            });
        }
        t
    }

    /// What cleanup-node will remove and leave, decided from the ledgers (read-only).
    ///
    /// # Errors
    /// A directory that cannot be read.
    pub fn plan(&self) -> anyhow::Result<CleanupPlan> {
        Ok(plan(&self.targets, self.all)?)
    }
}

/// Lists a plan: per directory what goes (or would go), then what stays.
fn describe(r: &Reporter, plan: &CleanupPlan, dry_run: bool) {
    say_scope(r, plan);
    let verb = if dry_run {
        "Would delete"
    } else {
        "Will delete"
    };
    for d in &plan.dirs {
        if d.remove.is_empty() {
            continue;
        }
        let list: Vec<String> = d
            .remove
            .iter()
            .map(|p| {
                p.strip_prefix(&d.dir)
                    .map_or_else(|_| p.display().to_string(), |q| q.display().to_string())
            })
            .collect();
        r.say(
            "reset",
            format!("{verb} from {}: {}", d.dir.display(), list.join(" ")),
        );
    }
    if plan.removals().next().is_none() {
        r.say(
            "reset",
            format!("{verb} nothing: no file of plinth's was found"),
        );
    }
    say_left(r, plan);
}

/// Says which rule the plan follows, unless it is the ledger (the normal case).
fn say_scope(r: &Reporter, plan: &CleanupPlan) {
    match &plan.scope {
        Scope::Ledger => {}
        Scope::Kubeadm(evidence) => r.say(
            "reset",
            format!(
                "No plinth ledger on this host, and {} exists: cleaning kubeadm's directories as `kubeadm reset` does",
                evidence.display()
            ),
        ),
        Scope::All => r.say(
            "reset",
            "--all: cleaning kubeadm's directories whole, as `kubeadm reset` does",
        ),
    }
}

fn say_left(r: &Reporter, plan: &CleanupPlan) {
    let left: Vec<String> = plan.left().map(|p| p.display().to_string()).collect();
    if !left.is_empty() {
        r.say(
            "reset",
            format!(
                "Left in place (not written by plinth): {}. Remove them yourself, or run `plinth reset --all` to clean these directories as kubeadm does",
                left.join(" ")
            ),
        );
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
