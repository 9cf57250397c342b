//! Every case on every kernel: one boot per kernel runs the whole case library in the guest.
//!
//! The runner contract between host and guest (see README "Runner contract"): the host
//! boots the kernel with `mapconform guest --cases DIR --out RWDIR/report.json`; the guest
//! mounts bpffs, runs every case with the same executor as `run --host`, and writes one
//! JSON [`RunReport`]. Nothing else crosses the boundary.
use crate::guest;
use crate::kernels::{Cache, Kernel, Matrix};
use crate::outcome::{CaseResult, RunReport};
use crate::vm::events::emit;
use crate::vm::{self, events::VmEvent, Accel, BootRequest};
use anyhow::Context as _;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Is trial `name` (`6.12::hash/update-flags`) selected by libtest's rules: it contains the
/// filter (equals it with `exact`) and none of the skips? Decides which kernels to boot.
pub fn selected(name: &str, filter: Option<&str>, skip: &[String], exact: bool) -> bool {
    let matches = |pattern: &str| if exact { name == pattern } else { name.contains(pattern) };
    filter.is_none_or(matches) && !skip.iter().any(|s| matches(s))
}

/// The guest's JSON [`RunReport`], in the rwdir.
pub const REPORT_FILE: &str = "report.json";
/// The guest's timings (`$MAPCONFORM_TIMINGS`), in the rwdir.
const TIMINGS_FILE: &str = "timings.jsonl";
/// The cases the guest runs, as one JSON [`crate::case::BundledCase`] list, in the rwdir.
pub const BUNDLE_FILE: &str = "cases.json";

/// A kernel of the matrix, as found in the cache (or why it cannot run).
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub kernel: Result<Kernel, String>,
    /// Case ids to run on it (`None`: every case). The guest runs only these.
    pub cases: Option<Vec<String>>,
}

/// The matrix kernels (`kernels/matrix.yaml`, or `$MAPCONFORM_MATRIX`), in matrix order,
/// resolved from the kernel cache.
pub fn targets() -> anyhow::Result<Vec<Target>> {
    targets_from(&Matrix::default_path())
}

/// [`targets`] of the matrix file `path` (`run --matrix-file`); `path:` entries are booted
/// from where they point.
pub fn targets_from(path: &Path) -> anyhow::Result<Vec<Target>> {
    let matrix = Matrix::load(path)?;
    let cache = Cache::from_env()?;
    Ok(matrix
        .kernels
        .iter()
        .map(|entry| {
            let kernel = match cache.get(&entry.id) {
                // a `path:` entry boots its file: nothing of it is in the cache
                _ if entry.path.is_some() => matrix
                    .local_kernel(entry)
                    .expect("a path entry")
                    .map_err(|e| format!("{e:#}")),
                Ok(Some(cached)) => Ok(cached.kernel()),
                Ok(None) => Err(format!(
                    "kernel {} is not in the cache {}: run `mapconform kernels fetch {}` (or `scripts/run setup`)",
                    entry.id,
                    cache.root.display(),
                    entry.id
                )),
                Err(e) => Err(format!("reading the cache entry of {}: {e:#}", entry.id)),
            };
            Target {
                id: entry.id.clone(),
                kernel,
                cases: None,
            }
        })
        .collect())
}

/// What one kernel did with the whole library.
#[derive(Debug, Clone)]
pub struct KernelRun {
    pub id: String,
    pub version: Option<String>,
    pub accel: Accel,
    pub wall: Duration,
    pub report: RunReport,
    /// Why the first boot failed, when it failed before any case ran and was tried again.
    pub retried: Option<String>,
}

/// Snapshot header metadata: which exact kernel, how it ran. Not compared.
#[derive(Debug, Serialize)]
pub struct Header {
    pub kernel: String,
    pub release: String,
    pub debian_version: Option<String>,
    pub accel: String,
}

impl KernelRun {
    pub fn header(&self) -> Header {
        Header {
            kernel: self.id.clone(),
            release: self.report.kernel_release.clone(),
            debian_version: self.version.clone(),
            accel: self.accel.to_string(),
        }
    }
}

/// How boots are run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The mapconform binary the guest runs (it sees the host root read-only).
    pub exe: PathBuf,
    pub cases: PathBuf,
    pub accel: Option<Accel>,
    pub deadline: Option<Duration>,
    pub jobs: usize,
    /// The minimal guest root ([`vm::root`]); `None`: the host's root.
    pub guest_root: Option<PathBuf>,
}

