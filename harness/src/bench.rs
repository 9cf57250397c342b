//! `mapconform bench-ops`: what the executor costs per step against bare bpf(2) calls, and
//! what a program step costs to load against running it, on the kernel this runs on.
//! `scripts/bench` runs it inside each guest; it is a measurement, never a test.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::bpf::sys;
use crate::case::parse_case;
use crate::{exec, prog};

/// One measurement of the executor against bare calls, per operation.
#[derive(Debug, Serialize)]
pub struct OpsBench {
    pub kernel_release: String,
    /// Update + lookup pairs in each loop.
    pub iterations: usize,
    /// Timed rounds of each loop; the figures are the fastest round of each.
    pub rounds: usize,
    /// Bare `MapHandle::update` + `lookup` (the syscall and its buffer-size checks) on one
    /// hash map, per call.
    pub bare_us_per_call: f64,
    /// The same calls as case steps through the executor (result rendering included), per step.
    pub executor_us_per_step: f64,
    /// `executor_us_per_step / bare_us_per_call`.
    pub ratio: f64,
    /// Loading the keyed helper program bound to a map (ELF parse, BTF, verifier): the cost
    /// of the first `prog` step of each (map, family) in a case.
    pub prog_load_ms: f64,
    /// One `prog` step once loaded: a BPF_PROG_TEST_RUN with the request packet.
    pub prog_run_us: f64,
}

fn per(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

/// Runs the measurements with `iterations` update + lookup pairs, `rounds` times each.
pub fn ops(iterations: usize, rounds: usize) -> anyhow::Result<OpsBench> {
    // As the executor does: before 5.11 map memory counts against RLIMIT_MEMLOCK.
    exec::lift_memlock_limit();
    let rounds = rounds.max(1);
    let case = bench_case(iterations)?;
    let empty = bench_case(0)?;
    // One untimed round first: under TCG the first pass through any code is translated
    // (milliseconds), which is not what a step costs. Then `rounds` alternating rounds, and
    // the fastest of each side: a host hiccup only ever adds time, and alternating keeps a
    // slow spell of the machine from landing on one side only.
    let mut bare = f64::INFINITY;
    let mut executor = f64::INFINITY;
    for round in 0..=rounds {
        let b = bare_round(iterations)?;
        let e = executor_round(&case, &empty, iterations)?;
        if round > 0 {
            bare = bare.min(b);
            executor = executor.min(e);
        }
    }

    // Programs: the keyed family's load (object, verifier) apart from its test runs.
    let fd = sys::map_create(&sys::CreateAttr {
        map_type: aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_HASH as u32,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        ..Default::default()
    })?;
    let map = prog::MapRef {
        fd: std::os::fd::AsFd::as_fd(&fd),
        map_type: aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_HASH as u32,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
    };
    // aya probes the kernel's features once per process: not a load's cost
    prog::Programs::new().prepare(&map, prog::Family::Keyed)?;
    let mut programs = prog::Programs::new();
    let t0 = Instant::now();
    programs.prepare(&map, prog::Family::Keyed)?;
    let load = t0.elapsed();
    let runs = 200;
    let t0 = Instant::now();
    for i in 0..runs as u32 {
        let op = prog::ProgOp::Update {
            key: (i % 16).to_le_bytes().to_vec(),
            value: u64::from(i).to_le_bytes().to_vec(),
            flags: 0,
        };
        programs.run(&map, &op)?;
    }
    let run = t0.elapsed();
    Ok(OpsBench {
        kernel_release: exec::kernel_release(),
        iterations,
        rounds,
        bare_us_per_call: bare,
        executor_us_per_step: executor,
        ratio: executor / bare,
        prog_load_ms: load.as_secs_f64() * 1e3,
        prog_run_us: per(run, runs),
    })
}

/// A case of `iterations` update + lookup pairs on one hash map (with none, the case's
/// fixed cost: its map's creation).
fn bench_case(iterations: usize) -> anyhow::Result<crate::case::Case> {
    let max_entries = iterations.max(1);
    let mut yaml = format!(
        "about: bench\nsource: bench\nmaps:\n  m: {{type: hash, key_size: 4, value_size: 8, max_entries: {max_entries}}}\nsteps:\n  - create: {{map: m}}\n"
    );
    for i in 0..iterations {
        yaml.push_str(&format!(
            "  - update: {{map: m, key: {i}, value: {i}}}\n  - lookup: {{map: m, key: {i}}}\n"
        ));
    }
    parse_case(std::path::Path::new("bench.yaml"), "bench", &yaml).map_err(|e| anyhow::anyhow!("bench case: {}", e[0]))
}

/// Bare: one fresh map, the bounded layer's calls (the syscall plus two length
/// comparisons) in a tight loop; microseconds per call.
fn bare_round(iterations: usize) -> anyhow::Result<f64> {
    let fd = sys::map_create(&sys::CreateAttr {
        map_type: aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_HASH as u32,
        key_size: 4,
        value_size: 8,
        max_entries: iterations as u32,
        ..Default::default()
    })?;
    let map = sys::MapHandle::open(fd)?;
    let any = crate::uapi::ElemFlags::default();
    let mut value = [0u8; 8];
    let t0 = Instant::now();
    for i in 0..iterations as u32 {
        map.update(Some(&i.to_le_bytes()), &u64::from(i).to_le_bytes(), any)?;
        map.lookup(Some(&i.to_le_bytes()), &mut value, any)?;
    }
    Ok(per(t0.elapsed(), 2 * iterations))
}

/// The same pairs as the steps of one case through the executor (result rendering
/// included); a one-step case's run (map creation, the case's fixed cost) is taken off.
/// Microseconds per step.
fn executor_round(case: &crate::case::Case, empty: &crate::case::Case, iterations: usize) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    exec::run_all(std::slice::from_ref(empty))?;
    let fixed = t0.elapsed();
    let t0 = Instant::now();
    let run = exec::run_all(std::slice::from_ref(case))?;
    let total = t0.elapsed();
    anyhow::ensure!(run.cases[0].passed(), "the bench case failed");
    Ok(per(total.saturating_sub(fixed), 2 * iterations))
}
