//! YAML → [`Case`], with every error located at file:line:column.
//!
//! Two passes: serde-saphyr turns the text into the `Raw*` structs below (syntax, unknown
//! fields, value forms — its errors carry a location), then [`validate`] resolves names
//! (map types, flags, map references, errnos) and checks sizes, using the `Spanned`
//! locations kept for exactly that.
use super::data::{Datum, NoFds};
use super::model::{Case, Expect, MapDef, Op, ProgCall, Step};
use super::names::{ELEM_FLAGS, ERRNOS, MAP_FLAGS, MAP_TYPES, RINGBUF_FLAGS};
use crate::uapi::{ElemFlags, Errno, MapFlags, MapType};
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
    maps: IndexMap<String, Spanned<RawMap>>,
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
}

/// One name or a list of names: `flags: noexist` or `flags: [exist, lock]`.
struct Names(Vec<String>);

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapArg {
    map: Spanned<String>,
}

/// The arguments of every step kind, as one struct: each kind says which it takes
/// ([`arg_rules`]), and anything else given is an error rather than ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    map: Spanned<String>,
    #[serde(default)]
    op: Option<Spanned<String>>,
    #[serde(default)]
    key: Option<Spanned<Datum>>,
    #[serde(default)]
    value: Option<Spanned<Datum>>,
    #[serde(default)]
    flags: Option<Spanned<Names>>,
    #[serde(default)]
    entries: Option<Vec<Spanned<KeyValue>>>,
    #[serde(default)]
    keys: Option<Vec<Spanned<Datum>>>,
    #[serde(default)]
    batch: Option<u32>,
    #[serde(default)]
    cpu: Option<u32>,
    #[serde(default)]
    program: Option<String>,
    #[serde(default)]
    packets: Option<u32>,
    #[serde(default)]
    path: Option<Spanned<String>>,
}

