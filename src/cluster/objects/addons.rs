//! The essential addons kubeadm installs: CoreDNS and kube-proxy (ConfigMaps, RBAC,
//! Deployment/DaemonSet, Service), shaped as kubeadm 1.37 creates them.
//! kubeadm: `app/phases/addons/{dns,proxy}`.

use serde_json::{Value, json};

use super::{
    LABEL_CONTROL_PLANE, NODE_BOOTSTRAP_GROUP, cluster_role_binding, component_configmap,
    configmap, group, role_binding, role_get_configmap,
};
use crate::config::ResolvedConfig;

/// CoreDNS's tag for a Kubernetes minor (kubeadm `constants.CoreDNSVersion`; 1.37 checked
/// with `kubeadm config images list`).
#[must_use]
pub fn coredns_version(minor: u32) -> &'static str {
    match minor {
        ..=35 => "v1.13.1",
        36 => "v1.14.2",
        _ => "v1.14.6",
    }
}

/// The CoreDNS image: `registry.k8s.io/coredns/coredns:<tag>` by default; with a custom
/// repository the `coredns/` sub-path is dropped; `dns.imageRepository`/`imageTag` win.
// kubeadm: app/images/images.go GetDNSImage
#[must_use]
pub fn coredns_image(cfg: &ResolvedConfig) -> String {
    let dns = &cfg.cluster.dns;
    let repo = dns
        .image_repository
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| {
            if cfg.image_repository == crate::config::DEFAULT_IMAGE_REPOSITORY {
                format!("{}/coredns", cfg.image_repository)
            } else {
                cfg.image_repository.clone()
            }
        });
    let tag = dns
        .image_tag
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| coredns_version(cfg.kubernetes_version.minor).to_string());
    format!("{repo}/coredns:{tag}")
}

/// The 10th address of the service subnet, kube-dns's ClusterIP.
#[must_use]
pub fn dns_ip(cfg: &ResolvedConfig) -> String {
    crate::config::nth_ip(&cfg.service_subnets[0], 10).to_string()
}

/// addon/coredns: ConfigMap, RBAC, ServiceAccount, Deployment and the `kube-dns` Service.
// kubeadm: app/phases/addons/dns/{dns.go,manifests.go}
#[must_use]
pub fn coredns(cfg: &ResolvedConfig) -> Vec<Value> {
    let d = &cfg.dns_domain;
    let corefile = format!(
        ".:53 {{\n    errors\n    health {{\n       lameduck 5s\n    }}\n    ready\n    kubernetes {d} in-addr.arpa ip6.arpa {{\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }}\n    prometheus :9153\n    forward . /etc/resolv.conf {{\n       max_concurrent 1000\n    }}\n    cache 30 {{\n       disable success {d}\n       disable denial {d}\n    }}\n    loop\n    reload\n    loadbalance\n}}\n"
    );
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }]}},
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": LABEL_CONTROL_PLANE, "effect": "NoSchedule"},
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "dnsPolicy": "Default",
                    "containers": [{
                        "name": "coredns",
                        "image": coredns_image(cfg),
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}],
                        "ports": [
                            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                            {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                            {"containerPort": 8080, "name": "liveness-probe", "protocol": "TCP"},
                            {"containerPort": 8181, "name": "readiness-probe", "protocol": "TCP"},
                        ],
                        "livenessProbe": {
                            "httpGet": {"path": "/health", "port": "liveness-probe", "scheme": "HTTP"},
                            "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5,
                        },
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "readiness-probe", "scheme": "HTTP"}},
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                            "readOnlyRootFilesystem": true,
                        },
                    }],
                    "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                },
            },
        },
    });
    vec![
        configmap("coredns", "kube-system", json!({"Corefile": corefile})),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        }),
        cluster_role_binding(
            "system:coredns",
            "system:coredns",
            vec![json!({"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"})],
        ),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}}),
        deployment,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "clusterIP": dns_ip(cfg),
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        }),
    ]
}

