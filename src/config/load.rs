//! Reading a multi-document config file strictly, keeping the file's line numbers.
//!
//! Pass 1 reads only `apiVersion`/`kind` of each document; pass 2 decodes each document into
//! its concrete type with `deny_unknown_fields`. Each document is left-padded with newlines so
//! serde-saphyr's positions are the file's positions.

use serde::Deserialize;

use super::error::{ErrorKind, Issue};
use super::locate::FieldIndex;
use super::suggest::closest;
use super::v1beta4::{self, ClusterConfiguration, InitConfiguration, ResetConfiguration};

/// The documents found in one config file, each with the index of its field positions.
#[derive(Debug, Default, Clone)]
pub struct Documents {
    /// File name used in messages.
    pub file: String,
    /// `InitConfiguration`, if present.
    pub init: Option<(InitConfiguration, FieldIndexHandle)>,
    /// `ClusterConfiguration`, if present.
    pub cluster: Option<(ClusterConfiguration, FieldIndexHandle)>,
    /// `ResetConfiguration`, if present.
    pub reset: Option<(ResetConfiguration, FieldIndexHandle)>,
    /// `KubeletConfiguration`, verbatim.
    pub kubelet: Option<serde_json::Value>,
    /// `KubeProxyConfiguration`, verbatim.
    pub kube_proxy: Option<serde_json::Value>,
    /// Documents that were ignored, with the reason (kubeadm warns about these too).
    pub warnings: Vec<String>,
}

/// Opaque handle to the field positions of one document.
#[derive(Debug, Default, Clone)]
pub struct FieldIndexHandle(pub(crate) FieldIndex);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    api_version: Option<String>,
    kind: Option<String>,
}

const KUBELET_API: &str = "kubelet.config.k8s.io/v1beta1";
const KUBE_PROXY_API: &str = "kubeproxy.config.k8s.io/v1alpha1";

/// Splits on column-0 `---` lines; each document is padded so line numbers stay the file's.
fn split_docs(input: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur: Option<String> = None;
    let mut has_content = false;
    for (i, line) in input.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            if let Some(d) = cur.take()
                && has_content
            {
                docs.push(d);
            }
            has_content = false;
            continue;
        }
        let d = cur.get_or_insert_with(|| "\n".repeat(i));
        d.push_str(line);
        d.push('\n');
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            has_content = true;
        }
    }
    if let Some(d) = cur
        && has_content
    {
        docs.push(d);
    }
    docs
}

