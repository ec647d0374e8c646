//! `init phase mark-control-plane`: label and taint this Node as a control-plane node, once the
//! kubelet has registered it. kubeadm: `app/cmd/phases/init/markcontrolplane.go`.

use super::InitContext;
use crate::cluster::Outcome;
use crate::cluster::objects::{LABEL_CONTROL_PLANE, LABEL_EXCLUDE_LB, shown_taints, wanted_taints};

const PHASE: &str = "mark-control-plane";

/// The `mark-control-plane` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let node = ctx.cfg.node_name.clone();
    let taints = wanted_taints(ctx.cfg.init.node_registration.taints.as_deref());
    ctx.report.say(
            PHASE,
            format!("Marking the node {node} as control-plane by adding the labels: [{LABEL_CONTROL_PLANE} {LABEL_EXCLUDE_LB}]"),
        );
    if !taints.is_empty() {
        ctx.report.say(
            PHASE,
            format!(
                "Marking the node {node} as control-plane by adding the taints [{}]",
                shown_taints(&taints).join(" ")
            ),
        );
    }
    let wait = ctx.cfg.timeouts.kubelet_health_check;
    let outcome = ctx.applier().mark_node(&node, &taints, wait)?;
    if outcome == Outcome::DryRun {
        ctx.report
            .say("dryrun", format!("Would label and taint Node {node}"));
    }
    ctx.record(PHASE, format!("Node {node}"), outcome);
    Ok(())
}
