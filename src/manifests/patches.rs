//! kubeadm-style patches (`--patches DIR` / `patches.directory`): files named
//! `target[suffix][+type].{yaml,json}`, applied per target in alphanumeric file order.
//! Types: `strategic` (default; the Pod subset of strategic merge, no `$` directives),
//! `merge` (RFC 7386) and `json` (RFC 6902). Every file is read and checked up front.
// kubeadm: app/util/patches/patches.go

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::strategic::{find_directive, strategic_merge};

/// Every target kubeadm knows. plinth applies the first five; the addon targets are accepted
/// so one patches directory serves both tools.
pub const KNOWN_TARGETS: [&str; 7] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubeletconfiguration",
    "corednsdeployment",
    "kubeproxydaemonset",
];

/// How a patch file is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// Strategic merge patch (the default): maps merge, known lists merge by key.
    Strategic,
    /// JSON merge patch, RFC 7386.
    Merge,
    /// JSON patch, RFC 6902.
    Json,
}

impl PatchType {
    /// The media type kubeadm prints (`application/strategic-merge-patch+json`, ...).
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        }
    }
}

impl fmt::Display for PatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.media_type())
    }
}

/// Which list-merge keys a strategic merge patch uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// A core/v1 Pod: `containers`, `volumes`, `env`, ... merge by their keys.
    Pod,
    /// A type without list-merge keys (KubeletConfiguration): every list is replaced.
    Untyped,
}

/// A patch that could not be read, understood or applied. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The patches directory could not be listed.
    #[error("could not list patch files in {}", path.display())]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A patch file could not be read.
    #[error("could not read patch file {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A patch file is a symbolic link or not a regular file (a FIFO would block, a link
    /// would make plinth read, and quote in errors, a file the user did not put there).
    #[error(
        "patch file {} is {what}: put the patch itself in the patches directory{}",
        path.display(),
        if *what == "a symbolic link" { " (or pass --allow-symlinks)" } else { "" }
    )]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// "a symbolic link", "not a regular file".
        what: &'static str,
    },
    /// The file name starts with no known target.
    #[error(
        "patch file {} names an unknown target; the name must start with one of {}",
        path.display(),
        KNOWN_TARGETS.join(", ")
    )]
    UnknownTarget {
        /// The file.
        path: PathBuf,
    },
    /// The part after `+` is not a patch type.
    #[error(
        "patch file {} has an unknown patch type {kind:?} after '+'; use json, merge or strategic",
        path.display()
    )]
    UnknownPatchType {
        /// The file.
        path: PathBuf,
        /// What followed the `+`.
        kind: String,
    },
    /// The file is not valid YAML/JSON.
    #[error("could not parse patch file {}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: Box<ParseCause>,
    },
    /// A JSON patch document is not a list of RFC 6902 operations.
    #[error("patch file {} is not a valid JSON patch (RFC 6902)", path.display())]
    BadJsonPatch {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A strategic merge patch uses a `$` directive plinth does not implement.
    #[error(
        "patch file {}: strategic merge directive {key:?} at {at} is not supported; \
         use a patch of type json (+json) to delete or replace",
        path.display()
    )]
    UnsupportedDirective {
        /// The file.
        path: PathBuf,
        /// The directive key, e.g. `$patch`.
        key: String,
        /// JSON path of the map holding it.
        at: String,
    },
    /// A patch does not apply to its target.
    #[error("could not apply patch file {} of type {kind:?} to target {target:?}", path.display())]
    Apply {
        /// The file.
        path: PathBuf,
        /// The target.
        target: String,
        /// The patch type.
        kind: &'static str,
        /// What went wrong.
        #[source]
        source: Box<ApplyCause>,
    },
}

/// Why a patch file did not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseCause {
    /// A `.json` file.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A `.yaml` file.
    #[error(transparent)]
    Yaml(#[from] serde_saphyr::Error),
}

