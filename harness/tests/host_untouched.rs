//! A run of the whole case library on the host leaves the host as it found it: no
//! interface added, removed or changed (flags, XDP programs attached), and no program of
//! the harness still loaded. Cases with objects run in a private network namespace each,
//! and every program is closed with its case; this test checks both from the outside,
//! with the host's own `ip` and `bpftool`.
//!
//! Needs root, like `host.rs`. Its own test binary, so no other test runs cases meanwhile.
use mapconform::case::load_library;
use mapconform::exec;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `ip -details -json link show` of the host's namespace, with the counters that move on
/// their own (none are printed without `-s`) left as they are: any difference is a change.
fn host_links() -> String {
    let out = Command::new("ip")
        .args(["-details", "-json", "link", "show"])
        .output()
        .expect("`ip` (iproute2) runs");
    assert!(out.status.success(), "ip link show: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("ip prints UTF-8")
}

/// The loaded programs whose names are the harness's (`mc_…`, see `ebpf/`).
fn harness_programs() -> Vec<String> {
    let out = Command::new("bpftool")
        .args(["--json", "prog", "show"])
        .output()
        .expect("`bpftool` runs");
    assert!(out.status.success(), "bpftool prog show: {}", String::from_utf8_lossy(&out.stderr));
    let progs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("bpftool prints JSON");
    progs
        .iter()
        .filter_map(|p| Some(format!("{} {}", p["id"], p["name"].as_str()?)))
        .filter(|p| p.split(' ').nth(1).is_some_and(|n| n.starts_with("mc_")))
        .collect()
}

#[test]
fn a_host_run_leaves_no_program_loaded_and_no_interface_changed() {
    let before_links = host_links();
    let before_progs = harness_programs();
    assert!(
        before_progs.is_empty(),
        "harness programs are loaded before the run (another run going on?): {before_progs:?}"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let lib = load_library(&root).unwrap();
    let report = exec::run_all(&lib.cases).unwrap();
    assert!(report.cases.len() > 200, "only {} cases ran", report.cases.len());

    // A program is freed after its last fd closes, once an RCU grace period has passed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = harness_programs();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = harness_programs();
    }
    assert!(left.is_empty(), "programs still loaded 10 s after the run: {left:?}");
    assert_eq!(host_links(), before_links, "the host's interfaces changed during the run");
}
