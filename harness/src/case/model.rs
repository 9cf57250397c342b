//! A validated case: maps with numeric attributes and steps that refer to maps by index.
//! Built by [`super::parse`]; consumed by the executor. Nothing here touches a kernel.
use super::btf::MapBtf;
use super::data::{Datum, Declared};
use super::objects::ObjectDef;
use super::sockets::{Attach, Send};
use crate::outcome::Ret;
use crate::uapi::{AttachType, ElemFlags, Errno, MapFlags, MapType, Prot};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Case {
    /// Path below the cases folder without `.yaml`, e.g. `hash/update-flags`.
    pub id: String,
    pub file: PathBuf,
    pub about: String,
    pub source: String,
    /// `differential: true`: every syscall step with a helper counterpart also runs
    /// through the program door on a twin map built by the same preceding steps, and the
    /// step's result holds both (see the `oracle` module).
    pub differential: bool,
    pub maps: Vec<MapDef>,
    /// Sockets and other kernel objects the case makes (`objects:`), before its maps.
    pub objects: Vec<ObjectDef>,
    pub steps: Vec<Step>,
}

/// Everything of BPF_MAP_CREATE that a case can set.
#[derive(Debug, Clone)]
pub struct MapDef {
    /// The name steps use for this map.
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: MapFlags,
    pub map_extra: u64,
    pub numa_node: u32,
    /// Index of the map whose fd is passed as `inner_map_fd` (map-in-map types).
    pub inner: Option<usize>,
    /// `map_name` given to the kernel (at most 15 bytes).
    pub kernel_name: Option<String>,
    /// BTF key/value types (`btf:`), loaded with BPF_BTF_LOAD before the map is created.
    pub btf: MapBtf,
    /// `elf: NAME`: the map is the declaration NAME of `ebpf/declared.c`, created by the
    /// loader with the object (its attributes above are what the case expects of it).
    pub elf: Option<String>,
}

impl MapDef {
    pub fn is_percpu(&self) -> bool {
        self.map_type.is_percpu()
    }

    /// Outer maps whose syscall lookups return map ids.
    pub fn is_map_in_map(&self) -> bool {
        self.map_type.is_map_in_map()
    }

    /// The declaration as bpf(2) would report it, for comparing with a map got from a pin
    /// or by id: `type key_size K value_size V max_entries M`.
    pub fn layout(&self) -> String {
        format!(
            "{} key_size {} value_size {} max_entries {}",
            self.map_type, self.key_size, self.value_size, self.max_entries
        )
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub op: Op,
    pub expect: Option<Expect>,
    /// Line of the step in its file, for messages.
    pub line: u64,
    /// The step's label in results and snapshots ([`Op::describe`]), made with the case:
    /// the guest parses cases on a thread of their own, so the executor only copies it.
    pub label: String,
}

impl Step {
    pub fn new(op: Op, expect: Option<Expect>, line: u64, maps: &[MapDef]) -> Step {
        let label = op.describe(maps);
        Step {
            op,
            expect,
            line,
            label,
        }
    }
}

/// One operation. Map fields are indices into [`Case::maps`].
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        map: usize,
    },
    Update {
        map: usize,
        key: Datum,
        value: Datum,
        flags: ElemFlags,
    },
    Lookup {
        map: usize,
        key: Datum,
        flags: ElemFlags,
    },
    /// `key: None` passes a NULL key (maps without keys).
    Delete {
        map: usize,
        key: Option<Datum>,
    },
    GetNextKey {
        map: usize,
        key: Option<Datum>,
    },
    LookupAndDelete {
        map: usize,
        key: Option<Datum>,
        flags: ElemFlags,
    },
    /// Queue/stack/bloom filter: update with a NULL key.
    Push {
        map: usize,
        value: Datum,
        flags: ElemFlags,
    },
    /// Queue/stack: lookup_and_delete with a NULL key.
    Pop {
        map: usize,
    },
    /// Queue/stack/bloom filter: lookup with a NULL key (bloom: `value` is the one checked).
    Peek {
        map: usize,
        value: Option<Datum>,
    },
    /// Every entry, found with get_next_key from NULL and lookup, sorted by key.
    Dump {
        map: usize,
    },
    Close {
        map: usize,
    },
    Freeze {
        map: usize,
    },
    UpdateBatch {
        map: usize,
        entries: Vec<(Datum, Datum)>,
        flags: ElemFlags,
    },
    /// Every entry through BPF_MAP_LOOKUP_BATCH in batches of `batch`, sorted by key.
    LookupBatch {
        map: usize,
        batch: u32,
        flags: ElemFlags,
    },
    LookupAndDeleteBatch {
        map: usize,
        batch: u32,
        flags: ElemFlags,
    },
    DeleteBatch {
        map: usize,
        keys: Vec<Datum>,
    },
    /// A helper call made by an XDP program through BPF_PROG_TEST_RUN. `program` names the
    /// loaded instance, so two programs can share one map.
    Prog {
        map: usize,
        program: String,
        call: ProgCall,
    },
    /// Attach the xdp_stats program to `lo`, send `packets` UDP packets, detach.
    Traffic {
        map: usize,
        packets: u32,
    },
    /// Frames sent on veth `dev`'s peer, redirected by an XDP program on `dev` with
    /// bpf_redirect_map(map, key); counted where they arrive.
    Redirect {
        map: usize,
        key: u32,
        /// The veth object (index, and its name for labels).
        dev: usize,
        dev_name: String,
        packets: u32,
    },
    /// BPF_OBJ_PIN; a relative path is below the case's own folder on bpffs.
    Pin {
        map: usize,
        path: String,
    },
    /// BPF_OBJ_GET; the fd becomes the map's fd (replacing any it had).
    GetPinned {
        map: usize,
        path: String,
    },
    /// BPF_MAP_GET_FD_BY_ID with the id the map had when it was created or last got.
    GetById {
        map: usize,
    },
    /// BPF_OBJ_GET_INFO_BY_FD: the map as the kernel reports it.
    Info {
        map: usize,
    },
    /// The map's memory through mmap(2) of its fd (one mapping per map at a time).
    Mmap {
        map: usize,
        call: MmapCall,
    },
    /// Socket maps: a program of `ebpf/sockets.c` attached to the map (detached when the
    /// case ends); see [`super::sockets`].
    AttachToMap {
        map: usize,
        attach: Attach,
    },
    /// Bytes sent on one object and what arrives on others (a step on objects alone).
    Send(Send),
    /// A cgroup_skb program on a case's cgroup, traffic from it, or its test run.
    Cgroup {
        call: CgroupCall,
    },
}

