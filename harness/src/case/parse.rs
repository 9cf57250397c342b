//! YAML → [`Case`], with every error located at file:line:column.
//!
//! Two passes: serde-saphyr turns the text into the `Raw*` types (here and in
//! [`super::steps`]: syntax, step kinds and their required and allowed arguments, value
//! forms — its errors carry a location), then [`validate`] resolves names (map types,
//! flags, map references, errnos) and checks sizes and pin paths, using the `Spanned`
//! locations kept for exactly that.
use super::btf::{self, MapBtf};
use super::data::{within_limit, Datum, Declared, NoFds, ObjectName, MAX_DATA_BYTES};
use super::model::{Case, CgroupCall, CgroupRef, Expect, MapDef, MmapCall, Op, ProgCall, Step};
use super::objects::{self, ObjectDef, ObjectKind, RawObject};
use super::names::{
    Table, DECLARED_MAPS, ELEM_FLAGS, ERRNOS, MAP_FLAGS, MAP_TYPES, PROT, RINGBUF_FLAGS, STACKID_FLAGS,
};
use super::sockets;
use super::steps::{self, CgroupAttach, KeyValue, Names, RawOp, RawProg, RawProgOp, RawStep};
use crate::uapi::{AttachType, ElemFlags, Errno, MapFlags, MapType, Prot, ATTACH_TYPES};
use crate::uapi::{RedirectFlags, SockAttachType, REDIRECT_FLAGS, SOCK_ATTACH_TYPES};
use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a case file, at a place in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct CaseError {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    about: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    differential: bool,
    maps: IndexMap<String, Spanned<RawMap>>,
    #[serde(default)]
    objects: IndexMap<String, Spanned<RawObject>>,
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(rename = "type")]
    map_type: Spanned<String>,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    #[serde(default)]
    flags: Option<Spanned<Names>>,
    #[serde(default)]
    map_extra: u64,
    #[serde(default)]
    numa_node: u32,
    #[serde(default)]
    inner: Option<Spanned<String>>,
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    btf: Option<btf::RawBtf>,
    elf: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`ok`, an errno name such as EEXIST, {value: ..}, {key: ..} or {entries: [..]}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                if v == "ok" {
                    return Ok(Expect::Ok);
                }
                let errno = ERRNOS.lookup(v).map_err(|e| E::custom(format!("{e}, or `ok`")))?;
                Ok(Expect::Errno(Errno(errno as i32)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expect, A::Error> {
                let (mut ret, mut value, mut key, mut entries) = (None, None, None, None);
                while let Some(field) = map.next_key::<String>()? {
                    match field.as_str() {
                        "ret" => ret = Some(map.next_value::<crate::outcome::Ret>()?.0),
                        "value" => value = Some(map.next_value::<Datum>()?),
                        "key" => key = Some(map.next_value::<Datum>()?),
                        "entries" => entries = Some(map.next_value::<Vec<KeyValue>>()?),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown expectation `{other}`, expected one of: value, key, entries, ret"
                            )));
                        }
                    }
                }
                match (ret, value, key, entries) {
                    (Some(ret), value, None, None) => Ok(Expect::Ret { ret, value }),
                    (None, Some(v), None, None) => Ok(Expect::Value(v)),
                    (None, None, Some(k), None) => Ok(Expect::Key(k)),
                    (None, None, None, Some(e)) => {
                        Ok(Expect::Entries(e.into_iter().map(|kv| (kv.key, kv.value)).collect()))
                    }
                    (None, None, None, None) => Err(de::Error::custom("an empty expectation")),
                    _ => Err(de::Error::custom(
                        "expect one thing: {value: ..}, {key: ..}, {entries: [..]} or {ret: .., value: ..}",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse and validate one case file. `id` is its name in results (`hash/update-flags`).
pub fn parse_case(file: &Path, id: &str, text: &str) -> Result<Case, Vec<CaseError>> {
    let raw: RawCase = serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(file, text, &e)])?;
    validate(file, id, raw)
}

/// The scalar at a 1-based line/column, for messages that do not say what they found.
fn token_at(text: &str, line: u64, column: u64) -> Option<String> {
    let row = text.lines().nth(line.checked_sub(1)? as usize)?;
    let rest: String = row.chars().skip(column.checked_sub(1)? as usize).collect();
    let token: String = rest
        .chars()
        .take_while(|c| !matches!(c, ',' | '}' | ']' | '#'))
        .collect();
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// A flow collection (`{…}` or `[…]`) that is still open where the block structure
/// resumes (a later line at or left of the opening line's indentation) or at the end of
/// the text: its 1-based line and column, whether it is a mapping, and the line where it
/// should have been closed (`None`: the end of the file).
///
/// YAML itself reads on: `{type: hash, key_size: 4` followed by a newline makes the next
/// lines part of the scalar `4 …`, and the parser then reports that scalar — not the
/// missing `}`. Quoted strings and comments are skipped; in block context a bracket opens
/// a flow collection only where a value starts (after `key:`, `-` or at the line start).
fn unclosed_flow(text: &str) -> Option<(u64, u64, bool, Option<u64>)> {
    // (line, column, is mapping, indentation of the opening line)
    let mut open: Vec<(u64, u64, bool, usize)> = Vec::new();
    for (i, row) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let trimmed = row.trim_start();
        let indent = row.len() - trimmed.len();
        if let Some(&(l, c, mapping, opened_indent)) = open.first() {
            if !trimmed.is_empty() && !trimmed.starts_with('#') && indent <= opened_indent {
                return Some((l, c, mapping, Some(line)));
            }
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut prev: Option<char> = None;
        for (j, ch) in row.chars().enumerate() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if q == '"' && ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                    prev = Some(ch);
                }
                continue;
            }
            let value_start = matches!(prev, None | Some(':' | '-' | '?' | ',' | '{' | '['));
            match ch {
                '#' if j == 0
                    || row[..row.char_indices().nth(j).map_or(0, |(b, _)| b)].ends_with(char::is_whitespace) =>
                {
                    break;
                }
                '"' | '\'' if value_start => quote = Some(ch),
                '{' | '[' if !open.is_empty() || value_start => {
                    open.push((line, j as u64 + 1, ch == '{', indent));
                }
                '}' | ']' if !open.is_empty() => {
                    open.pop();
                }
                _ => {}
            }
            if !ch.is_whitespace() {
                prev = Some(ch);
            }
        }
    }
    open.first().map(|&(l, c, mapping, _)| (l, c, mapping, None))
}

