//! `run --compare-to` without booting: a run report against a snapshots folder gives only
//! the differing steps and the exit status `git bisect run` reads.
use mapconform::compare::{compare, exit_status, DIFFERS, SAME, SKIP};
use mapconform::outcome::RunReport;
use std::path::Path;

/// A report as a guest writes it: `hash/freeze` as 6.12 ran it, and one more case.
fn report(delete_result: &str, dump_value: u32) -> RunReport {
    let json = format!(
        r#"{{"kernel_release": "7.3.4+deb13-amd64", "possible_cpus": 2, "cases": [
        {{"case": "hash/freeze", "steps": [
            {{"step": "create m", "result": "ok"}},
            {{"step": "update m key=1 value=100", "result": "ok"}},
            {{"step": "freeze m", "result": "ok"}},
            {{"step": "delete m key=1", "result": "{delete_result}"}},
            {{"step": "dump m", "result": {{"entries": [{{"key": 1, "value": {dump_value}}}]}}}},
            {{"step": "lookup m key=1", "result": {{"value": 100}}}}]}},
        {{"case": "array/zeroed", "steps": [
            {{"step": "lookup m key=0", "result": {{"value": 0}}}}]}}]}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// Snapshots of kernel `6.12` in insta's format (header, then the compared body) for
/// every case of `run`.
fn snapshots_of(dir: &Path, run: &RunReport) {
    for case in &run.cases {
        let path = mapconform::snapshot::path(dir, "6.12", &case.case);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let header = "---\nsource: harness/tests/matrix.rs\ninfo:\n  kernel: \"6.12\"\n  accel: tcg\n---\n";
        std::fs::write(path, format!("{header}{}", case.snapshot_body())).unwrap();
    }
}

#[test]
fn same_results_exit_0_with_only_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let run = report("EPERM", 100);
    snapshots_of(dir.path(), &run);
    let c = compare("7.3", &run, dir.path(), "6.12");
    assert_eq!(
        c.render(),
        "7.3 (7.3.4+deb13-amd64) against snapshots/6.12: 2 cases, 2 same, 0 differ\n"
    );
    assert_eq!(exit_status(&[c], 0), SAME);
}

#[test]
fn a_changed_step_exits_1_naming_case_step_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    snapshots_of(dir.path(), &report("EPERM", 100));
    let c = compare("7.3", &report("ok", 200), dir.path(), "6.12");
    assert_eq!(
        c.render(),
        "hash/freeze: 2 steps differ from 6.12\n\
         \x20 delete m key=1\n\
         \x20   6.12:        EPERM\n\
         \x20   this kernel: ok\n\
         \x20 dump m\n\
         \x20   6.12:        {entries: [{key: 1, value: 100}]}\n\
         \x20   this kernel: {entries: [{key: 1, value: 200}]}\n\
         7.3 (7.3.4+deb13-amd64) against snapshots/6.12: 2 cases, 1 same, 1 differs\n"
    );
    assert_eq!(exit_status(&[c], 0), DIFFERS);
}

#[test]
fn a_kernel_that_did_not_run_is_skipped_by_bisect_and_a_missing_snapshot_differs() {
    let dir = tempfile::tempdir().unwrap();
    let run = report("EPERM", 100);
    snapshots_of(dir.path(), &run);
    let c = compare("7.3", &run, dir.path(), "6.12");
    assert_eq!(exit_status(&[c], 1), SKIP);
    let empty = tempfile::tempdir().unwrap();
    let c = compare("7.3", &run, empty.path(), "6.12");
    assert!(c
        .render()
        .starts_with("hash/freeze: no snapshot on 6.12 to compare with\n"));
    assert_eq!(exit_status(&[c], 0), DIFFERS);
}
