//! Ordering and merging findings: most serious first, in a fixed order, and one finding for a
//! mistake repeated across many files.
//!
//! The rule: findings with the same rank, tag and message are merged, whatever files they are
//! in. One occurrence stays as it is. Several become one finding that keeps the first file (in
//! path order) and says how many: `(0010,4000) PatientComments not anonymous in 2000 files`, or,
//! for findings about files themselves, `dwi/IM-0001.dcm missing, and 11 more files`.
//! Order: rank (PHI left, profile elements, files, other changes), then tag, then message.

use super::Ranked;
use crate::finding::Finding;

/// Sorts findings (rank, tag, message, file) without merging: for one file.
pub fn sorted(mut v: Vec<Ranked>) -> Vec<Finding> {
    sort(&mut v);
    v.into_iter().map(|r| r.finding).collect()
}

/// Sorts and merges repeats across files.
pub fn finish(mut v: Vec<Ranked>) -> Vec<Finding> {
    sort(&mut v);
    let mut out: Vec<Finding> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let first = &v[i];
        let n = v[i..]
            .iter()
            .take_while(|r| {
                r.rank == first.rank
                    && r.finding.tag == first.finding.tag
                    && r.finding.message == first.finding.message
            })
            .count();
        let mut f = first.finding.clone();
        if n > 1 {
            f.message = if f.tag.is_some() {
                format!("{} in {n} files", f.message)
            } else {
                format!("{}, and {} more files", f.message, n - 1)
            };
        }
        out.push(f);
        i += n;
    }
    out
}

fn sort(v: &mut [Ranked]) {
    v.sort_by(|a, b| {
        (a.rank, a.finding.tag, &a.finding.message, &a.finding.file).cmp(&(
            b.rank,
            b.finding.tag,
            &b.finding.message,
            &b.finding.file,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::super::Rank;
    use super::*;

    fn r(rank: Rank, tag: Option<(u16, u16)>, file: &str, msg: &str) -> Ranked {
        let mut f = Finding::new(msg).file(file);
        if let Some((g, e)) = tag {
            f = f.tag(g, e);
        }
        Ranked { rank, finding: f }
    }

    #[test]
    fn repeats_merge_keeping_the_first_file_and_serious_ones_come_first() {
        let mut v = Vec::new();
        for i in (0..2000).rev() {
            v.push(r(
                Rank::Profile,
                Some((0x10, 0x4000)),
                &format!("s/IM-{i:04}.dcm"),
                "PatientComments not anonymous",
            ));
        }
        v.push(r(Rank::File, None, "b.dcm", "missing"));
        v.push(r(Rank::File, None, "a.dcm", "missing"));
        v.push(r(
            Rank::Changed,
            Some((0x7FE0, 0x10)),
            "c.dcm",
            "PixelData changed",
        ));
        v.push(r(
            Rank::Phi,
            Some((0x33, 0x1013)),
            "c.dcm",
            "private element holds the patient's name",
        ));
        let merged = finish(v);
        assert_eq!(merged[1].file.as_deref(), Some("s/IM-0000.dcm"));
        let got: Vec<String> = merged.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            got,
            [
                "(0033,1013) private element holds the patient's name",
                "(0010,4000) PatientComments not anonymous in 2000 files",
                "a.dcm missing, and 1 more files",
                "(7FE0,0010) PixelData changed",
            ]
        );
    }
}
