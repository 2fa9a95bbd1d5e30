//! Near matches for "did you mean ...?" hints: a name within a typing mistake or two of the
//! one asked for. The one matcher behind every such hint (a raw folder, a header, a file name);
//! each caller decides which candidates are safe to name (never another participant's data,
//! never a cell that could hold a person's name).

use std::collections::BTreeSet;

/// Levenshtein distance between `a` and `b`, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
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

/// The one candidate within `max` edits of `wanted`, ignoring case (an equal one is not a
/// hint); `None` when there is none or more than one: two guesses are no guess.
pub fn unique_near<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    let near: BTreeSet<&str> = candidates
        .into_iter()
        .filter(|c| (1..=max).contains(&edit_distance(&wanted, &c.to_lowercase())))
        .collect();
    let mut near = near.into_iter();
    match (near.next(), near.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("58253", "58235"), 2);
        assert_eq!(edit_distance("58253", "58253"), 0);
        assert_eq!(edit_distance("S1", "S12"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("58253", "99999"), 5);
    }

    #[test]
    fn one_near_candidate_or_none() {
        let files = ["STUDY_dataprocessing.xlsx", "notes.xlsx"];
        assert_eq!(
            unique_near("STUDY_dataprocesing.xlsx", files, 2),
            Some("STUDY_dataprocessing.xlsx")
        );
        assert_eq!(
            unique_near("study_dataprocesing.XLSX", files, 2),
            Some(files[0])
        );
        assert_eq!(unique_near("other.xlsx", files, 2), None);
        assert_eq!(
            unique_near("notes.xlsx", files, 2),
            None,
            "equal is no hint"
        );
        assert_eq!(unique_near("ab", ["ac", "ad"], 1), None, "two guesses");
        assert_eq!(unique_near("ab", ["ac", "ac"], 1), Some("ac"), "one, twice");
        assert_eq!(unique_near("ab", ["ac"], 0), None);
    }
}
