//! The guest side of the runner contract: what `mapconform guest` sets up in a fresh VM
//! before it runs the cases (see README "Runner contract").
//!
//! A minimal-root guest (see [`crate::vm::root`]) has no init system: nothing mounts bpffs
//! and nothing brings the loopback interface up, which the `traffic` steps send on.

use anyhow::{Context, Result};
use std::path::Path;

use crate::case::{load_bundle, BundledCase, Case};

/// What the guest prints on its console before each case and once at the end, so that the
/// host can show how far a kernel is (see [`parse_progress`]). Results never travel this
/// way: only the report file counts (README "Runner contract").
const PROGRESS: &str = "mapconform-guest: case ";

pub fn progress_line(done: usize, total: usize, case: &str) -> String {
    format!("{PROGRESS}{done}/{total} {case}").trim_end().to_string()
}

/// `(done, total, next case)` from a console line the guest printed with [`progress_line`].
/// The console interleaves kernel messages, so the marker may come anywhere in the line.
pub fn parse_progress(line: &str) -> Option<(usize, usize, String)> {
    let rest = &line[line.find(PROGRESS)? + PROGRESS.len()..];
    let (count, case) = rest.trim_end().split_once(' ').unwrap_or((rest.trim_end(), ""));
    let (done, total) = count.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?, case.to_string()))
}

/// The cases the host bundled into one file (see [`crate::case::bundle`]) that `keep`
/// selects by id: how many, and the cases themselves as they are parsed. Parsing is pure
/// work that took ~1 s of a TCG guest's time for 192 cases before the first one ran, so a
/// thread of its own parses them in order and hands each over at once: the executor,
/// pinned to CPU 0, runs the first cases while the rest are parsed on the other vCPU.
/// (The host has checked the files; one that does not parse is left out, as before.)
pub fn read_bundle(file: &Path, keep: impl Fn(&str) -> bool) -> Result<(usize, impl Iterator<Item = Case>)> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut cases: Vec<BundledCase> =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a case bundle", file.display()))?;
    cases.retain(|c| keep(&c.id));
    let total = cases.len();
    let (parsed, received) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("parse cases".into())
        .spawn(move || {
            for case in cases {
                for case in load_bundle(std::slice::from_ref(&case)).cases {
                    if parsed.send(case).is_err() {
                        return;
                    }
                }
            }
        })
        .context("starting the thread that parses the cases")?;
    Ok((total, received.into_iter()))
}

/// Mounts bpffs (pins and program binding need it) and brings `lo` up.
pub fn prepare() -> Result<()> {
    crate::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
    crate::prog::netns::bring_up("lo").context("bringing up lo")?;
    Ok(())
}

/// Where a guest's time goes (`mapconform guest --timings FILE`, `$MAPCONFORM_TIMINGS` on
/// the host): the guest's uptime when the runner started, then one JSON line per phase and
/// per case with the microseconds since the previous line. Kept in memory and written at
/// the end, so measuring adds no I/O per case.
pub struct Timings {
    file: Option<std::path::PathBuf>,
    last: std::time::Instant,
    lines: Vec<serde_json::Value>,
    /// `/proc/stat`'s busy and total jiffies of all CPUs when the runner started.
    cpu_at_start: Option<(u64, u64, usize)>,
}

/// All CPUs' busy and total jiffies so far (`/proc/stat`'s first line), and how many CPUs.
fn cpu_jiffies() -> Option<(u64, u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpus = stat.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count();
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total - idle, total, cpus))
}

