//! `plinth reset` on a re-rooted host tree: removes what init wrote, keeps directories and user
//! files, runs twice, refuses without confirmation.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use crate::util::{files_under, plinth, text};

const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\ntimeouts:\n  controlPlaneComponentHealthCheck: 2s\n";

fn populate(root: &Path) {
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    };
    for f in [
        "admin.conf",
        "super-admin.conf",
        "kubelet.conf",
        "controller-manager.conf",
        "scheduler.conf",
    ] {
        w(&format!("etc/kubernetes/{f}"), "kubeconfig");
    }
    w("etc/kubernetes/manifests/etcd.yaml", "pod");
    w("etc/kubernetes/manifests/kube-apiserver.yaml", "pod");
    w("etc/kubernetes/pki/ca.crt", "cert");
    w("etc/kubernetes/pki/etcd/ca.key", "key");
    w("var/lib/kubelet/config.yaml", "kubelet");
    w("var/lib/etcd/member/snap/db", "data");
    // plinth's ledgers of the files it wrote: reset removes what they list, and them.
    w(
        "etc/kubernetes/manifests/.plinth-owned",
        "{\"files\":{\"etcd.yaml\":[],\"kube-apiserver.yaml\":[]}}",
    );
    w(
        "var/lib/kubelet/.plinth-owned",
        "{\"files\":{\"config.yaml\":[]}}",
    );
    w(
        "etc/kubernetes/pki/.plinth-owned",
        "{\"files\":{\"ca.crt\":[]}}",
    );
    w(
        "etc/kubernetes/pki/etcd/.plinth-owned",
        "{\"created\":true,\"files\":{\"ca.key\":[]}}",
    );
    w(
        "etc/kubernetes/.plinth-owned",
        "{\"files\":{\"admin.conf\":[],\"super-admin.conf\":[],\"kubelet.conf\":[],\"controller-manager.conf\":[],\"scheduler.conf\":[]}}",
    );
    // Files plinth did not create, next to the ones it did.
    w("etc/kubernetes/notes.txt", "mine");
    w(
        "etc/kubernetes/tmp/keep-me",
        "tmp is only cleaned with --cleanup-tmp-dir",
    );
    w("etc/cni/net.d/10-net.conf", "cni");
}

fn reset(root: &Path, cfg: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "reset",
        "--root",
        root.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    crate::util::plinth_command()
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn reset_removes_what_init_wrote_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("host");
    populate(&root);
    let cfg = d.path().join("reset.yaml");
    fs::write(&cfg, CONFIG).unwrap();

    let o = reset(&root, &cfg, &["--force"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("that plinth wrote or configured"), "{t}");
    assert!(t.contains("does not clean CNI configuration"), "{t}");
    assert_eq!(
        files_under(&root),
        vec![
            "etc/cni/net.d/10-net.conf",
            "etc/kubernetes/notes.txt",
            "etc/kubernetes/tmp/keep-me"
        ]
    );
    for dir in [
        "etc/kubernetes/manifests",
        "etc/kubernetes/pki",
        "var/lib/kubelet",
        "var/lib/etcd",
    ] {
        assert!(
            root.join(dir).is_dir(),
            "{dir} must be kept (only its contents go)"
        );
    }
    // Twice is fine.
    let o = reset(&root, &cfg, &["--force"]);
    assert!(o.status.success(), "{}", text(&o));
    // --cleanup-tmp-dir also empties /etc/kubernetes/tmp.
    let o = reset(&root, &cfg, &["--force", "--cleanup-tmp-dir"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        files_under(&root),
        vec!["etc/cni/net.d/10-net.conf", "etc/kubernetes/notes.txt"]
    );
}

#[test]
fn reset_without_confirmation_refuses_and_removes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("host");
    populate(&root);
    let before = files_under(&root);
    let cfg = d.path().join("reset.yaml");
    fs::write(&cfg, CONFIG).unwrap();
    let o = reset(&root, &cfg, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(files_under(&root), before);
}

#[test]
fn reset_dry_run_lists_and_removes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("host");
    populate(&root);
    let before = files_under(&root);
    let cfg = d.path().join("reset.yaml");
    fs::write(&cfg, CONFIG).unwrap();
    let o = reset(&root, &cfg, &["--dry-run"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Would delete from"), "{t}");
    assert!(t.contains("admin.conf"), "{t}");
    assert_eq!(files_under(&root), before);
}

#[test]
fn reset_rejects_a_bad_config_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("reset.yaml");
    fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nforce: maybe\n",
    )
    .unwrap();
    let o = plinth(&[
        "reset",
        "--config",
        cfg.to_str().unwrap(),
        "--root",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains(":3:"), "{}", text(&o));
}

#[test]
fn reset_reads_its_config_through_the_bounded_reader() {
    let d = tempfile::tempdir().unwrap();
    // /dev/zero never ends: the old reader grew without bound; refused before reading now.
    let o = plinth(&[
        "reset",
        "--force",
        "--config",
        "/dev/zero",
        "--root",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("/dev/zero"), "{}", text(&o));
}
