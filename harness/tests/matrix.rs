//! The kernel matrix as tests: one libtest-mimic trial per (kernel, case), named
//! `6.12::hash/update-flags`.
//!
//! Each selected kernel boots once (in parallel, bounded by `MAPCONFORM_JOBS`), runs every
//! case in the guest, and its trials then compare what that kernel did with the reviewed
//! snapshot `snapshots/<kernel>/<case>.snap` (insta) and check the case's `expect:`s.
//! A kernel none of whose trials are selected is not booted; `--list` boots nothing.
use libtest_mimic::{Arguments, Failed, Trial};
use mapconform::case::{load_library, Case};
use mapconform::matrix::{self, KernelRun};
use mapconform::{report, snapshot};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// libtest's selection rules, so we know which kernels to boot before trials run.
fn selected(args: &Arguments, name: &str) -> bool {
    matrix::selected(name, args.filter.as_deref(), &args.skip, args.exact)
}

/// A kernel's run, filled in by a boot thread, awaited by that kernel's trials.
#[derive(Default)]
struct Slot {
    result: Mutex<Option<Result<KernelRun, String>>>,
    ready: Condvar,
}

impl Slot {
    fn wait(&self) -> std::sync::MutexGuard<'_, Option<Result<KernelRun, String>>> {
        let mut guard = self.result.lock().unwrap();
        while guard.is_none() {
            guard = self.ready.wait(guard).unwrap();
        }
        guard
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = repo();
    let cases_dir = root.join("cases");
    let snapshots = root.join("snapshots");
    let library = load_library(&cases_dir).expect("reading cases/");
    let targets = matrix::targets().expect("reading kernels/matrix.yaml and the kernel cache");

    let mut trials = Vec::new();
    let mut slots: HashMap<String, Arc<Slot>> = HashMap::new();
    let mut to_boot = Vec::new();
    for target in &targets {
        let slot = Arc::new(Slot::default());
        let mut chosen = Vec::new();
        for case in &library.cases {
            let name = format!("{}::{}", target.id, case.id);
            if selected(&args, &name) {
                chosen.push(case.id.clone());
            }
            let (slot, case, id, snapshots) = (slot.clone(), case.clone(), target.id.clone(), snapshots.clone());
            trials.push(Trial::test(name, move || check_case(&slot, &id, &case, &snapshots)));
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
        slots.insert(target.id.clone(), slot);
    }

    // Boots run beside the trials; each trial waits for its kernel only. Progress (which
    // accelerator, each boot and its time) goes to stderr.
    let booter = {
        let slots = slots.clone();
        let opts = matrix::Options::new(PathBuf::from(env!("CARGO_BIN_EXE_mapconform")), cases_dir.clone())
            .expect("preparing the guest's root");
        std::thread::spawn(move || {
            let (tx, rx) = std::sync::mpsc::channel();
            let printer = std::thread::spawn(move || mapconform::vm::events::print_events(rx));
            matrix::run_many(&to_boot, &opts, Some(&tx), |id, result| {
                let slot = &slots[id];
                *slot.result.lock().unwrap() = Some(result);
                slot.ready.notify_all();
            });
            drop(tx);
            let _ = printer.join();
        })
    };

    let conclusion = libtest_mimic::run(&args, trials);
    let _ = booter.join();
    conclusion.exit();
}

fn check_case(slot: &Slot, kernel: &str, case: &Case, snapshots: &Path) -> Result<(), Failed> {
    // Copy what this trial needs and let go of the lock before asserting: a failed
    // assertion panics, and must not poison the slot for the kernel's other trials.
    let (result, header) = {
        let guard = slot.wait();
        let run = match guard.as_ref().expect("wait returns a filled slot") {
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
    // Both checks always run: a broken invariant and a changed snapshot are reported together.
    let snapshot = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, result.snapshot_body()))
    }));
    let mut problems = Vec::new();
    if !result.passed() {
        problems.push(format!(
            "expectations failed on {kernel}:{}",
            report::case_text(&result)
        ));
    }
    if let Err(panic) = snapshot {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        problems.push(format!(
            "differs from snapshots/{kernel}/{}.snap (see the diff above): {why}",
            case.id
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}
