//! Markdown for a GitHub step summary (which takes at most 1 MiB): the cases that change
//! or fail in a compact table, the full table folded, then the behaviour changes.
use super::model::{Cell, Change, Report, Source, Trend};
use std::fmt::Write;

/// Step summaries above 1 MiB are refused; stay well below.
const BUDGET: usize = 900 * 1024;
/// A result longer than this is cut in tables (the HTML report has it whole).
const MAX_VALUE: usize = 200;

/// The symbol of a cell; shared with the terminal summary.
pub fn symbol(cell: &Cell) -> String {
    let mut s = match cell.trend {
        Trend::First => "•",
        Trend::Same => "=",
        Trend::Changed => "Δ",
        Trend::Missing => "–",
    }
    .to_string();
    if !cell.problems.is_empty() {
        s.push('!');
    }
    s
}

pub const LEGEND: &str = "• first kernel with a result · = same as the previous kernel · Δ changed · – no result · ! fails (differs from its snapshot, broken expectation, did not run)";

fn cell_text(text: &str) -> String {
    let mut t: String = text.chars().take(MAX_VALUE).collect();
    if text.chars().count() > MAX_VALUE {
        t.push('…');
    }
    // Inside a table cell: no pipes, no newlines; code spans keep the text literal.
    let t = t.replace('|', "\\|").replace('\n', " ");
    let fence = if t.contains('`') { "`` " } else { "`" };
    let close = if t.contains('`') { " ``" } else { "`" };
    format!("{fence}{t}{close}")
}

fn table(report: &Report, rows: &[usize]) -> String {
    let mut out = String::from("| case |");
    for k in &report.kernels {
        let _ = write!(out, " {} |", k.id);
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(report.kernels.len()));
    out.push('\n');
    for &c in rows {
        let _ = write!(out, "| `{}` |", report.cases[c]);
        for cell in &report.cells[c] {
            let _ = write!(out, " {} |", symbol(cell));
        }
        out.push('\n');
    }
    out
}

