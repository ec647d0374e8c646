//! The host: where files live ([`Paths`]), how they are written ([`fs`]), which ones plinth
//! wrote ([`owned`]), the init system ([`service`]), one run at a time ([`lock`]) and the
//! host's facts, read once per command ([`facts`]). Every
//! host path plinth uses derives from a `Paths` value, so tests and dry runs point it at a
//! directory.

pub mod cleanup;
pub mod cri;
pub mod facts;
pub mod fs;
pub mod lock;
pub mod owned;
mod paths;
pub mod service;

pub use facts::{Facts, InitSystem};
pub use paths::{DEFAULT_CERT_DIR, KUBERNETES_DIR, Paths};
