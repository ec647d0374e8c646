//! "Did you mean" suggestions for misspelt field names.

/// The closest candidate to `word`: a case-insensitive match first, then the smallest edit
/// distance within a third of the word's length.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let fields = ["podSubnet", "serviceSubnet", "dnsDomain"];
        assert_eq!(closest("podSubnett", &fields), Some("podSubnet"));
        assert_eq!(closest("PodSubnet", &fields), Some("podSubnet"));
        assert_eq!(closest("servceSubnet", &fields), Some("serviceSubnet"));
        assert_eq!(closest("zzz", &fields), None);
    }
}
