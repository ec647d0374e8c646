//! Reading a multi-document config file strictly, keeping the file's line numbers.
//!
//! Pass 1 reads only `apiVersion`/`kind` of each document; pass 2 decodes each document into
//! its concrete type with `deny_unknown_fields` and strict scalar types. Documents are parsed
//! one by one from slices of the file; their positions are shifted by the document's first
//! line, so every error and the field index use the file's line numbers. The number of
//! documents is capped ([`MAX_DOCUMENTS`]); the size of the input is capped when it is read
//! (see `config::read_source`).

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

/// The most documents one config file may hold, counting empty ones.
///
/// A config needs at most six (one of each accepted kind); the cap bounds the work a file of
/// `---` lines can cause. Every `---` line starts a document, and so does content at the start
/// of the file or after a `...` line.
pub const MAX_DOCUMENTS: usize = 64;

/// One document: a slice of the file, and where it starts in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Doc<'a> {
    text: &'a str,
    /// 1-based file line of the first line of `text`.
    first_line: u64,
    /// 1-based file line of the first line that is neither blank nor a comment.
    content_line: u64,
}

/// A document separator line, and whether it carries content of its own (`--- {a: 1}`).
fn separator(line: &str) -> Option<bool> {
    if line == "---" || line == "..." {
        return Some(false);
    }
    let rest = line
        .strip_prefix("--- ")
        .or_else(|| line.strip_prefix("---\t"))?;
    let rest = rest.trim();
    Some(!rest.is_empty() && !rest.starts_with('#'))
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// Splits on column-0 `---` / `...` lines in one pass. Documents are slices of `input` (no
/// copies); line numbers are kept as offsets. Blank and comment-only documents are dropped.
///
/// # Errors
/// The file line of the document beyond [`MAX_DOCUMENTS`].
fn split_docs(input: &str) -> Result<Vec<Doc<'_>>, u64> {
    let mut docs = Vec::new();
    let mut started = 0usize;
    // The open document: byte offset and line where it starts, first content line.
    let mut start = 0usize;
    let mut first_line = 1u64;
    let mut content: Option<u64> = None;
    // Whether the open document was started by a `---` line (and so is already counted).
    let mut counted = false;
    let mut offset = 0usize;
    for (i, raw) in input.split_inclusive('\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let next = offset + raw.len();
        if let Some(inline) = separator(line) {
            if let Some(c) = content {
                docs.push(Doc {
                    text: &input[start..offset],
                    first_line,
                    content_line: c,
                });
            }
            counted = line != "...";
            if counted {
                started += 1;
                if started > MAX_DOCUMENTS {
                    return Err(line_no);
                }
            }
            // Content on the marker line itself belongs to the document: keep the line.
            (start, first_line) = if inline {
                (offset, line_no)
            } else {
                (next, line_no + 1)
            };
            content = inline.then_some(line_no);
        } else if content.is_none() && is_content(line) {
            if !counted {
                counted = true;
                started += 1;
                if started > MAX_DOCUMENTS {
                    return Err(line_no);
                }
            }
            content = Some(line_no);
        }
        offset = next;
    }
    if let Some(c) = content {
        docs.push(Doc {
            text: &input[start..],
            first_line,
            content_line: c,
        });
    }
    Ok(docs)
}