fn yaml_error(file: &Path, text: &str, err: &serde_saphyr::Error) -> CaseError {
    let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
    // An unclosed flow collection before the error is its cause: say that, where it opened.
    if let Some((l, c, mapping, until)) = unclosed_flow(text) {
        if (line, column) >= (l, c) || line == 0 {
            let (what, close, item) = if mapping {
                ("flow mapping", '}', "entry")
            } else {
                ("flow sequence", ']', "item")
            };
            let by = match until {
                Some(next) => format!("before line {next}, which is back at block indentation"),
                None => "before the end of the file".to_string(),
            };
            return CaseError {
                file: file.to_path_buf(),
                line: l,
                column: c,
                message: format!(
                    "{what} opened here is not closed: expected `{close}` (or `,` and another {item}) {by}"
                ),
            };
        }
    }
    // The rendered error repeats the location and a source snippet; the first line is the message.
    let rendered = err.to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .trim_start_matches("error: ")
        .to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    // serde-saphyr prefixes "line L column C: "; the location is reported separately.
    let message = match message.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((position, rest)) if position.contains(" column ") => rest.to_string(),
        _ => message,
    };
    // "invalid u32" alone says neither what was found nor what would do.
    let message = match message.strip_prefix("invalid ") {
        Some(ty @ ("u32" | "u64" | "i128")) => {
            let want = if ty == "u32" {
                "an integer from 0 to 4294967295"
            } else {
                "an integer"
            };
            match token_at(text, line, column) {
                Some(found) => format!("found `{found}`, expected {want}"),
                None => format!("expected {want}"),
            }
        }
        _ => message,
    };
    CaseError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Collects located errors while validating.
struct Errors<'a> {
    file: &'a Path,
    list: Vec<CaseError>,
}

impl Errors<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, message: impl Into<String>) {
        self.list.push(CaseError {
            file: self.file.to_path_buf(),
            line: span.referenced.line(),
            column: span.referenced.column(),
            message: message.into(),
        });
    }
}

fn validate(file: &Path, id: &str, raw: RawCase) -> Result<Case, Vec<CaseError>> {
    let mut errors = Errors { file, list: Vec::new() };
    if raw.about.value.trim().is_empty() {
        errors.at(&raw.about, "`about` is empty; say in one line what this case pins down");
    }
    if raw.source.value.trim().is_empty() {
        errors.at(
            &raw.source,
            "`source` is empty; name the kernel code or selftest that defines the behaviour",
        );
    }

    let object_names: Vec<&str> = raw.objects.keys().map(|n| n.as_str()).collect();
    let objects = validate_objects(&mut errors, &raw);
    let names: Vec<&str> = raw.maps.keys().map(|n| n.as_str()).collect();
    let interfaces: Vec<bool> = objects.iter().map(|o| o.kind.is_interface()).collect();
    let declared = Declared {
        maps: &names,
        objects: &object_names,
        interfaces: &interfaces,
    };
    let mut maps = Vec::new();
    for (i, (name, spanned)) in raw.maps.iter().enumerate() {
        let m = &spanned.value;
        let map_type = match MAP_TYPES.lookup(&m.map_type.value) {
            Ok(t) => MapType(t as u32),
            Err(e) => {
                errors.at(&m.map_type, e);
                MapType(0)
            }
        };
        let mut map_flags = 0u32;
        if let Some(flags) = &m.flags {
            for f in &flags.value.0 {
                match MAP_FLAGS.lookup(f) {
                    Ok(v) => map_flags |= v as u32,
                    Err(e) => errors.at(flags, e),
                }
            }
        }
        let inner = m.inner.as_ref().and_then(|inner| {
            let found = names.iter().position(|n| *n == inner.value);
            match found {
                Some(j) if j < i => Some(j),
                Some(_) => {
                    errors.at(
                        inner,
                        format!("inner map `{}` must be declared before `{name}`", inner.value),
                    );
                    None
                }
                None => {
                    errors.at(
                        inner,
                        format!("unknown map `{}`, declared maps: {}", inner.value, join(&names)),
                    );
                    None
                }
            }
        });
        if let Some(n) = &m.name {
            if n.value.len() > 15 {
                errors.at(
                    n,
                    format!("map name `{}` is longer than the kernel's 15 bytes", n.value),
                );
            }
        }
        let btf = m.btf.as_ref().map(|raw| map_btf(&mut errors, raw)).unwrap_or_default();
        if let Some(elf) = &m.elf {
            if !DECLARED_MAPS.contains(&elf.value.as_str()) {
                errors.at(
                    elf,
                    format!(
                        "`{}` is no map declaration of ebpf/declared.c, expected one of: {}",
                        elf.value,
                        DECLARED_MAPS.join(", ")
                    ),
                );
            }
            if m.name.is_some() {
                errors.at(elf, "a map from `elf:` is named by its declaration: no `name:`");
            }
        }
        maps.push(MapDef {
            name: name.clone(),
            map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: MapFlags(map_flags),
            map_extra: m.map_extra,
            numa_node: m.numa_node,
            inner,
            kernel_name: m.name.as_ref().map(|n| n.value.clone()),
            btf,
            elf: m.elf.as_ref().map(|e| e.value.clone()),
        });
    }

    let mut steps = Vec::new();
    for raw_step in &raw.steps {
        let expect = raw_step.value.expect.as_ref().map(|e| {
            let mut expect = e.value.clone();
            if let Err(why) = expect.resolve_names(declared) {
                errors.at(e, why);
            }
            expect
        });
        if let Some(op) = step_op(&mut errors, declared, &maps, &objects, raw_step) {
            steps.push(Step::new(op, expect, raw_step.referenced.line(), &maps));
        }
    }

    if errors.list.is_empty() {
        Ok(Case {
            id: id.to_string(),
            file: file.to_path_buf(),
            about: raw.about.value,
            source: raw.source.value,
            differential: raw.differential,
            maps,
            objects,
            steps,
        })
    } else {
        Err(errors.list)
    }
}

