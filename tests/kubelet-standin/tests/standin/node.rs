//! Node registration and mirror Pods against a fake API server that speaks TLS with a test CA and
//! requires a client certificate (as the real API server does for kubelet.conf).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::{Harness, Pod};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    content_type: String,
    body: Value,
}

struct Pki {
    ca_pem: String,
    server_cert: rustls::pki_types::CertificateDer<'static>,
    server_key: Vec<u8>,
    client_cert_pem: String,
    client_key_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "kubernetes");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "system:node:test-node");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "system:nodes");
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server_cert: server_cert.der().clone(),
        server_key: server_key.serialize_der(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A fake kube-apiserver: records requests and answers the calls the stand-in makes.
struct FakeApi {
    _rt: tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    handshake_errors: Arc<Mutex<Vec<String>>>,
}

impl FakeApi {
    fn start(pki: &Pki) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![pki.server_cert.clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key.clone().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handshake_errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let (reqs, errs) = (requests.clone(), handshake_errors.clone());
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, reqs, errs) = (acceptor.clone(), reqs.clone(), errs.clone());
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(tls) => serve(tls, reqs).await,
                        Err(e) => errs.lock().unwrap().push(e.to_string()),
                    }
                });
            }
        });
        Self {
            _rt: rt,
            addr,
            requests,
            handshake_errors,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn wait_request(&self, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what} request; got {:#?}",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn serve(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    reqs: Arc<Mutex<Vec<Request>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + len {
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let body = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
    let req = Request {
        method,
        path,
        content_type: header("content-type"),
        body,
    };
    let (code, resp) = respond(&req, &reqs.lock().unwrap());
    reqs.lock().unwrap().push(req);
    let text = resp.to_string();
    let out = format!(
        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = tls.write_all(out.as_bytes()).await;
    let _ = tls.shutdown().await;
}

fn respond(req: &Request, earlier: &[Request]) -> (u16, Value) {
    let seen = |m: &str, p: &str| earlier.iter().any(|r| r.method == m && r.path == p);
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v1/nodes") => (
            201,
            json!({"metadata": {"name": "test-node", "uid": "node-uid-1"}}),
        ),
        ("PATCH", "/api/v1/nodes/test-node/status") => (200, json!({})),
        ("PATCH", p) if p.ends_with("/leases/test-node") => {
            if seen(
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            ) {
                (200, json!({}))
            } else {
                (404, json!({"kind": "Status", "code": 404}))
            }
        }
        ("POST", p) if p.ends_with("/leases") => (201, json!({})),
        ("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dtest-node") => {
            // The mirror Pods created so far and not deleted since.
            let mut items: Vec<Value> = Vec::new();
            for r in earlier {
                if r.method == "POST" && r.path.ends_with("/pods") {
                    items.push(r.body.clone());
                } else if r.method == "DELETE" {
                    items.retain(|i| {
                        !r.path.ends_with(&format!(
                            "/{}",
                            i["metadata"]["name"].as_str().unwrap_or("")
                        ))
                    });
                }
            }
            (200, json!({"kind": "PodList", "items": items}))
        }
        ("GET", p) if p.contains("/pods") => (403, json!({"kind": "Status", "code": 403})),
        ("POST", p) if p.ends_with("/pods") => (201, req.body.clone()),
        ("PATCH", p) if p.ends_with("/status") => (200, json!({})),
        ("DELETE", _) => (200, json!({})),
        _ => (404, json!({"kind": "Status", "message": "not found"})),
    }
}

fn kubeconfig(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {}
    server: {server}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:test-node
  name: system:node:test-node@kubernetes
current-context: system:node:test-node@kubernetes
preferences: {{}}
users:
- name: system:node:test-node
  user:
    client-certificate-data: {}
    client-key-data: {}
",
        b(ca_pem),
        b(cert_pem),
        b(key_pem)
    )
}

