//! `init phase etcd local`: the stacked etcd static Pod (skipped with external etcd).

use super::InitContext;
use super::controlplane::write_static_pod;
use crate::host::fs::WriteOutcome;
use crate::manifests::Component;
use crate::phases::runner::Decision;

/// `etcd/local` runs unless etcd is external.
pub(super) fn run_if(ctx: &InitContext) -> Decision {
    if ctx.cfg.is_external_etcd() {
        Decision::Skip("external etcd: no manifest for a local etcd is created".into())
    } else {
        Decision::Run
    }
}

/// The `etcd/local` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
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
