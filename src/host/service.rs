//! The init system's units, behind a small trait so phases can be tested without systemd:
//! is a unit active, restart a unit. Whether systemd is the init system at all is a fact of
//! the host ([`Facts::init`](super::Facts)), read once.

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
    /// Whether `unit` is active now (false when systemd is not the init system). A live
    /// probe: restarts and stops change it.
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
    fn is_active(&self, unit: &str) -> bool {
        Command::new("systemctl")
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
