//! How many VMs run at once, and the work queue that runs them.

use super::events::Events;
use super::{boot, BootReport, BootRequest, DEFAULT_MEMORY_MB};
use anyhow::Result;

/// Guest-count default for parallel boots: one guest per host CPU, and no more guests than
/// the available memory holds (guest RAM plus ~512 MiB for QEMU and vng each). At least 1.
///
/// A guest has 2 vCPUs, but on the minimal root its work is mostly one vCPU's (the executor
/// pins itself to CPU 0; no udev or systemd runs beside it): the five-kernel matrix took
/// 51–73 s with two guests at once vs 90–119 s one at a time on 2 cores (TCG, measured
/// side by side). With vng's host root, where the boot kept both vCPUs busy, two guests had
/// given barely 10% more throughput — the old default was CPUs / 2.
pub fn default_jobs() -> usize {
    let by_cpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let by_memory = available_memory_mb().map_or(usize::MAX, |mb| (mb / (DEFAULT_MEMORY_MB as u64 + 512)) as usize);
    by_cpu.min(by_memory).max(1)
}

/// MemAvailable from /proc/meminfo, in MiB.
fn available_memory_mb() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Boots several requests, at most `jobs` at a time; reports in request order.
pub fn boot_many(reqs: &[BootRequest], jobs: usize, events: Events) -> Vec<Result<BootReport>> {
    let results: Vec<std::sync::Mutex<Option<Result<BootReport>>>> =
        reqs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    run_parallel(reqs.len(), jobs, |i| {
        *results[i].lock().unwrap() = Some(boot(&reqs[i], events))
    });
    results.into_iter().map(|m| m.into_inner().unwrap().unwrap()).collect()
}

/// Runs `work(i)` for every `i < count` on at most `jobs` threads; each thread takes the next
/// index when it finishes one, so a slow boot does not hold back the others.
pub fn run_parallel(count: usize, jobs: usize, work: impl Fn(usize) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= count {
                    break;
                }
                work(i);
            });
        }
    });
}
