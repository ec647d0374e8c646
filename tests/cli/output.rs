//! `plinth init -o json|jsonl`: machine-readable results that match what happened on disk.

use crate::util::{plinth, text};

const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n";

fn setup() -> (tempfile::TempDir, String, String) {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let root = d.path().join("root");
    let (c, r) = (
        cfg.to_str().unwrap().to_string(),
        root.to_str().unwrap().to_string(),
    );
    (d, c, r)
}

#[test]
fn json_result_matches_the_files_written() {
    let (_d, root, v) = dry_run_json(&[]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["control_plane_endpoint"], "https://192.168.122.10:6443");
    let phases = v["phases"].as_array().unwrap();
    assert_eq!(phases[0]["phase"], "preflight");
    assert_eq!(phases[0]["outcome"], "ran");
    assert_eq!(phases[1]["phase"], "certs/ca");
    let wait = phases
        .iter()
        .find(|p| p["phase"] == "wait-control-plane")
        .unwrap();
    assert_eq!(wait["outcome"], "skipped");
    let written: Vec<&str> = v["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(written.contains(&"/etc/kubernetes/manifests/kube-apiserver.yaml"));
    assert!(written.contains(&"/etc/kubernetes/pki/ca.key"));
    for p in &written {
        assert!(
            std::path::Path::new(&format!("{root}{p}")).is_file(),
            "{p} listed but not written"
        );
    }
    // dry_run_json parsed stdout as exactly one JSON value: no text lines in JSON mode.
}

#[test]
fn jsonl_streams_one_event_per_phase_then_the_result() {
    let (_d, _root, o) = dry_run(&["-o", "jsonl"]);
    assert!(o.status.success(), "{}", text(&o));
    let events: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let (last, phases) = events.split_last().unwrap();
    assert_eq!(last["event"], "result");
    assert!(phases.iter().all(|e| e["event"] == "phase"));
    assert_eq!(phases.len(), last["phases"].as_array().unwrap().len());
}

#[test]
fn json_reports_a_failed_phase_and_exits_1() {
    let (d, cfg, _root) = setup();
    let pki = d.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    std::fs::write(pki.join("ca.crt"), "not a certificate").unwrap();
    let o = plinth(&[
        "init",
        "phase",
        "certs",
        "all",
        "--config",
        &cfg,
        "--cert-dir",
        pki.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("ca"), "{v}");
    assert_eq!(
        v["phases"].as_array().unwrap().last().unwrap()["outcome"],
        "failed"
    );
}

/// `plinth init --dry-run` of the test config into a fresh root, with `extra` flags.
fn dry_run(extra: &[&str]) -> (tempfile::TempDir, String, std::process::Output) {
    let (d, cfg, root) = setup();
    let mut args = vec![
        "init",
        "--dry-run",
        "--dry-run-dir",
        &root,
        "--config",
        &cfg,
    ];
    args.extend_from_slice(extra);
    let o = plinth(&args);
    (d, root, o)
}

fn dry_run_json(extra: &[&str]) -> (tempfile::TempDir, String, serde_json::Value) {
    let mut args = vec!["-o", "json"];
    args.extend_from_slice(extra);
    let (d, root, o) = dry_run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (d, root, v)
}

fn api_object_files(root: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(format!("{root}/api-objects"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn dry_run_lists_every_api_object_and_writes_it_and_the_join_pins_the_ca() {
    let (_d, root, v) = dry_run_json(&[]);
    let objs: Vec<&str> = v["api_objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["outcome"], "dry-run");
            o["object"].as_str().unwrap()
        })
        .collect();
    for want in [
        "ConfigMap kube-system/kubeadm-config",
        "ConfigMap kube-system/kubelet-config",
        "Node cp-1",
        "ClusterRoleBinding kubeadm:kubelet-bootstrap",
        "ConfigMap kube-public/cluster-info",
        "Deployment kube-system/coredns",
        "Service kube-system/kube-dns",
        "DaemonSet kube-system/kube-proxy",
    ] {
        assert!(objs.contains(&want), "{want} missing from {objs:?}");
    }
    // Every object but the Node patch is also written out, in order, as YAML.
    let files = api_object_files(&root);
    assert_eq!(files.len(), objs.len() - 1);
    // The join command's token is the one in the token Secret, and the hash pins ca.crt.
    let join = &v["join"];
    let token = join["token"].as_str().unwrap();
    let (id, secret) = token.split_once('.').unwrap();
    assert_eq!((id.len(), secret.len()), (6, 16), "{token}");
    let secret_file = files
        .iter()
        .find(|(n, _)| n.contains(&format!("bootstrap-token-{id}")))
        .expect("token Secret written");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    assert!(secret_file.1.contains(&b64), "{}", secret_file.1);
    let ca = format!("{root}/etc/kubernetes/pki/ca.crt");
    let sh = format!(
        "openssl x509 -pubkey -in {ca} | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1"
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(sh)
        .output()
        .unwrap();
    let want = format!("sha256:{}", String::from_utf8_lossy(&o.stdout).trim());
    assert_eq!(join["ca_cert_hash"], want.as_str());
    assert!(
        join["command"]
            .as_str()
            .unwrap()
            .starts_with(&format!("kubeadm join 192.168.122.10:6443 --token {token}"))
    );
}

#[test]
fn skip_token_print_masks_the_token_everywhere_it_is_printed() {
    let (_d, root, o) = dry_run(&["--skip-token-print"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let masked = regex_like_token(&out).expect("a masked token is shown");
    assert!(masked.ends_with(".****************"), "{masked}");
    let files = api_object_files(&root);
    let secret = files
        .iter()
        .find(|(n, _)| n.contains("bootstrap-token-"))
        .unwrap();
    // The Secret holds the real token, and its secret half appears nowhere in the output.
    let line = secret
        .1
        .lines()
        .find(|l| l.trim_start().starts_with("token-secret:"))
        .unwrap();
    use base64::Engine as _;
    let enc = line.split(':').nth(1).unwrap().trim().trim_matches('"');
    let real = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(enc)
            .unwrap(),
    )
    .unwrap();
    assert!(
        !out.contains(&real),
        "the token secret leaked into the output"
    );
}

/// The first `--token <x>` argument in `s`.
fn regex_like_token(s: &str) -> Option<String> {
    let i = s.find("--token ")?;
    Some(s[i + 8..].split_whitespace().next()?.to_string())
}

#[test]
fn skipping_an_addon_records_it_as_disabled_and_creates_none_of_its_objects() {
    let (_d, root, v) = dry_run_json(&["--skip-phases", "addon/kube-proxy"]);
    let objs = v["api_objects"].to_string();
    assert!(!objs.contains("kube-proxy"), "{objs}");
    assert!(objs.contains("Deployment kube-system/coredns"));
    let files = api_object_files(&root);
    let cm = &files
        .iter()
        .find(|(n, _)| n.contains("kubeadm-config"))
        .unwrap()
        .1;
    let doc: serde_json::Value = serde_saphyr::from_str(cm).unwrap();
    let cc: serde_json::Value =
        serde_saphyr::from_str(doc["data"]["ClusterConfiguration"].as_str().unwrap()).unwrap();
    assert_eq!(cc["proxy"]["disabled"], true, "{cc}");
    assert_ne!(cc["dns"]["disabled"], true, "{cc}");
    assert_eq!(cc["kind"], "ClusterConfiguration");
}

/// The ClusterConfiguration uploaded to `kubeadm-config` in a dry run with these flags.
fn uploaded_cluster_configuration(extra: &[&str]) -> serde_json::Value {
    let (_d, root, _v) = dry_run_json(extra);
    let files = api_object_files(&root);
    let cm = &files
        .iter()
        .find(|(n, _)| n.contains("kubeadm-config"))
        .unwrap()
        .1;
    let doc: serde_json::Value = serde_saphyr::from_str(cm).unwrap();
    serde_saphyr::from_str(doc["data"]["ClusterConfiguration"].as_str().unwrap()).unwrap()
}

/// Issue #12: the runner skipped `addon/all` and `ADDON/coredns` (it normalises case and
/// `/all`) but the upload compared the raw strings and still said `dns: {}`.
#[test]
fn issue_12_every_spelling_of_an_addon_skip_records_it_as_disabled() {
    for (skip, dns, proxy) in [
        ("addon", true, true),
        ("addon/all", true, true),
        ("ADDON", true, true),
        ("Addon/All", true, true),
        ("addon/coredns", true, false),
        ("ADDON/coredns", true, false),
        ("addon/CoreDNS", true, false),
        ("addon/kube-proxy", false, true),
        ("ADDON/KUBE-PROXY", false, true),
        ("mark-control-plane", false, false),
    ] {
        let cc = uploaded_cluster_configuration(&["--skip-phases", skip]);
        assert_eq!(
            cc["dns"]["disabled"] == true,
            dns,
            "--skip-phases {skip}: {cc}"
        );
        assert_eq!(
            cc["proxy"]["disabled"] == true,
            proxy,
            "--skip-phases {skip}: {cc}"
        );
    }
}

#[test]
fn a_configured_token_is_used_as_given() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!("{CONFIG}bootstrapTokens:\n- token: abcdef.0123456789abcdef\n  ttl: 0s\n"),
    )
    .unwrap();
    let root = d.path().join("root");
    let o = plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        root.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["join"]["token"], "abcdef.0123456789abcdef");
    let files = api_object_files(root.to_str().unwrap());
    let secret = &files
        .iter()
        .find(|(n, _)| n.contains("bootstrap-token-abcdef"))
        .unwrap()
        .1;
    assert!(
        !secret.contains("expiration"),
        "ttl 0 = no expiry: {secret}"
    );
}
