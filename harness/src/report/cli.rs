//! The command-line edges of reporting (anyhow here; the model has its own errors):
//! `mapconform report`, and the machine outputs of `mapconform run`.
use super::model::{Inputs, Report, Source};
use super::results::{self, KernelResults};
use super::{explanations, html, junit, markdown, text};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct ReportArgs {
    pub snapshots: PathBuf,
    pub results: Vec<PathBuf>,
    /// Default: `<snapshots>/explanations.yaml` (optional file).
    pub explanations: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub full_table: bool,
    pub quiet: bool,
    /// Fail when a matrix kernel has no results (CI: a kernel job that uploaded nothing).
    pub require_all: bool,
}

fn matrix_ids() -> Result<Vec<String>> {
    let matrix = crate::kernels::Matrix::load(&crate::kernels::Matrix::default_path())?;
    Ok(matrix.kernels.into_iter().map(|k| k.id).collect())
}

/// `mapconform report`: returns whether everything passed.
pub fn report(args: &ReportArgs) -> Result<bool> {
    let matrix = matrix_ids()?;
    let results = results::read_all(&args.results)?;
    let explanations_path = args
        .explanations
        .clone()
        .unwrap_or_else(|| args.snapshots.join("explanations.yaml"));
    let given_results = !results.is_empty();
    let report = Report::build(Inputs {
        matrix: &matrix,
        snapshots: &args.snapshots,
        results,
        fill_from_snapshots: true,
        compare_to: None,
        explanations: explanations::load(&explanations_path)?,
        cases: Vec::new(),
    })?;
    let mut ok = report.problem_count() == 0;
    if given_results {
        for k in report.kernels.iter().filter(|k| k.source == Source::Snapshots) {
            eprintln!("{}: no results given; shown from its committed snapshots", k.id);
            ok &= !args.require_all;
        }
    }
    if !args.quiet {
        print!("{}", text::report_table(&report, args.full_table));
    }
    if let Some(out) = &args.out {
        write_all(&report, out)?;
    }
    Ok(ok)
}

/// report.md, report.html and junit.xml in `out`; prints each path and size.
pub fn write_all(report: &Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let files = [
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
        ("junit.xml", junit::render(report)?),
    ];
    for (name, content) in files {
        let path = out.join(name);
        std::fs::write(&path, &content).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} KiB)", path.display(), content.len().div_ceil(1024));
    }
    Ok(())
}

/// `run --junit FILE`: one testcase per (kernel, selected case) of this run, compared
/// with the snapshots of the same kernel (or of `compare_to`).
pub fn write_run_junit(
    file: &Path,
    results: Vec<KernelResults>,
    cases: Vec<String>,
    snapshots: &Path,
    compare_to: Option<String>,
) -> Result<()> {
    let report = Report::build(Inputs {
        matrix: &[],
        snapshots,
        results,
        fill_from_snapshots: false,
        compare_to,
        explanations: Vec::new(),
        cases,
    })?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(file, junit::render(&report)?).with_context(|| format!("writing {}", file.display()))
}
