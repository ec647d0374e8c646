//! `init phase etcd local`: the stacked etcd static Pod (skipped with external etcd).

use std::borrow::Cow;

use super::InitContext;
use super::controlplane::write_static_pod;
use crate::host::fs::WriteOutcome;
use crate::manifests::Component;
use crate::phases::runner::{Decision, Node, Phase};

struct LocalEtcdPhase;

impl Phase<InitContext> for LocalEtcdPhase {
    fn name(&self) -> &'static str {
        "local"
    }

    fn summary(&self) -> &'static str {
        "Generate the static Pod manifest file for a local, single-node local etcd instance"
    }

    fn decide(&self, ctx: &InitContext) -> anyhow::Result<Decision> {
        Ok(if ctx.cfg.is_external_etcd() {
            Decision::Skip(Cow::Borrowed(
                "external etcd: no manifest for a local etcd is created",
            ))
        } else {
            Decision::Run
        })
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        let dir = ctx.paths.manifests_dir.display().to_string();
        let (_, outcome) = write_static_pod(ctx, Component::Etcd, "etcd")?;
        match outcome {
            WriteOutcome::Written => ctx.report.say(
                "etcd",
                format!("Creating static Pod manifest for local etcd in {dir:?}"),
            ),
            WriteOutcome::Unchanged => ctx.report.say(
                "etcd",
                format!("Static Pod manifest for local etcd in {dir:?} is unchanged"),
            ),
        }
        Ok(())
    }
}

pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "etcd",
        summary: "Generate static Pod manifest file for local etcd",
        children: vec![Node::Leaf(Box::new(LocalEtcdPhase))],
    }
}
