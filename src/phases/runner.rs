//! kubeadm's phase workflow as data: a tree of groups and [`Leaf`] values (name, summary,
//! `run_if`, `run`), flattened pre-order into paths such as `certs/apiserver`, a pure selection
//! step ([`Workflow::plan`]) and a runner.
//! kubeadm: `app/cmd/phases/workflow/{phase.go,runner.go}`.

use std::borrow::Cow;
use std::time::{Duration, Instant};

/// What a leaf's `run_if` decides (kubeadm's `RunIf`).
type RunIf<C> = Box<dyn Fn(&C) -> Decision + Send + Sync>;
/// What a leaf does.
type RunFn<C> = Box<dyn Fn(&mut C) -> anyhow::Result<()> + Send + Sync>;

/// One unit of work, as a value (kubeadm's `workflow.Phase`): a name, a summary, an optional
/// `run_if` and the work itself. Leaves repeated per item (one per certificate, per kubeconfig,
/// per component) are built from their table with closures that capture the item.
///
/// The work must be idempotent: it reuses valid artefacts already on disk, so it can run alone
/// (`plinth init phase certs apiserver`) or again after a partial run.
pub struct Leaf<C> {
    /// kebab-case name, unique among siblings.
    pub name: &'static str,
    /// One line for help and docs/phases.md.
    pub summary: &'static str,
    run_if: Option<RunIf<C>>,
    run: RunFn<C>,
}

impl<C> Leaf<C> {
    /// A leaf that always runs `run` when planned.
    #[must_use]
    pub fn new(
        name: &'static str,
        summary: &'static str,
        run: impl Fn(&mut C) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Leaf {
            name,
            summary,
            run_if: None,
            run: Box::new(run),
        }
    }

    /// kubeadm's `RunIf`, keeping the reason: a skipped leaf says why, and does not run.
    #[must_use]
    pub fn run_if(mut self, run_if: impl Fn(&C) -> Decision + Send + Sync + 'static) -> Self {
        self.run_if = Some(Box::new(run_if));
        self
    }

    /// Whether this leaf runs under `ctx` (always, without a `run_if`).
    #[must_use]
    pub fn decide(&self, ctx: &C) -> Decision {
        self.run_if.as_ref().map_or(Decision::Run, |f| f(ctx))
    }

    /// Does the work.
    ///
    /// # Errors
    /// Any failure; the runner wraps it with the leaf's path.
    pub fn run(&self, ctx: &mut C) -> anyhow::Result<()> {
        (self.run)(ctx)
    }
}

/// Whether a selected phase runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it.
    Run,
    /// Skip it, for this reason.
    Skip(Cow<'static, str>),
}

/// A node of the tree: groups are pure data, only leaves do work.
pub enum Node<C> {
    /// A phase that does work.
    Leaf(Leaf<C>),
    /// A named group of phases.
    Group {
        /// kebab-case name.
        name: &'static str,
        /// One line.
        summary: &'static str,
        /// Children in execution order.
        children: Vec<Node<C>>,
    },
}

impl<C> Node<C> {
    /// A named group of `children`, in execution order.
    #[must_use]
    pub fn group(
        name: &'static str,
        summary: &'static str,
        children: impl IntoIterator<Item = Node<C>>,
    ) -> Self {
        Node::Group {
            name,
            summary,
            children: children.into_iter().collect(),
        }
    }
}

impl<C> From<Leaf<C>> for Node<C> {
    fn from(leaf: Leaf<C>) -> Self {
        Node::Leaf(leaf)
    }
}

/// A named tree of phases (`init`, `reset`).
pub struct Workflow<C> {
    /// Workflow name.
    pub name: &'static str,
    /// Top-level nodes in execution order.
    pub nodes: Vec<Node<C>>,
}

/// Which phases to run: `only` selects a subtree, `skip` removes subtrees; skip wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `init phase <path>`: run only this subtree.
    pub only: Option<String>,
    /// `--skip-phases`: remove these subtrees.
    pub skip: Vec<String>,
}

