//! The `reset` workflow: undo exactly what init did on this node and say what was left alone.
//! kubeadm: `app/cmd/reset.go`, `app/cmd/phases/reset/{preflight,cleanupnode}.go`.
//! Runs best-effort (every phase runs, failures are aggregated), as kubeadm does.
//! The tree and the shared context live here; each leaf has its own file.

mod cleanup_node;
mod preflight;
mod remove_etcd_member;

use std::net::IpAddr;
use std::time::Duration;

use crate::host::cleanup::{CleanupPlan, DirKind, Scope, Target, plan};
use crate::host::{Facts, Paths};
use crate::report::Reporter;

use super::runner::{Decision, Leaf, Workflow};

/// Ports of the static Pods (etcd, controller-manager, scheduler; the API server's port is the
/// config's), checked after their manifests are removed. Not the kubelet's 10250: the kubelet
/// keeps serving until reset stops it, so waiting for it only waited out the timeout.
pub const COMPONENT_PORTS: [u16; 4] = [2379, 2380, 10257, 10259];

/// Shared state of one `reset` run.
pub struct ResetContext {
    /// Where files are.
    pub paths: Paths,
    /// The host, read once before the first phase.
    pub facts: Facts,
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
            Leaf::new("preflight", "Run reset pre-flight checks", preflight::run).into(),
            Leaf::new(
                "remove-etcd-member",
                "Remove this node's local etcd member from the etcd cluster",
                remove_etcd_member::run,
            )
            .run_if(remove_etcd_member::run_if)
            .into(),
            Leaf::new("cleanup-node", "Run cleanup node.", cleanup_node::run)
                .run_if(only_if_confirmed)
                .into(),
        ],
    }
}

/// Nothing is removed before the user agreed (or `--force`).
fn only_if_confirmed(ctx: &ResetContext) -> Decision {
    if ctx.confirmed {
        Decision::Run
    } else {
        Decision::Skip("reset was not confirmed".into())
    }
}

/// A usage problem found by reset's preflight (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NeedsConfirmation(pub String);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::runner::{Outcome, Policy, Selection};

    /// A reset whose preflight did not confirm removes nothing: both later leaves skip, and
    /// the files stay.
    #[test]
    fn nothing_is_removed_before_confirmation() {
        use crate::manifests::Component;
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::host(std::path::Path::new("/etc/kubernetes/pki")).rooted(root.path());
        std::fs::create_dir_all(paths.manifests_dir_disk()).unwrap();
        let manifest = paths.manifests_dir_disk().join(Component::Etcd.file_name());
        std::fs::write(&manifest, "kind: Pod\n").unwrap();
        let mut ctx = ResetContext {
            targets: ResetContext::targets_for(&paths, None, false),
            paths,
            facts: Facts::default(),
            api_port: 6443,
            listen_addresses: vec![],
            all: true,
            force: false,
            dry_run: false,
            stop_timeout: Duration::ZERO,
            report: Reporter::quiet(),
            cri_socket: String::new(),
            confirmed: false,
        };
        let wf = workflow();
        let plan = wf
            .plan(&Selection {
                only: None,
                skip: vec!["preflight".into()],
            })
            .unwrap();
        let report = wf.run(&plan, &mut ctx, Policy::BestEffort, |_| {}).unwrap();
        let outcomes: Vec<_> = report
            .steps
            .iter()
            .map(|s| (s.path.as_str(), s.outcome.clone()))
            .collect();
        let skipped = Outcome::Skipped("reset was not confirmed".into());
        assert_eq!(
            outcomes,
            vec![
                ("remove-etcd-member", skipped.clone()),
                ("cleanup-node", skipped)
            ]
        );
        assert!(manifest.exists());
    }
}
