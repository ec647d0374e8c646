//! tera setup (embedded templates, optional user overrides, the `json_encode` filter, no
//! auto-escaping) and the strict parse-back of every rendered manifest into a typed `Pod`.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use tera::{Context, Kwargs, State, Tera, Value};

use super::{Component, RenderError};

/// The templates compiled into the binary, by file name.
const EMBEDDED: [(&str, &str); 4] = [
    (
        "etcd.yaml.tera",
        include_str!("../../templates/etcd.yaml.tera"),
    ),
    (
        "kube-apiserver.yaml.tera",
        include_str!("../../templates/kube-apiserver.yaml.tera"),
    ),
    (
        "kube-controller-manager.yaml.tera",
        include_str!("../../templates/kube-controller-manager.yaml.tera"),
    ),
    (
        "kube-scheduler.yaml.tera",
        include_str!("../../templates/kube-scheduler.yaml.tera"),
    ),
];

/// Every embedded template as `(file name, source)`.
#[must_use]
pub fn embedded_templates() -> &'static [(&'static str, &'static str)] {
    &EMBEDDED
}

/// The static Pod templates: the embedded ones, some possibly replaced from a directory.
pub struct Templates {
    tera: Tera,
    from_disk: Vec<PathBuf>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("from_disk", &self.from_disk)
            .finish_non_exhaustive()
    }
}

/// Characters JSON leaves raw that YAML (1.1 or 1.2) would not accept raw in a double-quoted
/// scalar, or would read as a line break: DEL, the C1 controls (incl. NEL), the line and
/// paragraph separators, the BOM and the two non-characters.
fn yaml_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// JSON-encodes a value so it is also a YAML flow scalar/collection that no input can break:
/// quotes, `: `, `#`, newlines or a leading `-` all stay inside a double-quoted string.
#[must_use]
pub fn json_encode_value(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
    if !s.chars().any(yaml_unsafe) {
        return s;
    }
    // These characters can only occur inside JSON strings, where \uXXXX is valid JSON and YAML.
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if yaml_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The `json_encode` filter. tera hands an undefined variable to a filter (for `default`),
/// so a misspelt name would silently become `null`: reject it instead.
fn json_encode(v: Value, _: Kwargs, _: &State) -> tera::TeraResult<String> {
    if v.is_undefined() {
        return Err(tera::Error::message(
            "json_encode: the value is not defined (a misspelt variable?)",
        ));
    }
    Ok(json_encode_value(&v))
}

impl Templates {
    /// The embedded templates, replaced by same-named files from `dir` when given
    /// (`--templates-dir`). Files in `dir` that do not name a known template are an error.
    ///
    /// # Errors
    /// [`RenderError::ReadTemplates`], [`RenderError::UnknownTemplate`],
    /// [`RenderError::ParseTemplate`] (with the template name and line).
    pub fn load(dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut sources: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(n, s)| ((*n).to_string(), (*s).to_string()))
            .collect();
        let mut from_disk = Vec::new();
        if let Some(dir) = dir {
            let read_err = |source| RenderError::ReadTemplates {
                path: dir.to_path_buf(),
                source,
            };
            let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(read_err)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(read_err)?;
            entries.sort();
            for path in entries {
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if path.is_dir() || name.starts_with('.') {
                    continue;
                }
                let Some(slot) = sources.iter_mut().find(|(n, _)| n == name) else {
                    return Err(RenderError::UnknownTemplate {
                        path,
                        known: EMBEDDED.iter().map(|(n, _)| (*n).to_string()).collect(),
                    });
                };
                slot.1 = std::fs::read_to_string(&path).map_err(|source| {
                    RenderError::ReadTemplates {
                        path: path.clone(),
                        source,
                    }
                })?;
                from_disk.push(path);
            }
        }
        let mut tera = Tera::default();
        // Never HTML-escape: it would turn json_encode's quotes into `&quot;`.
        tera.autoescape_on(Vec::<&str>::new());
        tera.register_filter("json_encode", json_encode);
        for (name, src) in &sources {
            tera.add_raw_template(name, src)
                .map_err(|source| RenderError::ParseTemplate {
                    template: name.clone(),
                    source,
                })?;
        }
        Ok(Templates { tera, from_disk })
    }

    /// Template files that replaced an embedded one.
    #[must_use]
    pub fn from_disk(&self) -> &[PathBuf] {
        &self.from_disk
    }

    /// Whether the template of `c` came from `--templates-dir`.
    #[must_use]
    pub fn overridden(&self, c: Component) -> Option<&Path> {
        self.from_disk
            .iter()
            .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(c.template_name()))
            .map(PathBuf::as_path)
    }

    /// Renders `c`'s template with `view`.
    ///
    /// # Errors
    /// [`RenderError::RenderTemplate`] naming the template, with tera's located message.
    pub fn render(
        &self,
        c: Component,
        view: &impl serde::Serialize,
    ) -> Result<String, RenderError> {
        let err = |source| RenderError::RenderTemplate {
            template: c.template_name().to_string(),
            source,
        };
        let ctx = Context::from_serialize(view).map_err(err)?;
        self.tera.render(c.template_name(), &ctx).map_err(err)
    }
}