#[test]
fn registers_the_node_keeps_it_ready_and_mirrors_static_pods() {
    let pki = pki();
    let api = FakeApi::start(&pki);
    let kc_dir = tempfile::tempdir().unwrap();
    let kc = kc_dir.path().join("kubelet.conf");
    let h = Harness::start_with(&[
        "--kubeconfig",
        &kc.display().to_string(),
        "--mirror-pods",
        "--node-ip",
        "127.0.0.1",
        "--node-status-interval",
        "300ms",
        "--kubelet-version",
        "v1.37.2",
    ]);
    // The kubeconfig may appear after the stand-in starts (kubeadm writes it during init).
    h.wait_for("waiting for the kubeconfig", Duration::from_secs(10), |s| {
        s["node_error"]
            .as_str()
            .is_some_and(|e| e.contains("waiting for kubeconfig"))
    });
    let server = format!("https://{}", api.addr);
    std::fs::write(
        &kc,
        kubeconfig(
            &server,
            &pki.ca_pem,
            &pki.client_cert_pem,
            &pki.client_key_pem,
        ),
    )
    .unwrap();
    h.wait_for("node registration", Duration::from_secs(20), |s| {
        s["node_registered"] == true
    });

    let create = api.wait_request("node create", |r| {
        r.method == "POST" && r.path == "/api/v1/nodes"
    });
    let labels = &create.body["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], "test-node");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels["kubernetes.io/arch"].is_string());

    // Heartbeats: repeated status patches with Ready=True, plus a Lease.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while api
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/nodes/test-node/status")
        .count()
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "too few heartbeats: {:#?}",
            api.requests()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let beat = api.wait_request("heartbeat", |r| r.path == "/api/v1/nodes/test-node/status");
    assert_eq!(beat.method, "PATCH");
    assert_eq!(beat.content_type, "application/strategic-merge-patch+json");
    let conds = beat.body["status"]["conditions"].as_array().unwrap();
    let ready = conds.iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(beat.body["status"]["nodeInfo"]["kubeletVersion"], "v1.37.2");
    let lease = api.wait_request("lease create", |r| {
        r.method == "POST" && r.path.ends_with("/leases")
    });
    assert_eq!(
        lease.body["metadata"]["ownerReferences"][0]["uid"],
        "node-uid-1"
    );

    // Mirror pod for a static pod, then its removal.
    h.write_manifest("comp.yaml", &Pod::new("comp", h.dir.path()).yaml());
    let p = h.wait_ready("comp");
    let mirror = api.wait_request("mirror pod create", |r| {
        r.method == "POST" && r.path == "/api/v1/namespaces/kube-system/pods"
    });
    let meta = &mirror.body["metadata"];
    assert_eq!(meta["name"], "comp-test-node");
    assert_eq!(meta["annotations"]["kubernetes.io/config.source"], "file");
    assert_eq!(meta["annotations"]["kubernetes.io/config.mirror"], p["uid"]);
    assert_eq!(meta["ownerReferences"][0]["kind"], "Node");
    assert_eq!(meta["ownerReferences"][0]["uid"], "node-uid-1");
    assert_eq!(mirror.body["spec"]["nodeName"], "test-node");
    assert!(mirror.body.get("status").is_none());
    api.wait_request("mirror pod status Running", |r| {
        r.path == "/api/v1/namespaces/kube-system/pods/comp-test-node/status"
            && r.body["status"]["phase"] == "Running"
    });
    // A changed manifest replaces the mirror Pod (new hash): delete the old one, create the new one.
    h.write_manifest(
        "comp.yaml",
        &Pod::new("comp", h.dir.path()).arg("--v2").yaml(),
    );
    let new_uid = h.wait_pod("comp", "a new uid", Duration::from_secs(30), |q| {
        q["uid"] != p["uid"] && q["state"] == "running"
    })["uid"]
        .clone();
    api.wait_request("replacement mirror pod", |r| {
        r.method == "POST"
            && r.body["metadata"]["annotations"]["kubernetes.io/config.mirror"] == new_uid
    });
    api.wait_request("outdated mirror pod delete", |r| {
        r.method == "DELETE" && r.body["preconditions"].is_object()
    });
    std::fs::remove_file(h.path("manifests/comp.yaml")).unwrap();
    api.wait_request("mirror pod delete", |r| {
        r.method == "DELETE" && r.path == "/api/v1/namespaces/kube-system/pods/comp-test-node"
    });
    assert!(
        api.handshake_errors.lock().unwrap().is_empty(),
        "{:?}",
        api.handshake_errors.lock().unwrap()
    );
}

#[test]
fn the_api_server_certificate_is_verified() {
    let pki = pki();
    let other = self::pki(); // a CA that did not sign the server certificate
    let api = FakeApi::start(&pki);
    let kc_dir = tempfile::tempdir().unwrap();
    let kc = kc_dir.path().join("kubelet.conf");
    let server = format!("https://{}", api.addr);
    std::fs::write(
        &kc,
        kubeconfig(
            &server,
            &other.ca_pem,
            &pki.client_cert_pem,
            &pki.client_key_pem,
        ),
    )
    .unwrap();
    let h = Harness::start_with(&["--kubeconfig", &kc.display().to_string()]);
    let s = h.wait_for("a TLS error", Duration::from_secs(20), |s| {
        s["node_error"]
            .as_str()
            .is_some_and(|e| e.contains("certificate") || e.contains("UnknownIssuer"))
    });
    assert_eq!(s["node_registered"], false);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        api.requests().is_empty(),
        "no request may pass an unverified server: {:#?}",
        api.requests()
    );
    assert_eq!(h.status()["node_registered"], false);
}
