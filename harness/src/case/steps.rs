//! The steps of a case file as serde sees them: one enum, [`RawOp`], with one argument
//! struct per step kind, each `deny_unknown_fields`. Serde enforces which arguments a kind
//! requires (a missing field) and which it allows (an unknown field), with the location of
//! the offending key; [`super::parse`] then resolves names and checks sizes.
//!
//! A step is written `- KIND: {ARGS}` with an optional sibling `expect:`, so [`RawStep`]
//! reads the mapping itself and hands each operation key with its value to the derived
//! `Deserialize` of [`RawOp`] (as an externally tagged variant): the list of kinds is the
//! enum, nowhere else. `prog` names its helper in `op`, which comes first
//! (`{op: update, map: m, …}`) and selects the argument struct of [`RawProgOp`].
use super::data::Datum;
use super::model::Expect;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// One name or a list of names: `flags: noexist` or `flags: [exist, lock]`.
#[derive(Clone)]
pub(super) struct Names(pub Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a flag name or a list of flag names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Names, E> {
                Ok(Names(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    names.push(n);
                }
                Ok(Names(names))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) type Flags = Option<Spanned<Names>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyValue {
    pub key: Datum,
    pub value: Datum,
}

/// Steps that take only the map: create, pop, dump, close, freeze, get_by_id, info, munmap.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MapOnly {
    pub map: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Lookup {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
}

/// delete and get_next_key: no key is a NULL key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MaybeKey {
    pub map: Spanned<String>,
    #[serde(default)]
    pub key: Option<Spanned<Datum>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LookupAndDelete {
    pub map: Spanned<String>,
    #[serde(default)]
    pub key: Option<Spanned<Datum>>,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Push {
    pub map: Spanned<String>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Peek {
    pub map: Spanned<String>,
    #[serde(default)]
    pub value: Option<Spanned<Datum>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBatch {
    pub map: Spanned<String>,
    pub entries: Vec<Spanned<KeyValue>>,
    #[serde(default)]
    pub flags: Flags,
}

/// lookup_batch and lookup_and_delete_batch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LookupBatch {
    pub map: Spanned<String>,
    #[serde(default)]
    pub batch: Option<u32>,
    /// `elem_flags` (`lock`).
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteBatch {
    pub map: Spanned<String>,
    pub keys: Vec<Spanned<Datum>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Traffic {
    pub map: Spanned<String>,
    pub packets: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Redirect {
    pub map: Spanned<String>,
    pub key: u32,
    pub dev: Spanned<String>,
    pub packets: u32,
}

/// pin and get_pinned.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PinPath {
    pub map: Spanned<String>,
    pub path: Spanned<String>,
}

/// mmap: the map's memory (prot default `[read, write]`, offset 0, length: all of it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Mmap {
    pub map: Spanned<String>,
    #[serde(default)]
    pub prot: Flags,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub length: Option<Spanned<u64>>,
    #[serde(default)]
    pub shared: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Mprotect {
    pub map: Spanned<String>,
    pub prot: Spanned<Names>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MmapRead {
    pub map: Spanned<String>,
    pub offset: u64,
    pub size: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MmapWrite {
    pub map: Spanned<String>,
    pub offset: u64,
    pub value: Spanned<Datum>,
}

/// attach_to_cgroup and detach_from_cgroup: the cgroup_skb program bound to `map`, on the
/// case's cgroup object, at an attach type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CgroupAttach {
    pub map: Spanned<String>,
    pub cgroup: Spanned<String>,
    pub attach_type: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CgroupSend {
    pub cgroup: Spanned<String>,
    pub packets: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CgroupTestRun {
    pub map: Spanned<String>,
    #[serde(default)]
    pub repeat: Option<Spanned<u32>>,
}

/// Every step kind, by its key in the case file.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawOp {
    Create(MapOnly),
    Update(Update),
    Lookup(Lookup),
    Delete(MaybeKey),
    GetNextKey(MaybeKey),
    LookupAndDelete(LookupAndDelete),
    Push(Push),
    Pop(MapOnly),
    Peek(Peek),
    Dump(MapOnly),
    Close(MapOnly),
    Freeze(MapOnly),
    UpdateBatch(UpdateBatch),
    LookupBatch(LookupBatch),
    LookupAndDeleteBatch(LookupBatch),
    DeleteBatch(DeleteBatch),
    Prog(RawProg),
    Traffic(Traffic),
    Redirect(Redirect),
    Pin(PinPath),
    GetPinned(PinPath),
    GetById(MapOnly),
    Info(MapOnly),
    Mmap(Mmap),
    Munmap(MapOnly),
    Mprotect(Mprotect),
    MmapRead(MmapRead),
    MmapWrite(MmapWrite),
    RingbufConsume(MapOnly),
    AttachToCgroup(CgroupAttach),
    DetachFromCgroup(CgroupAttach),
    SendFromCgroup(CgroupSend),
    CgroupSkbTestRun(CgroupTestRun),
    AttachToMap(super::sockets::RawAttach),
    Send(super::sockets::RawSend),
}

// ---- prog: `op` first, then the arguments of that helper ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgKey {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    #[serde(default)]
    pub program: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgUpdate {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub program: Option<String>,
}

/// push (queue, stack, bloom filter add) and ringbuf_output: a value and flags.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgValue {
    pub map: Spanned<String>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub program: Option<String>,
}

/// ringbuf_output: a record, flags, and `keep` (leave it in the ring).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgRingbuf {
    pub map: Spanned<String>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub keep: bool,
    #[serde(default)]
    pub program: Option<String>,
}

/// user_ringbuf_drain: flags only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgFlags {
    pub map: Spanned<String>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub program: Option<String>,
}

/// pop and for_each.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgMap {
    pub map: Spanned<String>,
    #[serde(default)]
    pub program: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgPeek {
    pub map: Spanned<String>,
    #[serde(default)]
    pub value: Option<Spanned<Datum>>,
    #[serde(default)]
    pub program: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgLookupPercpu {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    pub cpu: u32,
    #[serde(default)]
    pub program: Option<String>,
}

/// current_task_under_cgroup: the cgroup_array index to ask about.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgUnderCgroup {
    pub map: Spanned<String>,
    pub index: u32,
    #[serde(default)]
    pub program: Option<String>,
}

/// get_stackid: flags by name and the number of frames to skip.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgStackid {
    pub map: Spanned<String>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub skip: Option<Spanned<u64>>,
    #[serde(default)]
    pub program: Option<String>,
}

/// redirect_map: a key and the fallback action in `flags` (an integer, default 0).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgRedirect {
    pub map: Spanned<String>,
    pub key: Spanned<Datum>,
    #[serde(default)]
    pub flags: u64,
    #[serde(default)]
    pub program: Option<String>,
}

/// perf_event_output: the record and the map index (default BPF_F_CURRENT_CPU).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgPerfOutput {
    pub map: Spanned<String>,
    pub value: Spanned<Datum>,
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub program: Option<String>,
}

/// The helper a `prog` step calls, by its `op:` name.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawProgOp {
    Lookup(ProgKey),
    Update(ProgUpdate),
    Delete(ProgKey),
    Push(ProgValue),
    Pop(ProgMap),
    Peek(ProgPeek),
    RingbufOutput(ProgRingbuf),
    ForEach(ProgMap),
    LookupPercpu(ProgLookupPercpu),
    GetStackid(ProgStackid),
    CurrentTaskUnderCgroup(ProgUnderCgroup),
    UserRingbufDrain(ProgFlags),
    RedirectMap(ProgRedirect),
    TailCall(ProgKey),
    PerfEventOutput(ProgPerfOutput),
}

/// A `prog` step's arguments: its `op`, and the rest deserialized as that op's struct.
pub(super) struct RawProg(pub RawProgOp);

impl<'de> Deserialize<'de> for RawProg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawProg;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the program step's arguments, `op` first: {op: lookup, map: m, key: 1}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawProg, A::Error> {
                match map.next_key::<String>()?.as_deref() {
                    Some("op") => {}
                    Some(other) => {
                        return Err(de::Error::custom(format!(
                            "`prog` names its helper first: `{{op: …, {other}: …}}`"
                        )));
                    }
                    None => return Err(de::Error::custom("`prog` needs `op`")),
                }
                let op = map.next_value::<String>()?;
                // The remaining entries are that helper's arguments.
                let rest = de::value::MapAccessDeserializer::new(map);
                let tagged = Tagged {
                    kind: &op,
                    value: rest,
                    what: "program op",
                    label: format!("prog {op}"),
                };
                RawProgOp::deserialize(tagged).map(RawProg)
            }
        }
        d.deserialize_map(V)
    }
}

