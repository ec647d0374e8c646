//! The typed surface of [`ApiClient`]: [`Api`] handles over k8s-openapi resources (get, list
//! with selectors, create, apply, merge patch, delete, wait-until), paths from
//! `k8s_openapi::Resource`.

use std::marker::PhantomData;
use std::time::Duration;

use k8s_openapi::{ListableResource, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::super::error::{Error, Status, Verb};
use super::{ApiClient, Applied};

/// The REST path of resource `K`: its collection (`name` = None) or one object. The namespace
/// is only used when `K` is namespaced; [`ApiClient::namespaced`] and
/// [`ApiClient::cluster_scoped`] make the scope a compile-time matter.
#[must_use]
pub fn resource_path<K: Resource>(namespace: Option<&str>, name: Option<&str>) -> String {
    let mut p = if K::GROUP.is_empty() {
        format!("/api/{}", K::VERSION)
    } else {
        format!("/apis/{}/{}", K::GROUP, K::VERSION)
    };
    if let Some(ns) = namespace {
        p.push_str("/namespaces/");
        p.push_str(ns);
    }
    p.push('/');
    p.push_str(K::URL_PATH_SEGMENT);
    if let Some(name) = name {
        p.push('/');
        p.push_str(name);
    }
    p
}

/// Label and field selectors for a list, as `kubectl get -l … --field-selector …` takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `tier=control-plane,component=kube-apiserver`.
    pub label_selector: Option<String>,
    /// `type=bootstrap.kubernetes.io/token`.
    pub field_selector: Option<String>,
}

impl ListParams {
    /// With a label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// With a field selector.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// `?labelSelector=…&fieldSelector=…`, percent-encoded, or "" without selectors.
    #[must_use]
    pub fn query(&self) -> String {
        let pairs: Vec<String> = [
            ("labelSelector", &self.label_selector),
            ("fieldSelector", &self.field_selector),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={}", percent_encode(v))))
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
}

/// RFC 3986 query-value encoding: everything but unreserved characters is escaped, so `=`,
/// `,`, `!` and `/` in selectors survive as data.
fn percent_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A typed handle on one resource kind (and namespace): the calls join, status and upgrade
/// make, without per-kind code. Made by [`ApiClient::namespaced`] or
/// [`ApiClient::cluster_scoped`].
pub struct Api<'c, K> {
    pub(super) client: &'c ApiClient,
    pub(super) namespace: Option<String>,
    pub(super) kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Api<'_, K> {
    /// The REST path of object `name`.
    #[must_use]
    pub fn path(&self, name: &str) -> String {
        resource_path::<K>(self.namespace.as_deref(), Some(name))
    }

    fn collection(&self) -> String {
        resource_path::<K>(self.namespace.as_deref(), None)
    }

    fn describe(&self, name: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{name}", K::KIND),
            None => format!("{} {name}", K::KIND),
        }
    }
}

impl<K: Resource + DeserializeOwned> Api<'_, K> {
    /// The object, or `None` when it does not exist.
    ///
    /// # Errors
    /// Transport or status errors other than 404; [`Error::Decode`].
    pub fn get(&self, name: &str) -> Result<Option<K>, Error> {
        self.client.send_typed(Verb::Get, &self.path(name), None)
    }

    /// The objects `params` selects (all of them without selectors).
    ///
    /// # Errors
    /// Transport or status errors (a 404 too: the kind is not served); [`Error::Decode`].
    pub fn list(&self, params: &ListParams) -> Result<Vec<K>, Error>
    where
        K: ListableResource,
    {
        let path = format!("{}{}", self.collection(), params.query());
        let list: Option<k8s_openapi::List<K>> = self.client.send_typed(Verb::Get, &path, None)?;
        match list {
            Some(l) => Ok(l.items),
            None => Err(Error::Status {
                verb: Verb::Get,
                url: format!("{}{path}", self.client.base),
                status: Box::new(Status {
                    code: 404,
                    reason: Some("NotFound".into()),
                    message: format!("the server does not serve {}", K::URL_PATH_SEGMENT),
                }),
            }),
        }
    }

    /// Creates `obj` (POST to the collection) and returns what the server stored.
    ///
    /// # Errors
    /// [`Error::is_already_exists`] when it exists; other transport, status or decode errors.
    pub fn create(&self, obj: &K) -> Result<K, Error>
    where
        K: Serialize,
    {
        let body = serde_json::to_vec(obj).map_err(|e| Error::Unaddressable(e.to_string()))?;
        let path = self.collection();
        self.client
            .send_typed(Verb::Post, &path, Some(("application/json", body)))?
            .ok_or_else(|| Error::Unaddressable(format!("POST {path}: empty answer")))
    }

    /// Server-side apply of `obj` (field manager [`FIELD_MANAGER`](super::FIELD_MANAGER), forced), addressed by its
    /// `metadata.name`.
    ///
    /// # Errors
    /// [`Error::Unaddressable`] without a name; transport or status errors.
    pub fn apply(&self, obj: &K) -> Result<Applied, Error>
    where
        K: Serialize
            + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    {
        let name =
            obj.metadata().name.as_deref().ok_or_else(|| {
                Error::Unaddressable(format!("{} without metadata.name", K::KIND))
            })?;
        let body = serde_json::to_vec(obj).map_err(|e| Error::Unaddressable(e.to_string()))?;
        self.client.apply_at(&self.path(name), body)
    }

    /// JSON merge patch (RFC 7396) on object `name`; returns the patched object.
    ///
    /// # Errors
    /// Transport, status (404 included) or decode errors.
    pub fn merge_patch(&self, name: &str, patch: &Value) -> Result<K, Error> {
        let body = serde_json::to_vec(patch).map_err(|e| Error::Unaddressable(e.to_string()))?;
        let path = self.path(name);
        self.client
            .send_typed(
                Verb::Patch,
                &path,
                Some(("application/merge-patch+json", body)),
            )?
            .ok_or_else(|| Error::Unaddressable(format!("PATCH {path}: empty answer")))
    }

    /// Deletes object `name`; `false` when it was already gone.
    ///
    /// # Errors
    /// Transport or status errors other than 404.
    pub fn delete(&self, name: &str) -> Result<bool, Error> {
        match self.client.send(Verb::Delete, &self.path(name), None) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Polls object `name` every `interval` until `done` holds for it (a CSR approved, a
    /// mirror Pod's hash changed), up to `timeout`. A missing object counts as "not yet";
    /// transient errors are retried, others end the wait.
    ///
    /// # Errors
    /// [`Error::Timeout`] naming `condition`; the first error that is not transient.
    pub fn wait_until(
        &self,
        name: &str,
        condition: &'static str,
        timeout: Duration,
        interval: Duration,
        mut done: impl FnMut(&K) -> bool,
    ) -> Result<K, Error> {
        let pending = || Error::Timeout {
            what: self.describe(name),
            condition,
            after: timeout,
        };
        crate::retry::Retry::new(timeout, interval).run(
            || match self.get(name)? {
                Some(obj) if done(&obj) => Ok(obj),
                _ => Err(pending()),
            },
            |e| matches!(e, Error::Timeout { .. }) || e.is_transient(),
        )
    }
}
