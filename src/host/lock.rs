//! One plinth at a time per host: every command that writes to the host takes an exclusive
//! advisory lock (`flock`, through std's `File::lock`) on `/run/plinth.lock` before its first
//! write. Two runs interleaving their writes could pair a leaf with another run's CA; the lock
//! makes the second run wait briefly, then refuse, naming the holder. Knows nothing of commands.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Paths;
use super::fs::ensure_dir;
use super::paths::LOCK_FILE;

/// Environment variable that overrides the lock file's path. For tests and sandboxes, where
/// many plinth processes write to separate temp dirs at once and must not share the host's lock.
pub const LOCK_FILE_ENV: &str = "PLINTH_LOCK_FILE";

/// How long a second run waits for the lock before it refuses. Long enough to ride out a short
/// overlap (a phase finishing), short enough that a mistaken parallel run fails fast.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting run retries.
const POLL: Duration = Duration::from_millis(50);

/// Mode of the lock file: it names the holder's command line, which is nobody else's business.
const LOCK_MODE: u32 = 0o600;

/// Flags whose value must never be printed or stored (none exist yet on `init`/`reset`; `join`
/// will have them, and it will take this lock too).
const SECRET_FLAGS: &[&str] = &[
    "--token",
    "--certificate-key",
    "--discovery-token",
    "--tls-bootstrap-token",
];

/// Taking the host lock failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock and did not release it within the wait.
    #[error(
        "another plinth is running on this host: {}; wait for it to finish (or, if no such process exists, the lock is stale: it is released automatically when its holder exits)",
        holder_text(holder.as_ref(), path)
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as recorded in the lock file (`None` if it could not be read).
        holder: Option<Holder>,
    },
    /// The lock path is a symbolic link (plinth does not follow links there).
    #[error(
        "lock file {} is a symbolic link or not a regular file; remove it (plinth creates its own)",
        path.display()
    )]
    NotAFile {
        /// The lock file.
        path: PathBuf,
    },
    /// Opening or creating the lock file failed.
    #[error("failed to open lock file {}", path.display())]
    Open {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Locking, or recording the holder, failed.
    #[error("failed to lock {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Who holds the lock: what the holder wrote into the lock file after locking it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// Process ID.
    pub pid: u32,
    /// Command line (secret flag values redacted).
    pub argv: Vec<String>,
    /// When it took the lock (seconds since the Unix epoch).
    pub since: i64,
}

/// The holder as shown in [`LockError::Held`].
fn holder_text(holder: Option<&Holder>, path: &Path) -> String {
    match holder {
        Some(h) => format!("{h} (lock file {})", path.display()),
        // Between the holder's lock and its write, or a file from an older plinth.
        None => format!("an unknown process holds {}", path.display()),
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = self.argv.iter();
        // argv[0] is often a full path; the example a user recognises is `plinth ...`.
        let program = words.next().map(|p| {
            Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        });
        let cmd: Vec<String> = program.into_iter().chain(words.cloned()).collect();
        write!(
            f,
            "PID {} `{}`, since {}",
            self.pid,
            cmd.join(" "),
            utc_text(self.since, now_unix())
        )
    }
}

