//! What pre-flight asks the host at the moment it checks, behind a trait so every check can be
//! tested with made-up answers ([`HostProbe`]), and the real host's answers ([`RealHost`]).
//! The user, CPUs and memory are not asked here: they are [`Facts`](crate::host::Facts), read
//! once per command.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Whether a TCP port can be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortState {
    /// Nothing listens on it.
    Free,
    /// Something listens on it.
    InUse,
    /// It could not be checked (e.g. a privileged port without root); the text says why.
    Unknown(String),
}

/// What is at a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketState {
    /// Nothing at that path.
    Missing,
    /// Something that is not a socket.
    NotASocket,
    /// A socket nobody accepts connections on; the text says why.
    Refused(String),
    /// A socket that accepts connections.
    Answers,
}

/// The live probes the checks need. Ports and sockets change under a run (another process
/// binds or releases them); kernel settings, tools and files are what the checks examine, read
/// when the check runs so a re-run after the user fixed one sees the fix.
pub trait HostProbe {
    /// Whether `port` is free on every address (kubeadm binds `:port`).
    fn port(&self, port: u16) -> PortState;
    /// Reads a kernel file such as `/proc/swaps` (never re-rooted: it is the running kernel's).
    ///
    /// # Errors
    /// When the file cannot be read.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether an executable named `exe` is on `PATH`.
    fn in_path(&self, exe: &str) -> bool;
    /// What is at the unix socket `path`.
    fn socket(&self, path: &Path) -> SocketState;
    /// Whether a file exists at the host path `path`.
    fn exists(&self, path: &Path) -> bool;
}

/// The real host.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealHost;

fn bind(addr: std::net::IpAddr, port: u16) -> io::Result<()> {
    TcpListener::bind((addr, port)).map(drop)
}

impl HostProbe for RealHost {
    fn port(&self, port: u16) -> PortState {
        // kubeadm listens on ":port". Both wildcards are tried: with net.ipv6.bindv6only=1 the
        // IPv6 one does not collide with IPv4 listeners, and IPv6 may be disabled.
        let results = [
            bind(Ipv6Addr::UNSPECIFIED.into(), port),
            bind(Ipv4Addr::UNSPECIFIED.into(), port),
        ];
        if results
            .iter()
            .any(|r| matches!(r, Err(e) if e.kind() == io::ErrorKind::AddrInUse))
        {
            return PortState::InUse;
        }
        match results {
            [Ok(()), _] | [_, Ok(())] => PortState::Free,
            [_, Err(e)] => PortState::Unknown(e.to_string()),
        }
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn in_path(&self, exe: &str) -> bool {
        // Go's exec.LookPath: a regular file with an execute bit in one of PATH's directories.
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| {
                std::fs::metadata(dir.join(exe))
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        })
    }

    fn socket(&self, path: &Path) -> SocketState {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => SocketState::Missing,
            Err(e) => SocketState::Refused(e.to_string()),
            Ok(m) if !m.file_type().is_socket() => SocketState::NotASocket,
            Ok(_) => match UnixStream::connect(path) {
                Ok(_) => SocketState::Answers,
                Err(e) => SocketState::Refused(e.to_string()),
            },
        }
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_with_a_listener_is_in_use_and_a_closed_one_is_free() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(RealHost.port(port), PortState::InUse);
        drop(l);
        assert_eq!(RealHost.port(port), PortState::Free);
    }

    #[test]
    fn sockets_files_and_tools() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("cri.sock");
        assert_eq!(RealHost.socket(&sock), SocketState::Missing);
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(RealHost.socket(&sock), SocketState::Answers);
        drop(listener);
        assert!(matches!(RealHost.socket(&sock), SocketState::Refused(_)));
        let file = d.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(RealHost.socket(&file), SocketState::NotASocket);
        assert!(RealHost.in_path("sh"));
        assert!(!RealHost.in_path("no-such-tool-plinth"));
    }
}
