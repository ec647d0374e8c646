//! `plinth init` pre-flight on a dry-run tree: foreign files stop init before anything is
//! written, `--ignore-preflight-errors` turns them into warnings, and plinth's own files pass.

use std::path::Path;

use crate::util::{files_under, plinth, text};

const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n";

const SCHEDULER: &str = "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml";
const ETCD_DIR: &str = "DirAvailable--var-lib-etcd";

struct Host {
    _d: tempfile::TempDir,
    cfg: String,
    root: String,
}

impl Host {
    /// A dry-run tree holding a scheduler manifest and etcd data that plinth did not write.
    fn foreign() -> Self {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("c.yaml");
        std::fs::write(&cfg, CONFIG).unwrap();
        let root = d.path().join("root");
        for (rel, body) in [
            (
                "etc/kubernetes/manifests/kube-scheduler.yaml",
                "someone else's",
            ),
            ("var/lib/etcd/member/snap/db", "old data"),
        ] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        Host {
            cfg: cfg.to_str().unwrap().into(),
            root: root.to_str().unwrap().into(),
            _d: d,
        }
    }

    fn init(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "init",
            "--dry-run",
            "--dry-run-dir",
            &self.root,
            "--config",
            &self.cfg,
        ];
        args.extend_from_slice(extra);
        plinth(&args)
    }

    fn files(&self) -> Vec<String> {
        files_under(Path::new(&self.root))
    }
}

#[test]
fn foreign_files_fail_preflight_with_exit_1_and_nothing_is_written() {
    let h = Host::foreign();
    let before = h.files();
    let o = h.init(&[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("[preflight] Running pre-flight checks"), "{t}");
    // One message listing every error, then how to ignore them.
    for line in [
        format!(
            "\t[ERROR {SCHEDULER}]: /etc/kubernetes/manifests/kube-scheduler.yaml already exists and was not written by plinth"
        ),
        format!("\t[ERROR {ETCD_DIR}]: /var/lib/etcd is not empty"),
        format!("--ignore-preflight-errors={SCHEDULER},{ETCD_DIR}"),
    ] {
        assert!(t.contains(&line), "missing {line:?} in:\n{t}");
    }
    assert!(t.contains("error: phase preflight failed"), "{t}");
    assert_eq!(h.files(), before, "nothing may be written");

    // The same failure, machine-readable.
    let o = h.init(&["-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["phases"].as_array().unwrap().len(), 1);
    assert!(v["error"].as_str().unwrap().contains(SCHEDULER), "{v}");
    assert_eq!(h.files(), before);
}

#[test]
fn ignored_errors_are_warnings_and_the_re_run_recognises_plinth_s_files() {
    let h = Host::foreign();
    // Names are case-insensitive, as in kubeadm.
    let o = h.init(&[
        "--ignore-preflight-errors",
        &format!("{},{ETCD_DIR}", SCHEDULER.to_uppercase()),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "\t[WARNING {SCHEDULER}]: /etc/kubernetes/manifests/kube-scheduler.yaml already exists"
        )),
        "{t}"
    );
    assert!(t.contains("[control-plane] Creating static Pod manifest for \"kube-scheduler\""));

    // plinth wrote every manifest now: a re-run passes without ignoring anything, and the
    // etcd data belongs to the etcd whose manifest plinth wrote.
    let o = h.init(&[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for line in [
        "[preflight] /etc/kubernetes/manifests/kube-scheduler.yaml is this host's plinth manifest for kube-scheduler",
        "[preflight] /var/lib/etcd holds the data of this host's plinth etcd",
        "[control-plane] Static Pod manifest for \"kube-scheduler\" is unchanged",
    ] {
        assert!(t.contains(line), "missing {line:?} in:\n{t}");
    }
    assert!(!t.contains("[ERROR"), "{t}");

    // Someone edits a manifest: it is foreign again.
    let sched = Path::new(&h.root).join("etc/kubernetes/manifests/kube-scheduler.yaml");
    std::fs::write(&sched, "edited").unwrap();
    let o = h.init(&[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("was changed since plinth wrote it"), "{t}");
    assert_eq!(std::fs::read_to_string(&sched).unwrap(), "edited");
}

#[test]
fn all_ignores_everything_and_cannot_be_mixed_with_names() {
    let h = Host::foreign();
    let before = h.files();
    let o = h.init(&["--ignore-preflight-errors=all,Swap"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("don't specify individual checks if 'all' is used"),
        "{t}"
    );
    assert_eq!(h.files(), before);

    // `all` from the config file works like the flag.
    let cfg = format!("{CONFIG}  ignorePreflightErrors:\n  - all\n");
    std::fs::write(&h.cfg, cfg).unwrap();
    let o = h.init(&[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(&format!("[WARNING {ETCD_DIR}]")), "{t}");
}

#[test]
fn the_preflight_phase_runs_alone_and_writes_nothing() {
    let h = Host::foreign();
    let before = h.files();
    let o = plinth(&[
        "init",
        "phase",
        "preflight",
        "--dry-run",
        "--dry-run-dir",
        &h.root,
        "--config",
        &h.cfg,
        "--ignore-preflight-errors",
        &format!("{SCHEDULER},{ETCD_DIR},NoSuchCheck"),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("[certs]"), "{t}");
    assert!(
        t.contains(
            "ignoring \"nosuchcheck\" has no effect: no pre-flight check of this run has that name"
        ),
        "{t}"
    );
    assert_eq!(h.files(), before);
}