impl Options {
    /// Defaults, overridable by `$MAPCONFORM_JOBS` and `$MAPCONFORM_DEADLINE` (seconds).
    /// The guest gets the minimal root in the kernel cache, prepared here (set
    /// `$MAPCONFORM_GUEST_ROOT=host` to boot with the host's root instead).
    pub fn new(exe: PathBuf, cases: PathBuf) -> anyhow::Result<Options> {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let guest_root = match std::env::var("MAPCONFORM_GUEST_ROOT").as_deref() {
            Ok("host") => None,
            _ => {
                let dir = Cache::from_env()?.root.join(vm::root::CACHE_DIR);
                Some(vm::root::prepare(&dir, &exe).context("preparing the guest's root")?)
            }
        };
        Ok(Options {
            guest_root,
            exe,
            cases,
            accel: None,
            deadline: env("MAPCONFORM_DEADLINE").map(Duration::from_secs),
            jobs: env("MAPCONFORM_JOBS")
                .map(|j| j as usize)
                .unwrap_or_else(vm::default_jobs),
        })
    }
}

/// Boot one kernel and run `cases` (every case: `None`) in it.
pub fn run_one(
    id: &str,
    kernel: &Kernel,
    cases: Option<&[String]>,
    accel: Accel,
    opts: &Options,
    events: Option<&Sender<VmEvent>>,
) -> Result<KernelRun, String> {
    let rwdir = std::env::temp_dir()
        .join(format!("mapconform-{}", std::process::id()))
        .join(id.replace('/', "_"));
    let _ = std::fs::remove_dir_all(&rwdir);
    std::fs::create_dir_all(&rwdir).map_err(|e| format!("creating {}: {e}", rwdir.display()))?;
    let outcome = boot_and_collect(id, kernel, cases, accel, opts, &rwdir, events);
    let _ = std::fs::remove_dir_all(&rwdir);
    let _ = rwdir.parent().map(std::fs::remove_dir);
    outcome
}

fn boot_and_collect(
    id: &str,
    kernel: &Kernel,
    cases: Option<&[String]>,
    accel: Accel,
    opts: &Options,
    rwdir: &Path,
    events: Option<&Sender<VmEvent>>,
) -> Result<KernelRun, String> {
    let bundle = crate::case::bundle(&opts.cases, |id| cases.is_none_or(|c| c.iter().any(|s| s == id)))
        .map_err(|e| format!("reading the cases in {}: {e}", opts.cases.display()))?;
    // The guest runs these in this order; a crash report lists the unfinished ones from it.
    let ids: Vec<String> = bundle.iter().map(|c| c.id.clone()).collect();
    let json = serde_json::to_vec(&bundle).map_err(|e| e.to_string())?;
    std::fs::write(rwdir.join(BUNDLE_FILE), json).map_err(|e| format!("writing the case bundle: {e}"))?;
    let exe = std::path::absolute(&opts.exe).map_err(|e| e.to_string())?;
    let mut req = BootRequest::new(kernel.clone(), vec![], rwdir.to_path_buf());
    // The guest sees the host's binary and the rwdir where these paths say.
    let guest_exe = match &opts.guest_root {
        Some(root) => vm::root::attach(&mut req, root, &exe).map_err(|e| format!("{e:#}"))?,
        None => exe.clone(),
    };
    let guest_rwdir = req.guest_rwdir();
    req.command = vec![
        guest_exe.display().to_string(),
        "guest".into(),
        "--bundle".into(),
        guest_rwdir.join(BUNDLE_FILE).display().to_string(),
        "--out".into(),
        guest_rwdir.join(REPORT_FILE).display().to_string(),
    ];
    // Where the time goes: `$MAPCONFORM_TIMINGS=DIR` keeps each kernel's guest timings and
    // console there (see `guest::Timings`).
    let timings = std::env::var_os("MAPCONFORM_TIMINGS").map(PathBuf::from);
    if timings.is_some() {
        req.command.extend(["--timings".into(), guest_rwdir.join(TIMINGS_FILE).display().to_string()]);
    }
    req.accel = Some(accel);
    // TCG boots take ~5-20 s and the library well under a minute; KVM is ~10x faster.
    req.deadline = opts.deadline.unwrap_or(match accel {
        Accel::Kvm => Duration::from_secs(120),
        Accel::Tcg => Duration::from_secs(420),
    });
    let mut retried = None;
    loop {
        // the marks' shared memory, empty for each boot (without it they go to the file)
        let log = rwdir.join(crate::shared_log::FILE);
        req.shared_log = (vm::qemu_has_ivshmem() && crate::shared_log::create(&log).is_ok()).then_some(log);
        let boot = vm::boot(&req, events).map_err(|e| format!("could not boot {id}: {e:#}"))?;
        if let Some(dir) = &timings {
            let name = id.replace('/', "_");
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::copy(rwdir.join(TIMINGS_FILE), dir.join(format!("{name}.jsonl")));
            let _ = std::fs::write(dir.join(format!("{name}.console")), &boot.console);
        }
        let run = |report: RunReport, retried: Option<String>| KernelRun {
            id: id.to_string(),
            version: kernel.version.clone(),
            accel: boot.accel,
            wall: boot.wall,
            report,
            retried,
        };
        let failure = || {
            format!(
                "{id}: {} after {:.1}s; console excerpt:\n{}",
                boot.outcome,
                boot.wall.as_secs_f64(),
                boot.excerpt()
            )
        };
        let report = std::fs::read(rwdir.join(REPORT_FILE));
        if let (vm::Outcome::Exited(0), Ok(json)) = (&boot.outcome, &report) {
            return serde_json::from_slice::<RunReport>(json)
                .map(|report| run(report, retried))
                .map_err(|e| format!("the guest's report on {id} is not valid JSON: {e}"));
        }
        let marks = guest::read_marks(rwdir);
        let crashed = !matches!(boot.outcome, vm::Outcome::Exited(_));
        match (crashed, partial_report(&marks, &ids, &failure())) {
            // The kernel went down before the runner started: not a result about maps (a
            // TCG artefact was seen once in 40 boots). One more try, and say so.
            (true, None) if retried.is_none() => {
                let why = failure();
                emit(
                    events,
                    VmEvent::Retrying {
                        id: id.to_string(),
                        why: boot.outcome.clone(),
                    },
                );
                retried = Some(why);
                let _ = std::fs::remove_file(rwdir.join(guest::PROGRESS_FILE));
            }
            (true, None) => {
                return Err(format!(
                    "{id}: the boot failed twice before any case ran.\nfirst:\n{}\nsecond:\n{}",
                    retried.unwrap_or_default(),
                    failure()
                ))
            }
            // A crash while cases ran is a result: the finished cases stand, the one that
            // was running carries the crash, the rest were not run.
            (true, Some(report)) => return Ok(run(report, retried)),
            (false, _) => return Err(failure()),
        }
    }
}

