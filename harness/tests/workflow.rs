//! `.github/workflows/matrix.yml` is checked by actionlint (installed in the repository's
//! venv by `scripts/run`; this test fails — does not skip — without it), and kept in step
//! with `kernels/matrix.yaml` and `scripts/run`.
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const WORKFLOW: &str = ".github/workflows/matrix.yml";

fn actionlint() -> PathBuf {
    let venv = repo().join(".venv/bin/actionlint");
    if venv.is_file() {
        return venv;
    }
    let on_path = Command::new("actionlint").arg("--version").output();
    assert!(
        on_path.is_ok_and(|o| o.status.success()),
        "actionlint is neither in {} nor on PATH: run `scripts/run setup`",
        venv.display()
    );
    PathBuf::from("actionlint")
}

#[test]
fn actionlint_finds_nothing_in_the_matrix_workflow() {
    let out = Command::new(actionlint())
        .args(["-no-color", WORKFLOW])
        .current_dir(repo())
        .output()
        .expect("running actionlint");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "actionlint:\n{report}"
    );
}

#[test]
fn actionlint_is_not_a_no_op() {
    // The same linter must reject a broken workflow, or the test above proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n",
    )
    .unwrap();
    let out = Command::new(actionlint()).arg("-no-color").arg(&bad).output().unwrap();
    assert!(
        !out.status.success(),
        "actionlint accepted an undefined matrix property"
    );
}

#[test]
fn one_job_per_matrix_kernel_and_the_steps_are_scripts_run() {
    let text = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    let wf: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let matrix = mapconform::kernels::Matrix::load(&repo().join("kernels/matrix.yaml")).unwrap();
    let ids: Vec<serde_json::Value> = matrix.kernels.iter().map(|k| k.id.clone().into()).collect();
    assert_eq!(
        wf["jobs"]["kernel"]["strategy"]["matrix"]["kernel"],
        serde_json::Value::Array(ids),
        "the workflow's kernels are kernels/matrix.yaml's, in order"
    );
    let runs = |job: &str| -> String {
        wf["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(runs("kernel").contains("scripts/run kernel \"$KERNEL\""));
    assert!(runs("report").contains("scripts/run report results"));
    assert!(runs("report").contains("$GITHUB_STEP_SUMMARY"));
    let cache = wf["jobs"]["kernel"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["with"]["path"] == "~/.cache/mapconform")
        .expect("a cache of the kernel cache");
    assert!(cache["with"]["key"]
        .as_str()
        .unwrap()
        .contains("hashFiles('kernels/matrix.yaml')"));
    // The subcommands the workflow calls exist in scripts/run.
    let script = std::fs::read_to_string(repo().join("scripts/run")).unwrap();
    assert!(script.contains("kernel) cmd_kernel") && script.contains("report) cmd_report"));
}