/// Every step kind, comma separated, for "a step needs one operation" — taken from
/// [`RawOp`]'s own derived list (the message serde gives for an unknown kind), so the
/// kinds are listed in one place only.
pub(super) fn kinds() -> &'static str {
    // Made once: every step's key is checked against it, and making it costs a serde error.
    static KINDS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KINDS.get_or_init(list_kinds)
}

fn list_kinds() -> String {
    let probe = RawOp::deserialize(Tagged {
        kind: "",
        value: de::value::UnitDeserializer::<de::value::Error>::new(),
        what: "step",
        label: String::new(),
    });
    let message = probe.err().map(|e| e.to_string()).unwrap_or_default();
    let list = message
        .split_once("expected one of")
        .map_or(message.as_str(), |(_, l)| l);
    list.trim_start_matches(':').trim().replace('`', "")
}

// ---- a step: one operation key (its value read as that variant), plus `expect` ----

/// A step as written: the operations found (validation requires exactly one) and the
/// optional expectation.
pub(super) struct RawStep {
    pub ops: Vec<(String, RawOp)>,
    pub expect: Option<Spanned<Expect>>,
}

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step: one operation such as `update: {map: m, key: 1, value: 2}`, and `expect:`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
                let mut step = RawStep {
                    ops: Vec::new(),
                    expect: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "expect" {
                        if step.expect.is_some() {
                            return Err(de::Error::duplicate_field("expect"));
                        }
                        step.expect = Some(map.next_value()?);
                    } else {
                        // Checked here, before the value, so the error is located at the key.
                        let kinds = kinds();
                        if !kinds.split(", ").any(|k| k == key) {
                            return Err(de::Error::custom(format!(
                                "unknown step `{key}`, expected one of: {kinds}"
                            )));
                        }
                        let op = map.next_value_seed(OpSeed(&key))?;
                        step.ops.push((key, op));
                    }
                }
                Ok(step)
            }
        }
        d.deserialize_map(V)
    }
}