impl Timings {
    pub fn new(file: Option<std::path::PathBuf>) -> Timings {
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok());
        Timings {
            file,
            last: std::time::Instant::now(),
            lines: vec![serde_json::json!({ "phase": "started", "uptime_s": uptime })],
            cpu_at_start: cpu_jiffies(),
        }
    }

    fn lap(&mut self) -> u128 {
        let now = std::time::Instant::now();
        let us = now.duration_since(self.last).as_micros();
        self.last = now;
        us
    }

    pub fn phase(&mut self, phase: &str) {
        if self.file.is_some() {
            let us = self.lap();
            self.lines.push(serde_json::json!({ "phase": phase, "us": us }));
        }
    }

    /// A fact about the run (`{"phase": phase, key: value}`), not timed.
    pub fn fact(&mut self, phase: &str, key: &str, value: serde_json::Value) {
        if self.file.is_some() {
            self.lines.push(serde_json::json!({ "phase": phase, key: value }));
        }
    }

    pub fn case(&mut self, case: &str) {
        if self.file.is_some() {
            let us = self.lap();
            self.lines.push(serde_json::json!({ "case": case, "us": us }));
        }
    }

    /// Writes the lines; a failure is reported and does not fail the run.
    pub fn finish(mut self) {
        let Some(file) = self.file.clone() else { return };
        // How busy the vCPUs were meanwhile (of how many): the room left for other work.
        if let (Some((busy0, total0, _)), Some((busy1, total1, cpus))) = (self.cpu_at_start, cpu_jiffies()) {
            let busy = (busy1 - busy0) as f64 / ((total1 - total0).max(1) as f64) * cpus as f64;
            self.fact("cpu", "busy_cpus", ((busy * 100.0).round() / 100.0).into());
        }
        let text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        if let Err(e) = std::fs::write(&file, text) {
            eprintln!("mapconform guest: writing {}: {e}", file.display());
        }
    }
}

/// The progress marks file the guest writes beside its report, one JSON [`Mark`] a line.
pub const PROGRESS_FILE: &str = "progress.jsonl";

/// What the guest has done so far. The host reads these only when the report is missing:
/// no `RunnerStarted` means the guest never got to run (an infrastructure failure, retried);
/// otherwise the finished cases stand and the case started last is the one the kernel
/// crashed in.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mark", rename_all = "snake_case")]
pub enum Mark {
    RunnerStarted {
        kernel_release: String,
        possible_cpus: usize,
    },
    CaseStarted {
        case: String,
    },
    CaseFinished {
        result: crate::outcome::CaseResult,
    },
}

/// Appends marks where the host finds them after a crash, each before the case goes on
/// (a crashing kernel loses what sits in its page cache):
/// - in the memory the host shares with the guest ([`crate::shared_log`]) where the boot
///   has it: a store, on the host at once. A mark written to the rwdir is a round trip to
///   QEMU's 9p server instead, ~1.8 ms under TCG, two a case: ~1 s of a 273-case run;
/// - else in the progress file. On the rwdir of a guest, a 9p mount without a cache mode,
///   every write() already reaches the host: such files are opened `P9L_DIRECT`, "no read
///   or write cache" (fs/9p/fid.h `v9fs_fid_add_modes()`), so the marks need no fdatasync
///   there — two per case, each a flush of the host's disk, were the largest fixed cost of
///   a syscall-only case. Anywhere else each mark is synced.
///
/// A shared log that is full hands over to the file (the host reads both, in that order).
pub struct Marks {
    shared: Option<crate::shared_log::GuestLog>,
    file: std::fs::File,
    sync: bool,
}

impl Marks {
    pub fn create(path: &Path) -> Result<Marks> {
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let sync = !writes_through(&mounts, &std::fs::canonicalize(path).unwrap_or(path.to_path_buf()));
        Ok(Marks {
            shared: crate::shared_log::GuestLog::open(),
            file,
            sync,
        })
    }

