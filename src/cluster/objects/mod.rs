//! The API objects `init` creates, named and shaped exactly as kubeadm creates them so that
//! kubeadm's own `join`, `token` and `upgrade` commands can read them. Pure functions of the
//! configuration: the phases apply them, `--dry-run` lists them, tests inspect them.
//! The shapes were checked against `kubeadm init --dry-run` v1.37.2 (docs/compatibility.md).

use serde_json::{Value, json};

use crate::config::ResolvedConfig;

mod addons;
mod node;
mod upload_certs;

pub use addons::{
    coredns, coredns_image, coredns_version, dns_ip, kube_proxy, kube_proxy_configuration,
};
pub use node::{merged_taints, node_marking_patch, shown_taints, wanted_taints};
pub use upload_certs::{
    CERTS_ROLE, CERTS_SECRET, CERTS_TOKEN_DESCRIPTION, CERTS_TOKEN_TTL, kubeadm_certs_rbac,
    kubeadm_certs_secret,
};

/// The group kubeadm's default bootstrap tokens authenticate as.
pub const NODE_BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The group of admin.conf's client certificate.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
/// Label on every control-plane Node.
pub const LABEL_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";
/// Label that keeps control-plane Nodes out of external load balancers.
pub const LABEL_EXCLUDE_LB: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// Annotation carrying the hash of a component-config ConfigMap.
pub const COMPONENT_CONFIG_HASH: &str = "kubeadm.kubernetes.io/component-config.hash";

fn role_get_configmap(name: &str, ns: &str, configmap: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [configmap], "verbs": ["get"]}],
    })
}

/// A ConfigMap plus the Role + RoleBinding that let `subjects` get exactly that ConfigMap
/// (kubeadm's pattern for kubeadm-config, kubelet-config, cluster-info and kube-proxy).
fn readable(cm: Value, role: &str, subjects: Vec<Value>) -> [Value; 3] {
    let ns = cm["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = cm["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    [
        cm,
        role_get_configmap(role, &ns, &name),
        role_binding(role, &ns, role, subjects),
    ]
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "name": name})
}

fn role_binding(name: &str, ns: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": subjects,
    })
}

fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn configmap(name: &str, ns: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    })
}

/// `sha256:<hex>` over the ConfigMap's data values in key order (kubeadm's
/// `ChecksumForConfigMap`; checked against kubeadm's dry-run output).
#[must_use]
pub fn configmap_hash(data: &serde_json::Map<String, Value>) -> String {
    use sha2::Digest as _;
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    let mut h = sha2::Sha256::new();
    for k in keys {
        h.update(data[k].as_str().unwrap_or_default().as_bytes());
    }
    format!("sha256:{:x}", h.finalize())
}

/// A component-config ConfigMap; `signed` (kubeadm signs only configs it generated, not
/// user-supplied documents, so `upgrade` knows which ones it may regenerate).
fn component_configmap(name: &str, data: Value, signed: bool) -> Value {
    let mut cm = configmap(name, "kube-system", data);
    if !signed {
        return cm;
    }
    let hash = cm["data"]
        .as_object()
        .map(configmap_hash)
        .unwrap_or_default();
    cm["metadata"]["annotations"] = json!({ COMPONENT_CONFIG_HASH: hash });
    cm
}

/// `kubeadm:cluster-admins`: binds admin.conf's group to cluster-admin. Created with
/// admin.conf, or with super-admin.conf when admin.conf is not yet allowed to.
// kubeadm: app/util/kubeconfig/kubeconfig.go EnsureAdminClusterRoleBinding
#[must_use]
pub fn admin_binding() -> Value {
    cluster_role_binding(
        CLUSTER_ADMINS_GROUP,
        "cluster-admin",
        vec![group(CLUSTER_ADMINS_GROUP)],
    )
}

