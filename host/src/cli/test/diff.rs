//! A line diff of two texts, for showing expected against actual messages: the longest common
//! subsequence of lines, which for the few dozen lines of pretty-printed JSON a test compares
//! is instant, and needs no dependency.

/// `expected` against `actual`, one line each: `- ` only expected, `+ ` only actual, `  ` both.
pub fn lines(expected: &str, actual: &str) -> Vec<String> {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    // common[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old.len().max(new.len()));
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push(format!("  {}", old[i]));
            i += 1;
            j += 1;
        } else if j == new.len() || (i < old.len() && common[i + 1][j] >= common[i][j + 1]) {
            out.push(format!("- {}", old[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", new[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn marks_removed_added_and_kept_lines() {
        assert_eq!(
            lines("a\nb\nc", "a\nx\nc\nd"),
            vec!["  a", "- b", "+ x", "  c", "+ d"]
        );
    }

    #[test]
    fn identical_texts_have_no_change() {
        assert!(lines("a\nb", "a\nb").iter().all(|l| l.starts_with("  ")));
    }
}
