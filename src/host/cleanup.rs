//! Undoing what init wrote: emptying directories (keeping them), removing listed files,
//! finding mounts below a directory and checking that ports are free.
//! kubeadm: `app/cmd/phases/reset/cleanupnode.go` (`CleanDir`, `resetConfigDir`).

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kubeconfig;
use crate::manifests::Component;

/// What a cleanup step removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Paths removed (files, symlinks and whole sub-trees), sorted.
    pub paths: Vec<PathBuf>,
}

/// A cleanup step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CleanupError {
    /// Removing a path failed.
    #[error("failed to remove {}", path.display())]
    Remove {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading a directory failed.
    #[error("failed to read directory {}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Lists what [`clean_dir`] would remove: the entries of `dir` (not `dir` itself).
///
/// # Errors
/// [`CleanupError::ReadDir`] when `dir` exists but cannot be read.
pub fn dir_entries(dir: &Path) -> Result<Vec<PathBuf>, CleanupError> {
    match fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            Ok(v)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CleanupError::ReadDir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Removes everything inside `dir` and keeps `dir` (kubeadm `CleanDir`). Symlinks are removed,
/// never followed. A missing `dir` is not an error (reset twice is fine).
///
/// # Errors
/// The first removal that failed.
pub fn clean_dir(dir: &Path) -> Result<Removed, CleanupError> {
    let mut removed = Removed::default();
    for p in dir_entries(dir)? {
        remove_path(&p)?;
        removed.paths.push(p);
    }
    Ok(removed)
}

/// Removes the listed files when they exist.
///
/// # Errors
/// The first removal that failed for another reason than absence.
pub fn remove_files(files: &[PathBuf]) -> Result<Removed, CleanupError> {
    let mut removed = Removed::default();
    for f in files {
        if fs::symlink_metadata(f).is_ok() {
            remove_path(f)?;
            removed.paths.push(f.clone());
        }
    }
    Ok(removed)
}

fn remove_path(p: &Path) -> Result<(), CleanupError> {
    let err = |source| CleanupError::Remove {
        path: p.to_path_buf(),
        source,
    };
    let meta = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let r = if meta.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err(e)),
        _ => Ok(()),
    }
}

/// Whether `name` is one of the kubeconfig files kubeadm's reset deletes (kubeadm
/// `resetConfigDir`): those of the kubeconfig table and `bootstrap-kubelet.conf`.
fn is_kubeadm_kubeconfig(name: &str) -> bool {
    name == kubeconfig::BOOTSTRAP_KUBELET_FILE
        || kubeconfig::KUBECONFIGS.iter().any(|k| k.file == name)
}

/// What the kubelet writes into its root directory on its own once plinth configured and
/// started it (kubelet `pkg/kubelet/kubelet.go` `setupDataDirs`, the CPU, memory and DRA
/// managers' checkpoints, the plugin and device-plugin registries). plinth's reset removes
/// these only on a host whose kubelet files plinth wrote: they would otherwise carry a node's
/// identity and Pods into the next cluster.
pub const KUBELET_STATE: &[&str] = &[
    // Seen written by the real kubelet v1.37.2 (pod resize and image-pull bookkeeping).
    "actuated_pods_state",
    "allocated_pods_state",
    "checkpoints",
    "cpu_manager_state",
    "device-plugins",
    "dra_manager_state",
    "image_manager",
    "memory_manager_state",
    "plugins",
    "plugins_registry",
    "pod-resources",
    "pods",
    "pods-api",
    "pki",
];

/// Whether a file in the kubelet's `pki/` is one the kubelet made (serving and client
/// certificates, rotated ones included).
fn is_kubelet_pki_file(name: &str) -> bool {
    matches!(name, "kubelet.crt" | "kubelet.key")
        || (name.starts_with("kubelet-client-") || name.starts_with("kubelet-server-"))
            && name.ends_with(".pem")
}

