//! Just enough of etcd's v3 API (through its JSON gateway, over mTLS with a client certificate
//! signed by the etcd CA) for reset's `remove-etcd-member`: list members, remove one (retried
//! while etcd is not ready to let it go).
//! kubeadm: `app/util/etcd/etcd.go` (`ListMembers`, `RemoveMember`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::error::{Error, Status, Verb};
use crate::retry::Retry;

/// One member of the etcd cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member ID as the gateway prints it (a decimal uint64 in a string).
    pub id: String,
    /// `--name`.
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
}

/// Parses a `/v3/cluster/member/list` answer.
#[must_use]
pub fn parse_members(v: &Value) -> Vec<Member> {
    v["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Member {
            id: match &m["ID"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            name: m["name"].as_str().unwrap_or_default().to_string(),
            peer_urls: m["peerURLs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect(),
        })
        .collect()
}

/// The `--initial-advertise-peer-urls` of a local etcd static Pod manifest.
#[must_use]
pub fn peer_url_from_manifest(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim().trim_start_matches("- ").trim().trim_matches('"');
        l.strip_prefix("--initial-advertise-peer-urls=")
            .map(|u| u.split(',').next().unwrap_or(u).to_string())
    })
}

/// An etcd client for one endpoint.
pub struct EtcdClient {
    http: reqwest::Client,
    endpoint: String,
    rt: tokio::runtime::Runtime,
}

impl EtcdClient {
    /// From the etcd CA and a client certificate + key (PEM files).
    ///
    /// # Errors
    /// [`Error::ReadFile`], [`Error::Tls`] for unreadable or invalid PEM files;
    /// [`Error::Runtime`].
    pub fn new(endpoint: &str, ca: &Path, cert: &Path, key: &Path) -> Result<Self, Error> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| Error::ReadFile {
                path: p.to_path_buf(),
                source,
            })
        };
        let tls = |path: &Path, what: &'static str| {
            let path = path.to_path_buf();
            move |source| Error::Tls { path, what, source }
        };
        let roots =
            reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(tls(ca, "CA certificate"))?;
        let mut id = read(cert)?;
        id.push(b'\n');
        id.extend(read(key)?);
        let identity =
            reqwest::Identity::from_pem(&id).map_err(tls(cert, "client certificate or key"))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only(roots)
            .identity(identity)
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(tls(cert, "TLS setup"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(EtcdClient {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            rt,
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let url = format!("{}{path}", self.endpoint);
        let fut = async {
            let r = self
                .http
                .request(Verb::Post.method(), &url)
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .await?;
            let code = r.status().as_u16();
            let bytes = r.bytes().await?;
            Ok::<_, reqwest::Error>((code, bytes))
        };
        let (code, bytes) = self.rt.block_on(fut).map_err(|source| Error::Transport {
            verb: Verb::Post,
            url: url.clone(),
            source,
        })?;
        if !(200..300).contains(&code) {
            return Err(Error::Status {
                verb: Verb::Post,
                url,
                status: Box::new(Status::from_body(code, &bytes)),
            });
        }
        serde_json::from_slice::<Value>(&bytes).map_err(|source| Error::Decode {
            verb: Verb::Post,
            url,
            source,
        })
    }

    /// All members.
    ///
    /// # Errors
    /// Transport or etcd errors.
    pub fn members(&self) -> Result<Vec<Member>, Error> {
        Ok(parse_members(
            &self.post("/v3/cluster/member/list", &json!({}))?,
        ))
    }

    /// Removes a member by ID.
    ///
    /// # Errors
    /// Transport or etcd errors.
    pub fn remove(&self, id: &str) -> Result<(), Error> {
        self.post("/v3/cluster/member/remove", &json!({ "ID": id }))?;
        Ok(())
    }

    /// [`EtcdClient::remove`], retried every second for up to `within`: etcd refuses to remove
    /// a member while the others have not been connected for a few seconds ("unhealthy
    /// cluster"), and kubeadm's etcd client retries too.
    ///
    /// # Errors
    /// The last error at the deadline.
    pub fn remove_retrying(&self, id: &str, within: Duration) -> Result<(), Error> {
        Retry::new(within, Duration::from_secs(1)).until_ok(|| {
            self.remove(id).inspect_err(|e| {
                tracing::debug!(
                    "etcd member removal not accepted yet: {}",
                    crate::health::error_chain(e)
                );
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_from_the_gateway_shape() {
        let v = json!({"header": {}, "members": [
            {"ID": "10276657743932975437", "name": "cp-1", "peerURLs": ["https://10.0.0.5:2380"], "clientURLs": ["https://10.0.0.5:2379"]},
            {"ID": "42", "name": "cp-2", "peerURLs": ["https://10.0.0.6:2380"]},
        ]});
        let m = parse_members(&v);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, "10276657743932975437");
        assert_eq!(m[1].peer_urls, vec!["https://10.0.0.6:2380".to_string()]);
        assert!(parse_members(&json!({})).is_empty());
    }

    #[test]
    fn the_peer_url_comes_from_the_manifest() {
        let yaml = "spec:\n  containers:\n  - command:\n    - etcd\n    - \"--initial-advertise-peer-urls=https://10.0.0.5:2380\"\n    - --name=cp-1\n";
        assert_eq!(
            peer_url_from_manifest(yaml).as_deref(),
            Some("https://10.0.0.5:2380")
        );
        assert_eq!(peer_url_from_manifest("spec: {}\n"), None);
    }
}
