//! Host-kernel tests of the program layer (harness/src/prog). They need root and a
//! kernel that allows bpf(2): without them every test FAILS with the reason.
//!
//! Maps are created, written and read with raw bpf(2) here (not through the code under
//! test), so each round trip checks program→syscall and syscall→program.

use std::{
    io, mem,
    os::fd::{AsFd as _, FromRawFd as _, OwnedFd},
    sync::OnceLock,
};

use aya_obj::generated::{bpf_attr, bpf_cmd};
use mapconform::prog::{count_traffic, DataRec, MapRef, ProgError, ProgOp, ProgOutcome, Programs, FRAME_BYTES};

// ---- raw bpf(2) ----------------------------------------------------------------------

const HASH: u32 = 1;
const ARRAY: u32 = 2;
const PERCPU_HASH: u32 = 5;
const PERCPU_ARRAY: u32 = 6;
const LRU_HASH: u32 = 9;
const LPM_TRIE: u32 = 11;
const QUEUE: u32 = 22;
const STACK: u32 = 23;
const RINGBUF: u32 = 27;
const BLOOM_FILTER: u32 = 30;

const BPF_ANY: u64 = 0;
const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_F_ZERO_SEED: u32 = 1 << 6;

const ENOENT: i64 = libc::ENOENT as i64;
const EEXIST: i64 = libc::EEXIST as i64;
const EINVAL: i64 = libc::EINVAL as i64;
const E2BIG: i64 = libc::E2BIG as i64;

fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i64> {
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            mem::size_of::<bpf_attr>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

struct TestMap {
    fd: OwnedFd,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
}

impl TestMap {
    fn create(map_type: u32, key_size: u32, value_size: u32, max_entries: u32, flags: u32) -> Self {
        let mut attr: bpf_attr = unsafe { mem::zeroed() };
        let a = unsafe { &mut attr.__bindgen_anon_1 };
        a.map_type = map_type;
        a.key_size = key_size;
        a.value_size = value_size;
        a.max_entries = max_entries;
        a.map_flags = flags;
        let fd = sys_bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr).unwrap_or_else(|e| {
            panic!("BPF_MAP_CREATE type {map_type} {key_size}/{value_size}/{max_entries} flags {flags:#x}: {e}")
        });
        Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd as i32) },
            map_type,
            key_size,
            value_size,
            max_entries,
        }
    }

    fn map_ref(&self) -> MapRef<'_> {
        MapRef {
            fd: self.fd.as_fd(),
            map_type: self.map_type,
            key_size: self.key_size,
            value_size: self.value_size,
            max_entries: self.max_entries,
        }
    }

    fn elem(&self, cmd: bpf_cmd, key: Option<&[u8]>, value: Option<*mut u8>, flags: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd as _;
        let mut attr: bpf_attr = unsafe { mem::zeroed() };
        let a = unsafe { &mut attr.__bindgen_anon_2 };
        a.map_fd = self.fd.as_raw_fd() as u32;
        a.key = key.map_or(0, |k| k.as_ptr() as u64);
        a.__bindgen_anon_1.value = value.map_or(0, |v| v as u64);
        a.flags = flags;
        sys_bpf(cmd, &mut attr).map(drop)
    }

    fn value_len(&self) -> usize {
        if matches!(self.map_type, PERCPU_HASH | PERCPU_ARRAY) {
            (self.value_size as usize).div_ceil(8) * 8 * ncpus()
        } else {
            self.value_size as usize
        }
    }

    /// BPF_MAP_UPDATE_ELEM (key None for queue/stack/bloom).
    fn update(&self, key: Option<&[u8]>, value: &[u8], flags: u64) {
        let mut v = value.to_vec();
        self.elem(bpf_cmd::BPF_MAP_UPDATE_ELEM, key, Some(v.as_mut_ptr()), flags)
            .unwrap_or_else(|e| panic!("syscall update: {e}"));
    }

    /// BPF_MAP_LOOKUP_ELEM; Err(errno).
    fn lookup(&self, key: Option<&[u8]>) -> Result<Vec<u8>, i32> {
        let mut v = vec![0u8; self.value_len()];
        self.elem(bpf_cmd::BPF_MAP_LOOKUP_ELEM, key, Some(v.as_mut_ptr()), 0)
            .map(|()| v)
            .map_err(|e| e.raw_os_error().unwrap())
    }

    /// Bloom filter check from user space: the value is an input.
    fn bloom_check(&self, value: &[u8]) -> Result<(), i32> {
        let mut v = value.to_vec();
        self.elem(bpf_cmd::BPF_MAP_LOOKUP_ELEM, None, Some(v.as_mut_ptr()), 0)
            .map_err(|e| e.raw_os_error().unwrap())
    }
}

