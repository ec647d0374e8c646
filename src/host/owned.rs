//! Which files plinth wrote: a hidden ledger (`.plinth-owned`) in each directory plinth writes
//! static Pod manifests or kubelet files to, recording the SHA-256 of every file it wrote there.
//! Pre-flight uses it to tell plinth's own files (a re-run converges) from foreign ones (an
//! error). The ledger lives next to the files, so `--manifests-dir`, `--kubelet-dir`, dry runs
//! and reset (which empties those directories) all cover it. Knows nothing of what the files are.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fs::{FsError, WriteOutcome, write_atomic, write_atomic_in, write_if_changed};

/// The ledger's file name; hidden, so the kubelet's static Pod source skips it.
pub const LEDGER_FILE: &str = ".plinth-owned";

/// Mode of the ledger (it lists what plinth owns; nothing secret, but nobody else's business).
const LEDGER_MODE: u32 = 0o600;

/// The ledger of one directory: file name → digests plinth wrote (usually one; two while a write
/// is in flight, so a crash between ledger and file leaves the file recognisable).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ledger {
    /// plinth created this directory (reset removes it once it is empty, unless it is one of the
    /// configured directories, which are kept as kubeadm keeps them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    created: bool,
    /// File name → digests. An empty list: plinth wrote the file, its content is not tracked
    /// (certificates, keys, kubeconfigs: they are checked by their own rules).
    files: BTreeMap<String, Vec<String>>,
}

/// What a directory's ledger says plinth made there.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirRecord {
    /// The directory has a ledger at all.
    pub exists: bool,
    /// plinth created the directory.
    pub created: bool,
    /// Names of the files plinth wrote there.
    pub files: Vec<String>,
}

/// Reads what plinth recorded in `dir` (on-disk path).
///
/// # Errors
/// The ledger exists but cannot be read or parsed (the text says which).
pub fn dir_record(dir: &Path) -> Result<DirRecord, String> {
    if !dir.join(LEDGER_FILE).exists() {
        return Ok(DirRecord::default());
    }
    let l = load(dir)?;
    Ok(DirRecord {
        exists: true,
        created: l.created,
        files: l.files.into_keys().collect(),
    })
}

/// Records that plinth is about to write the file at `path`, before writing it (so a crash
/// leaves a file that reset still knows as plinth's): the name goes into the directory's ledger,
/// and a directory plinth has to create is marked as created. Saves the ledger only when
/// something is new, so converging re-runs write nothing. Refuses symlinked directories.
///
/// # Errors
/// [`FsError`] naming the directory or the ledger.
pub fn record(path: &Path, dir_mode: u32) -> Result<(), FsError> {
    let (dir, name) = split(path);
    if name == LEDGER_FILE {
        return Ok(());
    }
    super::fs::check_no_symlinks(&dir)?;
    let created = !dir.exists();
    if created {
        super::fs::ensure_dir(&dir, dir_mode)?;
    }
    let mut ledger = load(&dir).unwrap_or_else(|why| {
        tracing::warn!("{why}; starting a new ledger");
        Ledger::default()
    });
    let mut changed = false;
    if created && !ledger.created {
        ledger.created = true;
        changed = true;
    }
    if let std::collections::btree_map::Entry::Vacant(e) = ledger.files.entry(name) {
        e.insert(Vec::new());
        changed = true;
    }
    if changed {
        save(&dir, &ledger, dir_mode)?;
    }
    Ok(())
}

/// [`write_atomic`], with the file's name recorded in its directory's
/// ledger first ([`record`]), so reset removes it and leaves the user's files next to it. For
/// files whose content is checked by their own rules (certificates, keys, kubeconfigs).
///
/// # Errors
/// [`FsError`] naming the file or the ledger.
pub fn write_recorded(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
    record(path, 0o755)?;
    write_atomic(path, data, mode)
}

/// Drops `names` from `dir`'s ledger after reset removed them; removes the ledger when it lists
/// nothing more. Returns whether the ledger is gone.
///
/// # Errors
/// [`FsError`] naming the ledger.
pub fn forget(dir: &Path, names: &[String]) -> Result<bool, FsError> {
    let Ok(mut ledger) = load(dir) else {
        return Ok(false);
    };
    for n in names {
        ledger.files.remove(n);
    }
    let p = dir.join(LEDGER_FILE);
    if ledger.files.is_empty() {
        match fs::remove_file(&p) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(source) => return Err(FsError::Write { path: p, source }),
        }
    }
    save(dir, &ledger, 0o700)?;
    Ok(false)
}

/// Whether plinth wrote the file at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// There is no file.
    Absent,
    /// The file holds exactly what plinth wrote.
    Owned,
    /// The file exists and is not (or no longer) what plinth wrote.
    Foreign(Foreign),
}

/// Why an existing file is not plinth's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// plinth never wrote it (or its ledger is gone).
    NotWritten,
    /// plinth wrote it, and it was changed since.
    Changed,
    /// The file or the ledger could not be read; the text says why.
    Unreadable(String),
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Foreign::NotWritten => f.write_str("was not written by plinth"),
            Foreign::Changed => f.write_str("was changed since plinth wrote it"),
            Foreign::Unreadable(why) => write!(f, "cannot be checked: {why}"),
        }
    }
}

