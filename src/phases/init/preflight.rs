//! `init phase preflight`: kubeadm's pre-flight checks before anything is written, with
//! `--ignore-preflight-errors` / `nodeRegistration.ignorePreflightErrors`. plinth's own manifests,
//! its control plane's ports and its etcd's data pass, so a re-run converges.
//! kubeadm: `app/cmd/phases/init/preflight.go`.

use super::InitContext;
use crate::preflight::{
    KUBEADM_ONLY_CHECKS, NodeFacts, RealHost, Tools, evaluate, init_checks, node_checks,
};

const PHASE: &str = "preflight";

/// The `preflight` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let r = &ctx.report;
    r.say(PHASE, "Running pre-flight checks");
    if ctx.dry_run {
        r.say(
            PHASE,
            format!(
                "Dry run: problems of the host itself only warn; files are checked under {}",
                ctx.paths.root.display()
            ),
        );
    }
    // The runtime, kubelet and cgroups are the running host's even in a dry run (only read).
    let facts = NodeFacts::gather(&ctx.cfg, &RealHost, &Tools::from_host());
    let results = node_checks(&ctx.cfg, &ctx.paths.kubelet_dir, &facts)
        .splice_into(init_checks(&ctx.cfg, &ctx.paths, &ctx.facts, &RealHost));
    let ignore = &ctx.cfg.ignore_preflight_errors;
    let findings = evaluate(results, ignore, ctx.dry_run);
    for (_, msg) in &findings.own {
        r.say(PHASE, msg);
    }
    for (name, msg) in &findings.warnings {
        r.warn_line(
            format!("\t[WARNING {name}]: {msg}"),
            format!("[{name}] {msg}"),
        );
    }
    for name in &findings.unmatched_ignores {
        let kubeadm_only = KUBEADM_ONLY_CHECKS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name));
        r.warn(
            PHASE,
            if kubeadm_only {
                format!("ignoring {name:?} has no effect: plinth does not run that kubeadm check")
            } else {
                format!(
                    "ignoring {name:?} has no effect: no pre-flight check of this run has that name"
                )
            },
        );
    }
    findings.result()?;
    Ok(())
}
