//! `init phase addon`: the essential addons, CoreDNS and kube-proxy, unless the
//! ClusterConfiguration disables them. kubeadm: `app/cmd/phases/init/addons.go`.

use super::InitContext;
use crate::cluster::objects;
use crate::phases::runner::{Decision, Node, Phase};

struct CoreDns;

impl Phase<InitContext> for CoreDns {
    fn name(&self) -> &'static str {
        "coredns"
    }

    fn summary(&self) -> &'static str {
        "Install the CoreDNS addon"
    }

    fn decide(&self, ctx: &InitContext) -> anyhow::Result<Decision> {
        if ctx.cfg.cluster.dns.disabled == Some(true) {
            return Ok(Decision::Skip(
                "dns.disabled is set in the ClusterConfiguration".into(),
            ));
        }
        Ok(Decision::Run)
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        let objs = objects::coredns(&ctx.cfg);
        ctx.apply_all("addon/coredns", &objs)?;
        ctx.report.say("addons", "Applied essential addon: CoreDNS");
        Ok(())
    }
}

struct KubeProxy;

impl Phase<InitContext> for KubeProxy {
    fn name(&self) -> &'static str {
        "kube-proxy"
    }

    fn summary(&self) -> &'static str {
        "Install the kube-proxy addon"
    }

    fn decide(&self, ctx: &InitContext) -> anyhow::Result<Decision> {
        if ctx.cfg.cluster.proxy.disabled == Some(true) {
            return Ok(Decision::Skip(
                "proxy.disabled is set in the ClusterConfiguration".into(),
            ));
        }
        Ok(Decision::Run)
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        let proxy_env = crate::k8s::proxy_env(std::env::vars());
        let objs = objects::kube_proxy(&ctx.cfg, &proxy_env)?;
        ctx.apply_all("addon/kube-proxy", &objs)?;
        ctx.report
            .say("addons", "Applied essential addon: kube-proxy");
        Ok(())
    }
}

/// The `addon` group.
pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "addon",
        summary: "Install the essential addons",
        children: vec![
            Node::Leaf(Box::new(CoreDns)),
            Node::Leaf(Box::new(KubeProxy)),
        ],
    }
}
