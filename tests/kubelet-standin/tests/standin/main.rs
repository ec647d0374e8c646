//! End-to-end tests of the stand-in binary with the `standin-fake-component` helper as the "image".
//! Everything listens on 127.0.0.1 with free ports; every test has its own temp dirs and stand-in.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod node;

const STANDIN: &str = env!("CARGO_BIN_EXE_plinth-kubelet-standin");
const FAKE: &str = env!("CARGO_BIN_EXE_standin-fake-component");

struct Harness {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; a zombie is dead for our purposes.
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn cmdline(pid: u64) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn pgid(pid: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(") ")
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

impl Harness {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["manifests", "bin", "logs"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::os::unix::fs::symlink(FAKE, dir.path().join("bin/fake-component")).unwrap();
        // A component that ignores SIGTERM (the disposition survives exec), to exercise SIGKILL.
        let stubborn = dir.path().join("bin/stubborn");
        std::fs::write(
            &stubborn,
            format!("#!/bin/sh\ntrap '' TERM\nexec {FAKE} \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            &stubborn,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("standin.log")).unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        let child = Command::new(STANDIN)
            .args([
                "--manifests-dir",
                &p("manifests"),
                "--bin-dir",
                &p("bin"),
                "--pod-log-dir",
                &p("logs"),
            ])
            .args([
                "--status-file",
                &p("status.json"),
                "--healthz-addr",
                "127.0.0.1:0",
                "--node-name",
                "test-node",
            ])
            .args(["--poll-interval", "100ms", "--log", "debug"])
            .args(extra)
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let h = Self {
            dir,
            child: Some(child),
        };
        h.wait_for("the status file", Duration::from_secs(20), |s| {
            s["healthz_addr"].is_string()
        });
        h
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a manifest atomically through a hidden temp file, as plinth does.
    fn write_manifest(&self, name: &str, text: &str) {
        let tmp = self.path(&format!("manifests/.{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path(&format!("manifests/{name}"))).unwrap();
    }

    fn status(&self) -> Value {
        let text = std::fs::read_to_string(self.path("status.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn pod(&self, name: &str) -> Value {
        self.status()["pods"][name].clone()
    }

    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; status:\n{s:#}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for(&format!("{name}: {what}"), timeout, |s| {
            pred(&s["pods"][name])
        })["pods"][name]
            .clone()
    }

    fn wait_ready(&self, name: &str) -> Value {
        self.wait_pod(name, "running and ready", Duration::from_secs(30), |p| {
            p["state"] == "running" && p["ready"] == true && p["startup_done"] == true
        })
    }

    fn log_text(p: &Value) -> String {
        std::fs::read_to_string(p["log_path"].as_str().unwrap()).unwrap_or_default()
    }

    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "stand-in did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.path("standin.log")).unwrap_or_default();
            eprintln!("---- stand-in log ----\n{log}\n----------------------");
        }
    }
}

struct Pod<'a> {
    name: &'a str,
    port: u16,
    image: &'a str,
    extra_args: Vec<String>,
    probes: bool,
    liveness_failures: u32,
    grace: u32,
    data_dir: &'a Path,
}

impl<'a> Pod<'a> {
    fn new(name: &'a str, data_dir: &'a Path) -> Self {
        Pod {
            name,
            port: free_port(),
            image: "registry.k8s.io/fake-component:v1.37.2",
            extra_args: vec![],
            probes: true,
            liveness_failures: 2,
            grace: 3,
            data_dir,
        }
    }

    fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.to_owned());
        self
    }

    fn yaml(&self) -> String {
        let Pod {
            name,
            port,
            image,
            grace,
            ..
        } = self;
        let data = self.data_dir.display();
        let command = if image.contains("stubborn") {
            "stubborn"
        } else {
            "/usr/local/bin/fake-component"
        };
        let args: String = self
            .extra_args
            .iter()
            .map(|a| format!("    - {a:?}\n"))
            .collect();
        let probes = if self.probes {
            format!(
                "    startupProbe:
      httpGet: {{path: /healthz, port: healthz, scheme: HTTP}}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      httpGet: {{host: 127.0.0.1, path: /livez, port: healthz}}
      periodSeconds: 1
      failureThreshold: {}
    readinessProbe:
      httpGet: {{path: /readyz, port: {port}}}
      periodSeconds: 1
",
                self.liveness_failures
            )
        } else {
            String::new()
        };
        format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: kube-system
  labels: {{component: {name}, tier: control-plane}}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  terminationGracePeriodSeconds: {grace}
  securityContext: {{seccompProfile: {{type: RuntimeDefault}}}}
  containers:
  - name: {name}
    image: {image}
    imagePullPolicy: IfNotPresent
    command:
    - {command}
    - --port
    - $(PORT)
{args}    env:
    - name: PORT
      value: \"{port}\"
    - name: FAKE_ENV
      value: hello-$(PORT)-$$(PORT)
    ports:
    - name: healthz
      containerPort: {port}
{probes}    resources: {{requests: {{cpu: 100m}}}}
    volumeMounts:
    - name: data
      mountPath: {data}/data
    - name: conf
      mountPath: {data}/data/component.conf
      readOnly: true
  volumes:
  - name: data
    hostPath: {{path: {data}/data, type: DirectoryOrCreate}}
  - name: conf
    hostPath: {{path: {data}/data/component.conf, type: FileOrCreate}}
status: {{}}
"
        )
    }
}

#[test]
fn pod_runs_probes_pass_and_logs_are_written() {
    let h = Harness::start();
    let pod = Pod::new("comp", h.dir.path());
    h.write_manifest("comp.yaml", &pod.yaml());
    let p = h.wait_ready("comp");
    assert_eq!(p["restarts"], 0);
    let pid = p["pid"].as_u64().unwrap();
    assert!(alive(pid));
    assert_eq!(
        pgid(pid),
        pid,
        "the container runs in its own process group"
    );
    let argv = cmdline(pid);
    assert_eq!(
        argv[0],
        h.path("bin/fake-component").display().to_string(),
        "command[0] resolved in --bin-dir"
    );
    assert_eq!(argv[1..], ["--port".to_owned(), pod.port.to_string()]);
    assert_eq!(p["pod_name"], "comp-test-node");
    assert_eq!(p["namespace"], "kube-system");
    let uid = p["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 32);

    // hostPath volumes were created as the kubelet would.
    assert!(h.path("data").is_dir());
    let conf = std::fs::metadata(h.path("data/component.conf")).unwrap();
    assert!(conf.is_file() && conf.len() == 0);

    // Logs: the kubelet's layout and CRI lines.
    let log_path = PathBuf::from(p["log_path"].as_str().unwrap());
    assert_eq!(
        log_path,
        h.path(&format!("logs/kube-system_comp-test-node_{uid}/comp/0.log"))
    );
    let text = Harness::log_text(&p);
    let port = pod.port;
    for want in [
        format!(" stdout F argv: --port {port}"),
        format!(" stdout F env FAKE_ENV=hello-{port}-$(PORT)"),
        format!(" stdout F env PATH={}", h.path("bin").display()),
        " stdout F env HOSTNAME=test-node".to_owned(),
        " stderr F cwd: /".to_owned(),
    ] {
        assert!(text.contains(&want), "log lacks {want:?}:\n{text}");
    }
    let first = text.lines().next().unwrap();
    assert!(
        first
            .split(' ')
            .next()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{first}"
    );

    // The kubelet health endpoint and the status endpoint.
    let addr = h.status()["healthz_addr"].as_str().unwrap().to_owned();
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let healthz = get("/healthz");
    assert!(
        healthz.starts_with("HTTP/1.1 200") && healthz.ends_with("\r\n\r\nok"),
        "{healthz}"
    );
    let status = get("/status");
    let body: Value = serde_json::from_str(status.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["pods"]["comp"]["pid"], pid);
}

#[test]
fn manifest_change_replaces_the_process_once() {
    let h = Harness::start();
    let pod = Pod::new("comp", h.dir.path());
    h.write_manifest("comp.yaml", &pod.yaml());
    let before = h.wait_ready("comp");
    let old_pid = before["pid"].as_u64().unwrap();
    let old_hash = before["manifest_hash"].as_str().unwrap().to_owned();

    let pod = Pod {
        port: free_port(),
        ..pod
    }
    .arg("--marker=v2");
    h.write_manifest("comp.yaml", &pod.yaml());
    let after = h.wait_pod(
        "comp",
        "the new manifest running",
        Duration::from_secs(30),
        |p| {
            p["manifest_hash"] != Value::String(old_hash.clone())
                && p["state"] == "running"
                && p["ready"] == true
        },
    );
    let new_pid = after["pid"].as_u64().unwrap();
    assert_ne!(new_pid, old_pid);
    assert!(!alive(old_pid), "the old process was stopped");
    assert!(
        cmdline(new_pid).contains(&"--marker=v2".to_owned()),
        "{:?}",
        cmdline(new_pid)
    );
    assert_eq!(
        after["restarts"], 0,
        "a new manifest is a new pod (new UID), not a restart"
    );
    assert_ne!(after["uid"], before["uid"]);
    assert!(Harness::log_text(&after).contains("--marker=v2"));
    // Stays that way: no further restarts of either version.
    std::thread::sleep(Duration::from_secs(2));
    let later = h.pod("comp");
    assert_eq!(
        (later["pid"].as_u64(), later["restarts"].as_u64()),
        (Some(new_pid), Some(0))
    );
}

#[test]
fn deleting_the_manifest_stops_the_process_group() {
    let h = Harness::start();
    let pod = Pod::new("comp", h.dir.path()).arg("--child");
    h.write_manifest("comp.yaml", &pod.yaml());
    let p = h.wait_ready("comp");
    let pid = p["pid"].as_u64().unwrap();
    let text = Harness::log_text(&p);
    let child_pid: u64 = text
        .lines()
        .find_map(|l| l.split("child pid ").nth(1))
        .unwrap_or_else(|| panic!("no child pid in log:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child_pid));
    std::fs::remove_file(h.path("manifests/comp.yaml")).unwrap();
    h.wait_for("the pod to disappear", Duration::from_secs(20), |s| {
        s["pods"].get("comp").is_none()
    });
    assert!(!alive(pid), "container process still alive");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(child_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(child_pid),
        "grandchild in the container's process group still alive"
    );
}

#[test]
fn exiting_process_is_restarted_with_back_off() {
    let h = Harness::start();
    let pod = Pod {
        probes: false,
        ..Pod::new("crashy", h.dir.path())
    }
    .arg("--exit-after-ms")
    .arg("700")
    .arg("--exit-code")
    .arg("3");
    h.write_manifest("crashy.yaml", &pod.yaml());
    let p = h.wait_pod("crashy", "one restart", Duration::from_secs(20), |p| {
        p["restarts"] == 1 && p["state"] == "running"
    });
    assert_eq!(p["last_exit_code"], 3);
    assert!(p["log_path"].as_str().unwrap().ends_with("/crashy/1.log"));
    // The second exit is delayed by the back-off (base 1s): CrashLoopBackOff is visible.
    let p = h.wait_pod(
        "crashy",
        "crash loop back-off",
        Duration::from_secs(20),
        |p| p["state"] == "crashloop",
    );
    assert!(
        p["last_error"].as_str().unwrap().contains("back-off"),
        "{p}"
    );
    h.wait_pod("crashy", "a second restart", Duration::from_secs(20), |p| {
        p["restarts"] == 2
    });
    let dir = Path::new(p["log_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(dir.join("0.log").is_file() && dir.join("1.log").is_file());
}

#[test]
fn liveness_failure_kills_and_restarts() {
    let h = Harness::start();
    let fail = h.path("fail-now");
    let pod = Pod::new("live", h.dir.path())
        .arg("--fail-file")
        .arg(&fail.display().to_string());
    h.write_manifest("live.yaml", &pod.yaml());
    let p = h.wait_ready("live");
    let pid = p["pid"].as_u64().unwrap();
    std::fs::write(&fail, "").unwrap();
    let p = h.wait_pod("live", "a liveness restart", Duration::from_secs(30), |p| {
        p["restarts"] == 1
    });
    std::fs::remove_file(&fail).unwrap();
    assert!(!alive(pid));
    let err = p["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Liveness probe failed") || err.contains("Readiness probe failed"),
        "{p}"
    );
    let p = h.wait_ready("live");
    assert_ne!(p["pid"].as_u64().unwrap(), pid);
    assert!(p["restarts"].as_u64().unwrap() >= 1);
    let log = std::fs::read_to_string(h.path("standin.log")).unwrap();
    assert!(
        log.contains("Liveness probe failed: HTTP probe failed with statuscode: 500"),
        "{log}"
    );
}

#[test]
fn dot_files_are_ignored_and_unsupported_pods_rejected() {
    let h = Harness::start();
    let data = h.dir.path();
    // A valid manifest under a hidden name must never run.
    h.write_manifest(".hidden.yaml", &Pod::new("hidden", data).yaml());
    // Not hostNetwork: rejected, never started.
    let bridged = Pod::new("bridged", data)
        .yaml()
        .replace("hostNetwork: true", "hostNetwork: false");
    h.write_manifest("bridged.yaml", &bridged);
    // A typo'd field: rejected by strict parsing.
    let typo = Pod::new("typo", data)
        .yaml()
        .replace("hostNetwork: true", "hostNetwork: true\n  hostNetwrk: true");
    h.write_manifest("typo.json", &typo);
    // Unparseable: keyed by file name.
    h.write_manifest("garbage", "this: [is not a pod");
    // One good pod, so we know the directory was scanned.
    h.write_manifest("good.yml", &Pod::new("good", data).yaml());
    h.wait_ready("good");
    let s = h.wait_for("rejections", Duration::from_secs(10), |s| {
        s["pods"]["bridged"]["state"] == "rejected"
            && s["pods"]["typo"]["state"] == "rejected"
            && s["pods"]["garbage"]["state"] == "rejected"
    });
    assert!(s["pods"].get("hidden").is_none(), "{s:#}");
    assert!(
        s["pods"]["bridged"]["last_error"]
            .as_str()
            .unwrap()
            .contains("hostNetwork"),
        "{s:#}"
    );
    assert!(
        s["pods"]["typo"]["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown field(s): spec.hostNetwrk"),
        "{s:#}"
    );
    assert!(
        s["pods"]["garbage"]["last_error"]
            .as_str()
            .unwrap()
            .contains("couldn't parse as pod"),
        "{s:#}"
    );
    for name in ["bridged", "typo"] {
        assert!(s["pods"][name]["pid"].is_null());
    }
    assert!(
        !std::fs::read_to_string(h.path("standin.log"))
            .unwrap()
            .contains("pod=hidden")
    );
    // Fixing a rejected manifest runs it; removing one clears its entry.
    h.write_manifest("bridged.yaml", &Pod::new("bridged", data).yaml());
    h.wait_ready("bridged");
    std::fs::remove_file(h.path("manifests/garbage")).unwrap();
    h.wait_for("the garbage entry to go", Duration::from_secs(10), |s| {
        s["pods"].get("garbage").is_none()
    });
}

#[test]
fn binaries_come_only_from_the_bin_dir() {
    let h = Harness::start();
    // `sleep` exists on the host PATH but not in --bin-dir: the pod must wait, not run /usr/bin/sleep.
    let yaml = Pod {
        probes: false,
        ..Pod::new("sleeper", h.dir.path())
    }
    .yaml()
    .replace(
        "registry.k8s.io/fake-component:v1.37.2",
        "registry.k8s.io/sleep:v1",
    )
    .replace("/usr/local/bin/fake-component", "sleep");
    h.write_manifest("sleeper.yaml", &yaml);
    let p = h.wait_pod(
        "sleeper",
        "waiting for its binary",
        Duration::from_secs(10),
        |p| {
            p["state"] == "waiting"
                && p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not found"))
        },
    );
    assert!(p["pid"].is_null());
    std::os::unix::fs::symlink(FAKE, h.path("bin/sleep")).unwrap();
    let p = h.wait_pod(
        "sleeper",
        "running once the binary exists",
        Duration::from_secs(10),
        |p| p["state"] == "running",
    );
    assert_eq!(
        cmdline(p["pid"].as_u64().unwrap())[0],
        h.path("bin/sleep").display().to_string()
    );
}

#[test]
fn sigkill_after_the_grace_period() {
    let h = Harness::start();
    let pod = Pod {
        probes: false,
        grace: 2,
        image: "registry.k8s.io/stubborn:v1",
        ..Pod::new("stubborn", h.dir.path())
    };
    h.write_manifest("stubborn.yaml", &pod.yaml());
    let p = h.wait_pod("stubborn", "running", Duration::from_secs(10), |p| {
        p["state"] == "running"
    });
    let pid = p["pid"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(300)); // let the shell exec the fake
    let t0 = Instant::now();
    std::fs::remove_file(h.path("manifests/stubborn.yaml")).unwrap();
    h.wait_for("the pod to disappear", Duration::from_secs(20), |s| {
        s["pods"].get("stubborn").is_none()
    });
    let took = t0.elapsed();
    assert!(!alive(pid));
    assert!(
        took >= Duration::from_millis(1900),
        "SIGTERM was ignored, so the stop must wait the 2s grace: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn sigterm_stops_all_pods_and_exits() {
    let mut h = Harness::start_with(&["--max-grace-period", "1s"]);
    let data = h.dir.path().to_path_buf();
    h.write_manifest("a.yaml", &Pod::new("a", &data).yaml());
    h.write_manifest("b.yaml", &Pod::new("b", &data).yaml());
    let pa = h.wait_ready("a")["pid"].as_u64().unwrap();
    let pb = h.wait_ready("b")["pid"].as_u64().unwrap();
    let st = h.stop();
    assert!(st.success(), "{st:?}");
    assert!(!alive(pa) && !alive(pb));
    // The last status survives for post-mortems.
    let s = h.status();
    for pod in ["a", "b"] {
        assert_eq!(s["pods"][pod]["state"], "terminated", "{s:#}");
        assert!(s["pods"][pod]["pid"].is_null());
    }
}