impl Args {
    fn present(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |yes: bool, name| {
            if yes {
                v.push(name)
            }
        };
        add(self.key.is_some(), "key");
        add(self.value.is_some(), "value");
        add(self.flags.is_some(), "flags");
        add(self.entries.is_some(), "entries");
        add(self.keys.is_some(), "keys");
        add(self.batch.is_some(), "batch");
        add(self.cpu.is_some(), "cpu");
        add(self.program.is_some(), "program");
        add(self.packets.is_some(), "packets");
        add(self.path.is_some(), "path");
        v
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyValue {
    key: Datum,
    value: Datum,
}

/// A step: exactly one operation key, plus an optional `expect`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    create: Option<Spanned<MapArg>>,
    update: Option<Spanned<Args>>,
    lookup: Option<Spanned<Args>>,
    delete: Option<Spanned<Args>>,
    get_next_key: Option<Spanned<Args>>,
    lookup_and_delete: Option<Spanned<Args>>,
    push: Option<Spanned<Args>>,
    pop: Option<Spanned<MapArg>>,
    peek: Option<Spanned<Args>>,
    dump: Option<Spanned<MapArg>>,
    close: Option<Spanned<MapArg>>,
    freeze: Option<Spanned<MapArg>>,
    update_batch: Option<Spanned<Args>>,
    lookup_batch: Option<Spanned<Args>>,
    lookup_and_delete_batch: Option<Spanned<Args>>,
    delete_batch: Option<Spanned<Args>>,
    prog: Option<Spanned<Args>>,
    traffic: Option<Spanned<Args>>,
    pin: Option<Spanned<Args>>,
    get_pinned: Option<Spanned<Args>>,
    get_by_id: Option<Spanned<MapArg>>,
    expect: Option<Spanned<Expect>>,
}

const STEP_KINDS: &str = "create, update, lookup, delete, get_next_key, lookup_and_delete, push, pop, \
peek, dump, close, freeze, update_batch, lookup_batch, lookup_and_delete_batch, delete_batch, prog, traffic, \
pin, get_pinned, get_by_id";

/// The arguments a step kind requires and those it allows (`map` always; `op` for `prog`).
fn arg_rules(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "update" => (&["key", "value"], &["key", "value", "flags"]),
        "lookup" => (&["key"], &["key", "flags"]),
        "delete" => (&[], &["key"]),
        "get_next_key" => (&[], &["key"]),
        "lookup_and_delete" => (&[], &["key", "flags"]),
        "push" => (&["value"], &["value", "flags"]),
        "peek" => (&[], &["value"]),
        "update_batch" => (&["entries"], &["entries", "flags"]),
        "lookup_batch" | "lookup_and_delete_batch" => (&[], &["batch"]),
        "delete_batch" => (&["keys"], &["keys"]),
        "traffic" => (&["packets"], &["packets"]),
        "pin" | "get_pinned" => (&["path"], &["path"]),
        "prog lookup" => (&["key"], &["key", "program"]),
        "prog update" => (&["key", "value"], &["key", "value", "flags", "program"]),
        "prog delete" => (&["key"], &["key", "program"]),
        "prog push" => (&["value"], &["value", "flags", "program"]),
        "prog pop" | "prog for_each" => (&[], &["program"]),
        "prog peek" => (&[], &["value", "program"]),
        "prog ringbuf_output" => (&["value"], &["value", "flags", "program"]),
        "prog lookup_percpu" => (&["key", "cpu"], &["key", "cpu", "program"]),
        _ => return None,
    })
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
                            )))
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
                    break
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

    let names: Vec<&str> = raw.maps.keys().map(|n| n.as_str()).collect();
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
        });
    }

    let mut steps = Vec::new();
    for raw_step in &raw.steps {
        let expect = raw_step.value.expect.as_ref().map(|e| {
            let mut expect = e.value.clone();
            if let Err(why) = expect.resolve_maps(&names) {
                errors.at(e, why);
            }
            expect
        });
        if let Some(op) = step_op(&mut errors, &names, &maps, raw_step) {
            steps.push(Step {
                op,
                expect,
                line: raw_step.referenced.line(),
            });
        }
    }

    if errors.list.is_empty() {
        Ok(Case {
            id: id.to_string(),
            file: file.to_path_buf(),
            about: raw.about.value,
            source: raw.source.value,
            maps,
            steps,
        })
    } else {
        Err(errors.list)
    }
}

/// A datum with its map references resolved (errors recorded at its location).
fn resolved(errors: &mut Errors, names: &[&str], datum: &Spanned<Datum>) -> Datum {
    resolved_at(errors, names, datum, &datum.value)
}

