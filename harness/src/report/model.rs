//! The cross-kernel report as data: kernels (matrix order), cases, one cell per
//! (case, kernel) saying whether that kernel did the same as the previous one, and the
//! behaviour changes with their differing steps and explanations. Built from committed
//! snapshots and/or fresh results; renderers ([`super::markdown`], [`super::html`],
//! [`super::junit`]) only read it.
use super::explanations::{self, Explanation};
use super::results::KernelResults;
use crate::outcome::CaseResult;
use crate::snapshot::Comparison;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a kernel's column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Snapshots,
    Results,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kernel {
    pub id: String,
    pub release: Option<String>,
    pub debian_version: Option<String>,
    pub accel: Option<String>,
    pub source: Source,
    /// Set when the kernel did not run (its results say why).
    pub error: Option<String>,
}

/// A cell compared with the nearest earlier kernel that has a result for the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// The first kernel with a result: nothing to compare with.
    First,
    Same,
    Changed,
    /// No result for this case on this kernel.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The compared body (the snapshot body: each step and its result).
    pub body: Option<String>,
    pub trend: Trend,
    /// The kernel (index) this cell was compared with.
    pub previous: Option<usize>,
    /// Unified diff from `previous` to this kernel, when changed.
    pub diff: Option<String>,
    /// Why this (kernel, case) fails: a fresh result that differs from its snapshot, an
    /// `expect:` that did not hold, a harness error, a kernel that did not run. Committed
    /// snapshots have none.
    pub problems: Vec<String>,
}

/// One step whose result differs between two kernels (absent on one side: `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepChange {
    pub step: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub case: String,
    pub before: String,
    pub after: String,
    pub steps: Vec<StepChange>,
    pub explanations: Vec<Explanation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub kernels: Vec<Kernel>,
    pub cases: Vec<String>,
    /// `cells[case][kernel]`, in the order of `cases` and `kernels`.
    pub cells: Vec<Vec<Cell>>,
    /// Every kernel where a case's body changed from the previous kernel's, case by case.
    pub changes: Vec<Change>,
    /// Steps where the syscall and the helper disagree (differential cases).
    pub door_disagreements: Vec<super::doors::DoorDisagreement>,
}

/// What a report is built from.
pub struct Inputs<'a> {
    /// Kernel ids in matrix order.
    pub matrix: &'a [String],
    /// The committed snapshots (`snapshots/`).
    pub snapshots: &'a Path,
    /// Fresh results; they replace that kernel's snapshots and are checked against them.
    pub results: Vec<KernelResults>,
    /// Matrix kernels without results are shown from their snapshots when true, left out
    /// when false (a report of just this run).
    pub fill_from_snapshots: bool,
    /// Compare fresh results with this kernel's snapshots instead of their own
    /// (`run --compare-to`).
    pub compare_to: Option<String>,
    pub explanations: Vec<Explanation>,
    /// Cases listed even where no kernel has a result (`run`'s selected cases: a kernel that
    /// did not run then fails each of them).
    pub cases: Vec<String>,
}

/// The `info:` of an insta header (metadata, not compared).
#[derive(Debug, Default, Deserialize)]
struct Header {
    #[serde(default)]
    info: Info,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    release: Option<String>,
    debian_version: Option<String>,
    accel: Option<String>,
}

/// A kernel's committed snapshots: (case id, body) sorted by case, and the header of one.
fn read_snapshots(dir: &Path) -> Result<(Vec<(String, String)>, Info), ModelError> {
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(dir, &mut files)?;
    }
    files.sort();
    let mut info = None;
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io {
            path: file.clone(),
            source,
        })?;
        let Some(body) = crate::snapshot::body(&text) else {
            continue;
        };
        if info.is_none() {
            let header = &text[4..text.len() - body.len() - 4];
            info = serde_saphyr::from_str::<Header>(header).ok().map(|h| h.info);
        }
        let rel = file.strip_prefix(dir).unwrap_or(&file).with_extension("");
        let case = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        out.push((case, body.trim_end().to_string()));
    }
    Ok((out, info.unwrap_or_default()))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "snap") {
            // `.snap.new` (pending review) has extension `new`: not a committed snapshot.
            files.push(path);
        }
    }
    Ok(())
}

/// What a kernel column holds before cells are compared.
struct Column {
    kernel: Kernel,
    /// case id -> (body, problems)
    results: Vec<(String, String, Vec<String>)>,
}