/// A cgroup_skb program and a case's `cgroup` object (README "Cgroup programs").
#[derive(Debug, Clone)]
pub enum CgroupCall {
    /// Load `ebpf/cgroup_skb.c` bound to `map` and attach it (a BPF link) to `cgroup` at
    /// `attach_type`; detached when the case ends, whatever happened.
    Attach {
        map: usize,
        cgroup: CgroupRef,
        attach_type: AttachType,
    },
    /// Drop the link an `Attach` with the same arguments made.
    Detach {
        map: usize,
        cgroup: CgroupRef,
        attach_type: AttachType,
    },
    /// A child process made in `cgroup` (clone3 CLONE_INTO_CGROUP) sends `packets` UDP
    /// packets over loopback to a socket of its own, receives them, and exits.
    Send { cgroup: CgroupRef, packets: u32 },
    /// The same program bound to `map`, run `repeat` times by one BPF_PROG_TEST_RUN.
    TestRun { map: usize, repeat: u32 },
}

/// A step's `cgroup:` object: its index in the case's `objects:` and its name.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupRef {
    pub index: usize,
    pub name: String,
}

impl CgroupCall {
    fn describe(&self, m: &str) -> String {
        match self {
            CgroupCall::Attach {
                cgroup, attach_type, ..
            } => format!("attach_to_cgroup {} at {attach_type} counting in {m}", cgroup.name),
            CgroupCall::Detach {
                cgroup, attach_type, ..
            } => format!("detach_from_cgroup {} at {attach_type} ({m})", cgroup.name),
            CgroupCall::Send { cgroup, packets } => format!("send_from_cgroup {} packets={packets}", cgroup.name),
            CgroupCall::TestRun { repeat, .. } => format!("cgroup_skb_test_run on {m} repeat={repeat}"),
        }
    }
}

/// What an mmap step does with the map's mapping.
#[derive(Debug, Clone)]
pub enum MmapCall {
    /// mmap(2) (replacing the map's mapping, if any). `length: None`: the map's whole
    /// mappable size from `offset` (see the executor).
    Map {
        prot: Prot,
        offset: u64,
        length: Option<u64>,
        shared: bool,
    },
    Unmap,
    Protect {
        prot: Prot,
    },
    Read {
        offset: u64,
        size: u32,
    },
    Write {
        offset: u64,
        value: Datum,
    },
    /// Read the ring buffer's available records as libbpf's ring_buffer__consume() does
    /// (its own two mappings) and advance the consumer position past them.
    RingbufConsume,
}

