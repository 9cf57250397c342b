//! The pure model is layered bottom up — `uapi` ← `outcome` ← `case` — with no cycle:
//! each module's sources may only name the modules below it. Among the effects, `vm`
//! (booting a kernel image) sits below `kernels` (the matrix, the cache, fetching), which
//! makes the `Kernel`s it boots.

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
            include_str!("case/btf.rs"),
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

#[test]
fn vm_does_not_import_the_kernel_cache_or_the_matrix() {
    only(
        "vm",
        &[
            include_str!("vm/mod.rs"),
            include_str!("vm/accel.rs"),
            include_str!("vm/console.rs"),
            include_str!("vm/events.rs"),
            include_str!("vm/kernel.rs"),
            include_str!("vm/modules.rs"),
            include_str!("vm/outcome_text.rs"),
            include_str!("vm/pool.rs"),
            include_str!("vm/process.rs"),
            include_str!("vm/root.rs"),
        ],
        // `guest`: the guest runner's progress-line format, which the console watcher reads;
        // `shared_log`: the QEMU options of the memory a boot shares with its guest
        &["vm", "repo_root", "guest", "shared_log"],
    );
    // the shared log is a leaf: its layout and its two ends, nothing else of the crate
    only("shared_log", &[include_str!("shared_log.rs")], &[]);
}