fn problems_of(result: &CaseResult, snapshot: Option<&str>, baseline: &str, compared: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if compared {
        match crate::snapshot::compare_body(snapshot, &result.snapshot_body(), baseline) {
            Comparison::Same => {}
            Comparison::NoSnapshot => problems.push(format!("no snapshot in snapshots/{baseline}")),
            Comparison::Differs(diff) => problems.push(format!("differs from snapshots/{baseline}:\n{diff}")),
        }
    }
    for (_, step) in result.violations() {
        if let Some(v) = &step.violation {
            problems.push(format!("expectation failed at `{}`: {v}", step.step));
        }
    }
    if let Some(e) = &result.harness_error {
        problems.push(format!("harness error: {e}"));
    }
    problems
}

use crate::snapshot::unified;

impl Report {
    pub fn build(inputs: Inputs) -> Result<Report, ModelError> {
        let mut columns: Vec<Column> = Vec::new();
        let mut ids: Vec<String> = inputs.matrix.to_vec();
        // Kernels that are not in the matrix (a path given to --kernel, `host`) go last.
        for r in &inputs.results {
            if !ids.contains(&r.kernel) {
                ids.push(r.kernel.clone());
            }
        }
        for id in &ids {
            if let Some(r) = inputs.results.iter().find(|r| &r.kernel == id) {
                columns.push(results_column(r, &inputs)?);
            } else if inputs.results.is_empty() || inputs.fill_from_snapshots {
                let (snaps, info) = read_snapshots(&inputs.snapshots.join(id))?;
                columns.push(Column {
                    kernel: Kernel {
                        id: id.clone(),
                        release: info.release,
                        debian_version: info.debian_version,
                        accel: info.accel,
                        source: Source::Snapshots,
                        error: None,
                    },
                    results: snaps.into_iter().map(|(c, b)| (c, b, Vec::new())).collect(),
                });
            }
        }
        let cases: Vec<String> = columns
            .iter()
            .flat_map(|c| c.results.iter().map(|(case, _, _)| case.clone()))
            .chain(inputs.cases.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();

        let mut cells = Vec::new();
        let mut changes = Vec::new();
        for case in &cases {
            let mut row: Vec<Cell> = Vec::new();
            let mut last: Option<(usize, &str)> = None;
            for (k, column) in columns.iter().enumerate() {
                let found = column.results.iter().find(|(c, _, _)| c == case);
                let mut problems = found.map(|(_, _, p)| p.clone()).unwrap_or_default();
                // A case missing from fresh results is not a failure: `run FILTER` runs
                // only some cases.
                if let Some(e) = &column.kernel.error {
                    problems.push(format!("kernel {} did not run: {e}", column.kernel.id));
                }
                let Some((_, body, _)) = found else {
                    row.push(Cell {
                        body: None,
                        trend: Trend::Missing,
                        previous: None,
                        diff: None,
                        problems,
                    });
                    continue;
                };
                let (trend, diff) = match last {
                    None => (Trend::First, None),
                    Some((_, prev)) if prev == body => (Trend::Same, None),
                    Some((p, prev)) => {
                        let before = &columns[p].kernel.id;
                        let after = &column.kernel.id;
                        changes.push(Change {
                            case: case.clone(),
                            before: before.clone(),
                            after: after.clone(),
                            steps: step_changes(prev, body),
                            explanations: explanations::for_change(&inputs.explanations, case, before, after)
                                .into_iter()
                                .cloned()
                                .collect(),
                        });
                        (Trend::Changed, Some(unified(prev, body, before, after)))
                    }
                };
                row.push(Cell {
                    body: Some(body.clone()),
                    trend,
                    previous: last.map(|(p, _)| p),
                    diff,
                    problems,
                });
                last = Some((k, body));
            }
            cells.push(row);
        }
        let kernels: Vec<Kernel> = columns.into_iter().map(|c| c.kernel).collect();
        let door_disagreements = super::doors::collect(&cases, &kernels, &cells, &inputs.explanations);
        Ok(Report {
            kernels,
            cases,
            cells,
            changes,
            door_disagreements,
        })
    }

    pub fn kernel_index(&self, id: &str) -> Option<usize> {
        self.kernels.iter().position(|k| k.id == id)
    }

    /// Does the case behave differently on some kernel than on the one before?
    pub fn case_changes(&self, case: usize) -> bool {
        self.cells[case].iter().any(|c| c.trend == Trend::Changed)
    }

    pub fn case_has_problems(&self, case: usize) -> bool {
        self.cells[case].iter().any(|c| !c.problems.is_empty())
    }

    pub fn problem_count(&self) -> usize {
        self.cells.iter().flatten().filter(|c| !c.problems.is_empty()).count()
    }

    pub fn changed_case_count(&self) -> usize {
        (0..self.cases.len()).filter(|&i| self.case_changes(i)).count()
    }
}

/// The map type of a case: the first component of its id (`hash` of `hash/freeze`).
pub fn map_type(case: &str) -> &str {
    case.split('/').next().unwrap_or(case)
}

fn results_column(r: &KernelResults, inputs: &Inputs) -> Result<Column, ModelError> {
    let baseline = inputs.compare_to.clone().unwrap_or_else(|| r.kernel.clone());
    // A kernel without any snapshots (a kernel given by path, the host) is not compared:
    // only its expectations can fail.
    let compared = inputs.snapshots.join(&baseline).is_dir();
    let (snaps, _) = read_snapshots(&inputs.snapshots.join(&baseline))?;
    let results = r
        .cases
        .iter()
        .map(|case| {
            let snap = snaps.iter().find(|(c, _)| *c == case.case).map(|(_, b)| b.as_str());
            let problems = problems_of(case, snap, &baseline, compared);
            (case.case.clone(), case.snapshot_body().trim_end().to_string(), problems)
        })
        .collect();
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(Column {
        kernel: Kernel {
            id: r.kernel.clone(),
            release: nonempty(&r.release),
            debian_version: r.debian_version.clone(),
            accel: nonempty(&r.accel),
            source: Source::Results,
            error: r.error.clone(),
        },
        results,
    })
}

/// A body's steps as (label, result rendered on one line).
fn steps_of(body: &str) -> Vec<(String, String)> {
    #[derive(Deserialize)]
    struct Line {
        step: String,
        result: serde_json::Value,
    }
    match serde_saphyr::from_str::<Vec<Line>>(body) {
        Ok(lines) => lines
            .into_iter()
            .map(|l| {
                let shown = match l.result {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (l.step, shown)
            })
            .collect(),
        // Not a list of steps (never written by mapconform): compare it whole.
        Err(_) => vec![("(whole result)".to_string(), body.to_string())],
    }
}

/// The steps whose results differ, matched by label (the n-th `dump m` before with the
/// n-th `dump m` after), in the order of the later kernel; steps only the earlier kernel
/// had come last.
pub fn step_changes(before: &str, after: &str) -> Vec<StepChange> {
    let keyed = |steps: Vec<(String, String)>| {
        let mut seen: Vec<String> = Vec::new();
        steps
            .into_iter()
            .map(|(label, result)| {
                let n = seen.iter().filter(|s| **s == label).count();
                seen.push(label.clone());
                ((label, n), result)
            })
            .collect::<Vec<_>>()
    };
    let before = keyed(steps_of(before));
    let after = keyed(steps_of(after));
    let mut out = Vec::new();
    for (key, result) in &after {
        let old = before.iter().find(|(k, _)| k == key).map(|(_, r)| r);
        if old != Some(result) {
            out.push(StepChange {
                step: key.0.clone(),
                before: old.cloned(),
                after: Some(result.clone()),
            });
        }
    }
    for (key, result) in &before {
        if !after.iter().any(|(k, _)| k == key) {
            out.push(StepChange {
                step: key.0.clone(),
                before: Some(result.clone()),
                after: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, StepResult};

    fn snap(dir: &Path, kernel: &str, case: &str, release: &str, body: &str) {
        let path = crate::snapshot::path(dir, kernel, case);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!(
            "---\nsource: harness/tests/matrix.rs\ninfo:\n  kernel: \"{kernel}\"\n  release: {release}\n  debian_version: 1-1\n  accel: tcg\n---\n{body}"
        );
        std::fs::write(path, text).unwrap();
    }

    const OK: &str =
        "- step: create m\n  result: ok\n- step: freeze m\n  result: ok\n- step: freeze m\n  result: EBUSY\n";
    const PERM: &str =
        "- step: create m\n  result: ok\n- step: freeze m\n  result: ok\n- step: freeze m\n  result: EPERM\n";

    fn fixture() -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        for (k, body) in [("5.10", OK), ("6.1", OK), ("6.12", PERM), ("7.2", PERM)] {
            snap(s, k, "hash/freeze", &format!("{k}.0-1-amd64"), body);
            snap(
                s,
                k,
                "array/plain",
                &format!("{k}.0-1-amd64"),
                "- step: create m\n  result: ok\n",
            );
        }
        // A case new in 6.12, and a pending review file that must be ignored.
        snap(
            s,
            "6.12",
            "queue/new",
            "6.12.0-1-amd64",
            "- step: create q\n  result: ok\n",
        );
        std::fs::write(s.join("6.1/hash/freeze.snap.new"), "---\ninfo: {}\n---\n- junk\n").unwrap();
        let matrix = ["5.10", "6.1", "6.12", "7.2"].map(String::from).to_vec();
        (dir, matrix)
    }

    fn inputs<'a>(matrix: &'a [String], snapshots: &'a Path) -> Inputs<'a> {
        Inputs {
            matrix,
            snapshots,
            results: Vec::new(),
            fill_from_snapshots: true,
            compare_to: None,
            explanations: Vec::new(),
            cases: Vec::new(),
        }
    }

    #[test]
    fn snapshots_give_trends_and_one_change() {
        let (dir, matrix) = fixture();
        let mut input = inputs(&matrix, dir.path());
        input.explanations = super::explanations::parse(
            "- {id: freeze-twice, cases: [hash/freeze], summary: s, commits: [{id: c4c84f6fb2c4, released_in: '6.5'}], kind: change}\n",
        )
        .unwrap();
        let r = Report::build(input).unwrap();
        assert_eq!(r.cases, ["array/plain", "hash/freeze", "queue/new"]);
        assert_eq!(r.kernels.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), matrix);
        assert_eq!(r.kernels[2].release.as_deref(), Some("6.12.0-1-amd64"));
        assert_eq!(r.kernels[2].source, Source::Snapshots);
        let trends = |c: usize| r.cells[c].iter().map(|c| c.trend).collect::<Vec<_>>();
        use Trend::*;
        assert_eq!(trends(0), [First, Same, Same, Same]);
        assert_eq!(trends(1), [First, Same, Changed, Same]);
        assert_eq!(trends(2), [Missing, Missing, First, Missing]);
        assert_eq!(r.cells[1][2].previous, Some(1));
        let diff = r.cells[1][2].diff.as_deref().unwrap();
        assert!(
            diff.contains("-  result: EBUSY") && diff.contains("+  result: EPERM"),
            "{diff}"
        );
        assert_eq!(r.changes.len(), 1);
        let change = &r.changes[0];
        assert_eq!(
            (change.case.as_str(), change.before.as_str(), change.after.as_str()),
            ("hash/freeze", "6.1", "6.12")
        );
        assert_eq!(
            change.steps,
            [StepChange {
                step: "freeze m".into(),
                before: Some("EBUSY".into()),
                after: Some("EPERM".into())
            }]
        );
        assert_eq!(change.explanations[0].id, "freeze-twice");
        assert_eq!(r.problem_count(), 0, "committed snapshots are never problems");
        assert_eq!(r.changed_case_count(), 1);
    }

    fn results(kernel: &str, violation: Option<&str>, second_freeze: &str) -> KernelResults {
        let step = |s: &str, r: Outcome| StepResult {
            step: s.into(),
            result: r,
            expect: None,
            violation: None,
        };
        let mut freeze = step(
            "freeze m",
            Outcome::Errno(second_freeze.parse().expect("an errno name")),
        );
        freeze.violation = violation.map(String::from);
        KernelResults {
            kernel: kernel.into(),
            release: format!("{kernel}.9-1-amd64"),
            debian_version: None,
            accel: "kvm".into(),
            possible_cpus: 2,
            cases: vec![CaseResult {
                case: "hash/freeze".into(),
                steps: vec![step("create m", Outcome::Ok), step("freeze m", Outcome::Ok), freeze],
                harness_error: None,
            }],
            error: None,
            retried: None,
        }
    }

    #[test]
    fn results_replace_snapshots_and_are_checked_against_them() {
        let (dir, matrix) = fixture();
        let mut input = inputs(&matrix, dir.path());
        input.results = vec![
            results("6.1", None, "EBUSY"),
            results("6.12", Some("expected EBUSY"), "EBUSY"),
            KernelResults::did_not_run("7.2", "boot timed out"),
        ];
        let r = Report::build(input).unwrap();
        let k = |id| r.kernel_index(id).unwrap();
        assert_eq!(r.kernels[k("6.1")].source, Source::Results);
        assert_eq!(r.kernels[k("6.1")].release.as_deref(), Some("6.1.9-1-amd64"));
        assert_eq!(r.kernels[k("5.10")].source, Source::Snapshots);
        let freeze = r.cases.iter().position(|c| c == "hash/freeze").unwrap();
        let plain = r.cases.iter().position(|c| c == "array/plain").unwrap();
        assert!(r.cells[freeze][k("6.1")].problems.is_empty());
        let p = &r.cells[freeze][k("6.12")].problems;
        assert!(
            p[0].starts_with("differs from snapshots/6.12") && p[0].contains("+  result: EBUSY"),
            "{p:?}"
        );
        assert!(p[1].contains("expected EBUSY"), "{p:?}");
        assert_eq!(
            r.cells[freeze][k("6.12")].trend,
            Trend::Same,
            "same as the fresh 6.1 result"
        );
        assert_eq!(r.cells[plain][k("6.1")].trend, Trend::Missing);
        assert!(
            r.cells[plain][k("6.1")].problems.is_empty(),
            "a filtered run is no failure"
        );
        assert!(r.cells[freeze][k("7.2")].problems[0].contains("did not run: boot timed out"));
        assert_eq!(r.cells[freeze][k("7.2")].trend, Trend::Missing);
    }

    #[test]
    fn a_run_report_leaves_other_kernels_out_and_can_compare_to_another_kernel() {
        let (dir, matrix) = fixture();
        let mut input = inputs(&matrix, dir.path());
        input.fill_from_snapshots = false;
        input.compare_to = Some("6.12".into());
        input.results = vec![results("/tmp/bzImage", None, "EPERM")];
        let r = Report::build(input).unwrap();
        assert_eq!(r.kernels.len(), 1);
        assert_eq!(r.cases, ["hash/freeze"]);
        assert!(r.cells[0][0].problems.is_empty(), "{:?}", r.cells[0][0].problems);
        // Against 6.1's snapshots (EBUSY) the same result differs.
        let mut input = inputs(&matrix, dir.path());
        input.fill_from_snapshots = false;
        input.compare_to = Some("6.1".into());
        input.results = vec![results("/tmp/bzImage", None, "EPERM")];
        let r = Report::build(input).unwrap();
        assert!(r.cells[0][0].problems[0].starts_with("differs from snapshots/6.1"));
        // A kernel with no snapshot folder at all is not compared, only its expectations.
        let mut input = inputs(&matrix, dir.path());
        input.fill_from_snapshots = false;
        input.results = vec![results("host", Some("expected EBUSY"), "EPERM")];
        let r = Report::build(input).unwrap();
        assert_eq!(r.cells[0][0].problems.len(), 1, "{:?}", r.cells[0][0].problems);
        assert!(r.cells[0][0].problems[0].starts_with("expectation failed"));
        // A run whose only kernel did not run still lists (and fails) the selected cases.
        let mut input = inputs(&matrix, dir.path());
        input.fill_from_snapshots = false;
        input.results = vec![KernelResults::did_not_run("9.99", "not in the cache")];
        input.cases = vec!["hash/freeze".into()];
        let r = Report::build(input).unwrap();
        assert_eq!(r.cases, ["hash/freeze"]);
        assert_eq!(r.cells[0][0].problems, ["kernel 9.99 did not run: not in the cache"]);
    }

    #[test]
    fn steps_are_matched_by_label_and_occurrence() {
        let before = "- step: a\n  result: ok\n- step: d\n  result: {entries: [{key: 1, value: 2}]}\n- step: gone\n  result: ok\n";
        let after = "- step: a\n  result: EPERM\n- step: d\n  result: {entries: [{key: 1, value: 2}]}\n- step: new\n  result: ok\n";
        let c = step_changes(before, after);
        let flat: Vec<_> = c
            .iter()
            .map(|s| (s.step.as_str(), s.before.as_deref(), s.after.as_deref()))
            .collect();
        assert_eq!(
            flat,
            [
                ("a", Some("ok"), Some("EPERM")),
                ("new", None, Some("ok")),
                ("gone", Some("ok"), None)
            ]
        );
        assert_eq!(steps_of(before)[1].1, r#"{"entries":[{"key":1,"value":2}]}"#);
    }

    #[test]
    fn map_type_is_the_first_component() {
        assert_eq!(map_type("hash/freeze"), "hash");
        assert_eq!(map_type("x"), "x");
    }
}
