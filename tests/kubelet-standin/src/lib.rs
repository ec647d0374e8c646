//! `plinth-kubelet-standin`: test tooling for plinth's end-to-end tier. **Not a kubelet.**
//!
//! It runs the static Pods that plinth writes as plain host processes, with the kubelet's observable
//! behaviour where it matters to a control-plane bootstrapper: the file source's directory semantics,
//! `$(VAR)` expansion, hostPath creation, probes, restart back-off, CRI-format logs under `/var/log/pods`,
//! `GET /healthz` on 127.0.0.1:10248, Node registration through kubelet.conf, and optional mirror Pods.
//! Whatever it cannot run faithfully it rejects loudly. See `docs/kubelet-standin.md` for the deviations.

pub mod backoff;
pub mod cli;
pub mod expand;
pub mod logs;
pub mod manifest;
pub mod node;
pub mod probe;
pub mod process;
pub mod run;
pub mod server;
pub mod status;
pub mod worker;
