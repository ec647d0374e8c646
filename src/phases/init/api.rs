//! What the post-API phases share: the [`Applier`] of this run (live, or dry run under
//! `<root>/api-objects`), built on first use, and the record of every object applied.

use serde_json::Value;

use super::InitContext;
use crate::cluster::{Applier, DryRunApplier, LiveApplier, Outcome, describe};

/// One API object `init` applied (or would apply), for the report and `-o json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObjectRecord {
    /// Leaf that applied it.
    pub phase: String,
    /// `Kind namespace/name`.
    pub object: String,
    /// `created`, `updated`, `unchanged`, or `dry-run`.
    pub outcome: String,
}

impl InitContext {
    /// The applier, built on first use: the API phases authenticate with `--kubeconfig`, else
    /// with `<kubeconfig dir>/admin.conf` (then making sure admin.conf has its cluster-admin
    /// binding, with super-admin.conf if need be). A dry run applies nothing.
    pub(super) fn applier(&mut self) -> &mut dyn Applier {
        let applier = match self.api.take() {
            Some(a) => a,
            None => self.new_applier(),
        };
        self.api.insert(applier).as_mut()
    }

    fn new_applier(&self) -> Box<dyn Applier> {
        if self.dry_run {
            return Box::new(DryRunApplier::new(self.paths.root.join("api-objects")));
        }
        let dir = self.paths.kubeconfig_dir_disk();
        let (kubeconfig, super_admin) = match &self.kubeconfig {
            Some(k) => (k.clone(), None),
            None => (
                dir.join(crate::kubeconfig::ADMIN_FILE),
                Some(dir.join(crate::kubeconfig::SUPER_ADMIN_FILE)),
            ),
        };
        let report = self.report.clone();
        Box::new(LiveApplier::new(
            kubeconfig,
            super_admin,
            self.cfg.timeouts.kubernetes_api_call,
            Box::new(move |m: &str| report.say("kubeconfig", m)),
        ))
    }

    /// Applies `objs` in order for leaf `phase`, listing each in a dry run.
    pub(super) fn apply_all(&mut self, phase: &str, objs: &[Value]) -> anyhow::Result<()> {
        let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
        for o in objs {
            let outcome = self.applier().apply(o)?;
            if outcome == Outcome::DryRun {
                self.report
                    .say("dryrun", format!("Would apply {}", describe(o)));
            } else {
                tracing::info!("{phase}: {} {}", describe(o), outcome.as_str());
                *counts.entry(outcome.as_str()).or_default() += 1;
            }
            self.record(phase, describe(o), outcome);
        }
        if !counts.is_empty() {
            let summary: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
            tracing::debug!("{phase}: {}", summary.join(", "));
        }
        Ok(())
    }

    /// Adds an object to the run's record.
    pub(super) fn record(&mut self, phase: &str, object: String, outcome: Outcome) {
        self.objects.push(ObjectRecord {
            phase: phase.to_string(),
            object,
            outcome: outcome.as_str().into(),
        });
    }
}
