//! The cgroups and temporary files a case's `objects:` make are gone when the case ends,
//! whatever happened in it (here an `expect:` that does not hold). Its own test binary,
//! so no other case of this process makes objects meanwhile. Needs root.
use mapconform::case::parse_case;
use mapconform::exec;
use mapconform::outcome::Outcome;
use std::path::{Path, PathBuf};

/// Every cgroup v2 mount point of this process's view.
fn cgroup2_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .filter(|l| l.split(" - ").nth(1).is_some_and(|r| r.starts_with("cgroup2 ")))
        .filter_map(|l| l.split_whitespace().nth(4).map(PathBuf::from))
        .collect()
}

/// Entries of `dir` whose names start with `prefix`.
fn named(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cgroups_and_files_of_a_case_are_removed_whatever_happened() {
    let before = named(&std::env::temp_dir(), "mapconform-file-");
    let text = "about: objects, then a failing expectation\nsource: test\nobjects:\n  cg: cgroup\n  f: file\n  \
                me: pidfd\nmaps:\n  ca: {type: cgroup_array, key_size: 4, value_size: 4, max_entries: 1}\nsteps:\n  \
                - update: {map: ca, key: 0, value: {fd: cg}}\n    expect: ok\n  \
                - update: {map: ca, key: 0, value: {fd: f}}\n    expect: ok\n";
    let case = parse_case(Path::new("objects.yaml"), "objects", text).unwrap();
    let run = exec::run_all(&[case]).unwrap();
    let result = &run.cases[0];
    let made: Vec<&Outcome> = result.steps[..3].iter().map(|s| &s.result).collect();
    assert_eq!(made, [&Outcome::Ok, &Outcome::Ok, &Outcome::Ok], "{result:?}");
    assert!(!result.passed(), "the file fd is no cgroup: the last expect does not hold");
    let prefix = format!("mapconform-{}-", std::process::id());
    let mounts = cgroup2_mounts();
    assert!(!mounts.is_empty(), "the case mounted cgroup v2 if nothing had");
    for mount in mounts {
        assert_eq!(named(&mount, &prefix), Vec::<String>::new(), "cgroups left under {}", mount.display());
    }
    assert_eq!(named(&std::env::temp_dir(), "mapconform-file-"), before, "temporary folders left");
}
