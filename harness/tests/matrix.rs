//! The kernel matrix as tests: one libtest-mimic trial per (kernel, case), named
//! `6.12::hash/update-flags`.
//!
//! Each selected kernel boots once (in parallel, bounded by `MAPCONFORM_JOBS`), runs every
//! case in the guest, and its trials then compare what that kernel did with the reviewed
//! snapshot `snapshots/<kernel>/<case>.snap` (insta) and check the case's `expect:`s.
//! A kernel none of whose trials are selected is not booted; `--list` boots nothing.
use libtest_mimic::{Arguments, Failed, Trial};
use mapconform::case::{load_library, Case};
use mapconform::matrix::{self, Runs};
use mapconform::{report, snapshot};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// libtest's selection rules, so we know which kernels to boot before trials run.
fn selected(args: &Arguments, name: &str) -> bool {
    matrix::selected(name, args.filter.as_deref(), &args.skip, args.exact)
}

fn main() {
    let args = Arguments::from_args();
    let root = repo();
    let cases_dir = root.join("cases");
    let snapshots = root.join("snapshots");
    let library = load_library(&cases_dir).expect("reading cases/");
    let targets = matrix::targets().expect("reading kernels/matrix.yaml and the kernel cache");

    // Trials wait on the run, which starts once the trials are known (it needs the selection).
    let runs: Arc<OnceLock<Runs>> = Arc::new(OnceLock::new());
    let mut trials = Vec::new();
    let mut to_boot = Vec::new();
    for target in &targets {
        let mut chosen = Vec::new();
        for case in &library.cases {
            let name = format!("{}::{}", target.id, case.id);
            if selected(&args, &name) {
                chosen.push(case.id.clone());
            }
            let (runs, case, id, snapshots) = (runs.clone(), case.clone(), target.id.clone(), snapshots.clone());
            trials.push(Trial::test(name, move || {
                check_case(wait(&runs, &id), &id, &case, &snapshots)
            }));
        }
        // A broken case file fails its own trials, on every kernel, with its located errors.
        for (case_id, errors) in &library.broken {
            let name = format!("{}::{}", target.id, case_id);
            let message: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            let message = message.join("\n");
            trials.push(Trial::test(name, move || Err(message.into())));
        }
        // The guest runs only the selected cases; a kernel with none is not booted.
        if !chosen.is_empty() && !args.list {
            let all = chosen.len() == library.cases.len();
            to_boot.push(matrix::Target {
                cases: (!all).then_some(chosen),
                ..target.clone()
            });
        }
    }

    // Boots run beside the trials; each trial waits for its kernel only. Progress (which
    // accelerator, each boot and its time) goes to stderr.
    let opts = matrix::Options::new(PathBuf::from(env!("CARGO_BIN_EXE_mapconform")), cases_dir.clone())
        .expect("preparing the guest's root");
    let (tx, rx) = std::sync::mpsc::channel();
    let printer = std::thread::spawn(move || mapconform::vm::events::print_events(rx));
    let _ = runs.set(Runs::start(to_boot, opts, Some(tx)));
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(runs) = Arc::into_inner(runs).and_then(OnceLock::into_inner) {
        runs.finish();
    }
    let _ = printer.join();
    conclusion.exit();
}

fn wait(runs: &OnceLock<Runs>, kernel: &str) -> Option<matrix::Shared> {
    runs.get()?.wait(kernel)
}

fn check_case(run: Option<matrix::Shared>, kernel: &str, case: &Case, snapshots: &Path) -> Result<(), Failed> {
    let Some(run) = run else {
        return Err(format!("kernel {kernel} was not booted").into());
    };
    let (result, header) = {
        let run = match run.as_ref() {
            Ok(run) => run,
            Err(why) => return Err(format!("kernel {kernel} did not run the cases:\n{why}").into()),
        };
        let Some(result) = run.report.cases.iter().find(|c| c.case == case.id) else {
            return Err(format!("the guest on {kernel} reported no result for {}", case.id).into());
        };
        (result.clone(), run.header())
    };

    let (dir, name) = snapshot::location(snapshots, kernel, &case.id);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(case.about.clone());
    settings.set_info(&header);
    // insta writes: `.snap.new` beside a differing snapshot, or the snapshot itself under
    // INSTA_UPDATE=always (never in CI). The verdict is snapshot::compare's, read after that
    // write — the same comparison `run --compare-to` and the report make.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, result.snapshot_body()))
    }));
    // Both checks always run: a broken invariant and a changed snapshot are reported together.
    let mut problems = Vec::new();
    if !result.passed() {
        problems.push(format!(
            "expectations failed on {kernel}:{}",
            report::case_text(&result)
        ));
    }
    match snapshot::compare(snapshots, kernel, &result) {
        snapshot::Comparison::Same => {}
        snapshot::Comparison::NoSnapshot => problems.push(format!(
            "no snapshot snapshots/{kernel}/{}.snap yet: review the .snap.new insta wrote",
            case.id
        )),
        snapshot::Comparison::Differs(diff) => {
            problems.push(format!("differs from snapshots/{kernel}/{}.snap:\n{diff}", case.id))
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}
