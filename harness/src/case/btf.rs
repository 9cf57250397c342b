//! BTF key/value types a case gives a map (`btf:` of a map declaration), and their
//! encoding into the small BTF blob that BPF_BTF_LOAD takes. Pure: no syscalls.
//!
//! ```yaml
//! maps:
//!   m: {type: hash, key_size: 4, value_size: 16, max_entries: 2,
//!       btf: {key: u32, value: [u32, spin_lock, u64]}}
//! ```
//!
//! A type is one name (`u32`, `spin_lock`) or a list of names: a struct of these members
//! laid out as C lays them out (each at its natural alignment, the size rounded up to the
//! largest). `spin_lock` is `struct bpf_spin_lock { __u32 val; }`, which the kernel finds
//! by name in a map value (`btf_parse_fields()`), the thing BPF_F_LOCK needs. The sizes
//! are not checked against `key_size`/`value_size`: a mismatch is the kernel's to refuse
//! (`map_check_btf()`), and a case may want to see that.
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// One member type (or a whole key or value, when it is a single name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    U8,
    U16,
    U32,
    U64,
    SpinLock,
}

impl Member {
    /// Every name a case may write, with its type.
    pub const NAMES: &'static [(&'static str, Member)] = &[
        ("u8", Member::U8),
        ("u16", Member::U16),
        ("u32", Member::U32),
        ("u64", Member::U64),
        ("spin_lock", Member::SpinLock),
    ];

    pub fn by_name(name: &str) -> Result<Member, String> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
            format!("unknown BTF type `{name}`, expected one of: {}", names.join(", "))
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, m)| *m == self).map_or("?", |(n, _)| n)
    }

    /// Size and alignment in bytes (x86-64 C).
    fn size(self) -> u32 {
        match self {
            Member::U8 => 1,
            Member::U16 => 2,
            Member::U32 | Member::SpinLock => 4,
            Member::U64 => 8,
        }
    }
}

/// A key or value type: one member type, or a struct of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfType {
    One(Member),
    Struct(Vec<Member>),
}

impl BtfType {
    /// Byte size, as the kernel's `btf_type_id_size()` computes it.
    pub fn size(&self) -> u32 {
        match self {
            BtfType::One(m) => m.size(),
            BtfType::Struct(members) => struct_layout(members).1,
        }
    }
}

impl fmt::Display for BtfType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfType::One(m) => write!(f, "{}", m.name()),
            BtfType::Struct(ms) => {
                let names: Vec<&str> = ms.iter().map(|m| m.name()).collect();
                write!(f, "[{}]", names.join(", "))
            }
        }
    }
}

/// Each member's byte offset and the struct's size: natural alignment, size rounded up to
/// the largest member's alignment.
fn struct_layout(members: &[Member]) -> (Vec<u32>, u32) {
    let mut offsets = Vec::with_capacity(members.len());
    let mut at = 0u32;
    let mut align = 1u32;
    for m in members {
        let a = m.size();
        at = at.div_ceil(a) * a;
        offsets.push(at);
        at += a;
        align = align.max(a);
    }
    (offsets, at.div_ceil(align) * align)
}

/// A map's `btf:`: the key and value types (either may be absent: id 0) and, for
/// struct_ops, the name of the kernel's value type in vmlinux BTF (its id is read from
/// the running kernel's `/sys/kernel/btf/vmlinux`, never written in a case).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapBtf {
    pub key: Option<BtfType>,
    pub value: Option<BtfType>,
    pub vmlinux_value: Option<String>,
}

/// What BPF_BTF_LOAD gets for a [`MapBtf`] and the type ids BPF_MAP_CREATE gets (0: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub key_type_id: u32,
    pub value_type_id: u32,
}

// BTF kinds and the INT encoding bit (include/uapi/linux/btf.h).
const BTF_KIND_INT: u32 = 1;
const BTF_KIND_STRUCT: u32 = 4;
const BTF_MAGIC: u16 = 0xeb9f;
const HEADER_LEN: u32 = 24;

