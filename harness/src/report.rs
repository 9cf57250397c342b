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