fn digest(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn split(path: &Path) -> (PathBuf, String) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

fn load(dir: &Path) -> Result<Ledger, String> {
    let p = dir.join(LEDGER_FILE);
    match fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{} is corrupt: {e}", p.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ledger::default()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

fn save(dir: &Path, l: &Ledger, dir_mode: u32) -> Result<(), FsError> {
    let mut text = serde_json::to_string_pretty(l).expect("a map of strings always serializes");
    text.push('\n');
    write_atomic_in(
        &dir.join(LEDGER_FILE),
        text.as_bytes(),
        LEDGER_MODE,
        dir_mode,
    )
}

/// Whether plinth wrote the file at the on-disk `path`, judged by its directory's ledger.
#[must_use]
pub fn ownership(path: &Path) -> Ownership {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ownership::Absent,
        Err(e) => return Ownership::Foreign(Foreign::Unreadable(e.to_string())),
    };
    let (dir, name) = split(path);
    let ledger = match load(&dir) {
        Ok(l) => l,
        Err(why) => return Ownership::Foreign(Foreign::Unreadable(why)),
    };
    match ledger.files.get(&name) {
        None => Ownership::Foreign(Foreign::NotWritten),
        Some(ds) if ds.contains(&digest(&data)) => Ownership::Owned,
        Some(_) => Ownership::Foreign(Foreign::Changed),
    }
}

/// [`write_if_changed`], recording the file in its directory's ledger: the new digest is added
/// before the write and the old one dropped after it, so a crash in between leaves a file that
/// is still recognised as plinth's. An unchanged file that is missing from the ledger is
/// recorded (plinth produced exactly this content). A corrupt ledger is replaced.
///
/// # Errors
/// [`FsError`] naming the file or the ledger.
pub fn write_owned(
    path: &Path,
    data: &[u8],
    mode: u32,
    dir_mode: u32,
) -> Result<WriteOutcome, FsError> {
    let (dir, name) = split(path);
    let new = digest(data);
    super::fs::check_no_symlinks(&dir)?;
    let created = !dir.exists();
    let mut ledger = load(&dir).unwrap_or_else(|why| {
        tracing::warn!("{why}; starting a new ledger");
        Ledger::default()
    });
    ledger.created |= created;
    let want = vec![new.clone()];
    let mut pending = false;
    if created || ledger.files.get(&name) != Some(&want) {
        let mut entry = Vec::new();
        if let Ok(old) = fs::read(path) {
            let old = digest(&old);
            if old != new && ledger.files.get(&name).is_some_and(|ds| ds.contains(&old)) {
                entry.push(old);
                pending = true;
            }
        }
        entry.push(new);
        ledger.files.insert(name.clone(), entry);
        save(&dir, &ledger, dir_mode)?;
    }
    let outcome = write_if_changed(path, data, mode, dir_mode)?;
    if pending {
        ledger.files.insert(name, want);
        save(&dir, &ledger, dir_mode)?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_owned_until_changed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m/etcd.yaml");
        assert_eq!(ownership(&p), Ownership::Absent);
        assert_eq!(
            write_owned(&p, b"a", 0o600, 0o700).unwrap(),
            WriteOutcome::Written
        );
        assert_eq!(ownership(&p), Ownership::Owned);
        // A new version replaces the old digest.
        write_owned(&p, b"b", 0o600, 0o700).unwrap();
        assert_eq!(ownership(&p), Ownership::Owned);
        let l = load(&d.path().join("m")).unwrap();
        assert_eq!(l.files["etcd.yaml"], vec![digest(b"b")]);
        // Someone else edits it.
        fs::write(&p, "c").unwrap();
        assert_eq!(ownership(&p), Ownership::Foreign(Foreign::Changed));
        // A file next to it that plinth never wrote.
        let other = d.path().join("m/other.yaml");
        fs::write(&other, "x").unwrap();
        assert_eq!(ownership(&other), Ownership::Foreign(Foreign::NotWritten));
        // The ledger is hidden and private.
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(d.path().join("m").join(LEDGER_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn an_unchanged_file_is_recorded_and_not_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.yaml");
        write_if_changed(&p, b"same", 0o644, 0o700).unwrap();
        assert_eq!(ownership(&p), Ownership::Foreign(Foreign::NotWritten));
        let before = fs::metadata(&p).unwrap().modified().unwrap();
        assert_eq!(
            write_owned(&p, b"same", 0o644, 0o700).unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert_eq!(ownership(&p), Ownership::Owned);
        // Nothing to record: the ledger is not rewritten either.
        let lp = d.path().join(LEDGER_FILE);
        let lbefore = fs::metadata(&lp).unwrap().modified().unwrap();
        write_owned(&p, b"same", 0o644, 0o700).unwrap();
        assert_eq!(fs::metadata(&lp).unwrap().modified().unwrap(), lbefore);
    }

    #[test]
    fn a_write_in_flight_keeps_both_digests() {
        // What a crash between the ledger update and the file write leaves behind.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etcd.yaml");
        write_owned(&p, b"old", 0o600, 0o700).unwrap();
        let mut l = load(d.path()).unwrap();
        l.files.get_mut("etcd.yaml").unwrap().push(digest(b"new"));
        save(d.path(), &l, 0o700).unwrap();
        assert_eq!(ownership(&p), Ownership::Owned);
        fs::write(&p, "new").unwrap();
        assert_eq!(ownership(&p), Ownership::Owned);
    }

    #[test]
    fn a_corrupt_ledger_makes_files_uncheckable_and_is_replaced_on_write() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etcd.yaml");
        fs::write(&p, "x").unwrap();
        fs::write(d.path().join(LEDGER_FILE), "{not json").unwrap();
        assert!(matches!(
            ownership(&p),
            Ownership::Foreign(Foreign::Unreadable(ref w)) if w.contains("corrupt")
        ));
        write_owned(&p, b"y", 0o600, 0o700).unwrap();
        assert_eq!(ownership(&p), Ownership::Owned);
    }
}
