//! One self-contained HTML page (inline CSS and JS, nothing fetched when viewed): the
//! cases × kernels table, a panel with a cell's result and its diff against the previous
//! kernel, filters (only differences, map type), and the behaviour changes.
//!
//! The table and the changes are rendered here, so the page reads without JS; the panel's
//! data (each distinct result body once, and each change's diff) is embedded as JSON.
//! `report.html#selftest` makes the page click a cell itself and write what it saw into
//! `<pre id="selftest">`, which the headless-browser test reads from the DOM.
use super::markdown::{symbol, LEGEND};
use super::model::{map_type, Report, Source, Trend};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct Data<'a> {
    kernels: &'a [super::model::Kernel],
    bodies: Vec<&'a str>,
    cases: Vec<CaseData<'a>>,
}

#[derive(Serialize)]
struct CaseData<'a> {
    id: &'a str,
    cells: Vec<CellData<'a>>,
}

#[derive(Serialize)]
struct CellData<'a> {
    /// trend
    t: Trend,
    /// index into `bodies`
    b: Option<usize>,
    /// previous kernel index
    p: Option<usize>,
    /// diff against it
    d: Option<&'a str>,
    /// problems
    x: &'a [String],
}

fn data(report: &Report) -> Data<'_> {
    let mut bodies: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let cases = report
        .cases
        .iter()
        .zip(&report.cells)
        .map(|(id, row)| CaseData {
            id,
            cells: row
                .iter()
                .map(|cell| CellData {
                    t: cell.trend,
                    b: cell.body.as_deref().map(|b| {
                        *index.entry(b).or_insert_with(|| {
                            bodies.push(b);
                            bodies.len() - 1
                        })
                    }),
                    p: cell.previous,
                    d: cell.diff.as_deref(),
                    x: &cell.problems,
                })
                .collect(),
        })
        .collect();
    Data {
        kernels: &report.kernels,
        bodies,
        cases,
    }
}

fn trend_class(t: Trend) -> &'static str {
    match t {
        Trend::First => "first",
        Trend::Same => "same",
        Trend::Changed => "changed",
        Trend::Missing => "missing",
    }
}

