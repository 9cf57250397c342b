//! Door disagreements: steps of differential cases (see the `oracle` module) where the
//! bpf(2) syscall and the helper called from a program answered differently on an
//! identical map. Collected from the report's cells (snapshot bodies or fresh results),
//! one entry per (case, step) with every kernel where it shows, the first of them, and the
//! explanations of `snapshots/explanations.yaml` that cover it (`kind: door-disagreement`
//! or `missed-check`, narrowed by their `steps:` patterns).
use super::explanations::{Explanation, Kind};
use super::model::{Cell, Kernel};
use crate::outcome::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One kernel where a step's doors disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    pub kernel: String,
    pub syscall: String,
    pub helper: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorDisagreement {
    pub case: String,
    pub step: String,
    /// The first kernel (matrix order) where the doors disagree at this step.
    pub first_kernel: String,
    pub kernels: Vec<Sighting>,
    pub explanations: Vec<Explanation>,
}

#[derive(Deserialize)]
struct Line {
    step: String,
    result: Outcome,
}

/// The disagreeing steps of one snapshot body: (step, syscall, helper).
pub fn in_body(body: &str) -> Vec<(String, String, String)> {
    let lines: Vec<Line> = serde_saphyr::from_str(body).unwrap_or_default();
    lines
        .into_iter()
        .filter_map(|l| match l.result {
            Outcome::Doors {
                agree: false,
                syscall,
                helper,
            } => Some((l.step, syscall.to_string(), helper.to_string())),
            _ => None,
        })
        .collect()
}

/// Does `e` explain a door disagreement of `case` at `step`?
pub fn explains(e: &Explanation, case: &str, step: &str) -> bool {
    matches!(e.kind, Some(Kind::DoorDisagreement) | Some(Kind::MissedCheck))
        && e.covers(case)
        && (e.steps.is_empty() || e.steps.iter().any(|p| step.contains(p.as_str())))
}

/// Every door disagreement in the cells, by case then step (in step order).
pub fn collect(
    cases: &[String],
    kernels: &[Kernel],
    cells: &[Vec<Cell>],
    explanations: &[Explanation],
) -> Vec<DoorDisagreement> {
    let mut out: Vec<DoorDisagreement> = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        let first_of_case = out.len();
        for (k, cell) in cells[c].iter().enumerate() {
            let Some(body) = &cell.body else { continue };
            if !body.contains("doors_disagree") {
                continue;
            }
            for (step, syscall, helper) in in_body(body) {
                let sighting = Sighting {
                    kernel: kernels[k].id.clone(),
                    syscall,
                    helper,
                };
                match out[first_of_case..].iter_mut().find(|d| d.step == step) {
                    Some(d) => d.kernels.push(sighting),
                    None => out.push(DoorDisagreement {
                        case: case.clone(),
                        explanations: explanations
                            .iter()
                            .filter(|e| explains(e, case, &step))
                            .cloned()
                            .collect(),
                        step,
                        first_kernel: kernels[k].id.clone(),
                        kernels: vec![sighting],
                    }),
                }
            }
        }
    }
    out
}

