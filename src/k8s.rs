//! Small helpers on Kubernetes values shared by the static Pods ([`crate::manifests`]), the
//! kubelet files ([`crate::kubelet`]) and the API objects ([`crate::cluster`]), so those stay
//! siblings that do not reach into each other. Pure functions; no I/O.

use serde_json::Value;

/// The variables whose name ends in `_proxy` (any case) and whose value is not empty.
// kubeadm: app/util/env.go GetProxyEnvVars
#[must_use]
pub fn proxy_env(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.into_iter()
        .filter(|(k, v)| k.to_lowercase().ends_with("_proxy") && !v.is_empty())
        .collect()
}

/// Sorts every map's keys, as kubeadm's JSON→YAML serializer does.
pub fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                sort_keys(&mut x);
                m.insert(k, x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// kubeadm decodes `extraEnvs` with the core/v1 defaulters, which set a missing
/// `fieldRef.apiVersion` to `v1` (the kubelet would default it the same way when it reads the
/// manifest); the parity test sees it in kubeadm 1.37's manifests.
// kubeadm: k8s.io/api core/v1 defaults, SetDefaults_ObjectFieldSelector
#[must_use]
pub fn default_value_from(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(f) = v
        .get_mut("fieldRef")
        .and_then(serde_json::Value::as_object_mut)
    {
        f.entry("apiVersion").or_insert_with(|| "v1".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ref_api_version_defaults_to_v1() {
        let given = serde_json::json!({"fieldRef": {"fieldPath": "status.podIP"}});
        let want =
            serde_json::json!({"fieldRef": {"fieldPath": "status.podIP", "apiVersion": "v1"}});
        assert_eq!(default_value_from(&given), want);
        let v2 = serde_json::json!({"fieldRef": {"fieldPath": "x", "apiVersion": "v2"}});
        assert_eq!(default_value_from(&v2), v2);
        let secret = serde_json::json!({"secretKeyRef": {"name": "s", "key": "k"}});
        assert_eq!(default_value_from(&secret), secret);
    }

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let mut v = serde_json::json!({"b": [{"z": 1, "a": 2}], "a": {"y": 1, "x": 2}});
        sort_keys(&mut v);
        assert_eq!(v.to_string(), r#"{"a":{"x":2,"y":1},"b":[{"a":2,"z":1}]}"#);
    }

    #[test]
    fn only_non_empty_proxy_variables_are_kept() {
        let vars = [
            ("HTTPS_PROXY", "http://p:3128"),
            ("no_proxy", "10.0.0.0/8"),
            ("FTP_PROXY", ""),
            ("PROXY", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let kept: Vec<String> = proxy_env(vars).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kept, ["HTTPS_PROXY", "no_proxy"]);
    }
}
