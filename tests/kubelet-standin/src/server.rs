//! The kubelet's local health endpoint (`GET /healthz` → `ok`, default 127.0.0.1:10248, which kubeadm's
//! wait-control-plane polls) and the stand-in's `GET /status` JSON. A deliberately tiny HTTP/1.1 server.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::status::Status;

/// Serves connections until `shutdown` becomes true.
pub async fn serve(
    listener: TcpListener,
    status: Arc<Status>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let status = status.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, &status).await {
                            tracing::debug!(error = %e, "health connection failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => if *shutdown.borrow() { break },
        }
    }
}

/// The response for a request line's method and target: status code, content type, body.
pub fn route(method: &str, target: &str, status: &Status) -> (u16, &'static str, String) {
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        // kubelet: /healthz aggregates ping, log and syncloop; the stand-in's loops are always alive.
        ("GET" | "HEAD", "/healthz" | "/healthz/ping" | "/healthz/syncloop" | "/healthz/log") => {
            (200, "text/plain; charset=utf-8", "ok".to_owned())
        }
        ("GET" | "HEAD", "/status") => (200, "application/json", status.to_json()),
        ("GET" | "HEAD", _) => (
            404,
            "text/plain; charset=utf-8",
            "404 page not found\n".to_owned(),
        ),
        _ => (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".to_owned(),
        ),
    }
}

async fn handle(mut stream: TcpStream, status: &Status) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "request read timed out")
        })??;
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (code, ctype, body) = route(method, target, status);
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut resp = format!(
        "HTTP/1.1 {code} {reason}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        resp.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&resp).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let status = Status::new("n");
        assert_eq!(route("GET", "/healthz", &status).0, 200);
        assert_eq!(route("GET", "/healthz", &status).2, "ok");
        assert_eq!(route("GET", "/healthz?verbose", &status).0, 200);
        assert_eq!(route("GET", "/status", &status).1, "application/json");
        assert_eq!(route("GET", "/nope", &status).0, 404);
        assert_eq!(route("POST", "/healthz", &status).0, 405);
    }
}
