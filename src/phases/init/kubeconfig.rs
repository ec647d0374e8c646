//! `init phase kubeconfig`: one leaf per kubeconfig file. Thin adapters over
//! [`crate::kubeconfig`]. kubeadm: `app/cmd/phases/init/kubeconfig.go`.

use super::InitContext;
use super::certs::{is_first_in_group, pool, prepare_keys};
use crate::kubeconfig::{self, KubeconfigOutcome, KubeconfigSpec};
use crate::phases::runner::{Node, Phase};

const PHASE: &str = "kubeconfig";

pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: PHASE,
        summary: "Generate all kubeconfig files necessary to establish the control plane and the admin kubeconfig file",
        children: kubeconfig::KUBECONFIGS
            .iter()
            .map(|spec| {
                Node::Leaf(Box::new(KubeconfigPhase { spec }) as Box<dyn Phase<InitContext>>)
            })
            .collect(),
    }
}

/// One kubeconfig file.
struct KubeconfigPhase {
    spec: &'static KubeconfigSpec,
}

impl Phase<InitContext> for KubeconfigPhase {
    fn name(&self) -> &'static str {
        self.spec.name
    }

    fn summary(&self) -> &'static str {
        self.spec.summary
    }

    fn run(&self, ctx: &mut InitContext) -> anyhow::Result<()> {
        if is_first_in_group(ctx, PHASE, &format!("{PHASE}/{}", self.spec.name)) {
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
        let outcome = kubeconfig::ensure_kubeconfig(self.spec, cfg, &cert_dir, &dir, keys)?;
        let host = dir.join(self.spec.file);
        match outcome {
            KubeconfigOutcome::Generated => {
                ctx.report.say(
                    PHASE,
                    format!("Writing {:?} kubeconfig file", self.spec.file),
                );
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
}
