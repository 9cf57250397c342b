//! Where a (kernel, case) snapshot lives, and reading one back without insta (for
//! `mapconform run --compare-to`). Writing and comparing in tests is insta's job.
//!
//! Layout: `snapshots/<kernel-id>/<case-id>.snap`, e.g. `snapshots/6.12/hash/update-flags.snap`.
//! The file is insta's format: a YAML header (kernel release, Debian version, accelerator —
//! metadata, not compared) between `---` lines, then the compared body:
//! [`crate::outcome::CaseResult::snapshot_body`].
use std::path::{Path, PathBuf};

/// The folder insta is pointed at and the snapshot name inside it.
pub fn location(snapshots: &Path, kernel: &str, case: &str) -> (PathBuf, String) {
    let path = snapshots.join(kernel).join(case);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| snapshots.join(kernel));
    (dir, name)
}

pub fn path(snapshots: &Path, kernel: &str, case: &str) -> PathBuf {
    let (dir, name) = location(snapshots, kernel, case);
    dir.join(format!("{name}.snap"))
}

/// The compared body of a snapshot file: everything after the header's closing `---`.
pub fn body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// Read the body of the snapshot of `case` on `kernel`, if there is one.
pub fn read_body(snapshots: &Path, kernel: &str, case: &str) -> Option<String> {
    let text = std::fs::read_to_string(path(snapshots, kernel, case)).ok()?;
    body(&text).map(|b| b.trim_end().to_string())
}

/// How a result compares with a committed snapshot: the one comparison the CLI
/// (`--compare-to`), the report and the matrix trials all use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// A unified diff, snapshot (`-`) to observed (`+`).
    Differs(String),
    NoSnapshot,
}

/// Compares `result` with the snapshot of its case on kernel `baseline` under `snapshots`.
pub fn compare(snapshots: &Path, baseline: &str, result: &crate::outcome::CaseResult) -> Comparison {
    compare_body(
        read_body(snapshots, baseline, &result.case).as_deref(),
        &result.snapshot_body(),
        baseline,
    )
}

/// Compares an observed body with a snapshot body (`None`: there is no snapshot). Trailing
/// white space does not count (insta trims it too).
pub fn compare_body(snapshot: Option<&str>, observed: &str, baseline: &str) -> Comparison {
    match snapshot {
        None => Comparison::NoSnapshot,
        Some(expected) if expected.trim_end() == observed.trim_end() => Comparison::Same,
        Some(expected) => Comparison::Differs(unified(
            expected,
            observed,
            &format!("snapshots/{baseline}"),
            "observed",
        )),
    }
}

/// A unified diff of two bodies with a little context.
pub fn unified(before: &str, after: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(&format!("{}\n", before.trim_end()), &format!("{}\n", after.trim_end()))
        .unified_diff()
        .context_radius(2)
        .header(from, to)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_case_ids_become_folders() {
        let (dir, name) = location(Path::new("snapshots"), "6.12", "hash/update-flags");
        assert_eq!(dir, Path::new("snapshots/6.12/hash"));
        assert_eq!(name, "update-flags");
        assert_eq!(path(Path::new("s"), "5.10", "x"), Path::new("s/5.10/x.snap"));
    }

    #[test]
    fn comparison_ignores_trailing_space_and_diffs_the_rest() {
        let a = "- step: create m\n  result: ok\n";
        assert_eq!(compare_body(Some(a), &format!("{a}\n\n"), "6.12"), Comparison::Same);
        assert_eq!(compare_body(None, a, "6.12"), Comparison::NoSnapshot);
        let Comparison::Differs(diff) = compare_body(Some(a), "- step: create m\n  result: EPERM\n", "6.12") else {
            panic!("a changed result differs")
        };
        assert!(
            diff.contains("--- snapshots/6.12") && diff.contains("-  result: ok") && diff.contains("+  result: EPERM"),
            "{diff}"
        );
    }

    #[test]
    fn body_skips_the_header() {
        let text = "---\nsource: x\ninfo:\n  kernel: 6.1\n---\n- step: create m\n  result: ok\n";
        assert_eq!(body(text), Some("- step: create m\n  result: ok\n"));
        assert_eq!(body("no header"), None);
    }
}
