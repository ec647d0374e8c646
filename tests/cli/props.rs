//! Property tests: hostile strings in every config value that reaches a manifest or a kubelet
//! file never break the YAML (or the env file), and come back out exactly.

use std::path::Path;

use proptest::prelude::*;

use plinth::config::v1beta4::{Arg, EnvVar, HostPathMount};
use plinth::config::{Overrides, ResolvedConfig, load_str};
use plinth::host::Facts;
use plinth::host::Paths;
use plinth::kubelet::flags_env;
use plinth::manifests::{Component, HostView, Templates, json_encode_value, render_manifest};

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
            let m = render_manifest(&templates, cfg, &paths, &HostView::default(), None, c)
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
        let env = flags_env(&cfg, &Facts { hostname: Some("other".into()), ..Facts::default() });
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

/// Every config file the repository ships, as seeds for the mutations below.
fn seed_configs() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<std::path::PathBuf> = ["config/cluster.yaml", "config/sandbox.yaml"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    for e in std::fs::read_dir(root.join("tests/golden"))
        .unwrap()
        .flatten()
    {
        paths.push(e.path().join("config.yaml"));
    }
    paths.sort();
    let seeds: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    assert!(seeds.len() >= 10, "seed configs went missing");
    seeds
}

/// One edit of a config text, applied at a line chosen by `at` (modulo the line count).
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value after the first `: ` of the line.
    Value(usize, String),
    /// Indent the line by this many extra spaces (0 removes its indentation).
    Indent(usize, usize),
    /// Insert a line.
    Insert(usize, String),
    /// Remove the line.
    Remove(usize),
    /// Repeat the line.
    Duplicate(usize),
}

/// Values that probe the type rules and the parser: quoted numbers, huge numbers, YAML 1.1
/// booleans, flow collections, anchors, tags, unicode, control characters.
fn scalar() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\"6443\"",
        "'0x1937'",
        "0x1937",
        "1000",
        "-1",
        "1e400",
        "99999999999999999999999999",
        "1.37",
        "yes",
        "n",
        "on",
        "~",
        "null",
        "true",
        "\"true\"",
        "[a, b]",
        "{a: 1}",
        "[",
        "{",
        "&a x",
        "*a",
        "!!str 5",
        "!!int x",
        "!!binary aGk=",
        "|",
        ">-",
        "\"unterminated",
        "'",
        "\"\\u0000\"",
        "255.255.255.255",
        "0.0.0.0",
        "::",
        "v1.37.2",
        "RSA-4096",
        "é",
        "日本",
        "😀",
        "\u{feff}",
        "\t",
        "\r",
        "\r\n",
        "- x",
        "# c",
        "a: b: c",
        "--- ",
        "...",
    ]);
    prop_oneof![
        3 => prop::collection::vec(pieces, 1..4).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => any::<i128>().prop_map(|n| n.to_string()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        scalar(),
        "[a-zA-Z]{1,12}".prop_map(|k| format!("{k}: x")),
        scalar().prop_map(|v| format!("  bindPort: {v}")),
        scalar().prop_map(|v| format!("clusterName: {v}")),
        scalar().prop_map(|v| format!("featureGates:\n  RootlessControlPlane: {v}")),
        Just("---".to_string()),
        Just("...".to_string()),
        Just("apiVersion: kubeadm.k8s.io/v1beta4".to_string()),
        Just("kind: ClusterConfiguration".to_string()),
        Just("kind: InitConfiguration".to_string()),
    ]
}

/// A value for a typed field: anything, or one of the spellings a lax loader coerces.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        scalar(),
        prop::sample::select(vec![
            "1000", "\"6443\"", "'6443'", "6443", "yes", "n", "true", "\"true\"", "x", "1.5",
        ])
        .prop_map(str::to_string),
    ]
}

/// A kubeadm document whose fields are all of the right shape, with random values.
fn typed_document() -> impl Strategy<Value = String> {
    let doc = |kind: &'static str, fields: Vec<&'static str>| {
        prop::collection::vec((prop::sample::select(fields), field_value()), 1..4).prop_map(
            move |fs| {
                let body: Vec<String> = fs.iter().map(|(f, v)| f.replace("{}", v)).collect();
                format!(
                    "apiVersion: kubeadm.k8s.io/v1beta4\nkind: {kind}\n{}\n",
                    body.join("\n")
                )
            },
        )
    };
    prop_oneof![
        doc(
            "InitConfiguration",
            vec![
                "dryRun: {}",
                "localAPIEndpoint:\n  bindPort: {}",
                "localAPIEndpoint:\n  advertiseAddress: {}",
                "nodeRegistration:\n  name: {}",
                "nodeRegistration:\n  imagePullSerial: {}",
                "certificateKey: {}",
            ],
        ),
        doc(
            "ClusterConfiguration",
            vec![
                "clusterName: {}",
                "kubernetesVersion: {}",
                "featureGates:\n  RootlessControlPlane: {}",
                "apiServer:\n  certSANs:\n  - {}",
                "scheduler:\n  extraArgs:\n  - name: v\n    value: {}",
                "dns:\n  disabled: {}",
            ],
        ),
        doc(
            "ResetConfiguration",
            vec![
                "force: {}",
                "cleanupTmpDir: {}",
                "certificatesDir: {}",
                "dryRun: {}"
            ],
        ),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, scalar()).prop_map(|(a, v)| Mutation::Value(a, v)),
        1 => (at, 0usize..9).prop_map(|(a, n)| Mutation::Indent(a, n)),
        2 => (at, line()).prop_map(|(a, l)| Mutation::Insert(a, l)),
        1 => at.prop_map(Mutation::Remove),
        1 => at.prop_map(Mutation::Duplicate),
    ]
}

