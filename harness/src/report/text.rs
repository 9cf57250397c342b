//! Human-readable rendering of run results. Reporters only consume results.
use crate::outcome::{CaseResult, RunReport};
use std::fmt::Write;

/// One block per case: its steps with results, and every unmet expectation.
pub fn text(run: &RunReport) -> String {
    let mut out = format!("kernel {} ({} possible CPUs)\n", run.kernel_release, run.possible_cpus);
    for case in &run.cases {
        out.push_str(&case_text(case));
    }
    let passed = run.cases.iter().filter(|c| c.passed()).count();
    let _ = writeln!(out, "\ncases: {passed} passed, {} failed", run.cases.len() - passed);
    out
}

pub fn case_text(case: &CaseResult) -> String {
    let mut out = String::new();
    let verdict = if case.passed() { "ok" } else { "FAILED" };
    let _ = writeln!(out, "\n{} ... {verdict}", case.case);
    for step in &case.steps {
        let mark = if step.violation.is_some() { "✗" } else { " " };
        let _ = writeln!(out, "  {mark} {:<48} → {}", step.step, step.result);
        if let Some(v) = &step.violation {
            let _ = writeln!(out, "      expectation failed: {v}");
        }
    }
    if let Some(e) = &case.harness_error {
        let _ = writeln!(out, "  harness error: {e}");
    }
    out
}

pub use crate::snapshot::Comparison;

#[derive(Debug, Clone)]
pub struct CaseComparison {
    pub case: String,
    pub comparison: Comparison,
}

impl CaseComparison {
    pub fn differs(&self) -> bool {
        self.comparison != Comparison::Same
    }
}

/// Compare each case of `run` with the snapshot of the same case on kernel `baseline`.
pub fn compare(run: &RunReport, snapshots: &std::path::Path, baseline: &str) -> Vec<CaseComparison> {
    run.cases
        .iter()
        .map(|case| CaseComparison {
            case: case.case.clone(),
            comparison: crate::snapshot::compare(snapshots, baseline, case),
        })
        .collect()
}

