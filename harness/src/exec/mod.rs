//! Runs a case's steps against the running kernel and records what it did.
//!
//! The same code runs on the host (`mapconform run --host`) and inside each VM guest
//! (`mapconform guest`). Every step turns into bpf(2) calls through [`crate::bpf::sys`];
//! whatever the kernel answers becomes an [`Outcome`], never a crash.
mod btf;
mod cgroup_send;
mod cgroups;
mod devices;
mod expect;
mod mmap;
mod objects;
mod perf;
mod sockets;

use crate::bpf::sys::{self, CallError, CreateAttr, LookupBatch, MapHandle};
use crate::case::data::{within_limit, FdResolver, MapName, ObjectName};
use crate::case::{Case, CgroupCall, Datum, MapDef, MmapCall, Op, ProgCall};
use crate::oracle;
use crate::outcome::{
    sort_entries, CaseResult, Entry, LoadFailure, Outcome, Ret, RunReport, Shown, StepResult, XdpCounts,
};
use crate::prog::declared::NotCreated;
use crate::prog::{self, CgroupSkbs, MapRef, ProgError, ProgOp, Programs};
use crate::uapi::{ElemFlags, Errno, MapFlags, MapType};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;

/// Facts about the running kernel that shape how values are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    pub possible_cpus: usize,
}

impl Env {
    pub fn detect() -> io::Result<Env> {
        Ok(Env {
            possible_cpus: sys::possible_cpus()?,
        })
    }
}

/// Run every case, one after the other, each with its own maps.
pub fn run_all(cases: &[Case]) -> io::Result<RunReport> {
    run_all_with(cases, |_| {})
}

/// Where [`run_all_with`] is.
pub enum Progress<'a> {
    /// Before the first case, once the environment is known.
    Started {
        kernel_release: &'a str,
        possible_cpus: usize,
    },
    CaseStarted(&'a Case),
    CaseFinished(&'a CaseResult),
}

/// [`run_all`], telling `progress` before and after each case (the guest writes these
/// marks to the rwdir as it goes, so a kernel crash names the case that was running).
/// `cases` may be an iterator that is still producing them (the guest parses as it runs).
pub fn run_all_with<C: std::borrow::Borrow<Case>>(
    cases: impl IntoIterator<Item = C>,
    mut progress: impl FnMut(Progress),
) -> io::Result<RunReport> {
    let env = Env::detect()?;
    // LRU maps pick eviction victims from per-CPU lists: running every step on one CPU keeps
    // which key goes the same from run to run.
    pin_to_cpu0();
    // Before 5.11 map memory is charged to RLIMIT_MEMLOCK (64 KiB by default): maps of earlier
    // cases, freed asynchronously, would make later creations fail with EPERM. Every BPF
    // loader (libbpf, aya, bpftool) lifts the limit the same way.
    lift_memlock_limit();
    let release = kernel_release();
    progress(Progress::Started {
        kernel_release: &release,
        possible_cpus: env.possible_cpus,
    });
    let mut results = Vec::new();
    for case in cases {
        let case = case.borrow();
        progress(Progress::CaseStarted(case));
        let result = run_case(case, env);
        progress(Progress::CaseFinished(&result));
        results.push(result);
    }
    Ok(RunReport {
        kernel_release: release,
        possible_cpus: env.possible_cpus,
        cases: results,
    })
}

pub fn kernel_release() -> String {
    // SAFETY: utsname is plain bytes; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "unknown".into();
    }
    // SAFETY: release is NUL-terminated by the kernel.
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn lift_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit only reads the struct. Failure (not root) leaves the old limit.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
}

fn pin_to_cpu0() {
    // SAFETY: cpu_set_t is plain bits; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The maps and objects of one case while it runs: what a key or value's `{map_fd: …}`
/// and `{fd: …}` resolve against.
struct Maps<'c> {
    defs: &'c [MapDef],
    /// Each map's fd with its real attributes (the kernel's, not the declaration). Shared,
    /// so a step holds its map without a dup()/close() pair per step (2 extra syscalls: the
    /// executor measured 2.2x a bare call on the host with them).
    handles: Vec<Option<Rc<MapHandle>>>,
    /// Why a map has no fd, for steps that name it.
    missing: Vec<String>,
    /// The case's sockets and other objects (`objects:`), made before its maps.
    objects: objects::Objects,
}

impl FdResolver for Maps<'_> {
    fn map_fd(&self, map: &MapName) -> Result<u32, String> {
        // Validation resolved every name to an index.
        let i = map
            .index
            .filter(|i| *i < self.defs.len())
            .ok_or_else(|| format!("map `{}` was not resolved by validation", map.name))?;
        self.handles[i]
            .as_ref()
            .map(|h| h.fd().as_raw_fd() as u32)
            .ok_or_else(|| self.missing[i].clone())
    }

    fn object_fd(&self, object: &ObjectName) -> Result<u32, String> {
        let i = object
            .index
            .ok_or_else(|| format!("object `{}` was not resolved by validation", object.name))?;
        self.objects.fd(i)
    }

    fn object_ifindex(&self, object: &ObjectName) -> Result<u32, String> {
        let i = object
            .index
            .ok_or_else(|| format!("object `{}` was not resolved by validation", object.name))?;
        self.objects.ifindex(i)
    }

    fn cgroup_id(&self, object: &ObjectName) -> Result<u64, String> {
        let i = object
            .index
            .ok_or_else(|| format!("object `{}` was not resolved by validation", object.name))?;
        self.objects.cgroup_id(i)
    }
}

impl Maps<'_> {
    /// A cgroup_storage key as the case's cgroup it names (ids change every run), else as
    /// any key.
    fn show_key(&self, def: &MapDef, bytes: &[u8]) -> Shown {
        let storage = matches!(def.map_type, MapType::CGROUP_STORAGE | MapType::PERCPU_CGROUP_STORAGE);
        if storage && (bytes.len() == 8 || bytes.len() == 16) {
            let id = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
            let named = self.objects.cgroup_named(id);
            let Some(name) = named else {
                // Not a storage of the case's cgroups: a kernel returning bytes that are no
                // key of this map (5.10's get_next_key past the last element reads the
                // map's list head: kernel addresses, different every boot).
                return Shown::Cgroup {
                    cgroup: "(not a cgroup of the case)".into(),
                    attach_type: None,
                };
            };
            let attach_type = (bytes.len() == 16).then(|| {
                let t = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
                crate::uapi::AttachType(t).to_string()
            });
            return Shown::Cgroup {
                cgroup: name.to_string(),
                attach_type,
            };
        }
        show_key(def, bytes)
    }
}

