//! Keys and values as a case writes them, and their encoding into the bytes bpf(2) takes.
//!
//! Forms (see README "Keys and values"):
//! - `5` — an integer, little-endian at the declared size (negative: two's complement);
//! - `{hex: "0a 00 00 01"}` — exact bytes, spaces ignored;
//! - `[{u32: 24}, {be32: 0x0a000000}]` — fields of fixed width (`u8 u16 u32 u64` little-endian,
//!   `be16 be32 be64` big-endian, `hex` bytes) whose widths add up to the declared size;
//! - `{percpu: [1, 2]}` — one value per possible CPU (per-CPU maps only);
//! - `{map_fd: inner}` — the fd of another map of the case (values of map-in-map maps);
//! - `{fd: sock}` — the fd of one of the case's `objects:` (a socket, a program…);
//! - `{ifindex: v}` — the interface index of a `veth` object (devmap values); in a field
//!   list both take 4 bytes: `[{ifindex: v}, {fd: prog}]` is a `struct bpf_devmap_val`.
//! - `{cgroup: cg, attach_type: cgroup_inet_egress}` — a cgroup_storage key: the cgroup
//!   object's id (8 bytes), or `struct bpf_cgroup_storage_key` (16) with the attach type.
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Int(i128),
    Bytes(Vec<u8>),
    Fields(Vec<Field>),
    PerCpu(Vec<Datum>),
    MapFd(MapName),
    /// `{fd: NAME}`: the fd of one of the case's objects (see [`super::objects`]).
    Fd(ObjectName),
    /// `{ifindex: NAME}`: the interface index of a `veth` object.
    Ifindex(ObjectName),
    /// `{cgroup: NAME, attach_type?}`: a cgroup_storage key for a `cgroup` object.
    CgroupKey(CgroupKey),
}

/// A cgroup_storage key: the cgroup's id (its cgroup v2 directory's inode number, what
/// `cgroup_id()` returns) and, for the 16-byte `struct bpf_cgroup_storage_key
/// {__u64 cgroup_inode_id; __u32 attach_type;}` (padded to 16: every matrix kernel's BTF),
/// the attach type.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupKey {
    pub cgroup: ObjectName,
    pub attach_type: Option<crate::uapi::AttachType>,
}

impl CgroupKey {
    /// The key's bytes for a cgroup of id `id`, at `size` (8 or 16).
    pub fn encode(&self, id: u64, size: usize) -> Result<Vec<u8>, String> {
        let mut bytes = id.to_le_bytes().to_vec();
        match (size, self.attach_type) {
            (8, None) => {}
            (16, Some(t)) => {
                bytes.extend_from_slice(&t.0.to_le_bytes());
                bytes.extend_from_slice(&[0; 4]);
            }
            (8, Some(_)) => return Err("an 8-byte cgroup_storage key is the cgroup id alone: no `attach_type`".into()),
            (16, None) => {
                return Err("a 16-byte cgroup_storage key (struct bpf_cgroup_storage_key) needs `attach_type`".into());
            }
            (other, _) => return Err(format!("a `cgroup:` key is 8 or 16 bytes, the map expects {other}")),
        }
        Ok(bytes)
    }
}

/// `{fd: NAME}`: an object's name and its index in the case's `objects:`, set by validation
/// like a [`MapName`]'s.
pub type ObjectName = MapName;

/// `{map_fd: NAME}`: the map name as written and the index of the case's map it names.
/// The index is set by validation ([`Datum::resolve_names`]), so a name that is no map of
/// the case is a `check` error, never a run-time surprise; `None` only in a datum that has
/// not been validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MapName {
    pub name: String,
    pub index: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Int {
        width: usize,
        big_endian: bool,
        value: i128,
    },
    Bytes(Vec<u8>),
    /// `{fd: NAME}` or `{ifindex: NAME}` in a field list: 4 bytes, little-endian.
    Ref(Box<Datum>),
}

impl Field {
    fn width(&self) -> usize {
        match self {
            Field::Int { width, .. } => *width,
            Field::Bytes(b) => b.len(),
            Field::Ref(_) => 4,
        }
    }
}

