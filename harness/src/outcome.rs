//! What a kernel did: the result model shared by the executor (guest or host), the
//! snapshots and the reporters. Pure and serializable; nothing in it varies between two
//! runs on the same kernel (no fds, ids, pointers or times).
use crate::uapi::{Errno, ERRNOS};
use serde::{Deserialize, Serialize};

/// Bytes as lowercase hex digits, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes read back from a kernel, rendered the way a case writes them: 1/2/4/8-byte data as
/// a little-endian integer, other sizes as hex, per-CPU values as one entry per CPU, and
/// map-in-map values as the name of the case's map whose id they hold, and stack traces
/// by their number of frames (the addresses change with every boot: KASLR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Shown {
    Int(u64),
    Hex { hex: String },
    PerCpu { percpu: Vec<Shown> },
    Map { map: String },
    /// A stack_trace map's value: how many of its frames are filled (non-zero).
    Stack { frames: u64 },
    /// A cgroup_storage key of one of the case's cgroups: its name for the cgroup id
    /// (which changes every run) and, in a 16-byte key, the attach type.
    Cgroup {
        cgroup: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attach_type: Option<String>,
    },
    /// A socket map's lookup value: the socket cookie of the case's object of this name.
    Cookie {
        cookie: String,
    },
    /// A prog_array, devmap or cpumap value's program id, as the case's program object
    /// it designates (`none` for no program).
    Program { program: String },
    /// A devmap value's interface index, as the case's veth (or `lo`) it designates.
    Interface { ifindex: String },
    /// A struct read back field by field: `[{ifindex: v}, {program: p}]`.
    Fields(Vec<Shown>),
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

    /// A stack_trace value: `entry`-byte frames (8: an ip; 32: a `struct bpf_stack_build_id`
    /// with BPF_F_STACK_BUILD_ID), counted while non-zero — the kernel zeroes the rest.
    pub fn from_stack(bytes: &[u8], entry: usize) -> Shown {
        let frames = bytes
            .chunks(entry.max(1))
            .take_while(|frame| frame.iter().any(|b| *b != 0))
            .count();
        Shown::Stack { frames: frames as u64 }
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

/// A BPF helper's return code: non-negative as a number, a negative errno by name
/// (`-EEXIST`), so files never carry bare error numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ret(pub i64);

impl Ret {
    /// The errno of a negative error that reached the program zero-extended from 32 bits
    /// (`0x00000000ffffffef` for -EEXIST). Kernels before 6.4/6.5 return map-op helper results
    /// this way: the verifier calls `map->ops->map_update_elem()` (an `int` function)
    /// directly, so the upper half of r0 is not sign-extended (fixed upstream by "bpf:
    /// return long from bpf_map_ops funcs", 2023, first released in 6.4 or 6.5).
    pub fn zero_extended_errno(self) -> Option<i64> {
        let low = self.0 as u64;
        (low >> 32 == 0 && low >= (1 << 32) - 4095).then(|| (1i64 << 32) - self.0)
    }

    /// Does this observed return equal `expected`, also where the kernel zero-extended it?
    pub fn matches(self, expected: i64) -> bool {
        self.0 == expected || (expected < 0 && self.zero_extended_errno() == Some(-expected))
    }
}

impl std::fmt::Display for Ret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(errno) = self.zero_extended_errno() {
            write!(f, "-{} as u32", Errno(errno as i32))
        } else if self.0 >= 0 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "-{}", Errno((-self.0) as i32))
        }
    }
}

impl std::str::FromStr for Ret {
    type Err = String;
    fn from_str(s: &str) -> Result<Ret, String> {
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Ret(n));
        }
        if let Some(negative) = s.strip_suffix(" as u32") {
            let Ret(n) = negative.parse()?;
            return Ok(Ret((n as i32) as u32 as i64));
        }
        let name = s
            .strip_prefix('-')
            .ok_or_else(|| format!("`{s}`: expected a number or -ERRNO such as -EEXIST"))?;
        if let Some(n) = name.strip_prefix("errno").and_then(|n| n.parse::<i64>().ok()) {
            return Ok(Ret(-n));
        }
        let errno = ERRNOS.lookup(name)?;
        Ok(Ret(-(errno as i64)))
    }
}