/// Builds a BTF blob type by type: ids from 1, strings deduplicated.
#[derive(Default)]
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
    ints: [Option<u32>; 4],
    spin_lock: Option<u32>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            strings: vec![0],
            next_id: 1,
            ..Default::default()
        }
    }

    fn string(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn words(&mut self, words: &[u32]) -> u32 {
        for w in words {
            self.types.extend(w.to_le_bytes());
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An unsigned `__uN` INT (`btf_int_check_meta()`: bits = 8 × size, offset 0).
    fn int(&mut self, size: u32) -> u32 {
        let slot = size.trailing_zeros() as usize;
        if let Some(id) = self.ints[slot] {
            return id;
        }
        let name = self.string(&format!("__u{}", size * 8));
        let id = self.words(&[name, BTF_KIND_INT << 24, size, size * 8]);
        self.ints[slot] = Some(id);
        id
    }

    fn member(&mut self, m: Member) -> u32 {
        match m {
            Member::SpinLock => {
                if let Some(id) = self.spin_lock {
                    return id;
                }
                let u32_id = self.int(4);
                let id = self.strukt("bpf_spin_lock", &[("val", u32_id, 0)], 4);
                self.spin_lock = Some(id);
                id
            }
            m => self.int(m.size()),
        }
    }

    /// A STRUCT with named members at byte offsets (BTF wants bit offsets).
    fn strukt(&mut self, name: &str, members: &[(&str, u32, u32)], size: u32) -> u32 {
        let name = self.string(name);
        let mut words = vec![name, (BTF_KIND_STRUCT << 24) | members.len() as u32, size];
        for (n, ty, off) in members {
            let n = self.string(n);
            words.extend([n, *ty, off * 8]);
        }
        self.words(&words)
    }

    fn btf_type(&mut self, name: &str, t: &BtfType) -> u32 {
        match t {
            BtfType::One(m) => self.member(*m),
            BtfType::Struct(ms) => {
                let ids: Vec<u32> = ms.iter().map(|m| self.member(*m)).collect();
                let (offsets, size) = struct_layout(ms);
                let names: Vec<String> = (0..ms.len()).map(|i| format!("f{i}")).collect();
                let members: Vec<(&str, u32, u32)> = names
                    .iter()
                    .zip(ids)
                    .zip(offsets)
                    .map(|((n, id), off)| (n.as_str(), id, off))
                    .collect();
                self.strukt(name, &members, size)
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        let type_len = self.types.len() as u32;
        let mut out = Vec::with_capacity(HEADER_LEN as usize + self.types.len() + self.strings.len());
        out.extend(BTF_MAGIC.to_le_bytes());
        out.extend([1u8, 0u8]); // version 1, flags 0
        for w in [HEADER_LEN, 0, type_len, type_len, self.strings.len() as u32] {
            out.extend(w.to_le_bytes());
        }
        out.extend(self.types);
        out.extend(self.strings);
        out
    }
}

impl MapBtf {
    /// The BTF blob holding the key and value types, if the map has either. A struct_ops
    /// map (`vmlinux_value` alone) gets a blob too, holding one `__u32`: map_create()
    /// takes `btf_fd` whenever a vmlinux value type id is given (libbpf passes the
    /// object's BTF), and fd 0 would be whatever the process has there.
    pub fn blob(&self) -> Option<Blob> {
        if self.key.is_none() && self.value.is_none() && self.vmlinux_value.is_none() {
            return None;
        }
        let mut b = Builder::new();
        if self.key.is_none() && self.value.is_none() {
            b.int(4);
        }
        let key_type_id = self.key.as_ref().map_or(0, |t| b.btf_type("key", t));
        let value_type_id = self.value.as_ref().map_or(0, |t| b.btf_type("value", t));
        Some(Blob {
            bytes: b.finish(),
            key_type_id,
            value_type_id,
        })
    }
}

// ---- as written ----

/// `u32` or `[u32, spin_lock]`. (Untagged: serde-saphyr cannot locate what is inside,
/// so errors are located at the whole type, [`RawBtf`] keeps its span.)
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawType {
    One(String),
    Struct(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBtf {
    #[serde(default)]
    pub key: Option<Spanned<RawType>>,
    #[serde(default)]
    pub value: Option<Spanned<RawType>>,
    #[serde(default)]
    pub vmlinux_value: Option<Spanned<String>>,
}

/// Resolves a written type, or says which names are unknown.
pub(super) fn resolve(raw: &RawType) -> Result<BtfType, String> {
    match raw {
        RawType::One(name) => Member::by_name(name).map(BtfType::One),
        RawType::Struct(names) if names.is_empty() => {
            Err("an empty struct: list its member types, e.g. [u32, spin_lock]".into())
        }
        RawType::Struct(names) => names
            .iter()
            .map(|n| Member::by_name(n))
            .collect::<Result<Vec<_>, _>>()
            .map(BtfType::Struct),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_are_laid_out_as_c_does() {
        use Member::*;
        assert_eq!(struct_layout(&[U32, SpinLock, U64]), (vec![0, 4, 8], 16));
        assert_eq!(struct_layout(&[U8, U64]), (vec![0, 8], 16));
        assert_eq!(struct_layout(&[U64, U8]), (vec![0, 8], 16));
        assert_eq!(struct_layout(&[U16, U8]), (vec![0, 2], 4));
        assert_eq!(BtfType::One(SpinLock).size(), 4);
    }

    /// The blob is valid BTF as aya-obj's own parser reads it, with the ids and sizes said.
    #[test]
    fn the_blob_parses_as_btf() {
        let btf = MapBtf {
            key: Some(BtfType::One(Member::U32)),
            value: Some(BtfType::Struct(vec![Member::U32, Member::SpinLock, Member::U64])),
            vmlinux_value: None,
        };
        let blob = btf.blob().unwrap();
        // __u32 (1), the key is it; bpf_spin_lock (2), __u64 (3), value (4).
        assert_eq!((blob.key_type_id, blob.value_type_id), (1, 4));
        let parsed = aya_obj::btf::Btf::parse(&blob.bytes, Default::default()).unwrap();
        let id = |name, kind| parsed.id_by_type_name_kind(name, kind).unwrap();
        use aya_obj::btf::BtfKind;
        assert_eq!(id("__u32", BtfKind::Int), 1);
        assert_eq!(id("bpf_spin_lock", BtfKind::Struct), 2);
        assert_eq!(id("value", BtfKind::Struct), 4);
        assert_eq!(BtfType::Struct(vec![Member::U32, Member::SpinLock, Member::U64]).size(), 16);
        assert_eq!(MapBtf::default().blob(), None);
        let ops = MapBtf {
            vmlinux_value: Some("bpf_struct_ops_tcp_congestion_ops".into()),
            ..Default::default()
        };
        let blob = ops.blob().unwrap();
        assert_eq!((blob.key_type_id, blob.value_type_id), (0, 0));
        assert!(aya_obj::btf::Btf::parse(&blob.bytes, Default::default()).is_ok());
    }
}
