//! The generated differential sweep (`cases/oracle/`) is what the generator makes today,
//! and every one of its cases is in the library.
use mapconform::case::load_library;
use mapconform::oracle::sweep;
use std::path::Path;

#[test]
fn the_committed_sweep_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/oracle");
    let stale = sweep::stale(&dir);
    assert!(
        stale.is_empty(),
        "cases/oracle/ is stale ({}): run `mapconform sweep`",
        stale.join(", ")
    );
}

#[test]
fn every_swept_type_is_a_differential_case_of_the_library() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let lib = load_library(&root).unwrap();
    for t in sweep::TYPES {
        let id = format!("oracle/{}", t.name);
        let case = lib
            .cases
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id} is not in the library"));
        assert!(case.differential, "{id}");
    }
}

/// The twin: a differential case on this kernel (root needed, like `host.rs`). The
/// program door sees the state the case's earlier steps built — through both doors —
/// and steps without a counterpart stay plain results.
#[test]
fn the_program_door_runs_on_a_twin_built_by_the_same_steps() {
    use mapconform::exec::{self, Env};
    use mapconform::outcome::{Outcome, Ret, Shown};
    use mapconform::uapi::Errno;
    let text = "about: twin\nsource: test\ndifferential: true\nmaps:\n\
                \x20 m: {type: hash, key_size: 4, value_size: 8, max_entries: 4}\n\
                \x20 other: {type: hash, key_size: 4, value_size: 8, max_entries: 4}\n\
                steps:\n\
                \x20 - update: {map: m, key: 1, value: 5}\n\
                \x20 - update: {map: other, key: 9, value: 9}\n\
                \x20 - prog: {op: update, map: m, key: 2, value: 6}\n\
                \x20 - update: {map: m, key: 1, value: 7, flags: noexist}\n\
                \x20 - update: {map: m, key: 2, value: 8, flags: exist}\n\
                \x20 - lookup: {map: m, key: 2}\n\
                \x20 - lookup: {map: m, key: 3}\n\
                \x20 - dump: {map: m}\n";
    let case = mapconform::case::parse_case(Path::new("t.yaml"), "t", text).unwrap();
    let env = Env::detect().expect("possible CPUs");
    let result = exec::run_case(&case, env);
    assert!(result.harness_error.is_none(), "{result:?}");
    let by_step = |label: &str| {
        result
            .steps
            .iter()
            .find(|s| s.step == label)
            .unwrap_or_else(|| panic!("no step {label}: {result:?}"))
            .result
            .clone()
    };
    let doors = |agree: bool, syscall: Outcome, ret: i64, value: Option<u64>| Outcome::Doors {
        agree,
        syscall: Box::new(syscall),
        helper: Box::new(Outcome::Prog {
            ret: Ret(ret),
            value: value.map(Shown::Int),
            sum: None,
        }),
    };
    // Key 1 exists on the twin too (replayed seed): NOEXIST is EEXIST through both doors.
    let eexist = -(Errno::EEXIST.0 as i64);
    let zext = Ret(eexist as i32 as u32 as i64);
    match by_step("update m key=1 value=7 flags=noexist") {
        Outcome::Doors {
            agree: true,
            syscall,
            helper,
        } => {
            assert_eq!(*syscall, Outcome::Errno(Errno::EEXIST));
            // -EEXIST, or zero-extended on kernels before 6.4.
            assert!(
                matches!(*helper, Outcome::Prog { ret, .. } if ret == Ret(eexist) || ret == zext),
                "{helper:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Key 2 was written by the case's own program step: the twin replays it, so EXIST works.
    assert_eq!(
        by_step("update m key=2 value=8 flags=exist"),
        doors(true, Outcome::Ok, 0, None)
    );
    // The lookup on the twin sees the twin's own replay of the syscall update (8).
    assert_eq!(
        by_step("lookup m key=2"),
        doors(true, Outcome::Value(Shown::Int(8)), 1, Some(8))
    );
    assert_eq!(
        by_step("lookup m key=3"),
        doors(true, Outcome::Errno(Errno::ENOENT), 0, None)
    );
    // No counterpart: a plain result. The program step itself is the case's own.
    assert!(matches!(by_step("dump m"), Outcome::Entries(_)));
    assert!(matches!(
        by_step("prog[a] update key=2 value=6 on m"),
        Outcome::Prog { .. }
    ));
}
