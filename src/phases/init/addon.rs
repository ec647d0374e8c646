//! `init phase addon`: the essential addons, CoreDNS and kube-proxy, unless the
//! ClusterConfiguration disables them. kubeadm: `app/cmd/phases/init/addons.go`.

use super::InitContext;
use crate::cluster::objects;
use crate::phases::runner::{Decision, Node, Phase};

/// One essential addon.
#[derive(Debug, Clone, Copy)]
enum Addon {
    CoreDns,
    KubeProxy,
}

/// The leaf of one addon.
struct AddonPhase(Addon);

impl AddonPhase {
    /// What kubeadm calls it in its closing line.
    fn display(&self) -> &'static str {
        match self.0 {
            Addon::CoreDns => "CoreDNS",
            Addon::KubeProxy => "kube-proxy",
        }
    }
}

impl Phase<InitContext> for AddonPhase {
    fn name(&self) -> &'static str {
        match self.0 {
            Addon::CoreDns => "coredns",
            Addon::KubeProxy => "kube-proxy",
        }
    }

    fn summary(&self) -> &'static str {
        match self.0 {
            Addon::CoreDns => "Install the CoreDNS addon",
            Addon::KubeProxy => "Install the kube-proxy addon",
        }
    }

    fn decide(&self, ctx: &InitContext) -> anyhow::Result<Decision> {
        let (disabled, field) = match self.0 {
            Addon::CoreDns => (ctx.cfg.cluster.dns.disabled, "dns"),
            Addon::KubeProxy => (ctx.cfg.cluster.proxy.disabled, "proxy"),
        };
        if disabled == Some(true) {
            return Ok(Decision::Skip(
                format!("{field}.disabled is set in the ClusterConfiguration").into(),
            ));
        }
        Ok(Decision::Run)
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        let objs = match self.0 {
            Addon::CoreDns => objects::coredns(&ctx.cfg),
            Addon::KubeProxy => {
                let proxy_env = crate::k8s::proxy_env(std::env::vars());
                objects::kube_proxy(&ctx.cfg, &proxy_env)?
            }
        };
        ctx.apply_all(&format!("addon/{}", self.name()), &objs)?;
        ctx.report.say(
            "addons",
            format!("Applied essential addon: {}", self.display()),
        );
        Ok(())
    }
}

/// The `addon` group.
pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "addon",
        summary: "Install the essential addons",
        children: [Addon::CoreDns, Addon::KubeProxy]
            .map(|a| Node::Leaf(Box::new(AddonPhase(a))))
            .into(),
    }
}
