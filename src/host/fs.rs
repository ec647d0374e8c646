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

/// Random characters in the temp-file names [`write_atomic_in`] creates (tempfile's default).
const TEMP_RAND_LEN: usize = 6;

/// Cleaning up stale temp files failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to remove stale temporary files at {}", path.display())]
pub struct SweepError {
    /// The directory that could not be read, or the file that could not be removed.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Whether `name` is one of [`write_atomic_in`]'s temp files: `.<target>.<6 alphanumerics>.tmp`.
/// Nothing else is ever removed by [`sweep_stale_temps`], so a user's `.x.tmp` stays.
#[must_use]
pub fn is_plinth_temp_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((target, random)) = inner.rsplit_once('.') else {
        return false;
    };
    !target.is_empty()
        && random.len() == TEMP_RAND_LEN
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Removes the temp files a killed run left in `dir` (regular files named by
/// [`is_plinth_temp_name`]; not recursive; a missing `dir` has none) and returns how many.
///
/// Call it only while holding the host lock ([`super::lock`]): without it, a temp file that
/// another run is about to rename would look stale.
///
/// # Errors
/// [`SweepError`] naming the directory or file.
pub fn sweep_stale_temps(dir: &Path) -> Result<usize, SweepError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(SweepError {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|source| SweepError {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_plinth_temp_name) {
            continue;
        }
        let path = entry.path();
        // Not a link or a directory: write_atomic_in only ever creates regular files.
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(SweepError { path, source }),
        }
    }
    Ok(removed)
}

/// [`sweep_stale_temps`] over `dirs` (each once); returns how many files were removed.
///
/// # Errors
/// The first [`SweepError`].
pub fn sweep_stale_temps_in(dirs: &[PathBuf]) -> Result<usize, SweepError> {
    let mut dirs: Vec<&PathBuf> = dirs.iter().collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter().map(|d| sweep_stale_temps(d)).sum()
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn only_plinths_own_temp_names_match() {
        for ok in [
            ".ca.key.AbC123.tmp",
            ".admin.conf.x9y8z7.tmp",
            "..plinth-owned.aaaaaa.tmp",
        ] {
            assert!(is_plinth_temp_name(ok), "{ok}");
        }
        for no in [
            "ca.key.AbC123.tmp",
            ".ca.key.tmp",
            ".ca.key.AbC12.tmp",
            ".ca.key.AbC1234.tmp",
            ".ca.key.AbC-12.tmp",
            "..AbC123.tmp",
            ".ca.key.AbC123.tmp.bak",
            ".notes.tmp",
        ] {
            assert!(!is_plinth_temp_name(no), "{no}");
        }
        // The names write_atomic_in's builder makes, whatever the random part.
        let d = tempfile::tempdir().unwrap();
        for _ in 0..20 {
            let t = tempfile::Builder::new()
                .prefix(".apiserver.key.")
                .suffix(".tmp")
                .tempfile_in(d.path())
                .unwrap();
            let name = t.path().file_name().unwrap().to_str().unwrap().to_string();
            assert!(is_plinth_temp_name(&name), "{name}");
        }
    }

    #[test]
    fn sweep_removes_stale_temps_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let keep = ["ca.key", ".x.tmp", ".ca.key.short.tmp", "notes.AbC123.tmp"];
        for f in keep {
            fs::write(d.path().join(f), "x").unwrap();
        }
        fs::write(d.path().join(".ca.key.AbC123.tmp"), "half").unwrap();
        fs::write(d.path().join(".ca.crt.zzzzzz.tmp"), "").unwrap();
        // A directory or a link with the pattern is not plinth's temp file.
        fs::create_dir(d.path().join(".dir.AbC123.tmp")).unwrap();
        std::os::unix::fs::symlink(d.path().join("ca.key"), d.path().join(".l.AbC123.tmp"))
            .unwrap();
        assert_eq!(sweep_stale_temps(d.path()).unwrap(), 2);
        let mut names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut want: Vec<&str> = keep.to_vec();
        want.extend([".dir.AbC123.tmp", ".l.AbC123.tmp"]);
        want.sort_unstable();
        assert_eq!(names, want);
        assert_eq!(sweep_stale_temps(&d.path().join("missing")).unwrap(), 0);
    }

    #[test]
    fn sweep_covers_each_directory_once() {
        let d = tempfile::tempdir().unwrap();
        let dirs = [
            d.path().join("pki"),
            d.path().join("pki/etcd"),
            d.path().join("m"),
        ];
        for dir in &dirs {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join(".f.AbC123.tmp"), "").unwrap();
        }
        let mut twice = dirs.to_vec();
        twice.extend(dirs.iter().cloned());
        twice.push(d.path().join("missing"));
        assert_eq!(sweep_stale_temps_in(&twice).unwrap(), dirs.len());
        assert_eq!(sweep_stale_temps_in(&twice).unwrap(), 0);
    }
}