impl Serialize for Ret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 >= 0 && self.zero_extended_errno().is_none() {
            s.serialize_i64(self.0)
        } else {
            s.serialize_str(&self.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for Ret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ret, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Ret;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a helper return code: a number or -ERRNO such as -EEXIST")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ret, E> {
                Ok(Ret(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ret, E> {
                i64::try_from(v).map(Ret).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ret, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Packets the xdp_stats program counted per XDP action during a `traffic` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpCounts {
    pub aborted: u64,
    pub drop: u64,
    pub pass: u64,
    pub tx: u64,
    pub redirect: u64,
}

/// What a `send_from_cgroup` child did: UDP packets it sent to its own socket over
/// loopback, and how many arrived there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPackets {
    pub sent: u32,
    pub received: u32,
}

/// Where the frames of a `redirect` step went: sent on the veth's peer, redirected by the
/// XDP program on the veth back out to the peer (`at_peer`), or passed to the veth's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameCounts {
    pub sent: u64,
    pub at_peer: u64,
    pub passed: u64,
}

/// A program the kernel refused to load: the errno and one line of the verifier log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadFailure {
    pub errno: String,
    pub reason: String,
}

/// What BPF_OBJ_GET_INFO_BY_FD reports about a map (an `info` step): only what is the same
/// on every run — never the id, and of the BTF ids only which are non-zero. `map_extra` is
/// absent where the kernel's `struct bpf_map_info` has no such field (before 5.16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapReport {
    #[serde(rename = "type")]
    pub map_type: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` names of the set bits (unnamed bits as `0x…`).
    pub map_flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_extra: Option<u64>,
    pub name: String,
    /// The BTF id fields that are non-zero (`btf_id`, `btf_key_type_id`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub btf_nonzero: Vec<String>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OutcomeRepr", into = "OutcomeRepr")]
pub enum Outcome {
    /// The call succeeded and returns nothing.
    Ok,
    /// The call failed with this errno (written by name: `EEXIST`, `ENOTSUPP`, `errno999`
    /// if unknown).
    Errno(Errno),
    Value(Shown),
    Key(Shown),
    Entries(Vec<Entry>),
    /// The step could not be attempted (say, its map was never created); the reason says why.
    NotRun(String),
    /// A program step: the helper's return code, the value it produced, and (for_each) the
    /// sum of the values it visited.
    Prog {
        ret: Ret,
        value: Option<Shown>,
        sum: Option<u64>,
    },
    /// The program for a step did not load (verifier rejection, unknown helper, …).
    LoadFailed(LoadFailure),
    /// BPF_PROG_TEST_RUN itself failed with this errno.
    RunFailed(Errno),
    /// `get_pinned`/`get_by_id` got a map whose real layout (type, key and value size, as
    /// the kernel reports it) is not what the case declares for that name. The fd is not
    /// used: the case's view of the map would be wrong, and so would every buffer.
    Mismatch(String),
    Traffic(XdpCounts),
    /// A `send_from_cgroup` step: `{cgroup_packets: {sent, received}}`.
    CgroupPackets(CgroupPackets),
    /// An `info` step: the map as the kernel reports it.
    Info(Box<MapReport>),
    /// `send`: the bytes (as text) that arrived on each watched object, by name.
    Arrived(std::collections::BTreeMap<String, String>),
    Frames(FrameCounts),
    /// A step of a differential case (see the `oracle` module): the syscall's result and the
    /// helper's on an identical map, and whether they agree once normalised. Written
    /// `{doors_agree: {syscall: …, helper: …}}` or `{doors_disagree: {…}}`.
    Doors {
        agree: bool,
        syscall: Box<Outcome>,
        helper: Box<Outcome>,
    },
}

/// Both doors' results of a compared step, as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoorPair {
    syscall: Outcome,
    helper: Outcome,
}

/// How an outcome is written: `ok`, `EEXIST`, `{value: 1}`, `{key: 1}`, `{entries: [..]}`,
/// `{not_run: "…"}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum OutcomeRepr {
    Word(String),
    // Before `Value`: untagged matching ignores extra fields, and this one requires `ret`.
    Prog {
        ret: Ret,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Shown>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sum: Option<u64>,
    },
    LoadFailed {
        load_failed: LoadFailure,
    },
    RunFailed {
        run_failed: String,
    },
    Mismatch {
        mismatch: String,
    },
    Traffic {
        xdp_packets: XdpCounts,
    },
    CgroupPackets {
        cgroup_packets: CgroupPackets,
    },
    Info {
        info: Box<MapReport>,
    },
    Arrived {
        arrived: std::collections::BTreeMap<String, String>,
    },
    Frames {
        frames: FrameCounts,
    },
    DoorsAgree {
        doors_agree: Box<DoorPair>,
    },
    DoorsDisagree {
        doors_disagree: Box<DoorPair>,
    },
    Value {
        value: Shown,
    },
    Key {
        key: Shown,
    },
    Entries {
        entries: Vec<Entry>,
    },
    NotRun {
        not_run: String,
    },
}

impl From<Outcome> for OutcomeRepr {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => OutcomeRepr::Word("ok".into()),
            Outcome::Errno(e) => OutcomeRepr::Word(e.to_string()),
            Outcome::Value(value) => OutcomeRepr::Value { value },
            Outcome::Key(key) => OutcomeRepr::Key { key },
            Outcome::Entries(entries) => OutcomeRepr::Entries { entries },
            Outcome::NotRun(not_run) => OutcomeRepr::NotRun { not_run },
            Outcome::Prog { ret, value, sum } => OutcomeRepr::Prog { ret, value, sum },
            Outcome::LoadFailed(load_failed) => OutcomeRepr::LoadFailed { load_failed },
            Outcome::RunFailed(e) => OutcomeRepr::RunFailed {
                run_failed: e.to_string(),
            },
            Outcome::Mismatch(mismatch) => OutcomeRepr::Mismatch { mismatch },
            Outcome::Traffic(xdp_packets) => OutcomeRepr::Traffic { xdp_packets },
            Outcome::CgroupPackets(cgroup_packets) => OutcomeRepr::CgroupPackets { cgroup_packets },
            Outcome::Info(info) => OutcomeRepr::Info { info },
            Outcome::Arrived(arrived) => OutcomeRepr::Arrived { arrived },
            Outcome::Frames(frames) => OutcomeRepr::Frames { frames },
            Outcome::Doors { agree, syscall, helper } => {
                let pair = Box::new(DoorPair {
                    syscall: *syscall,
                    helper: *helper,
                });
                if agree {
                    OutcomeRepr::DoorsAgree { doors_agree: pair }
                } else {
                    OutcomeRepr::DoorsDisagree { doors_disagree: pair }
                }
            }
        }
    }
}