const FIELD_KINDS: &str = "u8, u16, u32, u64, be16, be32, be64, hex, fd, ifindex";

fn field_width(kind: &str) -> Option<(usize, bool)> {
    Some(match kind {
        "u8" => (1, false),
        "u16" => (2, false),
        "u32" => (4, false),
        "u64" => (8, false),
        "be16" => (2, true),
        "be32" => (4, true),
        "be64" => (8, true),
        _ => return None,
    })
}

pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    // Before slicing by byte index: a non-ASCII character would not be on a char boundary.
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("`{text}` is not hex bytes (expected digits 0-9, a-f)"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex bytes `{text}` have an odd number of digits"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("`{text}` is not hex bytes (expected digits 0-9, a-f)"))
        })
        .collect()
}

pub use crate::outcome::to_hex;

/// The largest key or value the harness encodes or allocates: 64 MiB, far above what any
/// kernel accepts (values up to KMALLOC_MAX_SIZE, 4 MiB on x86-64; per-CPU 32 KiB), so no
/// behaviour a case could test is cut off, and a declared `key_size: 4294967295` cannot make
/// `check` or a run allocate gigabytes and abort.
pub const MAX_DATA_BYTES: usize = 64 << 20;

/// `Err` for a size the harness does not encode or allocate (see [`MAX_DATA_BYTES`]).
pub fn within_limit(what: &str, bytes: usize) -> Result<(), String> {
    if bytes > MAX_DATA_BYTES {
        Err(format!(
            "{what} of {bytes} bytes is more than the {} MiB the harness encodes",
            MAX_DATA_BYTES >> 20
        ))
    } else {
        Ok(())
    }
}

/// Little- or big-endian bytes of `value` at `width`, or why it does not fit.
fn int_bytes(value: i128, width: usize, big_endian: bool) -> Result<Vec<u8>, String> {
    within_limit("data", width)?;
    let fits = if width == 0 {
        value == 0
    } else if width >= 16 {
        true
    } else {
        let bits = 8 * width as u32;
        let max = (1i128 << bits) - 1;
        let min = -(1i128 << (bits - 1));
        (min..=max).contains(&value)
    };
    if !fits {
        return Err(format!("{value} does not fit in {width} bytes"));
    }
    let mut bytes: Vec<u8> = value.to_le_bytes().to_vec();
    // Sizes above 16 bytes: extend with the sign so -1 stays all ones.
    let fill = if value < 0 { 0xff } else { 0 };
    bytes.resize(width.max(16), fill);
    bytes.truncate(width);
    if big_endian {
        bytes.reverse();
    }
    Ok(bytes)
}

/// How a datum's size-independent parts are resolved while encoding.
pub trait FdResolver {
    /// The fd of the named map, as the u32 that map-in-map values carry.
    fn map_fd(&self, map: &MapName) -> Result<u32, String>;
    /// The fd of the named object (a socket, …), as the u32 fd-holding maps take.
    fn object_fd(&self, object: &ObjectName) -> Result<u32, String>;
    /// The id of the named `cgroup` object (its directory's inode number).
    fn cgroup_id(&self, object: &ObjectName) -> Result<u64, String>;
    /// The interface index of the named object (a veth's first end).
    fn object_ifindex(&self, object: &ObjectName) -> Result<u32, String>;
}

/// For checking sizes without a kernel: every map has a placeholder fd. Map names are
/// checked separately, by [`Datum::resolve_names`].
pub struct NoFds;
impl FdResolver for NoFds {
    fn map_fd(&self, _: &MapName) -> Result<u32, String> {
        Ok(0)
    }
    fn object_fd(&self, _: &ObjectName) -> Result<u32, String> {
        Ok(0)
    }
    fn cgroup_id(&self, _: &ObjectName) -> Result<u64, String> {
        Ok(0)
    }
    fn object_ifindex(&self, _: &ObjectName) -> Result<u32, String> {
        Ok(0)
    }
}

/// The names a datum may refer to: the case's maps and objects, in declaration order.
#[derive(Clone, Copy, Default)]
pub struct Declared<'a> {
    pub maps: &'a [&'a str],
    pub objects: &'a [&'a str],
    /// Which objects are interfaces (what `{ifindex: NAME}` may name); empty: not checked.
    pub interfaces: &'a [bool],
}