    /// Whether the marks go to memory the host shares.
    pub fn shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Writes the mark of `progress`. A failure to write is reported on stderr and does not
    /// stop the run: the marks only matter if the kernel crashes.
    pub fn record(&mut self, progress: crate::exec::Progress) {
        use crate::exec::Progress;
        let mark = match progress {
            Progress::Started {
                kernel_release,
                possible_cpus,
            } => Mark::RunnerStarted {
                kernel_release: kernel_release.to_string(),
                possible_cpus,
            },
            Progress::CaseStarted(case) => Mark::CaseStarted { case: case.id.clone() },
            Progress::CaseFinished(result) => Mark::CaseFinished { result: result.clone() },
        };
        let line = match serde_json::to_string(&mark) {
            Ok(line) => line + "\n",
            Err(e) => return eprintln!("mapconform guest: a progress mark: {e}"),
        };
        if let Some(shared) = &mut self.shared {
            if shared.append(line.as_bytes()) {
                return;
            }
            self.shared = None;
        }
        let written = {
            use std::io::Write;
            self.file.write_all(line.as_bytes()).and_then(|()| match self.sync {
                true => self.file.sync_data(),
                false => Ok(()),
            })
        };
        if let Err(e) = written {
            eprintln!("mapconform guest: writing a progress mark: {e}");
        }
    }
}

/// Whether a write() to `path` is on the host when it returns, by the mount table
/// `mounts` (/proc/self/mounts): the mount holding `path` is 9p with no cache mode (no
/// `cache=` option nor a named mode; see [`Marks`]).
fn writes_through(mounts: &str, path: &Path) -> bool {
    let mount = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, fstype, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            path.starts_with(dir).then_some((dir.len(), fstype, options))
        })
        .max_by_key(|(len, _, _)| *len);
    match mount {
        Some((_, "9p", options)) => !options
            .split(',')
            .any(|o| o.starts_with("cache=") || ["loose", "fscache", "mmap", "readahead"].contains(&o)),
        _ => false,
    }
}

/// The marks a guest left in the rwdir `dir`: the shared log's, then the progress file's
/// (a torn last line, from a crash mid-write, is dropped).
pub fn read_marks(dir: &Path) -> Vec<Mark> {
    let shared = crate::shared_log::read(&dir.join(crate::shared_log::FILE));
    let file = std::fs::read_to_string(dir.join(PROGRESS_FILE)).unwrap_or_default();
    shared
        .lines()
        .chain(file.lines())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_synced_unless_the_mount_writes_through() {
        // as a 6.12 guest shows its mounts (5.10 adds sync,dirsync)
        let guest = "/dev/root / 9p ro,relatime,access=any,msize=512000,trans=virtio 0 0\n\
            run /run tmpfs rw,relatime,inode64 0 0\n\
            virtme.initmount0 /mapconform/out 9p rw,relatime,access=any,msize=512000,trans=virtio 0 0\n";
        assert!(writes_through(guest, Path::new("/mapconform/out/progress.jsonl")));
        assert!(!writes_through(guest, Path::new("/run/progress.jsonl")));
        for cache in ["cache=0x5", "cache=loose", "loose", "mmap"] {
            let mounts = format!("out /mapconform/out 9p rw,access=any,{cache},trans=virtio 0 0\n");
            assert!(!writes_through(&mounts, Path::new("/mapconform/out/p")), "{cache}");
        }
        assert!(!writes_through("/dev/vda / ext4 rw,relatime 0 0\n", Path::new("/tmp/p")));
        assert!(!writes_through("", Path::new("/tmp/p")));
    }

    #[test]
    fn progress_lines_survive_the_console() {
        let line = progress_line(3, 131, "hash/freeze");
        assert_eq!(parse_progress(&line), Some((3, 131, "hash/freeze".into())));
        // a kernel message glued in front, a CR from the serial console behind
        let noisy = format!("[    4.2] virtio_net: x{line}\r\n");
        assert_eq!(parse_progress(&noisy), Some((3, 131, "hash/freeze".into())));
        assert_eq!(
            parse_progress(&progress_line(131, 131, "")),
            Some((131, 131, String::new()))
        );
        assert_eq!(parse_progress("mapconform-guest: case x/y"), None);
        assert_eq!(parse_progress("Linux version 6.12"), None);
    }
}
