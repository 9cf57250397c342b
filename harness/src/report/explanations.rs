//! `snapshots/explanations.yaml`: why a behaviour differs between kernels, reviewed by a
//! person. Optional: without the file, changes are shown without explanations.
use crate::kernels::cache::version_key;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExplanationsError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Change,
    Fix,
    NewFeature,
    MissedCheck,
    /// The syscall and the helper answer differently (see the `oracle` module).
    DoorDisagreement,
}

impl Kind {
    /// As written in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Change => "change",
            Kind::Fix => "fix",
            Kind::NewFeature => "new-feature",
            Kind::MissedCheck => "missed-check",
            Kind::DoorDisagreement => "door-disagreement",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub id: String,
    #[serde(default)]
    pub subject: String,
    /// The first upstream release with the commit, e.g. `6.5`.
    #[serde(default)]
    pub released_in: Option<String>,
    /// Stable releases it was backported to, e.g. `6.1.120`.
    #[serde(default)]
    pub backports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub id: String,
    /// Exact case ids, or a prefix ending in `*`.
    pub cases: Vec<String>,
    pub summary: String,
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub commits: Vec<Commit>,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Door disagreements only: the step labels (substrings) this entry explains; empty:
    /// every disagreeing step of its cases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

impl Explanation {
    pub fn covers(&self, case: &str) -> bool {
        self.cases.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => case.starts_with(prefix),
            None => case == pattern,
        })
    }

    /// Could one of its commits be what changed between the kernel series `before` and
    /// `after` (e.g. `6.1` → `6.12`)? A commit first released in (before, after], or
    /// backported to a release of a series in (before, after].
    fn dated_between(&self, before: &str, after: &str) -> bool {
        let series = |v: &str| version_key(v).into_iter().take(2).collect::<Vec<_>>();
        let (lo, hi) = (series(before), series(after));
        let within = |v: &str| {
            let s = series(v);
            !s.is_empty() && lo < s && s <= hi
        };
        self.commits
            .iter()
            .any(|c| c.released_in.as_deref().is_some_and(within) || c.backports.iter().any(|b| within(b)))
    }
}

/// Read the file; a missing file means no explanations.
pub fn load(path: &Path) -> Result<Vec<Explanation>, ExplanationsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ExplanationsError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    parse(&text).map_err(|message| ExplanationsError::Parse {
        path: path.to_path_buf(),
        message,
    })
}

pub fn parse(text: &str) -> Result<Vec<Explanation>, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

/// The explanations for a change of `case` between kernels `before` and `after`. A case
/// can change more than once (say, a helper appears in 5.19 and its verifier message
/// changes in 7.3): when the commits' versions single out some explanations, only those
/// are given; otherwise every one that covers the case.
pub fn for_change<'a>(all: &'a [Explanation], case: &str, before: &str, after: &str) -> Vec<&'a Explanation> {
    let covering: Vec<&Explanation> = all.iter().filter(|e| e.covers(case)).collect();
    let dated: Vec<&Explanation> = covering
        .iter()
        .copied()
        .filter(|e| e.dated_between(before, after))
        .collect();
    if dated.is_empty() {
        covering
    } else {
        dated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"
- id: freeze-twice
  cases: [hash/freeze]
  summary: "a second freeze fails with EPERM instead of EBUSY"
  why: |
    map_freeze() checks write permission first.
  commits: [{id: c4c84f6fb2c4, subject: "bpf: x", released_in: "6.5"}]
  kind: change
- id: lookup-percpu
  cases: ["prog/lookup-percpu", "prog/verifier-*"]
  summary: "bpf_map_lookup_percpu_elem exists"
  commits: [{id: 07343110b293, released_in: "5.19"}]
  kind: new-feature
- id: packet-message
  cases: ["prog/verifier-*"]
  summary: "the verifier message changed"
  commits: [{id: aaaaaaaaaaaa, released_in: "7.3"}]
  kind: change
- id: lpm-flags
  cases: [lpm_trie/update-flags]
  summary: "NOEXIST honoured"
  commits: [{id: eae6a075e953, released_in: "6.13", backports: ["6.1.120", "6.12.5"]}]
  kind: fix
"#;

    #[test]
    fn the_schema_parses_and_patterns_match() {
        let all = parse(FIXTURE).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].kind, Some(Kind::Change));
        assert_eq!(all[1].kind, Some(Kind::NewFeature));
        assert!(all[0].why.starts_with("map_freeze()"));
        assert!(all[0].covers("hash/freeze") && !all[0].covers("hash/freeze-x"));
        assert!(all[1].covers("prog/verifier-rejections") && !all[1].covers("prog/verify"));
    }

    #[test]
    fn versions_pick_the_explanation_of_each_change() {
        let all = parse(FIXTURE).unwrap();
        let ids = |v: Vec<&Explanation>| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(for_change(&all, "prog/verifier-x", "5.10", "6.1")),
            ["lookup-percpu"]
        );
        assert_eq!(
            ids(for_change(&all, "prog/verifier-x", "7.2", "7.3")),
            ["packet-message"]
        );
        // No commit dated in the interval: everything that covers the case.
        assert_eq!(
            ids(for_change(&all, "prog/verifier-x", "6.1", "6.12")),
            ["lookup-percpu", "packet-message"]
        );
        // A backport to 6.1.120 explains 5.10 -> 6.1, and the 6.12.5 one 6.1 -> 6.12 too.
        assert_eq!(
            ids(for_change(&all, "lpm_trie/update-flags", "5.10", "6.1")),
            ["lpm-flags"]
        );
        assert_eq!(ids(for_change(&all, "hash/freeze", "6.1", "6.12")), ["freeze-twice"]);
        assert!(for_change(&all, "hash/other", "6.1", "6.12").is_empty());
    }

    #[test]
    fn a_missing_file_is_no_explanations_and_a_bad_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&dir.path().join("explanations.yaml")).unwrap().is_empty());
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "- id: x\n  cases: [a]\n  kind: sideways\n  summary: s\n").unwrap();
        let err = load(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.yaml"), "{err}");
    }
}
