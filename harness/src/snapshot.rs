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
    fn body_skips_the_header() {
        let text = "---\nsource: x\ninfo:\n  kernel: 6.1\n---\n- step: create m\n  result: ok\n";
        assert_eq!(body(text), Some("- step: create m\n  result: ok\n"));
        assert_eq!(body("no header"), None);
    }
}
