//! A kernel's results as a file: what `run --format json` prints (one line per kernel) and
//! `run --results-dir DIR` writes as `DIR/<kernel>.json`, so that results from separate
//! machines can be merged into one report (`mapconform report --merge DIR…`).
use crate::matrix::KernelRun;
use crate::outcome::{CaseResult, RunReport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a mapconform results file: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("kernel {kernel} has results in both {first} and {second}")]
    Duplicate {
        kernel: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// One kernel's run: which kernel exactly, how it ran, and every case's result. A kernel
/// that did not run has `error` set and no cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelResults {
    /// The matrix id (`6.12`), a path given to `--kernel`, or `host`.
    pub kernel: String,
    /// `uname -r` inside the guest (empty when the kernel did not run).
    pub release: String,
    pub debian_version: Option<String>,
    /// `kvm`, `tcg`, or `none` on the host.
    pub accel: String,
    pub possible_cpus: usize,
    #[serde(default)]
    pub cases: Vec<CaseResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the first boot failed, when it failed before any case ran and the kernel was
    /// booted once more (an infrastructure failure, not a result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
}

impl KernelResults {
    pub fn from_run(run: &KernelRun) -> KernelResults {
        let header = run.header();
        KernelResults {
            kernel: header.kernel,
            release: header.release,
            debian_version: header.debian_version,
            accel: header.accel,
            possible_cpus: run.report.possible_cpus,
            cases: run.report.cases.clone(),
            error: None,
            retried: run.retried.clone(),
        }
    }

    /// `run --host`: this machine's kernel, no VM.
    pub fn host(report: &RunReport) -> KernelResults {
        KernelResults {
            kernel: "host".into(),
            release: report.kernel_release.clone(),
            debian_version: None,
            accel: "none".into(),
            possible_cpus: report.possible_cpus,
            cases: report.cases.clone(),
            error: None,
            retried: None,
        }
    }

    pub fn did_not_run(kernel: &str, why: &str) -> KernelResults {
        KernelResults {
            kernel: kernel.into(),
            release: String::new(),
            debian_version: None,
            accel: String::new(),
            possible_cpus: 0,
            cases: Vec::new(),
            error: Some(why.into()),
            retried: None,
        }
    }

    /// The file name in a results directory: a kernel given as a path keeps only safe
    /// characters.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .kernel
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}.json", safe.trim_start_matches('.'))
    }

    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf, ResultsError> {
        let io = |source| ResultsError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(self.file_name());
        let json = serde_json::to_vec(self).map_err(|source| ResultsError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json).map_err(|source| ResultsError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

/// Every results file under `paths` (a file, or a folder searched recursively for `*.json`:
/// downloaded CI artifacts nest one folder per job). One kernel may appear only once.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<KernelResults>, ResultsError> {
    let mut files = Vec::new();
    for path in paths {
        collect_json(path, &mut files)?;
    }
    let mut out: Vec<(KernelResults, PathBuf)> = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| ResultsError::Io {
            path: file.clone(),
            source,
        })?;
        let results: KernelResults = serde_json::from_slice(&bytes).map_err(|source| ResultsError::Json {
            path: file.clone(),
            source,
        })?;
        if let Some((_, first)) = out.iter().find(|(r, _)| r.kernel == results.kernel) {
            return Err(ResultsError::Duplicate {
                kernel: results.kernel,
                first: first.clone(),
                second: file,
            });
        }
        out.push((results, file));
    }
    Ok(out.into_iter().map(|(r, _)| r).collect())
}

fn collect_json(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), ResultsError> {
    let io = |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        // A missing path is an error here (a typo must not yield an empty report).
        std::fs::metadata(path).map_err(io)?;
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_json(&entry, files)?;
        } else if entry.extension().is_some_and(|e| e == "json") {
            files.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, StepResult};

    fn sample(kernel: &str) -> KernelResults {
        KernelResults {
            kernel: kernel.into(),
            release: "6.12.0-1-amd64".into(),
            debian_version: Some("6.12.1-1".into()),
            accel: "tcg".into(),
            possible_cpus: 2,
            cases: vec![CaseResult {
                case: "hash/x".into(),
                steps: vec![StepResult {
                    step: "create m".into(),
                    result: Outcome::Ok,
                    expect: None,
                    violation: None,
                }],
                harness_error: None,
            }],
            error: None,
            retried: None,
        }
    }

    #[test]
    fn results_round_trip_through_a_folder_tree() {
        let dir = tempfile::tempdir().unwrap();
        let a = sample("6.12");
        let b = KernelResults::did_not_run("/boot/vmlinuz-x", "no such file");
        a.write_to_dir(&dir.path().join("job-a")).unwrap();
        let b_path = b.write_to_dir(&dir.path().join("job-b")).unwrap();
        assert_eq!(b_path.file_name().unwrap(), "_boot_vmlinuz-x.json");
        let back = read_all(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(back, vec![a, b]);
    }

    #[test]
    fn a_kernel_twice_is_an_error_and_a_missing_path_too() {
        let dir = tempfile::tempdir().unwrap();
        sample("6.1").write_to_dir(&dir.path().join("x")).unwrap();
        sample("6.1").write_to_dir(&dir.path().join("y")).unwrap();
        let err = read_all(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(
            matches!(err, ResultsError::Duplicate { ref kernel, .. } if kernel == "6.1"),
            "{err}"
        );
        assert!(read_all(&[dir.path().join("nope")]).is_err());
    }
}
