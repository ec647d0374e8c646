//! Bad configuration: every case exits 2, names file, line and field, says how to fix it, and
//! writes nothing at all.

use crate::util::{files_under, plinth, text};

const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n";
const CLUSTER: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";
const GOOD_INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n---\n";

/// (name, file content, extra flags, substrings the error must contain)
fn cases() -> Vec<(&'static str, String, Vec<&'static str>, Vec<&'static str>)> {
    let c = |body: &str| format!("{GOOD_INIT}{CLUSTER}{body}");
    let i = |body: &str| format!("{INIT}{body}");
    vec![
        (
            "misspelt field",
            c("networking:\n  podSubnett: 10.244.0.0/16\n"),
            vec![],
            vec![
                ":11:3:",
                "networking.podSubnett",
                "unknown field `podSubnett`",
                "did you mean `podSubnet`?",
            ],
        ),
        (
            "wrong-case field",
            c("networking:\n  PodSubnet: 10.244.0.0/16\n"),
            vec![],
            vec![
                ":11:3:",
                "did you mean `podSubnet`? field names are case-sensitive",
            ],
        ),
        (
            "unknown top-level field",
            c("kubernetesVersionn: v1.37.2\n"),
            vec![],
            vec![":10:1:", "did you mean `kubernetesVersion`?"],
        ),
        (
            "duplicate key",
            c("clusterName: a\nclusterName: b\n"),
            vec![],
            vec![":11:", "duplicate"],
        ),
        (
            "kind given twice",
            format!("{GOOD_INIT}{CLUSTER}---\n{CLUSTER}"),
            vec![],
            vec![
                ":12:1:",
                "ClusterConfiguration is given twice (first at line 9)",
            ],
        ),
        (
            "wrong type for a port",
            i("localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\n  bindPort: lots\n"),
            vec![],
            vec![":5:13:", "localAPIEndpoint.bindPort"],
        ),
        (
            "wrong type for a list",
            c("apiServer:\n  certSANs: just-one\n"),
            vec![],
            vec![":11:", "apiServer.certSANs"],
        ),
        (
            "unsupported kind",
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfig\n".into(),
            vec![],
            vec![
                ":1:1:",
                "unsupported document kubeadm.k8s.io/v1beta4 ClusterConfig",
                "accepted:",
            ],
        ),
        (
            "removed v1beta3",
            "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n".into(),
            vec![],
            vec![":1:", "kubeadm config migrate"],
        ),
        (
            "missing kind",
            "apiVersion: kubeadm.k8s.io/v1beta4\nclusterName: x\n".into(),
            vec![],
            vec![":1:1:", "no apiVersion or kind"],
        ),
        (
            "yaml syntax",
            c("networking: [10.0.0.0/8\n"),
            vec![],
            vec!["invalid configuration"],
        ),
        (
            "advertise address not an IP",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 192.168.1\nnodeRegistration:\n  name: node\n",
            ),
            vec![],
            vec![
                ":4:3:",
                "localAPIEndpoint.advertiseAddress",
                "is not an IP address",
            ],
        ),
        (
            "advertise address unspecified",
            i("localAPIEndpoint:\n  advertiseAddress: 0.0.0.0\nnodeRegistration:\n  name: node\n"),
            vec![],
            vec![":4:3:", "cannot be advertised"],
        ),
        (
            "bind port out of range",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\n  bindPort: 70000\nnodeRegistration:\n  name: node\n",
            ),
            vec![],
            vec![":5:3:", "port 70000 is out of range"],
        ),
        (
            "service subnet bad prefix",
            c("networking:\n  serviceSubnet: 10.96.0.0/33\n"),
            vec![],
            vec![
                ":11:3:",
                "networking.serviceSubnet",
                "not a valid service subnet CIDR",
            ],
        ),
        (
            "service subnet too large",
            c("networking:\n  serviceSubnet: 10.0.0.0/8\n"),
            vec![],
            vec![":11:3:", "too large", "/12 or longer"],
        ),
        (
            "pod subnet garbage",
            c("networking:\n  podSubnet: everything\n"),
            vec![],
            vec![":11:3:", "networking.podSubnet", "address/prefix"],
        ),
        (
            "dual-stack of one family",
            c("networking:\n  podSubnet: 10.244.0.0/16,10.245.0.0/16\n"),
            vec![],
            vec![":11:3:", "one IPv4 and one IPv6"],
        ),
        (
            "three CIDRs",
            c("networking:\n  serviceSubnet: 10.96.0.0/16,fd00::/112,10.97.0.0/16\n"),
            vec![],
            vec![":11:3:", "at most two"],
        ),
        (
            "service family differs from advertise",
            c("networking:\n  serviceSubnet: fd00:10:96::/112\n"),
            vec![],
            vec![":11:3:", "different IP families"],
        ),
        (
            "dns domain",
            c("networking:\n  dnsDomain: Cluster_Local\n"),
            vec![],
            vec![":11:3:", "networking.dnsDomain", "not a valid DNS domain"],
        ),
        (
            "version out of window",
            c("kubernetesVersion: v1.30.4\n"),
            vec![],
            vec![":10:1:", "outside the supported range v1.35–v1.37"],
        ),
        (
            "version label",
            c("kubernetesVersion: stable-1\n"),
            vec![],
            vec![":10:1:", "never resolves release labels"],
        ),
        (
            "bad token",
            format!(
                "{}---\n{CLUSTER}",
                i(
                    "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\nbootstrapTokens:\n- token: abcdef.0123456789ABCDEF\n"
                )
            ),
            vec![],
            vec![
                ":8:3:",
                "bootstrapTokens[0].token",
                "[a-z0-9]{6}.[a-z0-9]{16}",
            ],
        ),
        (
            "token ttl in days",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\nbootstrapTokens:\n- ttl: 1d\n",
            ),
            vec![],
            vec![":8:3:", "bootstrapTokens[0].ttl", "not a duration"],
        ),
        (
            "token usage",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\nbootstrapTokens:\n- usages: [signing, everything]\n",
            ),
            vec![],
            vec![":8:", "unknown token usage \"everything\""],
        ),
        (
            "token group",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\nbootstrapTokens:\n- groups: [system:masters]\n",
            ),
            vec![],
            vec![":8:", "not a bootstrap group"],
        ),
        (
            "encryption algorithm",
            c("encryptionAlgorithm: Ed25519\n"),
            vec![],
            vec![
                ":10:1:",
                "unsupported encryption algorithm \"Ed25519\"",
                "ECDSA-P256",
            ],
        ),
        (
            "validity in years",
            c("certificateValidityPeriod: 1y\n"),
            vec![],
            vec![":10:1:", "certificateValidityPeriod", "8760h0m0s"],
        ),
        (
            "zero CA validity",
            c("caCertificateValidityPeriod: 0s\n"),
            vec![],
            vec![":10:1:", "longer than zero"],
        ),
        (
            "bad certSAN",
            c("apiServer:\n  certSANs:\n  - good.example.com\n  - bad_name!\n"),
            vec![],
            vec![
                ":13:",
                "apiServer.certSANs[1]",
                "neither an IP address nor a valid DNS name",
            ],
        ),
        (
            "bad etcd SAN",
            c("etcd:\n  local:\n    serverCertSANs: [\"under_score\"]\n"),
            vec![],
            vec![":12:", "etcd.local.serverCertSANs[0]"],
        ),
        (
            "bad endpoint port",
            c("controlPlaneEndpoint: cp.example.com:99999\n"),
            vec![],
            vec![":10:1:", "controlPlaneEndpoint", "not a valid port"],
        ),
        (
            "local and external etcd",
            c("etcd:\n  local: {}\n  external:\n    endpoints: [https://10.0.0.5:2379]\n"),
            vec![],
            vec![":10:1:", "mutually exclusive"],
        ),
        (
            "external etcd endpoint",
            c("etcd:\n  external:\n    endpoints: [10.0.0.5:2379]\n"),
            vec![],
            vec![":12:", "not an http(s) URL"],
        ),
        (
            "external etcd cert without key",
            c(
                "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n    certFile: /etc/etcd/c.crt\n",
            ),
            vec![],
            vec!["certFile and keyFile must be set together"],
        ),
        (
            "extraArgs with dashes",
            c("apiServer:\n  extraArgs:\n  - name: --v\n    value: \"4\"\n"),
            vec![],
            vec![
                ":12:",
                "apiServer.extraArgs[0].name",
                "without dashes: \"v\"",
            ],
        ),
        (
            "extraVolume relative path",
            c(
                "scheduler:\n  extraVolumes:\n  - name: cfg\n    hostPath: etc/sched\n    mountPath: /etc/sched\n",
            ),
            vec![],
            vec![
                ":13:",
                "scheduler.extraVolumes[0].hostPath",
                "not an absolute path",
            ],
        ),
        (
            "extraVolume path type",
            c(
                "controllerManager:\n  extraVolumes:\n  - name: cfg\n    hostPath: /etc/x\n    mountPath: /etc/x\n    pathType: Folder\n",
            ),
            vec![],
            vec![":15:", "unknown hostPath type \"Folder\""],
        ),
        (
            "unknown feature gate",
            c("featureGates:\n  ControlPlaneKubeletLocalMode: true\n"),
            vec![],
            vec![
                ":11:",
                "unrecognized feature-gate key: ControlPlaneKubeletLocalMode",
            ],
        ),
        (
            "node name",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: Control_Plane\n",
            ),
            vec![],
            vec![":6:3:", "nodeRegistration.name", "not a valid node name"],
        ),
        (
            "timeout",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\ntimeouts:\n  kubernetesAPICall: soon\n",
            ),
            vec![],
            vec![":8:3:", "timeouts.kubernetesAPICall"],
        ),
        (
            "relative certificatesDir",
            c("certificatesDir: pki\n"),
            vec![],
            vec![":10:1:", "certificatesDir", "absolute"],
        ),
        (
            "taint effect",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\n  taints:\n  - key: k\n    effect: Never\n",
            ),
            vec![],
            vec![":9:", "unknown taint effect \"Never\""],
        ),
        (
            "pull policy",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\n  imagePullPolicy: Sometimes\n",
            ),
            vec![],
            vec![":7:3:", "Always, IfNotPresent or Never"],
        ),
        (
            "cri socket",
            i(
                "localAPIEndpoint:\n  advertiseAddress: 10.0.0.1\nnodeRegistration:\n  name: node\n  criSocket: tcp://10.0.0.1:1234\n",
            ),
            vec![],
            vec![":7:3:", "not a unix socket"],
        ),
        (
            "bad flag value",
            c(""),
            vec!["--pod-network-cidr", "10.244.0.0/99"],
            vec![
                "command line: --pod-network-cidr:",
                "not a valid pod subnet CIDR",
            ],
        ),
        (
            "bad algorithm flag",
            c(""),
            vec!["--encryption-algorithm", "DSA"],
            vec![
                "command line: --encryption-algorithm:",
                "unsupported encryption algorithm",
            ],
        ),
        (
            "several problems at once",
            c("networking:\n  dnsDomain: A_B\ncertificatesDir: rel\n"),
            vec![],
            vec!["2 problems", ":11:3:", ":12:1:"],
        ),
    ]
}

