//! JUnit XML: one testcase per (kernel, case), so CI systems show each one. A testcase
//! fails with the cell's problems (snapshot diff, broken expectation, kernel that did not
//! run); results taken from committed snapshots always pass.
use super::model::Report;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

pub fn render(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut out = quick_junit::Report::new("mapconform");
    for (k, kernel) in report.kernels.iter().enumerate() {
        let mut suite = TestSuite::new(format!("kernel {}", kernel.id));
        if let Some(release) = &kernel.release {
            suite.add_property(("release", release.as_str()));
        }
        if let Some(accel) = &kernel.accel {
            suite.add_property(("accel", accel.as_str()));
        }
        for (c, case) in report.cases.iter().enumerate() {
            let cell = &report.cells[c][k];
            if cell.body.is_none() && cell.problems.is_empty() {
                continue; // a case this kernel's snapshots do not have (new elsewhere)
            }
            let status = match cell.problems.first() {
                None => TestCaseStatus::success(),
                Some(first) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_message(first.lines().next().unwrap_or_default())
                        .set_description(cell.problems.join("\n\n"));
                    status
                }
            };
            let mut tc = TestCase::new(format!("{}::{case}", kernel.id), status);
            tc.set_classname(format!("{}.{}", kernel.id, super::model::map_type(case)));
            if let Some(diff) = &cell.diff {
                tc.set_system_out(format!("behaviour changed from the previous kernel:\n{diff}"));
            }
            suite.add_test_case(tc);
        }
        out.add_test_suite(suite);
    }
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Cell, Kernel, Source, Trend};

    #[test]
    fn one_testcase_per_kernel_and_case_failures_carry_the_problem() {
        let cell = |problems: Vec<String>| Cell {
            body: Some("- step: a\n  result: ok".into()),
            trend: Trend::First,
            previous: None,
            diff: None,
            problems,
        };
        let kernel = |id: &str| Kernel {
            id: id.into(),
            release: Some(format!("{id}.0")),
            debian_version: None,
            accel: Some("tcg".into()),
            source: Source::Results,
            error: None,
        };
        let report = Report {
            kernels: vec![kernel("6.1"), kernel("6.12")],
            cases: vec!["hash/a".into()],
            cells: vec![vec![
                cell(vec![]),
                cell(vec!["differs from snapshots/6.12:\n-  result: <ok>".into()]),
            ]],
            changes: vec![],
            door_disagreements: vec![],
        };
        let xml = render(&report).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
        assert!(xml.contains(r#"name="6.12::hash/a""#), "{xml}");
        assert!(
            xml.contains(r#"<failure message="differs from snapshots/6.12:""#),
            "{xml}"
        );
        assert!(xml.contains("&lt;ok&gt;"), "escaped by quick-junit: {xml}");
        assert!(xml.contains(r#"tests="2" skipped="0" failures="1""#), "{xml}");
    }
}
