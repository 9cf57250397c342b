//! Runs the whole case library on the kernel the tests run on and asserts every `expect:`.
//!
//! Needs root (or CAP_BPF). Where bpf(2) is not allowed this test FAILS with the reason:
//! a conformance suite that silently skips its only kernel check would prove nothing.
use mapconform::bpf::sys;
use mapconform::case::{load_library, parse_case};
use mapconform::outcome::Outcome;
use mapconform::uapi::{Errno, MapType};
use mapconform::{exec, report};
use std::os::fd::AsFd;
use std::path::Path;

fn require_bpf() {
    let probe = sys::CreateAttr {
        map_type: MapType::ARRAY.0,
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

/// Case files that used to crash the harness (issue "no case can crash the harness"): each
/// gives a recorded result, and the case after it still runs. Before the bounded bpf(2)
/// layer, `1-pinned-value-overrun` made the kernel write a 64 KiB value into a 4-byte
/// buffer and the process aborted (`free(): invalid pointer`); `2-huge-batch` aborted
/// allocating 16 GiB for a batch of 4294967295 keys.
#[test]
fn hazard_fixtures_give_recorded_results_and_the_next_case_runs() {
    require_bpf();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hazards");
    let lib = load_library(&dir).unwrap();
    assert!(lib.broken.is_empty(), "broken hazard fixtures: {:?}", lib.broken);
    let run = exec::run_all(&lib.cases).unwrap();
    let case = |id: &str| {
        run.cases
            .iter()
            .find(|c| c.case == id)
            .unwrap_or_else(|| panic!("{id} did not run"))
    };

    let overrun = case("1-pinned-value-overrun");
    let got = &overrun.steps[3];
    assert_eq!(got.step, "get_pinned small from big");
    match &got.result {
        Outcome::Mismatch(why) => assert!(
            why.contains("value_size 65536") && why.contains("small is declared array key_size 4 value_size 4"),
            "{why}"
        ),
        other => panic!("get_pinned of a map unlike its declaration gave {other}"),
    }
    for later in &overrun.steps[4..] {
        assert!(
            matches!(&later.result, Outcome::NotRun(why) if why.contains("map small has no fd")),
            "{}: {}",
            later.step,
            later.result
        );
    }
    // A batch the harness cannot allocate is a harness error of that step, not an abort.
    let huge = case("2-huge-batch");
    assert!(
        matches!(&huge.steps[2].result, Outcome::NotRun(why) if why.contains("more than the 64 MiB")),
        "{}",
        report::case_text(huge)
    );
    assert!(huge.harness_error.is_some());
    assert_eq!(huge.steps[3].violation, None, "the case goes on after it");

    let next = case("9-next-case-runs");
    assert!(next.passed(), "{}", report::case_text(next));
}

/// Absolute pins (to test pinning outside the case's folder) are removed with the case,
/// whatever happened in it — here an `expect:` that does not hold — while a pin the case
/// did not make (its own `pin` failed with EEXIST) is left alone.
#[test]
fn absolute_pins_are_removed_with_their_case_whatever_happened() {
    require_bpf();
    let bpffs = mapconform::prog::ensure_bpffs().unwrap();
    let ours = bpffs.join(format!("mapconform-test-abs-pin-{}", std::process::id()));
    let foreign = bpffs.join(format!("mapconform-test-foreign-pin-{}", std::process::id()));
    let probe = sys::CreateAttr {
        map_type: MapType::ARRAY.0,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    let other = sys::map_create(&probe).unwrap();
    sys::obj_pin(other.as_fd(), &foreign).unwrap();

    let text = format!(
        "about: pins at absolute paths, then fails\nsource: test\nmaps:\n  \
         m: {{type: array, key_size: 4, value_size: 4, max_entries: 1}}\nsteps:\n  \
         - pin: {{map: m, path: {ours}}}\n    expect: ok\n  \
         - get_pinned: {{map: m, path: {ours}}}\n    expect: ok\n  \
         - pin: {{map: m, path: {foreign}}}\n    expect: EEXIST\n  \
         - lookup: {{map: m, key: 7}}\n    expect: ok\n",
        ours = ours.display(),
        foreign = foreign.display()
    );
    let case = parse_case(Path::new("abs-pin.yaml"), "abs-pin", &text).unwrap();
    let run = exec::run_all(&[case]).unwrap();
    let result = &run.cases[0];
    assert_eq!(result.steps[1].result, Outcome::Ok, "{}", report::case_text(result));
    assert_eq!(result.steps[3].result, Outcome::Errno(Errno::EEXIST));
    assert!(!result.passed(), "the last expect does not hold");
    assert!(!ours.exists(), "{} outlived its case", ours.display());
    assert!(foreign.exists(), "a pin the case did not make was removed");
    std::fs::remove_file(&foreign).unwrap();
}