/// Parses every document of `text`.
///
/// # Errors
/// Every syntax, schema and kind problem found, each with file, line and column.
pub fn load_documents(text: &str, file: &str) -> Result<Documents, Vec<Issue>> {
    let mut out = Documents {
        file: file.to_string(),
        ..Documents::default()
    };
    let mut issues = Vec::new();
    let mut seen: Vec<(String, u64)> = Vec::new();
    for doc in split_docs(text) {
        let first_line = doc.bytes().take_while(|b| *b == b'\n').count() as u64 + 1;
        let meta: TypeMeta = match serde_saphyr::from_str(&doc) {
            Ok(m) => m,
            Err(e) => {
                issues.push(issue_from_yaml(&e, file, &FieldIndex::default(), ""));
                continue;
            }
        };
        let (Some(api), Some(kind)) = (meta.api_version, meta.kind) else {
            issues.push(Issue {
                kind: ErrorKind::MissingField,
                file: file.to_string(),
                line: Some(first_line),
                column: Some(1),
                field: None,
                message: "document has no apiVersion or kind".into(),
                hint: Some(
                    "start each document with `apiVersion: kubeadm.k8s.io/v1beta4` and a `kind:`"
                        .into(),
                ),
            });
            continue;
        };
        let idx = FieldIndex::build(&doc);
        let kind_line = idx.find("kind").map_or(first_line, |p| p.line);
        if let Some((_, prev)) = seen.iter().find(|(k, _)| *k == kind) {
            issues.push(Issue {
                kind: ErrorKind::DuplicateKind,
                file: file.to_string(),
                line: Some(kind_line),
                column: Some(1),
                field: Some("kind".into()),
                message: format!("{kind} is given twice (first at line {prev})"),
                hint: Some("merge the two documents into one".into()),
            });
            continue;
        }
        seen.push((kind.clone(), kind_line));
        match (api.as_str(), kind.as_str()) {
            (v1beta4::API_VERSION, "InitConfiguration") => {
                match typed::<InitConfiguration>(&doc, file, &idx, &kind) {
                    Ok(v) => out.init = Some((v, FieldIndexHandle(idx))),
                    Err(i) => issues.push(i),
                }
            }
            (v1beta4::API_VERSION, "ClusterConfiguration") => {
                match typed::<ClusterConfiguration>(&doc, file, &idx, &kind) {
                    Ok(v) => out.cluster = Some((v, FieldIndexHandle(idx))),
                    Err(i) => issues.push(i),
                }
            }
            (v1beta4::API_VERSION, "ResetConfiguration") => {
                match typed::<ResetConfiguration>(&doc, file, &idx, &kind) {
                    Ok(v) => out.reset = Some((v, FieldIndexHandle(idx))),
                    Err(i) => issues.push(i),
                }
            }
            (v1beta4::API_VERSION, "JoinConfiguration" | "UpgradeConfiguration") => {
                out.warnings.push(format!(
                    "{file}:{kind_line}: {kind} is not used by init or reset and was ignored"
                ));
            }
            (KUBELET_API, "KubeletConfiguration") => match value(&doc, file) {
                Ok(v) => out.kubelet = Some(v),
                Err(i) => issues.push(i),
            },
            (KUBE_PROXY_API, "KubeProxyConfiguration") => match value(&doc, file) {
                Ok(v) => out.kube_proxy = Some(v),
                Err(i) => issues.push(i),
            },
            (api, kind) => {
                let api_line = idx.find("apiVersion").map_or(first_line, |p| p.line);
                let hint = if api.starts_with("kubeadm.k8s.io/") && api != v1beta4::API_VERSION {
                    format!(
                        "plinth reads {} only; convert the file with `kubeadm config migrate` (kubeadm 1.35) first",
                        v1beta4::API_VERSION
                    )
                } else {
                    format!(
                        "accepted: {} InitConfiguration, ClusterConfiguration, ResetConfiguration; {KUBELET_API} KubeletConfiguration; {KUBE_PROXY_API} KubeProxyConfiguration",
                        v1beta4::API_VERSION
                    )
                };
                issues.push(Issue {
                    kind: ErrorKind::UnknownKind,
                    file: file.to_string(),
                    line: Some(api_line),
                    column: Some(1),
                    field: Some("apiVersion".into()),
                    message: format!("unsupported document {api} {kind}"),
                    hint: Some(hint),
                });
            }
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    doc: &str,
    file: &str,
    idx: &FieldIndex,
    kind: &str,
) -> Result<T, Issue> {
    serde_saphyr::from_str::<T>(doc).map_err(|e| issue_from_yaml(&e, file, idx, kind))
}

fn value(doc: &str, file: &str) -> Result<serde_json::Value, Issue> {
    serde_saphyr::from_str::<serde_json::Value>(doc)
        .map_err(|e| issue_from_yaml(&e, file, &FieldIndex::default(), ""))
}

fn issue_from_yaml(e: &serde_saphyr::Error, file: &str, idx: &FieldIndex, kind: &str) -> Issue {
    let loc = e.location();
    let (line, column) = loc.map_or((None, None), |l| (Some(l.line()), Some(l.column())));
    let path = match (line, column) {
        (Some(l), Some(c)) => idx.path_at(l, c),
        _ => None,
    };
    let field = path.map(|p| {
        if kind.is_empty() {
            p
        } else {
            format!("{kind}.{p}")
        }
    });
    let base = Issue {
        kind: ErrorKind::WrongType,
        file: file.to_string(),
        line,
        column,
        field,
        message: String::new(),
        hint: None,
    };
    match e.without_snippet() {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let hint = match closest(field, expected) {
                Some(c) if c.eq_ignore_ascii_case(field) => Some(format!(
                    "did you mean `{c}`? field names are case-sensitive"
                )),
                Some(c) => Some(format!("did you mean `{c}`?")),
                None => Some(format!("valid fields here: {}", expected.join(", "))),
            };
            Issue {
                kind: ErrorKind::UnknownField,
                message: format!("unknown field `{field}`"),
                hint,
                ..base
            }
        }
        serde_saphyr::Error::DuplicateMappingKey { .. } => Issue {
            kind: ErrorKind::DuplicateKey,
            message: "duplicate key".into(),
            hint: Some("remove one of the two entries".into()),
            ..base
        },
        serde_saphyr::Error::SerdeMissingField { field, .. } => Issue {
            kind: ErrorKind::MissingField,
            message: format!("missing required field `{field}`"),
            hint: None,
            ..base
        },
        other => {
            let msg = other.to_string();
            // Strip serde-saphyr's own "line N column M: " prefix; we print the position.
            let msg = match msg.find(": ") {
                Some(i) if msg.starts_with("line ") => msg[i + 2..].to_string(),
                _ => msg,
            };
            let kind = if msg.contains("invalid type") || msg.contains("invalid value") {
                ErrorKind::WrongType
            } else {
                ErrorKind::Syntax
            };
            Issue {
                kind,
                message: msg,
                ..base
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_line_numbers_and_drops_comment_only_docs() {
        let docs = split_docs("# c\n---\na: 1\n---\n# only\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].lines().position(|l| l == "a: 1"), Some(2));
        assert_eq!(docs[1].lines().position(|l| l == "b: 2"), Some(6));
    }
}
