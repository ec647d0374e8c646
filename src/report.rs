//! User-facing output: kubeadm-style `[phase] message` lines on stdout, and a record of what
//! happened (paths written, warnings) for machine-readable output. Debug logs go through
//! `tracing` to stderr instead. Never given key material.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Collects and prints progress lines.
#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    spinner: Option<indicatif::ProgressBar>,
    quiet: bool,
    lines: Vec<String>,
    written: Vec<PathBuf>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

impl Reporter {
    /// Prints to stdout, with a spinner showing the running phase when stdout is a terminal.
    #[must_use]
    pub fn stdout() -> Self {
        let r = Self::to(Box::new(std::io::stdout()), false);
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(80));
            r.with(|i| i.spinner = Some(pb));
        }
        r
    }

    /// Shows `path` as the running phase (terminal only).
    pub fn phase_started(&self, path: &str) {
        self.with(|i| {
            if let Some(pb) = &i.spinner {
                pb.set_message(path.to_string());
            }
        });
    }

    /// Removes the spinner (end of run).
    pub fn finish(&self) {
        self.with(|i| {
            if let Some(pb) = i.spinner.take() {
                pb.finish_and_clear();
            }
        });
    }

    /// Records only (for `-o json` and tests).
    #[must_use]
    pub fn quiet() -> Self {
        Self::to(Box::new(std::io::sink()), true)
    }

    fn to(out: Box<dyn Write + Send>, quiet: bool) -> Self {
        Reporter {
            inner: Arc::new(Mutex::new(Inner {
                out,
                spinner: None,
                quiet,
                lines: Vec::new(),
                written: Vec::new(),
                warnings: Vec::new(),
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-print; keep reporting.
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// `[phase] message`.
    pub fn say(&self, phase: &str, message: impl AsRef<str>) {
        let line = format!("[{phase}] {}", message.as_ref());
        self.with(|i| {
            if let Some(pb) = &i.spinner {
                pb.println(&line);
            } else if !i.quiet {
                // stdout closed (e.g. `| head`) is not an error worth failing a run for.
                let _ = writeln!(i.out, "{line}");
            }
            i.lines.push(line);
        });
    }

    /// A warning line, also kept for the summary.
    pub fn warn(&self, phase: &str, message: impl AsRef<str>) {
        let m = message.as_ref().to_string();
        self.say(phase, format!("WARNING: {m}"));
        self.with(|i| i.warnings.push(m));
    }

    /// A warning printed as `line` exactly (kubeadm's pre-flight `\t[WARNING Name]: message`),
    /// kept for the summary as `warning`.
    pub fn warn_line(&self, line: impl AsRef<str>, warning: impl AsRef<str>) {
        self.text(line);
        let w = warning.as_ref().to_string();
        self.with(|i| i.warnings.push(w));
    }

    /// Plain text without a phase prefix (final instructions).
    pub fn text(&self, text: impl AsRef<str>) {
        let t = text.as_ref().to_string();
        self.with(|i| {
            if let Some(pb) = &i.spinner {
                pb.println(&t);
            } else if !i.quiet {
                let _ = writeln!(i.out, "{t}");
            }
            i.lines.push(t);
        });
    }

    /// Records that the on-disk `path` was written.
    pub fn wrote(&self, path: &Path) {
        self.with(|i| i.written.push(path.to_path_buf()));
    }

    /// Every line so far.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.with(|i| i.lines.clone())
    }

    /// Every path written so far.
    #[must_use]
    pub fn written(&self) -> Vec<PathBuf> {
        self.with(|i| i.written.clone())
    }

    /// Every warning so far.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.with(|i| i.warnings.clone())
    }
}
