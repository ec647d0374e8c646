//! Property tests: hostile strings in every config value that reaches a manifest or a kubelet
//! file never break the YAML (or the env file), and come back out exactly.

use std::path::Path;

use proptest::prelude::*;

use plinth::config::v1beta4::{Arg, EnvVar, HostPathMount};
use plinth::config::{Overrides, ResolvedConfig, load_str};
use plinth::host::Paths;
use plinth::kubelet::{KubeletHost, flags_env};
use plinth::manifests::{Component, HostFacts, Templates, json_encode_value, render_manifest};

/// Pieces that break naive YAML templating, glued together, or arbitrary Unicode.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'", "\"", ": ", ":", "#", " #", "\n", "\r\n", "-", "- ", "{{", "}}", "{%", "%}", "{#",
        "*", "&a", "!!str", "|", ">", "%", "@", "`", "\t", "é", "日本", "😀", "\u{85}", "\u{2028}",
        "\u{feff}", "\u{7f}", "\u{0}", "\\", "\\n", " ", "null", "true", "~", "0x1F", "1e3", "---",
        "...", "[", "]", ",", "?", "=", "$patch",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

/// Lower-case RFC 1123 subdomains: what a node name may be after validation.
fn node_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?){0,2}"
}

fn base() -> ResolvedConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/default-ipv4/config.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    load_str(&text, "base", &Overrides::default(), &Default::default()).unwrap()
}

/// Renders all four manifests; panics (failing the property) on any error.
fn render_all(cfg: &ResolvedConfig) -> Vec<(Component, k8s_openapi::api::core::v1::Pod)> {
    let templates = Templates::load(None).unwrap();
    let paths = Paths::host(&cfg.cert_dir);
    Component::ALL
        .into_iter()
        .map(|c| {
            let m = render_manifest(&templates, cfg, &paths, &HostFacts::default(), None, c)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
            (c, m.pod)
        })
        .collect()
}

fn container(
    pods: &[(Component, k8s_openapi::api::core::v1::Pod)],
    c: Component,
) -> &k8s_openapi::api::core::v1::Container {
    let pod = &pods.iter().find(|(x, _)| *x == c).unwrap().1;
    &pod.spec.as_ref().unwrap().containers[0]
}

/// Go's `strconv.Unquote` for what `go_quote` produces.
fn go_unquote(s: &str) -> String {
    let inner = s.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next().unwrap() {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
            }
            'u' => {
                let h: String = it.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
            }
            other => out.push(other),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn hostile_values_round_trip_through_the_manifests(
        arg in nasty(),
        env in nasty(),
        cluster_name in nasty(),
        dir in nasty(),
        node in node_name(),
    ) {
        let mut cfg = base();
        cfg.node_name.clone_from(&node);
        cfg.cluster_name.clone_from(&cluster_name);
        cfg.cluster.api_server.extra_args = Some(vec![Arg { name: "x-test".into(), value: arg.clone() }]);
        cfg.cluster.scheduler.extra_envs = Some(vec![EnvVar { name: "TEST".into(), value: Some(env.clone()), value_from: None }]);
        let host_path = format!("/{dir}");
        cfg.cluster.controller_manager.extra_volumes = Some(vec![HostPathMount {
            name: "extra".into(),
            host_path: host_path.clone(),
            mount_path: host_path.clone(),
            read_only: true,
            path_type: Some("Directory".into()),
        }]);
        let pods = render_all(&cfg);

        let cmd = container(&pods, Component::KubeApiserver).command.clone().unwrap();
        prop_assert!(cmd.contains(&format!("--x-test={arg}")), "{cmd:?}");

        let envs = container(&pods, Component::KubeScheduler).env.clone().unwrap_or_default();
        let got = envs.iter().find(|e| e.name == "TEST").and_then(|e| e.value.clone()).unwrap_or_default();
        prop_assert_eq!(got, env);

        let kcm = container(&pods, Component::KubeControllerManager);
        let cmd = kcm.command.clone().unwrap();
        if cluster_name.is_empty() {
            prop_assert!(!cmd.iter().any(|c| c.starts_with("--cluster-name=")));
        } else {
            prop_assert!(cmd.contains(&format!("--cluster-name={cluster_name}")), "{cmd:?}");
        }
        let mounts = kcm.volume_mounts.clone().unwrap();
        prop_assert!(mounts.iter().any(|m| m.name == "extra" && m.mount_path == host_path));

        let etcd = container(&pods, Component::Etcd).command.clone().unwrap();
        prop_assert!(etcd.contains(&format!("--name={node}")), "{etcd:?}");
    }

    #[test]
    fn hostile_values_survive_the_config_file_too(value in nasty(), node in node_name()) {
        // Through the loader: the config is written with the same JSON-in-YAML quoting.
        let text = format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n\
             localAPIEndpoint:\n  advertiseAddress: 10.0.0.10\nnodeRegistration:\n  name: {}\n---\n\
             apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.2\n\
             apiServer:\n  extraArgs:\n  - name: x-test\n    value: {}\n  extraEnvs:\n  - name: TEST\n    value: {}\n",
            json_encode_value(&node),
            json_encode_value(&value),
            json_encode_value(&value),
        );
        let cfg = load_str(&text, "prop", &Overrides::default(), &Default::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let pods = render_all(&cfg);
        let c = container(&pods, Component::KubeApiserver);
        let cmd = c.command.clone().unwrap();
        prop_assert!(cmd.contains(&format!("--x-test={value}")), "{cmd:?}");
        if !value.is_empty() {
            let envs = c.env.clone().unwrap();
            prop_assert_eq!(envs.iter().find(|e| e.name == "TEST").and_then(|e| e.value.clone()), Some(value));
        }
    }

    #[test]
    fn hostile_kubelet_args_stay_one_quoted_line(value in nasty(), node in node_name()) {
        let mut cfg = base();
        cfg.node_name.clone_from(&node);
        cfg.init.node_registration.kubelet_extra_args =
            Some(vec![Arg { name: "node-labels".into(), value: value.clone() }]);
        let env = flags_env(&cfg, &KubeletHost { hostname: Some("other".into()), systemd_resolved_active: false });
        prop_assert!(env.ends_with('\n'));
        let line = env.strip_suffix('\n').unwrap();
        prop_assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        let quoted = line.strip_prefix("KUBELET_KUBEADM_ARGS=").unwrap();
        prop_assert_eq!(
            go_unquote(quoted),
            format!("--hostname-override={node} --node-labels={value}")
        );
    }
}
