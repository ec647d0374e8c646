//! Configuration errors: each names the file, line, column and field, and says how to fix it.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem one issue of an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not YAML.
    Syntax,
    /// A field that the document type does not have.
    UnknownField,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// A value of the wrong type (string for a bool, ...).
    WrongType,
    /// A required field is missing.
    MissingField,
    /// `apiVersion`/`kind` not accepted.
    UnknownKind,
    /// The same kind appears twice.
    DuplicateKind,
    /// A value fails semantic validation (bad CIDR, port, duration, version ...).
    InvalidValue,
    /// A command-line flag value fails validation.
    InvalidFlag,
    /// The input exceeds a documented limit (number of documents).
    Limit,
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// What went wrong, in broad terms.
    pub kind: ErrorKind,
    /// The file (or `<flags>` / `<defaults>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// Field path such as `ClusterConfiguration.networking.podSubnet`.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// A configuration could not be loaded or is invalid. Nothing has been written when this occurs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("failed to read config file {}", shown(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The input is not a regular file (a FIFO, a device, a directory ...).
    #[error(
        "config input {} is {what}, not a regular file (give the path of a YAML file, or `-` to read standard input)",
        shown(path)
    )]
    NotRegularFile {
        /// The input.
        path: PathBuf,
        /// What it is instead, e.g. "a named pipe (FIFO)".
        what: &'static str,
    },
    /// The input is larger than [`MAX_CONFIG_BYTES`](super::MAX_CONFIG_BYTES).
    #[error(
        "config input {} is larger than {} MiB, the limit (a kubeadm config is a few KiB: check that this is the right file)",
        shown(path),
        limit >> 20
    )]
    TooLarge {
        /// The input.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input is not UTF-8 text.
    #[error(
        "config input {} is not UTF-8 text: invalid byte at line {line}, column {column} (save the file as UTF-8)",
        shown(path)
    )]
    NotUtf8 {
        /// The input.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u64,
        /// 1-based column (in characters) of the first invalid byte.
        column: u64,
    },
    /// One or more problems were found.
    #[error("{}", render_issues(issues))]
    Invalid {
        /// Every problem found, in file order.
        issues: Vec<Issue>,
    },
}

impl Error {
    /// The problems, empty for a read error.
    #[must_use]
    pub fn issues(&self) -> &[Issue] {
        match self {
            Error::Invalid { issues } => issues,
            _ => &[],
        }
    }
}

/// `-` is shown as "- (standard input)".
fn shown(path: &std::path::Path) -> String {
    if path.as_os_str() == "-" {
        "- (standard input)".to_string()
    } else {
        path.display().to_string()
    }
}

fn render_issues(issues: &[Issue]) -> String {
    let mut s = if issues.len() == 1 {
        "invalid configuration: ".to_string()
    } else {
        format!("invalid configuration ({} problems):\n  ", issues.len())
    };
    let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
    s.push_str(&lines.join("\n  "));
    s
}
