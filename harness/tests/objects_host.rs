//! The cgroups and temporary files a case's `objects:` make are gone when the case ends,
//! whatever happened in it (here an `expect:` that does not hold). Its own test binary,
//! so no other case of this process makes objects meanwhile. Needs root.
use mapconform::case::parse_case;
use mapconform::exec;
use mapconform::outcome::Outcome;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The tests look for cgroups of this process: one case at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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

/// Loaded programs named like the cgroup_skb program (the kernel keeps 15 bytes of a name).
fn cgroup_programs() -> usize {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.name_as_str() == Some("mc_cgroup_count"))
        .count()
}

#[test]
fn cgroup_programs_links_and_children_of_a_case_are_gone_whatever_happened() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = cgroup_programs();
    let text = "about: programs attached to a cgroup, traffic from it, then a failing expectation\nsource: test\n\
                objects:\n  cg: cgroup\nmaps:\n  \
                m: {type: cgroup_storage, key_size: 16, value_size: 8, max_entries: 0}\n  \
                p: {type: percpu_cgroup_storage, key_size: 8, value_size: 8, max_entries: 0}\nsteps:\n  \
                - attach_to_cgroup: {map: m, cgroup: cg, attach_type: cgroup_inet_egress}\n    expect: ok\n  \
                - attach_to_cgroup: {map: p, cgroup: cg, attach_type: cgroup_inet_ingress}\n    expect: ok\n  \
                - send_from_cgroup: {cgroup: cg, packets: 2}\n  \
                - lookup: {map: m, key: {cgroup: cg, attach_type: cgroup_inet_egress}}\n    expect: {value: 2}\n  \
                - lookup: {map: m, key: {cgroup: cg, attach_type: cgroup_inet_egress}}\n    expect: {value: 3}\n";
    let case = parse_case(Path::new("cgroup-programs.yaml"), "cgroup-programs", text).unwrap();
    let run = exec::run_all(&[case]).unwrap();
    let result = &run.cases[0];
    let sent = &result.steps[5].result;
    assert!(
        matches!(sent, Outcome::CgroupPackets(p) if p.sent == 2 && p.received == 2),
        "{result:?}"
    );
    assert_eq!(result.steps[6].violation, None, "{result:?}");
    assert!(!result.passed(), "the last expect does not hold");
    assert_eq!(
        cgroup_programs(),
        before,
        "cgroup_skb programs left loaded (and attached)"
    );
    // SAFETY: a plain call; no child of this process may be left, not even a zombie.
    let rc = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(
        (rc, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::ECHILD))
    );
    let prefix = format!("mapconform-{}-", std::process::id());
    for mount in cgroup2_mounts() {
        assert_eq!(
            named(&mount, &prefix),
            Vec::<String>::new(),
            "cgroups left under {}",
            mount.display()
        );
    }
}
