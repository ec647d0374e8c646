//! `init phase kubeconfig`: one leaf per kubeconfig file. Thin adapters over
//! [`crate::kubeconfig`]. kubeadm: `app/cmd/phases/init/kubeconfig.go`.

use super::InitContext;
use super::certs::{is_first_in_group, pool, prepare_keys};
use crate::kubeconfig::{self, KubeconfigOutcome, KubeconfigSpec};
use crate::phases::runner::{Leaf, Node};

const PHASE: &str = "kubeconfig";

/// The `kubeconfig` group: one leaf per row of [`kubeconfig::KUBECONFIGS`].
pub(super) fn group() -> Node<InitContext> {
    Node::group(
        PHASE,
        "Generate all kubeconfig files necessary to establish the control plane and the admin kubeconfig file",
        kubeconfig::KUBECONFIGS
            .iter()
            .map(|spec| Leaf::new(spec.name, spec.summary, move |ctx| run(spec, ctx)).into()),
    )
}

/// One kubeconfig file.
fn run(spec: &'static KubeconfigSpec, ctx: &mut InitContext) -> anyhow::Result<()> {
    if is_first_in_group(ctx, PHASE, &format!("{PHASE}/{}", spec.name)) {
        ctx.report.say(
            PHASE,
            format!(
                "Using kubeconfig folder {:?}",
                ctx.paths.kubeconfig_dir.display().to_string()
            ),
        );
    }
    let cert_dir = ctx.paths.cert_dir_disk();
    let dir = ctx.paths.kubeconfig_dir_disk();
    prepare_keys(ctx)?;
    let (cfg, keys) = pool(ctx);
    let outcome = kubeconfig::ensure_kubeconfig(spec, cfg, &cert_dir, &dir, keys)?;
    let host = dir.join(spec.file);
    match outcome {
        KubeconfigOutcome::Generated => {
            ctx.report
                .say(PHASE, format!("Writing {:?} kubeconfig file", spec.file));
            ctx.report.wrote(&host);
        }
        KubeconfigOutcome::Reused { warning } => {
            ctx.report.say(
                PHASE,
                format!(
                    "Using existing kubeconfig file: {:?}",
                    host.display().to_string()
                ),
            );
            if let Some(w) = warning {
                ctx.report.warn(PHASE, w);
            }
        }
    }
    Ok(())
}
