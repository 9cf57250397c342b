//! What a kernel did: the result model shared by the executor (guest or host), the
//! snapshots and the reporters. Pure and serializable; nothing in it varies between two
//! runs on the same kernel (no fds, ids, pointers or times).
use crate::case::data::to_hex;
use serde::{Deserialize, Serialize};

/// Bytes read back from a kernel, rendered the way a case writes them: 1/2/4/8-byte data as
/// a little-endian integer, other sizes as hex, per-CPU values as one entry per CPU, and
/// map-in-map values as the name of the case's map whose id they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Shown {
    Int(u64),
    Hex { hex: String },
    PerCpu { percpu: Vec<Shown> },
    Map { map: String },
}

impl Shown {
    pub fn from_bytes(bytes: &[u8]) -> Shown {
        match bytes.len() {
            1 | 2 | 4 | 8 => {
                let mut le = [0u8; 8];
                le[..bytes.len()].copy_from_slice(bytes);
                Shown::Int(u64::from_le_bytes(le))
            }
            _ => Shown::Hex { hex: to_hex(bytes) },
        }
    }

    /// A per-CPU value as bpf(2) returns it: `ncpus` slots of `value_size` rounded up to 8.
    pub fn from_percpu(bytes: &[u8], value_size: usize, ncpus: usize) -> Shown {
        let slot = value_size.div_ceil(8) * 8;
        let percpu = (0..ncpus)
            .map(|cpu| Shown::from_bytes(&bytes[cpu * slot..cpu * slot + value_size]))
            .collect();
        Shown::PerCpu { percpu }
    }

    /// Sort key for dumps: integers numerically, everything else by its text.
    fn sort_key(&self) -> (u64, String) {
        match self {
            Shown::Int(v) => (*v, String::new()),
            other => (u64::MAX, serde_json::to_string(other).unwrap_or_default()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: Shown,
    pub value: Shown,
}

/// Sort dump entries by key, so hash-map iteration order (seeded per map) never shows.
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by_key(|e| e.key.sort_key());
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OutcomeRepr", into = "OutcomeRepr")]
pub enum Outcome {
    /// The call succeeded and returns nothing.
    Ok,
    /// The call failed with this errno (by name: `EEXIST`, `ENOTSUPP`, `errno999` if unknown).
    Errno(String),
    Value(Shown),
    Key(Shown),
    Entries(Vec<Entry>),
    /// The step could not be attempted (say, its map was never created); the reason says why.
    NotRun(String),
}

/// How an outcome is written: `ok`, `EEXIST`, `{value: 1}`, `{key: 1}`, `{entries: [..]}`,
/// `{not_run: "…"}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum OutcomeRepr {
    Word(String),
    Value { value: Shown },
    Key { key: Shown },
    Entries { entries: Vec<Entry> },
    NotRun { not_run: String },
}

impl From<Outcome> for OutcomeRepr {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => OutcomeRepr::Word("ok".into()),
            Outcome::Errno(e) => OutcomeRepr::Word(e),
            Outcome::Value(value) => OutcomeRepr::Value { value },
            Outcome::Key(key) => OutcomeRepr::Key { key },
            Outcome::Entries(entries) => OutcomeRepr::Entries { entries },
            Outcome::NotRun(not_run) => OutcomeRepr::NotRun { not_run },
        }
    }
}

impl TryFrom<OutcomeRepr> for Outcome {
    type Error = String;
    fn try_from(r: OutcomeRepr) -> Result<Self, String> {
        Ok(match r {
            OutcomeRepr::Word(w) if w == "ok" => Outcome::Ok,
            OutcomeRepr::Word(w) => Outcome::Errno(w),
            OutcomeRepr::Value { value } => Outcome::Value(value),
            OutcomeRepr::Key { key } => Outcome::Key(key),
            OutcomeRepr::Entries { entries } => Outcome::Entries(entries),
            OutcomeRepr::NotRun { not_run } => Outcome::NotRun(not_run),
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Errno(e) => f.write_str(e),
            other => {
                let text = serde_json::to_string(other).map_err(|_| std::fmt::Error)?;
                f.write_str(&text)
            }
        }
    }
}

/// One step as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// What was done, e.g. `update m key=1 value=100 flags=noexist`.
    pub step: String,
    pub result: Outcome,
    /// The case's `expect:` for this step and, if it did not hold, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
}

/// One case as observed on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: String,
    pub steps: Vec<StepResult>,
    /// Set when the harness itself could not run the case (never a kernel behaviour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_error: Option<String>,
}

impl CaseResult {
    pub fn violations(&self) -> impl Iterator<Item = (usize, &StepResult)> {
        self.steps.iter().enumerate().filter(|(_, s)| s.violation.is_some())
    }

    pub fn passed(&self) -> bool {
        self.harness_error.is_none() && self.violations().next().is_none()
    }

    /// The compared body of a snapshot: each step and its result, nothing else.
    pub fn snapshot_body(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            step: &'a str,
            result: &'a Outcome,
        }
        let lines: Vec<Line> = self.steps.iter().map(|s| Line { step: &s.step, result: &s.result }).collect();
        serde_saphyr::to_string(&lines).unwrap_or_else(|e| format!("cannot render: {e}"))
    }
}

/// Everything one executor run reports: the contract between guest and host (see
/// README "Runner contract"), written as JSON into the results directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// `uname -r` of the kernel the cases ran on.
    pub kernel_release: String,
    pub possible_cpus: usize,
    pub cases: Vec<CaseResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_renders_like_case_input() {
        assert_eq!(Shown::from_bytes(&[1, 0, 0, 0]), Shown::Int(1));
        assert_eq!(Shown::from_bytes(&[1, 2, 3]), Shown::Hex { hex: "010203".into() });
        let percpu = Shown::from_percpu(&[1, 0, 0, 0, 9, 9, 9, 9, 2, 0, 0, 0, 9, 9, 9, 9], 4, 2);
        assert_eq!(percpu, Shown::PerCpu { percpu: vec![Shown::Int(1), Shown::Int(2)] });
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcomes = vec![
            Outcome::Ok,
            Outcome::Errno("EEXIST".into()),
            Outcome::Value(Shown::Int(5)),
            Outcome::Key(Shown::Hex { hex: "0a".into() }),
            Outcome::Entries(vec![Entry { key: Shown::Int(1), value: Shown::Map { map: "inner".into() } }]),
            Outcome::NotRun("map m was not created".into()),
        ];
        let json = serde_json::to_string(&outcomes).unwrap();
        assert_eq!(
            json,
            r#"["ok","EEXIST",{"value":5},{"key":{"hex":"0a"}},{"entries":[{"key":1,"value":{"map":"inner"}}]},{"not_run":"map m was not created"}]"#
        );
        let back: Vec<Outcome> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outcomes);
    }

    #[test]
    fn dumps_sort_numerically() {
        let mut e: Vec<Entry> =
            [256u64, 2, 1].iter().map(|k| Entry { key: Shown::Int(*k), value: Shown::Int(0) }).collect();
        sort_entries(&mut e);
        let keys: Vec<_> = e.iter().map(|e| e.key.clone()).collect();
        assert_eq!(keys, vec![Shown::Int(1), Shown::Int(2), Shown::Int(256)]);
    }
}
