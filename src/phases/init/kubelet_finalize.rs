//! `init phase kubelet-finalize`: once the kubelet has a rotatable client certificate, point
//! kubelet.conf at it. kubeadm: `app/cmd/phases/init/kubeletfinalize.go`.

use super::InitContext;
use crate::host::fs::WriteOutcome;
use crate::kubeconfig::point_kubeconfig_at_rotating_cert;
use crate::phases::runner::Decision;

const CURRENT_PEM: &str = "pki/kubelet-client-current.pem";

/// `kubelet-finalize/enable-client-cert-rotation` runs once the kubelet has a rotatable
/// client certificate.
pub(super) fn run_if(ctx: &InitContext) -> Decision {
    if ctx.dry_run {
        return Decision::Skip(
            "dry run: assuming the kubelet has no rotatable client certificate yet".into(),
        );
    }
    if !ctx.paths.kubelet_dir_disk().join(CURRENT_PEM).exists() {
        return Decision::Skip(
            format!(
                "no rotatable kubelet client certificate at {}; kubelet.conf keeps its embedded one",
                ctx.paths.kubelet_dir.join(CURRENT_PEM).display()
            )
            .into(),
        );
    }
    Decision::Run
}

/// The `kubelet-finalize/enable-client-cert-rotation` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let conf = ctx
        .paths
        .kubeconfig_dir_disk()
        .join(crate::kubeconfig::KUBELET_FILE);
    let shown = ctx.paths.kubelet_dir.join(CURRENT_PEM);
    let outcome = point_kubeconfig_at_rotating_cert(&conf, &shown)?;
    let host_conf = ctx
        .paths
        .kubeconfig_dir
        .join(crate::kubeconfig::KUBELET_FILE);
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
