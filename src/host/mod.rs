//! The host: where files live ([`Paths`]) and how they are written ([`fs`]). Every host path
//! plinth uses derives from a `Paths` value, so tests and dry runs point it at a directory.

pub mod cleanup;
pub mod fs;
mod paths;

pub use paths::{DEFAULT_CERT_DIR, KUBERNETES_DIR, Paths};