impl MmapCall {
    fn describe(&self, m: &str) -> String {
        match self {
            MmapCall::Map {
                prot,
                offset,
                length,
                shared,
            } => {
                let length = length.map_or_else(|| "all".to_string(), |l| l.to_string());
                let private = if *shared { "" } else { " private" };
                format!(
                    "mmap {m} prot={} offset={offset} length={length}{private}",
                    prot.names()
                )
            }
            MmapCall::Unmap => format!("munmap {m}"),
            MmapCall::Protect { prot } => format!("mprotect {m} prot={}", prot.names()),
            MmapCall::Read { offset, size } => format!("mmap_read {m} offset={offset} size={size}"),
            MmapCall::Write { offset, value } => format!("mmap_write {m} offset={offset} value={value}"),
            MmapCall::RingbufConsume => format!("ringbuf_consume {m}"),
        }
    }
}

/// The helper an XDP program calls, with its arguments.
#[derive(Debug, Clone)]
pub enum ProgCall {
    Lookup {
        key: Datum,
    },
    Update {
        key: Datum,
        value: Datum,
        flags: u64,
    },
    Delete {
        key: Datum,
    },
    /// bpf_map_push_elem (queue, stack; bloom filter: add).
    Push {
        value: Datum,
        flags: u64,
    },
    Pop,
    /// bpf_map_peek_elem (queue, stack; bloom filter: check `value`).
    Peek {
        value: Option<Datum>,
    },
    /// `keep`: leave the record in the ring (for `ringbuf_consume`) instead of reading it.
    RingbufOutput {
        data: Datum,
        flags: u64,
        keep: bool,
    },
    ForEach {
        flags: u64,
    },
    LookupPercpu {
        key: Datum,
        cpu: u32,
    },
    /// bpf_get_stackid(ctx, map, flags) from a raw tracepoint program run with
    /// BPF_PROG_TEST_RUN (the kernel stack is the test run's own call chain).
    GetStackid {
        flags: u64,
    },
    /// bpf_current_task_under_cgroup(map, index) from a raw tracepoint program run with
    /// BPF_PROG_TEST_RUN (`current` is the harness's task).
    CurrentTaskUnderCgroup {
        index: u32,
    },
    /// bpf_user_ringbuf_drain (user_ringbuf maps).
    UserRingbufDrain {
        flags: u64,
    },
    /// bpf_redirect_map(key, flags): its return, an XDP action.
    RedirectMap {
        key: Datum,
        flags: u64,
    },
    /// bpf_tail_call(key) through a prog_array: the run's XDP action.
    TailCall {
        key: Datum,
    },
    /// bpf_perf_event_output at `index` (None: BPF_F_CURRENT_CPU) with `data`.
    PerfEventOutput {
        data: Datum,
        index: Option<u32>,
    },
}

impl ProgCall {
    fn describe(&self) -> String {
        let flags = |f: &u64| match f {
            0 => String::new(),
            f => format!(" flags={}", ElemFlags(*f).names()),
        };
        match self {
            ProgCall::Lookup { key } => format!("lookup key={key}"),
            ProgCall::Update { key, value, flags: f } => format!("update key={key} value={value}{}", flags(f)),
            ProgCall::Delete { key } => format!("delete key={key}"),
            ProgCall::Push { value, flags: f } => format!("push value={value}{}", flags(f)),
            ProgCall::Pop => "pop".into(),
            ProgCall::Peek { value: None } => "peek".into(),
            ProgCall::Peek { value: Some(v) } => format!("peek value={v}"),
            ProgCall::RingbufOutput { data, flags: f, keep } => {
                format!(
                    "ringbuf_output data={data} flags={f}{}",
                    if *keep { " keep" } else { "" }
                )
            }
            ProgCall::ForEach { flags: f } => format!("for_each flags={f}"),
            ProgCall::LookupPercpu { key, cpu } => format!("lookup_percpu key={key} cpu={cpu}"),
            ProgCall::GetStackid { flags: f } => format!("get_stackid flags={f:#x}"),
            ProgCall::CurrentTaskUnderCgroup { index } => format!("current_task_under_cgroup index={index}"),
            ProgCall::UserRingbufDrain { flags: f } => format!("user_ringbuf_drain flags={f}"),
            ProgCall::RedirectMap { key, flags } => format!("redirect_map key={key} flags={flags}"),
            ProgCall::TailCall { key } => format!("tail_call key={key}"),
            ProgCall::PerfEventOutput { data, index } => match index {
                Some(i) => format!("perf_event_output index={i} data={data}"),
                None => format!("perf_event_output index=current_cpu data={data}"),
            },
        }
    }
}