/// The ClusterConfiguration as stored in `kubeadm-config`: v1beta4, defaults applied, keys
/// sorted as Go's marshaller sorts them, `dns`/`proxy.disabled` set when those addons are
/// skipped (kubeadm persists the skip so `upgrade` keeps honouring it).
///
/// # Errors
/// Serialisation failures (a bug).
pub fn cluster_configuration_yaml(
    cfg: &ResolvedConfig,
    dns_disabled: bool,
    proxy_disabled: bool,
) -> anyhow::Result<String> {
    let mut cc = cfg.cluster.clone();
    // kubeadm uploads the config it defaulted: the endpoint with its port, httpEndpoints,
    // and extraEnvs with the core/v1 defaults (all three found by the parity test).
    if let (Some(_), Some(ep)) = (&cc.control_plane_endpoint, &cfg.control_plane_endpoint) {
        cc.control_plane_endpoint = Some(crate::config::join_host_port(&ep.host, ep.port));
    }
    if let Some(ext) = cc.etcd.external.as_mut()
        && ext.http_endpoints.as_ref().is_none_or(Vec::is_empty)
    {
        ext.http_endpoints = Some(ext.endpoints.clone());
    }
    let envs = [
        &mut cc.api_server.extra_envs,
        &mut cc.controller_manager.extra_envs,
        &mut cc.scheduler.extra_envs,
    ];
    for list in envs
        .into_iter()
        .chain(cc.etcd.local.as_mut().map(|l| &mut l.extra_envs))
    {
        for e in list.iter_mut().flatten() {
            if let Some(v) = &e.value_from {
                e.value_from = Some(crate::k8s::default_value_from(v));
            }
        }
    }
    if dns_disabled {
        cc.dns.disabled = Some(true);
    }
    if proxy_disabled {
        cc.proxy.disabled = Some(true);
    }
    let mut v = serde_json::to_value(&cc)?;
    v["apiVersion"] = json!("kubeadm.k8s.io/v1beta4");
    v["kind"] = json!("ClusterConfiguration");
    crate::k8s::sort_keys(&mut v);
    let text = serde_saphyr::to_string(&v)?;
    // What kubeadm join/upgrade will parse: it must load as a strict v1beta4 document.
    let back: crate::config::v1beta4::ClusterConfiguration = serde_saphyr::from_str(&text)?;
    anyhow::ensure!(
        back == cc,
        "the uploaded ClusterConfiguration does not round-trip"
    );
    Ok(text)
}

/// upload-config/kubeadm: the `kubeadm-config` ConfigMap and the RBAC that lets joining nodes
/// read it.
// kubeadm: app/phases/uploadconfig/uploadconfig.go
#[must_use]
pub fn upload_kubeadm_config(cluster_configuration: &str) -> Vec<Value> {
    readable(
        configmap(
            "kubeadm-config",
            "kube-system",
            json!({"ClusterConfiguration": cluster_configuration}),
        ),
        "kubeadm:nodes-kubeadm-config",
        vec![group(NODE_BOOTSTRAP_GROUP), group("system:nodes")],
    )
    .into()
}

/// upload-config/kubelet: the cluster-wide KubeletConfiguration and its RBAC; `user_supplied`
/// = the config file had a KubeletConfiguration document (then it carries no hash).
// kubeadm: app/phases/kubelet/config.go CreateConfigMap
#[must_use]
pub fn upload_kubelet_config(kubelet_yaml: &str, user_supplied: bool) -> Vec<Value> {
    readable(
        component_configmap(
            "kubelet-config",
            json!({"kubelet": kubelet_yaml}),
            !user_supplied,
        ),
        "kubeadm:kubelet-config",
        vec![group("system:nodes"), group(NODE_BOOTSTRAP_GROUP)],
    )
    .into()
}

/// A bootstrap token as stored in its Secret.
#[derive(Clone)]
pub struct TokenSecret<'a> {
    /// The token.
    pub token: &'a super::BootstrapToken,
    /// `description`, if any.
    pub description: Option<&'a str>,
    /// RFC 3339 expiry, if any.
    pub expiration: Option<String>,
    /// `signing`, `authentication`.
    pub usages: &'a [String],
    /// Extra groups.
    pub groups: &'a [String],
}

/// The `bootstrap-token-<id>` Secret.
// kubeadm: app/apis/bootstraptoken/v1/utils.go BootstrapTokenToSecret
#[must_use]
pub fn token_secret(t: &TokenSecret<'_>) -> Value {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut data = serde_json::Map::new();
    data.insert("token-id".into(), json!(b64(&t.token.id)));
    data.insert("token-secret".into(), json!(b64(t.token.secret())));
    if let Some(d) = t.description.filter(|d| !d.is_empty()) {
        data.insert("description".into(), json!(b64(d)));
    }
    if let Some(e) = &t.expiration {
        data.insert("expiration".into(), json!(b64(e)));
    }
    for u in t.usages {
        data.insert(format!("usage-bootstrap-{u}"), json!(b64("true")));
    }
    if !t.groups.is_empty() {
        data.insert("auth-extra-groups".into(), json!(b64(&t.groups.join(","))));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": format!("bootstrap-token-{}", t.token.id), "namespace": "kube-system"},
        "data": data,
    })
}

