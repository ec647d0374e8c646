//! After the addons: one look at the Node's `Ready` condition, so a node without a Pod network
//! is explained instead of left to a later timeout. plinth, like kubeadm, installs no CNI; until
//! one is installed the kubelet reports `NetworkReady=false` ("cni plugin not initialized",
//! "cni config uninitialized"), the Node stays NotReady and CoreDNS stays Pending. kubeadm only
//! prints "You should now deploy a pod network to the cluster"; plinth says what it saw.

use serde_json::Value;

use super::InitContext;

/// Why the Node is NotReady, when the reason is the Pod network: the condition's message and
/// what to do. `None` when the Node is Ready, has no Ready condition yet, or is NotReady for
/// another reason.
#[must_use]
pub(super) fn network_not_ready(node: &Value) -> Option<String> {
    let ready = node
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    if ready["status"] == "True" {
        return None;
    }
    let message = ready["message"].as_str().unwrap_or_default();
    let network = message.contains("NetworkReady=false")
        || message.contains("cni config uninitialized")
        || message.contains("cni plugin not initialized");
    network.then(|| {
        format!(
            "Node {} is NotReady: {message}. No Pod network (CNI) is installed yet: plinth, like kubeadm, does not install one. Install a CNI plugin (its config goes to /etc/cni/net.d on every node); the Node turns Ready and CoreDNS starts once it is there",
            node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")
        )
    })
}

/// Reads this node's Node object once and says so when it is NotReady for want of a Pod
/// network. Never fails init: it is an explanation, not a check.
pub(super) fn explain(ctx: &InitContext) {
    if ctx.dry_run {
        return;
    }
    let kubeconfig = ctx
        .kubeconfig
        .clone()
        .unwrap_or_else(|| ctx.paths.kubeconfig_dir_disk().join("admin.conf"));
    let node = crate::cluster::ApiClient::from_kubeconfig(
        &kubeconfig,
        ctx.cfg.timeouts.kubernetes_api_call,
    )
    .and_then(|c| c.get(&format!("/api/v1/nodes/{}", ctx.cfg.node_name)));
    match node {
        Ok(Some(n)) => {
            if let Some(why) = network_not_ready(&n) {
                ctx.report.warn("addons", why);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::debug!("reading Node {}: {e}", ctx.cfg.node_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(status: &str, message: &str) -> Value {
        json!({"metadata": {"name": "cp-1"}, "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": status, "reason": "KubeletNotReady", "message": message},
        ]}})
    }

    #[test]
    fn a_missing_cni_is_explained() {
        let why = network_not_ready(&node(
            "False",
            "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
        ))
        .unwrap();
        assert!(
            why.starts_with(
                "Node cp-1 is NotReady: container runtime network not ready: NetworkReady=false"
            ),
            "{why}"
        );
        assert!(why.contains("Install a CNI plugin"), "{why}");
        assert!(
            network_not_ready(&node(
                "False",
                "runtime network not ready: cni config uninitialized"
            ))
            .is_some()
        );
    }

    #[test]
    fn ready_nodes_and_other_reasons_say_nothing() {
        assert_eq!(
            network_not_ready(&node("True", "kubelet is posting ready status")),
            None
        );
        assert_eq!(
            network_not_ready(&node("False", "PLEG is not healthy")),
            None
        );
        assert_eq!(network_not_ready(&json!({"status": {}})), None);
    }
}
