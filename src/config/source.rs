//! Reading config input (a file or standard input) with bounds, before any YAML is parsed.
//!
//! A config is a few KiB of text. Anything else (a FIFO with no writer, `/dev/zero`, a
//! multi-gigabyte log given by mistake, binary data) is refused with a message that names the
//! input and says what to give instead, without blocking and without reading more than the cap.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::error::Error;

/// The largest config input plinth reads: 1 MiB.
///
/// kubeadm configs are a few KiB (the fullest example in `config/` is under 10 KiB); the cap
/// keeps a wrong file (a log, a disk image, `/dev/zero` via stdin) from costing time or memory.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The name used in messages for `-` (standard input).
pub const STDIN_NAME: &str = "<stdin>";

/// Reads the config at `path` (`-` means standard input) and returns its text and the name to
/// use in messages.
///
/// The file must be a regular file (checked before it is opened, so a FIFO or a device is
/// refused without blocking or reading), at most [`MAX_CONFIG_BYTES`] long (checked before
/// reading, and the read itself is bounded in case the file grows), and UTF-8.
///
/// # Errors
/// [`Error::NotRegularFile`], [`Error::TooLarge`], [`Error::NotUtf8`] or [`Error::Read`], each
/// naming the input and saying how to fix it.
pub fn read_source(path: &Path) -> Result<(String, String), Error> {
    if path.as_os_str() == "-" {
        let bytes = read_bounded(std::io::stdin().lock(), path)?;
        return Ok((decode(bytes, path)?, STDIN_NAME.to_string()));
    }
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    // stat, not open: opening a FIFO blocks until a writer appears, and /dev/zero never ends.
    let meta = std::fs::metadata(path).map_err(read_err)?;
    check_regular(path, &meta)?;
    let file = File::open(path).map_err(read_err)?;
    // The path may have been replaced between the stat and the open; check what was opened.
    check_regular(path, &file.metadata().map_err(read_err)?)?;
    let bytes = read_bounded(file, path)?;
    Ok((decode(bytes, path)?, path.display().to_string()))
}

fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    let what = if t.is_file() {
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(Error::NotRegularFile {
        path: path.to_path_buf(),
        what,
    })
}

/// Reads at most `MAX_CONFIG_BYTES + 1` bytes, so "too large" is detected without reading more.
fn read_bounded(r: impl Read, path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    r.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    Ok(bytes)
}

fn decode(bytes: Vec<u8>, path: &Path) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // Valid UTF-8 up to here, so counting chars after the last newline is exact.
        let line = good.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[start..]).chars().count() as u64 + 1;
        Error::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: &Error) -> String {
        e.to_string()
    }

    #[test]
    fn a_regular_file_is_read_with_its_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.yaml");
        std::fs::write(&p, "kind: X\n").unwrap();
        let (text, name) = read_source(&p).unwrap();
        assert_eq!(text, "kind: X\n");
        assert_eq!(name, p.display().to_string());
    }

    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo.yaml");
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo failed");
        // Opening a FIFO with no writer would block this test forever.
        let e = read_source(&p).unwrap_err();
        assert!(matches!(e, Error::NotRegularFile { .. }), "{e:?}");
        let m = msg(&e);
        assert!(m.contains("fifo.yaml") && m.contains("named pipe"), "{m}");
        assert!(m.contains("`-`"), "the fix (stdin) is named: {m}");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_source(Path::new("/dev/zero")).unwrap_err();
        assert!(msg(&e).contains("/dev/zero is a character device"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let e = read_source(d.path()).unwrap_err();
        assert!(msg(&e).contains("is a directory"), "{e}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_reading() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.yaml");
        let f = File::create(&p).unwrap();
        // Sparse: the size is what counts, reading it would take the time.
        f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let e = read_source(&p).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
        assert!(
            msg(&e).contains("big.yaml") && msg(&e).contains("1 MiB"),
            "{e}"
        );
        // Exactly at the cap is fine as far as reading goes.
        f.set_len(MAX_CONFIG_BYTES).unwrap();
        assert_eq!(read_source(&p).unwrap().0.len() as u64, MAX_CONFIG_BYTES);
    }

    #[test]
    fn a_stream_that_outgrows_the_cap_is_cut_off() {
        let zero = std::io::repeat(0);
        let e = read_bounded(zero, Path::new("-")).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
        assert!(msg(&e).contains("standard input"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("latin1.yaml");
        std::fs::write(&p, b"kind: X\nclusterName: caf\xe9\n").unwrap();
        let e = read_source(&p).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotUtf8 {
                    line: 2,
                    column: 17,
                    ..
                }
            ),
            "{e:?}"
        );
        let m = msg(&e);
        assert!(m.contains("latin1.yaml") && m.contains("UTF-8"), "{m}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let e = read_source(Path::new("/nonexistent/plinth.yaml")).unwrap_err();
        assert!(matches!(e, Error::Read { .. }), "{e:?}");
        assert!(msg(&e).contains("/nonexistent/plinth.yaml"), "{e}");
    }
}
