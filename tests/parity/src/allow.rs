//! The allow-list: the fenced ```` ```parity-allow ```` blocks of `docs/compatibility.md`.
//!
//! One entry per line: `<key-glob> [configs=<glob>,...] [kubeadm=<v>] [plinth=<v>] # <reason>`.
//! `*` matches any run of characters (including `:`), `?` one character. Without `configs=` an
//! entry applies to every config. `kubeadm=`/`plinth=` pin the value on that side: compact JSON
//! (`"RSA-2048"`, `{"critical":false}`) or `absent`, so an entry cannot hide a different
//! difference under the same key. The reason is mandatory. Blank lines and lines starting with
//! `#` are comments. A value cannot contain `#` (the reason starts at the first one).

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One allowed difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Glob over difference keys.
    pub key: String,
    /// Globs over config names (empty: all configs).
    pub configs: Vec<String>,
    /// kubeadm's value must be this (`Some(None)`: absent); `None`: any.
    pub kubeadm: Option<Option<Value>>,
    /// plinth's value must be this (`Some(None)`: absent); `None`: any.
    pub plinth: Option<Option<Value>>,
    /// Why plinth differs.
    pub reason: String,
    /// Line in the markdown file (1-based).
    pub line: usize,
}

impl Entry {
    /// Whether this entry allows difference `d` in `config`.
    #[must_use]
    pub fn allows(&self, config: &str, d: &crate::Difference) -> bool {
        let pinned = |want: &Option<Option<Value>>, got: &Option<Value>| {
            want.as_ref().is_none_or(|w| w == got)
        };
        glob(&self.key, &d.key)
            && (self.configs.is_empty() || self.configs.iter().any(|c| glob(c, config)))
            && pinned(&self.kubeadm, &d.kubeadm)
            && pinned(&self.plinth, &d.plinth)
    }
}

/// Glob match with `*` and `?`.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Splits on whitespace outside double-quoted strings (so `plinth="EC PRIVATE KEY"` is one
/// token); a backslash escapes the next character inside quotes, as in JSON.
fn tokens(s: &str) -> Vec<String> {
    let (mut out, mut cur) = (Vec::new(), String::new());
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses every `parity-allow` block of a markdown document.
///
/// # Errors
/// An entry without a reason, with too many fields, or an unterminated block.
pub fn parse(markdown: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, line) in markdown.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if !in_block {
            in_block = t == "```parity-allow";
            continue;
        }
        if t == "```" {
            in_block = false;
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((spec, reason)) = t.split_once('#') else {
            bail!("line {n}: allow-list entry without a `# reason`: {t}");
        };
        let reason = reason.trim();
        if reason.is_empty() {
            bail!("line {n}: allow-list entry with an empty reason: {t}");
        }
        let fields = tokens(spec);
        let mut fields = fields.iter().map(String::as_str);
        let Some(key) = fields.next() else {
            bail!("line {n}: allow-list entry without a key: {t}");
        };
        let (mut configs, mut kubeadm, mut plinth) = (Vec::new(), None, None);
        let value = |v: &str| -> Result<Option<Value>> {
            if v == "absent" {
                Ok(None)
            } else {
                Ok(Some(serde_json::from_str(v).with_context(|| {
                    format!("line {n}: `{v}` is neither JSON nor `absent`")
                })?))
            }
        };
        for f in fields {
            match f.split_once('=') {
                Some(("configs", c)) => configs = c.split(',').map(String::from).collect(),
                Some(("kubeadm", v)) => kubeadm = Some(value(v)?),
                Some(("plinth", v)) => plinth = Some(value(v)?),
                _ => bail!(
                    "line {n}: want `<key-glob> [configs=..] [kubeadm=..] [plinth=..] # reason`, got `{f}`"
                ),
            }
        }
        out.push(Entry {
            key: key.to_string(),
            configs,
            kubeadm,
            plinth,
            reason: reason.to_string(),
            line: n,
        });
    }
    if in_block {
        bail!("unterminated ```parity-allow block");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob("cert:*:public-key", "cert:etcd/ca:public-key"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(glob("file:pki/?a.crt:mode", "file:pki/ca.crt:mode"));
        assert!(!glob("cert:*:san", "cert:ca:san:DNS:x"));
        assert!(!glob("a*b", "aXbY"));
    }

    fn d(key: &str, kubeadm: Option<Value>, plinth: Option<Value>) -> crate::Difference {
        crate::Difference {
            key: key.into(),
            kubeadm,
            plinth,
        }
    }

    #[test]
    fn parses_blocks_and_requires_reasons() {
        let md = "text\n```parity-allow\n# comment\ncert:*:public-key  configs=default,ipv*  # C1: ECDSA\n\nfile:x  # why\n```\n```yaml\nnot: parsed\n```\n";
        let e = parse(md).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].configs, ["default", "ipv*"]);
        assert_eq!(e[0].reason, "C1: ECDSA");
        assert_eq!(e[0].line, 4);
        let any = || Some(json!("x"));
        assert!(e[0].allows("ipv6", &d("cert:ca:public-key", any(), any())));
        assert!(!e[0].allows("dual", &d("cert:ca:public-key", any(), any())));
        assert!(e[1].allows("anything", &d("file:x", None, any())));
        assert!(parse("```parity-allow\nkey-without-reason\n```\n").is_err());
        assert!(parse("```parity-allow\nkey #  \n```\n").is_err());
        assert!(parse("```parity-allow\nkey default # r\n```\n").is_err());
        assert!(parse("```parity-allow\nkey kubeadm=notjson # r\n```\n").is_err());
        assert!(parse("```parity-allow\nkey # r\n").is_err());
    }

    #[test]
    fn quoted_values_may_hold_spaces() {
        assert_eq!(
            tokens(r#"key:* plinth="EC PRIVATE KEY"  kubeadm="a \" b""#),
            ["key:*", r#"plinth="EC PRIVATE KEY""#, r#"kubeadm="a \" b""#]
        );
        let e = parse("```parity-allow\nkey:x plinth=\"EC PRIVATE KEY\" # r\n```\n").unwrap();
        assert_eq!(e[0].plinth, Some(Some(json!("EC PRIVATE KEY"))));
    }

    #[test]
    fn pinned_values_must_match() {
        let e = parse(
            "```parity-allow\ncert:*:ski kubeadm=absent plinth={\"critical\":false} # P1\n```\n",
        )
        .unwrap();
        let ski = json!({"critical": false});
        assert!(e[0].allows("c", &d("cert:apiserver:ski", None, Some(ski.clone()))));
        // The CA losing its SKI is the same key, but not the allowed difference.
        assert!(!e[0].allows("c", &d("cert:ca:ski", Some(ski), None)));
    }
}
