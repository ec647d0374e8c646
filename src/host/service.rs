//! The init system, behind a small trait so phases can be tested without systemd:
//! is systemd PID 1, is a unit active, restart a unit.

use std::process::Command;

/// Talking to the init system failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// `systemctl` could not be run.
    #[error("failed to run systemctl {action} {unit}")]
    Spawn {
        /// `restart`, ...
        action: &'static str,
        /// The unit.
        unit: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `systemctl` ran and failed.
    #[error("systemctl {action} {unit} failed: {stderr}")]
    Failed {
        /// `restart`, ...
        action: &'static str,
        /// The unit.
        unit: String,
        /// What systemctl printed.
        stderr: String,
    },
}

/// The init system's service operations plinth needs.
pub trait ServiceManager: Send + Sync {
    /// Whether systemd is the init system (PID 1).
    fn is_systemd(&self) -> bool;
    /// Whether `unit` is active (false when systemd is not the init system).
    fn is_active(&self, unit: &str) -> bool;
    /// `systemctl restart <unit>` (starts it when inactive).
    ///
    /// # Errors
    /// [`ServiceError`] when systemctl cannot run or fails.
    fn restart(&self, unit: &str) -> Result<(), ServiceError>;
}

/// The real host's systemd, through `systemctl`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Systemd;

impl ServiceManager for Systemd {
    fn is_systemd(&self) -> bool {
        std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
    }

    fn is_active(&self, unit: &str) -> bool {
        self.is_systemd()
            && Command::new("systemctl")
                .args(["is-active", "--quiet", unit])
                .status()
                .is_ok_and(|s| s.success())
    }

    fn restart(&self, unit: &str) -> Result<(), ServiceError> {
        let out = Command::new("systemctl")
            .args(["restart", unit])
            .output()
            .map_err(|source| ServiceError::Spawn {
                action: "restart",
                unit: unit.to_string(),
                source,
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ServiceError::Failed {
                action: "restart",
                unit: unit.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}