/// kubeadm's files whose presence, without any plinth ledger, shows a host set up by kubeadm.
fn kubeadm_evidence() -> [(DirKind, String); 6] {
    [
        (DirKind::Kubeconfig, kubeconfig::ADMIN_FILE.to_string()),
        (DirKind::Kubeconfig, kubeconfig::KUBELET_FILE.to_string()),
        (DirKind::Manifests, Component::KubeApiserver.file_name()),
        (DirKind::Manifests, Component::Etcd.file_name()),
        (DirKind::Pki, crate::pki::CA.cert_file()),
        (DirKind::Kubelet, crate::kubelet::CONFIG_FILE.to_string()),
    ]
}

/// What a directory is to reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirKind {
    /// Static Pod manifests.
    Manifests,
    /// The kubeconfig directory (`/etc/kubernetes`): only its files, never its sub-directories.
    Kubeconfig,
    /// The PKI directory, with its `etcd/` sub-directory.
    Pki,
    /// The kubelet's directory.
    Kubelet,
    /// etcd's data directory.
    EtcdData,
    /// `/etc/kubernetes/tmp`, cleaned only when asked (`--cleanup-tmp-dir`).
    Tmp,
}

/// Which rule decides what reset removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// plinth's ledgers: what plinth wrote, the state of what it configured, and the directories
    /// it created. Everything else is left in place.
    Ledger,
    /// No plinth ledger, and kubeadm's files are there (the path names one): kubeadm's list.
    Kubeadm(PathBuf),
    /// `--all`: kubeadm's list whatever the ledgers say.
    All,
}

/// One directory reset looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// On-disk path.
    pub dir: PathBuf,
    /// What it is.
    pub kind: DirKind,
}

/// What reset will do in one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirPlan {
    /// The directory (on disk).
    pub dir: PathBuf,
    /// Entries to remove (files, symlinks, whole sub-trees), sorted.
    pub remove: Vec<PathBuf>,
    /// Entries left in place because plinth did not make them, sorted.
    pub left: Vec<PathBuf>,
    /// Ledgers to update afterwards: directory → names removed.
    pub forget: Vec<(PathBuf, Vec<String>)>,
    /// Sub-directories plinth (or the kubelet it configured) created, removed when empty after
    /// the rest, deepest first.
    pub rmdir_if_empty: Vec<PathBuf>,
}

/// What reset will remove and leave, decided before anything is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupPlan {
    /// The rule.
    pub scope: Scope,
    /// Per directory, in the order given.
    pub dirs: Vec<DirPlan>,
}

impl CleanupPlan {
    /// Everything that will be removed.
    pub fn removals(&self) -> impl Iterator<Item = &PathBuf> {
        self.dirs.iter().flat_map(|d| &d.remove)
    }

    /// Everything left in place.
    pub fn left(&self) -> impl Iterator<Item = &PathBuf> {
        self.dirs.iter().flat_map(|d| &d.left)
    }
}