fn resolve_name(what: &str, form: &str, name: &mut MapName, names: &[&str]) -> Result<(), String> {
    match names.iter().position(|n| *n == name.name) {
        Some(i) => {
            name.index = Some(i);
            Ok(())
        }
        None => Err(format!(
            "unknown {what} `{}` in a {form} value, declared {what}s: {}",
            name.name,
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        )),
    }
}

impl Datum {
    /// Resolve every `{map_fd: NAME}` and `{fd: NAME}` in this datum to the index of the
    /// case's map or object of that name, or say which there are.
    pub fn resolve_names(&mut self, declared: Declared) -> Result<(), String> {
        match self {
            Datum::MapFd(m) => resolve_name("map", "map fd", m, declared.maps),
            Datum::Fd(o) => resolve_name("object", "`fd:`", o, declared.objects),
            Datum::CgroupKey(k) => resolve_name("object", "`cgroup:`", &mut k.cgroup, declared.objects),
            Datum::Ifindex(o) => {
                resolve_name("object", "`ifindex:`", o, declared.objects)?;
                match o.index.and_then(|i| declared.interfaces.get(i)) {
                    Some(false) => Err(format!("object `{}` is not a veth; `ifindex:` names one", o.name)),
                    _ => Ok(()),
                }
            }
            Datum::PerCpu(values) => values.iter_mut().try_for_each(|v| v.resolve_names(declared)),
            Datum::Fields(fields) => fields.iter_mut().try_for_each(|f| match f {
                Field::Ref(d) => d.resolve_names(declared),
                Field::Int { .. } | Field::Bytes(_) => Ok(()),
            }),
            Datum::Int(_) | Datum::Bytes(_) => Ok(()),
        }
    }

    /// The objects (`{fd: NAME}`) this datum holds, by index.
    pub fn objects(&self) -> Vec<usize> {
        match self {
            Datum::Fd(o) | Datum::Ifindex(o) => o.index.into_iter().collect(),
            Datum::CgroupKey(k) => k.cgroup.index.into_iter().collect(),
            Datum::PerCpu(values) => values.iter().flat_map(Datum::objects).collect(),
            Datum::Fields(fields) => fields
                .iter()
                .flat_map(|f| match f {
                    Field::Ref(d) => d.objects(),
                    Field::Int { .. } | Field::Bytes(_) => Vec::new(),
                })
                .collect(),
            Datum::Int(_) | Datum::Bytes(_) | Datum::MapFd(_) => Vec::new(),
        }
    }

    /// Encode at exactly `size` bytes. Per-CPU data is refused here: see [`Datum::encode_percpu`].
    pub fn encode(&self, size: usize, fds: &dyn FdResolver) -> Result<Vec<u8>, String> {
        within_limit("data", size)?;
        match self {
            Datum::Int(v) => int_bytes(*v, size, false),
            Datum::Bytes(b) => {
                if b.len() == size {
                    Ok(b.clone())
                } else {
                    Err(format!("hex bytes are {} bytes long, the map expects {size}", b.len()))
                }
            }
            Datum::Fields(fields) => {
                let mut out = Vec::with_capacity(size);
                for field in fields {
                    match field {
                        Field::Int {
                            width,
                            big_endian,
                            value,
                        } => out.extend(int_bytes(*value, *width, *big_endian)?),
                        Field::Bytes(b) => out.extend_from_slice(b),
                        Field::Ref(d) => out.extend(d.encode(4, fds)?),
                    }
                }
                if out.len() == size {
                    Ok(out)
                } else {
                    Err(format!("fields add up to {} bytes, the map expects {size}", out.len()))
                }
            }
            Datum::PerCpu(_) => Err("a per-CPU value (`percpu:`) is only valid for per-CPU maps".into()),
            Datum::MapFd(name) => int_bytes(fds.map_fd(name)? as i128, size, false),
            Datum::Fd(name) => int_bytes(fds.object_fd(name)? as i128, size, false),
            Datum::CgroupKey(k) => k.encode(fds.cgroup_id(&k.cgroup)?, size),
            Datum::Ifindex(name) => int_bytes(fds.object_ifindex(name)? as i128, size, false),
        }
    }

