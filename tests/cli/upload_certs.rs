//! `init --upload-certs`: the kubeadm-certs Secret a dry run writes opens with the key the run
//! used, and a bad key stops the run before anything is written.

use base64::Engine as _;
use plinth::pki::copycerts::CertificateKey;

use crate::util::{files_under, plinth, text};

const KEY: &str = "7f0c3a9e5b1d2f4a6c8e0b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f0a";

fn config(extra: &str) -> String {
    format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n{extra}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: cp.example:6443\n"
    )
}

/// A dry run of `config(extra)` with `flags`: (tempdir, root, output).
fn run(
    extra: &str,
    flags: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, std::process::Output) {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, config(extra)).unwrap();
    let root = d.path().join("root");
    let mut args = vec![
        "init",
        "--dry-run",
        "--dry-run-dir",
        root.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        "json",
    ];
    args.extend_from_slice(flags);
    let o = plinth(&args);
    (d, root, o)
}

#[test]
fn the_uploaded_secret_opens_with_the_key_and_holds_the_ca_on_disk() {
    let (_d, root, o) = run("", &["--upload-certs", "--certificate-key", KEY]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cp = v["join"]["control_plane_command"].as_str().unwrap();
    assert!(cp.contains("--control-plane") && cp.contains(KEY), "{cp}");

    let dir = root.join("api-objects");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .ends_with("Secret_kube-system_kubeadm-certs.yaml")
        })
        .expect("a kubeadm-certs Secret in the dry run");
    let secret: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert!(
        owner["name"]
            .as_str()
            .unwrap()
            .starts_with("bootstrap-token-")
    );
    let key = CertificateKey::parse(KEY).unwrap();
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["ca.crt"].as_str().unwrap())
        .unwrap();
    let ca = std::fs::read(root.join("etc/kubernetes/pki/ca.crt")).unwrap();
    assert_eq!(key.open("ca.crt", &sealed).unwrap(), ca);
    assert!(
        CertificateKey::parse(&"1".repeat(64))
            .unwrap()
            .open("ca.crt", &sealed)
            .is_err(),
        "another key must not open it"
    );
}

#[test]
fn without_upload_certs_no_secret_and_no_key_in_the_join_command() {
    let (_d, root, o) = run("", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cp = v["join"]["control_plane_command"].as_str().unwrap();
    assert!(!cp.contains("--certificate-key"), "{cp}");
    assert!(
        !files_under(&root)
            .iter()
            .any(|f| f.contains("kubeadm-certs"))
    );
}

#[test]
fn a_bad_flag_key_is_a_usage_error_that_writes_nothing_and_does_not_echo_the_key() {
    let bad = "deadbeef-not-a-key";
    let (_d, root, o) = run("", &["--upload-certs", "--certificate-key", bad]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("64 hexadecimal digits") && !out.contains(bad),
        "{out}"
    );
    assert!(files_under(&root).is_empty(), "{:?}", files_under(&root));
}

#[test]
fn a_bad_config_key_names_the_field_and_writes_nothing() {
    let (_d, root, o) = run("certificateKey: abc123\n", &["--upload-certs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("certificateKey") && out.contains("64 hexadecimal digits"),
        "{out}"
    );
    assert!(!out.contains("abc123"), "the key is never repeated: {out}");
    assert!(!root.exists() || files_under(&root).is_empty());
}
