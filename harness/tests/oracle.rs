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