/// A map's `btf:` with its type names resolved (each unknown one a located error).
fn map_btf(errors: &mut Errors, raw: &btf::RawBtf) -> MapBtf {
    let mut resolve = |t: &Option<Spanned<btf::RawType>>| {
        t.as_ref().and_then(|t| match btf::resolve(&t.value) {
            Ok(resolved) => Some(resolved),
            Err(why) => {
                errors.at(t, why);
                None
            }
        })
    };
    let (key, value) = (resolve(&raw.key), resolve(&raw.value));
    if let Some(v) = raw.vmlinux_value.as_ref().filter(|v| v.value.trim().is_empty()) {
        errors.at(v, "`vmlinux_value` is empty; name a struct of the kernel's BTF, e.g. bpf_struct_ops_tcp_congestion_ops");
    }
    MapBtf {
        key,
        value,
        vmlinux_value: raw.vmlinux_value.as_ref().map(|v| v.value.clone()),
    }
}

/// A datum with its map references resolved (errors recorded at `at`: the datum's own
/// span or an enclosing one).
fn resolved_at<T>(errors: &mut Errors, names: Declared, at: &Spanned<T>, datum: &Datum) -> Datum {
    let mut d = datum.clone();
    if let Err(why) = d.resolve_names(names) {
        errors.at(at, why);
    }
    d
}

/// The `objects:` section: each kind checked by serde, its references resolved to earlier
/// objects of the right kind, and no name shared with a map (both render as `fd(NAME)`).
fn validate_objects(errors: &mut Errors, raw: &RawCase) -> Vec<ObjectDef> {
    let names: Vec<&str> = raw.objects.keys().map(|n| n.as_str()).collect();
    let mut objects: Vec<ObjectDef> = Vec::new();
    for (i, (name, spanned)) in raw.objects.iter().enumerate() {
        if raw.maps.contains_key(name) {
            errors.at(
                spanned,
                format!("`{name}` names a map and an object; give them different names"),
            );
        }
        let made = &objects;
        let kind = objects::resolve(&spanned.value, |r, fits, what| {
            match names.iter().position(|n| *n == r.value) {
                Some(j) if j < i && fits(&made[j].kind) => Ok(j),
                Some(j) if j < i => Err(format!("object `{}` is not {what}", r.value)),
                Some(_) => Err(format!("object `{}` must be declared before `{name}`", r.value)),
                None => Err(format!(
                    "unknown object `{}`, declared objects: {}",
                    r.value,
                    join(&names)
                )),
            }
        });
        let kind = match kind {
            Ok(kind) => kind,
            Err((at, why)) => {
                errors.at(at, why);
                // Keeps the indices aligned with the names; the case fails `check` anyway.
                ObjectKind::Udp
            }
        };
        objects.push(ObjectDef {
            name: name.clone(),
            kind,
        });
    }
    objects
}

