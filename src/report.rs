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

    /// One live status line per item while something is awaited, on a terminal only (the
    /// phase spinner is hidden meanwhile); `None` off a terminal, where callers print
    /// kubeadm-style lines instead.
    #[must_use]
    pub fn live(&self, items: &[String]) -> Option<Live> {
        let on_tty = self.with(|i| i.spinner.is_some());
        on_tty.then(|| {
            self.with(|i| {
                if let Some(pb) = &i.spinner {
                    pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                }
            });
            let mut l = Live::new(items, indicatif::ProgressDrawTarget::stdout());
            l.restore = Some(self.clone());
            l
        })
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

/// Live status lines (see [`Reporter::live`]): `waiting`, `starting: <reason>`,
/// `healthy after 3.2s`, and when the wait ends without it, `failing: <reason>`.
pub struct Live {
    multi: indicatif::MultiProgress,
    bars: Vec<(String, indicatif::ProgressBar)>,
    restore: Option<Reporter>,
}

impl Live {
    /// Lines drawn to `target` (hidden in tests).
    #[must_use]
    pub fn new(items: &[String], target: indicatif::ProgressDrawTarget) -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(target);
        let width = items.iter().map(String::len).max().unwrap_or(0);
        let style = indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {{prefix:<{width}}}  {{msg}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        let bars = items
            .iter()
            .map(|name| {
                let pb = multi.add(indicatif::ProgressBar::new_spinner());
                pb.set_style(style.clone());
                pb.set_prefix(name.clone());
                pb.set_message("waiting");
                pb.enable_steady_tick(std::time::Duration::from_millis(100));
                (name.clone(), pb)
            })
            .collect();
        Live {
            multi,
            bars,
            restore: None,
        }
    }

    fn bar(&self, name: &str) -> Option<&indicatif::ProgressBar> {
        self.bars.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// Not healthy yet, for this reason.
    pub fn starting(&self, name: &str, reason: &str) {
        if let Some(b) = self.bar(name) {
            b.set_message(format!("starting: {reason}"));
        }
    }

    /// Healthy after `secs`.
    pub fn healthy(&self, name: &str, secs: f64) {
        if let Some(b) = self.bar(name) {
            b.finish_with_message(format!("healthy after {secs:.1}s"));
        }
    }

    /// The wait ended and this item is still not healthy.
    pub fn failing(&self, name: &str, reason: &str) {
        if let Some(b) = self.bar(name) {
            b.finish_with_message(format!("failing: {reason}"));
        }
    }

    /// The current message of each line.
    #[must_use]
    pub fn messages(&self) -> Vec<(String, String)> {
        self.bars
            .iter()
            .map(|(n, b)| (n.clone(), b.message()))
            .collect()
    }

    /// Removes the lines (the caller then prints the kubeadm-style summary).
    pub fn finish(self) {
        let _ = self.multi.clear();
        if let Some(r) = &self.restore {
            r.with(|i| {
                if let Some(pb) = &i.spinner {
                    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
            });
        }
    }
}

#[cfg(test)]
mod live_tests {
    use super::*;

    #[test]
    fn lines_move_from_waiting_to_a_final_state() {
        let l = Live::new(
            &["etcd".into(), "kube-apiserver".into()],
            indicatif::ProgressDrawTarget::hidden(),
        );
        assert!(l.messages().iter().all(|(_, m)| m == "waiting"));
        l.starting("kube-apiserver", "nothing listening on 10.0.0.5:6443");
        l.healthy("etcd", 1.234);
        assert_eq!(
            l.messages(),
            vec![
                ("etcd".to_string(), "healthy after 1.2s".to_string()),
                (
                    "kube-apiserver".to_string(),
                    "starting: nothing listening on 10.0.0.5:6443".to_string()
                ),
            ]
        );
        l.failing("kube-apiserver", "TLS: unknown CA");
        assert_eq!(l.messages()[1].1, "failing: TLS: unknown CA");
        l.finish();
    }
}