/// The door disagreements: one row per (case, step), each kernel's two results.
fn doors(out: &mut String, report: &Report) {
    out.push_str("<section id=\"doors\"><h2>Door disagreements</h2>\n");
    if report.door_disagreements.is_empty() {
        out.push_str("<p>None: wherever a case compares the syscall with the helper, they agree.</p>\n");
    } else {
        out.push_str(
            "<table class=\"steps\"><tr><th>case</th><th>step</th><th>kernel</th><th>syscall</th><th>helper</th><th>explanation</th></tr>",
        );
        for d in &report.door_disagreements {
            let why: Vec<String> = d
                .explanations
                .iter()
                .map(|e| format!("<b>{}</b>: {}", esc(&e.id), esc(e.summary.trim())))
                .collect();
            let why = if why.is_empty() {
                "<b>unexplained</b>".to_string()
            } else {
                why.join("<br>")
            };
            for (i, s) in d.kernels.iter().enumerate() {
                let first = if i == 0 { " (first)" } else { "" };
                let _ = write!(
                    out,
                    "<tr data-case=\"{}\" data-type=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}{first}</td><td class=\"before\"><code>{}</code></td><td class=\"after\"><code>{}</code></td><td>{}</td></tr>",
                    esc(&d.case),
                    esc(map_type(&d.case)),
                    esc(&d.case),
                    esc(&d.step),
                    esc(&s.kernel),
                    esc(&s.syscall),
                    esc(&s.helper),
                    why
                );
            }
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>mapconform report</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = write!(
        out,
        "<header><h1>mapconform: cases × kernels</h1><p id=\"summary\">{} cases on {} kernels; \
         <b>{}</b> behave differently across kernels; <b>{}</b> (kernel, case) failures.</p>\
         <p class=\"legend\">{}. Click a cell for its result and its diff against the previous kernel.</p>",
        report.cases.len(),
        report.kernels.len(),
        report.changed_case_count(),
        report.problem_count(),
        esc(LEGEND)
    );
    let types: BTreeSet<&str> = report.cases.iter().map(|c| map_type(c)).collect();
    out.push_str(
        "<div id=\"filters\"><label><input type=\"checkbox\" id=\"only-diff\"> only differences</label> \
         <label>map type <select id=\"map-type\"><option value=\"\">all</option>",
    );
    for t in &types {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(t));
    }
    out.push_str("</select></label> <span id=\"shown\"></span></div></header>\n<main>\n");

    // The table.
    out.push_str("<div id=\"matrix-wrap\"><table id=\"matrix\"><thead><tr><th class=\"case\">case</th>");
    for k in &report.kernels {
        let from = match (&k.error, k.source) {
            (Some(_), _) => "did not run",
            (None, Source::Snapshots) => "snapshots",
            (None, Source::Results) => "fresh results",
        };
        let title = format!(
            "{} · Debian {} · {} · {from}",
            k.release.as_deref().unwrap_or("?"),
            k.debian_version.as_deref().unwrap_or("?"),
            k.accel.as_deref().unwrap_or("?")
        );
        let _ = write!(
            out,
            "<th class=\"kernel\" data-kernel=\"{}\" title=\"{}\">{}<small>{}</small></th>",
            esc(&k.id),
            esc(&title),
            esc(&k.id),
            esc(k.release.as_deref().unwrap_or(from))
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for (c, case) in report.cases.iter().enumerate() {
        let differs = report.case_changes(c) || report.case_has_problems(c);
        let _ = write!(
            out,
            "<tr data-case=\"{}\" data-ci=\"{c}\" data-type=\"{}\" data-differs=\"{}\"><th class=\"case\">{}</th>",
            esc(case),
            esc(map_type(case)),
            u8::from(differs),
            esc(case)
        );
        for (k, cell) in report.cells[c].iter().enumerate() {
            let problem = if cell.problems.is_empty() { "" } else { " problem" };
            let _ = write!(
                out,
                "<td class=\"cell {}{problem}\" data-k=\"{k}\" tabindex=\"0\">{}</td>",
                trend_class(cell.trend),
                esc(&symbol(cell))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str(
        "<aside id=\"panel\" hidden><h2 id=\"panel-title\"></h2><p id=\"panel-meta\"></p>\
         <ul id=\"panel-problems\"></ul><h3 id=\"panel-diff-title\">diff against the previous kernel</h3>\
         <pre id=\"panel-diff\" class=\"diff\"></pre><h3>result</h3><pre id=\"panel-body\"></pre></aside>\n</main>\n",
    );

    // The behaviour changes.
    out.push_str("<section id=\"changes\"><h2>Behaviour changes</h2>\n");
    if report.changes.is_empty() {
        out.push_str("<p>None: every case gives the same result on every kernel.</p>\n");
    }
    for ch in &report.changes {
        let _ = write!(
            out,
            "<article class=\"change\" data-case=\"{}\" data-type=\"{}\"><h3><code>{}</code>: {} → {}</h3>",
            esc(&ch.case),
            esc(map_type(&ch.case)),
            esc(&ch.case),
            esc(&ch.before),
            esc(&ch.after)
        );
        for e in &ch.explanations {
            let kind = e
                .kind
                .as_ref()
                .map(|k| format!(" ({})", k.as_str()))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<blockquote><p><b>{}</b>{}: {}</p>",
                esc(&e.id),
                esc(&kind),
                esc(e.summary.trim())
            );
            if !e.why.trim().is_empty() {
                let _ = write!(out, "<p class=\"why\">{}</p>", esc(e.why.trim()));
            }
            for cm in &e.commits {
                let mut when = cm.released_in.clone().map(|r| format!(" (in {r}")).unwrap_or_default();
                if !when.is_empty() {
                    if !cm.backports.is_empty() {
                        let _ = write!(when, "; backported to {}", cm.backports.join(", "));
                    }
                    when.push(')');
                }
                let _ = write!(
                    out,
                    "<p class=\"commit\"><code>{}</code> {}{}</p>",
                    esc(&cm.id),
                    esc(&cm.subject),
                    esc(&when)
                );
            }
            out.push_str("</blockquote>");
        }
        let _ = write!(
            out,
            "<table class=\"steps\"><tr><th>step</th><th>{}</th><th>{}</th></tr>",
            esc(&ch.before),
            esc(&ch.after)
        );
        for s in &ch.steps {
            let side = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| "<i>no such step</i>".into());
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"before\"><code>{}</code></td><td class=\"after\"><code>{}</code></td></tr>",
                esc(&s.step),
                side(&s.before),
                side(&s.after)
            );
        }
        out.push_str("</table></article>\n");
    }
    out.push_str("</section>\n");
    doors(&mut out, report);
    out.push_str("<pre id=\"selftest\" hidden></pre>\n");

    // `</` cannot end the script early once escaped as `<\/` (still valid JSON).
    let json = serde_json::to_string(&data(report))
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"data\">{json}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Cell, Kernel};

    #[test]
    fn text_is_escaped_and_the_data_cannot_close_its_script() {
        let cell = |trend, body: &str| Cell {
            body: Some(body.into()),
            trend,
            previous: None,
            diff: None,
            problems: vec![],
        };
        let report = Report {
            kernels: vec![Kernel {
                id: "6.1".into(),
                release: None,
                debian_version: None,
                accel: None,
                source: Source::Snapshots,
                error: None,
            }],
            cases: vec!["hash/<b>".into(), "hash/same".into()],
            cells: vec![
                vec![cell(Trend::First, "</script><b>")],
                vec![cell(Trend::First, "</script><b>")],
            ],
            changes: vec![],
            door_disagreements: vec![],
        };
        let html = render(&report);
        assert!(html.contains("<th class=\"case\">hash/&lt;b&gt;</th>"), "{html}");
        assert_eq!(html.matches("</script>").count(), 2, "only the two real script ends");
        let json = html
            .split("id=\"data\">")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            v["bodies"].as_array().unwrap().len(),
            1,
            "identical bodies are kept once"
        );
        assert_eq!(v["bodies"][0], "</script><b>");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing fetched when viewed"
        );
    }
}
