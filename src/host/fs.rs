//! Atomic, durable file writes: a hidden temp file in the target directory (the kubelet
//! ignores dot-files), fsync, chmod, rename, fsync of the directory.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A file system operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// Creating a directory failed.
    #[error("failed to create directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing a file failed.
    #[error("failed to write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A directory on the way to a file is a symbolic link, and the user did not allow that.
    #[error(
        "refusing to write {}: {} is a symbolic link to {} (plinth does not follow symlinks in its directories; use the real directory, or pass --allow-symlinks if the link is intended)",
        path.display(),
        link.display(),
        target.display()
    )]
    Symlink {
        /// The file or directory plinth was about to write or clean.
        path: PathBuf,
        /// The symlink on the way.
        link: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
}

/// Whether plinth may write through symlinked directories (`--allow-symlinks`). Off by default:
/// a symlinked `/etc/kubernetes/pki` made `init` write into, and `reset` empty, another
/// directory. A process-wide switch because every writer (PKI, kubeconfigs, manifests, kubelet
/// files) goes through this module and the choice is made once, on the command line.
static ALLOW_SYMLINKS: AtomicBool = AtomicBool::new(false);

/// Lets writes and cleanups go through symlinked directories (`--allow-symlinks`).
pub fn allow_symlinks(allow: bool) {
    ALLOW_SYMLINKS.store(allow, Ordering::Relaxed);
}

/// Whether `--allow-symlinks` was given.
#[must_use]
pub fn symlinks_allowed() -> bool {
    ALLOW_SYMLINKS.load(Ordering::Relaxed)
}

/// Refuses `path` when it, or any existing directory above it, is a symbolic link (unless
/// [`allow_symlinks`] was set). Components that do not exist yet are fine: plinth creates them
/// as real directories.
///
/// # Errors
/// [`FsError::Symlink`] naming the link.
pub fn check_no_symlinks(path: &Path) -> Result<(), FsError> {
    if ALLOW_SYMLINKS.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut cur = PathBuf::new();
    for c in path.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(FsError::Symlink {
                    path: path.to_path_buf(),
                    target: fs::read_link(&cur).unwrap_or_default(),
                    link: cur,
                });
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Whether a write changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file was created or its content replaced.
    Written,
    /// The file already had exactly this content and mode; it was not touched.
    Unchanged,
}

/// Creates `dir` and missing parents with `mode` (existing directories are left alone).
///
/// # Errors
/// [`FsError::CreateDir`].
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), FsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|source| FsError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Atomically writes `data` to `path` with `mode`, creating the parent directory (0755).
///
/// # Errors
/// [`FsError`] naming the path.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
    write_atomic_in(path, data, mode, 0o755)
}

/// Like [`write_atomic`], creating a missing parent directory with `dir_mode`. Records nothing:
/// files reset must remove go through [`super::owned::write_recorded`] or
/// [`super::owned::write_owned`].
///
/// # Errors
/// [`FsError`] naming the path.
pub fn write_atomic_in(path: &Path, data: &[u8], mode: u32, dir_mode: u32) -> Result<(), FsError> {
    let err = |source| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The directory must be reached without symlinks; the file itself may be one (it is
    // replaced by the rename, never written through).
    check_no_symlinks(dir)?;
    ensure_dir(dir, dir_mode)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(data).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // The temp file was created under the umask; set the exact mode before it becomes visible.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    Ok(())
}

/// Writes only when the content or mode differs from what is on disk.
///
/// # Errors
/// [`FsError`] naming the path.
pub fn write_if_changed(
    path: &Path,
    data: &[u8],
    mode: u32,
    dir_mode: u32,
) -> Result<WriteOutcome, FsError> {
    if let (Ok(old), Ok(meta)) = (fs::read(path), fs::metadata(path))
        && old == data
        && meta.permissions().mode() & 0o7777 == mode
    {
        return Ok(WriteOutcome::Unchanged);
    }
    write_atomic_in(path, data, mode, dir_mode)?;
    Ok(WriteOutcome::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temp_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/key.pem");
        write_atomic(&p, b"secret", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"secret");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write_atomic(&p, b"new", 0o644).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
    }

    #[test]
    fn writes_do_not_go_through_symlinked_directories() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.path().join("pki")).unwrap();
        let e = write_atomic(&d.path().join("pki/etcd/ca.key"), b"k", 0o600).unwrap_err();
        assert!(
            matches!(&e, FsError::Symlink { link, .. } if *link == d.path().join("pki")),
            "{e}"
        );
        assert!(e.to_string().contains("--allow-symlinks"), "{e}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // A symlinked file is replaced, not written through.
        fs::write(elsewhere.join("target"), "keep").unwrap();
        let real = d.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("target"), real.join("ca.crt")).unwrap();
        write_atomic(&real.join("ca.crt"), b"new", 0o644).unwrap();
        assert_eq!(fs::read(elsewhere.join("target")).unwrap(), b"keep");
        assert_eq!(fs::read(real.join("ca.crt")).unwrap(), b"new");
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.yaml");
        assert_eq!(
            write_if_changed(&p, b"a", 0o600, 0o700).unwrap(),
            WriteOutcome::Written
        );
        let before = fs::metadata(&p).unwrap().modified().unwrap();
        assert_eq!(
            write_if_changed(&p, b"a", 0o600, 0o700).unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert_eq!(
            write_if_changed(&p, b"b", 0o600, 0o700).unwrap(),
            WriteOutcome::Written
        );
    }
}
