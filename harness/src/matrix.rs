//! Every case on every kernel: one boot per kernel runs the whole case library in the guest.
//!
//! The runner contract between host and guest (see README "Runner contract"): the host
//! boots the kernel with `mapconform guest --cases DIR --out RWDIR/report.json`; the guest
//! mounts bpffs, runs every case with the same executor as `run --host`, and writes one
//! JSON [`RunReport`]. Nothing else crosses the boundary.
use crate::kernels::{Cache, Kernel, Matrix};
use crate::outcome::RunReport;
use crate::vm::{self, events::VmEvent, Accel, BootRequest};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::Duration;

/// Is trial `name` (`6.12::hash/update-flags`) selected by libtest's rules: it contains the
/// filter (equals it with `exact`) and none of the skips? Decides which kernels to boot.
pub fn selected(name: &str, filter: Option<&str>, skip: &[String], exact: bool) -> bool {
    let matches = |pattern: &str| if exact { name == pattern } else { name.contains(pattern) };
    filter.is_none_or(matches) && !skip.iter().any(|s| matches(s))
}

/// A kernel of the matrix, as found in the cache (or why it cannot run).
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub kernel: Result<Kernel, String>,
}

/// The matrix kernels (`kernels/matrix.yaml`, or `$MAPCONFORM_MATRIX`), in matrix order,
/// resolved from the kernel cache.
pub fn targets() -> anyhow::Result<Vec<Target>> {
    let matrix = Matrix::load(&Matrix::default_path())?;
    let cache = Cache::from_env()?;
    Ok(matrix
        .kernels
        .iter()
        .map(|entry| {
            let kernel = match cache.get(&entry.id) {
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
            accel: format!("{:?}", self.accel).to_lowercase(),
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
}

impl Options {
    /// Defaults, overridable by `$MAPCONFORM_JOBS` and `$MAPCONFORM_DEADLINE` (seconds).
    pub fn new(exe: PathBuf, cases: PathBuf) -> Options {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        Options {
            exe,
            cases,
            accel: None,
            deadline: env("MAPCONFORM_DEADLINE").map(Duration::from_secs),
            jobs: env("MAPCONFORM_JOBS")
                .map(|j| j as usize)
                .unwrap_or_else(|| vm::default_jobs(vm::DEFAULT_CPUS)),
        }
    }
}

/// Boot one kernel and run every case in it.
pub fn run_one(
    id: &str,
    kernel: &Kernel,
    accel: Accel,
    opts: &Options,
    events: Option<&Sender<VmEvent>>,
) -> Result<KernelRun, String> {
    let rwdir = std::env::temp_dir()
        .join(format!("mapconform-{}", std::process::id()))
        .join(id.replace('/', "_"));
    let _ = std::fs::remove_dir_all(&rwdir);
    std::fs::create_dir_all(&rwdir).map_err(|e| format!("creating {}: {e}", rwdir.display()))?;
    let out = rwdir.join("report.json");
    let cases = std::path::absolute(&opts.cases).map_err(|e| e.to_string())?;
    let command = vec![
        opts.exe.display().to_string(),
        "guest".into(),
        "--cases".into(),
        cases.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    let mut req = BootRequest::new(kernel.clone(), command, rwdir.clone());
    req.accel = Some(accel);
    // TCG boots take ~10-20 s and the library ~1 min at most; KVM is ~50x faster.
    req.deadline = opts.deadline.unwrap_or(match accel {
        Accel::Kvm => Duration::from_secs(120),
        Accel::Tcg => Duration::from_secs(420),
    });
    let result = vm::boot(&req, events);
    let outcome = match result {
        Err(e) => Err(format!("could not boot {id}: {e:#}")),
        Ok(boot) => match (&boot.outcome, std::fs::read(&out)) {
            (vm::Outcome::Exited(0), Ok(json)) => serde_json::from_slice::<RunReport>(&json)
                .map(|report| KernelRun {
                    id: id.to_string(),
                    version: kernel.version.clone(),
                    accel: boot.accel,
                    wall: boot.wall,
                    report,
                })
                .map_err(|e| format!("the guest's report on {id} is not valid JSON: {e}")),
            (outcome, _) => Err(format!(
                "{id}: {outcome:?} after {:.1}s; console excerpt:\n{}",
                boot.wall.as_secs_f64(),
                boot.excerpt()
            )),
        },
    };
    let _ = std::fs::remove_dir_all(&rwdir);
    let _ = rwdir.parent().map(std::fs::remove_dir);
    outcome
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
    let runnable: Vec<(&str, &Kernel)> = targets
        .iter()
        .filter_map(|t| match &t.kernel {
            Ok(k) => Some((t.id.as_str(), k)),
            Err(why) => {
                done(&t.id, Err(why.clone()));
                None
            }
        })
        .collect();
    let Some((_, first)) = runnable.first() else { return };
    let accel = vm::choose_accel(opts.accel, first, events);
    vm::run_parallel(runnable.len(), opts.jobs, |i| {
        let (id, kernel) = runnable[i];
        done(id, run_one(id, kernel, accel, opts, events));
    });
}

#[cfg(test)]
mod tests {
    use super::selected;

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