    /// Encode at the datum's own size, for data with no declared size (ring buffer records):
    /// integers take 8 bytes.
    pub fn encode_natural(&self, fds: &dyn FdResolver) -> Result<Vec<u8>, String> {
        match self {
            Datum::Int(_) | Datum::MapFd(_) | Datum::Fd(_) | Datum::Ifindex(_) => self.encode(8, fds),
            Datum::CgroupKey(k) => self.encode(if k.attach_type.is_some() { 16 } else { 8 }, fds),
            Datum::Bytes(b) => Ok(b.clone()),
            Datum::Fields(fields) => self.encode(fields.iter().map(Field::width).sum(), fds),
            Datum::PerCpu(_) => Err("per-CPU data has no size of its own".into()),
        }
    }

    /// Encode a value of a per-CPU map as bpf(2) wants it: `ncpus` slots, each `value_size`
    /// rounded up to 8 bytes. A plain datum is written to every CPU's slot.
    pub fn encode_percpu(&self, value_size: usize, ncpus: usize, fds: &dyn FdResolver) -> Result<Vec<u8>, String> {
        let slot = value_size.div_ceil(8) * 8;
        within_limit("a per-CPU value", slot.saturating_mul(ncpus))?;
        let slots: Vec<&Datum> = match self {
            Datum::PerCpu(values) if values.len() == ncpus => values.iter().collect(),
            Datum::PerCpu(values) => {
                return Err(format!(
                    "per-CPU value has {} slots, the kernel has {ncpus} possible CPUs",
                    values.len()
                ));
            }
            plain => vec![plain; ncpus],
        };
        let mut out = Vec::with_capacity(slot * ncpus);
        for datum in slots {
            let mut bytes = datum.encode(value_size, fds)?;
            bytes.resize(slot, 0);
            out.extend(bytes);
        }
        Ok(out)
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Int(v) => write!(f, "{v}"),
            Datum::Bytes(b) => write!(f, "hex:{}", to_hex(b)),
            Datum::Fields(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|field| match field {
                        // Big-endian fields are addresses and ports: hex reads better.
                        Field::Int {
                            width,
                            big_endian: true,
                            value,
                        } => {
                            format!("be{}:{value:#0w$x}", width * 8, w = width * 2 + 2)
                        }
                        Field::Int {
                            width,
                            big_endian: false,
                            value,
                        } => format!("u{}:{value}", width * 8),
                        Field::Bytes(b) => format!("hex:{}", to_hex(b)),
                        Field::Ref(d) => d.to_string(),
                    })
                    .collect();
                write!(f, "[{}]", parts.join(" "))
            }
            Datum::PerCpu(values) => {
                let parts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "percpu[{}]", parts.join(","))
            }
            Datum::MapFd(m) => write!(f, "fd({})", m.name),
            Datum::Fd(o) => write!(f, "fd({})", o.name),
            Datum::CgroupKey(CgroupKey {
                cgroup,
                attach_type: None,
            }) => write!(f, "cgroup({})", cgroup.name),
            Datum::CgroupKey(CgroupKey {
                cgroup,
                attach_type: Some(t),
            }) => write!(f, "cgroup({},{t})", cgroup.name),
            Datum::Ifindex(o) => write!(f, "ifindex({})", o.name),
        }
    }
}

const DATUM_FORMS: &str = "an integer, {hex: \"..\"}, a list of fields like [{u32: 1}, {be16: 2}], {percpu: [..]}, {map_fd: NAME}, {fd: OBJECT}, {ifindex: VETH} or {cgroup: OBJECT, attach_type: …}";