impl Op {
    /// The map the step operates on; `None` for a step on objects alone
    /// (`send_from_cgroup`).
    pub fn map(&self) -> Option<usize> {
        Some(match self {
            Op::Cgroup {
                call: CgroupCall::Send { .. },
            } => return None,
            Op::Cgroup {
                call: CgroupCall::Attach { map, .. } | CgroupCall::Detach { map, .. } | CgroupCall::TestRun { map, .. },
            } => *map,
            Op::Send(_) => return None,
            Op::Create { map }
            | Op::Update { map, .. }
            | Op::Lookup { map, .. }
            | Op::Delete { map, .. }
            | Op::GetNextKey { map, .. }
            | Op::LookupAndDelete { map, .. }
            | Op::Push { map, .. }
            | Op::Pop { map }
            | Op::Peek { map, .. }
            | Op::Dump { map }
            | Op::Close { map }
            | Op::Freeze { map }
            | Op::UpdateBatch { map, .. }
            | Op::LookupBatch { map, .. }
            | Op::LookupAndDeleteBatch { map, .. }
            | Op::DeleteBatch { map, .. }
            | Op::Prog { map, .. }
            | Op::Traffic { map, .. }
            | Op::Redirect { map, .. }
            | Op::Pin { map, .. }
            | Op::GetPinned { map, .. }
            | Op::GetById { map }
            | Op::Info { map }
            | Op::Mmap { map, .. }
            | Op::AttachToMap { map, .. } => *map,
        })
    }

    /// Every key and value the step carries, in order.
    pub fn data(&self) -> Vec<&Datum> {
        match self {
            Op::Update { key, value, .. } => vec![key, value],
            Op::Lookup { key, .. } => vec![key],
            Op::Delete { key, .. } | Op::GetNextKey { key, .. } | Op::LookupAndDelete { key, .. } => {
                key.iter().collect()
            }
            Op::Push { value, .. } => vec![value],
            Op::Peek { value, .. } => value.iter().collect(),
            Op::UpdateBatch { entries, .. } => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
            Op::DeleteBatch { keys, .. } => keys.iter().collect(),
            Op::Prog { call, .. } => match call {
                ProgCall::Lookup { key }
                | ProgCall::Delete { key }
                | ProgCall::LookupPercpu { key, .. }
                | ProgCall::RedirectMap { key, .. }
                | ProgCall::TailCall { key } => vec![key],
                ProgCall::PerfEventOutput { data, .. } => vec![data],
                ProgCall::Update { key, value, .. } => vec![key, value],
                ProgCall::Push { value, .. } => vec![value],
                ProgCall::Peek { value } => value.iter().collect(),
                ProgCall::RingbufOutput { data, .. } => vec![data],
                ProgCall::Pop
                | ProgCall::ForEach { .. }
                | ProgCall::GetStackid { .. }
                | ProgCall::CurrentTaskUnderCgroup { .. }
                | ProgCall::UserRingbufDrain { .. } => Vec::new(),
            },
            Op::Mmap {
                call: MmapCall::Write { value, .. },
                ..
            } => vec![value],
            Op::Create { .. }
            | Op::Pop { .. }
            | Op::Dump { .. }
            | Op::Close { .. }
            | Op::Freeze { .. }
            | Op::LookupBatch { .. }
            | Op::LookupAndDeleteBatch { .. }
            | Op::Traffic { .. }
            | Op::Redirect { .. }
            | Op::Pin { .. }
            | Op::GetPinned { .. }
            | Op::GetById { .. }
            | Op::Info { .. }
            | Op::Cgroup { .. }
            | Op::Mmap { .. }
            | Op::AttachToMap { .. }
            | Op::Send(_) => Vec::new(),
        }
    }

