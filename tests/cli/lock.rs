//! One plinth at a time per host (issue #11): a second run waits, then refuses naming the
//! holder and writes nothing; config errors and dry runs do not wait; `reset --root DIR` locks
//! under DIR; two runs started at once never leave certificates of two different CAs.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plinth::host::lock::{self, LOCK_WAIT};

use crate::util::{LOCK_FILE_ENV, PkiSite as Site, assert_pki_consistent, plinth_command, text};

const REFUSED: &str = "another plinth is running on this host: ";

/// Holds the lock at `path` as `plinth init phase certs all` would.
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
    let held = hold(&site.lock_file());
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
    assert_pki_consistent(&site.path("pki"), &site.path("kc"));
}

#[test]
fn config_errors_and_dry_runs_do_not_wait_for_the_lock() {
    let site = Site::new();
    let _held = hold(&site.lock_file());
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
        assert_pki_consistent(&site.path("pki"), &site.path("kc"));
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
