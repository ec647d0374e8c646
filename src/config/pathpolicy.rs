//! The one path policy for every directory plinth writes to or cleans (`certificatesDir`,
//! `etcd.local.dataDir`, `--kubeconfig-dir`, `--manifests-dir`, `--kubelet-dir`, the dry-run
//! directory, ...). Applied by validation, so `config validate`, init, reset and every later
//! command refuse the same paths before anything is written or deleted.
//!
//! Why: reset empties these directories, so a typo such as `certificatesDir: "/"`, `""`, `.`,
//! `etc` or `/var/lib/etcd/../../..` must never reach the file system. kubeadm only checks that
//! `certificatesDir` is absolute (`app/apis/kubeadm/validation/validation.go`
//! `ValidateAbsolutePath`); plinth is stricter (docs/compatibility.md, "Path policy").
//!
//! Pure: looks at the text of the path only. Whether a path is a symlink on this host is checked
//! by `host::fs` when it writes.

use std::path::{Component, Path};

/// Directories that must never be one of plinth's directories: the root and the system
/// directories whose contents belong to the OS or other programs. Their sub-directories are fine
/// (`/etc/kubernetes`, `/var/lib/etcd`).
pub const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var",
    "/var/backups",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    "/etc/systemd",
    "/etc/ssl",
    "/etc/default",
];

/// Why a directory was refused; [`PathProblem::hint`] says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path contains a NUL byte (no file system accepts one).
    NulByte,
    /// The path is relative (it would be resolved against the working directory or `/`).
    Relative,
    /// The path has `.` or `..` components, repeated or trailing slashes.
    NotNormal(String),
    /// The path is `/` or a system directory.
    SystemDir(String),
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("the path is empty"),
            PathProblem::NulByte => f.write_str("the path contains a NUL byte"),
            PathProblem::Relative => f.write_str("the path is not absolute"),
            PathProblem::NotNormal(n) => write!(
                f,
                "the path is not in normal form (it has `.`/`..` components or extra slashes; normal form: {n})"
            ),
            PathProblem::SystemDir(d) => write!(
                f,
                "{d} is a system directory: plinth would write into it and reset would clean it"
            ),
        }
    }
}

impl PathProblem {
    /// How to fix it.
    #[must_use]
    pub fn hint(&self) -> String {
        match self {
            PathProblem::Empty | PathProblem::Relative | PathProblem::NulByte => {
                "give an absolute directory of its own, e.g. /etc/kubernetes/pki".into()
            }
            PathProblem::NotNormal(n) => format!("write it as {n}"),
            PathProblem::SystemDir(_) => {
                "use a directory of its own below it, e.g. /etc/kubernetes/pki or /var/lib/etcd"
                    .into()
            }
        }
    }
}

/// The lexical normal form of an absolute path: no `.`, `..` resolved, single slashes, no trailing
/// slash. `..` above `/` stays at `/` (as the kernel does).
#[must_use]
pub fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Non-empty, no NUL byte, absolute: what every path plinth uses must be.
fn check_absolute(p: &str) -> Result<(), PathProblem> {
    if p.is_empty() {
        Err(PathProblem::Empty)
    } else if p.contains('\0') {
        Err(PathProblem::NulByte)
    } else if !p.starts_with('/') {
        Err(PathProblem::Relative)
    } else {
        Ok(())
    }
}

/// Checks one directory plinth writes to or cleans.
///
/// # Errors
/// The first [`PathProblem`] found.
pub fn check_dir(p: &str) -> Result<(), PathProblem> {
    check_absolute(p)?;
    let n = normalize(p);
    if n != p {
        return Err(PathProblem::NotNormal(n));
    }
    if let Some(d) = SYSTEM_DIRS.iter().find(|d| **d == n) {
        return Err(PathProblem::SystemDir((*d).to_string()));
    }
    Ok(())
}

/// [`check_dir`] for a `Path` (non-UTF-8 paths are refused as not normal).
///
/// # Errors
/// The first [`PathProblem`] found.
pub fn check_dir_path(p: &Path) -> Result<(), PathProblem> {
    match p.to_str() {
        Some(s) => check_dir(s),
        None => Err(PathProblem::NotNormal(p.to_string_lossy().into_owned())),
    }
}

/// Checks a file plinth only reads (a CA file, a patch file): absolute, no NUL, no `..`.
///
/// # Errors
/// The first [`PathProblem`] found.
pub fn check_read_path(p: &str) -> Result<(), PathProblem> {
    check_absolute(p)?;
    if Path::new(p)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(PathProblem::NotNormal(normalize(p)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_that_emptied_a_host_are_refused() {
        for (p, want) in [
            ("/", PathProblem::SystemDir("/".into())),
            ("", PathProblem::Empty),
            (".", PathProblem::Relative),
            ("etc", PathProblem::Relative),
            ("/etc", PathProblem::SystemDir("/etc".into())),
            ("/var", PathProblem::SystemDir("/var".into())),
            ("/var/lib", PathProblem::SystemDir("/var/lib".into())),
            ("/var/lib/etcd/../../..", PathProblem::NotNormal("/".into())),
            (
                "/../../../../etc/kubernetes/escaped-pki",
                PathProblem::NotNormal("/etc/kubernetes/escaped-pki".into()),
            ),
            ("/etc/kubernetes/pki\0x", PathProblem::NulByte),
            (
                "/etc/kubernetes/pki/",
                PathProblem::NotNormal("/etc/kubernetes/pki".into()),
            ),
            (
                "/etc//kubernetes",
                PathProblem::NotNormal("/etc/kubernetes".into()),
            ),
            (
                "/etc/./kubernetes",
                PathProblem::NotNormal("/etc/kubernetes".into()),
            ),
        ] {
            assert_eq!(check_dir(p), Err(want), "{p:?}");
        }
    }

    #[test]
    fn kubeadm_defaults_and_own_directories_pass() {
        for p in [
            "/etc/kubernetes",
            "/etc/kubernetes/pki",
            "/etc/kubernetes/manifests",
            "/var/lib/kubelet",
            "/var/lib/etcd",
            "/srv/etcd-data",
            "/tmp/plinth-test/pki",
        ] {
            assert_eq!(check_dir(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn every_problem_has_a_hint_and_a_message() {
        for p in ["", "x", "/a/../b", "/usr", "/a\0"] {
            let e = check_dir(p).unwrap_err();
            assert!(!e.hint().is_empty());
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn read_paths_may_not_climb() {
        assert!(check_read_path("/etc/etcd/ca.crt").is_ok());
        assert!(check_read_path("/etc/../etc/etcd/ca.crt").is_err());
        assert!(check_read_path("ca.crt").is_err());
    }

    #[test]
    fn normalize_clamps_at_root() {
        assert_eq!(normalize("/a/b/../../../c"), "/c");
        assert_eq!(normalize("//"), "/");
    }
}
