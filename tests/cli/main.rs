//! The single integration-test binary: runs the built `plinth` binary against temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod pki;
mod reset;
mod util;