impl TryFrom<OutcomeRepr> for Outcome {
    type Error = String;
    fn try_from(r: OutcomeRepr) -> Result<Self, String> {
        Ok(match r {
            OutcomeRepr::Word(w) if w == "ok" => Outcome::Ok,
            OutcomeRepr::Word(w) => Outcome::Errno(w.parse()?),
            OutcomeRepr::Value { value } => Outcome::Value(value),
            OutcomeRepr::Key { key } => Outcome::Key(key),
            OutcomeRepr::Entries { entries } => Outcome::Entries(entries),
            OutcomeRepr::NotRun { not_run } => Outcome::NotRun(not_run),
            OutcomeRepr::Prog { ret, value, sum } => Outcome::Prog { ret, value, sum },
            OutcomeRepr::LoadFailed { load_failed } => Outcome::LoadFailed(load_failed),
            OutcomeRepr::RunFailed { run_failed } => Outcome::RunFailed(run_failed.parse()?),
            OutcomeRepr::Mismatch { mismatch } => Outcome::Mismatch(mismatch),
            OutcomeRepr::Traffic { xdp_packets } => Outcome::Traffic(xdp_packets),
            OutcomeRepr::CgroupPackets { cgroup_packets } => Outcome::CgroupPackets(cgroup_packets),
            OutcomeRepr::Info { info } => Outcome::Info(info),
            OutcomeRepr::Arrived { arrived } => Outcome::Arrived(arrived),
            OutcomeRepr::Frames { frames } => Outcome::Frames(frames),
            OutcomeRepr::DoorsAgree { doors_agree: p } => Outcome::Doors {
                agree: true,
                syscall: Box::new(p.syscall),
                helper: Box::new(p.helper),
            },
            OutcomeRepr::DoorsDisagree { doors_disagree: p } => Outcome::Doors {
                agree: false,
                syscall: Box::new(p.syscall),
                helper: Box::new(p.helper),
            },
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Errno(e) => write!(f, "{e}"),
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

    /// Steps of a differential case where the two doors disagree (reviewed through the
    /// snapshot like any result: a disagreement alone does not fail a run).
    pub fn door_disagreements(&self) -> impl Iterator<Item = &StepResult> {
        self.steps
            .iter()
            .filter(|s| matches!(s.result, Outcome::Doors { agree: false, .. }))
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
        let lines: Vec<Line> = self
            .steps
            .iter()
            .map(|s| Line {
                step: &s.step,
                result: &s.result,
            })
            .collect();
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
        assert_eq!(
            percpu,
            Shown::PerCpu {
                percpu: vec![Shown::Int(1), Shown::Int(2)]
            }
        );
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcomes = vec![
            Outcome::Ok,
            Outcome::Errno(Errno::EEXIST),
            Outcome::Errno(Errno(4095)),
            Outcome::Value(Shown::Int(5)),
            Outcome::Key(Shown::Hex { hex: "0a".into() }),
            Outcome::Entries(vec![Entry {
                key: Shown::Int(1),
                value: Shown::Map { map: "inner".into() },
            }]),
            Outcome::NotRun("map m was not created".into()),
            Outcome::Prog {
                ret: Ret(-17),
                value: None,
                sum: None,
            },
            Outcome::Prog {
                ret: Ret(1),
                value: Some(Shown::Int(7)),
                sum: None,
            },
            Outcome::LoadFailed(LoadFailure {
                errno: "EINVAL".into(),
                reason: "x".into(),
            }),
            Outcome::Traffic(XdpCounts {
                aborted: 0,
                drop: 0,
                pass: 3,
                tx: 0,
                redirect: 0,
            }),
        ];
        let json = serde_json::to_string(&outcomes).unwrap();
        assert_eq!(
            json,
            r#"["ok","EEXIST","errno4095",{"value":5},{"key":{"hex":"0a"}},{"entries":[{"key":1,"value":{"map":"inner"}}]},{"not_run":"map m was not created"},{"ret":"-EEXIST"},{"ret":1,"value":7},{"load_failed":{"errno":"EINVAL","reason":"x"}},{"xdp_packets":{"aborted":0,"drop":0,"pass":3,"tx":0,"redirect":0}}]"#
        );
        let back: Vec<Outcome> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outcomes);
    }

    /// Socket maps: a lookup's cookie is shown as the object it belongs to, a `send` as
    /// what arrived where.
    #[test]
    fn cookies_and_arrivals_round_trip() {
        let outcomes = vec![
            Outcome::Value(Shown::Cookie { cookie: "p".into() }),
            Outcome::Arrived([("c1".to_string(), "ping".to_string()), ("p0".into(), String::new())].into()),
        ];
        let json = serde_json::to_string(&outcomes).unwrap();
        assert_eq!(json, r#"[{"value":{"cookie":"p"}},{"arrived":{"c1":"ping","p0":""}}]"#);
        assert_eq!(serde_json::from_str::<Vec<Outcome>>(&json).unwrap(), outcomes);
    }

    #[test]
    fn zero_extended_helper_errors_render_by_name_and_round_trip() {
        let zext = Ret(0xffff_ffef); // -EEXIST as a 32-bit value in a 64-bit register
        assert_eq!(zext.to_string(), "-EEXIST as u32");
        assert_eq!("-EEXIST as u32".parse::<Ret>().unwrap(), zext);
        assert!(zext.matches(-17) && Ret(-17).matches(-17));
        assert!(!zext.matches(-2) && !Ret(4).matches(-4));
        assert_eq!(Ret(1).zero_extended_errno(), None);
        let json = serde_json::to_string(&Outcome::Prog {
            ret: zext,
            value: None,
            sum: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"ret":"-EEXIST as u32"}"#);
        assert_eq!(
            serde_json::from_str::<Outcome>(&json).unwrap(),
            Outcome::Prog {
                ret: zext,
                value: None,
                sum: None
            }
        );
    }

    #[test]
    fn door_results_show_both_sides_and_round_trip() {
        let both = |agree| Outcome::Doors {
            agree,
            syscall: Box::new(Outcome::Ok),
            helper: Box::new(Outcome::Prog {
                ret: Ret(-22),
                value: None,
                sum: None,
            }),
        };
        let json = serde_json::to_string(&vec![both(false), both(true)]).unwrap();
        assert_eq!(
            json,
            r#"[{"doors_disagree":{"syscall":"ok","helper":{"ret":"-EINVAL"}}},{"doors_agree":{"syscall":"ok","helper":{"ret":"-EINVAL"}}}]"#
        );
        let back: Vec<Outcome> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![both(false), both(true)]);
        let yaml = serde_saphyr::to_string(&both(false)).unwrap();
        assert_eq!(serde_saphyr::from_str::<Outcome>(&yaml).unwrap(), both(false));
    }

    #[test]
    fn dumps_sort_numerically() {
        let mut e: Vec<Entry> = [256u64, 2, 1]
            .iter()
            .map(|k| Entry {
                key: Shown::Int(*k),
                value: Shown::Int(0),
            })
            .collect();
        sort_entries(&mut e);
        let keys: Vec<_> = e.iter().map(|e| e.key.clone()).collect();
        assert_eq!(keys, vec![Shown::Int(1), Shown::Int(2), Shown::Int(256)]);
    }
}
