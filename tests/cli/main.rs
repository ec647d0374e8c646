//! The single integration-test binary: runs the built `plinth` binary (and the library) against
//! temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod crash;
mod golden;
mod images;
mod input;
mod jail;
mod lock;
mod output;
mod pki;
mod preflight;
mod props;
mod reset;
mod safety;
mod upload_certs;
mod util;
