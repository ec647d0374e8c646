//! The allow-list: the fenced ```` ```parity-allow ```` blocks of `docs/compatibility.md`.
//!
//! One entry per line: `<key-glob> [<config-glob>,...] # <reason>`. `*` matches any run of
//! characters (including `:`), `?` one character. Without config globs an entry applies to
//! every config. The reason is mandatory. Blank lines and lines starting with `#` are comments.

use anyhow::{Result, bail};

/// One allowed difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Glob over difference keys.
    pub key: String,
    /// Globs over config names (empty: all configs).
    pub configs: Vec<String>,
    /// Why plinth differs.
    pub reason: String,
    /// Line in the markdown file (1-based).
    pub line: usize,
}

impl Entry {
    /// Whether this entry allows `key` in `config`.
    #[must_use]
    pub fn allows(&self, config: &str, key: &str) -> bool {
        glob(&self.key, key)
            && (self.configs.is_empty() || self.configs.iter().any(|c| glob(c, config)))
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
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let (key, configs) = match fields.as_slice() {
            [k] => (*k, Vec::new()),
            [k, c] => (*k, c.split(',').map(String::from).collect()),
            _ => bail!("line {n}: want `<key-glob> [<config-glob>,...] # reason`: {t}"),
        };
        out.push(Entry {
            key: key.to_string(),
            configs,
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

    #[test]
    fn globs() {
        assert!(glob("cert:*:public-key", "cert:etcd/ca:public-key"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(glob("file:pki/?a.crt:mode", "file:pki/ca.crt:mode"));
        assert!(!glob("cert:*:san", "cert:ca:san:DNS:x"));
        assert!(!glob("a*b", "aXbY"));
    }

    #[test]
    fn parses_blocks_and_requires_reasons() {
        let md = "text\n```parity-allow\n# comment\ncert:*:public-key  default,ipv*  # C1: ECDSA\n\nfile:x  # why\n```\n```yaml\nnot: parsed\n```\n";
        let e = parse(md).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].configs, ["default", "ipv*"]);
        assert_eq!(e[0].reason, "C1: ECDSA");
        assert_eq!(e[0].line, 4);
        assert!(e[0].allows("ipv6", "cert:ca:public-key"));
        assert!(!e[0].allows("dual", "cert:ca:public-key"));
        assert!(e[1].allows("anything", "file:x"));
        assert!(parse("```parity-allow\nkey-without-reason\n```\n").is_err());
        assert!(parse("```parity-allow\nkey #  \n```\n").is_err());
        assert!(parse("```parity-allow\nkey a b # r\n```\n").is_err());
        assert!(parse("```parity-allow\nkey # r\n").is_err());
    }
}
