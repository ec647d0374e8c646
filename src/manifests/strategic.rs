//! The Pod subset of Kubernetes' strategic merge patch, for kubeadm-style patch files
//! (`target+strategic.yaml`): merge keys from the core/v1 Pod schema, `null` deletes, no `$`
//! directives (they are refused when a patch file is read).
// kubeadm: k8s.io/apimachinery/pkg/util/strategicpatch StrategicMergePatch (subset)

use serde_json::{Map, Value};

use super::patches::Schema;

/// Rejects every `$` key (SMP directives such as `$patch`, `$retainKeys`,
/// `$setElementOrder/...`, `$deleteFromPrimitiveList/...`).
pub(super) fn find_directive(v: &Value, at: &str) -> Option<(String, String)> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.starts_with('$') {
                Some((
                    k.clone(),
                    if at.is_empty() {
                        "/".into()
                    } else {
                        at.to_string()
                    },
                ))
            } else {
                find_directive(
                    x,
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                )
            }
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_directive(x, &format!("{at}/{i}"))),
        _ => None,
    }
}

/// The strategic-merge key of the list at `path` (field names from the root, list items
/// not counted), per the core/v1 Pod schema's `patchMergeKey`s.
fn merge_key(path: &[String]) -> Option<&'static str> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let container = |s: &[&str]| {
        matches!(
            s,
            [
                "spec",
                "containers" | "initContainers" | "ephemeralContainers"
            ]
        )
    };
    match p.as_slice() {
        [
            "spec",
            "containers" | "initContainers" | "ephemeralContainers",
        ] => Some("name"),
        [
            "spec",
            "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims",
        ] => Some("name"),
        ["spec", "hostAliases"] => Some("ip"),
        ["metadata", "ownerReferences"] => Some("uid"),
        [a, b, field] if container(&[*a, *b]) => match *field {
            "env" => Some("name"),
            "ports" => Some("containerPort"),
            "volumeMounts" => Some("mountPath"),
            "volumeDevices" => Some("devicePath"),
            _ => None,
        },
        _ => None,
    }
}

/// A strategic merge patch without directives: maps merge recursively, `null` deletes a key,
/// lists with a merge key merge item by item (new items appended), other lists are replaced.
// kubeadm: k8s.io/apimachinery/pkg/util/strategicpatch StrategicMergePatch (subset)
pub(super) fn strategic_merge(
    doc: &mut Value,
    patch: &Value,
    schema: Schema,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(pm) = patch else {
        *doc = patch.clone();
        return Ok(());
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Value::Object(dm) = doc else {
        return Ok(());
    };
    for (k, pv) in pm {
        if pv.is_null() {
            dm.remove(k);
            continue;
        }
        path.push(k.clone());
        let key = if schema == Schema::Pod {
            merge_key(path)
        } else {
            None
        };
        match (dm.get_mut(k), pv, key) {
            (Some(Value::Array(items)), Value::Array(patch_items), Some(key)) => {
                merge_list(items, patch_items, key, schema, path)?;
            }
            (None, Value::Array(patch_items), Some(key)) => {
                let mut items = Vec::new();
                merge_list(&mut items, patch_items, key, schema, path)?;
                dm.insert(k.clone(), Value::Array(items));
            }
            (Some(dv @ Value::Object(_)), Value::Object(_), _) => {
                strategic_merge(dv, pv, schema, path)?;
            }
            (Some(_) | None, _, _) => {
                let mut v = Value::Null;
                strategic_merge(&mut v, pv, schema, path)?;
                if !pv.is_object() {
                    v = pv.clone();
                }
                dm.insert(k.clone(), v);
            }
        }
        path.pop();
    }
    Ok(())
}

fn merge_list(
    items: &mut Vec<Value>,
    patch_items: &[Value],
    key: &str,
    schema: Schema,
    path: &mut Vec<String>,
) -> Result<(), String> {
    for pi in patch_items {
        let Some(kv) = pi.get(key).filter(|v| !v.is_null()) else {
            return Err(format!(
                "an item of list {:?} lacks its merge key {key:?}",
                path.join(".")
            ));
        };
        match items.iter_mut().find(|i| i.get(key) == Some(kv)) {
            Some(existing) => strategic_merge(existing, pi, schema, path)?,
            None => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, pi, schema, path)?;
                items.push(fresh);
            }
        }
    }
    Ok(())
}
