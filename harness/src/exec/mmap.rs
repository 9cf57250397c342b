//! The steps that look at a map from outside the element commands: `info`
//! (BPF_OBJ_GET_INFO_BY_FD) and the mmap family (`mmap`, `munmap`, `mprotect`,
//! `mmap_read`, `mmap_write`) on the map's one mapping ([`crate::bpf::mmap::Mapping`]).
use super::show_record;
use super::{errno_of, status, HarnessError, Runner};
use crate::bpf::mmap::{page_size, Mapping};
use crate::bpf::sys::{self, MapHandle};
use crate::case::data::FdResolver;
use crate::case::{Datum, Expect, MmapCall};
use crate::outcome::{Entry, MapReport, Outcome, Shown};
use crate::uapi::{Errno, MapFlags, MapType, Prot};
use aya_obj::generated::bpf_map_info;
use std::mem::offset_of;

/// The map as BPF_OBJ_GET_INFO_BY_FD reports it, without what changes from run to run.
pub(super) fn info(h: &MapHandle) -> Outcome {
    match sys::map_info_reported(h.fd()) {
        Ok((i, len)) => Outcome::Info(Box::new(report(&i, len))),
        Err(e) => errno_of(&e),
    }
}

/// `len`: the bytes the kernel filled in; a field past them is not in its struct.
fn report(i: &bpf_map_info, len: usize) -> MapReport {
    let reported = |offset: usize, size: usize| offset + size <= len;
    let name: Vec<u8> = i.name.iter().map(|c| *c as u8).take_while(|c| *c != 0).collect();
    let btf = [
        ("btf_id", i.btf_id),
        ("btf_key_type_id", i.btf_key_type_id),
        ("btf_value_type_id", i.btf_value_type_id),
        ("btf_vmlinux_value_type_id", i.btf_vmlinux_value_type_id),
        ("btf_vmlinux_id", i.btf_vmlinux_id),
    ];
    MapReport {
        map_type: MapType(i.type_).to_string(),
        key_size: i.key_size,
        value_size: i.value_size,
        max_entries: i.max_entries,
        map_flags: MapFlags(i.map_flags).names(),
        map_extra: reported(offset_of!(bpf_map_info, map_extra), 8).then_some(i.map_extra),
        name: String::from_utf8_lossy(&name).into_owned(),
        btf_nonzero: btf
            .iter()
            .filter(|(_, id)| *id != 0)
            .map(|(n, _)| n.to_string())
            .collect(),
    }
}

/// Bytes of the map's memory a mapping from offset 0 can cover: an mmapable array's values
/// (`round_up(value_size, 8)` each, page aligned), a ring buffer's consumer page, producer
/// page and data pages mapped twice, an arena's `max_entries` pages; one page otherwise.
fn mappable_len(info: &sys::MapInfo) -> u64 {
    let page = page_size() as u64;
    let entries = u64::from(info.max_entries);
    match info.map_type {
        MapType::ARRAY => (entries * u64::from(info.value_size).div_ceil(8) * 8).div_ceil(page) * page,
        MapType::RINGBUF | MapType::USER_RINGBUF => 2 * page + 2 * entries,
        MapType::ARENA => entries * page,
        _ => page,
    }
}

/// A map's memory as the case's mmap steps left it.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// The map's one mapping.
    mapping: Option<Mapping>,
    /// An arena's user address once mapped: every later mmap of the arena must ask for the
    /// same address (arena_get_unmapped_area(): EINVAL otherwise), so it is the hint.
    arena_addr: Option<usize>,
}