/// Why a patch did not apply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyCause {
    /// An RFC 6902 operation failed.
    #[error(transparent)]
    Json(#[from] json_patch::PatchError),
    /// The JSON patch document is not a list of operations.
    #[error(transparent)]
    Decode(#[from] serde_json::Error),
    /// A strategic merge patch does not fit the document.
    #[error("{0}")]
    Strategic(String),
}

/// One file of a patches directory.
#[derive(Debug, Clone)]
pub struct PatchFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The target it patches.
    pub target: &'static str,
    /// How it is applied.
    pub kind: PatchType,
    /// Its documents (a YAML file may hold several, separated by `---`).
    docs: Vec<Value>,
}

/// A patch that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPatch {
    /// The file.
    pub path: PathBuf,
    /// Its type.
    pub kind: PatchType,
    /// The target.
    pub target: String,
}

/// Every patch file of a directory, read and checked, in alphanumeric order.
#[derive(Debug, Clone, Default)]
pub struct PatchSet {
    files: Vec<PatchFile>,
    ignored: Vec<PathBuf>,
}

/// Splits `target[suffix][+type].ext` (kubeadm `parseFilename`).
fn parse_name(path: &Path) -> Result<Option<(&'static str, PatchType)>, PatchError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some(stem) = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".json"))
    else {
        return Ok(None);
    };
    // The longest known target the name starts with (none is a prefix of another today).
    let target = KNOWN_TARGETS
        .iter()
        .filter(|t| stem.starts_with(**t))
        .max_by_key(|t| t.len())
        .ok_or_else(|| PatchError::UnknownTarget {
            path: path.to_path_buf(),
        })?;
    let rest = &stem[target.len()..];
    let kind = match rest.split_once('+') {
        None => PatchType::Strategic,
        Some((_, k)) => match k {
            "strategic" => PatchType::Strategic,
            "merge" => PatchType::Merge,
            "json" => PatchType::Json,
            other => {
                return Err(PatchError::UnknownPatchType {
                    path: path.to_path_buf(),
                    kind: other.to_string(),
                });
            }
        },
    };
    Ok(Some((target, kind)))
}