#[test]
fn bad_configs_exit_2_with_located_messages_and_write_nothing() {
    let all = cases();
    assert!(all.len() >= 30);
    let mut failures = Vec::new();
    for (name, yaml, flags, want) in all {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cluster.yaml");
        std::fs::write(&cfg, &yaml).unwrap();
        let out_dir = dir.path().join("out");
        let cfg_s = cfg.to_str().unwrap();
        let out_s = out_dir.to_str().unwrap();
        let runs: Vec<Vec<&str>> = vec![
            [
                &[
                    "init",
                    "--config",
                    cfg_s,
                    "--dry-run",
                    "--dry-run-dir",
                    out_s,
                ][..],
                &flags[..],
            ]
            .concat(),
            [
                &[
                    "init",
                    "phase",
                    "certs",
                    "all",
                    "--config",
                    cfg_s,
                    "--dry-run",
                    "--dry-run-dir",
                    out_s,
                ][..],
                &flags[..],
            ]
            .concat(),
            [&["config", "validate", "--config", cfg_s][..], &flags[..]].concat(),
        ];
        for args in runs {
            let o = plinth(&args);
            let t = text(&o);
            if o.status.code() != Some(2) {
                failures.push(format!(
                    "case {name:?} {args:?}: want exit 2, got {:?}\n{t}",
                    o.status.code()
                ));
            }
            for w in &want {
                if !t.contains(w) {
                    failures.push(format!("case {name:?}: output lacks {w:?}:\n{t}"));
                }
            }
            if !flags.iter().any(|f| f.starts_with("--")) || !name.contains("flag") {
                assert!(
                    t.contains(cfg_s),
                    "case {name:?}: message must name the file:\n{t}"
                );
            }
            assert!(!t.contains("panicked"), "case {name:?}: {t}");
        }
        assert_eq!(
            files_under(dir.path()),
            vec!["cluster.yaml"],
            "case {name:?} wrote files"
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn defaults_print_as_a_config_that_validates() {
    let o = plinth(&["config", "print", "init-defaults"]);
    assert!(o.status.success());
    let yaml = String::from_utf8(o.stdout).unwrap();
    for key in [
        "serviceSubnet: 10.96.0.0/12",
        "dnsDomain: cluster.local",
        "bindPort: 6443",
        "kubernetesAPICall: 1m0s",
        "caCertificateValidityPeriod: 87600h0m0s",
        "taints: null",
    ] {
        assert!(yaml.contains(key), "defaults lack {key}:\n{yaml}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.yaml");
    std::fs::write(&p, yaml).unwrap();
    let o = plinth(&["config", "validate", "--config", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn example_configs_validate() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).unwrap() {
        let p = entry.unwrap().path();
        let o = plinth(&["config", "validate", "--config", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", p.display(), text(&o));
    }
}

#[test]
fn unknown_phase_lists_valid_names_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = plinth(&[
        "init",
        "phase",
        "certz",
        "--apiserver-advertise-address",
        "10.0.0.1",
        "--node-name",
        "n",
        "--cert-dir",
        dir.path().join("pki").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(t.contains("invalid phase name \"certz\""), "{t}");
    assert!(t.contains("valid names are: preflight, certs"), "{t}");
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(plinth(&["init", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(plinth(&["config", "validate"]).status.code(), Some(2));
}