fn ncpus() -> usize {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    let s = s.trim();
    s.split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// Fails loudly (never skips) when this host cannot run the tests.
fn require_bpf() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = CHECK.get_or_init(|| {
        if unsafe { libc::geteuid() } != 0 {
            return Err("prog_host tests must run as root (bpf(2), bpffs mount, XDP attach)".into());
        }
        let mut attr: bpf_attr = unsafe { mem::zeroed() };
        let a = unsafe { &mut attr.__bindgen_anon_1 };
        a.map_type = ARRAY;
        a.key_size = 4;
        a.value_size = 4;
        a.max_entries = 1;
        match sys_bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr) {
            Ok(fd) => {
                unsafe { libc::close(fd as i32) };
                Ok(())
            }
            Err(e) => Err(format!("bpf(BPF_MAP_CREATE) is not allowed on this host: {e}")),
        }
    });
    if let Err(reason) = r {
        panic!("cannot run the host BPF tests: {reason}");
    }
}

fn ok(ret: i64) -> ProgOutcome {
    ProgOutcome {
        ret,
        data: None,
        sum: None,
    }
}
fn found(v: &[u8]) -> ProgOutcome {
    ProgOutcome {
        ret: 1,
        data: Some(v.to_vec()),
        sum: None,
    }
}
fn got(ret: i64, v: &[u8]) -> ProgOutcome {
    ProgOutcome {
        ret,
        data: Some(v.to_vec()),
        sum: None,
    }
}

fn run(p: &mut Programs, m: &TestMap, op: ProgOp) -> ProgOutcome {
    p.run(&m.map_ref(), &op).unwrap_or_else(|e| panic!("{op:?}: {e}"))
}

fn u32k(k: u32) -> Vec<u8> {
    k.to_ne_bytes().to_vec()
}
fn u64v(v: u64) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

// ---- keyed maps ----------------------------------------------------------------------

#[test]
fn keyed_hash_round_trip() {
    require_bpf();
    let m = TestMap::create(HASH, 4, 8, 16, 0);
    let mut p = Programs::new();
    // program writes, syscall reads
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(1),
                value: u64v(11),
                flags: BPF_ANY
            }
        ),
        ok(0)
    );
    assert_eq!(m.lookup(Some(&u32k(1))), Ok(u64v(11)));
    // syscall writes, program reads
    m.update(Some(&u32k(2)), &u64v(22), BPF_ANY);
    assert_eq!(run(&mut p, &m, ProgOp::Lookup { key: u32k(2) }), found(&u64v(22)));
    // NULL lookup, flags, delete
    assert_eq!(run(&mut p, &m, ProgOp::Lookup { key: u32k(3) }), ok(0));
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(2),
                value: u64v(0),
                flags: BPF_NOEXIST
            }
        ),
        ok(-EEXIST)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(3),
                value: u64v(0),
                flags: BPF_EXIST
            }
        ),
        ok(-ENOENT)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(3),
                value: u64v(0),
                flags: 99
            }
        ),
        ok(-EINVAL)
    );
    assert_eq!(run(&mut p, &m, ProgOp::Delete { key: u32k(1) }), ok(0));
    assert_eq!(m.lookup(Some(&u32k(1))), Err(libc::ENOENT));
    assert_eq!(run(&mut p, &m, ProgOp::Delete { key: u32k(1) }), ok(-ENOENT));
}

