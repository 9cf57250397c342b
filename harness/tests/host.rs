//! Runs the whole case library on the kernel the tests run on and asserts every `expect:`.
//!
//! Needs root (or CAP_BPF). Where bpf(2) is not allowed this test FAILS with the reason:
//! a conformance suite that silently skips its only kernel check would prove nothing.
use mapconform::bpf::sys;
use mapconform::case::load_library;
use mapconform::{exec, report};
use std::path::Path;

fn require_bpf() {
    let probe = sys::CreateAttr {
        map_type: 2,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    if let Err(e) = sys::map_create(&probe) {
        panic!(
            "bpf(2) is not usable here ({e}): run the tests as root or with CAP_BPF; \
             this test asserts every case's expectations on the running kernel and cannot pass without it"
        );
    }
}

#[test]
fn every_expectation_holds_on_this_kernel_and_runs_are_deterministic() {
    require_bpf();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let lib = load_library(&root).unwrap();
    assert!(lib.broken.is_empty(), "broken case files: {:?}", lib.broken);
    let first = exec::run_all(&lib.cases).unwrap();
    let failures: Vec<String> = first
        .cases
        .iter()
        .filter(|c| !c.passed())
        .map(report::case_text)
        .collect();
    assert!(
        failures.is_empty(),
        "on kernel {}:\n{}",
        first.kernel_release,
        failures.join("")
    );

    // The same cases on the same kernel give byte-identical results.
    let second = exec::run_all(&lib.cases).unwrap();
    for (a, b) in first.cases.iter().zip(&second.cases) {
        assert_eq!(
            a.snapshot_body(),
            b.snapshot_body(),
            "{} differs between two runs",
            a.case
        );
    }
    eprintln!("{} cases passed on {}", first.cases.len(), first.kernel_release);
}