/// Deserializes the value of the operation key `.0` as that variant of [`RawOp`].
struct OpSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for OpSeed<'_> {
    type Value = RawOp;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawOp, D::Error> {
        RawOp::deserialize(Tagged {
            kind: self.0,
            value: d,
            what: "step",
            label: self.0.to_string(),
        })
    }
}

/// An externally tagged enum value whose tag was already read: the derived `Deserialize`
/// of an enum sees variant `kind` with `value` as its content. Unknown kinds get serde's
/// own "unknown variant `x`, expected one of …" with every kind listed.
struct Tagged<'a, D> {
    kind: &'a str,
    value: D,
    /// How the kind is named in messages: `step`, `program op`.
    what: &'static str,
    /// How this kind is named in messages about its arguments: `update`, `prog update`.
    label: String,
}

/// serde's messages about a step's arguments, in the case format's words: "unknown field
/// `value`" → "`lookup` takes no `value`", "missing field `value`" → "`update` needs
/// `value`", "unknown variant `x`" → "unknown step `x`". Other messages are kept.
fn reword(message: &str, what: &str, label: &str) -> Option<String> {
    let message = message.lines().next().unwrap_or(message);
    fn field(rest: &str) -> Option<(&str, &str)> {
        rest.strip_prefix('`').and_then(|r| r.split_once('`'))
    }
    if let Some((name, rest)) = message.strip_prefix("unknown variant ").and_then(field) {
        let list = rest.trim_start_matches(", expected one of ").replace('`', "");
        return Some(format!("unknown {what} `{name}`, expected one of: {list}"));
    }
    if let Some((name, rest)) = message.strip_prefix("unknown field ").and_then(field) {
        let allowed = rest
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .replace('`', "");
        return Some(format!("`{label}` takes no `{name}`; it takes: {allowed}"));
    }
    if let Some((name, _)) = message.strip_prefix("missing field ").and_then(field) {
        return Some(format!("`{label}` needs `{name}`"));
    }
    None
}

fn reworded<E: de::Error>(e: E, what: &str, label: &str) -> E {
    match reword(&e.to_string(), what, label) {
        Some(message) => E::custom(message),
        None => e,
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tagged<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_enum(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de, D: Deserializer<'de>> EnumAccess<'de> for Tagged<'_, D> {
    type Error = D::Error;
    type Variant = Content<D>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Content<D>), D::Error> {
        let kind = seed
            .deserialize(de::value::StrDeserializer::<D::Error>::new(self.kind))
            .map_err(|e| reworded(e, self.what, &self.label))?;
        Ok((kind, Content(self.value, self.label)))
    }
}

/// The content of a [`Tagged`] variant: every variant is a newtype around its arguments.
struct Content<D>(D, String);

impl<'de, D: Deserializer<'de>> VariantAccess<'de> for Content<D> {
    type Error = D::Error;

    fn unit_variant(self) -> Result<(), D::Error> {
        Err(de::Error::custom("expected the step's arguments"))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, D::Error> {
        let label = self.1;
        seed.deserialize(self.0).map_err(|e| reworded(e, "step", &label))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected the step's arguments"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected the step's arguments"))
    }
}
