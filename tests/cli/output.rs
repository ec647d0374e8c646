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
    let (_d, cfg, root) = setup();
    let o = plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        &root,
        "--config",
        &cfg,
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON object");
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
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("[certs]"),
        "no text lines in JSON mode"
    );
}

#[test]
fn jsonl_streams_one_event_per_phase_then_the_result() {
    let (_d, cfg, root) = setup();
    let o = plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        &root,
        "--config",
        &cfg,
        "-o",
        "jsonl",
    ]);
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