impl Selection {
    /// Whether `--skip-phases` removes `path`: a skip entry names `path` or one of its groups,
    /// spelt in any case and with or without a trailing `/all`. This is the only definition of
    /// "skipped": [`Workflow::plan`] uses it, and so do phases that record what was skipped
    /// (skipping an addon marks it disabled in the uploaded ClusterConfiguration).
    #[must_use]
    pub fn skips(&self, path: &str) -> bool {
        self.skip
            .iter()
            .filter(|s| !s.trim().is_empty())
            .any(|s| under(path, &normalize(s)))
    }
}

/// The leaves that will run, in order, and the selection they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Plan {
    /// Leaf paths in pre-order.
    pub leaves: Vec<String>,
    /// What was asked for (phases ask it whether something was skipped).
    pub selection: Selection,
}

impl Plan {
    /// Whether the leaf at `path` is planned.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        self.leaves.iter().any(|l| l == path)
    }

    /// Whether `--skip-phases` removes `path` ([`Selection::skips`]). Not the same as
    /// `!contains(path)`: `init phase upload-config` plans no addon but skips none either.
    #[must_use]
    pub fn skips(&self, path: &str) -> bool {
        self.selection.skips(path)
    }
}

/// A phase name that does not exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid phase name {name:?}; valid names are: {}", valid.join(", "))]
pub struct PlanError {
    /// What was asked for.
    pub name: String,
    /// Every valid path.
    pub valid: Vec<String>,
}

/// How failures are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Stop at the first failure (init).
    FailFast,
    /// Run every phase and aggregate failures (reset).
    BestEffort,
}

/// What happened to one planned leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and succeeded.
    Ran,
    /// Its `run_if` skipped it.
    Skipped(String),
    /// It failed with this error chain.
    Failed(String),
}

/// One line of a [`Report`].
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Phase path.
    pub path: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
}

/// Progress of a run, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// A planned leaf is about to be decided and run.
    Started(&'a str),
    /// A leaf finished (ran, skipped or failed).
    Finished(&'a StepReport),
}

/// Per-phase results of a run.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Report {
    /// Steps in execution order.
    pub steps: Vec<StepReport>,
}

/// A run failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// One phase failed (fail-fast).
    #[error("phase {path} failed")]
    PhaseFailed {
        /// Phase path.
        path: String,
        /// The phase's error.
        #[source]
        source: anyhow::Error,
        /// What ran before.
        report: Report,
    },
    /// Several phases failed (best effort).
    #[error("{} phase(s) failed: {}", failed.len(), failed.join(", "))]
    Aggregate {
        /// Failed phase paths.
        failed: Vec<String>,
        /// The full report.
        report: Report,
    },
}

fn clean(name: &str) -> String {
    // kubeadm cleanName: lower-case and drop anything after a space.
    name.split(' ').next().unwrap_or_default().to_lowercase()
}

/// A phase name as the user may spell it (`ADDON/all`) to its path (`addon`).
fn normalize(raw: &str) -> String {
    let n = clean(raw.trim());
    match n.strip_suffix("/all") {
        Some(group) => group.to_string(),
        None => n,
    }
}

