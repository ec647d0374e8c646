//! Health of the control plane: which endpoints to poll (read from the manifests on disk, so
//! patched ports are honoured), fast polling until healthy, and a diagnosis that says *why*
//! a component is not healthy. kubeadm: `app/util/apiclient/wait.go`.

mod diagnose;
mod endpoints;
mod wait;

pub use diagnose::{Diagnosis, classify_error, failing_checks, last_log_lines};
pub use endpoints::{Check, TlsMode, checks_from_manifests};
pub(crate) use wait::chain as error_chain;
pub use wait::{Progress, WaitError, wait_all};
