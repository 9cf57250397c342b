//! [`Programs`]: loads test programs lazily, one per (map, family), and runs ops.

use std::{collections::HashMap, os::fd::AsFd as _};

use aya::{
    maps::{Map, MapData, RingBuf},
    programs::{ProgramError, RawTracePoint, RawTracePointRunOptions, TestRun, TestRunOptions, Xdp},
    Ebpf,
};

use super::{
    bind::load_bound,
    error::one_line,
    objects::{self, ProgramKind},
    request::{self, OpCode, Request, MAX_KEY, MAX_VALUE, REQ_SIZE},
    Family, MapRef, ProgError, ProgOp, ProgOutcome,
};
use crate::bpf::sys;

/// XDP_PASS: what the programs return once they have run the op.
const XDP_PASS: u32 = 2;

struct Loaded {
    ebpf: Ebpf,
    program: &'static str,
}

impl Loaded {
    /// The loaded object's program as its type (`Xdp`, `RawTracePoint`).
    fn program<'a, P>(&'a self) -> Result<&'a P, ProgError>
    where
        &'a P: TryFrom<&'a aya::programs::Program, Error = ProgramError>,
    {
        let program = self.ebpf.program(self.program).expect("program present after load");
        program.try_into().map_err(|e: ProgramError| ProgError::Other(one_line(&e)))
    }
}

/// A failed BPF_PROG_TEST_RUN: the kernel's errno, or what else went wrong.
fn run_error(e: ProgramError) -> ProgError {
    match super::error::errno_of(&e) {
        Some(errno) => ProgError::Run { errno },
        None => ProgError::Other(one_line(&e)),
    }
}

/// The programs loaded for one case. Each (map, family) is loaded on first use and
/// kept until the `Programs` is dropped (which unloads them; pins are removed right
/// after each load). A failed load is remembered and returned again.
#[derive(Default)]
pub struct Programs {
    loaded: HashMap<(u32, Family), Result<Loaded, ProgError>>,
}