#[test]
fn keyed_largest_key_and_value() {
    require_bpf();
    let m = TestMap::create(HASH, 256, 1024, 4, 0);
    let mut p = Programs::new();
    let key: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let value: Vec<u8> = (0..1024).map(|i| (i * 7) as u8).collect();
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: key.clone(),
                value: value.clone(),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(m.lookup(Some(&key)), Ok(value.clone()));
    let v2: Vec<u8> = value.iter().map(|b| !b).collect();
    m.update(Some(&key), &v2, BPF_EXIST);
    assert_eq!(run(&mut p, &m, ProgOp::Lookup { key }), found(&v2));
}

#[test]
fn keyed_array_odd_value_size() {
    require_bpf();
    let m = TestMap::create(ARRAY, 4, 12, 4, 0);
    let mut p = Programs::new();
    let v = b"twelve bytes".to_vec();
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(3),
                value: v.clone(),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(m.lookup(Some(&u32k(3))), Ok(v.clone()));
    assert_eq!(run(&mut p, &m, ProgOp::Lookup { key: u32k(0) }), found(&[0; 12]));
    assert_eq!(run(&mut p, &m, ProgOp::Lookup { key: u32k(4) }), ok(0));
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(4),
                value: v.clone(),
                flags: 0
            }
        ),
        ok(-E2BIG)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(1),
                value: v,
                flags: BPF_NOEXIST
            }
        ),
        ok(-EEXIST)
    );
    assert_eq!(run(&mut p, &m, ProgOp::Delete { key: u32k(1) }), ok(-EINVAL));
}

#[test]
fn keyed_lru_and_percpu_array() {
    require_bpf();
    let lru = TestMap::create(LRU_HASH, 4, 8, 16, 0);
    let mut p = Programs::new();
    assert_eq!(
        run(
            &mut p,
            &lru,
            ProgOp::Update {
                key: u32k(5),
                value: u64v(55),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(lru.lookup(Some(&u32k(5))), Ok(u64v(55)));

    // A program's update of a per-CPU map writes the slot of the CPU it runs on.
    let pa = TestMap::create(PERCPU_ARRAY, 4, 8, 2, 0);
    assert_eq!(
        run(
            &mut p,
            &pa,
            ProgOp::Update {
                key: u32k(1),
                value: u64v(7),
                flags: 0
            }
        ),
        ok(0)
    );
    let all = pa.lookup(Some(&u32k(1))).unwrap();
    let slots: Vec<u64> = all
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(slots.len(), ncpus());
    assert_eq!(slots.iter().filter(|&&s| s == 7).count(), 1, "slots {slots:?}");
    assert_eq!(
        slots.iter().filter(|&&s| s == 0).count(),
        ncpus() - 1,
        "slots {slots:?}"
    );
}

#[test]
fn keyed_lpm_trie() {
    require_bpf();
    // key: struct bpf_lpm_trie_key { __u32 prefixlen; __u8 data[4]; }
    let m = TestMap::create(LPM_TRIE, 8, 8, 16, BPF_F_NO_PREALLOC);
    let key = |plen: u32, ip: [u8; 4]| -> Vec<u8> {
        let mut k = plen.to_ne_bytes().to_vec();
        k.extend_from_slice(&ip);
        k
    };
    let mut p = Programs::new();
    m.update(Some(&key(8, [10, 0, 0, 0])), &u64v(8), 0);
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Lookup {
                key: key(32, [10, 1, 2, 3])
            }
        ),
        found(&u64v(8))
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: key(16, [10, 1, 0, 0]),
                value: u64v(16),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(m.lookup(Some(&key(32, [10, 1, 2, 3]))), Ok(u64v(16)));
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Lookup {
                key: key(32, [11, 1, 2, 3])
            }
        ),
        ok(0)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Delete {
                key: key(16, [10, 1, 0, 0])
            }
        ),
        ok(0)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Lookup {
                key: key(32, [10, 1, 2, 3])
            }
        ),
        found(&u64v(8))
    );
}

// ---- queue / stack / bloom --------------------------------------------------------------

