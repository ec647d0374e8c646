//! A throw-away root file system for tests that must never reach the real host: the plinth
//! binary and its shared libraries copied into a temp dir, canary files in every system
//! directory, and plinth run chrooted into it in private mount, network and PID namespaces
//! (`unshare --root`). Even a plinth that deletes "/" only deletes the jail, and the canaries
//! say so. Needs root (CI runs as root); without it the tests say they were skipped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Files planted in the system directories; none may change.
const CANARIES: &[&str] = &[
    "canary-at-root",
    "etc/canary",
    "etc/hostname",
    "usr/share/canary",
    "usr/local/canary",
    "var/canary",
    "var/lib/canary",
    "var/log/canary",
    "var/tmp/canary",
    "home/user/canary",
    "root/canary",
    "tmp/canary",
    "srv/canary",
    "opt/canary",
    "run/canary",
];

/// A jail; dropped with its temp dir.
pub(crate) struct Jail {
    _d: tempfile::TempDir,
    /// The jail's `/` on the host.
    pub(crate) root: PathBuf,
    /// The libraries and binary copied in (they count as canaries too).
    system: Vec<PathBuf>,
}

impl Jail {
    /// A fresh jail, or `None` (with a note on stderr) when this process is not root or
    /// `unshare` is missing.
    pub(crate) fn new(test: &str) -> Option<Jail> {
        let root_user = fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
        });
        let have_unshare = Command::new("unshare")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !root_user || !have_unshare {
            eprintln!("SKIPPED {test}: needs root and unshare (util-linux) for a chroot jail");
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        fs::create_dir(&root).unwrap();
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_plinth"));
        let mut system = vec![PathBuf::from("plinth")];
        fs::copy(&bin, root.join("plinth")).unwrap();
        // The dynamic loader and libraries, at the same paths inside.
        let ldd = Command::new("ldd").arg(&bin).output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let lib = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(lib) = lib {
                let rel = lib.strip_prefix("/").unwrap().to_path_buf();
                let dst = root.join(&rel);
                fs::create_dir_all(dst.parent().unwrap()).unwrap();
                fs::copy(&lib, &dst).unwrap();
                system.push(rel);
            }
        }
        for c in CANARIES {
            let p = root.join(c);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, canary_text(c)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        Some(Jail {
            _d: d,
            root,
            system,
        })
    }

    /// Writes a file inside the jail (path relative to its `/`).
    pub(crate) fn write(&self, rel: &str, body: &str) {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }

    /// The jail's view of `/rel` on the host.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Runs `/plinth args...` inside the jail, stdin closed.
    pub(crate) fn plinth(&self, args: &[&str]) -> Output {
        Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--propagation",
                "private",
            ])
            .arg(format!("--root={}", self.root.display()))
            .arg("/plinth")
            .args(args)
            .env("PLINTH_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Panics naming every canary or copied system file that changed or vanished.
    pub(crate) fn assert_canaries_intact(&self, context: &str) {
        let mut bad = Vec::new();
        for c in CANARIES {
            match fs::read_to_string(self.root.join(c)) {
                Ok(t) if t == canary_text(c) => {}
                Ok(_) => bad.push(format!("{c} (changed)")),
                Err(_) => bad.push(format!("{c} (gone)")),
            }
        }
        for s in &self.system {
            if !self.root.join(s).exists() {
                bad.push(format!("{} (gone)", s.display()));
            }
        }
        assert!(
            bad.is_empty(),
            "{context}: files outside plinth's were touched: {bad:?}"
        );
    }

    /// Every file under the jail's `rel` (relative, sorted).
    pub(crate) fn files(&self, rel: &str) -> Vec<String> {
        crate::util::files_under(&self.root.join(rel))
    }
}

fn canary_text(c: &str) -> String {
    format!("canary {c}\n")
}

/// Whether `p` exists (as a file, directory or link) on the host.
pub(crate) fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}
