//! The differential oracle: a map operation through both doors — the bpf(2) syscall from
//! user space and the helper called by a BPF program — and a verdict on whether the two
//! answers agree once what legitimately differs is normalised away.
//!
//! Pure (no syscalls): [`counterpart`] says which helper call mirrors a syscall step,
//! [`agree`] compares the two results, [`doors`] builds the recorded outcome, and
//! [`sweep`] generates the `cases/oracle/*.yaml` cases from a type table. The executor
//! (the `exec` module) runs both doors: the syscall on the case's map, the helper on a twin
//! built by replaying the same preceding steps.
//!
//! What is normalised (legitimate differences between the doors):
//! - a helper lookup returns a pointer: found is `{ret: 1, value}`, not `{value}`; a
//!   syscall ENOENT is a helper NULL (`{ret: 0}`);
//! - pop/peek through a helper are `{ret: 0, value}` for the syscall's `{value}`;
//! - a helper sees one CPU's slot of a per-CPU value: the syscall's slot 0 (the executor
//!   is pinned to CPU 0, and BPF_PROG_TEST_RUN runs the program on the calling CPU) is
//!   compared with the helper's value, and a per-CPU value written through the syscall is
//!   given to the helper as its slot 0;
//! - an error is `-ERRNO` from a helper; the zero-extended form of 5.10/6.1
//!   (`-EEXIST as u32`, see [`crate::outcome::Ret::zero_extended_errno`]) compares equal
//!   to the errno: that is the separately explained `helper-errors-zero-extended`.
pub mod sweep;

use crate::case::{Datum, MapDef, Op, ProgCall};
use crate::outcome::{Outcome, Shown};
use crate::uapi::{ElemFlags, Errno, MapType};

/// Map types whose keyed helpers (bpf_map_lookup/update/delete_elem) the oracle compares.
/// Map-in-map types have no program-side update or delete (the verifier refuses them) and
/// their syscall values are fds in and ids out; a ring buffer has no element operations.
pub fn has_keyed_helpers(t: MapType) -> bool {
    matches!(
        t,
        MapType::HASH
            | MapType::ARRAY
            | MapType::PERCPU_HASH
            | MapType::PERCPU_ARRAY
            | MapType::LRU_HASH
            | MapType::LRU_PERCPU_HASH
            | MapType::LPM_TRIE
    )
}

/// Queue and stack: push/pop/peek helpers.
fn is_queue_stack(t: MapType) -> bool {
    matches!(t, MapType::QUEUE | MapType::STACK)
}

/// The helper call that does what a syscall step does, if there is one: update (every
/// flag value), lookup (no flags: the helper has none), delete with a key, push, pop,
/// peek, and the bloom filter's add and check. `None` for everything else (batches,
/// get_next_key, lookup_and_delete, a lookup with flags, map-in-map, ring buffer, …).
pub fn counterpart(op: &Op, def: &MapDef) -> Option<ProgCall> {
    let t = def.map_type;
    let keyed = has_keyed_helpers(t);
    Some(match op {
        Op::Update { key, value, flags, .. } if keyed => ProgCall::Update {
            key: key.clone(),
            value: slot0(value),
            flags: flags.0,
        },
        Op::Lookup { key, flags, .. } if keyed && *flags == ElemFlags::ANY => ProgCall::Lookup { key: key.clone() },
        Op::Delete { key: Some(key), .. } if keyed => ProgCall::Delete { key: key.clone() },
        Op::Push { value, flags, .. } if is_queue_stack(t) || t == MapType::BLOOM_FILTER => ProgCall::Push {
            value: value.clone(),
            flags: flags.0,
        },
        Op::Pop { .. } if is_queue_stack(t) => ProgCall::Pop,
        Op::Peek { value: None, .. } if is_queue_stack(t) => ProgCall::Peek { value: None },
        Op::Peek { value: Some(v), .. } if t == MapType::BLOOM_FILTER => ProgCall::Peek { value: Some(v.clone()) },
        _ => return None,
    })
}