struct Runner<'c> {
    case: &'c Case,
    env: Env,
    maps: Maps<'c>,
    /// Each map's id when it was created or last got from a pin (for `get_by_id`).
    ids: Vec<Option<u32>>,
    /// The BTF objects of the maps that declare `btf:`, closed with the case.
    btfs: Vec<OwnedFd>,
    /// Loaded programs by the name steps give them; dropped (unloaded) with the case.
    programs: HashMap<String, Programs>,
    /// The case's own folder on bpffs for relative pin paths, made on first use.
    pin_dir: Option<PathBuf>,
    /// Appended to the case's pin folder name (a twin's is `-twin<step>`).
    pin_tag: String,
    /// Absolute paths this case pinned a map at: removed with the case, like `pin_dir`.
    absolute_pins: Vec<PathBuf>,
    /// Programs `attach_to_map` attached to socket maps: detached when the case ends.
    attached: Vec<prog::sockets::AttachedProg>,
    harness_error: Option<String>,
    /// Each map's mmap(2) mapping (mmap steps), unmapped with the case at the latest.
    mappings: Vec<mmap::Memory>,
    /// The cgroup_skb programs and their links on the case's cgroups: detached and
    /// unloaded first when the case ends (see `Drop`), before the cgroups are removed.
    cgroup_skbs: CgroupSkbs,
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        // Links and programs go before the fields drop (the objects, whose cgroups are
        // then removed): nothing stays attached to a cgroup being removed.
        self.cgroup_skbs = CgroupSkbs::default();
        // Pins outlive fds by design: remove the case's so runs do not leak maps. Only the
        // paths this case's own `pin` steps created (a path pinned by someone else, where
        // the pin failed with EEXIST, is left alone).
        for path in &self.absolute_pins {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = &self.pin_dir {
            let _ = std::fs::remove_dir_all(dir);
            // The per-process parent goes too once the last case using it is done.
            let _ = dir.parent().map(std::fs::remove_dir);
        }
    }
}

pub fn run_case(case: &Case, env: Env) -> CaseResult {
    run_case_with(case, env, false)
}

/// A case with `objects:` runs in a private network namespace of its own (a thread that
/// unshares it, with its `lo` up): its sockets and interfaces never meet the host's, and
/// everything in it goes with the thread, whatever happened.
fn run_case_with(case: &Case, env: Env, keep_pins: bool) -> CaseResult {
    if case.objects.is_empty() {
        return run_case_here(case, env, keep_pins);
    }
    prog::netns::in_private_netns(|| run_case_here(case, env, keep_pins)).unwrap_or_else(|e| CaseResult {
        case: case.id.clone(),
        steps: Vec::new(),
        harness_error: Some(format!("a private network namespace for the case's objects: {e}")),
    })
}

/// [`run_case`], leaving the maps pinned at the absolute paths its `pin` steps gave: for
/// `mapconform pin-maps`, whose pins keep the maps alive for a shell after it exits.
pub fn run_case_keeping_pins(case: &Case, env: Env) -> CaseResult {
    run_case_with(case, env, true)
}

fn run_case_here(case: &Case, env: Env, keep_pins: bool) -> CaseResult {
    let mut runner = Runner::new(case, env, String::new());
    let mut steps: Vec<StepResult> = runner
        .maps
        .objects
        .make_all(&case.objects)
        .into_iter()
        .map(|(step, result)| StepResult {
            step,
            result,
            expect: None,
            violation: None,
        })
        .collect();

    // Maps that no `create` step names are created first, in declaration order, each as a
    // recorded step: a creation error is a result like any other.
    for map in implicit_creates(case) {
        let op = Op::Create { map };
        let result = runner.create(map);
        steps.push(StepResult {
            step: op.describe(&case.maps),
            result,
            expect: None,
            violation: None,
        });
    }

    let implicit = steps.len();
    for step in &case.steps {
        let result = runner.execute(&step.op);
        let violation = step
            .expect
            .as_ref()
            .and_then(|e| expect::check(e, &result, &step.op, step.op.map().map(|m| &case.maps[m]), &runner).err());
        steps.push(StepResult {
            step: step.label.clone(),
            result,
            expect: step.expect.as_ref().map(|e| e.to_string()),
            violation,
        });
    }
    // `expect:` is about the step's own (syscall) result; the other door is recorded beside it.
    if case.differential {
        program_doors(case, &mut steps[implicit..], env);
    }
    if keep_pins {
        runner.absolute_pins.clear();
    }
    CaseResult {
        case: case.id.clone(),
        steps,
        harness_error: runner.harness_error.take(),
    }
}

/// The maps no `create` step names, in declaration order: created before the first step.
fn implicit_creates(case: &Case) -> Vec<usize> {
    let explicit: HashSet<usize> = case
        .steps
        .iter()
        .filter(|s| matches!(s.op, Op::Create { .. }))
        .filter_map(|s| s.op.map())
        .collect();
    (0..case.maps.len()).filter(|i| !explicit.contains(i)).collect()
}

/// Twins built ahead of the one whose helper runs: their program loads go on meanwhile.
const TWINS_AHEAD: usize = 4;
/// Threads loading the twins' programs, on any CPU (the executor is pinned to CPU 0).
const TWIN_LOADERS: usize = 2;
/// The program name a twin's helper calls use.
const ORACLE_PROGRAM: &str = "oracle";

