//! Undoing what init wrote: emptying directories (keeping them), removing listed files,
//! finding mounts below a directory and checking that ports are free.
//! kubeadm: `app/cmd/phases/reset/cleanupnode.go` (`CleanDir`, `resetConfigDir`).

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