fn names(dir: &Path) -> Result<Vec<String>, CleanupError> {
    Ok(dir_entries(dir)?
        .into_iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}

fn record(dir: &Path) -> super::owned::DirRecord {
    super::owned::dir_record(dir).unwrap_or_else(|why| {
        // An unreadable ledger proves nothing: treat the directory as not plinth's.
        tracing::warn!("{why}; leaving {} as it is", dir.display());
        super::owned::DirRecord::default()
    })
}

/// Decides what reset removes from `targets` (read-only). `skip` are other targets' paths that
/// are never listed as left in place (the PKI and manifest directories inside `/etc/kubernetes`).
///
/// # Errors
/// A directory that exists but cannot be read.
pub fn plan(targets: &[Target], all: bool) -> Result<CleanupPlan, CleanupError> {
    let by_kind = |k: DirKind| targets.iter().find(|t| t.kind == k).map(|t| t.dir.clone());
    let any_ledger = targets
        .iter()
        .filter(|t| t.kind != DirKind::EtcdData && t.kind != DirKind::Tmp)
        .any(|t| t.dir.join(super::owned::LEDGER_FILE).exists());
    let scope = if all {
        Scope::All
    } else if any_ledger {
        Scope::Ledger
    } else if let Some(p) = kubeadm_evidence().iter().find_map(|(k, f)| {
        by_kind(*k)
            .map(|d| d.join(f))
            .filter(|p| fs::symlink_metadata(p).is_ok())
    }) {
        Scope::Kubeadm(p)
    } else {
        Scope::Ledger
    };
    // plinth ran this node's etcd: its manifest is in plinth's ledger.
    let plinth_etcd = by_kind(DirKind::Manifests).is_some_and(|m| {
        let etcd = Component::Etcd.file_name();
        record(&m).files.contains(&etcd)
    });
    let skip: Vec<PathBuf> = targets.iter().map(|t| t.dir.clone()).collect();
    let mut dirs = Vec::new();
    for t in targets {
        let mut dp = DirPlan {
            dir: t.dir.clone(),
            ..DirPlan::default()
        };
        let whole = !matches!(scope, Scope::Ledger);
        match (t.kind, whole) {
            (DirKind::Kubeconfig, true) => {
                for n in names(&t.dir)? {
                    let p = t.dir.join(&n);
                    if is_kubeadm_kubeconfig(&n) || n == super::owned::LEDGER_FILE {
                        dp.remove.push(p);
                    } else if !skip.contains(&p) {
                        dp.left.push(p);
                    }
                }
            }
            // The tmp directory is a target only when the user asks for it: cleaned whole.
            (DirKind::Tmp, _) | (_, true) => dp.remove = dir_entries(&t.dir)?,
            (DirKind::Manifests | DirKind::Kubeconfig, false) => {
                ledger_files(&t.dir, &skip, &mut dp)?;
            }
            (DirKind::Pki, false) => pki(&t.dir, &skip, &mut dp)?,
            (DirKind::Kubelet, false) => {
                let rec = ledger_files(&t.dir, &skip, &mut dp)?;
                if rec.exists {
                    kubelet_state(&mut dp)?;
                }
            }
            (DirKind::EtcdData, false) => {
                for p in dir_entries(&t.dir)? {
                    if plinth_etcd && p.file_name().is_some_and(|n| n == "member") {
                        dp.remove.push(p);
                    } else {
                        dp.left.push(p);
                    }
                }
            }
        }
        dp.remove.sort();
        dp.left.sort();
        dirs.push(dp);
    }
    Ok(CleanupPlan { scope, dirs })
}

/// The files `dir`'s ledger names go; every other entry is left (except `skip`).
fn ledger_files(
    dir: &Path,
    skip: &[PathBuf],
    dp: &mut DirPlan,
) -> Result<super::owned::DirRecord, CleanupError> {
    let rec = record(dir);
    let mut gone = Vec::new();
    for n in names(dir)? {
        let p = dir.join(&n);
        if rec.files.contains(&n) {
            dp.remove.push(p);
            gone.push(n);
        } else if n == super::owned::LEDGER_FILE || skip.contains(&p) {
        } else {
            dp.left.push(p);
        }
    }
    if rec.exists {
        // Names recorded but already gone are forgotten too.
        dp.forget.push((dir.to_path_buf(), rec.files.clone()));
    }
    Ok(rec)
}

/// The PKI directory and its sub-directories with ledgers (`etcd/`), depth first; a
/// sub-directory plinth created goes once empty.
fn pki(dir: &Path, skip: &[PathBuf], dp: &mut DirPlan) -> Result<(), CleanupError> {
    let rec = record(dir);
    for n in names(dir)? {
        let p = dir.join(&n);
        if rec.files.contains(&n) {
            dp.remove.push(p);
        } else if n == super::owned::LEDGER_FILE || skip.contains(&p) {
        } else if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir())
            && p.join(super::owned::LEDGER_FILE).exists()
        {
            let sub = record(&p);
            pki(&p, skip, dp)?;
            if sub.created {
                dp.rmdir_if_empty.push(p);
            }
        } else {
            dp.left.push(p);
        }
    }
    if rec.exists {
        dp.forget.push((dir.to_path_buf(), rec.files));
    }
    Ok(())
}

/// The kubelet's own state next to plinth's kubelet files (see [`KUBELET_STATE`]); in `pki/`
/// only the kubelet's certificates, so a user's file there stays.
fn kubelet_state(dp: &mut DirPlan) -> Result<(), CleanupError> {
    let left = std::mem::take(&mut dp.left);
    for p in left {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "pki" && fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            for q in dir_entries(&p)? {
                let qn = q
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if is_kubelet_pki_file(&qn) {
                    dp.remove.push(q);
                } else {
                    dp.left.push(q);
                }
            }
            dp.rmdir_if_empty.push(p);
        } else if KUBELET_STATE.contains(&name.as_str()) {
            dp.remove.push(p);
        } else {
            dp.left.push(p);
        }
    }
    Ok(())
}