#[test]
fn queue_round_trip() {
    require_bpf();
    let m = TestMap::create(QUEUE, 0, 8, 2, 0);
    let mut p = Programs::new();
    assert_eq!(run(&mut p, &m, ProgOp::Pop), ok(-ENOENT));
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Push {
                value: u64v(1),
                flags: 0
            }
        ),
        ok(0)
    );
    m.update(None, &u64v(2), 0);
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Push {
                value: u64v(3),
                flags: 0
            }
        ),
        ok(-E2BIG)
    );
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Push {
                value: u64v(3),
                flags: BPF_EXIST
            }
        ),
        ok(0)
    ); // evicts 1
    assert_eq!(m.lookup(None), Ok(u64v(2))); // syscall peek
    assert_eq!(run(&mut p, &m, ProgOp::Peek), got(0, &u64v(2)));
    assert_eq!(run(&mut p, &m, ProgOp::Pop), got(0, &u64v(2)));
    assert_eq!(run(&mut p, &m, ProgOp::Pop), got(0, &u64v(3)));
    assert_eq!(run(&mut p, &m, ProgOp::Peek), ok(-ENOENT));
}

#[test]
fn stack_round_trip() {
    require_bpf();
    let m = TestMap::create(STACK, 0, 4, 4, 0);
    let mut p = Programs::new();
    m.update(None, &u32k(1), 0);
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Push {
                value: u32k(2),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(run(&mut p, &m, ProgOp::Pop), got(0, &u32k(2)));
    assert_eq!(run(&mut p, &m, ProgOp::Pop), got(0, &u32k(1)));
    assert_eq!(run(&mut p, &m, ProgOp::Pop), ok(-ENOENT));
}

#[test]
fn bloom_round_trip() {
    require_bpf();
    let m = TestMap::create(BLOOM_FILTER, 0, 8, 64, BPF_F_ZERO_SEED);
    let mut p = Programs::new();
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::BloomAdd {
                value: u64v(42),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(m.bloom_check(&u64v(42)), Ok(()));
    m.update(None, &u64v(43), 0);
    assert_eq!(run(&mut p, &m, ProgOp::BloomCheck { value: u64v(43) }), ok(0));
    assert_eq!(run(&mut p, &m, ProgOp::BloomCheck { value: u64v(1000) }), ok(-ENOENT));
    assert_eq!(m.bloom_check(&u64v(1000)), Err(libc::ENOENT));
}

#[test]
fn verifier_rejects_push_on_hash() {
    require_bpf();
    let m = TestMap::create(HASH, 4, 8, 4, 0);
    let mut p = Programs::new();
    let err = p
        .run(
            &m.map_ref(),
            &ProgOp::Push {
                value: u64v(1),
                flags: 0,
            },
        )
        .unwrap_err();
    match &err {
        ProgError::Load { errno, reason } => {
            assert_eq!(*errno, Some(libc::EINVAL), "{err}");
            assert!(
                reason.contains("cannot pass map_type 1 into func bpf_map_push_elem#87"),
                "{reason}"
            );
            assert!(!reason.contains('\n'));
        }
        other => panic!("expected ProgError::Load, got {other:?}"),
    }
    // Remembered, and other families on the same map still work.
    assert_eq!(p.run(&m.map_ref(), &ProgOp::Pop).unwrap_err(), err);
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::Update {
                key: u32k(1),
                value: u64v(1),
                flags: 0
            }
        ),
        ok(0)
    );
}

#[test]
fn verifier_rejects_small_value_for_xdp_stats() {
    require_bpf();
    let m = TestMap::create(ARRAY, 4, 8, 5, 0); // datarec needs 16 bytes
    let err = count_traffic(&m.map_ref(), 1).unwrap_err();
    assert!(
        matches!(
            err,
            ProgError::Load {
                errno: Some(libc::EACCES),
                ..
            }
        ),
        "{err:?}"
    );
}

// ---- ring buffer, for_each, lookup_percpu ------------------------------------------------

