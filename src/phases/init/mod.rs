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
mod node_network;
mod preflight;
mod show_join_command;
mod upload_certs;
mod upload_config;
mod waitcp;

pub use api::ObjectRecord;
pub use show_join_command::JoinInfo;

use std::path::PathBuf;

use crate::config::ResolvedConfig;
use crate::host::{Facts, Paths};
use crate::report::Reporter;

use super::runner::{Leaf, Node, Plan, Workflow};

/// Shared state of one `init` run. The config is read-only.
pub struct InitContext {
    /// The resolved configuration.
    pub cfg: ResolvedConfig,
    /// Where files go (re-rooted for a dry run).
    pub paths: Paths,
    /// The host, read once before the first phase (leaves do not probe it for facts).
    pub facts: Facts,
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
    /// `--upload-certs`: store the shared certificates in the `kubeadm-certs` Secret.
    pub upload_certs: bool,
    /// `--certificate-key`, or the key upload-certs generated.
    pub certificate_key: Option<crate::pki::copycerts::CertificateKey>,
    /// `--skip-certificate-key-print`: do not print the certificate key.
    pub skip_certificate_key_print: bool,
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

/// The `init` phase tree, in kubeadm's order. Groups repeated per item (certificates,
/// kubeconfig files, components, addons) are generated from their tables.
#[must_use]
pub fn workflow() -> Workflow<InitContext> {
    Workflow {
        name: "init",
        nodes: vec![
            Leaf::new("preflight", "Run pre-flight checks", preflight::run).into(),
            certs::group(),
            kubeconfig::group(),
            Node::group(
                "etcd",
                "Generate static Pod manifest file for local etcd",
                [Leaf::new(
                    "local",
                    "Generate the static Pod manifest file for a local, single-node local etcd instance",
                    etcd::run,
                )
                .run_if(etcd::run_if)
                .into()],
            ),
            controlplane::group(),
            Leaf::new(
                "kubelet-start",
                "Write kubelet settings and (re)start the kubelet",
                kubelet::run,
            )
            .into(),
            Leaf::new(
                "wait-control-plane",
                "Wait for the control plane to start",
                waitcp::run,
            )
            .run_if(waitcp::run_if)
            .into(),
            // The post-API phases, in kubeadm's order.
            Node::group(
                "upload-config",
                "Upload the kubeadm and kubelet configuration to ConfigMaps",
                [
                    Leaf::new(
                        "kubeadm",
                        "Upload the ClusterConfiguration to the kubeadm-config ConfigMap",
                        upload_config::kubeadm,
                    )
                    .into(),
                    Leaf::new(
                        "kubelet",
                        "Upload the kubelet configuration to the kubelet-config ConfigMap",
                        upload_config::kubelet,
                    )
                    .into(),
                ],
            ),
            Leaf::new(
                "upload-certs",
                "Upload certificates to kubeadm-certs",
                upload_certs::run,
            )
            .into(),
            Leaf::new(
                "mark-control-plane",
                "Label and taint the Node as a control-plane node",
                mark_control_plane::run,
            )
            .into(),
            Leaf::new(
                "bootstrap-token",
                "Create the bootstrap token, its RBAC rules and the cluster-info ConfigMap",
                bootstrap_token::run,
            )
            .into(),
            Node::group(
                "kubelet-finalize",
                "Update settings relevant to the kubelet after TLS bootstrap",
                [Leaf::new(
                    "enable-client-cert-rotation",
                    "Point kubelet.conf at the kubelet's rotatable client certificate",
                    kubelet_finalize::run,
                )
                .run_if(kubelet_finalize::run_if)
                .into()],
            ),
            addon::group(),
            Leaf::new(
                "show-join-command",
                "Print the join command for nodes and how to use the cluster",
                show_join_command::run,
            )
            .into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of `group`, as (name, summary), in order.
    fn children(group: &str) -> Vec<(String, &'static str)> {
        let prefix = format!("{group}/");
        workflow()
            .entries()
            .into_iter()
            .filter_map(|(path, _, summary, leaf)| {
                let name = path.strip_prefix(&prefix)?.to_string();
                leaf.then_some((name, summary))
            })
            .collect()
    }

    #[test]
    fn cert_leaves_are_the_pki_table_then_sa() {
        let mut want: Vec<(String, &str)> = crate::pki::CERTS
            .iter()
            .map(|s| (s.name.to_string(), s.summary))
            .collect();
        want.push((crate::pki::SA_NAME.to_string(), crate::pki::SA_SUMMARY));
        assert_eq!(children("certs"), want);
    }

    #[test]
    fn kubeconfig_leaves_are_the_kubeconfig_table() {
        let want: Vec<(String, &str)> = crate::kubeconfig::KUBECONFIGS
            .iter()
            .map(|s| (s.name.to_string(), s.summary))
            .collect();
        assert_eq!(children("kubeconfig"), want);
    }
}