    /// A one-line description such as `update m key=1 value=100 flags=noexist`, used as the
    /// step's label in results and snapshots.
    pub fn describe(&self, maps: &[MapDef]) -> String {
        let m = self.map().and_then(|i| maps.get(i)).map_or("", |d| d.name.as_str());
        let flags = |f: &ElemFlags| match *f {
            ElemFlags::ANY => String::new(),
            f => format!(" flags={}", f.names()),
        };
        match self {
            Op::Create { .. } => format!("create {m}"),
            Op::Update {
                key, value, flags: f, ..
            } => format!("update {m} key={key} value={value}{}", flags(f)),
            Op::Lookup { key, flags: f, .. } => format!("lookup {m} key={key}{}", flags(f)),
            Op::Delete { key: Some(key), .. } => format!("delete {m} key={key}"),
            Op::Delete { key: None, .. } => format!("delete {m} key=NULL"),
            Op::GetNextKey { key: None, .. } => format!("get_next_key {m} from=NULL"),
            Op::GetNextKey { key: Some(k), .. } => format!("get_next_key {m} from={k}"),
            Op::LookupAndDelete {
                key: None, flags: f, ..
            } => format!("lookup_and_delete {m} key=NULL{}", flags(f)),
            Op::LookupAndDelete {
                key: Some(k), flags: f, ..
            } => format!("lookup_and_delete {m} key={k}{}", flags(f)),
            Op::Push { value, flags: f, .. } => format!("push {m} value={value}{}", flags(f)),
            Op::Pop { .. } => format!("pop {m}"),
            Op::Peek { value: None, .. } => format!("peek {m}"),
            Op::Peek { value: Some(v), .. } => format!("peek {m} value={v}"),
            Op::Dump { .. } => format!("dump {m}"),
            Op::Close { .. } => format!("close {m}"),
            Op::Freeze { .. } => format!("freeze {m}"),
            Op::UpdateBatch { entries, flags: f, .. } => {
                let e: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("update_batch {m} [{}]{}", e.join(" "), flags(f))
            }
            Op::LookupBatch { batch, flags: f, .. } => format!("lookup_batch {m} batch={batch}{}", flags(f)),
            Op::LookupAndDeleteBatch { batch, flags: f, .. } => {
                format!("lookup_and_delete_batch {m} batch={batch}{}", flags(f))
            }
            Op::DeleteBatch { keys, .. } => {
                let k: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                format!("delete_batch {m} [{}]", k.join(" "))
            }
            Op::Prog { program, call, .. } => format!("prog[{program}] {} on {m}", call.describe()),
            Op::Traffic { packets, .. } => format!("traffic {packets} packets on lo counted in {m}"),
            Op::Redirect {
                key, dev_name, packets, ..
            } => format!("redirect {packets} frames arriving on {dev_name} with {m} key={key}"),
            Op::Pin { path, .. } => format!("pin {m} at {path}"),
            Op::GetPinned { path, .. } => format!("get_pinned {m} from {path}"),
            Op::GetById { .. } => format!("get_by_id {m}"),
            Op::Info { .. } => format!("info {m}"),
            Op::Mmap { call, .. } => call.describe(m),
            Op::Cgroup { call } => call.describe(m),
            Op::AttachToMap { attach: a, .. } => format!(
                "attach_to_map {m} {} as {} redirect key={} flags={}",
                a.program.name(),
                crate::uapi::SOCK_ATTACH_TYPES.name(a.attach_type.0).unwrap_or("?"),
                a.key,
                crate::uapi::REDIRECT_FLAGS
                    .name(a.flags.0)
                    .map_or_else(|| a.flags.0.to_string(), str::to_string)
            ),
            Op::Send(send) => send.describe(),
        }
    }
}

/// An invariant a step's result must satisfy on every kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Ok,
    Errno(Errno),
    Value(Datum),
    Key(Datum),
    Entries(Vec<(Datum, Datum)>),
    /// A program step: the helper's return code and, if given, the value it produced.
    Ret {
        ret: i64,
        value: Option<Datum>,
    },
}

impl Expect {
    /// Resolve the map and object references (`{map_fd: NAME}`, `{fd: NAME}`) of the
    /// expected data.
    pub fn resolve_names(&mut self, names: Declared) -> Result<(), String> {
        match self {
            Expect::Ok | Expect::Errno(_) | Expect::Ret { value: None, .. } => Ok(()),
            Expect::Value(d) | Expect::Key(d) | Expect::Ret { value: Some(d), .. } => d.resolve_names(names),
            Expect::Entries(entries) => entries.iter_mut().try_for_each(|(k, v)| {
                k.resolve_names(names)?;
                v.resolve_names(names)
            }),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok => write!(f, "ok"),
            Expect::Errno(e) => write!(f, "{e}"),
            Expect::Value(v) => write!(f, "value {v}"),
            Expect::Key(k) => write!(f, "key {k}"),
            Expect::Entries(e) => {
                let parts: Vec<String> = e.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "entries [{}]", parts.join(" "))
            }
            Expect::Ret { ret, value: None } => write!(f, "ret {}", Ret(*ret)),
            Expect::Ret { ret, value: Some(v) } => write!(f, "ret {} value {v}", Ret(*ret)),
        }
    }
}
