//! `run --kernel K --compare-to ID`: what kernel K did differently from the committed
//! snapshots of matrix kernel ID — only that, step by step — and the exit status
//! `git bisect run` reads (0 same, 1 differs, 125 could not tell: the kernel did not run).
//!
//! Pure: a run report and a snapshots folder in, text and a verdict out.

use std::fmt::Write as _;
use std::path::Path;

use crate::outcome::RunReport;
use crate::report::model::{step_changes, StepChange};

/// Exit status for `git bisect run`: this commit is good.
pub const SAME: u8 = 0;
/// … bad: something differs from the baseline.
pub const DIFFERS: u8 = 1;
/// … untestable (the kernel did not boot or run the cases): `git bisect run` skips it.
pub const SKIP: u8 = 125;

/// One case against its baseline snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseDiff {
    Same,
    /// The steps whose results differ, matched by their label.
    Steps(Vec<StepChange>),
    NoSnapshot,
}

/// A kernel's run against the snapshots of `baseline`.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub kernel: String,
    pub release: String,
    pub baseline: String,
    pub cases: Vec<(String, CaseDiff)>,
}

/// Compares every case of `run` with `snapshots/<baseline>/<case>.snap`.
pub fn compare(kernel: &str, run: &RunReport, snapshots: &Path, baseline: &str) -> Comparison {
    let cases = run
        .cases
        .iter()
        .map(|case| {
            let diff = match crate::snapshot::read_body(snapshots, baseline, &case.case) {
                None => CaseDiff::NoSnapshot,
                Some(before) => {
                    let steps = step_changes(&before, &case.snapshot_body());
                    if steps.is_empty() {
                        CaseDiff::Same
                    } else {
                        CaseDiff::Steps(steps)
                    }
                }
            };
            (case.case.clone(), diff)
        })
        .collect();
    Comparison {
        kernel: kernel.to_string(),
        release: run.kernel_release.clone(),
        baseline: baseline.to_string(),
        cases,
    }
}

impl Comparison {
    pub fn differing(&self) -> usize {
        self.cases.iter().filter(|(_, d)| *d != CaseDiff::Same).count()
    }

    /// The differing cases, each step with the baseline's result and this kernel's, then
    /// one summary line. Nothing else: a bisect log stays readable.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let base = &self.baseline;
        let width = base.len().max("this kernel".len()) + 1;
        for (case, diff) in &self.cases {
            match diff {
                CaseDiff::Same => {}
                CaseDiff::NoSnapshot => {
                    let _ = writeln!(out, "{case}: no snapshot on {base} to compare with");
                }
                CaseDiff::Steps(steps) => {
                    let n = steps.len();
                    let _ = writeln!(
                        out,
                        "{case}: {n} step{} differ{} from {base}",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "s" } else { "" }
                    );
                    for s in steps {
                        let shown = |r: &Option<String>| r.as_deref().map_or_else(|| "(no such step)".into(), flow);
                        let _ = writeln!(out, "  {}", s.step);
                        let _ = writeln!(out, "    {:<width$} {}", format!("{base}:"), shown(&s.before));
                        let _ = writeln!(out, "    {:<width$} {}", "this kernel:", shown(&s.after));
                    }
                }
            }
        }
        let (total, differ) = (self.cases.len(), self.differing());
        let _ = writeln!(
            out,
            "{} ({}) against snapshots/{base}: {total} case{}, {} same, {differ} differ{}",
            self.kernel,
            self.release,
            if total == 1 { "" } else { "s" },
            total - differ,
            if differ == 1 { "s" } else { "" },
        );
        out
    }
}

/// A result as the case files and snapshots write it, on one line (`{value: {percpu: [0, 0]}}`),
/// from the one-line JSON the step matcher gives for structured results.
fn flow(result: &str) -> String {
    fn yaml(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => format!("[{}]", items.iter().map(yaml).collect::<Vec<_>>().join(", ")),
            serde_json::Value::Object(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", yaml(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.to_string(),
        }
    }
    match serde_json::from_str::<serde_json::Value>(result) {
        Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => yaml(&v),
        _ => result.to_string(),
    }
}

/// The exit status of a `--compare-to` run: [`DIFFERS`] when any kernel differs, else
/// [`SKIP`] when a kernel did not run (nothing to judge it by), else [`SAME`].
pub fn exit_status(comparisons: &[Comparison], did_not_run: usize) -> u8 {
    if comparisons.iter().any(|c| c.differing() > 0) {
        DIFFERS
    } else if did_not_run > 0 {
        SKIP
    } else {
        SAME
    }
}
