//! kubeadm's `init` pre-flight checks. Each check carries kubeadm's name (the one
//! `--ignore-preflight-errors` takes) and finds the host fine, fine because what it found is
//! plinth's own (so a re-run converges), worth a warning, or in error. Checks read the host
//! through [`HostProbe`] (faked in tests) and plinth's files through [`Paths`](crate::host::Paths).
//! Knows nothing of the CLI, phases or output. kubeadm: `app/preflight/checks.go`.

mod checks;
mod probe;
mod runtime;

/// The minimal config the checks' tests start from (one copy for `checks` and `runtime`).
#[cfg(test)]
pub(crate) mod test_config {
    use crate::config::{Overrides, ResolvedConfig, load_str};

    /// An InitConfiguration with an advertise address and a node name.
    pub(crate) const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.5\nnodeRegistration:\n  name: cp-1\n";

    /// [`CONFIG`] plus `extra` (further documents or fields), resolved.
    pub(crate) fn cfg(extra: &str) -> ResolvedConfig {
        load_str(
            &format!("{CONFIG}{extra}"),
            "c.yaml",
            &Overrides::default(),
            &Default::default(),
        )
        .unwrap()
    }
}

pub use checks::{KUBEADM_ONLY_CHECKS, apiserver_cert_dir, etcd_data_dir, init_checks};
pub use probe::{HostProbe, PortState, RealHost, SocketState};
pub use runtime::{
    Asked, CgroupFacts, KUBELET_DROP_IN_INSTALLED, KUBELET_DROP_IN_SOURCE, KubeletBinary,
    KubeletUnit, NodeChecks, NodeFacts, RuntimeFacts, Tools, missing_images, node_checks,
};

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to say.
    Ok,
    /// Fine because what is there is plinth's own (its manifests, ports of its control plane).
    Own(String),
    /// A problem that does not stop init.
    Warning(String),
    /// A problem that stops init unless the check is ignored.
    Error(String),
}

/// What a check looks at, which decides what a dry run makes of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The host itself (user, CPUs, ports, kernel settings, tools, container runtime): a dry
    /// run does not change it, so it only warns.
    Host,
    /// The files plinth is about to write, under its (possibly re-rooted) paths.
    Files,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// kubeadm's name, e.g. `Port-6443`, `FileAvailable--etc-kubernetes-manifests-etcd.yaml`.
    pub name: String,
    /// What it found.
    pub outcome: Outcome,
    /// What it looked at.
    pub scope: Scope,
}

/// The results sorted for reporting, after `--ignore-preflight-errors` and the dry-run rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Checks that passed because of plinth's own artefacts: `(name, message)`.
    pub own: Vec<(String, String)>,
    /// Warnings, including ignored and dry-run errors: `(name, message)`.
    pub warnings: Vec<(String, String)>,
    /// Errors that stop init: `(name, message)`.
    pub errors: Vec<(String, String)>,
    /// Names in the ignore list that match no check of this run (not `all`).
    pub unmatched_ignores: Vec<String>,
}

/// Pre-flight found errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// At least one check failed and was not ignored.
    #[error("{}", failed_message(errors))]
    Failed {
        /// `(name, message)` of every failed check, in check order.
        errors: Vec<(String, String)>,
    },
}

fn failed_message(errors: &[(String, String)]) -> String {
    let mut s = String::from("pre-flight checks failed:\n");
    for (name, msg) in errors {
        s.push_str(&format!("\t[ERROR {name}]: {msg}\n"));
    }
    let names: Vec<&str> = errors.iter().map(|(n, _)| n.as_str()).collect();
    s.push_str(&format!(
        "if you know what you are doing, use --ignore-preflight-errors={} to make them warnings",
        names.join(",")
    ));
    s
}

/// Whether `ignore` (lower-cased, as resolved from the config) covers the check `name`
/// (kubeadm `setHasItemOrAll`: case-insensitive, or `all`).
#[must_use]
pub fn is_ignored(ignore: &[String], name: &str) -> bool {
    ignore
        .iter()
        .any(|i| i == "all" || i.eq_ignore_ascii_case(name))
}