/// What a guest that crashed had done, from its progress marks: `None` if the runner never
/// started. The case it was in carries `crash` as its harness error; later cases say they
/// were not run.
fn partial_report(marks: &[guest::Mark], all: &[String], crash: &str) -> Option<RunReport> {
    let (kernel_release, possible_cpus) = marks.iter().find_map(|m| match m {
        guest::Mark::RunnerStarted {
            kernel_release,
            possible_cpus,
        } => Some((kernel_release.clone(), *possible_cpus)),
        _ => None,
    })?;
    let mut cases: Vec<CaseResult> = Vec::new();
    let mut running = None;
    for mark in marks {
        match mark {
            guest::Mark::CaseStarted { case } => running = Some(case.clone()),
            guest::Mark::CaseFinished { result } => {
                running = None;
                cases.push(result.clone());
            }
            guest::Mark::RunnerStarted { .. } => {}
        }
    }
    let unfinished = |case: &str, why: String| CaseResult {
        case: case.to_string(),
        steps: vec![],
        harness_error: Some(why),
    };
    if let Some(case) = &running {
        cases.push(unfinished(
            case,
            format!("the kernel crashed while this case ran:\n{crash}"),
        ));
    }
    let done: std::collections::HashSet<String> = cases.iter().map(|c| c.case.clone()).collect();
    let during = running.as_deref().unwrap_or("(between cases)");
    for case in all.iter().filter(|c| !done.contains(*c)) {
        cases.push(unfinished(case, format!("not run: the kernel crashed during {during}")));
    }
    Some(RunReport {
        kernel_release,
        possible_cpus,
        cases,
    })
}

/// Boot `targets` at most `opts.jobs` at a time; `done` is called as each kernel finishes
/// (so its trials can go on while others still boot). A target that cannot run is reported
/// at once. Progress goes to `events`.
pub fn run_many(
    targets: &[Target],
    opts: &Options,
    events: Option<&Sender<VmEvent>>,
    done: impl Fn(&str, Result<KernelRun, String>) + Sync,
) {
    let runnable: Vec<(&str, &Kernel, Option<&[String]>)> = targets
        .iter()
        .filter_map(|t| match &t.kernel {
            Ok(k) => Some((t.id.as_str(), k, t.cases.as_deref())),
            Err(why) => {
                done(&t.id, Err(why.clone()));
                None
            }
        })
        .collect();
    let Some((_, first, _)) = runnable.first() else { return };
    let accel = vm::choose_accel(opts.accel, first, events);
    vm::run_parallel(runnable.len(), opts.jobs, |i| {
        let (id, kernel, cases) = runnable[i];
        done(id, run_one(id, kernel, cases, accel, opts, events));
    });
}

