//! Marking the control-plane Node: the labels and taints it must carry and the merge patch
//! that adds what is missing without dropping taints others put there.
//! kubeadm: `app/phases/markcontrolplane/markcontrolplane.go`.

use serde_json::{Value, json};

use super::{LABEL_CONTROL_PLANE, LABEL_EXCLUDE_LB};
use crate::config::v1beta4::Taint;

/// The taints the control-plane Node must carry (`nodeRegistration.taints`; nil = the
/// control-plane taint, `[]` = none).
#[must_use]
pub fn wanted_taints(configured: Option<&[Taint]>) -> Vec<Value> {
    match configured {
        None => vec![json!({"key": LABEL_CONTROL_PLANE, "effect": "NoSchedule"})],
        Some(ts) => ts
            .iter()
            .map(|t| {
                let mut v = json!({"key": t.key, "effect": t.effect});
                if let Some(val) = t.value.as_ref().filter(|v| !v.is_empty()) {
                    v["value"] = json!(val);
                }
                v
            })
            .collect(),
    }
}

/// `key:effect` of each taint, as kubeadm prints them.
#[must_use]
pub fn shown_taints(taints: &[Value]) -> Vec<String> {
    taints
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Existing taints plus the wanted ones not already there (same key and effect), as
/// kubeadm's `markControlPlane` merges them; `None` when nothing changes.
#[must_use]
pub fn merged_taints(existing: &[Value], wanted: &[Value]) -> Option<Vec<Value>> {
    let same = |a: &Value, b: &Value| a["key"] == b["key"] && a["effect"] == b["effect"];
    let mut out = existing.to_vec();
    for w in wanted {
        if !existing.iter().any(|e| same(e, w)) {
            out.push(w.clone());
        }
    }
    (out.len() != existing.len()).then_some(out)
}

/// The merge patch that gives `current` (a Node as read) the control-plane labels and the
/// `wanted` taints; `None` when it already has them.
#[must_use]
pub fn node_marking_patch(current: &Value, wanted: &[Value]) -> Option<Value> {
    let labels = &current["metadata"]["labels"];
    let need_labels = [LABEL_CONTROL_PLANE, LABEL_EXCLUDE_LB]
        .iter()
        .any(|l| labels.get(l).is_none());
    let existing: Vec<Value> = current["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new_taints = merged_taints(&existing, wanted);
    if !need_labels && new_taints.is_none() {
        return None;
    }
    let mut patch = json!({
        "metadata": {
            "labels": {LABEL_CONTROL_PLANE: "", LABEL_EXCLUDE_LB: ""},
            // Optimistic concurrency: the taint list is replaced whole.
            "resourceVersion": current["metadata"]["resourceVersion"],
        },
    });
    if let Some(t) = new_taints {
        patch["spec"] = json!({"taints": t});
    }
    Some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_are_added_not_replaced() {
        let cp = json!({"key": LABEL_CONTROL_PLANE, "effect": "NoSchedule"});
        let other = json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"});
        assert_eq!(
            merged_taints(std::slice::from_ref(&other), std::slice::from_ref(&cp)),
            Some(vec![other.clone(), cp.clone()])
        );
        assert_eq!(merged_taints(&[other, cp.clone()], &[cp]), None);
        assert_eq!(merged_taints(&[], &[]), None);
    }

    #[test]
    fn no_configured_taints_means_the_control_plane_taint_and_empty_means_none() {
        let default = wanted_taints(None);
        assert_eq!(
            shown_taints(&default),
            [format!("{LABEL_CONTROL_PLANE}:NoSchedule")]
        );
        assert!(wanted_taints(Some(&[])).is_empty());
        let t = Taint {
            key: "k".into(),
            value: Some(String::new()),
            effect: "NoExecute".into(),
            time_added: None,
        };
        assert_eq!(
            wanted_taints(Some(&[t])),
            [json!({"key": "k", "effect": "NoExecute"})]
        );
    }

    #[test]
    fn a_marked_node_needs_no_patch_and_a_bare_one_gets_labels_taints_and_its_version() {
        let wanted = wanted_taints(None);
        let bare = json!({"metadata": {"name": "cp", "resourceVersion": "7"}});
        let patch = node_marking_patch(&bare, &wanted).unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["metadata"]["labels"][LABEL_EXCLUDE_LB], "");
        assert_eq!(patch["spec"]["taints"], json!(wanted));
        let marked = json!({
            "metadata": {"labels": {LABEL_CONTROL_PLANE: "", LABEL_EXCLUDE_LB: ""}},
            "spec": {"taints": wanted},
        });
        assert_eq!(node_marking_patch(&marked, &wanted), None);
        // Labels present, taint missing: the patch carries the taints only as a merge.
        let labelled =
            json!({"metadata": {"labels": {LABEL_CONTROL_PLANE: "", LABEL_EXCLUDE_LB: ""}}});
        assert!(node_marking_patch(&labelled, &wanted).unwrap()["spec"]["taints"].is_array());
    }
}