/// `10:01:02 UTC`, with the date in front when it is not today's.
fn utc_text(since: i64, now: i64) -> String {
    let Ok(t) = ::time::OffsetDateTime::from_unix_timestamp(since) else {
        return format!("{since} (Unix time)");
    };
    let clock = format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second());
    match ::time::OffsetDateTime::from_unix_timestamp(now) {
        Ok(n) if n.date() == t.date() => clock,
        _ => format!("{} {clock}", t.date()),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The held lock. Dropping it (or the process exiting, even by SIGKILL) releases it; the file
/// itself stays, because deleting it would let a waiting run lock a file nobody else sees.
#[derive(Debug)]
pub struct HostLock {
    file: File,
    path: PathBuf,
    waited: Option<(Duration, Option<Holder>)>,
}

impl HostLock {
    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long this run waited for another holder, and who that was (if it could be read),
    /// so the caller can say why it paused. `None` when the lock was free.
    #[must_use]
    pub fn waited(&self) -> Option<(Duration, Option<&Holder>)> {
        self.waited.as_ref().map(|(d, h)| (*d, h.as_ref()))
    }
}

/// "Waited 1.2s for another plinth to finish (PID 4242 `plinth init`, since 10:01:02 UTC)".
impl fmt::Display for HostLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.waited {
            None => write!(f, "Holding {}", self.path.display()),
            Some((d, h)) => {
                write!(
                    f,
                    "Waited {:.1}s for another plinth to finish",
                    d.as_secs_f64()
                )?;
                match h {
                    Some(h) => write!(f, " ({h})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        // Still locked here: clear the holder record so nobody reads a finished run as the
        // holder. Best effort; closing the file (next) releases the lock either way.
        let _ = self.file.set_len(0);
    }
}

/// The lock file for a run whose host view is `paths`: `$PLINTH_LOCK_FILE` if set, else
/// `/run/plinth.lock` under the run's root (`DIR/run/plinth.lock` for `reset --root DIR`).
#[must_use]
pub fn lock_path(paths: &Paths) -> PathBuf {
    match std::env::var_os(LOCK_FILE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => paths.disk(Path::new(LOCK_FILE)),
    }
}

/// Takes the host lock for a command that writes to the host under `paths`, waiting up to
/// [`LOCK_WAIT`], and records this process as the holder. Call it after the configuration is
/// validated and before the first write; keep the guard until the command ends.
///
/// # Errors
/// [`LockError::Held`] naming the holder when the wait ends; open and lock errors.
pub fn acquire_host(paths: &Paths) -> Result<HostLock, LockError> {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    acquire(&lock_path(paths), &argv, LOCK_WAIT)
}

/// Takes the lock at `path` (creating the file 0600 and its directory), retrying for up to
/// `wait`, then records `argv`, the PID and the time in the file.
///
/// # Errors
/// [`LockError::NotAFile`] for a symlink or non-file at `path`; [`LockError::Held`] when
/// another holder kept it for the whole wait; [`LockError::Open`], [`LockError::Lock`].
pub fn acquire(path: &Path, argv: &[String], wait: Duration) -> Result<HostLock, LockError> {
    let not_a_file = || LockError::NotAFile {
        path: path.to_path_buf(),
    };
    // Root writes here: a link planted by someone else must not make root create or truncate
    // a file elsewhere. (std has no O_NOFOLLOW without libc; /run is root-only.)
    match fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => return Err(not_a_file()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                ensure_dir(dir, 0o755).map_err(|e| LockError::Open {
                    path: path.to_path_buf(),
                    source: io::Error::other(e),
                })?;
            }
        }
        Err(source) => {
            return Err(LockError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    // No truncate: the file may hold the current holder's record.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(LOCK_MODE)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let lock_err = |source| LockError::Lock {
        path: path.to_path_buf(),
        source,
    };
    let start = Instant::now();
    // Who held it when this run first found it taken (read again later if still unknown).
    let mut blocked_by: Option<Option<Holder>> = None;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                if blocked_by.as_ref().is_none_or(Option::is_none) {
                    blocked_by = Some(read_holder(path));
                }
                std::thread::sleep(POLL);
            }
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    holder: read_holder(path),
                });
            }
            Err(TryLockError::Error(source)) => return Err(lock_err(source)),
        }
    }
    let holder = Holder {
        pid: std::process::id(),
        argv: redact(argv),
        since: now_unix(),
    };
    let text = serde_json::to_string(&holder).map_err(|e| lock_err(io::Error::other(e)))?;
    let mut lock = HostLock {
        file,
        path: path.to_path_buf(),
        waited: blocked_by.map(|h| (start.elapsed(), h)),
    };
    lock.file.set_len(0).map_err(lock_err)?;
    lock.file.seek(SeekFrom::Start(0)).map_err(lock_err)?;
    lock.file.write_all(text.as_bytes()).map_err(lock_err)?;
    Ok(lock)
}