/// Like [`resolved`], for a datum located by an enclosing span.
fn resolved_at<T>(errors: &mut Errors, names: &[&str], at: &Spanned<T>, datum: &Datum) -> Datum {
    let mut d = datum.clone();
    if let Err(why) = d.resolve_maps(names) {
        errors.at(at, why);
    }
    d
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
fn step_op(errors: &mut Errors, names: &[&str], maps: &[MapDef], step: &Spanned<RawStep>) -> Option<Op> {
    let s = &step.value;
    let mut kinds: Vec<&str> = Vec::new();
    macro_rules! present {
        ($($field:ident),*) => { $( if s.$field.is_some() { kinds.push(stringify!($field)); } )* };
    }
    present!(
        create,
        update,
        lookup,
        delete,
        get_next_key,
        lookup_and_delete,
        push,
        pop,
        peek,
        dump,
        close,
        freeze,
        update_batch,
        lookup_batch,
        lookup_and_delete_batch,
        delete_batch,
        prog,
        traffic,
        pin,
        get_pinned,
        get_by_id
    );
    match kinds.len() {
        1 => {}
        0 => {
            errors.at(step, format!("a step needs one operation, one of: {STEP_KINDS}"));
            return None;
        }
        _ => {
            errors.at(step, format!("a step has one operation, found {}", kinds.join(" and ")));
            return None;
        }
    }

    let map_index = |errors: &mut Errors, map: &Spanned<String>| -> Option<usize> {
        let found = names.iter().position(|n| *n == map.value);
        if found.is_none() {
            errors.at(
                map,
                format!("unknown map `{}`, declared maps: {}", map.value, join(names)),
            );
        }
        found
    };

    macro_rules! simple {
        ($field:ident, $variant:ident) => {
            if let Some(a) = &s.$field {
                let map = map_index(errors, &a.value.map)?;
                return Some(Op::$variant { map });
            }
        };
    }
    simple!(create, Create);
    simple!(pop, Pop);
    simple!(dump, Dump);
    simple!(close, Close);
    simple!(freeze, Freeze);

    simple!(get_by_id, GetById);

    let (kind, args) = [
        ("update", &s.update),
        ("lookup", &s.lookup),
        ("delete", &s.delete),
        ("get_next_key", &s.get_next_key),
        ("lookup_and_delete", &s.lookup_and_delete),
        ("push", &s.push),
        ("peek", &s.peek),
        ("update_batch", &s.update_batch),
        ("lookup_batch", &s.lookup_batch),
        ("lookup_and_delete_batch", &s.lookup_and_delete_batch),
        ("delete_batch", &s.delete_batch),
        ("prog", &s.prog),
        ("traffic", &s.traffic),
        ("pin", &s.pin),
        ("get_pinned", &s.get_pinned),
    ]
    .into_iter()
    .find_map(|(k, a)| a.as_ref().map(|a| (k, a)))?;
    let a = &args.value;
    let map = map_index(errors, &a.map)?;
    let def = &maps[map];

    // `prog` names its helper in `op`; other kinds take no `op`.
    let rule_name = match (kind, &a.op) {
        ("prog", Some(op)) => {
            if arg_rules(&format!("prog {}", op.value)).is_none() {
                errors.at(
                    op,
                    format!(
                        "unknown program op `{}`, expected one of: {}",
                        op.value,
                        ProgCall::NAMES
                    ),
                );
                return None;
            }
            format!("prog {}", op.value)
        }
        ("prog", None) => {
            errors.at(args, format!("`prog` needs `op`, one of: {}", ProgCall::NAMES));
            return None;
        }
        (_, Some(op)) => {
            errors.at(op, format!("`{kind}` takes no `op`"));
            return None;
        }
        (_, None) => kind.to_string(),
    };
    let (required, allowed) = arg_rules(&rule_name).expect("every kind has rules");
    let present = a.present();
    let mut ok = true;
    for need in required {
        if !present.contains(need) {
            errors.at(args, format!("`{rule_name}` needs `{need}`"));
            ok = false;
        }
    }
    for given in &present {
        if !allowed.contains(given) {
            errors.at(args, format!("`{rule_name}` takes no `{given}`"));
            ok = false;
        }
    }
    if !ok {
        return None;
    }

    let flag_table = if rule_name == "prog ringbuf_output" {
        &RINGBUF_FLAGS
    } else {
        &ELEM_FLAGS
    };
    let flags = match &a.flags {
        None => 0,
        Some(f) => {
            let mut bits = 0;
            for name in &f.value.0 {
                match flag_table.lookup(name) {
                    Ok(v) => bits |= v,
                    Err(e) => {
                        errors.at(f, e);
                        return None;
                    }
                }
            }
            bits
        }
    };

    // Sizes are checked now, so a case with a 3-byte key for a 4-byte map fails `check`.
    let key = a.key.as_ref().map(|k| {
        let key = resolved(errors, names, k);
        if let Err(e) = key.encode(def.key_size as usize, &NoFds) {
            errors.at(k, format!("key for map `{}`: {e}", def.name));
        }
        key
    });
    // A program sees one CPU's value of a per-CPU map; ring buffer data has any size.
    let plain_value = kind == "prog";
    let value = a.value.as_ref().map(|v| {
        let value = resolved(errors, names, v);
        let checked = match &value {
            _ if rule_name == "prog ringbuf_output" => v.value.encode_natural(&NoFds).map(|_| ()),
            Datum::PerCpu(_) if plain_value => Err("a program writes one CPU's value: no `percpu:`".into()),
            Datum::PerCpu(_) if !def.is_percpu() => Err(format!("map `{}` is not a per-CPU map", def.name)),
            Datum::PerCpu(slots) => slots
                .iter()
                .try_for_each(|d| d.encode(def.value_size as usize, &NoFds).map(|_| ())),
            plain => plain.encode(def.value_size as usize, &NoFds).map(|_| ()),
        };
        if let Err(e) = checked {
            errors.at(v, format!("value for map `{}`: {e}", def.name));
        }
        value
    });
    let entries: Vec<(Datum, Datum)> = a
        .entries
        .iter()
        .flatten()
        .map(|kv| {
            (
                resolved_at(errors, names, kv, &kv.value.key),
                resolved_at(errors, names, kv, &kv.value.value),
            )
        })
        .collect();
    let keys: Vec<Datum> = a.keys.iter().flatten().map(|k| resolved(errors, names, k)).collect();
    // A relative pin path is below the case's own bpffs folder, and must stay there.
    if let Some(path) = &a.path {
        if !path.value.starts_with('/')
            && Path::new(&path.value)
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            errors.at(
                path,
                format!(
                    "pin path `{}` leaves the case's bpffs folder: a relative path may not contain `..` \
                     (write an absolute path to pin elsewhere)",
                    path.value
                ),
            );
            return None;
        }
    }
    let batch = a.batch.unwrap_or(def.max_entries.max(1));

    Some(match rule_name.as_str() {
        "update" => Op::Update {
            map,
            key: key?,
            value: value?,
            flags: ElemFlags(flags),
        },
        "lookup" => Op::Lookup {
            map,
            key: key?,
            flags: ElemFlags(flags),
        },
        "delete" => Op::Delete { map, key },
        "get_next_key" => Op::GetNextKey { map, key },
        "lookup_and_delete" => Op::LookupAndDelete {
            map,
            key,
            flags: ElemFlags(flags),
        },
        "push" => Op::Push {
            map,
            value: value?,
            flags: ElemFlags(flags),
        },
        "peek" => Op::Peek { map, value },
        "update_batch" => Op::UpdateBatch {
            map,
            entries,
            flags: ElemFlags(flags),
        },
        "lookup_batch" => Op::LookupBatch { map, batch },
        "lookup_and_delete_batch" => Op::LookupAndDeleteBatch { map, batch },
        "delete_batch" => Op::DeleteBatch { map, keys },
        "traffic" => Op::Traffic {
            map,
            packets: a.packets?,
        },
        "pin" => Op::Pin {
            map,
            path: a.path.as_ref()?.value.clone(),
        },
        "get_pinned" => Op::GetPinned {
            map,
            path: a.path.as_ref()?.value.clone(),
        },
        prog => {
            let call = match prog.trim_start_matches("prog ") {
                "lookup" => ProgCall::Lookup { key: key? },
                "update" => ProgCall::Update {
                    key: key?,
                    value: value?,
                    flags,
                },
                "delete" => ProgCall::Delete { key: key? },
                "push" => ProgCall::Push { value: value?, flags },
                "pop" => ProgCall::Pop,
                "peek" => ProgCall::Peek { value },
                "ringbuf_output" => ProgCall::RingbufOutput { data: value?, flags },
                "for_each" => ProgCall::ForEach { flags },
                "lookup_percpu" => ProgCall::LookupPercpu { key: key?, cpu: a.cpu? },
                other => unreachable!("arg_rules knows no `{other}`"),
            };
            Op::Prog {
                map,
                program: a.program.clone().unwrap_or_else(|| "a".into()),
                call,
            }
        }
    })
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