impl std::fmt::Debug for Programs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Programs")
            .field("loaded", &self.loaded.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Programs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads (if not yet loaded) the program of `family` bound to `map`. Useful to
    /// check that a family loads (e.g. the helper exists) without running anything.
    pub fn prepare(&mut self, map: &MapRef<'_>, family: Family) -> Result<(), ProgError> {
        self.get(map, family).map(|_| ())
    }

    fn get(&mut self, map: &MapRef<'_>, family: Family) -> Result<&Loaded, ProgError> {
        let id = map_id(map)?;
        let entry = self.loaded.entry((id, family)).or_insert_with(|| load(map, family));
        entry.as_ref().map_err(Clone::clone)
    }

    /// Takes a program [`preload`]ed for one of this case's maps: its first run then
    /// loads nothing.
    pub fn adopt(&mut self, preloaded: Preloaded) {
        self.loaded.insert((preloaded.map_id, preloaded.family), preloaded.loaded);
    }

    /// Runs `op` on `map` through the family's program with BPF_PROG_TEST_RUN.
    pub fn run(&mut self, map: &MapRef<'_>, op: &ProgOp) -> Result<ProgOutcome, ProgError> {
        // Harness limits (sizes of the request record), not kernel checks.
        if map.key_size as usize > MAX_KEY || map.value_size as usize > MAX_VALUE {
            return Err(ProgError::Other(format!(
                "map key/value size {}/{} exceeds the program buffers ({MAX_KEY}/{MAX_VALUE})",
                map.key_size, map.value_size
            )));
        }
        match op {
            ProgOp::GetStackid { flags } => return self.raw_tracepoint(map, Family::Stackid, *flags),
            ProgOp::CurrentTaskUnderCgroup { index } => {
                return self.raw_tracepoint(map, Family::UnderCgroup, u64::from(*index))
            }
            _ => {}
        }
        let empty: &[u8] = &[];
        let (opcode, key, value, flags, cpu, len) = match op {
            ProgOp::GetStackid { .. } | ProgOp::CurrentTaskUnderCgroup { .. } => {
                unreachable!("run by raw_tracepoint")
            }
            ProgOp::Lookup { key } => (OpCode::Lookup, key.as_slice(), empty, 0, 0, 0),
            ProgOp::Update { key, value, flags } => (OpCode::Update, key.as_slice(), value.as_slice(), *flags, 0, 0),
            ProgOp::Delete { key } => (OpCode::Delete, key.as_slice(), empty, 0, 0, 0),
            ProgOp::Push { value, flags } | ProgOp::BloomAdd { value, flags } => {
                (OpCode::Push, empty, value.as_slice(), *flags, 0, 0)
            }
            ProgOp::Pop => (OpCode::Pop, empty, empty, 0, 0, 0),
            ProgOp::Peek => (OpCode::Peek, empty, empty, 0, 0, 0),
            ProgOp::BloomCheck { value } => (OpCode::Peek, empty, value.as_slice(), 0, 0, 0),
            ProgOp::RingbufOutput { data, flags, .. } => (
                OpCode::RingbufOutput,
                empty,
                data.as_slice(),
                *flags,
                0,
                data.len() as u32,
            ),
            ProgOp::ForEach => (OpCode::ForEach, empty, empty, 0, 0, 0),
            ProgOp::ForEachFlags { flags } => (OpCode::ForEach, empty, empty, *flags, 0, 0),
            ProgOp::LookupPercpu { key, cpu } => (OpCode::LookupPercpu, key.as_slice(), empty, 0, *cpu, 0),
            ProgOp::UserRingbufDrain { flags } => (OpCode::UserRingbufDrain, empty, empty, *flags, 0, 0),
            ProgOp::SockLookup { key } => (OpCode::Lookup, key.as_slice(), empty, 0, 0, 0),
            ProgOp::SockDelete { key } => (OpCode::Delete, key.as_slice(), empty, 0, 0, 0),
            ProgOp::SockUpdate { key, source, flags } => {
                (OpCode::Update, key.as_slice(), source.as_slice(), *flags, 0, 0)
            }
            ProgOp::RedirectMap { key, flags } => (OpCode::RedirectMap, key.as_slice(), empty, *flags, 0, 0),
            ProgOp::TailCall { key } => (OpCode::TailCall, key.as_slice(), empty, 0, 0, 0),
            ProgOp::PerfEventOutput { data, flags } => (
                OpCode::PerfEventOutput,
                empty,
                data.as_slice(),
                *flags,
                0,
                data.len() as u32,
            ),
        };
        let packet = Request {
            op: opcode,
            flags,
            cpu,
            len,
            key,
            value,
        }
        .encode()
        .map_err(|e| ProgError::Other(e.to_string()))?;

        let loaded = self.get(map, op.family())?;
        let prog: &Xdp = loaded.program()?;
        let mut out = vec![0u8; REQ_SIZE];
        let res = prog
            .test_run(TestRunOptions {
                data_in: Some(&packet),
                data_out: Some(&mut out),
                ..TestRunOptions::new()
            })
            .map_err(run_error)?;
        if let ProgOp::TailCall { .. } = op {
            // The callee's action, or the caller's own after a call that fell through.
            return Ok(ProgOutcome {
                ret: i64::from(res.return_value),
                data: None,
                sum: None,
            });
        }
        if res.return_value != XDP_PASS {
            return Err(ProgError::Other(format!(
                "program returned XDP action {} instead of XDP_PASS: request not executed",
                res.return_value
            )));
        }
        let resp = request::decode(&out[..(res.data_size_out as usize).min(out.len())])
            .map_err(|e| ProgError::Other(e.to_string()))?;

        let mut outcome = ProgOutcome {
            ret: resp.ret,
            data: (!resp.value.is_empty()).then_some(resp.value),
            sum: None,
        };
        match op {
            ProgOp::ForEach | ProgOp::ForEachFlags { .. } | ProgOp::UserRingbufDrain { .. } => {
                outcome.sum = Some(resp.aux)
            }
            ProgOp::RingbufOutput { keep: false, .. } => outcome.data = read_ringbuf(map)?,
            ProgOp::RingbufOutput { keep: true, .. } => outcome.data = None,
            _ => {}
        }
        Ok(outcome)
    }
}