/// One kernel's result, shared by everything that waits for it.
pub type Shared = Arc<Result<KernelRun, String>>;

/// A matrix run under way: the kernels boot in a background thread ([`run_many`]), progress
/// goes to the events channel, and each kernel's result can be awaited by id as soon as that
/// kernel is done — the CLI waits for all of them, a test trial for its own kernel only.
pub struct Runs {
    order: Vec<String>,
    slots: HashMap<String, Arc<Slot>>,
    booter: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Slot {
    result: Mutex<Option<Shared>>,
    ready: Condvar,
}

impl Runs {
    /// Starts booting `targets`; `events` (if any) gets every progress event, and is
    /// dropped when the last kernel is done.
    pub fn start(targets: Vec<Target>, opts: Options, events: Option<Sender<VmEvent>>) -> Runs {
        let order: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
        let slots: HashMap<String, Arc<Slot>> = order.iter().map(|id| (id.clone(), Arc::default())).collect();
        let filler = slots.clone();
        let booter = std::thread::spawn(move || {
            run_many(&targets, &opts, events.as_ref(), |id, result| {
                let slot = &filler[id];
                *slot.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(result));
                slot.ready.notify_all();
            });
        });
        Runs {
            order,
            slots,
            booter: Mutex::new(Some(booter)),
        }
    }

    /// Blocks until kernel `id` is done. `None` for a kernel that is not part of this run.
    pub fn wait(&self, id: &str) -> Option<Shared> {
        let slot = self.slots.get(id)?;
        let mut guard = slot.result.lock().unwrap_or_else(|e| e.into_inner());
        while guard.is_none() {
            guard = slot.ready.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        guard.clone()
    }

    /// Waits for every kernel; results in target order.
    pub fn finish(self) -> Vec<(String, Shared)> {
        let results = self
            .order
            .iter()
            .map(|id| (id.clone(), self.wait(id).expect("every target has a slot")))
            .collect();
        if let Some(booter) = self.booter.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = booter.join();
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::{partial_report, selected};
    use crate::guest::Mark;
    use crate::outcome::CaseResult;

    #[test]
    fn a_crash_keeps_finished_cases_and_names_the_running_one() {
        let all = vec!["a".to_string(), "b".into(), "c".into()];
        assert!(
            partial_report(&[], &all, "Oops").is_none(),
            "no runner mark: nothing ran"
        );
        let marks = vec![
            Mark::RunnerStarted {
                kernel_release: "6.12.1".into(),
                possible_cpus: 2,
            },
            Mark::CaseStarted { case: "a".into() },
            Mark::CaseFinished {
                result: CaseResult {
                    case: "a".into(),
                    steps: vec![],
                    harness_error: None,
                },
            },
            Mark::CaseStarted { case: "b".into() },
        ];
        let report = partial_report(&marks, &all, "Oops: 0000 [#1]").unwrap();
        assert_eq!(report.kernel_release, "6.12.1");
        let by = |id: &str| report.cases.iter().find(|c| c.case == id).unwrap();
        assert!(by("a").passed());
        let b = by("b").harness_error.as_deref().unwrap();
        assert!(
            b.contains("crashed while this case ran") && b.contains("Oops: 0000 [#1]"),
            "{b}"
        );
        assert_eq!(
            by("c").harness_error.as_deref(),
            Some("not run: the kernel crashed during b")
        );
    }

    #[test]
    fn trial_selection_follows_libtest() {
        let name = "6.12::hash/update-flags";
        assert!(selected(name, None, &[], false));
        assert!(selected(name, Some("6.12::"), &[], false));
        assert!(
            !selected(name, Some("5.10::"), &[], false),
            "another kernel's filter boots nothing here"
        );
        assert!(
            !selected(name, Some("6.12::hash"), &[], true),
            "--exact wants the whole name"
        );
        assert!(selected(name, Some(name), &[], true));
        assert!(!selected(name, None, &["hash/".to_string()], false));
        assert!(
            selected(name, None, &["hash/".to_string()], true),
            "--exact applies to --skip too"
        );
    }
}
