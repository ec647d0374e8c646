//! Syntax of single values: endpoints, tokens, bootstrap groups, DNS names.

use std::net::IpAddr;

use super::super::values::Endpoint;

/// Splits `host[:port]` / `[v6]:port` / bare IPv6.
pub(super) fn parse_endpoint(s: &str, default_port: u16) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} has an unclosed '['"))?;
        match after.strip_prefix(':') {
            Some(p) => (h.to_string(), Some(p)),
            None if after.is_empty() => (h.to_string(), None),
            None => return Err(format!("{s:?} is not host:port")),
        }
    } else if s.parse::<IpAddr>().is_ok() {
        (s.to_string(), None)
    } else if let Some((h, p)) = s.rsplit_once(':') {
        (h.to_string(), Some(p))
    } else {
        (s.to_string(), None)
    };
    if host.parse::<IpAddr>().is_err() && !is_dns_subdomain(&host) {
        return Err(format!(
            "{host:?} is neither an IP address nor a valid DNS name"
        ));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{p:?} is not a valid port")),
        },
        None => default_port,
    };
    Ok(Endpoint { host, port })
}

/// 255.255.255.255 (the limited broadcast address): no API server can be reached there.
pub(super) fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

pub(super) fn is_token(t: &str) -> bool {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    matches!(t.split_once('.'), Some((a, b)) if ok(a, 6) && ok(b, 16))
}

pub(super) fn is_bootstrap_group(g: &str) -> bool {
    let Some(rest) = g.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    !rest.is_empty()
        && rest.len() <= 256
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
        && rest
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}
