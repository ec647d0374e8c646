//! One container instance as a host process: spawned in its own process group with a clean environment,
//! its output pumped into the CRI log, and stopped the way the kubelet stops containers (SIGTERM to the
//! group, SIGKILL after the grace period). When the main process ends, the rest of its group is killed,
//! as a container's processes die with its init process.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::task::JoinHandle;

use crate::logs::{SharedLog, pump};
use crate::manifest::ContainerPlan;

/// A running container process.
#[derive(Debug)]
pub struct Instance {
    child: tokio::process::Child,
    pid: u32,
    pumps: Vec<JoinHandle<()>>,
}

/// The container's exit code as a runtime reports it: the code, or 128 + signal number.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

impl Instance {
    /// Starts the container process.
    ///
    /// # Errors
    /// The program cannot be executed.
    pub fn spawn(c: &ContainerPlan, log: &SharedLog) -> std::io::Result<Self> {
        let mut cmd = tokio::process::Command::new(&c.program);
        cmd.args(&c.args)
            .env_clear()
            .envs(c.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&c.working_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so stopping the container reaches every process it started.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("child exited before its pid was read"))?;
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, "stdout", log.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, "stderr", log.clone())));
        }
        Ok(Self { child, pid, pumps })
    }

    /// The PID, which is also the process group ID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the main process to exit (cancel-safe).
    pub async fn wait(&mut self) -> ExitStatus {
        match self.child.wait().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pid = self.pid, error = %e, "waiting for a container process failed");
                ExitStatus::from_raw(0xff00)
            }
        }
    }

    fn signal_group(&self, sig: Signal) {
        let Ok(pgid) = i32::try_from(self.pid) else {
            return;
        };
        match killpg(Pid::from_raw(pgid), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(pgid, ?sig, error = %e, "signalling a container process group failed")
            }
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`; returns the main process's exit status.
    pub async fn stop(&mut self, grace: Duration) -> ExitStatus {
        self.signal_group(Signal::SIGTERM);
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(s) => s,
            Err(_) => {
                tracing::info!(pid = self.pid, ?grace, "grace period over, sending SIGKILL");
                self.signal_group(Signal::SIGKILL);
                self.wait().await
            }
        }
    }

    /// After the main process exited: kills what is left of its group and drains the log pumps.
    pub async fn cleanup(mut self) {
        self.signal_group(Signal::SIGKILL);
        for p in self.pumps.drain(..) {
            // A process that escaped the group could hold the pipe open; do not wait for it forever.
            if tokio::time::timeout(Duration::from_secs(2), p)
                .await
                .is_err()
            {
                tracing::debug!(
                    pid = self.pid,
                    "log pump still busy after the container exited"
                );
            }
        }
    }
}