/// Carries out one directory's plan: removes its entries (never following symlinks), updates
/// the ledgers, removes emptied sub-directories. Returns what was removed.
///
/// # Errors
/// The first removal that failed.
pub fn execute(dp: &DirPlan) -> Result<Removed, CleanupError> {
    let mut removed = Removed::default();
    for p in &dp.remove {
        if fs::symlink_metadata(p).is_ok() {
            remove_path(p)?;
            removed.paths.push(p.clone());
        }
    }
    for (dir, names) in &dp.forget {
        super::owned::forget(dir, names).map_err(|e| CleanupError::Remove {
            path: dir.join(super::owned::LEDGER_FILE),
            source: io::Error::other(e.to_string()),
        })?;
    }
    let mut dirs = dp.rmdir_if_empty.clone();
    dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for d in dirs {
        // Only when empty: whatever is left there is somebody's.
        if fs::remove_dir(&d).is_ok() {
            removed.paths.push(d);
        }
    }
    Ok(removed)
}

/// Mount points strictly below `dir`, deepest first (the order to unmount them in), read from
/// `/proc/self/mountinfo`.
#[must_use]
pub fn mounts_under(dir: &Path, mountinfo: &str) -> Vec<PathBuf> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut v: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mount(m)))
        .filter(|m| m.starts_with(&dir) && *m != dir)
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether something accepts TCP connections at `addr` (loopback probes only).
#[must_use]
pub fn port_in_use(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_dir_keeps_the_dir_and_does_not_follow_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("keep"), "x").unwrap();
        let target = d.path().join("pki");
        fs::create_dir_all(target.join("etcd")).unwrap();
        fs::write(target.join("ca.crt"), "c").unwrap();
        fs::write(target.join("etcd/ca.key"), "k").unwrap();
        std::os::unix::fs::symlink(outside.path(), target.join("link")).unwrap();
        let r = clean_dir(&target).unwrap();
        assert_eq!(r.paths.len(), 3);
        assert!(target.is_dir());
        assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
        assert!(
            outside.path().join("keep").exists(),
            "symlink target must survive"
        );
        // Twice is fine, and a missing dir is fine.
        assert!(clean_dir(&target).unwrap().paths.is_empty());
        assert!(clean_dir(&d.path().join("nope")).unwrap().paths.is_empty());
    }

    #[test]
    fn remove_files_only_touches_listed_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("admin.conf"), "a").unwrap();
        fs::write(d.path().join("notes.txt"), "mine").unwrap();
        let r =
            remove_files(&[d.path().join("admin.conf"), d.path().join("kubelet.conf")]).unwrap();
        assert_eq!(r.paths, vec![d.path().join("admin.conf")]);
        assert!(d.path().join("notes.txt").exists());
    }

    #[test]
    fn mounts_below_a_dir_deepest_first() {
        let info = "22 1 0:21 / /var/lib/kubelet rw - tmpfs t rw\n\
                    23 22 0:22 / /var/lib/kubelet/pods/a/volumes/x rw - tmpfs t rw\n\
                    24 22 0:23 / /var/lib/kubelet/pods/a rw - tmpfs t rw\n\
                    25 1 0:24 / /var/lib/kubelet2 rw - tmpfs t rw\n\
                    26 1 0:25 / /var/lib/kubelet/with\\040space rw - tmpfs t rw\n";
        let m = mounts_under(Path::new("/var/lib/kubelet"), info);
        assert_eq!(m[0], PathBuf::from("/var/lib/kubelet/pods/a/volumes/x"));
        assert!(m.contains(&PathBuf::from("/var/lib/kubelet/with space")));
        assert!(!m.contains(&PathBuf::from("/var/lib/kubelet2")));
        assert!(!m.contains(&PathBuf::from("/var/lib/kubelet")));
    }
}