/// The value a program on CPU 0 writes for a syscall value: slot 0 of a per-CPU datum.
fn slot0(value: &Datum) -> Datum {
    match value {
        Datum::PerCpu(slots) if !slots.is_empty() => slots[0].clone(),
        other => other.clone(),
    }
}

/// What a program on CPU 0 sees of a value the syscall returned: slot 0 of a per-CPU one.
fn shown_slot0(value: &Shown) -> &Shown {
    match value {
        Shown::PerCpu { percpu } if !percpu.is_empty() => &percpu[0],
        other => other,
    }
}

/// Do the two doors agree? `syscall` is the syscall step's result, `helper` the
/// counterpart's on an identical map. Anything but a helper's return (the program did
/// not load, the test run failed, the harness could not run it) is a disagreement: the
/// program door is closed where the syscall door is open.
pub fn agree(op: &Op, syscall: &Outcome, helper: &Outcome) -> bool {
    let Outcome::Prog { ret, value, .. } = helper else {
        return false;
    };
    let error = |e: &Errno| ret.matches(-(e.0 as i64)) && value.is_none();
    match (op, syscall) {
        // bpf_map_lookup_elem returns a pointer: NULL where the syscall says ENOENT.
        (Op::Lookup { .. }, Outcome::Value(v)) => ret.0 == 1 && value.as_ref() == Some(shown_slot0(v)),
        (Op::Lookup { .. }, Outcome::Errno(Errno::ENOENT)) => ret.0 == 0 && value.is_none(),
        (Op::Lookup { .. }, _) => false,
        // pop/peek copy the value out and return 0.
        (Op::Pop { .. } | Op::Peek { value: None, .. }, Outcome::Value(v)) => {
            ret.0 == 0 && value.as_ref() == Some(shown_slot0(v))
        }
        (_, Outcome::Ok) => ret.0 == 0 && value.is_none(),
        (_, Outcome::Errno(e)) => error(e),
        _ => false,
    }
}