/// Parses a manifest into a `Pod`, rejecting fields the Pod schema does not have (k8s-openapi
/// would drop them silently), then checks what a static Pod of plinth's must be.
///
/// # Errors
/// [`RenderError::ParseManifest`], [`RenderError::UnknownFields`], [`RenderError::CheckManifest`].
pub fn parse_pod(c: Component, yaml: &str) -> Result<Pod, RenderError> {
    let mut unknown = Vec::new();
    let pod: Pod = serde_saphyr::with_deserializer_from_str(yaml, |de| {
        serde_ignored::deserialize(de, |path| unknown.push(path.to_string().replace(".?", "")))
    })
    .map_err(|source| RenderError::ParseManifest {
        component: c.name(),
        source: Box::new(source),
    })?;
    if !unknown.is_empty() {
        return Err(RenderError::UnknownFields {
            component: c.name(),
            fields: unknown,
        });
    }
    check_pod(c, &pod).map_err(|problem| RenderError::CheckManifest {
        component: c.name(),
        problem,
    })?;
    Ok(pod)
}

/// Semantic checks on a parsed static Pod.
fn check_pod(c: Component, pod: &Pod) -> Result<(), String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err("metadata.name is empty".into());
    }
    let spec = pod.spec.as_ref().ok_or("spec is missing")?;
    if spec.containers.len() != 1 {
        return Err(format!(
            "a static Pod must have exactly one container, found {}",
            spec.containers.len()
        ));
    }
    if spec.host_network != Some(true) {
        return Err("spec.hostNetwork must be true".into());
    }
    let ctr = &spec.containers[0];
    if ctr.name.is_empty() {
        return Err("the container has no name".into());
    }
    if ctr.image.as_deref().unwrap_or_default().is_empty() {
        return Err(format!("container {:?} has no image", ctr.name));
    }
    if ctr.command.as_ref().is_none_or(Vec::is_empty) {
        return Err(format!("container {:?} has no command", ctr.name));
    }
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let mut names = std::collections::BTreeSet::new();
    for v in volumes {
        if !names.insert(v.name.as_str()) {
            return Err(format!("volume {:?} is defined twice", v.name));
        }
        if let Some(hp) = v.host_path.as_ref().filter(|hp| !hp.path.starts_with('/')) {
            return Err(format!(
                "volume {:?}: hostPath {:?} is not absolute",
                v.name, hp.path
            ));
        }
    }
    for m in ctr.volume_mounts.as_deref().unwrap_or_default() {
        if !names.contains(m.name.as_str()) {
            return Err(format!("volumeMount {:?} names no volume", m.name));
        }
        if !m.mount_path.starts_with('/') {
            return Err(format!(
                "volumeMount {:?}: mountPath {:?} is not absolute",
                m.name, m.mount_path
            ));
        }
    }
    if ctr.name != c.name() {
        return Err(format!(
            "the container is named {:?}, expected {:?}",
            ctr.name,
            c.name()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `{{ … }}` in `src` whose last filter is not `json_encode`.
    fn raw_expressions(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}") else {
                out.push(rest[start..].to_string());
                break;
            };
            let expr =
                rest[start + 2..start + end].trim_matches(|c: char| c == '-' || c.is_whitespace());
            let last = expr.rsplit('|').next().unwrap_or_default().trim();
            if !expr.contains('|') || last.trim_end_matches("()") != "json_encode" {
                out.push(expr.to_string());
            }
            rest = &rest[start + end + 2..];
        }
        out
    }

    #[test]
    fn every_template_expression_goes_through_json_encode() {
        for (name, src) in EMBEDDED {
            assert!(src.contains("json_encode"), "{name}");
            assert_eq!(raw_expressions(src), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn the_scan_catches_raw_expressions() {
        let bad = "a: {{ x }}\nb: {{ y | json_encode | upper }}\nc: {{- z | json_encode -}}\nd: {{ w | json_encode() }}";
        assert_eq!(raw_expressions(bad), vec!["x", "y | json_encode | upper"]);
    }

    #[test]
    fn an_undefined_variable_is_an_error_with_its_line() {
        let mut t = Tera::default();
        t.autoescape_on(Vec::<&str>::new());
        t.register_filter("json_encode", json_encode);
        t.add_raw_template("x.yaml.tera", "a: 1\nb: {{ nmae | json_encode }}\n")
            .unwrap();
        let e = t.render("x.yaml.tera", &Context::new()).unwrap_err();
        let msg = format!("{e}");
        assert!(
            msg.contains("not defined") && msg.contains("x.yaml.tera:2"),
            "{msg}"
        );
    }

    #[test]
    fn json_encode_escapes_what_yaml_reads_as_breaks() {
        assert_eq!(
            json_encode_value(&"a\u{85}b\u{2028}"),
            "\"a\\u0085b\\u2028\""
        );
        assert_eq!(json_encode_value(&"x: y # z"), "\"x: y # z\"");
        assert_eq!(json_encode_value(&10u16), "10");
    }

    #[test]
    fn html_escaping_is_off_even_for_html_names() {
        let mut t = Tera::default();
        t.autoescape_on(Vec::<&str>::new());
        t.register_filter("json_encode", json_encode);
        t.add_raw_template("x.html", "{{ v | json_encode }}")
            .unwrap();
        let mut c = Context::new();
        c.insert("v", "<a&\"b\">");
        assert_eq!(t.render("x.html", &c).unwrap(), "\"<a&\\\"b\\\">\"");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  hostNetwrk: true\n  containers:\n  - name: x\n    image: i\n    command: [x]\n";
        let e = parse_pod(Component::KubeScheduler, yaml).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(
            matches!(e, RenderError::UnknownFields { ref fields, .. } if fields == &vec!["spec.hostNetwrk".to_string()])
        );
    }

    #[test]
    fn semantic_checks_fail() {
        let base = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  hostNetwork: true\n";
        let two = format!(
            "{base}  containers:\n  - name: a\n    image: i\n    command: [a]\n  - name: b\n    image: i\n    command: [b]\n"
        );
        assert!(
            parse_pod(Component::Etcd, &two)
                .unwrap_err()
                .to_string()
                .contains("exactly one container")
        );
        let rel = format!(
            "{base}  containers:\n  - name: a\n    image: i\n    command: [a]\n  volumes:\n  - name: v\n    hostPath:\n      path: rel/dir\n"
        );
        assert!(
            parse_pod(Component::Etcd, &rel)
                .unwrap_err()
                .to_string()
                .contains("not absolute")
        );
        let no_host = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: a\n    image: i\n    command: [a]\n";
        assert!(
            parse_pod(Component::Etcd, no_host)
                .unwrap_err()
                .to_string()
                .contains("hostNetwork")
        );
    }
}
