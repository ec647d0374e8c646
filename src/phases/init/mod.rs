//! The `init` workflow: kubeadm's phase tree, in kubeadm's order. Each leaf is a thin adapter
//! over a domain module; the hand-off between phases is the disk, so every phase runs alone.

mod addon;
mod api;
mod bootstrap_token;
mod certs;
mod controlplane;
mod etcd;
mod kubeconfig;
mod kubelet;
mod kubelet_finalize;
mod mark_control_plane;
mod preflight;
mod show_join_command;
mod upload_config;
mod waitcp;

pub use api::ObjectRecord;
pub use show_join_command::JoinInfo;

use std::path::PathBuf;

use crate::config::ResolvedConfig;
use crate::host::Paths;
use crate::report::Reporter;

use super::runner::{Plan, Workflow};

/// Shared state of one `init` run. The config is read-only.
pub struct InitContext {
    /// The resolved configuration.
    pub cfg: ResolvedConfig,
    /// Where files go (re-rooted for a dry run).
    pub paths: Paths,
    /// Output.
    pub report: Reporter,
    /// A dry run writes only under `paths.root` and talks to no cluster.
    pub dry_run: bool,
    /// The leaves that will run (phases use it to prepare work for later leaves, e.g. keys)
    /// and what `--skip-phases` removed: skipping an addon also records it as disabled in the
    /// uploaded ClusterConfiguration, as kubeadm does.
    pub plan: Plan,
    /// Keys generated ahead of time, in parallel, for the certificates and kubeconfigs this
    /// run will create.
    pub keys: Option<crate::pki::KeyPool>,
    /// `--templates-dir`: user copies of the static Pod templates.
    pub templates_dir: Option<PathBuf>,
    /// `--kubeconfig`: the identity for the API phases (default `<kubeconfig dir>/admin.conf`).
    pub kubeconfig: Option<PathBuf>,
    /// `--skip-token-print`: mask the token in the output.
    pub skip_token_print: bool,
    /// How the post-API phases reach the cluster (live, or dry run), built by the first
    /// phase that needs it.
    pub api: Option<Box<dyn crate::cluster::Applier>>,
    /// The bootstrap token this run created or reused.
    pub token: Option<crate::cluster::BootstrapToken>,
    /// API objects applied (or listed, in a dry run), in order.
    pub objects: Vec<ObjectRecord>,
    /// The join information, once show-join-command ran.
    pub join: Option<JoinInfo>,
}

/// The `init` phase tree.
#[must_use]
pub fn workflow() -> Workflow<InitContext> {
    Workflow {
        name: "init",
        nodes: vec![
            preflight::node(),
            certs::node(),
            kubeconfig::node(),
            etcd::node(),
            controlplane::node(),
            kubelet::node(),
            waitcp::node(),
            // The post-API phases, in kubeadm's order.
            upload_config::node(),
            mark_control_plane::node(),
            bootstrap_token::node(),
            kubelet_finalize::node(),
            addon::node(),
            show_join_command::node(),
        ],
    }
}

impl InitContext {
    /// The patches of `patches.directory` (or `--patches`), loaded for a phase that renders.
    ///
    /// # Errors
    /// An unreadable or invalid patch file, named.
    fn patch_set(&self) -> anyhow::Result<Option<crate::manifests::PatchSet>> {
        Ok(self
            .cfg
            .patches_dir
            .as_deref()
            .map(crate::manifests::PatchSet::load)
            .transpose()?)
    }
}

/// Prints a render's warnings and the patches it applied (manifests and kubelet files alike).
fn report_render(
    report: &Reporter,
    phase: &str,
    warnings: &[String],
    patches: &[crate::manifests::patches::AppliedPatch],
) {
    for w in warnings {
        report.warn(phase, w);
    }
    for p in patches {
        report.say(
            "patches",
            format!(
                "Applied patch of type {:?} to target {:?}",
                p.kind.media_type(),
                p.target
            ),
        );
    }
}
