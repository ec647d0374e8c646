//! The machine-readable output of `plinth init -o json|jsonl`: a contract for scripts, so it is
//! a typed value, documented field by field in docs/output.md (a test keeps the two in step).
//!
//! `-o json` prints one [`InitResult`]; `-o jsonl` prints one [`PhaseEvent`] per phase as it
//! finishes, then the [`InitResult`] on one line.

use serde::Serialize;

use crate::phases::init::{JoinInfo, ObjectRecord};
use crate::phases::runner::{Outcome, StepReport};

/// Version of this schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One phase of the run.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseStep {
    /// Phase path, e.g. `certs/ca`.
    pub phase: String,
    /// `ran`, `skipped` or `failed`.
    pub outcome: &'static str,
    /// Why it was skipped, or the error; `null` when it ran.
    pub detail: Option<String>,
    /// Wall time in milliseconds (microsecond precision).
    pub duration_ms: f64,
}

impl From<&StepReport> for PhaseStep {
    fn from(step: &StepReport) -> Self {
        let (outcome, detail) = match &step.outcome {
            Outcome::Ran => ("ran", None),
            Outcome::Skipped(why) => ("skipped", Some(why.clone())),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
        };
        PhaseStep {
            phase: step.path.clone(),
            outcome,
            detail,
            duration_ms: (step.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        }
    }
}

/// A `-o jsonl` line for one finished phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseEvent {
    /// Always `phase`.
    pub event: &'static str,
    /// The phase.
    pub step: PhaseStep,
}

impl PhaseEvent {
    /// The event for a finished step.
    #[must_use]
    pub fn new(step: &StepReport) -> Self {
        PhaseEvent {
            event: "phase",
            step: step.into(),
        }
    }
}

/// The result of `plinth init` (or `init phase …`), printed last.
#[derive(Debug, Clone, Serialize)]
pub struct InitResult {
    /// Always `result`.
    pub event: &'static str,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Whether every selected phase ran or was skipped without error.
    pub ok: bool,
    /// The error that stopped the run, with its causes.
    pub error: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// `/`, or the dry-run directory the host layout was written under.
    pub root: String,
    /// `https://host:port` every client outside this node uses.
    pub control_plane_endpoint: String,
    /// The Kubernetes version deployed.
    pub kubernetes_version: String,
    /// Every phase of the plan, in order.
    pub phases: Vec<PhaseStep>,
    /// Files written, in the host view (`/etc/kubernetes/...` also in a dry run).
    pub written: Vec<String>,
    /// API objects applied (or, in a dry run, that would be).
    pub api_objects: Vec<ObjectRecord>,
    /// How workers join; `null` when show-join-command did not run.
    pub join: Option<JoinInfo>,
    /// Warnings printed during the run.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names of docs/output.md's tables, per section.
    fn documented(section: &str) -> Vec<String> {
        let doc = include_str!("../../docs/output.md");
        let start = doc
            .find(&format!("## {section}"))
            .unwrap_or_else(|| panic!("docs/output.md has no section {section}"));
        let rest = &doc[start..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
        rest[..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_string)
            .collect()
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn the_documented_schema_is_the_serialized_one() {
        let step = PhaseStep {
            phase: "certs/ca".into(),
            outcome: "ran",
            detail: None,
            duration_ms: 1.5,
        };
        let result = InitResult {
            event: "result",
            schema_version: SCHEMA_VERSION,
            ok: true,
            error: None,
            dry_run: true,
            root: "/tmp/x".into(),
            control_plane_endpoint: "https://10.0.0.1:6443".into(),
            kubernetes_version: "v1.37.2".into(),
            phases: vec![step.clone()],
            written: vec![],
            api_objects: vec![ObjectRecord {
                phase: "addon/coredns".into(),
                object: "ConfigMap kube-system/coredns".into(),
                outcome: "dry-run".into(),
            }],
            join: Some(JoinInfo {
                endpoint: "10.0.0.1:6443".into(),
                token: None,
                ca_cert_hash: "sha256:00".into(),
                command: "kubeadm join".into(),
                control_plane_command: None,
            }),
            warnings: vec![],
        };
        let v = serde_json::to_value(&result).unwrap();
        assert_eq!(keys(&v), documented("The result"));
        assert_eq!(keys(&v["phases"][0]), documented("A phase"));
        assert_eq!(keys(&v["api_objects"][0]), documented("An API object"));
        assert_eq!(keys(&v["join"]), documented("Join"));
        let ev = serde_json::to_value(PhaseEvent {
            event: "phase",
            step,
        })
        .unwrap();
        assert_eq!(keys(&ev), documented("A phase event"));
    }
}
