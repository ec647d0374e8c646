//! Issue #11, safety first: a typo in a config must never destroy a host. Every case runs the
//! real binary in a chroot jail (tests/cli/jail.rs) with canary files in the system
//! directories, so a regression deletes only the jail, and the canaries catch it.

use crate::jail::{Jail, exists};
use crate::util::text;

const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.77.0.10\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///run/containerd/containerd.sock\n";

fn cluster(extra: &str) -> String {
    format!(
        "{INIT}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.2\nencryptionAlgorithm: ECDSA-P256\n{extra}"
    )
}

/// The configs that emptied a root file system (or /etc, /var) through `reset --force`, each
/// with the field and line the error must name.
const WRECKERS: &[(&str, &str, u64)] = &[
    ("certificatesDir: \"/\"\n", "certificatesDir", 13),
    ("certificatesDir: \"\"\n", "certificatesDir", 13),
    ("certificatesDir: \".\"\n", "certificatesDir", 13),
    ("certificatesDir: etc\n", "certificatesDir", 13),
    (
        "etcd:\n  local:\n    dataDir: \"/\"\n",
        "etcd.local.dataDir",
        15,
    ),
    (
        "etcd:\n  local:\n    dataDir: \"\"\n",
        "etcd.local.dataDir",
        15,
    ),
    (
        "etcd:\n  local:\n    dataDir: /var\n",
        "etcd.local.dataDir",
        15,
    ),
    (
        "etcd:\n  local:\n    dataDir: /var/lib/etcd/../../..\n",
        "etcd.local.dataDir",
        15,
    ),
];

