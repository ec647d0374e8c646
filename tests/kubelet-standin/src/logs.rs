//! Container logs in the kubelet's layout and containerd's CRI format.
//!
//! Path: `<pod-log-dir>/<namespace>_<pod-name>_<uid>/<container>/<restart-count>.log` (kubelet:
//! `BuildPodLogsDirectory`, `BuildContainerLogsDirectory`). Line: `<RFC3339Nano> <stream> <F|P> <text>`,
//! with lines longer than 16 KiB split into `P` (partial) chunks as containerd does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// containerd's default `max_container_log_line_size`.
pub const MAX_LINE: usize = 16 * 1024;

/// `<pod-log-dir>/<namespace>_<pod-name>_<uid>/<container>`.
pub fn container_log_dir(
    pod_log_dir: &Path,
    namespace: &str,
    pod_name: &str,
    uid: &str,
    container: &str,
) -> PathBuf {
    pod_log_dir
        .join(format!("{namespace}_{pod_name}_{uid}"))
        .join(container)
}

/// `<container-log-dir>/<restart-count>.log`.
pub fn container_log_file(dir: &Path, restart_count: u32) -> PathBuf {
    dir.join(format!("{restart_count}.log"))
}

/// One CRI log line (including the trailing newline).
pub fn cri_line(timestamp: &str, stream: &str, partial: bool, content: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(timestamp.len() + stream.len() + content.len() + 5);
    line.extend_from_slice(timestamp.as_bytes());
    line.push(b' ');
    line.extend_from_slice(stream.as_bytes());
    line.extend_from_slice(if partial { b" P " } else { b" F " });
    line.extend_from_slice(content);
    line.push(b'\n');
    line
}

/// A log file shared by the stdout and stderr pumps of one container instance.
pub type SharedLog = Arc<Mutex<tokio::fs::File>>;

/// Creates the directories (0755) and opens `file` for appending (0640, as containerd does).
///
/// # Errors
/// The directory or the file cannot be created.
pub async fn open_log(file: &Path) -> std::io::Result<SharedLog> {
    if let Some(dir) = file.parent() {
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .await?;
    }
    let f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(file)
        .await?;
    Ok(Arc::new(Mutex::new(f)))
}

/// Copies one output stream of a container into its log until EOF.
pub async fn pump(reader: impl AsyncRead + Unpin, stream: &'static str, out: SharedLog) {
    let mut reader = BufReader::with_capacity(MAX_LINE, reader);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => {
                tracing::debug!(error = %e, stream, "log stream read failed");
                break;
            }
        };
        if buf.is_empty() {
            if !line.is_empty() {
                write(&out, stream, false, &line).await;
            }
            break;
        }
        let newline = buf.iter().position(|b| *b == b'\n');
        let take = newline.unwrap_or(buf.len());
        line.extend_from_slice(&buf[..take]);
        reader.consume(newline.map_or(take, |i| i + 1));
        if newline.is_some() && line.last() == Some(&b'\r') {
            line.pop();
        }
        // containerd splits lines longer than max_container_log_line_size into partial entries.
        while line.len() > MAX_LINE {
            let rest = line.split_off(MAX_LINE);
            write(&out, stream, true, &line).await;
            line = rest;
        }
        if newline.is_some() {
            write(&out, stream, false, &line).await;
            line.clear();
        }
    }
}

async fn write(out: &SharedLog, stream: &str, partial: bool, content: &[u8]) {
    let ts = jiff::Timestamp::now().to_string();
    let data = cri_line(&ts, stream, partial, content);
    let mut f = out.lock().await;
    // tokio's File hands writes to a blocking pool; flush so the line is on disk when this returns.
    let written = async {
        f.write_all(&data).await?;
        f.flush().await
    };
    if let Err(e) = written.await {
        tracing::warn!(error = %e, "writing a container log line failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_kubelet() {
        let dir = container_log_dir(
            Path::new("/var/log/pods"),
            "kube-system",
            "etcd-node1",
            "abc123",
            "etcd",
        );
        assert_eq!(
            dir,
            PathBuf::from("/var/log/pods/kube-system_etcd-node1_abc123/etcd")
        );
        assert_eq!(container_log_file(&dir, 0), dir.join("0.log"));
        assert_eq!(container_log_file(&dir, 3), dir.join("3.log"));
    }

    #[test]
    fn cri_line_format() {
        let l = cri_line(
            "2026-11-28T01:02:03.123456789Z",
            "stderr",
            false,
            b"hello world",
        );
        assert_eq!(l, b"2026-11-28T01:02:03.123456789Z stderr F hello world\n");
        let l = cri_line("t", "stdout", true, b"x");
        assert_eq!(l, b"t stdout P x\n");
    }

    #[tokio::test]
    async fn pump_writes_full_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/0.log");
        let out = open_log(&path).await.unwrap();
        let long = "y".repeat(MAX_LINE + 10);
        let input = format!("first\r\nsecond\n{long}\nno-newline");
        pump(input.as_bytes(), "stdout", out.clone()).await;
        drop(out);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{}", &text[..text.len().min(400)]);
        let parse = |l: &str| {
            let mut it = l.splitn(4, ' ');
            let ts = it.next().unwrap().to_owned();
            (
                ts,
                it.next().unwrap().to_owned(),
                it.next().unwrap().to_owned(),
                it.next().unwrap_or("").to_owned(),
            )
        };
        let (ts, stream, tag, body) = parse(lines[0]);
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert_eq!(
            (stream.as_str(), tag.as_str(), body.as_str()),
            ("stdout", "F", "first")
        );
        assert_eq!(parse(lines[1]).3, "second");
        assert_eq!(
            (parse(lines[2]).2.as_str(), parse(lines[2]).3.len()),
            ("P", MAX_LINE)
        );
        assert_eq!(
            (parse(lines[3]).2.as_str(), parse(lines[3]).3.len()),
            ("F", 10)
        );
        assert_eq!(parse(lines[4]).3, "no-newline");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}