/// The Markdown section (also what the terminal prints).
pub fn markdown(list: &[DoorDisagreement]) -> String {
    let mut out = String::from("## Door disagreements\n\n");
    if list.is_empty() {
        out.push_str("None: wherever a case compares the syscall with the helper, they agree.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} steps where bpf(2) and the helper from a program answer differently on an identical map.\n",
        list.len()
    );
    out.push_str("| case | step | kernels (first) | syscall | helper | explanation |\n|---|---|---|---|---|---|\n");
    for d in list {
        let kernels: Vec<&str> = d.kernels.iter().map(|s| s.kernel.as_str()).collect();
        // The results of the first kernel; where later kernels differ, each is named.
        let side = |f: fn(&Sighting) -> &str| {
            let first = f(&d.kernels[0]);
            if d.kernels.iter().all(|s| f(s) == first) {
                format!("`{first}`")
            } else {
                d.kernels
                    .iter()
                    .map(|s| format!("{}: `{}`", s.kernel, f(s)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            }
        };
        let why = if d.explanations.is_empty() {
            "**unexplained**".to_string()
        } else {
            d.explanations
                .iter()
                .map(|e| format!("**{}**: {}", e.id, e.summary.trim()))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} ({}) | {} | {} | {} |",
            d.case,
            d.step.replace('|', "\\|"),
            kernels.join(", "),
            d.first_kernel,
            side(|s| &s.syscall).replace('|', "\\|"),
            side(|s| &s.helper).replace('|', "\\|"),
            why.replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::explanations::parse;
    use crate::report::model::{Source, Trend};

    const AGREE: &str = "- step: update m key=0 value=1\n  result:\n    doors_agree:\n      syscall: ok\n      helper:\n        ret: 0\n";

    fn body(syscall: &str) -> String {
        format!(
            "{AGREE}- step: update m key=0 value=2 flags=noexist|exist\n  result:\n    doors_disagree:\n      syscall: {syscall}\n      helper:\n        ret: -EINVAL\n"
        )
    }

    fn cell(body: Option<String>) -> Cell {
        Cell {
            body,
            trend: Trend::First,
            previous: None,
            diff: None,
            problems: vec![],
        }
    }

    fn kernel(id: &str) -> Kernel {
        Kernel {
            id: id.into(),
            release: None,
            debian_version: None,
            accel: None,
            source: Source::Snapshots,
            error: None,
        }
    }

    #[test]
    fn disagreements_are_found_with_their_first_kernel_and_explanation() {
        let agreeing = format!("{AGREE}- step: update m key=0 value=2 flags=noexist|exist\n  result:\n    doors_agree:\n      syscall: EINVAL\n      helper:\n        ret: -EINVAL\n");
        let cells = vec![vec![
            cell(Some(agreeing)),
            cell(None),
            cell(Some(body("ok"))),
            cell(Some(body("E2BIG"))),
        ]];
        let kernels = [kernel("6.12"), kernel("7.0"), kernel("7.2"), kernel("7.3")];
        let explanations = parse(
            "- {id: pc3, cases: [oracle/*], steps: ['flags=noexist|exist'], summary: s, kind: door-disagreement}\n\
             - {id: lock, cases: [oracle/*], steps: ['flags=lock'], summary: t, kind: door-disagreement}\n\
             - {id: other, cases: [oracle/*], summary: u, kind: change}",
        )
        .unwrap();
        let list = collect(&["oracle/percpu_array".into()], &kernels, &cells, &explanations);
        assert_eq!(list.len(), 1, "{list:?}");
        let d = &list[0];
        assert_eq!(d.step, "update m key=0 value=2 flags=noexist|exist");
        assert_eq!(d.first_kernel, "7.2");
        assert_eq!(
            d.kernels
                .iter()
                .map(|s| (&*s.kernel, &*s.syscall, &*s.helper))
                .collect::<Vec<_>>(),
            vec![
                ("7.2", "ok", r#"{"ret":"-EINVAL"}"#),
                ("7.3", "E2BIG", r#"{"ret":"-EINVAL"}"#)
            ]
        );
        assert_eq!(
            d.explanations.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["pc3"]
        );
        let md = markdown(&list);
        assert!(md.contains("| `oracle/percpu_array` |"), "{md}");
        assert!(md.contains("7.2, 7.3 (7.2)"), "{md}");
        assert!(md.contains("7.2: `ok`<br>7.3: `E2BIG`"), "{md}");
        assert!(md.contains("**pc3**: s"), "{md}");
    }

    #[test]
    fn an_unexplained_disagreement_says_so() {
        let cells = vec![vec![cell(Some(body("ok")))]];
        let list = collect(&["oracle/x".into()], &[kernel("7.3")], &cells, &[]);
        assert!(markdown(&list).contains("**unexplained**"));
        assert!(markdown(&[]).contains("None"));
    }
}
