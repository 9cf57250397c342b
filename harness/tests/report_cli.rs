//! `mapconform report --merge` end to end, through the binary: per-kernel results from
//! "separate machines" (made here from the committed snapshots, as a kernel that behaves
//! exactly as reviewed would give them) merge into one report; a result that differs
//! from its snapshot fails the report and its JUnit testcase.
use mapconform::outcome::{CaseResult, StepResult};
use mapconform::report::results::KernelResults;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What kernel `id` would report if it did exactly what its snapshots say.
fn results_from_snapshots(id: &str) -> KernelResults {
    let root = repo().join("snapshots").join(id);
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "snap") {
                files.push(p);
            }
        }
    }
    files.sort();
    let cases = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let body = mapconform::snapshot::body(&text).unwrap();
            let steps: Vec<StepResult> = serde_saphyr::from_str(body).unwrap();
            let case = f
                .strip_prefix(&root)
                .unwrap()
                .with_extension("")
                .to_string_lossy()
                .into_owned();
            CaseResult {
                case,
                steps,
                harness_error: None,
            }
        })
        .collect();
    KernelResults {
        kernel: id.into(),
        release: format!("{id}.0-test-amd64"),
        debian_version: None,
        accel: "kvm".into(),
        possible_cpus: 2,
        cases,
        error: None,
        retried: None,
    }
}

fn report(args: &[&Path], out: &Path) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mapconform"));
    cmd.args(["report", "--require-all", "--out"]).arg(out);
    cmd.arg("--explanations")
        .arg(repo().join("harness/tests/fixtures/explanations.yaml"));
    cmd.arg("--merge");
    cmd.args(args);
    let o = cmd.output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn merged_results_make_one_report_and_a_difference_fails_it() {
    let tmp = tempfile::tempdir().unwrap();
    let matrix = mapconform::kernels::Matrix::load(&repo().join("kernels/matrix.yaml")).unwrap();
    // Each kernel's results in its own folder, as CI artifacts are downloaded.
    let machines: Vec<PathBuf> = matrix
        .kernels
        .iter()
        .map(|k| {
            let dir = tmp.path().join(format!("results-{}", k.id));
            let r = results_from_snapshots(&k.id);
            assert!(r.cases.len() > 100, "{} has {} snapshots", k.id, r.cases.len());
            r.write_to_dir(&dir).unwrap();
            dir
        })
        .collect();
    let dirs: Vec<&Path> = machines.iter().map(PathBuf::as_path).collect();

    let out = tmp.path().join("ok");
    let (ok, stderr) = report(&dirs, &out);
    assert!(ok, "results equal to their snapshots must pass: {stderr}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"failures="0""#), "{}", &junit[..300]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("6.12.0-test-amd64"),
        "the results' releases, not the snapshots'"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.len() < 1024 * 1024 && md.contains("### `hash/freeze`: 6.1 → 6.12"));
    // The explanations (a fixture in the schema of snapshots/explanations.yaml).
    let freeze = md.split("### `hash/freeze`").nth(1).unwrap();
    let freeze = freeze.split("### ").next().unwrap();
    assert!(
        freeze.contains("> **freeze-twice** (change): a second BPF_MAP_FREEZE fails with EPERM"),
        "{freeze}"
    );
    assert!(freeze.contains("| `freeze m` | `EBUSY` | `EPERM` |"), "{freeze}");
    assert!(md.contains("### `prog/keyed-hash`: 6.1 → 6.12\n\n> **zero-extended-helper-errors**"));
    assert!(html.contains("<b>freeze-twice</b> (change): a second BPF_MAP_FREEZE"));

    // 6.12 now does what 6.1 did for hash/freeze: a difference from its snapshot.
    let mut changed = results_from_snapshots("6.12");
    let old = results_from_snapshots("6.1");
    let freeze = |r: &KernelResults| r.cases.iter().position(|c| c.case == "hash/freeze").unwrap();
    let i = freeze(&changed);
    changed.cases[i] = old.cases[freeze(&old)].clone();
    changed.write_to_dir(&machines[2]).unwrap();
    let out = tmp.path().join("differs");
    let (ok, _) = report(&dirs, &out);
    assert!(!ok, "a result that differs from its snapshot fails the report");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testcase name="6.12::hash/freeze" classname="6.12.hash">"#));
    assert!(
        junit.contains("<failure message=\"differs from snapshots/6.12:\""),
        "{junit}"
    );
    assert_eq!(junit.matches("<failure ").count(), 1);

    // A kernel whose job uploaded nothing: --require-all fails.
    let out = tmp.path().join("missing");
    let (ok, stderr) = report(&dirs[..4], &out);
    assert!(!ok && stderr.contains("7.3: no results given"), "{stderr}");
}
