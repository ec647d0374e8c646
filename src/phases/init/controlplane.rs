//! `init phase control-plane`: one leaf per control-plane static Pod (kubeadm's
//! `control-plane/{apiserver,controller-manager,scheduler}`), plus the shared manifest step
//! the `etcd/local` leaf uses too.

use anyhow::Context as _;

use super::InitContext;
use crate::host::fs::WriteOutcome;
use crate::manifests::{Component, HostView, Manifest, Templates, render_manifest, write_manifest};
use crate::phases::runner::{Leaf, Node, Plan};

/// The plan path of each manifest leaf.
fn leaf_path(c: Component) -> &'static str {
    match c {
        Component::Etcd => "etcd/local",
        Component::KubeApiserver => "control-plane/apiserver",
        Component::KubeControllerManager => "control-plane/controller-manager",
        Component::KubeScheduler => "control-plane/scheduler",
    }
}

/// The manifests this run will write, in order.
fn planned(ctx: &InitContext) -> Vec<Component> {
    Component::ALL
        .into_iter()
        .filter(|c| ctx.plan.contains(leaf_path(*c)))
        .filter(|c| *c != Component::Etcd || !ctx.cfg.is_external_etcd())
        .collect()
}

/// Renders every planned manifest (so a broken template or patch fails before the first
/// manifest is written), then writes the one of `component`.
pub(super) fn write_static_pod(
    ctx: &InitContext,
    component: Component,
    phase: &str,
) -> anyhow::Result<(Manifest, WriteOutcome)> {
    let templates = Templates::load(ctx.templates_dir.as_deref())?;
    if let Some(p) = templates.overridden(component) {
        ctx.report.say(
            phase,
            format!(
                "Using template {:?} instead of the built-in one",
                p.display().to_string()
            ),
        );
    }
    let patches = ctx.patch_set()?;
    let facts = HostView::new(&ctx.facts, &ctx.paths.cert_dir_disk());
    let render = |c| {
        render_manifest(
            &templates,
            &ctx.cfg,
            &ctx.paths,
            &facts,
            patches.as_ref(),
            c,
        )
    };
    for c in planned(ctx).into_iter().filter(|c| *c != component) {
        render(c).with_context(|| format!("checking the {} manifest before writing", c.name()))?;
    }
    let manifest = render(component)?;
    super::report_render(&ctx.report, phase, &manifest.warnings, &manifest.patches);
    let dir = ctx.paths.manifests_dir_disk();
    let outcome = write_manifest(&dir, &manifest)?;
    if outcome == WriteOutcome::Written {
        ctx.report.wrote(&dir.join(component.file_name()));
    }
    Ok((manifest, outcome))
}

/// The first control-plane leaf of the plan announces the manifest folder, as kubeadm's
/// `control-plane` phase does once.
fn is_first_control_plane_leaf(plan: &Plan, c: Component) -> bool {
    plan.leaves
        .iter()
        .find(|l| l.starts_with("control-plane/"))
        .is_some_and(|l| l == leaf_path(c))
}

/// One control-plane static Pod.
fn run(component: Component, ctx: &mut InitContext) -> anyhow::Result<()> {
    let phase = "control-plane";
    let dir = ctx.paths.manifests_dir.display().to_string();
    if is_first_control_plane_leaf(&ctx.plan, component) {
        ctx.report
            .say(phase, format!("Using manifest folder {dir:?}"));
    }
    let name = component.name();
    let (_, outcome) = write_static_pod(ctx, component, phase)?;
    match outcome {
        WriteOutcome::Written => ctx
            .report
            .say(phase, format!("Creating static Pod manifest for {name:?}")),
        WriteOutcome::Unchanged => ctx.report.say(
            phase,
            format!("Static Pod manifest for {name:?} is unchanged"),
        ),
    }
    Ok(())
}

/// The `control-plane` group: one leaf per component (kubeadm's component list).
pub(super) fn group() -> Node<InitContext> {
    const LEAVES: [(Component, &str, &str); 3] = [
        (
            Component::KubeApiserver,
            "apiserver",
            "Generates the kube-apiserver static Pod manifest",
        ),
        (
            Component::KubeControllerManager,
            "controller-manager",
            "Generates the kube-controller-manager static Pod manifest",
        ),
        (
            Component::KubeScheduler,
            "scheduler",
            "Generates the kube-scheduler static Pod manifest",
        ),
    ];
    Node::group(
        "control-plane",
        "Generate all static Pod manifest files necessary to establish the control plane",
        LEAVES.map(|(component, name, summary)| {
            Leaf::new(name, summary, move |ctx| run(component, ctx)).into()
        }),
    )
}
