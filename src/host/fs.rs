//! Atomic, durable file writes: a hidden temp file in the target directory (the kubelet
//! ignores dot-files), fsync, chmod, rename, fsync of the directory.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// Like [`write_atomic`], creating a missing parent directory with `dir_mode`.
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
