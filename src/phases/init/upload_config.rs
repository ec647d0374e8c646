//! `init phase upload-config`: the ClusterConfiguration to `kube-system/kubeadm-config` and the
//! cluster-wide kubelet configuration to `kube-system/kubelet-config`, each with the RBAC that
//! lets joining nodes read it. kubeadm: `app/cmd/phases/init/uploadconfig.go`.

use super::InitContext;
use crate::cluster::objects;

/// The `upload-config/kubeadm` leaf.
pub(super) fn kubeadm(ctx: &mut InitContext) -> anyhow::Result<()> {
    ctx.report.say(
            "upload-config",
            "Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace",
        );
    // A skipped addon is recorded as disabled, so kubeadm's `upgrade` keeps it off.
    let dns_off = ctx.plan.skips("addon/coredns");
    let proxy_off = ctx.plan.skips("addon/kube-proxy");
    let yaml = objects::cluster_configuration_yaml(&ctx.cfg, dns_off, proxy_off)?;
    ctx.apply_all(
        "upload-config/kubeadm",
        &objects::upload_kubeadm_config(&yaml),
    )
}

/// The `upload-config/kubelet` leaf.
pub(super) fn kubelet(ctx: &mut InitContext) -> anyhow::Result<()> {
    ctx.report.say(
            "kubelet",
            "Creating a ConfigMap \"kubelet-config\" in namespace kube-system with the configuration for the kubelets in the cluster",
        );
    let (doc, _warnings) = crate::kubelet::cluster_kubelet_config(&ctx.cfg, &ctx.paths, &ctx.facts);
    let yaml = serde_saphyr::to_string(&doc)?;
    ctx.apply_all(
        "upload-config/kubelet",
        &objects::upload_kubelet_config(&yaml, ctx.cfg.kubelet.is_some()),
    )
}