impl Runner<'_> {
    /// `mmap`: map the map's fd (replacing the map's mapping, if any). The mapping lives
    /// until `munmap`, the next `mmap` of the map, or the end of the case (whatever
    /// happened).
    pub(super) fn mmap(&mut self, map: usize, h: &MapHandle, call: &MmapCall) -> Outcome {
        let (prot, offset, length, shared) = match call {
            MmapCall::Map {
                prot,
                offset,
                length,
                shared,
            } => (prot, offset, length, shared),
            MmapCall::RingbufConsume => return consume(h),
            _ => return self.on_mapping(map, call),
        };
        self.mappings[map].mapping = None;
        let whole = mappable_len(h.info()).saturating_sub(*offset);
        let len = length.unwrap_or(if whole == 0 { page_size() as u64 } else { whole });
        let Ok(len) = usize::try_from(len) else {
            return Outcome::Errno(Errno::ENOMEM);
        };
        let hint = if h.info().map_type == MapType::ARENA {
            self.mappings[map]
                .arena_addr
                .unwrap_or(self.case.maps[map].map_extra as usize)
        } else {
            0
        };
        match Mapping::map(h.fd(), hint, len, *prot, *offset, *shared) {
            Ok(m) => {
                if h.info().map_type == MapType::ARENA {
                    self.mappings[map].arena_addr = Some(m.addr());
                }
                self.mappings[map].mapping = Some(m);
                Outcome::Ok
            }
            Err(e) => errno_of(&e),
        }
    }

    /// The other mmap steps: they use the mapping, not the fd (a mapping keeps its map
    /// alive after the case closed the fd).
    pub(super) fn on_mapping(&mut self, map: usize, call: &MmapCall) -> Outcome {
        let name = &self.case.maps[map].name;
        let Some(m) = &self.mappings[map].mapping else {
            return Outcome::NotRun(format!("map {name} has no mapping (no mmap step succeeded)"));
        };
        match call {
            MmapCall::Map { .. } | MmapCall::RingbufConsume => unreachable!("needs the fd: Runner::mmap"),
            MmapCall::Unmap => {
                self.mappings[map].mapping = None;
                Outcome::Ok
            }
            MmapCall::Protect { prot } => status(m.protect(*prot)),
            MmapCall::Read { offset, size } => {
                let mut buf = vec![0u8; *size as usize];
                match m.read(*offset as usize, &mut buf) {
                    Ok(Ok(())) => Outcome::Value(Shown::from_bytes(&buf)),
                    Ok(Err(e)) => errno_of(&e),
                    Err(outside) => Outcome::NotRun(format!("mmap_read of {name}: {outside}")),
                }
            }
            MmapCall::Write { offset, value } => {
                let data = match value.encode_natural(&self.maps) {
                    Ok(d) => d,
                    Err(why) => return self.harness_failure(HarnessError::Data(why)),
                };
                let Some(m) = &self.mappings[map].mapping else {
                    unreachable!("checked above")
                };
                match m.write(*offset as usize, &data) {
                    Ok(r) => status(r),
                    Err(outside) => Outcome::NotRun(format!("mmap_write of {name}: {outside}")),
                }
            }
        }
    }
}

/// The expectation of an mmap step as an outcome, where it differs from a map value's:
/// `mmap_read` bytes and ring buffer records have their own lengths, so expected data is
/// encoded as written (an integer as 8 bytes: it renders as the same integer) and records
/// stay in ring order. `None`: the general rules apply (`ok`, errnos).
pub(super) fn expected(expect: &Expect, call: &MmapCall, fds: &dyn FdResolver) -> Result<Option<Outcome>, String> {
    let natural = |d: &Datum| d.encode_natural(fds);
    Ok(match (expect, call) {
        (Expect::Value(v), _) => Some(Outcome::Value(Shown::from_bytes(&natural(v)?))),
        (Expect::Entries(records), MmapCall::RingbufConsume) => Some(Outcome::Entries(
            records
                .iter()
                .map(|(at, record)| {
                    Ok(Entry {
                        key: Shown::from_bytes(&natural(at)?),
                        value: show_record(&natural(record)?),
                    })
                })
                .collect::<Result<_, String>>()?,
        )),
        _ => None,
    })
}

/// `struct bpf_ringbuf_hdr` (8 bytes: `len`, `pg_off`) and the bits of `len`.
const RINGBUF_HDR: u64 = 8;
const RINGBUF_BUSY: u32 = 1 << 31;
const RINGBUF_DISCARD: u32 = 1 << 30;