/// The RBAC for TLS bootstrapping: tokens may read Nodes and post CSRs, their CSRs and node
/// client-cert renewals are auto-approved, and the apiserver's kubelet client may use the
/// kubelet API.
// kubeadm: app/phases/bootstraptoken/node/tlsbootstrap.go
#[must_use]
pub fn bootstrap_rbac() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubeadm:get-nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
        }),
        cluster_role_binding(
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            vec![group(NODE_BOOTSTRAP_GROUP)],
        ),
        cluster_role_binding(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            vec![group(NODE_BOOTSTRAP_GROUP)],
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![group(NODE_BOOTSTRAP_GROUP)],
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![group("system:nodes")],
        ),
        cluster_role_binding(
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            vec![json!({"kind": "User", "name": "kube-apiserver-kubelet-client"})],
        ),
    ]
}

/// `kube-public/cluster-info`: a kubeconfig with one unnamed cluster (server + CA), readable
/// anonymously; the bootstrap signer adds `jws-kubeconfig-<id>` signatures to it.
// kubeadm: app/phases/bootstraptoken/clusterinfo/clusterinfo.go
#[must_use]
pub fn cluster_info(server: &str, ca_pem: &[u8]) -> Vec<Value> {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let kubeconfig = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\nusers: null\n"
    );
    readable(
        configmap(
            "cluster-info",
            "kube-public",
            json!({"kubeconfig": kubeconfig}),
        ),
        "kubeadm:bootstrap-signer-clusterinfo",
        vec![json!({"kind": "User", "name": "system:anonymous"})],
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, rbac::v1 as rbac};

    fn cfg(extra: &str) -> ResolvedConfig {
        let yaml = format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.5\nnodeRegistration:\n  name: cp\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n{extra}"
        );
        crate::config::load_str(&yaml, "t", &Default::default(), &Default::default()).unwrap()
    }

    /// Every object must deserialise into its k8s-openapi type with no unknown field, so a
    /// misspelt key fails here instead of being dropped by the API server.
    fn strict<T: serde::de::DeserializeOwned>(v: &Value) {
        let mut unknown = Vec::new();
        let _: T = serde_ignored::deserialize(v.clone(), |p| unknown.push(p.to_string()))
            .unwrap_or_else(|e| panic!("{}: {e}", super::super::describe(v)));
        assert!(
            unknown.is_empty(),
            "{}: unknown fields {unknown:?}",
            super::super::describe(v)
        );
    }

    fn check_all(objs: &[Value]) {
        for o in objs {
            match o["kind"].as_str().unwrap() {
                "ConfigMap" => strict::<core::ConfigMap>(o),
                "Secret" => strict::<core::Secret>(o),
                "ServiceAccount" => strict::<core::ServiceAccount>(o),
                "Service" => strict::<core::Service>(o),
                "Role" => strict::<rbac::Role>(o),
                "RoleBinding" => strict::<rbac::RoleBinding>(o),
                "ClusterRole" => strict::<rbac::ClusterRole>(o),
                "ClusterRoleBinding" => strict::<rbac::ClusterRoleBinding>(o),
                "Deployment" => strict::<apps::Deployment>(o),
                "DaemonSet" => strict::<apps::DaemonSet>(o),
                k => panic!("unexpected kind {k}"),
            }
            super::super::object_path(o, true).unwrap();
        }
    }

    #[test]
    fn every_object_is_a_valid_typed_object() {
        let c = cfg("networking:\n  podSubnet: 10.244.0.0/16\n");
        let token = super::super::BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let mut all = vec![admin_binding()];
        all.extend(upload_kubeadm_config(
            &cluster_configuration_yaml(&c, false, false).unwrap(),
        ));
        all.extend(upload_kubelet_config("kind: KubeletConfiguration\n", false));
        all.push(token_secret(&TokenSecret {
            token: &token,
            description: Some("d"),
            expiration: Some("2026-11-29T00:00:00Z".into()),
            usages: &["signing".into(), "authentication".into()],
            groups: &[NODE_BOOTSTRAP_GROUP.into()],
        }));
        all.extend(bootstrap_rbac());
        all.extend(cluster_info("https://10.0.0.5:6443", b"PEM"));
        all.extend(coredns(&c));
        all.extend(kube_proxy(&c, &[("HTTPS_PROXY".into(), "http://p:3128".into())]).unwrap());
        check_all(&all);
        let names: std::collections::BTreeSet<String> =
            all.iter().map(super::super::describe).collect();
        assert_eq!(names.len(), all.len(), "duplicate objects: {names:?}");
    }

    #[test]
    fn the_token_secret_has_kubeadms_keys() {
        use base64::Engine as _;
        let token = super::super::BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let s = token_secret(&TokenSecret {
            token: &token,
            description: None,
            expiration: None,
            usages: &["signing".into(), "authentication".into()],
            groups: &[NODE_BOOTSTRAP_GROUP.into()],
        });
        assert_eq!(s["metadata"]["name"], "bootstrap-token-abcdef");
        let d = s["data"].as_object().unwrap();
        let dec = |k: &str| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(d[k].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(dec("token-id"), "abcdef");
        assert_eq!(dec("token-secret"), "0123456789abcdef");
        assert_eq!(dec("usage-bootstrap-signing"), "true");
        assert_eq!(dec("usage-bootstrap-authentication"), "true");
        assert_eq!(dec("auth-extra-groups"), NODE_BOOTSTRAP_GROUP);
        assert!(!d.contains_key("description") && !d.contains_key("expiration"));
    }

    #[test]
    fn the_hash_is_over_values_in_key_order() {
        let a = json!({"b": "2", "a": "1"});
        let b = json!({"a": "1", "b": "2"});
        let h = configmap_hash(a.as_object().unwrap());
        assert_eq!(h, configmap_hash(b.as_object().unwrap()));
        // sha256("12")
        assert_eq!(
            h,
            "sha256:6b51d431df5d7f141cbececcf79edf3dd861c3b4069f0b11661a3eefacbba918"
        );
    }

    #[test]
    fn dns_and_proxy_follow_the_config() {
        let c = cfg(
            "networking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.100.0.0/16\n  dnsDomain: corp.local\n",
        );
        let objs = coredns(&c);
        let svc = objs.iter().find(|o| o["kind"] == "Service").unwrap();
        assert_eq!(svc["spec"]["clusterIP"], "10.100.0.10");
        let cm = &objs[0]["data"]["Corefile"];
        assert!(
            cm.as_str()
                .unwrap()
                .contains("kubernetes corp.local in-addr.arpa")
        );
        assert_eq!(coredns_image(&c), "registry.k8s.io/coredns/coredns:v1.14.6");
        let custom = cfg("imageRepository: mirror.example/k8s\n");
        assert_eq!(coredns_image(&custom), "mirror.example/k8s/coredns:v1.14.6");
        let kp = kube_proxy_configuration(&c);
        assert_eq!(kp["clusterCIDR"], "10.244.0.0/16");
        assert_eq!(kp["bindAddress"], "0.0.0.0");
        assert_eq!(
            kp["clientConnection"]["kubeconfig"],
            "/var/lib/kube-proxy/kubeconfig.conf"
        );
        let kubelet_cm = &upload_kubelet_config("k: v\n", true)[0];
        assert!(
            kubelet_cm["metadata"].get("annotations").is_none(),
            "user config: no hash"
        );
        let kubelet_cm = &upload_kubelet_config("k: v\n", false)[0];
        assert!(kubelet_cm["metadata"]["annotations"][COMPONENT_CONFIG_HASH].is_string());
        let ds = kube_proxy(&c, &[("NO_PROXY".into(), "10.0.0.0/8".into())]).unwrap();
        let env = &ds[1]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[1], json!({"name": "NO_PROXY", "value": "10.0.0.0/8"}));
        let ep = cfg("controlPlaneEndpoint: cp.example.internal\n");
        let up = cluster_configuration_yaml(&ep, false, false).unwrap();
        assert!(
            up.contains("controlPlaneEndpoint: cp.example.internal:6443"),
            "{up}"
        );
        let text = cluster_configuration_yaml(&c, true, false).unwrap();
        assert!(text.contains("dnsDomain: corp.local"), "{text}");
        assert!(text.contains("disabled: true"), "{text}");
    }
}