impl<'de> Deserialize<'de> for Datum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Datum;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DATUM_FORMS)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Datum, E> {
                Ok(Datum::Int(v as i128))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Datum, E> {
                Ok(Datum::Int(v as i128))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Datum, E> {
                i128::try_from(v)
                    .map(Datum::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Datum, E> {
                Ok(Datum::Int(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Datum, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = seq.next_element::<FieldDe>()? {
                    fields.push(field.0);
                }
                if fields.is_empty() {
                    return Err(de::Error::custom(
                        "an empty field list; expected fields like [{u32: 1}]",
                    ));
                }
                Ok(Datum::Fields(fields))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Datum, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!("an empty mapping; expected {DATUM_FORMS}")));
                };
                let datum = match kind.as_str() {
                    "hex" => {
                        let text = map.next_value::<String>()?;
                        Datum::Bytes(parse_hex(&text).map_err(de::Error::custom)?)
                    }
                    "percpu" => {
                        let values = map.next_value::<Vec<Datum>>()?;
                        if values.iter().any(|v| matches!(v, Datum::PerCpu(_))) {
                            return Err(de::Error::custom("per-CPU values cannot nest"));
                        }
                        Datum::PerCpu(values)
                    }
                    // `{map: NAME}` is how results show a map-in-map value; accepted as input too.
                    "map_fd" | "map" => Datum::MapFd(MapName {
                        name: map.next_value::<String>()?,
                        index: None,
                    }),
                    "fd" | "ifindex" => object_ref(&kind, map.next_value::<String>()?),
                    "cgroup" => {
                        let cgroup = ObjectName {
                            name: map.next_value::<String>()?,
                            index: None,
                        };
                        let attach_type = match map.next_key::<String>()?.as_deref() {
                            None => None,
                            Some("attach_type") => {
                                let name = map.next_value::<String>()?;
                                let t = crate::uapi::ATTACH_TYPES.lookup(&name).map_err(de::Error::custom)?;
                                Some(crate::uapi::AttachType(t as u32))
                            }
                            Some(other) => {
                                return Err(de::Error::custom(format!(
                                    "`{other}` after `cgroup`: expected `attach_type` or nothing"
                                )));
                            }
                        };
                        Datum::CgroupKey(CgroupKey { cgroup, attach_type })
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown value form `{other}`, expected one of: hex, percpu, map_fd, map, fd, ifindex, cgroup"
                        )))
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "`{extra}` after `{kind}`: a value mapping has exactly one key"
                    )));
                }
                Ok(datum)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Datum, E> {
                Err(E::custom(format!("found the string `{v}`; expected {DATUM_FORMS}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `{fd: NAME}` or `{ifindex: NAME}`, by the key written.
fn object_ref(kind: &str, name: String) -> Datum {
    let name = ObjectName { name, index: None };
    if kind == "fd" {
        Datum::Fd(name)
    } else {
        Datum::Ifindex(name)
    }
}

/// One `{u32: 5}` element of a field list.
struct FieldDe(Field);

impl<'de> Deserialize<'de> for FieldDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldDe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a field like {{u32: 1}} (one of {FIELD_KINDS})")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldDe, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "an empty field; expected one of {FIELD_KINDS}"
                    )));
                };
                let field = if kind == "hex" {
                    Field::Bytes(parse_hex(&map.next_value::<String>()?).map_err(de::Error::custom)?)
                } else if kind == "fd" || kind == "ifindex" {
                    Field::Ref(Box::new(object_ref(&kind, map.next_value::<String>()?)))
                } else if let Some((width, big_endian)) = field_width(&kind) {
                    let value = map.next_value::<i128>()?;
                    int_bytes(value, width, false).map_err(de::Error::custom)?;
                    Field::Int {
                        width,
                        big_endian,
                        value,
                    }
                } else {
                    return Err(de::Error::custom(format!(
                        "unknown field width `{kind}`, expected one of: {FIELD_KINDS}"
                    )));
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "`{extra}` after `{kind}`: write one field per list element"
                    )));
                }
                Ok(FieldDe(field))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian_at_the_declared_size() {
        assert_eq!(Datum::Int(1).encode(4, &NoFds).unwrap(), vec![1, 0, 0, 0]);
        assert_eq!(Datum::Int(0x0102).encode(2, &NoFds).unwrap(), vec![2, 1]);
        assert_eq!(Datum::Int(-1).encode(2, &NoFds).unwrap(), vec![0xff, 0xff]);
        assert_eq!(Datum::Int(5).encode(20, &NoFds).unwrap()[..2], [5, 0]);
        assert_eq!(Datum::Int(-1).encode(20, &NoFds).unwrap(), vec![0xff; 20]);
        assert_eq!(
            Datum::Int(256).encode(1, &NoFds).unwrap_err(),
            "256 does not fit in 1 bytes"
        );
        // A declared size of 4 GiB is refused, not allocated (it used to overflow or abort).
        assert_eq!(
            Datum::Int(1).encode(u32::MAX as usize, &NoFds).unwrap_err(),
            "data of 4294967295 bytes is more than the 64 MiB the harness encodes"
        );
        assert!(Datum::Int(1).encode_percpu(u32::MAX as usize, 2, &NoFds).is_err());
        // key_size 0 (queues, stacks): only 0 fits, and it is no bytes at all.
        assert_eq!(Datum::Int(0).encode(0, &NoFds).unwrap(), Vec::<u8>::new());
        assert_eq!(
            Datum::Int(1).encode(0, &NoFds).unwrap_err(),
            "1 does not fit in 0 bytes"
        );
    }

    #[test]
    fn fields_concatenate_and_must_fill_the_size() {
        let lpm = Datum::Fields(vec![
            Field::Int {
                width: 4,
                big_endian: false,
                value: 24,
            },
            Field::Int {
                width: 4,
                big_endian: true,
                value: 0x0a000100,
            },
        ]);
        assert_eq!(lpm.encode(8, &NoFds).unwrap(), vec![24, 0, 0, 0, 10, 0, 1, 0]);
        assert_eq!(
            lpm.encode(6, &NoFds).unwrap_err(),
            "fields add up to 8 bytes, the map expects 6"
        );
    }

    #[test]
    fn hex_bytes_must_match_exactly() {
        assert_eq!(parse_hex("0a 0b").unwrap(), vec![10, 11]);
        assert_eq!(parse_hex("0x0a0b").unwrap(), vec![10, 11]);
        assert!(parse_hex("abc").unwrap_err().contains("odd number"));
        assert!(parse_hex("zz").unwrap_err().contains("not hex"));
        // Found by the parser fuzzer: a multi-byte character used to panic on slicing.
        assert!(parse_hex("7cࠀd7e").unwrap_err().contains("not hex"));
        assert!(parse_hex("é0").unwrap_err().contains("not hex"));
        assert!(Datum::Bytes(vec![1]).encode(2, &NoFds).is_err());
    }

    #[test]
    fn percpu_values_use_8_byte_slots_per_cpu() {
        let plain = Datum::Int(7);
        assert_eq!(
            plain.encode_percpu(4, 2, &NoFds).unwrap(),
            vec![7, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        );
        let explicit = Datum::PerCpu(vec![Datum::Int(1), Datum::Int(2)]);
        assert_eq!(explicit.encode_percpu(8, 2, &NoFds).unwrap()[8], 2);
        assert!(explicit
            .encode_percpu(8, 4, &NoFds)
            .unwrap_err()
            .contains("4 possible CPUs"));
        assert!(explicit.encode(8, &NoFds).is_err());
    }

    #[test]
    fn yaml_forms_parse() {
        let d: Vec<Datum> = serde_saphyr::from_str(
            "- 5\n- -1\n- {hex: '0a0b'}\n- [{u32: 24}, {be16: 1}, {hex: ff}]\n- {percpu: [1, 2]}\n- {map_fd: inner}\n",
        )
        .unwrap();
        assert_eq!(d[0], Datum::Int(5));
        assert_eq!(d[1], Datum::Int(-1));
        assert_eq!(d[2], Datum::Bytes(vec![10, 11]));
        assert_eq!(d[3].encode(7, &NoFds).unwrap(), vec![24, 0, 0, 0, 0, 1, 0xff]);
        assert_eq!(d[4], Datum::PerCpu(vec![Datum::Int(1), Datum::Int(2)]));
        assert_eq!(
            d[5],
            Datum::MapFd(MapName {
                name: "inner".into(),
                index: None
            })
        );
        assert_eq!(d[3].to_string(), "[u32:24 be16:0x0001 hex:ff]");
    }
}