/// A differential case's steps through the program door, once the syscall door has run them
/// all: each step with a helper counterpart ([`oracle::counterpart`]) whose syscall ran gets
/// a twin — fresh maps built by replaying the case's earlier steps on the map and the maps
/// it refers to — on which the helper runs, and its result holds both doors
/// ([`oracle::doors`]). Otherwise the syscall result stands alone.
///
/// Twins are maps of their own, so building them after the case's steps changes no result.
/// What takes the time is loading each twin's program (the verifier: a few ms per twin
/// under TCG, 365 twins in the sweep), and that alone does not depend on the CPU: loader
/// threads on any CPU load the next twins' programs while the executor, on CPU 0, builds
/// twins, replays and runs the helpers — per-CPU and LRU results stay as they were.
fn program_doors(case: &Case, steps: &mut [StepResult], env: Env) {
    // (step, its map, the helper call)
    let wanted: Vec<(usize, usize, ProgCall)> = case
        .steps
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(steps[*i].result, Outcome::NotRun(_)))
        .filter_map(|(i, s)| {
            let map = s.op.map()?;
            Some((i, map, oracle::counterpart(&s.op, &case.maps[map])?))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let (jobs, queue) = std::sync::mpsc::channel::<TwinLoad>();
    let queue = std::sync::Mutex::new(queue);
    let (done, loaded) = std::sync::mpsc::channel::<(usize, Option<prog::Preloaded>)>();
    std::thread::scope(|scope| {
        for _ in 0..TWIN_LOADERS {
            let (queue, done) = (&queue, done.clone());
            scope.spawn(move || {
                unpin(env.possible_cpus);
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = job else { return };
                    let preloaded = prog::preload(&map_ref(&job.def, job.fd.as_fd()), job.family);
                    if done.send((job.step, preloaded)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut arrived = HashMap::new();
        let mut finish = |index: usize, map: usize, call: ProgCall, twin: Option<Runner>, sent: bool| {
            let Some(mut twin) = twin else { return };
            while sent && !arrived.contains_key(&index) {
                let Ok((step, preloaded)) = loaded.recv() else { break };
                arrived.insert(step, preloaded);
            }
            if let Some(Some(preloaded)) = arrived.remove(&index) {
                twin.programs.entry(ORACLE_PROGRAM.into()).or_default().adopt(preloaded);
            }
            let op = &case.steps[index].op;
            let helper = twin.execute(&Op::Prog {
                map,
                program: ORACLE_PROGRAM.into(),
                call,
            });
            let syscall = std::mem::replace(&mut steps[index].result, Outcome::Ok);
            steps[index].result = oracle::doors(op, syscall, helper);
        };
        let mut ahead = std::collections::VecDeque::new();
        for (index, map, call) in wanted {
            let twin = twin_world(case, index, env);
            let job = twin.as_ref().and_then(|t| t.twin_load(map, &call, index));
            let sent = job.is_some_and(|job| jobs.send(job).is_ok());
            ahead.push_back((index, map, call, twin, sent));
            if ahead.len() > TWINS_AHEAD {
                let (index, map, call, twin, sent) = ahead.pop_front().expect("not empty");
                finish(index, map, call, twin, sent);
            }
        }
        drop(jobs);
        while let Some((index, map, call, twin, sent)) = ahead.pop_front() {
            finish(index, map, call, twin, sent);
        }
    });
}

/// A twin's program for a loader thread: the twin map (an fd of its own, so the twin may
/// move meanwhile) and the family its helper call needs.
struct TwinLoad {
    step: usize,
    fd: std::os::fd::OwnedFd,
    def: MapDef,
    family: prog::Family,
}

/// Lets a loader thread run on every CPU: threads inherit the executor's pinning to CPU 0.
fn unpin(cpus: usize) {
    // SAFETY: cpu_set_t is plain bits; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..cpus.min(libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The twin world of step `index`: the step's map (and the maps it refers to) created
/// afresh and every earlier step replayed on them, through the same doors as the case did.
/// `None` when the prefix cannot be replayed faithfully (an absolute pin path is shared
/// with the case's own map).
fn twin_world(case: &Case, index: usize, env: Env) -> Option<Runner<'_>> {
    let target = case.steps[index].op.map()?;
    let related = related_maps(case, index, target);
    let prefix: Vec<&Op> = case.steps[..index]
        .iter()
        .map(|s| &s.op)
        .filter(|op| op.map().is_some_and(|m| related.contains(&m)))
        .collect();
    let absolute = |op: &&Op| matches!(op, Op::Pin { path, .. } | Op::GetPinned { path, .. } if path.starts_with('/'));
    if prefix.iter().any(absolute) {
        return None;
    }
    let mut twin = Runner::new(case, env, format!("-twin{index}"));
    // The twin's own objects, so replayed `{fd: …}` data names live objects.
    twin.maps.objects.make_all(&case.objects);
    for map in implicit_creates(case).into_iter().filter(|m| related.contains(m)) {
        twin.create(map);
    }
    for op in prefix {
        twin.execute(op);
    }
    Some(twin)
}

/// The data a step stores in its map (values and keys that may hold map fds).
fn stored_data(op: &Op) -> Vec<&Datum> {
    match op {
        Op::Update { key, value, .. } => vec![key, value],
        Op::Push { value, .. } => vec![value],
        Op::UpdateBatch { entries, .. } => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
        Op::Prog {
            call: ProgCall::Update { key, value, .. },
            ..
        } => vec![key, value],
        _ => Vec::new(),
    }
}

/// The case's maps whose fds a datum holds.
fn map_refs(datum: &Datum) -> Vec<usize> {
    match datum {
        Datum::MapFd(m) => m.index.into_iter().collect(),
        Datum::PerCpu(slots) => slots.iter().flat_map(map_refs).collect(),
        _ => Vec::new(),
    }
}

/// `target` and every map it depends on before step `index`: its inner map, and the maps
/// whose fds the steps on these maps store, transitively.
fn related_maps(case: &Case, index: usize, target: usize) -> HashSet<usize> {
    let mut related = HashSet::from([target]);
    loop {
        let mut more = Vec::new();
        for &m in &related {
            more.extend(case.maps[m].inner);
            for step in case.steps[..index].iter().filter(|s| s.op.map() == Some(m)) {
                more.extend(stored_data(&step.op).into_iter().flat_map(map_refs));
            }
        }
        let before = related.len();
        related.extend(more);
        if related.len() == before {
            return related;
        }
    }
}

fn errno_of(e: &io::Error) -> Outcome {
    Outcome::Errno(Errno::of(e))
}

fn status(r: io::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Ok,
        Err(e) => errno_of(&e),
    }
}

/// Why the harness could not run a step — never a kernel behaviour. Recorded as the step's
/// `{not_run: …}` and the case's `harness_error`.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A key or value that cannot be encoded for its map (or is too large to allocate).
    #[error("{0}")]
    Data(String),
    /// A buffer the bounded bpf(2) layer refused before the syscall.
    #[error(transparent)]
    Buffer(CallError),
    /// The program layer failed, not with the kernel's answer.
    #[error("{0}")]
    Program(String),
    /// What a step needs is missing: bpffs, an fd, a map's info, a consistent map.
    #[error("{0}")]
    Setup(String),
}

/// Encoding errors of keys and values are plain messages from [`crate::case::data`].
impl From<String> for HarnessError {
    fn from(why: String) -> Self {
        HarnessError::Data(why)
    }
}

/// A bounded call's failure: the kernel's errno is a result; a buffer the bounded layer
/// refused is a harness problem (`Err`), recorded as such — never a memory overrun.
fn refused(e: CallError) -> Result<Outcome, HarnessError> {
    match e {
        CallError::Kernel(errno) => Ok(Outcome::Errno(errno)),
        buffer @ CallError::Buffer { .. } => Err(HarnessError::Buffer(buffer)),
    }
}

fn called(r: Result<(), CallError>) -> Result<Outcome, HarnessError> {
    match r {
        Ok(()) => Ok(Outcome::Ok),
        Err(e) => refused(e),
    }
}

impl<'c> Runner<'c> {
    /// A runner with no map created yet. `pin_tag` keeps a twin's relative pins apart
    /// from the case's own.
    fn new(case: &'c Case, env: Env, pin_tag: String) -> Runner<'c> {
        let n = case.maps.len();
        Runner {
            case,
            env,
            maps: Maps {
                defs: &case.maps,
                handles: (0..n).map(|_| None).collect(),
                missing: case
                    .maps
                    .iter()
                    .map(|m| format!("map {} is not created yet", m.name))
                    .collect(),
                objects: objects::Objects::new(&case.objects),
            },
            ids: vec![None; n],
            btfs: Vec::new(),
            programs: HashMap::new(),
            pin_dir: None,
            pin_tag,
            absolute_pins: Vec::new(),
            attached: Vec::new(),
            harness_error: None,
            mappings: (0..n).map(|_| mmap::Memory::default()).collect(),
            cgroup_skbs: CgroupSkbs::default(),
        }
    }
}

impl Runner<'_> {
    fn def(&self, map: usize) -> &MapDef {
        &self.case.maps[map]
    }

    /// Bytes of one value as bpf(2) moves it (per-CPU maps: one 8-aligned slot per CPU).
    fn value_len(&self, def: &MapDef) -> usize {
        if def.is_percpu() {
            (def.value_size as usize).div_ceil(8) * 8 * self.env.possible_cpus
        } else {
            def.value_size as usize
        }
    }

    fn encode_key(&self, def: &MapDef, key: &Datum) -> Result<Vec<u8>, String> {
        key.encode(def.key_size as usize, &self.maps)
    }

    fn encode_value(&self, def: &MapDef, value: &Datum) -> Result<Vec<u8>, String> {
        if def.is_percpu() {
            value.encode_percpu(def.value_size as usize, self.env.possible_cpus, &self.maps)
        } else {
            value.encode(def.value_size as usize, &self.maps)
        }
    }

    /// Render a value read back from `def`'s map.
    fn show_value(&self, def: &MapDef, bytes: &[u8]) -> Shown {
        if def.is_percpu() {
            return Shown::from_percpu(bytes, def.value_size as usize, self.env.possible_cpus);
        }
        if def.map_type == MapType::STACK_TRACE {
            // Instruction addresses move with every boot (KASLR): only how many frames
            // the kernel filled is a property of the kernel.
            let build_id = def.map_flags.0 & MapFlags::STACK_BUILD_ID.0 != 0;
            return Shown::from_stack(bytes, if build_id { 32 } else { 8 });
        }
        if sockets::holds_sockets(def.map_type) && bytes.len() == 8 {
            return sockets::show_cookie(bytes, &self.maps.objects, &self.case.objects);
        }
        if let Some(shown) = devices::show_value(def, bytes, &self.maps.objects) {
            return shown;
        }
        if def.is_map_in_map() && bytes.len() == 4 {
            // Syscall lookups of map-in-map return the inner map's id, which changes every run:
            // show which of the case's maps it is instead.
            let id = u32::from_le_bytes(bytes.try_into().unwrap_or_default());
            // By remembered id, so a map the case closed but an outer map holds keeps its name.
            let name = self
                .ids
                .iter()
                .zip(self.case.maps.iter())
                .find_map(|(known, d)| (*known == Some(id)).then(|| d.name.clone()));
            return Shown::Map {
                map: name.unwrap_or_else(|| "(a map outside the case)".into()),
            };
        }
        Shown::from_bytes(bytes)
    }

    fn harness_failure(&mut self, why: HarnessError) -> Outcome {
        let why = why.to_string();
        self.harness_error.get_or_insert_with(|| why.clone());
        Outcome::NotRun(why)
    }

    fn create(&mut self, map: usize) -> Outcome {
        let def = self.def(map).clone();
        if self.maps.handles[map].is_some() {
            return self.harness_failure(HarnessError::Setup(format!("map {} is created twice", def.name)));
        }
        let inner_fd = match def.inner {
            Some(i) => match &self.maps.handles[i] {
                Some(h) => Some(h.fd().as_raw_fd() as u32),
                None => return Outcome::NotRun(format!("inner map {} does not exist", self.def(i).name)),
            },
            // A map-in-map without `inner` gets fd -1 (EBADF): 0 would be whatever the
            // process has as fd 0, which differs between host and guest.
            None if def.is_map_in_map() => Some(u32::MAX),
            None => None,
        };
        let loaded = match btf::load(&def.btf) {
            Ok(loaded) => loaded,
            Err(why) => {
                self.maps.missing[map] = format!("map {} was not created: {why}", def.name);
                return Outcome::NotRun(why);
            }
        };
        let attr = CreateAttr {
            btf_fd: loaded.fd.as_ref().map(|fd| fd.as_fd()),
            btf_key_type_id: loaded.key_type_id,
            btf_value_type_id: loaded.value_type_id,
            btf_vmlinux_value_type_id: loaded.vmlinux_value_type_id,
            map_type: def.map_type.0,
            key_size: def.key_size,
            value_size: def.value_size,
            max_entries: def.max_entries,
            map_flags: def.map_flags.0,
            inner_map_fd: inner_fd,
            numa_node: def.numa_node,
            name: def.kernel_name.as_deref(),
            map_extra: def.map_extra,
        };
        let created = match &def.elf {
            // The loader creates it with its object (`prog::declared`); the kernel's own
            // layout of it must be the one the case declares, as for `get_pinned`.
            Some(declaration) => match prog::declared::create(declaration) {
                Ok(fd) => match MapHandle::open(fd) {
                    Ok(handle) => return self.adopt(map, handle, &format!("the loader's {declaration}"), true),
                    Err(e) => Err(e),
                },
                Err(NotCreated::Kernel(errno)) => Err(io::Error::from_raw_os_error(errno)),
                Err(NotCreated::Other(why)) => return self.harness_failure(HarnessError::Program(why)),
            },
            None => sys::map_create(&attr),
        };
        self.btfs.extend(loaded.fd);
        match created {
            Ok(fd) => match MapHandle::open(fd) {
                Ok(handle) => {
                    self.ids[map] = Some(handle.info().id);
                    self.maps.handles[map] = Some(Rc::new(handle));
                    Outcome::Ok
                }
                Err(e) => self.harness_failure(HarnessError::Setup(format!(
                    "BPF_OBJ_GET_INFO_BY_FD on new map {}: {e}",
                    def.name
                ))),
            },
            Err(e) => {
                let outcome = errno_of(&e);
                self.maps.missing[map] = format!("map {} was not created ({outcome})", def.name);
                outcome
            }
        }
    }

    fn execute(&mut self, op: &Op) -> Outcome {
        let Some(map) = op.map() else {
            // A step on the case's objects alone.
            let attached = &self.attached;
            let drops = || attached.iter().map(prog::sockets::AttachedProg::drops).sum::<u64>();
            return match objects::execute(op, &self.maps.objects, &drops) {
                Ok(outcome) => outcome,
                Err(why) => self.harness_failure(why),
            };
        };
        match op {
            Op::Create { map } => return self.create(*map),
            // These work without (or replace) the case's fd of the map.
            Op::GetPinned { map, path } => return self.get_pinned(*map, path),
            Op::GetById { map } => return self.get_by_id(*map),
            Op::Mmap { map, call } if !matches!(call, MmapCall::Map { .. } | MmapCall::RingbufConsume) => {
                return self.on_mapping(*map, call);
            }
            _ => {}
        }
        let Some(handle) = self.maps.handles[map].clone() else {
            return Outcome::NotRun(self.maps.missing[map].clone());
        };
        // An object the kernel refused to make is that result, not a harness problem. (A
        // case without objects has no data naming one: the parser checks every name.)
        if !self.case.objects.is_empty() {
            if let Some(why) = op
                .data()
                .iter()
                .flat_map(|d| d.objects())
                .find_map(|o| self.maps.objects.made_or_why(o).err())
            {
                return Outcome::NotRun(why);
            }
        }
        // Values are encoded and rendered from the declaration, buffers sized from the
        // kernel's info: the two agree (created from it, or checked by `adopt`). Should a
        // kernel ever report another layout, that is a harness error, not a bad slice.
        let (def, info) = (self.def(map), *handle.info());
        if (info.map_type, info.key_size, info.value_size) != (def.map_type, def.key_size, def.value_size) {
            let why = format!("map {} is {info} for the kernel, declared {}", def.name, def.layout());
            return self.harness_failure(HarnessError::Setup(why));
        }
        match self.execute_on(op, map, &handle) {
            Ok(outcome) => outcome,
            Err(why) => self.harness_failure(why),
        }
    }

    /// One step on an existing map. `Err` is a harness problem (a value that cannot be
    /// encoded, a buffer the bounded layer refused), never a kernel answer.
    fn execute_on(&mut self, op: &Op, map: usize, h: &MapHandle) -> Result<Outcome, HarnessError> {
        // Borrowed from the case, not from the runner, which the arms change.
        let case = self.case;
        let def = &case.maps[map];
        let fd = h.fd();
        // Output buffers are sized from the map's real attributes (which, after
        // `get_pinned`/`get_by_id`, are known to match the declaration).
        let ks = h.key_len();
        let vs = h.value_len();
        let value = |r: Result<(), CallError>, v: &[u8]| match r {
            Ok(()) => Ok(Outcome::Value(
                self.show_value(def, &v[..self.value_len(def).min(v.len())]),
            )),
            Err(e) => refused(e),
        };
        Ok(match op {
            Op::Create { .. } | Op::GetPinned { .. } | Op::GetById { .. } | Op::Send(_) => {
                unreachable!("handled by execute")
            }
            Op::AttachToMap { attach, .. } => match sockets::attach(fd, def.map_type, attach) {
                Ok(attached) => {
                    self.attached.push(attached);
                    Outcome::Ok
                }
                Err(outcome) => outcome,
            },
            Op::Prog { program, call, .. } => self.prog(def, fd, program, call)?,
            Op::Info { .. } => mmap::info(h),
            Op::Cgroup { call } => self.cgroup_skb(fd, call)?,
            Op::Mmap { map, call } => self.mmap(*map, h, call),
            Op::Traffic { packets, .. } => match prog::count_traffic(&map_ref(def, fd), *packets) {
                Ok(recs) => Outcome::Traffic(XdpCounts {
                    aborted: recs[0].rx_packets,
                    drop: recs[1].rx_packets,
                    pass: recs[2].rx_packets,
                    tx: recs[3].rx_packets,
                    redirect: recs[4].rx_packets,
                }),
                Err(e) => prog_error(e)?,
            },
            Op::Redirect { key, dev, packets, .. } => {
                let veth = match self.maps.objects.veth(*dev) {
                    Ok(veth) => veth,
                    Err(why) => return Ok(Outcome::NotRun(why)),
                };
                let loaded = match prog::redirect::load_redirect(&map_ref(def, fd), *key) {
                    Ok(loaded) => loaded,
                    Err(e) => return prog_error(e),
                };
                let prog_fd = loaded.fd().map_err(|e| HarnessError::Program(e.to_string()))?;
                // The kernel's refusal to attach is the step's result.
                match devices::XdpAttached::attach(veth.ifindex, prog_fd.as_raw_fd()) {
                    Ok(_attached) => match devices::send_and_count(veth, *packets, &self.maps.objects.xsks_on(veth.ifindex)) {
                        Ok(counts) => Outcome::Frames(counts),
                        Err(e) => return Err(HarnessError::Setup(format!("sending frames over {}: {e}", veth.name))),
                    },
                    Err(e) => errno_of(&e),
                }
            }
            Op::Pin { path, .. } => {
                let path = self.pin_path(path)?;
                let pinned = sys::obj_pin(fd, &path);
                if pinned.is_ok() && path.is_absolute() && !self.pin_dir.as_ref().is_some_and(|d| path.starts_with(d)) {
                    self.absolute_pins.push(path);
                }
                status(pinned)
            }
            Op::Update { key, value, flags, .. } => {
                let k = self.encode_key(def, key)?;
                let v = self.encode_value(def, value)?;
                called(h.update(Some(&k), &v, *flags))?
            }
            Op::Lookup { key, flags, .. } => {
                let k = self.encode_key(def, key)?;
                let mut v = vec![0u8; vs];
                let r = h.lookup(Some(&k), &mut v, *flags);
                value(r, &v)?
            }
            Op::Delete { key, .. } => {
                let k = key.as_ref().map(|k| self.encode_key(def, k)).transpose()?;
                called(h.delete(k.as_deref()))?
            }
            Op::GetNextKey { key, .. } => {
                let k = key.as_ref().map(|k| self.encode_key(def, k)).transpose()?;
                let mut next = vec![0u8; ks.max(1)];
                match h.get_next_key(k.as_deref(), &mut next) {
                    Ok(()) => Outcome::Key(self.maps.show_key(def, &next[..(def.key_size as usize).min(ks)])),
                    Err(e) => refused(e)?,
                }
            }
            Op::LookupAndDelete { key, flags, .. } => {
                let k = key.as_ref().map(|k| self.encode_key(def, k)).transpose()?;
                let mut v = vec![0u8; vs.max(1)];
                let r = h.lookup_and_delete(k.as_deref(), &mut v, *flags);
                value(r, &v)?
            }
            Op::Push { value, flags, .. } => {
                let v = self.encode_value(def, value)?;
                called(h.update(None, &v, *flags))?
            }
            Op::Pop { .. } => {
                let mut v = vec![0u8; vs.max(1)];
                let r = h.lookup_and_delete(None, &mut v, ElemFlags::ANY);
                value(r, &v)?
            }
            Op::Peek { value: Some(value), .. } => {
                // Bloom filter: the value to check goes in through the value buffer.
                let mut v = self.encode_value(def, value)?;
                called(h.lookup(None, &mut v, ElemFlags::ANY))?
            }
            Op::Peek { value: None, .. } => {
                let mut v = vec![0u8; vs.max(1)];
                let r = h.lookup(None, &mut v, ElemFlags::ANY);
                value(r, &v)?
            }
            Op::Dump { .. } => self.dump(def, h)?,
            Op::Close { map } => {
                self.maps.handles[*map] = None;
                self.maps.missing[*map] = format!("map {} was closed", def.name);
                Outcome::Ok
            }
            Op::Freeze { .. } => called(h.freeze())?,
            Op::UpdateBatch { entries, flags, .. } => {
                let mut keys = Vec::new();
                let mut values = Vec::new();
                for (k, v) in entries {
                    keys.extend(self.encode_key(def, k)?);
                    values.extend(self.encode_value(def, v)?);
                }
                called(h.update_batch(&keys, &values, entries.len() as u32, *flags).1)?
            }
            Op::DeleteBatch { keys, .. } => {
                let mut buf = Vec::new();
                for k in keys {
                    buf.extend(self.encode_key(def, k)?);
                }
                called(h.delete_batch(&buf, keys.len() as u32, ElemFlags::ANY).1)?
            }
            Op::LookupBatch { batch, flags, .. } => self.lookup_batch(def, h, *batch, false, *flags)?,
            Op::LookupAndDeleteBatch { batch, flags, .. } => self.lookup_batch(def, h, *batch, true, *flags)?,
        })
    }

    /// A relative pin path is below the case's own folder on bpffs (mounted if needed);
    /// an absolute one is used as written (to pin outside bpffs, say). Validation refuses
    /// relative paths with `..`, so a relative pin never leaves the case's folder.
    fn pin_path(&mut self, path: &str) -> Result<PathBuf, HarnessError> {
        if path.starts_with('/') {
            return Ok(PathBuf::from(path));
        }
        if self.pin_dir.is_none() {
            let bpffs = prog::ensure_bpffs().map_err(|e| HarnessError::Setup(format!("no bpffs for pins: {e}")))?;
            let dir = bpffs.join(format!("mapconform-{}", std::process::id())).join(format!(
                "{}{}",
                self.case.id.replace('/', "__"),
                self.pin_tag
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|e| HarnessError::Setup(format!("creating {}: {e}", dir.display())))?;
            self.pin_dir = Some(dir);
        }
        Ok(self.pin_dir.as_ref().expect("set above").join(path))
    }

    /// A map got from outside the case's own fds (a pin, an id) is compared with the
    /// declaration (type, key size, value size, as the kernel reports them): every buffer
    /// and every rendering of the map follows the declaration. If they agree and `keep`,
    /// the fd becomes the map's fd; if not, the step's result is the mismatch and (`keep`)
    /// the map has no fd.
    fn adopt(&mut self, map: usize, handle: MapHandle, how: &str, keep: bool) -> Outcome {
        let def = self.def(map);
        let info = *handle.info();
        let same = info.map_type == def.map_type && info.key_size == def.key_size && info.value_size == def.value_size;
        if !same {
            let why = format!(
                "{how} gave a map that is {info}, but {} is declared {}",
                def.name,
                def.layout()
            );
            if keep {
                // The fd got is not used; like any get_pinned, the step replaces (closes)
                // the fd the map had.
                self.maps.missing[map] = format!("map {} has no fd: {why}", def.name);
                self.maps.handles[map] = None;
            }
            return Outcome::Mismatch(why);
        }
        if keep {
            self.ids[map] = Some(info.id);
            self.maps.handles[map] = Some(Rc::new(handle));
        }
        Outcome::Ok
    }

    fn get_pinned(&mut self, map: usize, path: &str) -> Outcome {
        let path = match self.pin_path(path) {
            Ok(p) => p,
            Err(why) => return self.harness_failure(why),
        };
        match sys::obj_get(&path).and_then(MapHandle::open) {
            Ok(handle) => self.adopt(map, handle, "get_pinned", true),
            Err(e) => errno_of(&e),
        }
    }

    /// Does the map with the id it had when created or got still exist? The fd is not kept.
    fn get_by_id(&mut self, map: usize) -> Outcome {
        let Some(id) = self.ids[map] else {
            return Outcome::NotRun(self.maps.missing[map].clone());
        };
        match sys::map_fd_by_id(id) {
            Ok(fd) => match MapHandle::open(fd) {
                Ok(handle) => self.adopt(map, handle, "get_by_id", false),
                Err(e) => self.harness_failure(HarnessError::Setup(format!(
                    "BPF_OBJ_GET_INFO_BY_FD on map id {id}: {e}"
                ))),
            },
            Err(e) => errno_of(&e),
        }
    }

    /// What loading the program for a twin's helper `call` on `map` needs, if the twin map
    /// exists and the call can be encoded (if not, the run itself says why, loading nothing).
    fn twin_load(&self, map: usize, call: &ProgCall, step: usize) -> Option<TwinLoad> {
        let handle = self.maps.handles[map].as_ref()?;
        let def = self.def(map);
        Some(TwinLoad {
            step,
            family: self.prog_op(def, call).ok()?.family(),
            fd: handle.fd().try_clone_to_owned().ok()?,
            def: def.clone(),
        })
    }

    /// One helper call by an XDP program bound to the map, through BPF_PROG_TEST_RUN.
    fn prog(&mut self, def: &MapDef, fd: BorrowedFd, program: &str, call: &ProgCall) -> Result<Outcome, HarnessError> {
        let op = self.prog_op(def, call)?;
        if let ProgOp::PerfEventOutput { .. } = op {
            return self.perf_event_output(def, fd, program, &op);
        }
        let programs = self.programs.entry(program.to_string()).or_default();
        let ringbuf = def.map_type == MapType::RINGBUF;
        match programs.run(&map_ref(def, fd), &op) {
            Ok(out) => Ok(Outcome::Prog {
                ret: Ret(out.ret),
                value: out.data.map(|d| {
                    if ringbuf {
                        show_record(&d)
                    } else {
                        Shown::from_bytes(&d)
                    }
                }),
                sum: out.sum,
            }),
            Err(e) => prog_error(e),
        }
    }

    /// The cgroup_skb program bound to this map: attached, detached or test-run.
    fn cgroup_skb(&mut self, map: BorrowedFd, call: &CgroupCall) -> Result<Outcome, HarnessError> {
        let done = match call {
            CgroupCall::Attach {
                cgroup, attach_type, ..
            } => {
                let cgroup_fd = match self.maps.objects.borrowed(cgroup.index) {
                    Ok(fd) => fd,
                    Err(why) => return Ok(Outcome::NotRun(why)),
                };
                self.cgroup_skbs
                    .attach(map, cgroup_fd, cgroup.index, *attach_type)
                    .map(|()| Outcome::Ok)
            }
            CgroupCall::Detach {
                cgroup, attach_type, ..
            } => self
                .cgroup_skbs
                .detach(map, cgroup.index, *attach_type)
                .map(|detached| {
                    if detached {
                        Outcome::Ok
                    } else {
                        Outcome::NotRun(format!(
                            "nothing of this case is attached to {} at {attach_type}",
                            cgroup.name
                        ))
                    }
                }),
            CgroupCall::TestRun { repeat, .. } => self.cgroup_skbs.test_run(map, *repeat).map(|run| Outcome::Prog {
                ret: Ret(run.retval as i64),
                value: Some(Shown::Int(run.count as u64)),
                sum: None,
            }),
            CgroupCall::Send { .. } => unreachable!("names no map: objects::execute"),
        };
        match done {
            // A refused attach is the kernel's answer, like any syscall's.
            Err(ProgError::Run { errno }) if matches!(call, CgroupCall::Attach { .. }) => {
                Ok(Outcome::Errno(Errno(errno)))
            }
            Err(e) => prog_error(e),
            Ok(outcome) => Ok(outcome),
        }
    }

    /// The helper call `call` on `def`'s map, encoded for the programs.
    fn prog_op(&self, def: &MapDef, call: &ProgCall) -> Result<ProgOp, HarnessError> {
        let size = def.value_size as usize;
        let key = |k: &Datum| self.encode_key(def, k);
        let value = |v: &Datum| v.encode(size, &self.maps);
        let bloom = def.map_type == MapType::BLOOM_FILTER;
        let sockets = sockets::holds_sockets(def.map_type);
        Ok(match call {
            // A socket map's lookup returns a referenced socket: its own program releases it.
            ProgCall::Lookup { key: k } if sockets => ProgOp::SockLookup { key: key(k)? },
            ProgCall::Delete { key: k } if sockets => ProgOp::SockDelete { key: key(k)? },
            // A program can only store a socket it holds: `value` is the key (of this map)
            // whose socket is stored at `key`.
            ProgCall::Update {
                key: k,
                value: source,
                flags,
            } if sockets => ProgOp::SockUpdate {
                key: key(k)?,
                source: key(source)?,
                flags: *flags,
            },
            ProgCall::Lookup { key: k } => ProgOp::Lookup { key: key(k)? },
            ProgCall::Update {
                key: k,
                value: v,
                flags,
            } => ProgOp::Update {
                key: key(k)?,
                value: value(v)?,
                flags: *flags,
            },
            ProgCall::Delete { key: k } => ProgOp::Delete { key: key(k)? },
            ProgCall::Push { value: v, flags } if bloom => ProgOp::BloomAdd {
                value: value(v)?,
                flags: *flags,
            },
            ProgCall::Push { value: v, flags } => ProgOp::Push {
                value: value(v)?,
                flags: *flags,
            },
            ProgCall::Pop => ProgOp::Pop,
            ProgCall::Peek { value: Some(v) } => ProgOp::BloomCheck { value: value(v)? },
            ProgCall::Peek { value: None } => ProgOp::Peek,
            ProgCall::RingbufOutput { data, flags, keep } => ProgOp::RingbufOutput {
                data: data.encode_natural(&self.maps)?,
                flags: *flags,
                keep: *keep,
            },
            ProgCall::ForEach { flags: 0 } => ProgOp::ForEach,
            ProgCall::ForEach { flags } => ProgOp::ForEachFlags { flags: *flags },
            ProgCall::LookupPercpu { key: k, cpu } => ProgOp::LookupPercpu {
                key: key(k)?,
                cpu: *cpu,
            },
            ProgCall::GetStackid { flags } => ProgOp::GetStackid { flags: *flags },
            ProgCall::CurrentTaskUnderCgroup { index } => ProgOp::CurrentTaskUnderCgroup { index: *index },
            ProgCall::UserRingbufDrain { flags } => ProgOp::UserRingbufDrain { flags: *flags },
            ProgCall::RedirectMap { key: k, flags } => ProgOp::RedirectMap {
                key: key(k)?,
                flags: *flags,
            },
            ProgCall::TailCall { key: k } => ProgOp::TailCall { key: key(k)? },
            ProgCall::PerfEventOutput { data, index } => ProgOp::PerfEventOutput {
                data: data.encode_natural(&self.maps)?,
                flags: index.map_or(perf::BPF_F_CURRENT_CPU, u64::from),
            },
        })
    }

    /// bpf_perf_event_output, then the record read back from the case's perf event rings
    /// (each drained first, so only this run's record shows).
    fn perf_event_output(&mut self, def: &MapDef, fd: BorrowedFd, program: &str, op: &ProgOp) -> Result<Outcome, HarnessError> {
        self.maps.objects.perf_events().for_each(|p| drop(p.take_samples()));
        let programs = self.programs.entry(program.to_string()).or_default();
        match programs.run(&map_ref(def, fd), op) {
            Ok(out) => Ok(Outcome::Prog {
                ret: Ret(out.ret),
                value: self
                    .maps
                    .objects
                    .perf_events()
                    .flat_map(|p| p.take_samples())
                    .next()
                    .map(|d| show_record(&d)),
                sum: None,
            }),
            Err(e) => prog_error(e),
        }
    }

    /// Iteration bound: a map cannot hold more keys than max_entries; a few more allow
    /// for a kernel that misbehaves without looping forever.
    fn iteration_limit(def: &MapDef) -> usize {
        (def.max_entries as usize).min(1 << 20) + 2
    }

    /// get_next_key from NULL, then from each key, looking up every key found.
    fn dump(&self, def: &MapDef, h: &MapHandle) -> Result<Outcome, HarnessError> {
        let ks = def.key_size as usize;
        let mut entries = Vec::new();
        let mut prev: Option<Vec<u8>> = None;
        for _ in 0..Self::iteration_limit(def) {
            let mut next = vec![0u8; h.key_len().max(1)];
            match h.get_next_key(prev.as_deref(), &mut next) {
                Ok(()) => {}
                Err(e) if e.errno() == Some(Errno::ENOENT) => {
                    sort_entries(&mut entries);
                    return Ok(Outcome::Entries(entries));
                }
                Err(e) => return refused(e),
            }
            next.truncate(ks);
            let mut v = vec![0u8; h.value_len()];
            match h.lookup(Some(&next), &mut v, ElemFlags::ANY) {
                Ok(()) => entries.push(Entry {
                    key: self.maps.show_key(def, &next),
                    value: self.show_value(def, &v[..self.value_len(def).min(v.len())]),
                }),
                // A key get_next_key returns but lookup cannot find (e.g. an empty array-of-maps
                // slot) is not an entry.
                Err(e) if e.errno() == Some(Errno::ENOENT) => {}
                Err(e) => return refused(e),
            }
            prev = Some(next);
        }
        Ok(Outcome::NotRun(format!(
            "iteration did not end after {} keys",
            Self::iteration_limit(def)
        )))
    }

    fn lookup_batch(
        &self,
        def: &MapDef,
        h: &MapHandle,
        batch: u32,
        and_delete: bool,
        flags: ElemFlags,
    ) -> Result<Outcome, HarnessError> {
        let ks = h.key_len();
        let vs = h.value_len();
        // Batch tokens are a u32 bucket for hash maps and a key for arrays: room for either.
        let token_len = ks.max(8);
        let mut entries = Vec::new();
        let mut in_batch: Option<Vec<u8>> = None;
        // `batch` comes from the case (or max_entries): never allocate what cannot be.
        let (keys_len, values_len) = (ks.saturating_mul(batch as usize), vs.saturating_mul(batch as usize));
        within_limit(&format!("a batch of {batch} keys"), keys_len)?;
        within_limit(&format!("a batch of {batch} values"), values_len)?;
        for _ in 0..Self::iteration_limit(def) {
            let mut keys = vec![0u8; keys_len];
            let mut values = vec![0u8; values_len];
            let mut out = vec![0u8; token_len];
            let io = LookupBatch {
                in_batch: in_batch.as_deref(),
                out_batch: &mut out,
                keys: &mut keys,
                values: &mut values,
                count: batch,
            };
            let (count, res) = h.lookup_batch(and_delete, io, flags);
            let count = (count as usize).min(batch as usize);
            for i in 0..count {
                entries.push(Entry {
                    key: self.maps.show_key(def, &keys[i * ks..(i + 1) * ks]),
                    value: self.show_value(def, &values[i * vs..(i + 1) * vs]),
                });
            }
            match res {
                Ok(()) => in_batch = Some(out),
                Err(e) if e.errno() == Some(Errno::ENOENT) => {
                    sort_entries(&mut entries);
                    return Ok(Outcome::Entries(entries));
                }
                Err(e) => return refused(e),
            }
        }
        Ok(Outcome::NotRun(format!(
            "batch lookup did not end after {} batches",
            Self::iteration_limit(def)
        )))
    }
}

/// Render a key read back from `def`'s map. LPM trie keys (prefixlen + address) read
/// better as bytes than as one little-endian integer.
pub(crate) fn show_key(def: &MapDef, bytes: &[u8]) -> Shown {
    if def.map_type == MapType::LPM_TRIE {
        Shown::Hex {
            hex: crate::outcome::to_hex(bytes),
        }
    } else {
        Shown::from_bytes(bytes)
    }
}

/// Ring buffer records are byte strings of any length: always hex, even at 8 bytes.
pub(crate) fn show_record(bytes: &[u8]) -> Shown {
    Shown::Hex {
        hex: crate::outcome::to_hex(bytes),
    }
}

fn map_ref<'a>(def: &MapDef, fd: BorrowedFd<'a>) -> MapRef<'a> {
    MapRef {
        fd,
        map_type: def.map_type.0,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
    }
}

/// A kernel's refusal is a result; anything else the program layer says is a harness error.
fn prog_error(e: ProgError) -> Result<Outcome, HarnessError> {
    match e {
        ProgError::Load { errno, reason } => Ok(Outcome::LoadFailed(LoadFailure {
            errno: errno.map_or_else(|| "none".to_string(), |e| Errno(e).to_string()),
            reason,
        })),
        ProgError::Run { errno } => Ok(Outcome::RunFailed(Errno(errno))),
        ProgError::Other(why) => Err(HarnessError::Program(why)),
    }
}