#[test]
fn ringbuf_output_read_back() {
    require_bpf();
    let m = TestMap::create(RINGBUF, 0, 0, 4096, 0);
    let mut p = Programs::new();
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::RingbufOutput {
                data: b"hello ring".to_vec(),
                flags: 0,
                keep: false,
            }
        ),
        got(0, b"hello ring")
    );
    let big: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::RingbufOutput {
                data: big.clone(),
                flags: 1,
                keep: false
            }
        ),
        got(0, &big)
    );
    // BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP are the only flags.
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::RingbufOutput {
                data: b"x".to_vec(),
                flags: 4,
                keep: false
            }
        ),
        ok(-EINVAL)
    );
    // run() consumes one record per call: the next one reads back the next record.
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::RingbufOutput {
                data: vec![],
                flags: 0,
                keep: false,
            }
        ),
        got(0, &[])
    );
    // `keep`: the record stays in the ring; the next consuming run reads it first.
    let keep = |data: &[u8], keep| ProgOp::RingbufOutput {
        data: data.to_vec(),
        flags: 0,
        keep,
    };
    assert_eq!(run(&mut p, &m, keep(b"kept", true)), ok(0));
    assert_eq!(run(&mut p, &m, keep(b"next", false)), got(0, b"kept"));
}

#[test]
fn for_each_counts_and_sums() {
    require_bpf();
    let m = TestMap::create(HASH, 4, 8, 8, 0);
    for (k, v) in [(1u32, 10u64), (2, 20), (3, 30)] {
        m.update(Some(&u32k(k)), &u64v(v), 0);
    }
    let mut p = Programs::new();
    assert_eq!(
        run(&mut p, &m, ProgOp::ForEach),
        ProgOutcome {
            ret: 3,
            data: None,
            sum: Some(60)
        }
    );
    assert_eq!(run(&mut p, &m, ProgOp::Delete { key: u32k(2) }), ok(0));
    assert_eq!(
        run(&mut p, &m, ProgOp::ForEach),
        ProgOutcome {
            ret: 2,
            data: None,
            sum: Some(40)
        }
    );
    assert_eq!(
        run(&mut p, &m, ProgOp::ForEachFlags { flags: 1 }),
        ProgOutcome {
            ret: -EINVAL,
            data: None,
            sum: Some(0)
        }
    );

    // Array with a 4-byte value: every slot is visited, the sum reads 4 bytes.
    let a = TestMap::create(ARRAY, 4, 4, 5, 0);
    a.update(Some(&u32k(0)), &u32k(0x0102_0304), 0);
    a.update(Some(&u32k(4)), &u32k(1), 0);
    assert_eq!(
        run(&mut p, &a, ProgOp::ForEach),
        ProgOutcome {
            ret: 5,
            data: None,
            sum: Some(0x0102_0305)
        }
    );
}

#[test]
fn for_each_rejected_on_queue() {
    require_bpf();
    let m = TestMap::create(QUEUE, 0, 8, 4, 0);
    let err = Programs::new().run(&m.map_ref(), &ProgOp::ForEach).unwrap_err();
    assert!(matches!(&err, ProgError::Load { errno: Some(_), .. }), "{err:?}");
    eprintln!("for_each on a queue: {err}");
}

#[test]
fn lookup_percpu_each_cpu() {
    require_bpf();
    let n = ncpus();
    let m = TestMap::create(PERCPU_HASH, 4, 8, 4, 0);
    let all: Vec<u8> = (0..n as u64).flat_map(|c| (100 + c).to_ne_bytes()).collect();
    m.update(Some(&u32k(9)), &all, 0);
    let mut p = Programs::new();
    for cpu in 0..n as u32 {
        assert_eq!(
            run(&mut p, &m, ProgOp::LookupPercpu { key: u32k(9), cpu }),
            found(&u64v(100 + cpu as u64))
        );
    }
    assert_eq!(
        run(
            &mut p,
            &m,
            ProgOp::LookupPercpu {
                key: u32k(9),
                cpu: n as u32
            }
        ),
        ok(0)
    );
    assert_eq!(run(&mut p, &m, ProgOp::LookupPercpu { key: u32k(8), cpu: 0 }), ok(0));
    // On a non-per-CPU map the verifier refuses the helper.
    let h = TestMap::create(HASH, 4, 8, 4, 0);
    let err = p
        .run(&h.map_ref(), &ProgOp::LookupPercpu { key: u32k(9), cpu: 0 })
        .unwrap_err();
    assert!(matches!(&err, ProgError::Load { errno: Some(_), .. }), "{err:?}");
    eprintln!("lookup_percpu on a hash: {err}");
}

