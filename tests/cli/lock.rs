//! One plinth at a time per host (issue #11): a second run waits, then refuses naming the
//! holder and writes nothing; config errors and dry runs do not wait; `reset --root DIR` locks
//! under DIR; two runs started at once never leave certificates of two different CAs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plinth::host::lock::{self, LOCK_WAIT};

use crate::util::{LOCK_FILE_ENV, assert_pki_consistent, plinth_command, text};

/// ECDSA-P256 keeps each run short, so the two runs overlap as a whole.
const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P256\n";

const REFUSED: &str = "another plinth is running on this host: ";

/// A temp dir with `config.yaml`, the PKI in `pki/`, kubeconfigs in the dir itself, and one
/// lock file that every run started from it shares.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
        Site { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn lock_file(&self) -> PathBuf {
        self.path("plinth.lock")
    }

    /// `plinth init phase <phase> all` on this site, sharing its lock file.
    fn phase(&self, phase: &str) -> Command {
        let mut c = plinth_command();
        c.env(LOCK_FILE_ENV, self.lock_file())
            .args(["init", "phase", phase, "all", "--config"])
            .arg(self.path("config.yaml"))
            .arg("--cert-dir")
            .arg(self.path("pki"))
            .arg("--kubeconfig-dir")
            .arg(self.dir.path());
        c
    }

    /// Holds the site's lock as `plinth init phase certs all` would.
    fn hold(&self) -> lock::HostLock {
        hold(&self.lock_file())
    }
}

fn hold(path: &Path) -> lock::HostLock {
    let argv = ["/usr/local/bin/plinth", "init", "phase", "certs", "all"].map(String::from);
    lock::acquire(path, &argv, Duration::ZERO).unwrap()
}

fn timed(c: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let o = c.output().unwrap();
    (o, start.elapsed())
}

#[test]
fn a_second_run_waits_then_refuses_naming_the_holder_and_writes_nothing() {
    let site = Site::new();
    let held = site.hold();
    let (o, took) = timed(&mut site.phase("certs"));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let want = format!(
        "{REFUSED}PID {} `plinth init phase certs all`, since ",
        std::process::id()
    );
    assert!(t.contains(&want), "{t}");
    assert!(t.contains(" UTC (lock file "), "{t}");
    assert!(
        t.contains("wait for it to finish (or, if no such process exists, the lock is stale"),
        "{t}"
    );
    assert!(took >= LOCK_WAIT - Duration::from_millis(200), "{took:?}");
    assert!(!site.path("pki").exists(), "nothing may be written: {t}");

    drop(held);
    let o = site.phase("certs").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_pki_consistent(&site.path("pki"), site.dir.path());
}

#[test]
fn config_errors_and_dry_runs_do_not_wait_for_the_lock() {
    let site = Site::new();
    let _held = site.hold();
    std::fs::write(site.path("bad.yaml"), "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  nmae: x\n").unwrap();
    let (o, took) = timed(
        plinth_command()
            .env(LOCK_FILE_ENV, site.lock_file())
            .args(["init", "phase", "certs", "all", "--config"])
            .arg(site.path("bad.yaml")),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains(REFUSED), "{}", text(&o));
    assert!(
        took < LOCK_WAIT,
        "a config error is reported at once: {took:?}"
    );

    let (o, took) = timed(
        site.phase("certs")
            .arg("--dry-run")
            .arg("--dry-run-dir")
            .arg(site.path("dry")),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(took < LOCK_WAIT, "a dry run takes no lock: {took:?}");
    assert!(!site.path("pki").exists());
}

#[test]
fn reset_takes_the_lock_under_its_root() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("host");
    let admin = root.join("etc/kubernetes/admin.conf");
    std::fs::create_dir_all(admin.parent().unwrap()).unwrap();
    std::fs::write(&admin, "x").unwrap();
    // Without the variable, `--root DIR` puts the lock at DIR/run/plinth.lock.
    let _held = hold(&root.join("run/plinth.lock"));
    let (o, took) = timed(
        plinth_command()
            .env_remove(LOCK_FILE_ENV)
            .args(["reset", "--force", "--root"])
            .arg(&root)
            .stdin(Stdio::null()),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains(REFUSED) && t.contains("plinth.lock"), "{t}");
    assert!(took >= LOCK_WAIT - Duration::from_millis(200), "{took:?}");
    assert!(admin.exists(), "nothing may be removed");
}

#[test]
fn two_runs_at_once_finish_or_refuse_and_never_mix_their_pki() {
    let mut contended = 0;
    for i in 0..20 {
        let site = Site::new();
        let spawn = || {
            site.phase("certs")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            let t = text(&o);
            if o.status.success() {
                if t.contains("Waited ") && t.contains("s for another plinth to finish (PID ") {
                    contended += 1;
                }
            } else {
                assert_eq!(o.status.code(), Some(1), "iteration {i}: {t}");
                assert!(t.contains(REFUSED), "iteration {i}: {t}");
                contended += 1;
            }
        }
        assert_pki_consistent(&site.path("pki"), site.dir.path());
        // And the result is one whole PKI that a third run reuses.
        let o = site.phase("certs").output().unwrap();
        assert!(o.status.success(), "iteration {i}: {}", text(&o));
    }
    eprintln!("{contended} of 40 runs waited or were refused");
    assert!(
        contended > 0,
        "in 20 pairs of simultaneous runs, none waited for or was refused by the other"
    );
}