/// The cluster KubeProxyConfiguration: the user's document with kubeadm's defaults where
/// unset (bind address for the advertise family, clusterCIDR = podSubnet, the in-Pod
/// kubeconfig path, `iptables` mode).
// kubeadm: app/componentconfigs/kubeproxy.go (kubeProxyConfig).Default
#[must_use]
pub fn kube_proxy_configuration(cfg: &ResolvedConfig) -> Value {
    let mut doc = match &cfg.kube_proxy {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    doc.insert(
        "apiVersion".into(),
        json!("kubeproxy.config.k8s.io/v1alpha1"),
    );
    doc.insert("kind".into(), json!("KubeProxyConfiguration"));
    let unset = |d: &serde_json::Map<String, Value>, k: &str| {
        d.get(k)
            .is_none_or(|v| v.is_null() || v.as_str().is_some_and(str::is_empty))
    };
    if unset(&doc, "bindAddress") {
        let any = if cfg.is_ipv6() { "::" } else { "0.0.0.0" };
        doc.insert("bindAddress".into(), json!(any));
    }
    if unset(&doc, "clusterCIDR") && !cfg.pod_subnets.is_empty() {
        let cidrs: Vec<String> = cfg.pod_subnets.iter().map(ToString::to_string).collect();
        doc.insert("clusterCIDR".into(), json!(cidrs.join(",")));
    }
    if unset(&doc, "mode") {
        doc.insert("mode".into(), json!("iptables"));
    }
    if let Some(cc) = doc
        .entry("clientConnection")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    {
        cc.entry("kubeconfig")
            .or_insert_with(|| json!("/var/lib/kube-proxy/kubeconfig.conf"));
    }
    let mut v = Value::Object(doc);
    crate::k8s::sort_keys(&mut v);
    v
}

/// addon/kube-proxy: ConfigMap (config + in-Pod kubeconfig), DaemonSet, ServiceAccount and RBAC.
///
/// # Errors
/// Serialisation failures (a bug).
// kubeadm: app/phases/addons/proxy/{proxy.go,manifests.go}
pub fn kube_proxy(
    cfg: &ResolvedConfig,
    proxy_env: &[(String, String)],
) -> anyhow::Result<Vec<Value>> {
    let config = serde_saphyr::to_string(&kube_proxy_configuration(cfg))?;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: {}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
        cfg.control_plane_url()
    );
    let mut cm = component_configmap(
        "kube-proxy",
        json!({"config.conf": config.trim_end(), "kubeconfig.conf": kubeconfig}),
        cfg.kube_proxy.is_none(),
    );
    // kubeadm passes its own proxy environment on to kube-proxy (GetProxyEnvVars).
    let mut env = vec![
        json!({"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}),
    ];
    env.extend(
        proxy_env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v})),
    );
    cm["metadata"]["labels"] = json!({"app": "kube-proxy"});
    let image = crate::images::kube_proxy_image(cfg);
    let daemonset = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "hostNetwork": true,
                    "serviceAccountName": "kube-proxy",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "kube-proxy",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": [
                            "/usr/local/bin/kube-proxy",
                            "--config=/var/lib/kube-proxy/config.conf",
                            "--hostname-override=$(NODE_NAME)",
                        ],
                        "env": env,
                        "securityContext": {"privileged": true},
                        "volumeMounts": [
                            {"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": true},
                        ],
                    }],
                    "volumes": [
                        {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                    ],
                },
            },
        },
    });
    Ok(vec![
        cm,
        daemonset,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": "kube-system"}}),
        cluster_role_binding(
            "kubeadm:node-proxier",
            "system:node-proxier",
            vec![
                json!({"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}),
            ],
        ),
        role_get_configmap("kube-proxy", "kube-system", "kube-proxy"),
        role_binding(
            "kube-proxy",
            "kube-system",
            "kube-proxy",
            vec![group(NODE_BOOTSTRAP_GROUP)],
        ),
    ])
}
