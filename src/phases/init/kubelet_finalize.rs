//! `init phase kubelet-finalize`: once the kubelet has a rotatable client certificate, point
//! kubelet.conf at it. kubeadm: `app/cmd/phases/init/kubeletfinalize.go`.

use super::InitContext;
use crate::host::fs::WriteOutcome;
use crate::kubeconfig::point_kubeconfig_at_rotating_cert;
use crate::phases::runner::{Decision, Node, Phase};

const CURRENT_PEM: &str = "pki/kubelet-client-current.pem";

struct EnableCertRotation;

impl Phase<InitContext> for EnableCertRotation {
    fn name(&self) -> &'static str {
        "enable-client-cert-rotation"
    }

    fn summary(&self) -> &'static str {
        "Point kubelet.conf at the kubelet's rotatable client certificate"
    }

    fn decide(&self, ctx: &InitContext) -> anyhow::Result<Decision> {
        if ctx.dry_run {
            return Ok(Decision::Skip(
                "dry run: assuming the kubelet has no rotatable client certificate yet".into(),
            ));
        }
        if !ctx.paths.kubelet_dir_disk().join(CURRENT_PEM).exists() {
            return Ok(Decision::Skip(
                format!(
                    "no rotatable kubelet client certificate at {}; kubelet.conf keeps its embedded one",
                    ctx.paths.kubelet_dir.join(CURRENT_PEM).display()
                )
                .into(),
            ));
        }
        Ok(Decision::Run)
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        let conf = ctx.paths.kubeconfig_dir_disk().join("kubelet.conf");
        let shown = ctx.paths.kubelet_dir.join(CURRENT_PEM);
        let outcome = point_kubeconfig_at_rotating_cert(&conf, &shown)?;
        let host_conf = ctx.paths.kubeconfig_dir.join("kubelet.conf");
        if outcome == WriteOutcome::Written {
            ctx.report.say(
                "kubelet-finalize",
                format!(
                    "Updating {:?} to point to a rotatable kubelet client certificate and key",
                    host_conf.display().to_string()
                ),
            );
            ctx.report.wrote(&conf);
        }
        Ok(())
    }
}

/// The `kubelet-finalize` group.
pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "kubelet-finalize",
        summary: "Update settings relevant to the kubelet after TLS bootstrap",
        children: vec![Node::Leaf(Box::new(EnableCertRotation))],
    }
}