/// The holder recorded in the lock file, if it can be read.
fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// `argv` with the values of [`SECRET_FLAGS`] replaced (both `--flag v` and `--flag=v`).
fn redact(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for a in argv {
        if hide_next {
            out.push("<redacted>".to_string());
            hide_next = false;
        } else if SECRET_FLAGS.contains(&a.as_str()) {
            out.push(a.clone());
            hide_next = true;
        } else if let Some((flag, _)) = a.split_once('=')
            && SECRET_FLAGS.contains(&flag)
        {
            out.push(format!("{flag}=<redacted>"));
        } else {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn a_held_lock_refuses_a_second_run_naming_the_holder() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run/plinth.lock");
        let held = acquire(
            &p,
            &argv("/usr/bin/plinth init phase certs all"),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let started = Instant::now();
        let e = acquire(&p, &argv("plinth reset"), Duration::from_millis(300)).unwrap_err();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "it waits first"
        );
        let msg = e.to_string();
        let want = format!(
            "another plinth is running on this host: PID {} `plinth init phase certs all`, since ",
            std::process::id()
        );
        assert!(msg.starts_with(&want), "{msg}");
        assert!(msg.contains(" UTC"), "{msg}");
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains("released automatically when its holder exits"));
        let LockError::Held { holder, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(holder.unwrap().pid, std::process::id());
        drop(held);
    }

    #[test]
    fn dropping_the_lock_releases_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plinth.lock");
        let first = acquire(&p, &argv("plinth init"), Duration::ZERO).unwrap();
        assert!(first.waited().is_none());
        drop(first);
        let second = acquire(&p, &argv("plinth reset"), Duration::ZERO).unwrap();
        assert!(second.waited().is_none());
        assert_eq!(
            read_holder(second.path()).unwrap().argv,
            argv("plinth reset")
        );
    }

    #[test]
    fn a_waiting_run_gets_the_lock_when_the_holder_releases_it_in_time() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plinth.lock");
        let first = acquire(&p, &argv("plinth init"), Duration::ZERO).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(first);
        });
        let started = Instant::now();
        let second = acquire(&p, &argv("plinth reset"), Duration::from_secs(10)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(started.elapsed() < Duration::from_secs(5));
        let (waited, holder) = second.waited().unwrap();
        assert!(waited >= Duration::from_millis(150));
        assert_eq!(holder.unwrap().argv, argv("plinth init"));
        let text = second.to_string();
        assert!(
            text.starts_with("Waited ") && text.contains("s for another plinth to finish (PID "),
            "{text}"
        );
        releaser.join().unwrap();
        drop(second);
    }

    #[test]
    fn a_symlinked_lock_path_is_refused_and_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("victim");
        fs::write(&target, "keep").unwrap();
        let p = d.path().join("plinth.lock");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let e = acquire(&p, &argv("plinth init"), Duration::ZERO).unwrap_err();
        assert!(matches!(e, LockError::NotAFile { .. }), "{e:?}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn the_lock_file_follows_the_root_unless_the_environment_overrides_it() {
        let paths = Paths::host(Path::new("/etc/kubernetes/pki")).rooted(Path::new("/tmp/r"));
        // The CLI tests set the variable for every child; the unit tests do not.
        if std::env::var_os(LOCK_FILE_ENV).is_none() {
            assert_eq!(lock_path(&paths), PathBuf::from("/tmp/r/run/plinth.lock"));
            assert_eq!(
                lock_path(&Paths::host(Path::new("/x"))),
                PathBuf::from("/run/plinth.lock")
            );
        }
    }

    #[test]
    fn secret_flag_values_are_not_recorded() {
        assert_eq!(
            redact(&argv(
                "plinth join --token abc.def --certificate-key=123 --skip-token-print"
            )),
            argv("plinth join --token <redacted> --certificate-key=<redacted> --skip-token-print")
        );
    }

    #[test]
    fn the_time_shows_the_date_only_when_it_is_not_today() {
        // 2027-01-15 10:01:02 UTC
        let t = 1_800_007_262;
        assert_eq!(utc_text(t, t + 60), "10:01:02 UTC");
        assert_eq!(utc_text(t, t + 86_400), "2027-01-15 10:01:02 UTC");
    }
}
