//! The guest side of the runner contract: what `mapconform guest` sets up in a fresh VM
//! before it runs the cases (see README "Runner contract").
//!
//! A minimal-root guest (see [`crate::vm::root`]) has no init system: nothing mounts bpffs
//! and nothing brings the loopback interface up, which the `traffic` steps send on.

use anyhow::{Context, Result};
use std::path::Path;

use crate::case::{load_bundle, BundledCase, Library};

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

/// The cases the host bundled into one file (see [`crate::case::bundle`]).
pub fn read_bundle(file: &Path) -> Result<Library> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let cases: Vec<BundledCase> =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a case bundle", file.display()))?;
    Ok(load_bundle(&cases))
}

/// Mounts bpffs (pins and program binding need it) and brings `lo` up.
pub fn prepare() -> Result<()> {
    crate::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
    crate::prog::netns::bring_up("lo").context("bringing up lo")?;
    Ok(())
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

/// Appends marks to the progress file, each synced to the host before the case goes on
/// (a crashing kernel loses what sits in its page cache).
pub struct Marks(std::fs::File);

impl Marks {
    pub fn create(path: &Path) -> Result<Marks> {
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Marks(file))
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
        let written = serde_json::to_string(&mark)
            .map_err(std::io::Error::other)
            .and_then(|line| {
                use std::io::Write;
                self.0.write_all(format!("{line}\n").as_bytes())?;
                self.0.sync_data()
            });
        if let Err(e) = written {
            eprintln!("mapconform guest: writing a progress mark: {e}");
        }
    }
}

/// The marks in `path` (a torn last line, from a crash mid-write, is dropped).
pub fn read_marks(path: &Path) -> Vec<Mark> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
