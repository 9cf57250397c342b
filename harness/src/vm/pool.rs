//! How many VMs run at once, and the work queue that runs them.

use super::events::Events;
use super::{boot, BootReport, BootRequest, DEFAULT_MEMORY_MB};
use anyhow::Result;

/// Guest-count default for parallel boots: host CPUs / guest vCPUs (so the guests' vCPUs do
/// not outnumber the host's cores), and no more guests than the available memory holds
/// (guest RAM plus ~512 MiB for QEMU and vng each). At least 1.
///
/// Measured on 2 cores (TCG, quiet machine, `scripts/bench`): the five-kernel matrix took
/// 51.2 s one guest at a time and 52.4 s two at once — no gain. (Two at once looked much
/// faster while other builds were running: two guests simply took a larger share of a
/// loaded machine.)
pub fn default_jobs() -> usize {
    let host = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let by_cpu = host / super::DEFAULT_CPUS as usize;
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