#[test]
fn reset_refuses_configs_that_would_empty_system_directories_and_removes_nothing() {
    let Some(j) = Jail::new("reset_refuses_configs_that_would_empty_system_directories") else {
        return;
    };
    j.write("etc/kubernetes/admin.conf", "kubeadm's admin.conf\n");
    for (extra, field, line) in WRECKERS {
        j.write("cfg.yaml", &cluster(extra));
        for mode in ["--force", "--dry-run"] {
            let o = j.plinth(&["reset", mode, "--config", "/cfg.yaml"]);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(2), "{extra} {mode}: {t}");
            assert!(
                t.contains(&format!("/cfg.yaml:{line}")) && t.contains(field),
                "{extra} {mode}: the error must name file, line and field: {t}"
            );
            assert!(!t.contains("Would delete"), "{extra} {mode}: {t}");
            j.assert_canaries_intact(&format!("reset {mode} with {extra}"));
            assert!(exists(&j.path("etc/kubernetes/admin.conf")), "{extra}");
        }
    }
    // A ResetConfiguration with an empty certificatesDir.
    j.write(
        "reset.yaml",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\ncertificatesDir: \"\"\n",
    );
    let o = j.plinth(&["reset", "--force", "--config", "/reset.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("ResetConfiguration.certificatesDir"));
    j.assert_canaries_intact("ResetConfiguration certificatesDir \"\"");
}

#[test]
fn flags_and_manifests_get_the_same_path_policy() {
    let Some(j) = Jail::new("flags_and_manifests_get_the_same_path_policy") else {
        return;
    };
    for args in [
        &["reset", "--force", "--cert-dir", "/"][..],
        &["reset", "--force", "--kubeconfig-dir", "/etc"],
        &["reset", "--force", "--cert-dir", "/etc/kubernetes/../.."],
    ] {
        let o = j.plinth(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        j.assert_canaries_intact(&format!("{args:?}"));
    }
    // Without a config, reset reads etcd's data dir (as kubeadm does) and the PKI directory from
    // this node's manifests: both are checked like any other input.
    for (component, image, flag) in [
        ("etcd", "etcd:3.7.0-0", "--data-dir=/var"),
        (
            "kube-apiserver",
            "kube-apiserver:v1.37.2",
            "--client-ca-file=/ca.crt",
        ),
    ] {
        let manifest = format!("etc/kubernetes/manifests/{component}.yaml");
        j.write(
            &manifest,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {component}\n  namespace: kube-system\nspec:\n  containers:\n  - name: {component}\n    image: registry.k8s.io/{image}\n    command:\n    - {component}\n    - {flag}\n"
            ),
        );
        let o = j.plinth(&["reset", "--force"]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flag}: {t}");
        let name = flag.split('=').next().unwrap();
        assert!(t.contains(name) && t.contains("nothing was removed"), "{t}");
        assert!(exists(&j.path(&manifest)));
        j.assert_canaries_intact(&format!("{component} manifest with {flag}"));
        std::fs::remove_file(j.path(&manifest)).unwrap();
    }
}

#[test]
fn a_dry_run_never_writes_outside_its_directory() {
    let Some(j) = Jail::new("a_dry_run_never_writes_outside_its_directory") else {
        return;
    };
    j.write(
        "cfg.yaml",
        &cluster("certificatesDir: /../../../../../../../../etc/kubernetes/escaped-pki\n"),
    );
    let o = j.plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        "/dry",
        "--config",
        "/cfg.yaml",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("certificatesDir") && t.contains("/etc/kubernetes/escaped-pki"),
        "{t}"
    );
    assert!(!exists(&j.path("etc/kubernetes/escaped-pki")));
    assert!(j.files("dry").is_empty(), "{:?}", j.files("dry"));
    j.assert_canaries_intact("dry run with an escaping certificatesDir");

    // A good dry run: everything under its directory, which is private.
    j.write("cfg.yaml", &cluster(""));
    let o = j.plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        "/dry2",
        "--config",
        "/cfg.yaml",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        j.files("dry2")
            .iter()
            .any(|f| f == "etc/kubernetes/pki/ca.key")
    );
    assert!(!exists(&j.path("etc/kubernetes")));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(j.path("dry2"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    j.assert_canaries_intact("good dry run");
}

#[test]
fn symlinked_directories_are_refused_unless_allowed() {
    let Some(j) = Jail::new("symlinked_directories_are_refused_unless_allowed") else {
        return;
    };
    j.write("cfg.yaml", &cluster(""));
    j.write("elsewhere/users-file", "mine\n");
    std::fs::create_dir_all(j.path("etc/kubernetes")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", j.path("etc/kubernetes/pki")).unwrap();

    let o = j.plinth(&["init", "phase", "certs", "all", "--config", "/cfg.yaml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("symbolic link") && t.contains("--allow-symlinks"),
        "{t}"
    );
    assert_eq!(j.files("elsewhere"), vec!["users-file"]);

    let o = j.plinth(&["reset", "--force", "--config", "/cfg.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(j.files("elsewhere"), vec!["users-file"]);

    // Opting in writes through the link, as asked.
    let o = j.plinth(&[
        "init",
        "phase",
        "certs",
        "all",
        "--config",
        "/cfg.yaml",
        "--allow-symlinks",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(j.files("elsewhere").iter().any(|f| f == "ca.key"));
    j.assert_canaries_intact("symlinked pki");
}

/// Files of a user's next to plinth's, planted before and after init.
const USER_FILES: &[&str] = &[
    "etc/kubernetes/pki/ca.key.backup",
    "etc/kubernetes/pki/custom/x",
    "etc/kubernetes/manifests/my-static-pod.yaml",
    "var/lib/kubelet/my-notes",
    "var/lib/etcd/backup.db",
    "etc/kubernetes/bootstrap-kubelet.conf",
    "etc/kubernetes/notes.txt",
];

#[test]
fn reset_removes_what_plinth_wrote_and_leaves_the_users_files() {
    let Some(j) = Jail::new("reset_removes_what_plinth_wrote_and_leaves_the_users_files") else {
        return;
    };
    j.write("cfg.yaml", &cluster(""));
    // Present before init: plinth must not adopt it.
    j.write("etc/kubernetes/bootstrap-kubelet.conf", "the user's own\n");
    for phase in [
        &["certs", "all"][..],
        &["kubeconfig", "all"],
        &["etcd", "local"],
        &["control-plane", "all"],
    ] {
        let mut args = vec!["init", "phase"];
        args.extend_from_slice(phase);
        args.extend_from_slice(&["--config", "/cfg.yaml"]);
        let o = j.plinth(&args);
        assert!(o.status.success(), "{phase:?}: {}", text(&o));
    }
    // What plinth's kubelet files and etcd would make: kubelet.config written by plinth, the
    // kubelet's own state, etcd's data.
    let o = j.plinth(&[
        "init",
        "phase",
        "kubelet-start",
        "--config",
        "/cfg.yaml",
        "--skip-phases",
        "preflight",
    ]);
    let kubelet_written = o.status.success() && exists(&j.path("var/lib/kubelet/config.yaml"));
    j.write(
        "var/lib/kubelet/pki/kubelet-client-current.pem",
        "kubelet's\n",
    );
    j.write("var/lib/kubelet/pods/abc/volumes/x", "kubelet's\n");
    j.write("var/lib/etcd/member/snap/db", "etcd's\n");
    for f in USER_FILES {
        if !exists(&j.path(f)) {
            j.write(f, "the user's own\n");
        }
    }
    assert!(exists(&j.path("etc/kubernetes/pki/etcd/ca.key")));

    let o = j.plinth(&["reset", "--dry-run", "--config", "/cfg.yaml"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Would delete from /etc/kubernetes/pki"), "{t}");
    assert!(
        t.contains("Left in place") && t.contains("ca.key.backup"),
        "{t}"
    );
    assert!(
        exists(&j.path("etc/kubernetes/pki/ca.key")),
        "dry run removed a file"
    );

    for round in 1..=2 {
        let o = j.plinth(&["reset", "--force", "--config", "/cfg.yaml"]);
        let t = text(&o);
        assert!(o.status.success(), "round {round}: {t}");
        for f in USER_FILES {
            assert!(exists(&j.path(f)), "round {round}: {f} was deleted: {t}");
        }
        for gone in [
            "etc/kubernetes/pki/ca.key",
            "etc/kubernetes/pki/etcd",
            "etc/kubernetes/admin.conf",
            "etc/kubernetes/super-admin.conf",
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            "etc/kubernetes/manifests/etcd.yaml",
            "var/lib/etcd/member",
        ] {
            assert!(
                !exists(&j.path(gone)),
                "round {round}: {gone} is still there"
            );
        }
        if kubelet_written {
            for gone in [
                "var/lib/kubelet/config.yaml",
                "var/lib/kubelet/pods",
                "var/lib/kubelet/pki/kubelet-client-current.pem",
            ] {
                assert!(
                    !exists(&j.path(gone)),
                    "round {round}: {gone} is still there"
                );
            }
        }
        // Kept, as kubeadm keeps them.
        for kept in [
            "etc/kubernetes/pki",
            "etc/kubernetes/manifests",
            "var/lib/etcd",
        ] {
            assert!(j.path(kept).is_dir(), "round {round}: {kept}");
        }
        assert!(t.contains("Left in place"), "round {round}: {t}");
        j.assert_canaries_intact(&format!("reset round {round}"));
    }

    // --all cleans kubeadm's directories whole, and still nothing outside them.
    let o = j.plinth(&["reset", "--force", "--all", "--config", "/cfg.yaml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(j.files("etc/kubernetes/pki").is_empty());
    assert!(!exists(&j.path("etc/kubernetes/bootstrap-kubelet.conf")));
    assert!(
        exists(&j.path("etc/kubernetes/notes.txt")),
        "not on kubeadm's list"
    );
    j.assert_canaries_intact("reset --all");
}

#[test]
fn a_kubeadm_host_without_ledgers_gets_kubeadms_cleanup_list() {
    let Some(j) = Jail::new("a_kubeadm_host_without_ledgers_gets_kubeadms_cleanup_list") else {
        return;
    };
    for f in [
        "etc/kubernetes/admin.conf",
        "etc/kubernetes/pki/ca.crt",
        "etc/kubernetes/pki/etcd/ca.key",
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        "var/lib/kubelet/config.yaml",
        "var/lib/etcd/member/snap/db",
        "etc/kubernetes/notes.txt",
    ] {
        j.write(f, "kubeadm's\n");
    }
    let o = j.plinth(&["reset", "--force"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("No plinth ledger") && t.contains("kubeadm"),
        "{t}"
    );
    assert!(j.files("etc/kubernetes/pki").is_empty());
    assert!(j.files("var/lib/etcd").is_empty());
    assert!(!exists(&j.path("etc/kubernetes/admin.conf")));
    assert!(exists(&j.path("etc/kubernetes/notes.txt")));
    j.assert_canaries_intact("kubeadm host reset");
}
