//! Crash safety (issue #11): a run killed with SIGKILL at any point must not block the next
//! one. The next run removes plinth's stale temp files, completes a key left without its
//! certificate, and ends with a PKI in which every certificate matches its key and verifies
//! against its CA.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{PkiSite as Site, assert_pki_consistent, temp_files_under, text};

/// The shared site, plus what the crash tests do with it.
trait CrashSite {
    fn run(&self, phase: &str) -> Output;
    fn rerun_and_check(&self, context: &str) -> String;
}

impl CrashSite for Site {
    fn run(&self, phase: &str) -> Output {
        let o = self.phase(phase).output().unwrap();
        assert!(o.status.success(), "{phase} all failed:\n{}", text(&o));
        o
    }

    /// Both phases again, without a kill: they must succeed and leave a clean, whole PKI.
    fn rerun_and_check(&self, context: &str) -> String {
        let out = text(&self.run("certs")) + &text(&self.run("kubeconfig"));
        assert_eq!(
            temp_files_under(self.dir.path()),
            Vec::<String>::new(),
            "{context}"
        );
        assert_pki_consistent(&self.path("pki"), &self.path("kc"));
        out
    }
}

/// Starts `c`, SIGKILLs it after `delay` (`Child::kill` sends SIGKILL); returns whether it
/// was still running when killed.
fn kill_after(c: &mut Command, delay: Duration) -> bool {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    running
}

/// A small seeded generator (xorshift64*), so a failing iteration can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn timed_run(site: &Site, phase: &str) -> Duration {
    let start = Instant::now();
    site.run(phase);
    start.elapsed()
}

#[test]
fn runs_killed_at_random_points_are_completed_by_the_next_run() {
    // Scale the kill points to how long an uninterrupted run takes on this machine.
    let probe = Site::new();
    let certs = timed_run(&probe, "certs").as_micros() as u64;
    let kubeconfig = timed_run(&probe, "kubeconfig").as_micros() as u64;
    let seed = 0x5eed_0011_u64;
    let mut rng = Rng(seed);
    let mut mid_run = 0;
    for i in 0..40 {
        let site = Site::new();
        let d1 = Duration::from_micros(rng.below(certs * 6 / 5));
        let d2 = Duration::from_micros(rng.below(kubeconfig * 6 / 5));
        mid_run += usize::from(kill_after(&mut site.phase("certs"), d1));
        // kubeconfig fails while the CA is missing: that is fine, it is killed or fails.
        mid_run += usize::from(kill_after(&mut site.phase("kubeconfig"), d2));
        site.rerun_and_check(&format!(
            "iteration {i} (seed {seed:#x}, kills after {d1:?} and {d2:?})"
        ));
    }
    eprintln!(
        "{mid_run} of 80 kills landed mid-run (certs {certs} µs, kubeconfig {kubeconfig} µs)"
    );
    assert!(mid_run >= 10, "only {mid_run} of 80 kills landed mid-run");
}

/// Writes `name` with plinth's temp-file naming into `dir`.
fn stale_temp(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!(".{name}.Ab3xYz.tmp")), "half a file").unwrap();
}

#[test]
fn what_a_killed_run_leaves_does_not_block_the_next_run() {
    let site = Site::new();
    site.run("certs");
    let pki = site.path("pki");
    // Killed between key and certificate: a leaf key, and a CA key before anything it signs.
    std::fs::remove_file(pki.join("apiserver.crt")).unwrap();
    let apiserver_key = std::fs::read(pki.join("apiserver.key")).unwrap();
    for f in [
        "etcd/ca.crt",
        "etcd/server.crt",
        "etcd/server.key",
        "etcd/peer.crt",
        "etcd/peer.key",
        "etcd/healthcheck-client.crt",
        "etcd/healthcheck-client.key",
        "apiserver-etcd-client.crt",
        "apiserver-etcd-client.key",
    ] {
        std::fs::remove_file(pki.join(f)).unwrap();
    }
    let etcd_ca_key = std::fs::read(pki.join("etcd/ca.key")).unwrap();
    // Killed inside write_atomic: temp files in every directory a run writes.
    stale_temp(&pki, "apiserver.crt");
    stale_temp(&pki.join("etcd"), "ca.crt");
    stale_temp(&site.path("kc"), "admin.conf");
    // A user's file that only looks similar stays.
    std::fs::write(pki.join(".notes.tmp"), "mine").unwrap();

    // The certs run sweeps only the certificate directories; the kubeconfig run its own.
    let out = text(&site.run("certs"));
    assert!(
        out.contains("Removed 2 stale temporary files left by an interrupted run"),
        "{out}"
    );
    assert!(pki.join(".notes.tmp").exists(), "not plinth's: kept");
    std::fs::remove_file(pki.join(".notes.tmp")).unwrap();
    let out = site.rerun_and_check("after simulated kills");
    assert!(
        out.contains("Removed 1 stale temporary file left by an interrupted run"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(pki.join("apiserver.key")).unwrap(),
        apiserver_key
    );
    assert_eq!(std::fs::read(pki.join("etcd/ca.key")).unwrap(), etcd_ca_key);
}