/// Sorts results into what to print and what fails: ignored errors and, in a dry run, errors
/// about the host itself become warnings (a dry run says so in the message).
#[must_use]
pub fn evaluate(results: Vec<CheckResult>, ignore: &[String], dry_run: bool) -> Findings {
    let mut f = Findings::default();
    for i in ignore {
        if i != "all" && !results.iter().any(|r| r.name.eq_ignore_ascii_case(i)) {
            f.unmatched_ignores.push(i.clone());
        }
    }
    for r in results {
        match r.outcome {
            Outcome::Ok => {}
            Outcome::Own(m) => f.own.push((r.name, m)),
            Outcome::Warning(m) => f.warnings.push((r.name, m)),
            Outcome::Error(m) if is_ignored(ignore, &r.name) => f.warnings.push((r.name, m)),
            Outcome::Error(m) if dry_run && r.scope == Scope::Host => f
                .warnings
                .push((r.name, format!("{m} (an error outside a dry run)"))),
            Outcome::Error(m) => f.errors.push((r.name, m)),
        }
    }
    f
}

impl Findings {
    /// The error when any check failed.
    ///
    /// # Errors
    /// [`PreflightError::Failed`] listing every failed check.
    pub fn result(&self) -> Result<(), PreflightError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(PreflightError::Failed {
                errors: self.errors.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, outcome: Outcome, scope: Scope) -> CheckResult {
        CheckResult {
            name: name.into(),
            outcome,
            scope,
        }
    }

    fn results() -> Vec<CheckResult> {
        vec![
            r(
                "IsPrivilegedUser",
                Outcome::Error("not root".into()),
                Scope::Host,
            ),
            r(
                "FileAvailable--etc-kubernetes-manifests-etcd.yaml",
                Outcome::Error("exists".into()),
                Scope::Files,
            ),
            r("Swap", Outcome::Warning("swap".into()), Scope::Host),
            r("Port-6443", Outcome::Own("held".into()), Scope::Host),
            r("NumCPU", Outcome::Ok, Scope::Host),
        ]
    }

    #[test]
    fn errors_fail_and_warnings_and_own_are_reported() {
        let f = evaluate(results(), &[], false);
        assert_eq!(f.errors.len(), 2);
        assert_eq!(f.warnings, vec![("Swap".into(), "swap".into())]);
        assert_eq!(f.own, vec![("Port-6443".into(), "held".into())]);
        let e = f.result().unwrap_err().to_string();
        assert!(e.starts_with("pre-flight checks failed:\n\t[ERROR IsPrivilegedUser]: not root\n\t[ERROR FileAvailable--etc-kubernetes-manifests-etcd.yaml]: exists\n"), "{e}");
        assert!(
            e.ends_with("use --ignore-preflight-errors=IsPrivilegedUser,FileAvailable--etc-kubernetes-manifests-etcd.yaml to make them warnings"),
            "{e}"
        );
    }

    #[test]
    fn ignored_errors_become_warnings_case_insensitively() {
        let f = evaluate(
            results(),
            &["isprivilegeduser".into(), "swapp".into()],
            false,
        );
        assert_eq!(f.errors.len(), 1);
        assert_eq!(
            f.warnings[0],
            ("IsPrivilegedUser".into(), "not root".into())
        );
        assert_eq!(f.unmatched_ignores, vec!["swapp".to_string()]);
        let f = evaluate(results(), &["all".into()], false);
        assert!(f.errors.is_empty() && f.unmatched_ignores.is_empty());
        assert_eq!(f.warnings.len(), 3);
        assert!(f.result().is_ok());
    }

    #[test]
    fn a_dry_run_only_warns_about_the_host_but_checks_its_files() {
        let f = evaluate(results(), &[], true);
        assert_eq!(
            f.errors,
            vec![(
                "FileAvailable--etc-kubernetes-manifests-etcd.yaml".into(),
                "exists".into()
            )]
        );
        assert_eq!(
            f.warnings[0],
            (
                "IsPrivilegedUser".into(),
                "not root (an error outside a dry run)".into()
            )
        );
    }
}