fn join(names: &[&str]) -> String {
    let v = names;
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// Turn one raw step into an [`Op`], recording what is wrong with it.
fn step_op(
    errors: &mut Errors,
    names: Declared,
    maps: &[MapDef],
    objects: &[ObjectDef],
    step: &Spanned<RawStep>,
) -> Option<Op> {
    let op = match step.value.ops.as_slice() {
        [(_, op)] => op,
        [] => {
            errors.at(step, format!("a step needs one operation, one of: {}", steps::kinds()));
            return None;
        }
        more => {
            let kinds: Vec<&str> = more.iter().map(|(k, _)| k.as_str()).collect();
            errors.at(step, format!("a step has one operation, found {}", kinds.join(" and ")));
            return None;
        }
    };
    let mut c = Checker {
        errors,
        names,
        maps,
        objects,
    };
    Some(match op {
        RawOp::Create(a) => Op::Create { map: c.map(&a.map)? },
        RawOp::Pop(a) => Op::Pop { map: c.map(&a.map)? },
        RawOp::Dump(a) => Op::Dump { map: c.map(&a.map)? },
        RawOp::Close(a) => Op::Close { map: c.map(&a.map)? },
        RawOp::Freeze(a) => Op::Freeze { map: c.map(&a.map)? },
        RawOp::GetById(a) => Op::GetById { map: c.map(&a.map)? },
        RawOp::Update(a) => {
            let map = c.map(&a.map)?;
            Op::Update {
                map,
                key: c.key(map, &a.key),
                value: c.value(map, &a.value, Use::Syscall),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::Lookup(a) => {
            let map = c.map(&a.map)?;
            Op::Lookup {
                map,
                key: c.key(map, &a.key),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::Delete(a) => {
            let map = c.map(&a.map)?;
            Op::Delete {
                map,
                key: a.key.as_ref().map(|k| c.key(map, k)),
            }
        }
        RawOp::GetNextKey(a) => {
            let map = c.map(&a.map)?;
            Op::GetNextKey {
                map,
                key: a.key.as_ref().map(|k| c.key(map, k)),
            }
        }
        RawOp::LookupAndDelete(a) => {
            let map = c.map(&a.map)?;
            Op::LookupAndDelete {
                map,
                key: a.key.as_ref().map(|k| c.key(map, k)),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::Push(a) => {
            let map = c.map(&a.map)?;
            Op::Push {
                map,
                value: c.value(map, &a.value, Use::Syscall),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::Peek(a) => {
            let map = c.map(&a.map)?;
            Op::Peek {
                map,
                value: a.value.as_ref().map(|v| c.value(map, v, Use::Syscall)),
            }
        }
        RawOp::UpdateBatch(a) => {
            let map = c.map(&a.map)?;
            let entries = a
                .entries
                .iter()
                .map(|kv| (c.resolved_at(kv, &kv.value.key), c.resolved_at(kv, &kv.value.value)))
                .collect();
            Op::UpdateBatch {
                map,
                entries,
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::LookupBatch(a) => {
            let map = c.map(&a.map)?;
            Op::LookupBatch {
                map,
                batch: a.batch.unwrap_or(maps[map].max_entries.max(1)),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::LookupAndDeleteBatch(a) => {
            let map = c.map(&a.map)?;
            Op::LookupAndDeleteBatch {
                map,
                batch: a.batch.unwrap_or(maps[map].max_entries.max(1)),
                flags: ElemFlags(c.flags(&a.flags, &ELEM_FLAGS)?),
            }
        }
        RawOp::DeleteBatch(a) => {
            let map = c.map(&a.map)?;
            Op::DeleteBatch {
                map,
                keys: a.keys.iter().map(|k| c.resolved_at(k, &k.value)).collect(),
            }
        }
        RawOp::Traffic(a) => Op::Traffic {
            map: c.map(&a.map)?,
            packets: a.packets,
        },
        RawOp::Redirect(a) => Op::Redirect {
            map: c.map(&a.map)?,
            key: a.key,
            dev: c.interface(&a.dev)?,
            dev_name: a.dev.value.clone(),
            packets: a.packets,
        },
        RawOp::Pin(a) => Op::Pin {
            map: c.map(&a.map)?,
            path: c.pin_path(&a.path)?,
        },
        RawOp::GetPinned(a) => Op::GetPinned {
            map: c.map(&a.map)?,
            path: c.pin_path(&a.path)?,
        },
        RawOp::Prog(RawProg(p)) => c.prog(p)?,
        RawOp::Info(a) => Op::Info { map: c.map(&a.map)? },
        RawOp::AttachToCgroup(a) | RawOp::DetachFromCgroup(a) => {
            let (map, cgroup, attach_type) = c.cgroup_attach(a)?;
            let call = if matches!(op, RawOp::AttachToCgroup(_)) {
                CgroupCall::Attach {
                    map,
                    cgroup,
                    attach_type,
                }
            } else {
                CgroupCall::Detach {
                    map,
                    cgroup,
                    attach_type,
                }
            };
            Op::Cgroup { call }
        }
        RawOp::SendFromCgroup(a) => {
            let cgroup = c.cgroup(&a.cgroup)?;
            let packets = c.packet_count(&a.packets, "send_from_cgroup packets")?;
            Op::Cgroup {
                call: CgroupCall::Send { cgroup, packets },
            }
        }
        RawOp::CgroupSkbTestRun(a) => {
            let map = c.map(&a.map)?;
            let repeat = match &a.repeat {
                Some(r) => c.packet_count(r, "cgroup_skb_test_run repeat")?,
                None => 1,
            };
            Op::Cgroup {
                call: CgroupCall::TestRun { map, repeat },
            }
        }
        RawOp::Munmap(a) => mmap(c.map(&a.map)?, MmapCall::Unmap),
        RawOp::RingbufConsume(a) => mmap(c.map(&a.map)?, MmapCall::RingbufConsume),
        RawOp::Mmap(a) => {
            let map = c.map(&a.map)?;
            let prot = match &a.prot {
                None => Prot(Prot::READ.0 | Prot::WRITE.0),
                some => Prot(c.flags(some, &PROT)?),
            };
            let call = MmapCall::Map {
                prot,
                offset: a.offset,
                length: a.length.as_ref().map(|l| l.value),
                shared: a.shared.unwrap_or(true),
            };
            mmap(map, call)
        }
        RawOp::Mprotect(a) => {
            let map = c.map(&a.map)?;
            let prot = Prot(c.flags(&Some(a.prot.clone()), &PROT)?);
            mmap(map, MmapCall::Protect { prot })
        }
        RawOp::MmapRead(a) => {
            let map = c.map(&a.map)?;
            let size = a.size.value;
            if size == 0 || within_limit("an mmap_read", size as usize).is_err() {
                c.errors.at(
                    &a.size,
                    format!("mmap_read size {size}: expected 1 to {MAX_DATA_BYTES} bytes"),
                );
                return None;
            }
            mmap(map, MmapCall::Read { offset: a.offset, size })
        }
        RawOp::MmapWrite(a) => {
            let map = c.map(&a.map)?;
            let value = c.resolved_at(&a.value, &a.value.value);
            match value.encode_natural(&NoFds) {
                Ok(bytes) if !bytes.is_empty() => {}
                Ok(_) => c.errors.at(&a.value, "mmap_write needs at least one byte"),
                Err(e) => c.errors.at(&a.value, format!("mmap_write value: {e}")),
            }
            mmap(
                map,
                MmapCall::Write {
                    offset: a.offset,
                    value,
                },
            )
        }
        RawOp::AttachToMap(a) => c.attach_to_map(a)?,
        RawOp::Send(a) => c.send(a)?,
    })
}

/// The most packets a `send_from_cgroup` sends (and a `cgroup_skb_test_run` repeats):
/// enough to count, few enough to cost microseconds.
pub const MAX_CGROUP_PACKETS: u32 = 64;

fn mmap(map: usize, call: MmapCall) -> Op {
    Op::Mmap { map, call }
}

/// How a step uses a value, for checking its size.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// bpf(2): the map's value (per-CPU maps: `percpu:` or one value for every CPU).
    Syscall,
    /// A program sees one CPU's value.
    Prog,
    /// A ring buffer record has any size.
    Record,
}

/// Resolves and checks a step's arguments against the case's maps, recording errors.
struct Checker<'e, 'f, 'n> {
    errors: &'e mut Errors<'f>,
    names: Declared<'n>,
    maps: &'n [MapDef],
    objects: &'n [ObjectDef],
}

impl Checker<'_, '_, '_> {
    fn map(&mut self, map: &Spanned<String>) -> Option<usize> {
        let found = self.names.maps.iter().position(|n| *n == map.value);
        if found.is_none() {
            self.errors.at(
                map,
                format!("unknown map `{}`, declared maps: {}", map.value, join(self.names.maps)),
            );
        }
        found
    }

    /// A step's `cgroup:`: an object of kind `cgroup`.
    fn cgroup(&mut self, name: &Spanned<String>) -> Option<CgroupRef> {
        let index = self.object(name)?;
        if self
            .objects
            .get(index)
            .is_some_and(|o| !matches!(o.kind, ObjectKind::Cgroup))
        {
            self.errors.at(
                name,
                format!(
                    "object `{}` is not a cgroup; `cgroup:` names a `cgroup` object",
                    name.value
                ),
            );
            return None;
        }
        Some(CgroupRef {
            index,
            name: name.value.clone(),
        })
    }

    fn cgroup_attach(&mut self, a: &CgroupAttach) -> Option<(usize, CgroupRef, AttachType)> {
        let map = self.map(&a.map);
        let cgroup = self.cgroup(&a.cgroup);
        let attach_type = match ATTACH_TYPES.lookup(&a.attach_type.value) {
            Ok(t) => Some(AttachType(t as u32)),
            Err(e) => {
                self.errors.at(&a.attach_type, e);
                None
            }
        };
        Some((map?, cgroup?, attach_type?))
    }

    fn packet_count(&mut self, n: &Spanned<u32>, what: &str) -> Option<u32> {
        if n.value == 0 || n.value > MAX_CGROUP_PACKETS {
            self.errors
                .at(n, format!("{what} {}: expected 1 to {MAX_CGROUP_PACKETS}", n.value));
            return None;
        }
        Some(n.value)
    }

    /// The index of the case's veth `name` (for steps that send on one).
    fn interface(&mut self, name: &Spanned<String>) -> Option<usize> {
        let found = self.object(name)?;
        if self.names.interfaces.get(found) == Some(&false) {
            self.errors.at(name, format!("object `{}` is not a veth", name.value));
            return None;
        }
        Some(found)
    }

    /// The index of the case's object `name` (for steps that name one).
    fn object(&mut self, name: &Spanned<String>) -> Option<usize> {
        let found = self.names.objects.iter().position(|n| *n == name.value);
        if found.is_none() {
            self.errors.at(
                name,
                format!(
                    "unknown object `{}`, declared objects: {}",
                    name.value,
                    join(self.names.objects)
                ),
            );
        }
        found
    }

    /// `attach_to_map`: the attach type and redirect flags by name.
    fn attach_to_map(&mut self, a: &sockets::RawAttach) -> Option<Op> {
        let map = self.map(&a.map);
        let program = sockets::SockProgram::from_name(&a.program.value);
        if let Err(e) = &program {
            self.errors.at(&a.program, e.clone());
        }
        let attach_type = SOCK_ATTACH_TYPES.lookup(&a.attach_type.value);
        if let Err(e) = &attach_type {
            self.errors.at(&a.attach_type, e.clone());
        }
        let flags = self.flags(&a.flags, &REDIRECT_FLAGS)?;
        Some(Op::AttachToMap {
            map: map?,
            attach: sockets::Attach {
                program: program.ok()?,
                attach_type: SockAttachType(attach_type.ok()?),
                key: a.key,
                flags: RedirectFlags(flags),
            },
        })
    }

    /// `send`: the objects by name.
    fn send(&mut self, a: &sockets::RawSend) -> Option<Op> {
        let named = |c: &mut Self, name: &Spanned<String>| {
            c.object(name).map(|i| ObjectName {
                name: name.value.clone(),
                index: Some(i),
            })
        };
        let from = named(self, &a.from);
        let watch: Vec<Option<ObjectName>> = a.watch.iter().map(|w| named(self, w)).collect();
        Some(Op::Send(sockets::Send {
            from: from?,
            data: a.data.as_bytes().to_vec(),
            watch: watch.into_iter().collect::<Option<Vec<_>>>()?,
        }))
    }

    fn resolved_at<T>(&mut self, at: &Spanned<T>, datum: &Datum) -> Datum {
        resolved_at(self.errors, self.names, at, datum)
    }

    /// Sizes are checked now, so a case with a 3-byte key for a 4-byte map fails `check`.
    fn key(&mut self, map: usize, key: &Spanned<Datum>) -> Datum {
        let def = &self.maps[map];
        let datum = self.resolved_at(key, &key.value);
        if let Err(e) = datum.encode(def.key_size as usize, &NoFds) {
            self.errors.at(key, format!("key for map `{}`: {e}", def.name));
        }
        datum
    }

    fn value(&mut self, map: usize, value: &Spanned<Datum>, how: Use) -> Datum {
        let def = &self.maps[map];
        let datum = self.resolved_at(value, &value.value);
        let checked = match &datum {
            _ if how == Use::Record => datum.encode_natural(&NoFds).map(|_| ()),
            Datum::PerCpu(_) if how == Use::Prog => Err("a program writes one CPU's value: no `percpu:`".into()),
            Datum::PerCpu(_) if !def.is_percpu() => Err(format!("map `{}` is not a per-CPU map", def.name)),
            Datum::PerCpu(slots) => slots
                .iter()
                .try_for_each(|d| d.encode(def.value_size as usize, &NoFds).map(|_| ())),
            plain => plain.encode(def.value_size as usize, &NoFds).map(|_| ()),
        };
        if let Err(e) = checked {
            self.errors.at(value, format!("value for map `{}`: {e}", def.name));
        }
        datum
    }

    fn flags(&mut self, flags: &Option<Spanned<Names>>, table: &Table) -> Option<u64> {
        let mut bits = 0;
        for name in flags.iter().flat_map(|f| f.value.0.iter().map(move |n| (f, n))) {
            match table.lookup(name.1) {
                Ok(v) => bits |= v,
                Err(e) => {
                    self.errors.at(name.0, e);
                    return None;
                }
            }
        }
        Some(bits)
    }

    /// A relative pin path is below the case's own bpffs folder, and must stay there.
    fn pin_path(&mut self, path: &Spanned<String>) -> Option<String> {
        if !path.value.starts_with('/')
            && Path::new(&path.value)
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            self.errors.at(
                path,
                format!(
                    "pin path `{}` leaves the case's bpffs folder: a relative path may not contain `..` \
                     (write an absolute path to pin elsewhere)",
                    path.value
                ),
            );
            return None;
        }
        Some(path.value.clone())
    }

    fn prog(&mut self, p: &RawProgOp) -> Option<Op> {
        let (map, program) = match p {
            RawProgOp::Lookup(a) | RawProgOp::Delete(a) | RawProgOp::TailCall(a) => (&a.map, &a.program),
            RawProgOp::RedirectMap(a) => (&a.map, &a.program),
            RawProgOp::PerfEventOutput(a) => (&a.map, &a.program),
            RawProgOp::Update(a) => (&a.map, &a.program),
            RawProgOp::Push(a) => (&a.map, &a.program),
            RawProgOp::RingbufOutput(a) => (&a.map, &a.program),
            RawProgOp::Pop(a) | RawProgOp::ForEach(a) => (&a.map, &a.program),
            RawProgOp::Peek(a) => (&a.map, &a.program),
            RawProgOp::LookupPercpu(a) => (&a.map, &a.program),
            RawProgOp::GetStackid(a) => (&a.map, &a.program),
            RawProgOp::CurrentTaskUnderCgroup(a) => (&a.map, &a.program),
            RawProgOp::UserRingbufDrain(a) => (&a.map, &a.program),
        };
        let map = self.map(map)?;
        let call = match p {
            RawProgOp::Lookup(a) => ProgCall::Lookup {
                key: self.key(map, &a.key),
            },
            RawProgOp::Delete(a) => ProgCall::Delete {
                key: self.key(map, &a.key),
            },
            RawProgOp::Update(a) => ProgCall::Update {
                key: self.key(map, &a.key),
                value: self.value(map, &a.value, Use::Prog),
                flags: self.flags(&a.flags, &ELEM_FLAGS)?,
            },
            RawProgOp::Push(a) => ProgCall::Push {
                value: self.value(map, &a.value, Use::Prog),
                flags: self.flags(&a.flags, &ELEM_FLAGS)?,
            },
            RawProgOp::GetStackid(a) => {
                let skip = a.skip.as_ref().map_or(0, |s| s.value);
                if let Some(s) = a.skip.as_ref().filter(|s| s.value > 0xff) {
                    self.errors.at(s, format!("skip {} is more than the 255 frames BPF_F_SKIP_FIELD_MASK holds", s.value));
                }
                ProgCall::GetStackid {
                    flags: self.flags(&a.flags, &STACKID_FLAGS)? | (skip & 0xff),
                }
            }
            RawProgOp::CurrentTaskUnderCgroup(a) => ProgCall::CurrentTaskUnderCgroup { index: a.index },
            RawProgOp::RingbufOutput(a) => ProgCall::RingbufOutput {
                data: self.value(map, &a.value, Use::Record),
                flags: self.flags(&a.flags, &RINGBUF_FLAGS)?,
                keep: a.keep,
            },
            RawProgOp::Pop(_) => ProgCall::Pop,
            RawProgOp::ForEach(_) => ProgCall::ForEach { flags: 0 },
            RawProgOp::Peek(a) => ProgCall::Peek {
                value: a.value.as_ref().map(|v| self.value(map, v, Use::Prog)),
            },
            RawProgOp::LookupPercpu(a) => ProgCall::LookupPercpu {
                key: self.key(map, &a.key),
                cpu: a.cpu,
            },
            RawProgOp::UserRingbufDrain(a) => ProgCall::UserRingbufDrain {
                flags: self.flags(&a.flags, &RINGBUF_FLAGS)?,
            },
            RawProgOp::RedirectMap(a) => ProgCall::RedirectMap {
                key: self.key(map, &a.key),
                flags: a.flags,
            },
            RawProgOp::TailCall(a) => ProgCall::TailCall {
                key: self.key(map, &a.key),
            },
            RawProgOp::PerfEventOutput(a) => ProgCall::PerfEventOutput {
                data: self.value(map, &a.value, Use::Record),
                index: a.index,
            },
        };
        Some(Op::Prog {
            map,
            program: program.clone().unwrap_or_else(|| "a".into()),
            call,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = r#"
about: every step kind parses
source: test
maps:
  inner: {type: array, key_size: 4, value_size: 4, max_entries: 1}
  outer: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1, inner: inner, name: outer_map}
  m: {type: percpu_hash, key_size: 4, value_size: 8, max_entries: 4, flags: [no_prealloc, zero_seed], numa_node: 0}
  q: {type: queue, key_size: 0, value_size: 4, max_entries: 2}
steps:
  - create: {map: m}
    expect: ok
  - update: {map: m, key: 1, value: {percpu: [1, 2]}, flags: [exist, lock]}
    expect: ENOENT
  - lookup: {map: m, key: 1}
    expect: {value: {percpu: [1, 2]}}
  - get_next_key: {map: m}
    expect: {key: 1}
  - dump: {map: m}
    expect: {entries: [{key: 1, value: 5}]}
  - update: {map: outer, key: 0, value: {map_fd: inner}}
  - lookup_batch: {map: m, batch: 2}
  - push: {map: q, value: 3}
  - prog: {op: lookup_percpu, map: m, key: 1, cpu: 1, program: b}
    expect: {ret: 1, value: 2}
  - prog: {op: push, map: q, value: 3}
    expect: {ret: -E2BIG}
  - pin: {map: m, path: p}
  - get_by_id: {map: m}
"#;

    #[test]
    fn a_case_with_every_kind_of_step_parses() {
        let case = parse_case(Path::new("t.yaml"), "t", CASE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(case.maps.len(), 4);
        assert_eq!(case.maps[1].inner, Some(0));
        assert_eq!(case.maps[1].kernel_name.as_deref(), Some("outer_map"));
        assert_eq!(case.maps[2].map_flags, MapFlags(1 | 64));
        assert_eq!(case.steps.len(), 12);
        let described: Vec<String> = case.steps.iter().map(|s| s.op.describe(&case.maps)).collect();
        assert_eq!(described[1], "update m key=1 value=percpu[1,2] flags=exist|lock");
        assert_eq!(described[5], "update outer key=0 value=fd(inner)");
        assert_eq!(described[8], "prog[b] lookup_percpu key=1 cpu=1 on m");
        assert_eq!(case.steps[9].expect, Some(Expect::Ret { ret: -7, value: None }));
        assert!(matches!(
            case.steps[1].op,
            Op::Update {
                flags: ElemFlags(6),
                ..
            }
        ));
        assert!(matches!(case.steps[6].op, Op::LookupBatch { batch: 2, .. }));
    }

    /// Each step kind's arguments are one serde struct: what is required and what is
    /// allowed comes from it, located at the offending mapping or key.
    #[test]
    fn serde_enforces_each_kinds_arguments() {
        assert_eq!(steps::kinds().split(", ").count(), 35, "{}", steps::kinds());
        let cases = [
            ("- update: {map: m, key: 1}", "`update` needs `value`"),
            (
                "- lookup: {map: m, key: 1, value: 2}",
                "`lookup` takes no `value`; it takes: map, key, flags",
            ),
            ("- dump: {map: m, key: 1}", "`dump` takes no `key`; it takes: map"),
            ("- traffic: {map: m}", "`traffic` needs `packets`"),
            ("- pin: {map: m}", "`pin` needs `path`"),
            (
                "- prog: {op: pop, map: m, key: 1}",
                "`prog pop` takes no `key`; it takes: map, program",
            ),
            (
                "- prog: {op: lookup_percpu, map: m, key: 1}",
                "`prog lookup_percpu` needs `cpu`",
            ),
            (
                "- prog: {op: lokup, map: m}",
                "unknown program op `lokup`, expected one of: lookup, update,",
            ),
            ("- prog: {map: m, op: pop}", "`prog` names its helper first"),
            (
                "- updte: {map: m}",
                "unknown step `updte`, expected one of: create, update,",
            ),
        ];
        for (step, want) in cases {
            let text = format!(
                "about: x\nsource: y\nmaps:\n  m: {{type: hash, key_size: 4, value_size: 8, max_entries: 2}}\nsteps:\n  {step}\n"
            );
            let errors = parse_case(Path::new("t.yaml"), "t", &text).unwrap_err();
            assert!(errors[0].message.starts_with(want), "{step}: {}", errors[0].message);
            assert_eq!(errors[0].line, 6, "{step}: {}", errors[0]);
        }
    }

    /// Objects resolve to earlier objects by index, `{fd: NAME}` to the object, and the
    /// case renders back to the same model.
    #[test]
    fn objects_and_fd_values_resolve_and_round_trip() {
        let text = "about: x\nsource: y\nmaps:\n  sm: {type: sockmap, key_size: 4, value_size: 4, max_entries: 2}\n\
                    objects:\n  l: tcp_listener\n  c: {tcp_client: {to: l}}\n  p: {tcp_accepted: {from: l}}\n  u: udp\n\
                    steps:\n  - update: {map: sm, key: 0, value: {fd: p}}\n";
        let case = parse_case(Path::new("t.yaml"), "t", text).unwrap();
        let kinds: Vec<&ObjectKind> = case.objects.iter().map(|o| &o.kind).collect();
        assert_eq!(
            kinds,
            [
                &ObjectKind::TcpListener,
                &ObjectKind::TcpClient { to: 0 },
                &ObjectKind::TcpAccepted { from: 0 },
                &ObjectKind::Udp
            ]
        );
        let Op::Update { value, .. } = &case.steps[0].op else {
            panic!("an update")
        };
        assert_eq!(value.objects(), [2]);
        let again = parse_case(Path::new("t.yaml"), "t", &super::super::render::to_yaml(&case)).unwrap();
        assert_eq!(again.objects, case.objects);
        assert_eq!(format!("{:?}", again.steps), format!("{:?}", case.steps));
    }

    /// The socket kinds, `attach_to_map` and `send` resolve and round-trip like the rest.
    #[test]
    fn socket_objects_and_steps_resolve_and_round_trip() {
        let text = "about: x\nsource: y\nmaps:\n  sm: {type: sockhash, key_size: 4, value_size: 8, max_entries: 2}\n\
                    objects:\n  r: udp_reuseport\n  r2: {same_port: {as: r}}\n  u: unix_stream\n  v: {unix_peer: {of: u}}\n\
                    \x20 c: {udp_connected: {to: r}}\n  t: tcp_unbound\n\
                    steps:\n  - attach_to_map: {map: sm, program: sk_msg_redirect, attach_type: sk_msg_verdict, key: 3, flags: ingress}\n\
                    \x20 - send: {from: v, data: \"hi\", watch: [u, c]}\n";
        let case = parse_case(Path::new("t.yaml"), "t", text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            case.objects[1].kind,
            ObjectKind::Socket(super::super::SocketKind::SamePort { as_: 0 })
        );
        assert_eq!(case.steps[0].op.map(), Some(0));
        assert_eq!(case.steps[1].op.map(), None);
        assert_eq!(case.steps[1].op.describe(&case.maps), "send \"hi\" from v watching u,c");
        let again = parse_case(Path::new("t.yaml"), "t", &super::super::render::to_yaml(&case)).unwrap();
        assert_eq!(again.objects, case.objects);
        assert_eq!(format!("{:?}", again.steps), format!("{:?}", case.steps));
    }

    /// Device, program and perf event objects, `{ifindex: v}` and references inside field
    /// lists resolve, and render back to the same model.
    #[test]
    fn device_objects_and_struct_values_round_trip() {
        let text = "about: x\nsource: y\nmaps:\n  dm: {type: devmap, key_size: 4, value_size: 8, max_entries: 2}\n\
                    objects:\n  v: veth\n  s: {xsk: {dev: v, queue: 1}}\n  p: {program: xdp_devmap}\n  e: {perf_event: {cpu: 1}}\n\
                    steps:\n  - update: {map: dm, key: 0, value: [{ifindex: v}, {fd: p}]}\n\
                    \x20 - prog: {op: redirect_map, map: dm, key: 0, flags: 2}\n";
        let case = parse_case(Path::new("t.yaml"), "t", text).unwrap_or_else(|e| panic!("{e:?}"));
        let kinds: Vec<&ObjectKind> = case.objects.iter().map(|o| &o.kind).collect();
        assert_eq!(
            kinds,
            [
                &ObjectKind::Veth,
                &ObjectKind::Xsk { dev: 0, queue: 1 },
                &ObjectKind::Program(super::super::objects::ProgKind::XdpDevmap),
                &ObjectKind::PerfEvent { cpu: 1 }
            ]
        );
        let Op::Update { value, .. } = &case.steps[0].op else {
            panic!("an update")
        };
        assert_eq!(value.objects(), [0, 2]);
        assert_eq!(case.steps[1].op.describe(&case.maps), "prog[a] redirect_map key=0 flags=2 on dm");
        let again = parse_case(Path::new("t.yaml"), "t", &super::super::render::to_yaml(&case)).unwrap();
        assert_eq!(again.objects, case.objects);
        assert_eq!(format!("{:?}", again.steps), format!("{:?}", case.steps));
    }

    /// `check` accepts every map type the newest kernels know (35, INSN_ARRAY and RHASH
    /// included), with the kernel's number for each.
    #[test]
    fn every_uapi_map_type_is_accepted() {
        assert_eq!(MAP_TYPES.entries.len(), 35);
        for (name, value) in MAP_TYPES.entries {
            let text = format!(
                "about: x\nsource: y\nmaps:\n  m: {{type: {name}, key_size: 4, value_size: 4, max_entries: 1}}\nsteps: []\n"
            );
            let case = parse_case(Path::new("t.yaml"), "t", &text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(case.maps[0].map_type, MapType(*value as u32), "{name}");
        }
    }

    #[test]
    fn all_errors_of_a_file_are_reported_not_just_the_first() {
        let text = "about: x\nsource: y\nmaps:\n  m: {type: hash, key_size: 4, value_size: 8, max_entries: 1}\n\
                    steps:\n  - lookup: {map: n, key: 1}\n  - delete: {map: m, key: {hex: '01'}}\n";
        let errors = parse_case(Path::new("t.yaml"), "t", text).unwrap_err();
        let lines: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, 6);
        assert_eq!(
            lines[1],
            (7, "key for map `m`: hex bytes are 1 bytes long, the map expects 4")
        );
    }
}
