//! Checking a step's `expect:` against what the kernel did.
//!
//! Expected data is encoded exactly like a step's input and rendered exactly like an
//! observed value, so `value: 5` on a per-CPU map means "5 on every CPU", and a
//! `{map_fd: inner}` value means "the map `inner`".
use super::Runner;
use crate::case::{Datum, Expect, MapDef, Op};
use crate::outcome::{sort_entries, Entry, Outcome, Shown};
use crate::uapi::MapType;

/// `def`: the step's map, whose layout encodes expected keys and values (`None` for a step
/// on objects alone, which can only expect `ok` or an errno).
pub(super) fn check(
    expect: &Expect,
    observed: &Outcome,
    op: &Op,
    def: Option<&MapDef>,
    r: &Runner,
) -> Result<(), String> {
    let map = || def.ok_or_else(|| format!("`expect: {expect}` needs a map whose layout encodes it"));
    let mmap = match op {
        Op::Mmap { call, .. } => super::mmap::expected(expect, call, &r.maps)?,
        _ => None,
    };
    let expected = match expect {
        _ if mmap.is_some() => mmap.expect("checked"),
        Expect::Ok => {
            // `ok`: the kernel reported no error, whatever it returned.
            let failed = match observed {
                Outcome::Errno(_)
                | Outcome::NotRun(_)
                | Outcome::LoadFailed(_)
                | Outcome::RunFailed(_)
                | Outcome::Mismatch(_) => true,
                Outcome::Prog { ret, .. } => ret.0 < 0,
                _ => false,
            };
            return if failed {
                Err(format!("expected ok, observed {observed}"))
            } else {
                Ok(())
            };
        }
        Expect::Errno(e) => Outcome::Errno(*e),
        Expect::Value(v) => Outcome::Value(show_value(r, map()?, v)?),
        Expect::Key(k) => Outcome::Key(show_key(r, map()?, k)?),
        Expect::Entries(entries) => {
            let def = map()?;
            let mut list = entries
                .iter()
                .map(|(k, v)| {
                    Ok(Entry {
                        key: show_key(r, def, k)?,
                        value: show_value(r, def, v)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            sort_entries(&mut list);
            Outcome::Entries(list)
        }
        Expect::Ret { ret, value } => {
            let Outcome::Prog {
                ret: got,
                value: got_value,
                ..
            } = observed
            else {
                return Err(format!("expected {expect}, observed {observed}"));
            };
            let def = map()?;
            let expected_value = match value {
                // Programs see one CPU's value (or a ring buffer record of any size).
                Some(v) if def.map_type == MapType::RINGBUF => Some(super::show_record(&v.encode_natural(&r.maps)?)),
                Some(v) => Some(Shown::from_bytes(&v.encode(def.value_size as usize, &r.maps)?)),
                None => None,
            };
            let value_ok = expected_value.is_none() || &expected_value == got_value;
            // A negative errno also matches its 32-bit zero-extended form: which of the two a
            // kernel returns is recorded in the snapshot (see `Ret::zero_extended_errno`).
            return if got.matches(*ret) && value_ok {
                Ok(())
            } else {
                Err(format!(
                    "{}: expected {expect}, observed {observed}",
                    op.describe(&r.case.maps)
                ))
            };
        }
    };
    if &expected == observed {
        Ok(())
    } else {
        Err(format!(
            "{}: expected {expected}, observed {observed}",
            op.describe(&r.case.maps)
        ))
    }
}

fn show_key(r: &Runner, def: &MapDef, key: &Datum) -> Result<Shown, String> {
    Ok(r.maps.show_key(def, &r.encode_key(def, key)?))
}

fn show_value(r: &Runner, def: &MapDef, value: &Datum) -> Result<Shown, String> {
    if let Datum::MapFd(m) = value {
        return Ok(Shown::Map { map: m.name.clone() });
    }
    // A socket map's lookup shows the cookie of the object stored.
    if let Datum::Fd(o) = value {
        if super::sockets::holds_sockets(def.map_type) {
            return Ok(Shown::Cookie { cookie: o.name.clone() });
        }
    }
    // Encoded as a step would send it, rendered as a lookup would show it.
    Ok(r.show_value(def, &r.encode_value(def, value)?))
}