impl PatchSet {
    /// Reads every `*.yaml`/`*.json` file directly in `dir` (sub-directories, other extensions
    /// and empty files are ignored, as kubeadm does) and checks each completely.
    ///
    /// # Errors
    /// A [`PatchError`] naming the first bad file.
    pub fn load(dir: &Path) -> Result<Self, PatchError> {
        let list_err = |source| PatchError::ListDir {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(list_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(list_err)?;
        paths.sort();
        let mut set = PatchSet::default();
        for path in paths {
            let meta = std::fs::symlink_metadata(&path).map_err(|source| PatchError::ReadFile {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                continue;
            }
            let Some((target, kind)) = parse_name(&path)? else {
                set.ignored.push(path);
                continue;
            };
            if meta.file_type().is_symlink() && !crate::host::fs::symlinks_allowed() {
                return Err(PatchError::NotRegular {
                    path,
                    what: "a symbolic link",
                });
            }
            if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                return Err(PatchError::NotRegular {
                    path,
                    what: "not a regular file",
                });
            }
            let text = std::fs::read_to_string(&path).map_err(|source| PatchError::ReadFile {
                path: path.clone(),
                source,
            })?;
            if text.trim().is_empty() {
                set.ignored.push(path);
                continue;
            }
            let docs = parse_docs(&path, &text)?;
            for d in &docs {
                match kind {
                    PatchType::Json => {
                        serde_json::from_value::<json_patch::Patch>(d.clone()).map_err(
                            |source| PatchError::BadJsonPatch {
                                path: path.clone(),
                                source,
                            },
                        )?;
                    }
                    PatchType::Strategic => {
                        if let Some((key, at)) = find_directive(d, "") {
                            return Err(PatchError::UnsupportedDirective { path, key, at });
                        }
                    }
                    PatchType::Merge => {}
                }
            }
            set.files.push(PatchFile {
                path,
                target,
                kind,
                docs,
            });
        }
        Ok(set)
    }

    /// The patch files, in application order.
    #[must_use]
    pub fn files(&self) -> &[PatchFile] {
        &self.files
    }

    /// Files that were skipped (wrong extension, empty).
    #[must_use]
    pub fn ignored(&self) -> &[PathBuf] {
        &self.ignored
    }

    /// Applies every patch for `target` to `doc`, in file order.
    ///
    /// # Errors
    /// [`PatchError::Apply`] naming the file that does not apply.
    pub fn apply(
        &self,
        target: &str,
        doc: &mut Value,
        schema: Schema,
    ) -> Result<Vec<AppliedPatch>, PatchError> {
        let mut applied = Vec::new();
        for f in self.files.iter().filter(|f| f.target == target) {
            let err = |source: ApplyCause| PatchError::Apply {
                path: f.path.clone(),
                target: target.to_string(),
                kind: f.kind.media_type(),
                source: Box::new(source),
            };
            for d in &f.docs {
                match f.kind {
                    PatchType::Json => {
                        let p: json_patch::Patch =
                            serde_json::from_value(d.clone()).map_err(|e| err(e.into()))?;
                        json_patch::patch(doc, &p).map_err(|e| err(e.into()))?;
                    }
                    PatchType::Merge => json_patch::merge(doc, d),
                    PatchType::Strategic => {
                        strategic_merge(doc, d, schema, &mut Vec::new())
                            .map_err(|m| err(ApplyCause::Strategic(m)))?;
                    }
                }
            }
            applied.push(AppliedPatch {
                path: f.path.clone(),
                kind: f.kind,
                target: target.to_string(),
            });
        }
        Ok(applied)
    }
}

/// Parses a patch file: JSON for `.json`, one or more YAML documents for `.yaml`.
fn parse_docs(path: &Path, text: &str) -> Result<Vec<Value>, PatchError> {
    let err = |source: ParseCause| PatchError::ParseFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str::<Value>(text)
            .map(|v| vec![v])
            .map_err(|e| err(e.into()));
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| err(e.into()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::super::strategic::strategic_merge;
    use super::*;
    use serde_json::json;

    /// The error and its causes, as `main` prints them.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            s.push_str(&format!(": {c}"));
            cur = c.source();
        }
        s
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn file_names_follow_kubeadm() {
        let p = |n: &str| parse_name(Path::new(n));
        assert_eq!(
            p("etcd.yaml").unwrap(),
            Some(("etcd", PatchType::Strategic))
        );
        assert_eq!(
            p("kube-apiserver0+merge.json").unwrap(),
            Some(("kube-apiserver", PatchType::Merge))
        );
        assert_eq!(
            p("kube-scheduler-b+json.yaml").unwrap(),
            Some(("kube-scheduler", PatchType::Json))
        );
        assert_eq!(
            p("kubeletconfiguration+strategic.yaml").unwrap(),
            Some(("kubeletconfiguration", PatchType::Strategic))
        );
        assert_eq!(p("README.md").unwrap(), None);
        assert!(matches!(
            p("kube-apiservr.yaml"),
            Err(PatchError::UnknownTarget { .. })
        ));
        assert!(matches!(
            p("etcd+foo.yaml"),
            Err(PatchError::UnknownPatchType { ref kind, .. }) if kind == "foo"
        ));
        assert!(matches!(
            p("etcd+.yaml"),
            Err(PatchError::UnknownPatchType { .. })
        ));
    }

    #[test]
    fn strategic_merge_follows_the_pod_schema() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "i",
            "command": ["a", "--x=1"],
            "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 1, "name": "probe-port"}],
            "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "hostPath": {"path": "/v"}}],
            "tolerations": [{"key": "a"}]}});
        let patch = json!({"metadata": {"annotations": {"x": "y"}},
            "spec": {"containers": [{"name": "a", "command": ["b"],
                "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
                "ports": [{"containerPort": 1, "name": "other"}],
                "volumeMounts": [{"name": "w", "mountPath": "/w"}],
                "resources": {"requests": {"cpu": "1"}}},
                {"name": "sidecar", "image": "s"}],
            "volumes": [{"name": "w", "hostPath": {"path": "/w"}}],
            "tolerations": [{"key": "b"}], "hostNetwork": null}});
        strategic_merge(&mut pod, &patch, Schema::Pod, &mut Vec::new()).unwrap();
        assert_eq!(
            pod,
            json!({"metadata": {"annotations": {"x": "y"}},
                "spec": {"containers": [{"name": "a", "image": "i", "command": ["b"],
                "env": [{"name": "A", "value": "3"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 1, "name": "other"}],
                "volumeMounts": [{"name": "v", "mountPath": "/v"}, {"name": "w", "mountPath": "/w"}],
                "resources": {"requests": {"cpu": "1"}}},
                {"name": "sidecar", "image": "s"}],
                "volumes": [{"name": "v", "hostPath": {"path": "/v"}}, {"name": "w", "hostPath": {"path": "/w"}}],
                "tolerations": [{"key": "b"}]}})
        );
        // Untyped: lists are replaced.
        let mut kc = json!({"clusterDNS": ["a"], "x": {"y": 1, "z": 2}});
        strategic_merge(
            &mut kc,
            &json!({"clusterDNS": ["b"], "x": {"z": null}}),
            Schema::Untyped,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(kc, json!({"clusterDNS": ["b"], "x": {"y": 1}}));
        // A list item without its merge key is an error.
        let e = strategic_merge(
            &mut pod,
            &json!({"spec": {"containers": [{"image": "x"}]}}),
            Schema::Pod,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.contains("merge key \"name\""), "{e}");
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let cases: [(&str, &str, &str); 5] = [
            ("kube-apiservr.yaml", "a: b\n", "unknown target"),
            (
                "etcd+json.yaml",
                "- op: frobnicate\n  path: /a\n",
                "not a valid JSON patch",
            ),
            (
                "etcd.yaml",
                "spec:\n  containers:\n  - name: etcd\n    $patch: delete\n",
                "\"$patch\" at /spec/containers/0",
            ),
            ("kube-scheduler.yaml", "a: [b\n", "could not parse"),
            ("kube-scheduler+merge.json", "{\"a\": ", "could not parse"),
        ];
        for (name, text, want) in cases {
            let d = tempfile::tempdir().unwrap();
            write(d.path(), name, text);
            let e = chain(&PatchSet::load(d.path()).unwrap_err());
            assert!(e.contains(want), "{name}: {e}");
            assert!(
                e.contains(name),
                "{name}: the error must name the file: {e}"
            );
        }
    }

    #[test]
    fn symlinked_patch_files_are_refused_without_reading_the_target() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("secret");
        std::fs::write(&secret, "root:x:0:0 first line of someone else's file\n").unwrap();
        let patches = d.path().join("patches");
        std::fs::create_dir(&patches).unwrap();
        std::os::unix::fs::symlink(&secret, patches.join("etcd.yaml")).unwrap();
        let e = chain(&PatchSet::load(&patches).unwrap_err());
        assert!(
            e.contains("symbolic link") && e.contains("etcd.yaml"),
            "{e}"
        );
        assert!(!e.contains("root:x"), "the target's content leaked: {e}");
    }

    #[test]
    fn patches_apply_in_file_order_and_failures_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "etcd1+merge.yaml", "a: 1\n---\nb: 2\n");
        write(d.path(), "etcd0.yaml", "a: 0\nc: 0\n");
        write(
            d.path(),
            "etcd2+json.json",
            r#"[{"op": "replace", "path": "/c", "value": 3}]"#,
        );
        write(d.path(), "notes.txt", "ignored");
        write(d.path(), "kube-scheduler.yaml", "");
        let set = PatchSet::load(d.path()).unwrap();
        assert_eq!(set.ignored().len(), 2);
        let mut v = json!({});
        let applied = set.apply("etcd", &mut v, Schema::Pod).unwrap();
        assert_eq!(v, json!({"a": 1, "c": 3, "b": 2}));
        let names: Vec<_> = applied
            .iter()
            .map(|a| a.path.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["etcd0.yaml", "etcd1+merge.yaml", "etcd2+json.json"]
        );

        write(d.path(), "etcd3+json.yaml", "- op: remove\n  path: /nope\n");
        let set = PatchSet::load(d.path()).unwrap();
        let e = set
            .apply("etcd", &mut json!({}), Schema::Pod)
            .unwrap_err()
            .to_string();
        assert!(e.contains("etcd3+json.yaml") && e.contains("etcd"), "{e}");
    }
}