/// The map's id, after checking that `map` describes it.
fn map_id(map: &MapRef<'_>) -> Result<u32, ProgError> {
    let info =
        sys::map_info(map.fd).map_err(|e| ProgError::Other(format!("BPF_OBJ_GET_INFO_BY_FD on the map: {e}")))?;
    if info.value_size != map.value_size || info.key_size != map.key_size {
        return Err(ProgError::Other(format!(
            "MapRef says key/value size {}/{}, the kernel says {}/{}",
            map.key_size, map.value_size, info.key_size, info.value_size
        )));
    }
    Ok(info.id)
}

fn load(map: &MapRef<'_>, family: Family) -> Result<Loaded, ProgError> {
    let object = objects::for_family(family);
    let value_size = map.value_size.to_ne_bytes();
    // The request programs copy values out of the map, so the verifier must know
    // its real value size; the stack id program copies nothing.
    let globals: &[(&'static str, &[u8])] = match object.kind {
        ProgramKind::Xdp => &[("VALUE_SIZE", &value_size)],
        ProgramKind::RawTracepoint | ProgramKind::SocketMap | ProgramKind::CgroupSkb => &[],
    };
    load_bound(object, map.fd, globals).map(|ebpf| Loaded {
        ebpf,
        program: object.program,
    })
}

/// A program loaded for a map before its first run, on whichever thread (and CPU) did it:
/// the verifier's work, the bulk of a program step, does not depend on the CPU, and
/// [`Programs::adopt`] hands it to the runs.
pub struct Preloaded {
    map_id: u32,
    family: Family,
    loaded: Result<Loaded, ProgError>,
}

/// Loads the program of `family` bound to `map` (`None` if the map cannot be described:
/// the run then reports that itself).
pub fn preload(map: &MapRef<'_>, family: Family) -> Option<Preloaded> {
    let map_id = map_id(map).ok()?;
    Some(Preloaded {
        map_id,
        family,
        loaded: load(map, family),
    })
}

/// Takes the oldest unconsumed record of a ring buffer map (None if empty).
fn read_ringbuf(map: &MapRef<'_>) -> Result<Option<Vec<u8>>, ProgError> {
    let fd = map
        .fd
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ProgError::Other(format!("dup: {e}")))?;
    // from_fd asks the kernel for the map's attributes, so the ring size is the real one.
    let data = MapData::from_fd(fd).map_err(|e| ProgError::Other(one_line(&e)))?;
    let map = Map::from_map_data(data).map_err(|e| ProgError::Other(one_line(&e)))?;
    let mut ring = RingBuf::try_from(map).map_err(|e| ProgError::Other(one_line(&e)))?;
    Ok(ring.next().map(|item| item.to_vec()))
}

impl Programs {
    /// The raw tracepoint program of `family` bound to `map` (bpf_get_stackid,
    /// bpf_current_task_under_cgroup), run once with BPF_PROG_TEST_RUN; `arg` (the flags,
    /// the index) travels as the context's first argument. The program's return value is
    /// the helper's (an id or an answer, or a negative errno in 32 bits).
    fn raw_tracepoint(&mut self, map: &MapRef<'_>, family: Family, arg: u64) -> Result<ProgOutcome, ProgError> {
        let loaded = self.get(map, family)?;
        let prog: &RawTracePoint = loaded.program()?;
        let mut options = RawTracePointRunOptions::new();
        options.args[0] = arg;
        let res = prog.test_run(options).map_err(run_error)?;
        Ok(ProgOutcome {
            ret: i64::from(res.return_value as i32),
            data: None,
            sum: None,
        })
    }
}