// ---- sharing, traffic --------------------------------------------------------------------

#[test]
fn two_loads_share_the_map() {
    require_bpf();
    let m = TestMap::create(HASH, 4, 8, 8, 0);
    let mut a = Programs::new();
    let mut b = Programs::new();
    assert_eq!(
        run(
            &mut a,
            &m,
            ProgOp::Update {
                key: u32k(1),
                value: u64v(100),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(run(&mut b, &m, ProgOp::Lookup { key: u32k(1) }), found(&u64v(100)));
    assert_eq!(
        run(
            &mut b,
            &m,
            ProgOp::Update {
                key: u32k(2),
                value: u64v(200),
                flags: 0
            }
        ),
        ok(0)
    );
    assert_eq!(run(&mut a, &m, ProgOp::Lookup { key: u32k(2) }), found(&u64v(200)));
    // Two families loaded against the same map see each other too.
    assert_eq!(
        run(&mut a, &m, ProgOp::ForEach),
        ProgOutcome {
            ret: 2,
            data: None,
            sum: Some(300)
        }
    );
    drop(a);
    // Dropping one set of programs leaves the map and the other programs working.
    assert_eq!(run(&mut b, &m, ProgOp::Lookup { key: u32k(1) }), found(&u64v(100)));
    assert_eq!(m.lookup(Some(&u32k(2))), Ok(u64v(200)));
}

#[test]
fn traffic_on_lo_counts_exactly() {
    require_bpf();
    // Unrelated UDP traffic on lo while counting: it must not be counted.
    let noise_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let noise_addr = noise_rx.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 100_000 {
                let _ = tx.send_to(&[1u8; 100], noise_addr);
                sent += 1;
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            sent
        })
    };
    for (map_type, n) in [(PERCPU_ARRAY, 25u32), (ARRAY, 7)] {
        let m = TestMap::create(map_type, 4, 16, 5, 0);
        let stats = count_traffic(&m.map_ref(), n).unwrap_or_else(|e| panic!("count_traffic: {e}"));
        let mut want = [DataRec::default(); 5];
        want[2] = DataRec {
            rx_packets: n as u64,
            rx_bytes: n as u64 * FRAME_BYTES,
        };
        assert_eq!(stats, want, "map type {map_type}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(noise.join().unwrap() > 0);
}

/// `traffic` attaches XDP and sends packets in a private network namespace: the host's own
/// `lo` never carries the program, even while the step runs (it did before: a crash
/// mid-step would have left it attached to the developer's loopback).
#[test]
fn traffic_never_attaches_to_the_hosts_lo() {
    require_bpf();
    let m = TestMap::create(PERCPU_ARRAY, 4, 16, 5, 0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (stats, seen) = std::thread::scope(|s| {
        let counter = s.spawn(|| {
            let r = count_traffic(&m.map_ref(), 5000);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            r
        });
        let mut seen = Vec::new();
        let mut polls = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let out = std::process::Command::new("ip")
                .args(["-d", "link", "show", "dev", "lo"])
                .output()
                .expect("ip (iproute2)");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(line) = text.lines().find(|l| l.contains("xdp")) {
                seen.push(line.trim().to_string());
            }
            polls += 1;
        }
        assert!(polls > 0);
        (counter.join().unwrap(), seen)
    });
    let stats = stats.unwrap_or_else(|e| panic!("count_traffic: {e}"));
    assert_eq!(
        stats[2].rx_packets, 5000,
        "every packet counted at XDP_PASS in the private namespace"
    );
    assert!(
        seen.is_empty(),
        "an XDP program showed on the host's lo in {} of the polls: {}",
        seen.len(),
        seen[0]
    );
}