fn mutate(text: &str, muts: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in muts {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match m {
            Mutation::Value(a, v) => {
                let l = &mut lines[a % n];
                if let Some(i) = l.find(": ") {
                    l.truncate(i + 2);
                    l.push_str(v);
                }
            }
            Mutation::Indent(a, k) => {
                let l = &mut lines[a % n];
                *l = format!("{}{}", " ".repeat(*k), l.trim_start());
            }
            Mutation::Insert(a, l) => lines.insert(a % (n + 1), l.clone()),
            Mutation::Remove(a) => {
                lines.remove(a % n);
            }
            Mutation::Duplicate(a) => {
                let l = lines[a % n].clone();
                lines.insert(a % n, l);
            }
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The loader never panics: it resolves, or every issue it returns has a message and is
/// located (a line within the file, or a field), and a file error has a line.
fn check_loader(text: &str) -> Result<(), TestCaseError> {
    use plinth::config::{HostDefaults, load_documents};
    let lines = text.split(['\n', '\r']).count() as u64 + 1;
    match load_documents(text, "prop.yaml") {
        Ok(docs) => check_no_coercion(text, &docs)?,
        Err(issues) => {
            prop_assert!(!issues.is_empty());
            for i in &issues {
                prop_assert!(!i.message.is_empty(), "{i:?}");
                prop_assert!(
                    i.line.is_some_and(|l| (1..=lines).contains(&l)),
                    "{i:?}\n{text}"
                );
            }
        }
    }
    let facts = HostDefaults {
        hostname: Some("cp-1".into()),
        default_address: Some("10.0.0.10".into()),
    };
    if let Err(e) = load_str(text, "prop.yaml", &Overrides::default(), &facts) {
        let issues = e.issues();
        prop_assert!(!issues.is_empty(), "{e}");
        for i in issues {
            prop_assert!(!i.message.is_empty(), "{i:?}");
            prop_assert!(i.line.is_some() || i.field.is_some(), "{i:?}\n{text}");
            if let Some(l) = i.line {
                prop_assert!((1..=lines).contains(&l), "{i:?}\n{text}");
            }
        }
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

/// What the loader accepted holds each scalar as the type YAML gives it without a schema: no
/// `"6443"` read as an integer, no `1000` read as a string (an untyped parse is the oracle).
fn check_no_coercion(text: &str, docs: &plinth::config::Documents) -> Result<(), TestCaseError> {
    use serde_json::Value;
    fn walk(typed: &Value, untyped: &Value, at: &str) -> Result<(), TestCaseError> {
        match (typed, untyped) {
            (Value::Object(t), Value::Object(u)) => {
                for (k, v) in t {
                    if let Some(w) = u.get(k) {
                        walk(v, w, &format!("{at}.{k}"))?;
                    }
                }
            }
            (Value::Array(t), Value::Array(u)) => {
                for (i, (v, w)) in t.iter().zip(u).enumerate() {
                    walk(v, w, &format!("{at}[{i}]"))?;
                }
            }
            (Value::Null, _) | (_, Value::Null) => {}
            (Value::Number(_), w) => prop_assert!(w.is_number(), "{at}: {w:?} read as a number"),
            (Value::Bool(_), w) => prop_assert!(w.is_boolean(), "{at}: {w:?} read as a boolean"),
            (Value::String(_), w) => prop_assert!(w.is_string(), "{at}: {w:?} read as a string"),
            _ => {}
        }
        Ok(())
    }
    // Documents the untyped parser cannot read (or splits differently) are not compared.
    let Ok(untyped) = serde_saphyr::from_multiple::<Value>(text) else {
        return Ok(());
    };
    for u in &untyped {
        let typed = match u.get("kind").and_then(Value::as_str) {
            Some("InitConfiguration") => docs.init.as_ref().map(|(d, _)| serde_json::to_value(d)),
            Some("ClusterConfiguration") => {
                docs.cluster.as_ref().map(|(d, _)| serde_json::to_value(d))
            }
            Some("ResetConfiguration") => docs.reset.as_ref().map(|(d, _)| serde_json::to_value(d)),
            _ => None,
        };
        if let Some(Ok(t)) = typed {
            walk(&t, u, "")?;
        }
    }
    Ok(())
}

fn loader_cases() -> u32 {
    // PROPTEST_CASES raises the count for a longer local run; CI keeps it to seconds.
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: loader_cases(), ..ProptestConfig::default() })]

    /// `cargo fuzz` needs a nightly toolchain, which the build machines do not have; this
    /// property is the stable-toolchain stand-in (see docs/config-reference.md).
    #[test]
    fn mutated_configs_never_panic_the_loader_and_errors_are_located(
        seed in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seed_configs();
        let text = mutate(seeds[seed.index(seeds.len())].as_str(), &muts);
        check_loader(&text)?;
    }

    #[test]
    fn random_text_and_documents_never_panic_the_loader(text in prop_oneof![
        any::<String>(),
        prop::collection::vec(line(), 0..20).prop_map(|v| v.join("\n")),
        // Whole documents of typed fields: the type rules run on every case.
        typed_document(),
    ]) {
        check_loader(&text)?;
    }
}
