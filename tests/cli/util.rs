//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable that moves plinth's host lock (`host::lock::LOCK_FILE_ENV`).
pub(crate) const LOCK_FILE_ENV: &str = "PLINTH_LOCK_FILE";

/// A fresh lock-file path for one plinth child. The tests run many plinth processes at once
/// against separate temp dirs: sharing the host's `/run/plinth.lock` would make them wait for
/// (and refuse) each other, and tests must not touch the host's `/run` at all.
pub(crate) fn own_lock_file() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-locks");
    std::fs::create_dir_all(&dir).expect("the test lock directory can be created");
    dir.join(format!(
        "{}-{}.lock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The plinth binary with a lock file of its own; a test that needs a shared lock sets
/// [`LOCK_FILE_ENV`] again on the returned command.
pub(crate) fn plinth_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plinth"));
    c.env(LOCK_FILE_ENV, own_lock_file());
    c
}

/// Runs the plinth binary with `args` (and its own lock file, removed afterwards).
pub(crate) fn plinth(args: &[&str]) -> Output {
    let lock = own_lock_file();
    let out = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .env(LOCK_FILE_ENV, &lock)
        .args(args)
        .output()
        .expect("plinth runs");
    let _ = std::fs::remove_file(lock);
    out
}

/// stdout + stderr as one string.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` (relative paths, sorted).
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every `*.tmp` file under `dir` (plinth's temp files are hidden `.<name>.<random>.tmp`).
pub(crate) fn temp_files_under(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|f| f.ends_with(".tmp"))
        .collect()
}

/// Checks what `init phase certs all` and `kubeconfig all` left: every certificate present in
/// `cert_dir` matches its key and is signed by its CA (CAs by themselves), `sa.pub` matches
/// `sa.key`, and every kubeconfig in `kubeconfig_dir` embeds `ca.crt` and a client certificate
/// it signed that matches the embedded key. Panics naming the first bad file.
pub(crate) fn assert_pki_consistent(cert_dir: &Path, kubeconfig_dir: &Path) {
    use plinth::pki::{self, CERTS};
    for spec in CERTS.iter() {
        let crt = cert_dir.join(spec.cert_file());
        let key = cert_dir.join(spec.key_file());
        if !crt.exists() {
            assert!(!key.exists(), "{} has no certificate", key.display());
            continue;
        }
        let cert = pki::load_cert(&crt).unwrap();
        let k = pki::load_key(&key).unwrap_or_else(|e| panic!("{}: {e}", key.display()));
        assert!(
            cert.matches_key(&k),
            "{} does not match its key",
            crt.display()
        );
        let ca_path = cert_dir.join(spec.ca_spec().unwrap_or(spec).cert_file());
        let ca = pki::load_cert(&ca_path).unwrap();
        assert!(
            cert.is_signed_by(&ca),
            "{} does not verify against {}",
            crt.display(),
            ca_path.display()
        );
    }
    let sa_key = cert_dir.join(pki::SA_KEY_FILE);
    if sa_key.exists() {
        let k = pki::load_key(&sa_key).unwrap();
        let pub_pem = std::fs::read_to_string(cert_dir.join(pki::SA_PUB_FILE)).unwrap();
        assert_eq!(pub_pem, k.public_key_pem(), "sa.pub does not match sa.key");
    }
    for spec in plinth::kubeconfig::KUBECONFIGS.iter() {
        let path = kubeconfig_dir.join(spec.file);
        if !path.exists() {
            continue;
        }
        let kc = plinth::kubeconfig::read_kubeconfig(&path).unwrap();
        let (_, cluster, user) = kc.current().unwrap();
        let data = |d: &str, f| plinth::kubeconfig::decode_data(d, f, &path).unwrap();
        let ca_pem = data(
            cluster
                .unwrap()
                .cluster
                .certificate_authority_data
                .as_deref()
                .unwrap(),
            "certificate-authority-data",
        );
        assert_eq!(
            ca_pem.trim_ascii(),
            std::fs::read(cert_dir.join("ca.crt")).unwrap().trim_ascii(),
            "{} embeds another CA",
            path.display()
        );
        let user = &user.unwrap().user;
        let cert_pem = data(
            user.client_certificate_data.as_deref().unwrap(),
            "client-certificate-data",
        );
        let key_pem = data(
            user.client_key_data.as_ref().unwrap().expose(),
            "client-key-data",
        );
        let cert = pki::parse_cert_pem(&String::from_utf8_lossy(&cert_pem), &path).unwrap();
        let key = pki::parse_key_pem(&String::from_utf8_lossy(&key_pem), &path).unwrap();
        let ca = pki::load_cert(&cert_dir.join("ca.crt")).unwrap();
        assert!(
            cert.is_signed_by(&ca),
            "{}: foreign client cert",
            path.display()
        );
        assert!(cert.matches_key(&key), "{}: key mismatch", path.display());
    }
}

/// ECDSA-P256 keeps each run short (the lock test needs two runs to overlap as a whole).
pub(crate) const PKI_SITE_CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P256\n";

/// A temp dir with `config.yaml`, the PKI in `pki/`, kubeconfigs in `kc/`, and one lock file that
/// every run started from it shares (removed with the site).
pub(crate) struct PkiSite {
    pub(crate) dir: tempfile::TempDir,
}

impl PkiSite {
    pub(crate) fn new() -> PkiSite {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), PKI_SITE_CONFIG).unwrap();
        PkiSite { dir }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn lock_file(&self) -> PathBuf {
        self.path("plinth.lock")
    }

    /// `plinth init phase <phase> all` on this site, sharing its lock file.
    pub(crate) fn phase(&self, phase: &str) -> Command {
        let mut c = plinth_command();
        c.env(LOCK_FILE_ENV, self.lock_file())
            .args(["init", "phase", phase, "all", "--config"])
            .arg(self.path("config.yaml"))
            .arg("--cert-dir")
            .arg(self.path("pki"))
            .arg("--kubeconfig-dir")
            .arg(self.path("kc"));
        c
    }
}