/// The cases that differ from the baseline's snapshots, with their diffs.
pub fn comparison_text(kernel: &str, baseline: &str, comparisons: &[CaseComparison]) -> String {
    let mut out = String::new();
    let same = comparisons.iter().filter(|c| !c.differs()).count();
    let _ = writeln!(
        out,
        "\n{kernel} compared with snapshots/{baseline}: {same} same, {} differ",
        comparisons.len() - same
    );
    for c in comparisons {
        match &c.comparison {
            Comparison::Same => {}
            Comparison::NoSnapshot => {
                let _ = writeln!(out, "  {}: no snapshot", c.case);
            }
            Comparison::Differs(diff) => {
                let _ = writeln!(out, "  {}:", c.case);
                for line in diff.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    out
}

/// A cases × kernels table. Each cell is a behaviour class: kernels with the same letter
/// in a row did exactly the same thing, so a change of letter is a change of behaviour.
/// Marks: `*` differs from that kernel's snapshot, `?` no snapshot, `!` an `expect:` failed,
/// `-` the kernel did not run.
pub fn matrix_table(
    runs: &[(String, Result<crate::matrix::KernelRun, String>)],
    snapshots: &std::path::Path,
) -> String {
    matrix_table_with(runs, snapshots, true)
}

/// [`matrix_table`], with only the rows that change across kernels or carry a mark unless
/// `full` (a 131-row table hides the few rows that matter).
pub fn matrix_table_with(
    runs: &[(String, Result<crate::matrix::KernelRun, String>)],
    snapshots: &std::path::Path,
    full: bool,
) -> String {
    let mut case_ids: Vec<&str> = Vec::new();
    for (_, run) in runs {
        if let Ok(run) = run {
            for c in &run.report.cases {
                if !case_ids.contains(&c.case.as_str()) {
                    case_ids.push(&c.case);
                }
            }
        }
    }
    let width = case_ids.iter().map(|c| c.len()).max().unwrap_or(4).max(4);
    let mut out = format!("\n{:<width$}", "case");
    for (id, _) in runs {
        let _ = write!(out, "  {id:<6}");
    }
    out.push('\n');
    let (mut changed, mut unsure) = (0, 0);
    for case in &case_ids {
        let mut classes: Vec<String> = Vec::new();
        let mut row = format!("{case:<width$}");
        let mut marked = false;
        for (id, run) in runs {
            let cell = match run {
                Err(_) => "-".to_string(),
                Ok(run) => match run.report.cases.iter().find(|c| c.case == *case) {
                    None => "-".to_string(),
                    Some(result) => {
                        let body = result.snapshot_body();
                        let class = classes.iter().position(|b| *b == body).unwrap_or_else(|| {
                            classes.push(body.clone());
                            classes.len() - 1
                        });
                        let mut cell = ((b'A' + (class as u8 % 26)) as char).to_string();
                        match crate::snapshot::read_body(snapshots, id, case) {
                            None => cell.push('?'),
                            Some(snap) if snap.trim_end() != body.trim_end() => cell.push('*'),
                            Some(_) => {}
                        }
                        if !result.passed() {
                            cell.push('!');
                        }
                        if cell.len() > 1 {
                            unsure += 1;
                        }
                        cell
                    }
                },
            };
            marked |= cell.len() > 1 || cell == "-";
            let _ = write!(row, "  {cell:<6}");
        }
        if classes.len() > 1 {
            changed += 1;
        }
        if full || classes.len() > 1 || marked {
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "\n{} cases; {changed} behave differently across kernels; {unsure} cells differ from their snapshot or failed an expectation",
        case_ids.len()
    );
    out
}

/// The cross-kernel report for a terminal: the cases that change or fail (every case when
/// `full`), one symbol per kernel (see [`super::markdown::LEGEND`]).
pub fn report_table(report: &super::model::Report, full: bool) -> String {
    let rows: Vec<usize> = (0..report.cases.len())
        .filter(|&c| full || report.case_changes(c) || report.case_has_problems(c))
        .collect();
    let width = rows.iter().map(|&c| report.cases[c].len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}", "case");
    for k in &report.kernels {
        let _ = write!(out, "  {:<6}", k.id);
    }
    out = out.trim_end().to_string();
    out.push('\n');
    for &c in &rows {
        let mut row = format!("{:<width$}", report.cases[c]);
        for cell in &report.cells[c] {
            let _ = write!(row, "  {:<6}", super::markdown::symbol(cell));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n{} cases; {} behave differently across kernels{}; {} (kernel, case) failures\n{}",
        report.cases.len(),
        report.changed_case_count(),
        if full {
            ""
        } else {
            " (only those are listed; --full-table for all)"
        },
        report.problem_count(),
        super::markdown::LEGEND
    );
    if !report.door_disagreements.is_empty() {
        let unexplained = report
            .door_disagreements
            .iter()
            .filter(|d| d.explanations.is_empty())
            .count();
        let _ = writeln!(
            out,
            "{} door disagreements (syscall vs helper), {unexplained} unexplained: see report.md / report.html",
            report.door_disagreements.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::KernelRun;
    use crate::outcome::{Outcome, StepResult};

    fn run(id: &str, second: &str) -> (String, Result<KernelRun, String>) {
        let case = |name: &str, result: Outcome| CaseResult {
            case: name.into(),
            steps: vec![StepResult {
                step: "freeze m".into(),
                result,
                expect: None,
                violation: None,
            }],
            harness_error: None,
        };
        let report = RunReport {
            kernel_release: format!("{id}.0"),
            possible_cpus: 2,
            cases: vec![
                case("array/same", Outcome::Ok),
                case("hash/freeze", Outcome::Errno(second.parse().expect("an errno name"))),
            ],
        };
        let run = KernelRun {
            retried: None,
            id: id.into(),
            version: None,
            accel: crate::vm::Accel::Tcg,
            wall: std::time::Duration::ZERO,
            report,
        };
        (id.into(), Ok(run))
    }

    #[test]
    fn the_matrix_summary_lists_only_rows_that_differ_unless_full() {
        let dir = tempfile::tempdir().unwrap();
        for (k, e) in [("6.1", "EBUSY"), ("6.12", "EPERM")] {
            for (case, result) in [("array/same", "ok"), ("hash/freeze", e)] {
                let path = crate::snapshot::path(dir.path(), k, case);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let body = format!("---\ninfo: {{}}\n---\n- step: freeze m\n  result: {result}\n");
                std::fs::write(path, body).unwrap();
            }
        }
        let runs = vec![run("6.1", "EBUSY"), run("6.12", "EPERM")];
        let short = matrix_table_with(&runs, dir.path(), false);
        assert!(
            short.contains("hash/freeze") && !short.contains("array/same"),
            "{short}"
        );
        let full = matrix_table(&runs, dir.path());
        assert!(full.contains("array/same   A       A\n"), "{full}");
        // A row whose result differs from its snapshot is listed even without a change.
        let runs = vec![run("6.1", "EBUSY"), run("6.12", "EBUSY")];
        let short = matrix_table_with(&runs, dir.path(), false);
        assert!(short.contains("hash/freeze  A       A*\n"), "{short}");
    }
}
