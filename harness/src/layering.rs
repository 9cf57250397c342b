//! The pure model is layered bottom up — `uapi` ← `outcome` ← `case` — with no cycle:
//! each module's sources may only name the modules below it.

/// The `crate::` modules a source text names (`crate::case::data` → `case`).
fn crate_imports(source: &str) -> Vec<&str> {
    source
        .match_indices("crate::")
        .map(|(i, m)| {
            let rest = &source[i + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn only(module: &str, sources: &[&str], allowed: &[&str]) {
    for source in sources {
        for import in crate_imports(source) {
            assert!(
                allowed.contains(&import),
                "`{module}` imports `crate::{import}`; it may only import {allowed:?}"
            );
        }
    }
}

#[test]
fn uapi_outcome_and_case_import_only_what_is_below_them() {
    only("uapi", &[include_str!("uapi.rs")], &[]);
    only("outcome", &[include_str!("outcome.rs")], &["uapi"]);
    only(
        "case",
        &[
            include_str!("case/mod.rs"),
            include_str!("case/data.rs"),
            include_str!("case/model.rs"),
            include_str!("case/names.rs"),
            include_str!("case/parse.rs"),
            include_str!("case/steps.rs"),
            include_str!("case/render.rs"),
        ],
        &["uapi", "outcome", "case"],
    );
    // The oracle's normalisation is pure: the model below it, nothing that runs.
    only(
        "oracle",
        &[include_str!("oracle/mod.rs"), include_str!("oracle/sweep.rs")],
        &["uapi", "outcome", "case"],
    );
}