/// The recorded result of a compared step: both results, and whether they agree.
pub fn doors(op: &Op, syscall: Outcome, helper: Outcome) -> Outcome {
    let agree = agree(op, &syscall, &helper);
    Outcome::Doors {
        agree,
        syscall: Box::new(syscall),
        helper: Box::new(helper),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{LoadFailure, Ret};
    use crate::uapi::MapFlags;

    fn def(t: MapType) -> MapDef {
        MapDef {
            elf: None,
            name: "m".into(),
            map_type: t,
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            map_flags: MapFlags(0),
            map_extra: 0,
            numa_node: 0,
            inner: None,
            kernel_name: None,
            btf: Default::default(),
        }
    }

    fn prog(ret: i64, value: Option<u64>) -> Outcome {
        Outcome::Prog {
            ret: Ret(ret),
            value: value.map(Shown::Int),
            sum: None,
        }
    }

    fn update(flags: u64) -> Op {
        Op::Update {
            map: 0,
            key: Datum::Int(1),
            value: Datum::PerCpu(vec![Datum::Int(7), Datum::Int(8)]),
            flags: ElemFlags(flags),
        }
    }

    #[test]
    fn counterparts_exist_only_where_a_helper_does_the_same() {
        let hash = def(MapType::HASH);
        // Every flag value is passed through, invalid ones included; a per-CPU value gives
        // the helper its slot 0.
        match counterpart(&update(7), &def(MapType::PERCPU_ARRAY)) {
            Some(ProgCall::Update { value, flags: 7, .. }) => assert_eq!(value, Datum::Int(7)),
            other => panic!("{other:?}"),
        }
        let lookup = |flags| Op::Lookup {
            map: 0,
            key: Datum::Int(1),
            flags: ElemFlags(flags),
        };
        assert!(matches!(counterpart(&lookup(0), &hash), Some(ProgCall::Lookup { .. })));
        assert!(
            counterpart(&lookup(4), &hash).is_none(),
            "the lookup helper takes no flags"
        );
        assert!(counterpart(&Op::Delete { map: 0, key: None }, &hash).is_none());
        assert!(counterpart(&Op::Dump { map: 0 }, &hash).is_none());
        assert!(counterpart(&update(0), &def(MapType::ARRAY_OF_MAPS)).is_none());
        assert!(counterpart(&update(0), &def(MapType::RINGBUF)).is_none());
        assert!(counterpart(&update(0), &def(MapType::QUEUE)).is_none());
        assert!(matches!(
            counterpart(&Op::Pop { map: 0 }, &def(MapType::STACK)),
            Some(ProgCall::Pop)
        ));
        assert!(counterpart(&Op::Pop { map: 0 }, &def(MapType::BLOOM_FILTER)).is_none());
        let check = Op::Peek {
            map: 0,
            value: Some(Datum::Int(3)),
        };
        assert!(matches!(
            counterpart(&check, &def(MapType::BLOOM_FILTER)),
            Some(ProgCall::Peek { value: Some(_) })
        ));
        assert!(counterpart(&check, &def(MapType::QUEUE)).is_none());
    }

    #[test]
    fn status_results_compare_by_errno_zero_extended_or_not() {
        let op = update(3);
        assert!(agree(&op, &Outcome::Ok, &prog(0, None)));
        assert!(agree(&op, &Outcome::Errno(Errno::EINVAL), &prog(-22, None)));
        // 5.10/6.1: -EINVAL reaches the program as 0x00000000ffffffea.
        assert!(agree(&op, &Outcome::Errno(Errno::EINVAL), &prog(0xffff_ffea, None)));
        // The 7.2/7.3 per-CPU array drift: the syscall overwrites, the helper refuses.
        assert!(!agree(&op, &Outcome::Ok, &prog(-22, None)));
        assert!(!agree(&op, &Outcome::Errno(Errno::EEXIST), &prog(-2, None)));
        let refused = Outcome::LoadFailed(LoadFailure {
            errno: "EINVAL".into(),
            reason: "x".into(),
        });
        assert!(!agree(&op, &Outcome::Ok, &refused), "a closed program door disagrees");
    }

    #[test]
    fn lookups_compare_pointer_or_null_and_slot_zero() {
        let op = Op::Lookup {
            map: 0,
            key: Datum::Int(1),
            flags: ElemFlags::ANY,
        };
        let percpu = Outcome::Value(Shown::PerCpu {
            percpu: vec![Shown::Int(7), Shown::Int(8)],
        });
        assert!(agree(&op, &percpu, &prog(1, Some(7))));
        assert!(!agree(&op, &percpu, &prog(1, Some(8))), "CPU 0 sees slot 0");
        assert!(agree(&op, &Outcome::Value(Shown::Int(5)), &prog(1, Some(5))));
        assert!(!agree(&op, &Outcome::Value(Shown::Int(5)), &prog(0, None)));
        assert!(agree(&op, &Outcome::Errno(Errno::ENOENT), &prog(0, None)));
        assert!(!agree(&op, &Outcome::Errno(Errno::EINVAL), &prog(0, None)));
        let pop = Op::Pop { map: 0 };
        assert!(agree(&pop, &Outcome::Value(Shown::Int(5)), &prog(0, Some(5))));
        assert!(agree(&pop, &Outcome::Errno(Errno::ENOENT), &prog(-2, None)));
        assert!(!agree(&pop, &Outcome::Value(Shown::Int(5)), &prog(0, Some(6))));
    }

    #[test]
    fn doors_keep_both_results() {
        let Outcome::Doors { agree, syscall, helper } = doors(&update(3), Outcome::Ok, prog(-22, None)) else {
            panic!("not a doors outcome")
        };
        assert!(!agree);
        assert_eq!((*syscall, *helper), (Outcome::Ok, prog(-22, None)));
    }
}
