//! `init phase addon`: the essential addons, CoreDNS and kube-proxy, unless the
//! ClusterConfiguration disables them. kubeadm: `app/cmd/phases/init/addons.go`.

use super::InitContext;
use crate::cluster::objects;
use crate::phases::runner::{Decision, Leaf, Node};

/// One essential addon.
#[derive(Debug, Clone, Copy)]
enum Addon {
    CoreDns,
    KubeProxy,
}

impl Addon {
    /// The leaf's name.
    fn name(self) -> &'static str {
        match self {
            Addon::CoreDns => "coredns",
            Addon::KubeProxy => "kube-proxy",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Addon::CoreDns => "Install the CoreDNS addon",
            Addon::KubeProxy => "Install the kube-proxy addon",
        }
    }

    /// What kubeadm calls it in its closing line.
    fn display(self) -> &'static str {
        match self {
            Addon::CoreDns => "CoreDNS",
            Addon::KubeProxy => "kube-proxy",
        }
    }
}

/// An addon runs unless the ClusterConfiguration disables it.
fn run_if(addon: Addon, ctx: &InitContext) -> Decision {
    let (disabled, field) = match addon {
        Addon::CoreDns => (ctx.cfg.cluster.dns.disabled, "dns"),
        Addon::KubeProxy => (ctx.cfg.cluster.proxy.disabled, "proxy"),
    };
    if disabled == Some(true) {
        Decision::Skip(format!("{field}.disabled is set in the ClusterConfiguration").into())
    } else {
        Decision::Run
    }
}

fn run(addon: Addon, ctx: &mut InitContext) -> anyhow::Result<()> {
    let objs = match addon {
        Addon::CoreDns => objects::coredns(&ctx.cfg),
        Addon::KubeProxy => objects::kube_proxy(&ctx.cfg, &ctx.facts.proxy_env)?,
    };
    ctx.apply_all(&format!("addon/{}", addon.name()), &objs)?;
    ctx.report.say(
        "addons",
        format!("Applied essential addon: {}", addon.display()),
    );
    if matches!(addon, Addon::CoreDns) {
        // CoreDNS needs a Pod network: say now if the node has none.
        super::node_network::explain(ctx);
    }
    Ok(())
}

/// The `addon` group: one leaf per addon.
pub(super) fn group() -> Node<InitContext> {
    Node::group(
        "addon",
        "Install the essential addons",
        [Addon::CoreDns, Addon::KubeProxy].map(|a| {
            Leaf::new(a.name(), a.summary(), move |ctx| run(a, ctx))
                .run_if(move |ctx| run_if(a, ctx))
                .into()
        }),
    )
}
