//! A fake control-plane component for the stand-in's integration tests (test tooling only).
//!
//! `standin-fake-component --port N [--exit-after-ms MS] [--exit-code C] [--fail-file PATH] [--child]`
//! serves `GET /healthz` on 127.0.0.1:N: `ok` (200), or 500 while PATH exists. It prints its
//! argv and selected environment variables on startup, exits with C after MS milliseconds when asked, and
//! with `--child` starts a `sleep` grandchild so tests can check process-group cleanup.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let has = |name: &str| args.iter().any(|a| a == name);
    println!("argv: {}", args[1..].join(" "));
    for key in ["FAKE_ENV", "PATH", "HOSTNAME"] {
        println!("env {key}={}", std::env::var(key).unwrap_or_default());
    }
    eprintln!(
        "cwd: {}",
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
    let port: u16 = get("--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let fail_file = get("--fail-file").map(PathBuf::from);
    let code: i32 = get("--exit-code").and_then(|c| c.parse().ok()).unwrap_or(1);
    if let Some(ms) = get("--exit-after-ms").and_then(|m| m.parse::<u64>().ok()) {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            eprintln!("exiting with code {code} as asked");
            std::process::exit(code);
        });
    }
    if has("--child") {
        // A grandchild in the same process group; the stand-in must kill it with the group.
        match std::process::Command::new("/bin/sleep").arg("300").spawn() {
            Ok(c) => println!("child pid {}", c.id()),
            Err(e) => eprintln!("cannot start child: {e}"),
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "listening on {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let mut buf = [0u8; 2048];
        let n = s.read(&mut buf).unwrap_or(0);
        let req = String::from_utf8_lossy(&buf[..n]);
        let path = req.split_whitespace().nth(1).unwrap_or("/");
        let failing = fail_file.as_ref().is_some_and(|f| f.exists());
        let (code, body) = match path {
            "/healthz" | "/livez" | "/readyz" if !failing => (200, "ok"),
            "/healthz" | "/livez" | "/readyz" => (500, "failing"),
            _ => (404, "not found"),
        };
        let resp = format!(
            "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes());
    }
}