/// `ringbuf_consume`: what libbpf's ring_buffer__consume() does, on mappings of its own —
/// the consumer page read-write (offset 0, one page), the producer page and the data
/// pages read-only (offset one page; the data is mapped twice, so a record that wraps
/// reads as one) — then reads each record from the consumer to the producer position:
/// stop at a header with the busy bit, skip one with the discard bit, and store the new
/// consumer position through the mapping after each record. The result lists each
/// record by its position in the ring (`{entries: [{key: position, value: {hex: …}}]}`).
fn consume(h: &MapHandle) -> Outcome {
    let page = page_size();
    let size = u64::from(h.info().max_entries);
    let rw = Prot(Prot::READ.0 | Prot::WRITE.0);
    let consumer = match Mapping::map(h.fd(), 0, page, rw, 0, true) {
        Ok(m) => m,
        Err(e) => return errno_of(&e),
    };
    let data_len = page + 2 * size as usize;
    let producer = match Mapping::map(h.fd(), 0, data_len, Prot::READ, page as u64, true) {
        Ok(m) => m,
        Err(e) => return errno_of(&e),
    };
    let read_u64 = |m: &Mapping, at: usize| -> Result<u64, Outcome> {
        let mut b = [0u8; 8];
        access(m.read(at, &mut b))?;
        Ok(u64::from_le_bytes(b))
    };
    let run = || -> Result<Vec<Entry>, Outcome> {
        let mut cons = read_u64(&consumer, 0)?;
        let prod = read_u64(&producer, 0)?;
        let mut records = Vec::new();
        // At most one record per header's worth of ring: a bound, whatever the positions say.
        for _ in 0..=size / RINGBUF_HDR {
            if cons >= prod {
                break;
            }
            let at = page + (cons % size.max(1)) as usize;
            let mut hdr = [0u8; 4];
            access(producer.read(at, &mut hdr))?;
            let len = u32::from_le_bytes(hdr);
            if len & RINGBUF_BUSY != 0 {
                break;
            }
            let data = len & !(RINGBUF_BUSY | RINGBUF_DISCARD);
            if len & RINGBUF_DISCARD == 0 {
                let mut record = vec![0u8; data as usize];
                access(producer.read(at + RINGBUF_HDR as usize, &mut record))?;
                records.push(Entry {
                    key: Shown::Int(cons),
                    value: show_record(&record),
                });
            }
            cons += (u64::from(data) + RINGBUF_HDR).div_ceil(8) * 8;
            access(consumer.write(0, &cons.to_le_bytes()))?;
        }
        Ok(records)
    };
    match run() {
        Ok(records) => Outcome::Entries(records),
        Err(outcome) => outcome,
    }
}

/// A mapping access of [`consume`]: the kernel's refusal, or a record outside the mapping
/// (a header the harness cannot follow), as the step's result.
fn access(r: Result<std::io::Result<()>, String>) -> Result<(), Outcome> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(errno_of(&e)),
        Err(outside) => Err(Outcome::NotRun(format!("ring buffer record {outside}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_extra_is_absent_where_the_kernel_struct_ends_before_it() {
        // SAFETY: plain integers.
        let mut i: bpf_map_info = unsafe { std::mem::zeroed() };
        i.type_ = MapType::BLOOM_FILTER.0;
        i.map_extra = 5;
        i.btf_value_type_id = 7;
        i.name[..2].copy_from_slice(&[b'b' as _, b'f' as _]);
        let full = report(&i, std::mem::size_of::<bpf_map_info>());
        assert_eq!((full.map_extra, full.name.as_str()), (Some(5), "bf"));
        assert_eq!(full.btf_nonzero, ["btf_value_type_id"]);
        // 5.10's struct bpf_map_info is 80 bytes: up to btf_value_type_id.
        assert_eq!(report(&i, 80).map_extra, None);
    }
}