pub fn change(out: &mut String, change: &Change) {
    let _ = writeln!(out, "### `{}`: {} → {}\n", change.case, change.before, change.after);
    for e in &change.explanations {
        let kind = e
            .kind
            .as_ref()
            .map(|k| format!(" ({})", k.as_str()))
            .unwrap_or_default();
        let _ = writeln!(out, "> **{}**{kind}: {}", e.id, e.summary.trim());
        for line in e.why.trim().lines() {
            let _ = writeln!(out, "> {line}");
        }
        for c in &e.commits {
            let mut line = format!("> - `{}` {}", c.id, c.subject);
            if let Some(r) = &c.released_in {
                let _ = write!(line, " (in {r}");
                if !c.backports.is_empty() {
                    let _ = write!(line, "; backported to {}", c.backports.join(", "));
                }
                line.push(')');
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }
    let _ = writeln!(out, "| step | {} | {} |\n|---|---|---|", change.before, change.after);
    for s in &change.steps {
        let side = |v: &Option<String>| v.as_deref().map(cell_text).unwrap_or_else(|| "(no such step)".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell_text(&s.step),
            side(&s.before),
            side(&s.after)
        );
    }
    out.push('\n');
}

pub fn render(report: &Report) -> String {
    let mut out = String::from("# mapconform: cases × kernels\n\n");
    let kernels: Vec<String> = report
        .kernels
        .iter()
        .map(|k| {
            let from = match (k.source, &k.error) {
                (_, Some(_)) => "did not run".to_string(),
                (Source::Snapshots, _) => "snapshots".to_string(),
                (Source::Results, _) => k.accel.clone().unwrap_or_default(),
            };
            format!("**{}** {} ({from})", k.id, k.release.as_deref().unwrap_or(""))
        })
        .collect();
    let _ = writeln!(out, "Kernels: {}\n", kernels.join(" · "));
    let problems = report.problem_count();
    let _ = writeln!(
        out,
        "{} cases; **{} behave differently** across kernels; **{problems}** (kernel, case) failures.\n",
        report.cases.len(),
        report.changed_case_count()
    );
    let _ = writeln!(out, "{LEGEND}\n");
    let notable: Vec<usize> = (0..report.cases.len())
        .filter(|&c| report.case_changes(c) || report.case_has_problems(c))
        .collect();
    if notable.is_empty() {
        out.push_str("Every case behaves the same on every kernel.\n\n");
    } else {
        out.push_str(&table(report, &notable));
    }
    let all: Vec<usize> = (0..report.cases.len()).collect();
    let _ = writeln!(
        out,
        "\n<details><summary>All {} cases</summary>\n\n{}\n</details>\n",
        all.len(),
        table(report, &all)
    );
    if problems > 0 {
        out.push_str("## Failures\n\n");
        for (c, case) in report.cases.iter().enumerate() {
            for (k, cell) in report.cells[c].iter().enumerate() {
                for p in &cell.problems {
                    let (first, rest) = p.split_once('\n').unwrap_or((p, ""));
                    let _ = writeln!(out, "- `{}` on **{}**: {first}", case, report.kernels[k].id);
                    if !rest.is_empty() {
                        let _ = writeln!(out, "\n```diff\n{}\n```\n", rest.trim_end());
                    }
                }
            }
            if out.len() > BUDGET / 2 {
                out.push_str("\n(more failures cut: see report.html or junit.xml)\n");
                break;
            }
        }
        out.push('\n');
    }
    out.push_str("## Behaviour changes\n\n");
    if report.changes.is_empty() {
        out.push_str("None: every case gives the same result on every kernel.\n");
    }
    for (i, c) in report.changes.iter().enumerate() {
        let mut block = String::new();
        change(&mut block, c);
        if out.len() + block.len() > BUDGET {
            let _ = writeln!(
                out,
                "({} more changes cut to fit a step summary: see report.html)",
                report.changes.len() - i
            );
            break;
        }
        out.push_str(&block);
    }
    // Door disagreements are few lines each: after the changes, cut like them.
    let doors = super::doors::markdown(&report.door_disagreements);
    if out.len() + doors.len() <= BUDGET {
        out.push('\n');
        out.push_str(&doors);
    } else {
        out.push_str("\n## Door disagreements\n\n(cut to fit a step summary: see report.html)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::explanations::parse;
    use crate::report::model::{step_changes, Kernel};

    fn report() -> Report {
        let before = "- step: freeze m\n  result: EBUSY\n";
        let after = "- step: freeze m\n  result: EPERM\n";
        let cell = |trend, body: &str, problems: Vec<String>| Cell {
            body: Some(body.into()),
            trend,
            previous: None,
            diff: None,
            problems,
        };
        let kernel = |id: &str| Kernel {
            id: id.into(),
            release: Some(format!("{id}.0-1-amd64")),
            debian_version: None,
            accel: None,
            source: Source::Snapshots,
            error: None,
        };
        Report {
            kernels: vec![kernel("6.1"), kernel("6.12")],
            cases: vec!["array/same".into(), "hash/freeze".into()],
            cells: vec![
                vec![cell(Trend::First, before, vec![]), cell(Trend::Same, before, vec![])],
                vec![
                    cell(Trend::First, before, vec![]),
                    cell(Trend::Changed, after, vec!["differs from snapshots/6.12:\n-x\n+y".into()]),
                ],
            ],
            changes: vec![Change {
                case: "hash/freeze".into(),
                before: "6.1".into(),
                after: "6.12".into(),
                steps: step_changes(before, after),
                explanations: parse("- {id: freeze-twice, cases: [hash/freeze], summary: 'EPERM first', why: 'checks write|perm', commits: [{id: c4c84f6fb2c4, subject: 'bpf: x', released_in: '6.5'}], kind: change}").unwrap(),
            }],
            door_disagreements: vec![],
        }
    }

    #[test]
    fn only_changing_cases_in_the_compact_table_and_changes_side_by_side() {
        let md = render(&report());
        let (compact, rest) = md.split_once("<details>").unwrap();
        assert!(compact.contains("| `hash/freeze` | • | Δ! |"), "{md}");
        assert!(!compact.contains("array/same"), "{md}");
        assert!(rest.contains("| `array/same` | • | = |"), "{md}");
        assert!(md.contains("### `hash/freeze`: 6.1 → 6.12"), "{md}");
        assert!(md.contains("| `freeze m` | `EBUSY` | `EPERM` |"), "{md}");
        assert!(md.contains("> **freeze-twice** (change): EPERM first"), "{md}");
        assert!(md.contains("`c4c84f6fb2c4` bpf: x (in 6.5)"), "{md}");
        assert!(md.contains("```diff\n-x\n+y\n```"), "{md}");
    }

    #[test]
    fn table_cells_escape_pipes_and_cut_long_values() {
        assert_eq!(cell_text("a|b"), "`a\\|b`");
        assert_eq!(cell_text("x`y"), "`` x`y ``");
        let long = "v".repeat(500);
        assert_eq!(cell_text(&long).chars().count(), MAX_VALUE + 3);
    }
}