/// Whether `leaf` is `path` or lies below it.
fn under(leaf: &str, path: &str) -> bool {
    leaf.strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl<C> Workflow<C> {
    /// Every path (groups and leaves) in pre-order, with its depth and summary.
    #[must_use]
    pub fn entries(&self) -> Vec<(String, usize, &'static str, bool)> {
        fn walk<C>(
            nodes: &[Node<C>],
            prefix: &str,
            depth: usize,
            out: &mut Vec<(String, usize, &'static str, bool)>,
        ) {
            for n in nodes {
                match n {
                    Node::Leaf(l) => out.push((join(prefix, l.name), depth, l.summary, true)),
                    Node::Group {
                        name,
                        summary,
                        children,
                    } => {
                        let path = join(prefix, name);
                        out.push((path.clone(), depth, summary, false));
                        walk(children, &path, depth + 1, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, "", 0, &mut out);
        out
    }

    fn leaves(&self) -> Vec<(String, &Leaf<C>)> {
        fn walk<'a, C>(nodes: &'a [Node<C>], prefix: &str, out: &mut Vec<(String, &'a Leaf<C>)>) {
            for n in nodes {
                match n {
                    Node::Leaf(l) => out.push((join(prefix, l.name), l)),
                    Node::Group { name, children, .. } => walk(children, &join(prefix, name), out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, "", &mut out);
        out
    }

    /// Computes which leaves run (kubeadm `computePhaseRunFlags`): unknown names are errors,
    /// a trailing `/all` means the group itself, skip wins over only.
    ///
    /// # Errors
    /// [`PlanError`] for a name that is not a phase path.
    pub fn plan(&self, sel: &Selection) -> Result<Plan, PlanError> {
        let all: Vec<String> = self.entries().into_iter().map(|e| e.0).collect();
        let norm = |raw: &str| -> Result<String, PlanError> {
            let n = normalize(raw);
            if all.contains(&n) {
                Ok(n)
            } else {
                Err(PlanError {
                    name: raw.to_string(),
                    valid: all.clone(),
                })
            }
        };
        let only = sel.only.as_deref().map(norm).transpose()?;
        for s in sel.skip.iter().filter(|s| !s.trim().is_empty()) {
            norm(s)?;
        }
        let leaves = self
            .leaves()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| only.as_ref().is_none_or(|o| under(p, o)))
            .filter(|p| !sel.skips(p))
            .collect();
        Ok(Plan {
            leaves,
            selection: sel.clone(),
        })
    }

    /// Runs the planned leaves in order; `on_event` sees each start and result as it happens.
    ///
    /// # Errors
    /// [`WorkflowError`] wrapping the failing phase(s).
    pub fn run(
        &self,
        plan: &Plan,
        ctx: &mut C,
        policy: Policy,
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<Report, WorkflowError> {
        let mut report = Report::default();
        let mut failed = Vec::new();
        for (path, leaf) in self.leaves() {
            if !plan.contains(&path) {
                continue;
            }
            on_event(Event::Started(&path));
            let start = Instant::now();
            let result = match leaf.decide(ctx) {
                Decision::Run => leaf.run(ctx).map(|()| Outcome::Ran),
                Decision::Skip(why) => Ok(Outcome::Skipped(why.into_owned())),
            };
            let (outcome, err) = match result {
                Ok(o) => (o, None),
                Err(e) => (Outcome::Failed(format!("{e:#}")), Some(e)),
            };
            let step = StepReport {
                path: path.clone(),
                outcome,
                duration: start.elapsed(),
            };
            on_event(Event::Finished(&step));
            report.steps.push(step);
            if let Some(source) = err {
                match policy {
                    Policy::FailFast => {
                        return Err(WorkflowError::PhaseFailed {
                            path,
                            source,
                            report,
                        });
                    }
                    Policy::BestEffort => failed.push(path),
                }
            }
        }
        if failed.is_empty() {
            Ok(report)
        } else {
            Err(WorkflowError::Aggregate { failed, report })
        }
    }

    /// The indented phase tree for `--help` and docs/phases.md.
    #[must_use]
    pub fn help(&self) -> String {
        let mut s = String::new();
        for (path, depth, summary, _) in self.entries() {
            let name = path.rsplit('/').next().unwrap_or(&path);
            let label = format!(
                "{}{}",
                "  ".repeat(depth),
                if depth > 0 {
                    format!("/{name}")
                } else {
                    name.to_string()
                }
            );
            s.push_str(&format!("{label:<32}{summary}\n"));
        }
        s
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leaf that records its name and fails when called "boom".
    fn p(name: &'static str) -> Node<Vec<String>> {
        Leaf::new(name, "test phase", move |ctx: &mut Vec<String>| {
            ctx.push(name.to_string());
            if name == "boom" {
                anyhow::bail!("exploded")
            } else {
                Ok(())
            }
        })
        .into()
    }

    /// kubeadm's `TestComputePhaseRunFlags` tree: foo{bar, baz{qux}}, quux.
    fn wf() -> Workflow<Vec<String>> {
        Workflow {
            name: "test",
            nodes: vec![
                Node::Group {
                    name: "foo",
                    summary: "",
                    children: vec![
                        p("bar"),
                        Node::Group {
                            name: "baz",
                            summary: "",
                            children: vec![p("qux")],
                        },
                    ],
                },
                p("quux"),
            ],
        }
    }

    fn plan(only: Option<&str>, skip: &[&str]) -> Result<Vec<String>, PlanError> {
        wf().plan(&Selection {
            only: only.map(String::from),
            skip: skip.iter().map(|s| s.to_string()).collect(),
        })
        .map(|p| p.leaves)
    }

    #[test]
    fn selection_rules_follow_kubeadm() {
        let all = vec!["foo/bar", "foo/baz/qux", "quux"];
        // (only, skip, expected leaves); ported from kubeadm runner_test.go.
        let cases: Vec<(Option<&str>, Vec<&str>, Vec<&str>)> = vec![
            (None, vec![], all.clone()),
            (Some("foo"), vec![], vec!["foo/bar", "foo/baz/qux"]),
            (Some("foo/baz"), vec![], vec!["foo/baz/qux"]),
            (Some("foo/bar"), vec![], vec!["foo/bar"]),
            (Some("quux"), vec![], vec!["quux"]),
            (None, vec!["foo"], vec!["quux"]),
            (None, vec!["foo/baz"], vec!["foo/bar", "quux"]),
            (Some("foo"), vec!["foo/bar"], vec!["foo/baz/qux"]),
            (Some("foo/bar"), vec!["foo"], vec![]),
            (Some("FOO/all"), vec![], vec!["foo/bar", "foo/baz/qux"]),
        ];
        for (only, skip, want) in cases {
            assert_eq!(
                plan(only, &skip).unwrap(),
                want,
                "only={only:?} skip={skip:?}"
            );
        }
    }

    /// Issue #12: `--skip-phases addon/all` and `ADDON/coredns` removed the addon phases, but
    /// the post-API phases compared the raw strings again and still uploaded `dns: {}`.
    #[test]
    fn skips_agrees_with_the_plan_for_every_spelling() {
        let w = wf();
        let paths = ["foo", "foo/bar", "foo/baz", "foo/baz/qux", "quux"];
        for skip in [
            "foo",
            "FOO",
            "foo/all",
            "Foo/All",
            "foo/baz",
            "foo/baz/all",
            "FOO/BAZ/QUX",
            "quux",
            " quux ",
            "foo/bar",
            "",
        ] {
            let sel = Selection {
                only: None,
                skip: vec![skip.to_string()],
            };
            let plan = w.plan(&sel).unwrap();
            for leaf in ["foo/bar", "foo/baz/qux", "quux"] {
                assert_eq!(
                    plan.skips(leaf),
                    !plan.contains(leaf),
                    "skip={skip:?} leaf={leaf}"
                );
            }
            for p in paths {
                assert_eq!(plan.skips(p), sel.skips(p), "skip={skip:?} path={p}");
            }
        }
        let sel = Selection {
            only: None,
            skip: vec!["FOO/all".into()],
        };
        assert!(sel.skips("foo") && sel.skips("foo/baz/qux") && !sel.skips("quux"));
        // `foo/b` is not a group of `foo/bar`.
        assert!(
            !Selection {
                only: None,
                skip: vec!["foo/b".into()]
            }
            .skips("foo/bar")
        );
    }

    #[test]
    fn a_phase_outside_only_is_not_skipped() {
        let plan = wf()
            .plan(&Selection {
                only: Some("quux".into()),
                skip: vec![],
            })
            .unwrap();
        assert!(!plan.contains("foo/bar"));
        assert!(!plan.skips("foo/bar"));
    }

    #[test]
    fn unknown_names_are_errors_listing_valid_ones() {
        let e = plan(Some("nope"), &[]).unwrap_err();
        assert_eq!(e.name, "nope");
        assert!(e.valid.contains(&"foo/baz/qux".to_string()));
        assert!(plan(None, &["foo/nope"]).is_err());
        assert!(e.to_string().contains("valid names are: foo, foo/bar"));
    }

    #[test]
    fn fail_fast_stops_and_best_effort_continues() {
        let w = Workflow {
            name: "t",
            nodes: vec![p("a"), p("boom"), p("c")],
        };
        let p = w.plan(&Selection::default()).unwrap();
        let mut ran = Vec::new();
        let e = w.run(&p, &mut ran, Policy::FailFast, |_| {}).unwrap_err();
        assert_eq!(ran, vec!["a", "boom"]);
        assert!(matches!(e, WorkflowError::PhaseFailed { ref path, .. } if path == "boom"));
        let mut ran = Vec::new();
        let e = w.run(&p, &mut ran, Policy::BestEffort, |_| {}).unwrap_err();
        assert_eq!(ran, vec!["a", "boom", "c"]);
        assert!(
            matches!(e, WorkflowError::Aggregate { ref failed, .. } if failed == &vec!["boom".to_string()])
        );
    }

    #[test]
    fn a_leaf_skipped_by_run_if_says_why_and_does_not_run() {
        let w = Workflow {
            name: "t",
            nodes: vec![
                Leaf::new("never", "test phase", |ctx: &mut Vec<String>| {
                    ctx.push("never".into());
                    Ok(())
                })
                .run_if(|ctx: &Vec<String>| {
                    if ctx.is_empty() {
                        Decision::Skip(format!("{} ran before", ctx.len()).into())
                    } else {
                        Decision::Run
                    }
                })
                .into(),
                p("after"),
            ],
        };
        let plan = w.plan(&Selection::default()).unwrap();
        let mut ran = Vec::new();
        let mut events = Vec::new();
        let report = w
            .run(&plan, &mut ran, Policy::FailFast, |e| {
                if let Event::Finished(s) = e {
                    events.push((s.path.clone(), s.outcome.clone()));
                }
            })
            .unwrap();
        assert_eq!(ran, vec!["after"]);
        assert_eq!(
            events,
            vec![
                ("never".into(), Outcome::Skipped("0 ran before".into())),
                ("after".into(), Outcome::Ran),
            ]
        );
        assert_eq!(report.steps.len(), 2);
    }

    #[test]
    fn leaves_generated_from_a_table_keep_their_item() {
        const TABLE: [(&str, &str); 2] = [("one", "first item"), ("two", "second item")];
        let w = Workflow {
            name: "t",
            nodes: vec![Node::group(
                "items",
                "per item",
                TABLE.iter().map(|&(name, summary)| {
                    Leaf::new(name, summary, move |ctx: &mut Vec<String>| {
                        ctx.push(format!("{name}: {summary}"));
                        Ok(())
                    })
                    .into()
                }),
            )],
        };
        let entries: Vec<_> = w.entries().into_iter().map(|e| (e.0, e.2)).collect();
        assert_eq!(
            entries,
            vec![
                ("items".to_string(), "per item"),
                ("items/one".to_string(), "first item"),
                ("items/two".to_string(), "second item"),
            ]
        );
        let plan = w
            .plan(&Selection {
                only: Some("items/two".into()),
                skip: vec![],
            })
            .unwrap();
        let mut ran = Vec::new();
        let _ = w.run(&plan, &mut ran, Policy::FailFast, |_| {}).unwrap();
        assert_eq!(ran, vec!["two: second item"]);
    }

    #[test]
    fn help_is_an_indented_tree() {
        let h = wf().help();
        let lines: Vec<&str> = h.lines().map(str::trim_end).collect();
        assert_eq!(lines[0], "foo");
        assert!(lines[1].starts_with("  /bar ") && lines[1].ends_with("test phase"));
        assert_eq!(lines[2], "  /baz");
        assert!(lines[3].starts_with("    /qux "));
        assert!(lines[4].starts_with("quux "));
    }
}
