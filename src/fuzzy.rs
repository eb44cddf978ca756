//! Small string-distance helpers shared by the compiler's "did you mean" hints and the planner.

/// Levenshtein distance over characters (Unicode scalar values), from `strsim`.
pub fn levenshtein(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// The typo budget for a word of this length: 0 for short words, 1 up to 7 letters, then 2.
pub fn typo_budget(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Up to three candidates closest to `name` (case-insensitive), best first, within a
/// distance that still reads as a typo; prefix matches count as close.
pub fn closest<'a, I>(name: &str, candidates: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let needle = name.to_lowercase();
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let d = levenshtein(&needle, &lc);
            let limit = (needle.chars().count().max(3) / 3).max(2);
            let prefix = needle.len() >= 3 && (lc.starts_with(&needle) || needle.starts_with(&lc));
            (d <= limit || prefix).then(|| (if prefix { d.min(1) } else { d }, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// " (did you mean a, b?)" or "" when nothing is close.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let c = closest(name, candidates);
    if c.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", c.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("arr", "arr"), 0);
        // Characters, not bytes: one edit each.
        assert_eq!(levenshtein("café", "cafe"), 1);
        assert_eq!(levenshtein("jewellery", "jewelery"), 1);
    }

    #[test]
    fn closest_finds_typos_and_prefixes() {
        let names = ["arr", "net_new_arr", "tickets", "csat", "churned_arr"];
        assert_eq!(closest("tickts", names), vec!["tickets"]);
        assert_eq!(closest("churned", names), vec!["churned_arr"]);
        assert!(closest("headcount", names).is_empty());
        assert_eq!(did_you_mean("csta", names), "; did you mean csat?");
    }
}