/// The line of the first carriage return that is not part of a CRLF pair.
///
/// YAML treats a lone CR as a line break but the splitter (like most tools) does not, so such
/// a file would be read with wrong line numbers or fail with the parser's internal message.
fn lone_cr_line(input: &str) -> Option<u64> {
    let b = input.as_bytes();
    let at = b
        .iter()
        .enumerate()
        .position(|(i, c)| *c == b'\r' && b.get(i + 1) != Some(&b'\n'))?;
    Some(b[..at].iter().filter(|c| **c == b'\n').count() as u64 + 1)
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
    let limit = |line: u64, kind: ErrorKind, message: String, hint: &str| {
        vec![Issue {
            kind,
            file: file.to_string(),
            line: Some(line),
            column: Some(1),
            field: None,
            message,
            hint: Some(hint.into()),
        }]
    };
    if let Some(line) = lone_cr_line(text) {
        return Err(limit(
            line,
            ErrorKind::Syntax,
            "the file uses CR-only line endings; convert to LF".into(),
            "e.g. `tr '\\r' '\\n' < old.yaml > new.yaml`; LF and CRLF files are read as they are",
        ));
    }
    let docs = split_docs(text).map_err(|line| {
        limit(
            line,
            ErrorKind::Limit,
            format!("the file has more than {MAX_DOCUMENTS} YAML documents"),
            "a config needs one document per kind; remove the empty or repeated `---` documents",
        )
    })?;
    let mut issues = Vec::new();
    let mut seen: Vec<(String, u64)> = Vec::new();
    for Doc {
        text: doc,
        first_line,
        content_line,
    } in docs
    {
        let off = first_line - 1;
        let meta: TypeMeta = match serde_saphyr::from_str(doc) {
            Ok(m) => m,
            Err(e) => {
                issues.push(issue_from_yaml(&e, file, &FieldIndex::default(), "", off));
                continue;
            }
        };
        let (Some(api), Some(kind)) = (meta.api_version, meta.kind) else {
            issues.push(Issue {
                kind: ErrorKind::MissingField,
                file: file.to_string(),
                line: Some(content_line),
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
        let idx = FieldIndex::build(doc, first_line);
        let kind_line = idx.find("kind").map_or(content_line, |p| p.line);
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
                match typed::<InitConfiguration>(doc, off, file, &idx, &kind) {
                    Ok(v) => out.init = Some((v, FieldIndexHandle(idx))),
                    Err(mut i) => issues.append(&mut i),
                }
            }
            (v1beta4::API_VERSION, "ClusterConfiguration") => {
                match typed::<ClusterConfiguration>(doc, off, file, &idx, &kind) {
                    Ok(v) => out.cluster = Some((v, FieldIndexHandle(idx))),
                    Err(mut i) => issues.append(&mut i),
                }
            }
            (v1beta4::API_VERSION, "ResetConfiguration") => {
                match typed::<ResetConfiguration>(doc, off, file, &idx, &kind) {
                    Ok(v) => out.reset = Some((v, FieldIndexHandle(idx))),
                    Err(mut i) => issues.append(&mut i),
                }
            }
            (v1beta4::API_VERSION, "JoinConfiguration" | "UpgradeConfiguration") => {
                out.warnings.push(format!(
                    "{file}:{kind_line}: {kind} is not used by init or reset and was ignored"
                ));
            }
            (KUBELET_API, "KubeletConfiguration") => match value(doc, off, file) {
                Ok(v) => out.kubelet = Some(v),
                Err(i) => issues.push(i),
            },
            (KUBE_PROXY_API, "KubeProxyConfiguration") => match value(doc, off, file) {
                Ok(v) => out.kube_proxy = Some(v),
                Err(i) => issues.push(i),
            },
            (api, kind) => {
                let api_line = idx.find("apiVersion").map_or(content_line, |p| p.line);
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

fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &str,
    off: u64,
    file: &str,
    idx: &FieldIndex,
    kind: &str,
) -> Result<T, Vec<Issue>> {
    let v = serde_saphyr::from_str::<T>(doc)
        .map_err(|e| vec![issue_from_yaml(&e, file, idx, kind, off)])?;
    // serde-saphyr reads `"6443"` into an integer and `1000` into a string; kubeadm (typed
    // JSON) refuses both. Compare what the file wrote with the types the documents hold.
    let shape = serde_json::to_value(&v).unwrap_or(serde_json::Value::Null);
    let mut issues = Vec::new();
    check_scalar_types(&shape, "", idx, file, kind, &mut issues);
    issues.sort_by_key(|i| (i.line, i.column));
    if issues.is_empty() {
        Ok(v)
    } else {
        Err(issues)
    }
}

/// Refuses a quoted string where the document type holds a number or boolean, and a plain
/// number or boolean where it holds a string (one check for every field of every document).
fn check_scalar_types(
    typed: &serde_json::Value,
    path: &str,
    idx: &FieldIndex,
    file: &str,
    kind: &str,
    out: &mut Vec<Issue>,
) {
    use super::locate::Scalar;
    use serde_json::Value;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    let found = match typed {
        Value::Object(m) => {
            for (k, v) in m {
                check_scalar_types(v, &join(k), idx, file, kind, out);
            }
            return;
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                check_scalar_types(v, &format!("{path}[{i}]"), idx, file, kind, out);
            }
            return;
        }
        Value::Null => return,
        _ => idx.scalar(path),
    };
    let Some((pos, written)) = found else { return };
    let key = path.rsplit(['.', '[']).next().unwrap_or(path);
    let (message, hint) = match (typed, written) {
        (Value::Number(n), Scalar::Quoted(s)) => (
            format!("expected an integer, found the quoted string {s:?}"),
            format!("remove the quotes: `{key}: {n}`"),
        ),
        (Value::Bool(b), Scalar::Quoted(s)) => (
            format!("expected true or false, found the quoted string {s:?}"),
            format!("remove the quotes: `{key}: {b}`"),
        ),
        (Value::String(_), Scalar::Number(n)) => (
            format!("expected a string, found the number {n}"),
            format!("quote it if you mean the text: `{key}: \"{n}\"`"),
        ),
        (Value::String(_), Scalar::Bool(b, t)) => (
            if t == &b.to_string() {
                format!("expected a string, found the boolean {b}")
            } else {
                format!("expected a string, found `{t}`, which YAML reads as the boolean {b}")
            },
            format!("quote it if you mean the text: `{key}: \"{t}\"`"),
        ),
        _ => return,
    };
    out.push(Issue {
        kind: ErrorKind::WrongType,
        file: file.to_string(),
        line: Some(pos.line),
        column: Some(pos.column),
        field: Some(format!("{kind}.{path}")),
        message,
        hint: Some(hint),
    });
}

fn value(doc: &str, off: u64, file: &str) -> Result<serde_json::Value, Issue> {
    serde_saphyr::from_str::<serde_json::Value>(doc)
        .map_err(|e| issue_from_yaml(&e, file, &FieldIndex::default(), "", off))
}

/// `off` is the number of file lines before the document (its positions are the slice's).
fn issue_from_yaml(
    e: &serde_saphyr::Error,
    file: &str,
    idx: &FieldIndex,
    kind: &str,
    off: u64,
) -> Issue {
    let loc = e.location();
    // Without a position from the parser, the document's first line is still a location.
    let (line, column) = loc
        .filter(|l| l.line() > 0)
        .map_or((Some(off + 1), None), |l| {
            (Some(l.line() + off), Some(l.column()))
        });
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

    const CLUSTER: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";
    const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n";

    fn issues(text: &str) -> Vec<Issue> {
        load_documents(text, "c.yaml").unwrap_err()
    }

    #[test]
    fn split_keeps_file_lines_as_offsets_and_drops_comment_only_docs() {
        let text = "# c\n---\na: 1\n---\n# only\n---\nb: 2\n--- {c: 3}\n";
        let docs = split_docs(text).unwrap();
        let got: Vec<(&str, u64, u64)> = docs
            .iter()
            .map(|d| (d.text, d.first_line, d.content_line))
            .collect();
        assert_eq!(
            got,
            vec![("a: 1\n", 3, 3), ("b: 2\n", 7, 7), ("--- {c: 3}\n", 8, 8)]
        );
    }

    #[test]
    fn the_document_count_is_capped_counting_empty_documents() {
        let at_cap = "---\n".repeat(MAX_DOCUMENTS);
        assert_eq!(split_docs(&at_cap), Ok(vec![]));
        let over = "---\n".repeat(MAX_DOCUMENTS + 1);
        assert_eq!(split_docs(&over), Err(MAX_DOCUMENTS as u64 + 1));
        // Content before the first `---` and after `...` starts a document too.
        let text = format!("a: 1\n{}", "---\n".repeat(MAX_DOCUMENTS));
        assert_eq!(split_docs(&text), Err(MAX_DOCUMENTS as u64 + 1));
        let text = format!("{}...\nb: 1\n", "---\n".repeat(MAX_DOCUMENTS));
        assert_eq!(split_docs(&text), Err(MAX_DOCUMENTS as u64 + 2));
    }

    #[test]
    fn too_many_documents_is_a_located_limit_error() {
        let text = format!("{CLUSTER}{}", "---\n".repeat(50_000));
        let start = std::time::Instant::now();
        let i = issues(&text);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(i[0].kind, ErrorKind::Limit);
        // Document 1 is lines 1-2; document k + 1 starts at the k-th `---`, on line 2 + k.
        assert_eq!(i[0].line, Some(2 + MAX_DOCUMENTS as u64));
        assert!(
            i[0].to_string().contains("more than 64 YAML documents"),
            "{}",
            i[0]
        );
    }

    #[test]
    fn errors_in_later_documents_carry_the_files_line_numbers() {
        let text = format!(
            "{INIT}---\n# comment\n\n{CLUSTER}networking:\n  podSubnet: [1\n---\n{CLUSTER}clusterNmae: x\n"
        );
        let i = issues(&text);
        assert_eq!(i.len(), 2, "{i:?}");
        assert_eq!(i[0].kind, ErrorKind::Syntax);
        assert!(matches!(i[0].line, Some(8 | 9)), "{:?}", i[0]);
        assert_eq!(i[1].kind, ErrorKind::UnknownField);
        assert_eq!((i[1].line, i[1].column), (Some(13), Some(1)), "{:?}", i[1]);
        let text = format!("{INIT}---\n\n{CLUSTER}clusterNmae: x\n");
        let i = issues(&text);
        assert_eq!(i[0].kind, ErrorKind::UnknownField);
        assert_eq!((i[0].line, i[0].column), (Some(7), Some(1)));
        assert_eq!(
            i[0].field.as_deref(),
            Some("ClusterConfiguration.clusterNmae")
        );
    }

    #[test]
    fn a_quoted_integer_is_a_located_wrong_type() {
        let text = format!("{INIT}localAPIEndpoint:\n  bindPort: \"0x1937\"\n");
        let i = issues(&text);
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(i[0].kind, ErrorKind::WrongType);
        assert_eq!((i[0].line, i[0].column), (Some(4), Some(13)));
        assert_eq!(
            i[0].field.as_deref(),
            Some("InitConfiguration.localAPIEndpoint.bindPort")
        );
        let s = i[0].to_string();
        assert!(
            s.contains("expected an integer") && s.contains("\"0x1937\""),
            "{s}"
        );
        assert!(s.contains("remove the quotes"), "{s}");
        // Also in single quotes, and for booleans.
        let text = format!("{INIT}localAPIEndpoint:\n  bindPort: '6443'\ndryRun: \"true\"\n");
        let i = issues(&text);
        assert_eq!(i.len(), 2, "{i:?}");
        assert_eq!(i[1].field.as_deref(), Some("InitConfiguration.dryRun"));
        assert_eq!(i[1].line, Some(5));
    }

    #[test]
    fn a_number_or_boolean_where_a_string_belongs_is_a_located_wrong_type() {
        let text = format!(
            "{CLUSTER}clusterName: 1000\nkubernetesVersion: 1.37\napiServer:\n  certSANs:\n  - true\n  extraArgs:\n  - name: v\n    value: 2\n"
        );
        let i = issues(&text);
        let got: Vec<(Option<&str>, Option<u64>)> =
            i.iter().map(|x| (x.field.as_deref(), x.line)).collect();
        assert_eq!(
            got,
            vec![
                (Some("ClusterConfiguration.clusterName"), Some(3)),
                (Some("ClusterConfiguration.kubernetesVersion"), Some(4)),
                (Some("ClusterConfiguration.apiServer.certSANs[0]"), Some(7)),
                (
                    Some("ClusterConfiguration.apiServer.extraArgs[0].value"),
                    Some(10)
                ),
            ]
        );
        assert!(i.iter().all(|x| x.kind == ErrorKind::WrongType));
        let s = i[0].to_string();
        assert!(
            s.contains("expected a string, found the number 1000"),
            "{s}"
        );
        assert!(s.contains("`clusterName: \"1000\"`"), "{s}");
        // Quoted, the same values are fine.
        let text = format!(
            "{CLUSTER}clusterName: \"1000\"\napiServer:\n  extraArgs:\n  - name: v\n    value: '2'\n"
        );
        load_documents(&text, "c.yaml").unwrap();
    }

    #[test]
    fn cr_only_line_endings_are_refused_and_crlf_works() {
        let cr = format!("{CLUSTER}clusterName: x\n").replace('\n', "\r");
        let i = issues(&cr);
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(i[0].kind, ErrorKind::Syntax);
        assert_eq!(i[0].line, Some(1));
        assert!(
            i[0].message.contains("CR-only line endings; convert to LF"),
            "{}",
            i[0]
        );
        let crlf = format!("{INIT}---\n{CLUSTER}clusterName: x\n").replace('\n', "\r\n");
        let d = load_documents(&crlf, "c.yaml").unwrap();
        assert_eq!(d.cluster.unwrap().0.cluster_name.as_deref(), Some("x"));
        // And CRLF keeps the file's line numbers.
        let crlf = format!("{INIT}---\n{CLUSTER}clusterNmae: x\n").replace('\n', "\r\n");
        assert_eq!(issues(&crlf)[0].line, Some(6));
    }
}
