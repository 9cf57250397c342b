//! Kernel crashes in a real guest (6.12 from the kernel cache, TCG or KVM as detected): the
//! guest runner is replaced by a shell script that writes the runner's progress marks and
//! then panics the kernel with sysrq-c at a chosen point.
//!
//! - before the runner's first mark: an infrastructure failure, booted once more; a second
//!   failure fails the kernel with both console excerpts;
//! - after a case started: a result — the finished case stands, the running one carries
//!   the crash (with the oops' lines after the first), the rest are "not run".
//!
//! Needs root, QEMU, vng and a fetched 6.12 (`scripts/run setup`); fails, never skips,
//! without them.
use mapconform::kernels::Cache;
use mapconform::matrix::{self, Options};
use std::path::Path;
use std::sync::Mutex;

/// One VM at a time, so that "no QEMU left" speaks of this test's own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const KERNEL: &str = "6.12";

fn options(script: &str) -> (tempfile::TempDir, Options) {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("fake-guest");
    // Called as `fake-guest guest --bundle FILE --out OUT`: marks go beside OUT.
    std::fs::write(
        &exe,
        format!("#!/bin/sh\nset -e\nOUT=\"$5\"\nMARKS=\"$(dirname \"$OUT\")/progress.jsonl\"\n{script}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let mut opts = Options::new(exe, cases).expect("preparing the guest root");
    opts.deadline = Some(std::time::Duration::from_secs(240));
    (dir, opts)
}

fn kernel() -> mapconform::kernels::Kernel {
    let cache = Cache::from_env().unwrap();
    cache
        .get(KERNEL)
        .unwrap()
        .unwrap_or_else(|| panic!("kernel {KERNEL} is not in the cache: run scripts/run setup"))
        .kernel()
}

const STARTED: &str = r#"echo '{"mark":"runner_started","kernel_release":"crash-test","possible_cpus":2}' > "$MARKS""#;
// No `sync` first: the guest runner writes its marks without one, relying on the rwdir's
// 9p mount having no cache (each write() is on the host when it returns; `guest::Marks`).
const CRASH: &str = "echo c > /proc/sysrq-trigger; sleep 60";

fn selection() -> Vec<String> {
    vec!["hash/freeze".into(), "hash/delete".into(), "hash/dump".into()]
}

fn run(opts: &Options) -> Result<matrix::KernelRun, String> {
    let accel = mapconform::vm::detect_accel(&kernel()).0;
    matrix::run_one(KERNEL, &kernel(), Some(&selection()), accel, opts, None)
}

#[test]
fn crash_during_a_case_is_that_case_s_result() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let finished = r#"{"mark":"case_finished","result":{"case":"hash/freeze","steps":[]}}"#;
    let (_dir, opts) = options(&format!(
        "{STARTED}\necho '{{\"mark\":\"case_started\",\"case\":\"hash/freeze\"}}' >> \"$MARKS\"\n\
         echo '{finished}' >> \"$MARKS\"\n\
         echo '{{\"mark\":\"case_started\",\"case\":\"hash/delete\"}}' >> \"$MARKS\"\n{CRASH}"
    ));
    let run = run(&opts).expect("a crash after the runner started is a result");
    assert!(run.retried.is_none(), "not retried: {:?}", run.retried);
    let by = |id: &str| run.report.cases.iter().find(|c| c.case == id).unwrap();
    assert!(by("hash/freeze").passed());
    let crash = by("hash/delete").harness_error.clone().unwrap();
    assert!(crash.contains("crashed while this case ran"), "{crash}");
    assert!(crash.contains("sysrq triggered crash"), "the panic line: {crash}");
    // more than the first line: the oops report that follows it (registers, call trace)
    assert!(
        crash.contains("Call Trace:") || crash.contains("RIP:"),
        "the report after the panic: {crash}"
    );
    assert_eq!(
        by("hash/dump").harness_error.as_deref(),
        Some("not run: the kernel crashed during hash/delete")
    );
    assert_no_qemu();
}

#[test]
fn crash_before_the_runner_is_retried_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // First boot: crash at once. Second boot (a flag in the rwdir says so): a clean report.
    let (_dir, opts) = options(&format!(
        "FLAG=\"$(dirname \"$OUT\")/first-boot-done\"\n\
         if [ ! -e \"$FLAG\" ]; then touch \"$FLAG\"; {CRASH}; fi\n\
         {STARTED}\n\
         echo '{{\"kernel_release\":\"crash-test\",\"possible_cpus\":2,\"cases\":[]}}' > \"$OUT\""
    ));
    let run = run(&opts).expect("the second boot succeeds");
    let why = run.retried.expect("the first boot is reported as retried");
    assert!(why.contains("sysrq triggered crash"), "{why}");
    assert_no_qemu();

    // Crashing every time: the kernel fails, with both excerpts.
    let (_dir, opts) = options(CRASH);
    let err = run_err(&opts);
    assert!(err.contains("failed twice before any case ran"), "{err}");
    assert!(err.matches("sysrq triggered crash").count() >= 2, "{err}");
    assert_no_qemu();
}

/// The real runner, crashed by its own hidden `--panic-after` once the second case has
/// started: its marks reach the host through the shared memory (`shared_log`) alone — the
/// progress file is made a link to /dev/null first, so marks written there would be lost
/// and the boot taken for one that never ran.
#[test]
fn the_real_runner_s_marks_survive_a_crash_in_shared_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, opts) = options(
        "ln -sf /dev/null \"$MARKS\"\n\
         exec \"$(dirname \"$0\")/mapconform\" \"$@\" --panic-after 1",
    );
    std::fs::copy(env!("CARGO_BIN_EXE_mapconform"), dir.path().join("mapconform")).unwrap();
    let run = run(&opts).expect("a crash after the runner started is a result");
    assert!(run.retried.is_none(), "the runner_started mark arrived: {:?}", run.retried);
    let by = |id: &str| run.report.cases.iter().find(|c| c.case == id).unwrap();
    // the bundle's order: hash/delete, hash/dump, hash/freeze
    let delete = by("hash/delete");
    assert!(delete.passed() && !delete.steps.is_empty(), "{delete:?}");
    let crash = by("hash/dump").harness_error.clone().unwrap();
    assert!(crash.contains("crashed while this case ran:"), "{crash}");
    assert!(crash.contains("sysrq triggered crash"), "{crash}");
    assert_eq!(
        by("hash/freeze").harness_error.as_deref(),
        Some("not run: the kernel crashed during hash/dump")
    );
    assert_no_qemu();
}

fn run_err(opts: &Options) -> String {
    match run(opts) {
        Ok(run) => panic!("expected a failure, got {:?}", run.report),
        Err(e) => e,
    }
}

fn assert_no_qemu() {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("qemu-system.*mapconform-{}", std::process::id())])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&out.stdout);
    assert!(left.trim().is_empty(), "QEMU left behind: {left}");
}
