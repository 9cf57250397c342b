//! A validated [`Case`] written back as case-file YAML: the inverse of
//! [`super::parse_case`] up to layout, comments and defaults made explicit (a lookup batch
//! names its batch size). The parser fuzzer checks `parse(render(parse(text))) ==
//! parse(text)` for every text it accepts, so the model carries everything a file says.
use super::data::{Datum, Field};
use super::model::{Case, CgroupCall, Expect, MapDef, MmapCall, Op, ProgCall};
use crate::outcome::{to_hex, Ret};
use crate::uapi::{
    ElemFlags, Table, ELEM_FLAGS, MAP_FLAGS, PROT, REDIRECT_FLAGS, RINGBUF_FLAGS, SOCK_ATTACH_TYPES, STACKID_FLAGS,
};

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The names of the set bits of `bits` in `table`, as a flow list (`[exist, lock]`).
fn flag_list(bits: u64, table: &Table) -> String {
    let names: Vec<&str> = table
        .entries
        .iter()
        .filter(|(_, v)| *v != 0 && bits & v == *v)
        .map(|(n, _)| *n)
        .collect();
    format!("[{}]", names.join(", "))
}

fn datum(d: &Datum) -> String {
    match d {
        Datum::Int(v) => v.to_string(),
        Datum::Bytes(b) => format!("{{hex: \"{}\"}}", to_hex(b)),
        Datum::Fields(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| match f {
                    Field::Int {
                        width,
                        big_endian,
                        value,
                    } => format!("{{{}{}: {value}}}", if *big_endian { "be" } else { "u" }, width * 8),
                    Field::Bytes(b) => format!("{{hex: \"{}\"}}", to_hex(b)),
                    Field::Ref(d) => datum(d),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Datum::PerCpu(values) => {
            let parts: Vec<String> = values.iter().map(datum).collect();
            format!("{{percpu: [{}]}}", parts.join(", "))
        }
        Datum::MapFd(m) => format!("{{map_fd: {}}}", quoted(&m.name)),
        Datum::Fd(o) => format!("{{fd: {}}}", quoted(&o.name)),
        Datum::CgroupKey(k) => match k.attach_type {
            None => format!("{{cgroup: {}}}", quoted(&k.cgroup.name)),
            Some(t) => format!("{{cgroup: {}, attach_type: {t}}}", quoted(&k.cgroup.name)),
        },
        Datum::Ifindex(o) => format!("{{ifindex: {}}}", quoted(&o.name)),
    }
}

fn map_decl(m: &MapDef, maps: &[MapDef]) -> String {
    let mut out = format!(
        "{{type: {}, key_size: {}, value_size: {}, max_entries: {}",
        m.map_type, m.key_size, m.value_size, m.max_entries
    );
    if m.map_flags.0 != 0 {
        out += &format!(", flags: {}", flag_list(m.map_flags.0 as u64, &MAP_FLAGS));
    }
    if m.map_extra != 0 {
        out += &format!(", map_extra: {}", m.map_extra);
    }
    if m.numa_node != 0 {
        out += &format!(", numa_node: {}", m.numa_node);
    }
    if let Some(i) = m.inner {
        out += &format!(", inner: {}", quoted(&maps[i].name));
    }
    if let Some(name) = &m.kernel_name {
        out += &format!(", name: {}", quoted(name));
    }
    if m.btf != Default::default() {
        let b = &m.btf;
        let mut parts: Vec<String> = Vec::new();
        parts.extend(b.key.iter().map(|k| format!("key: {k}")));
        parts.extend(b.value.iter().map(|v| format!("value: {v}")));
        parts.extend(b.vmlinux_value.iter().map(|v| format!("vmlinux_value: {}", quoted(v))));
        out += &format!(", btf: {{{}}}", parts.join(", "));
    }
    if let Some(elf) = &m.elf {
        out += &format!(", elf: {}", quoted(elf));
    }
    out + "}"
}

fn expect(e: &Expect) -> String {
    match e {
        Expect::Ok => "ok".into(),
        Expect::Errno(errno) => errno.to_string(),
        Expect::Value(v) => format!("{{value: {}}}", datum(v)),
        Expect::Key(k) => format!("{{key: {}}}", datum(k)),
        Expect::Entries(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{{key: {}, value: {}}}", datum(k), datum(v)))
                .collect();
            format!("{{entries: [{}]}}", parts.join(", "))
        }
        Expect::Ret { ret, value } => {
            let value = value
                .as_ref()
                .map(|v| format!(", value: {}", datum(v)))
                .unwrap_or_default();
            format!("{{ret: {}{value}}}", quoted(&Ret(*ret).to_string()))
        }
    }
}

/// `KIND: {ARGS}` of one operation.
fn op(op: &Op, maps: &[MapDef]) -> String {
    let mut args = Args(
        op.map()
            .map(|m| format!("map: {}", quoted(&maps[m].name)))
            .into_iter()
            .collect(),
    );
    let elem_flags = |f: &ElemFlags| (f.0 != 0).then(|| flag_list(f.0, &ELEM_FLAGS));
    let kind = match op {
        Op::Create { .. } => "create",
        Op::Pop { .. } => "pop",
        Op::Dump { .. } => "dump",
        Op::Close { .. } => "close",
        Op::Freeze { .. } => "freeze",
        Op::GetById { .. } => "get_by_id",
        Op::Info { .. } => "info",
        Op::Mmap { call, .. } => match call {
            MmapCall::Map {
                prot,
                offset,
                length,
                shared,
            } => {
                args.add("prot", flag_list(prot.0, &PROT));
                args.add("offset", offset.to_string());
                args.opt("length", length.map(|l| l.to_string()));
                args.add("shared", shared.to_string());
                "mmap"
            }
            MmapCall::Unmap => "munmap",
            MmapCall::RingbufConsume => "ringbuf_consume",
            MmapCall::Protect { prot } => {
                args.add("prot", flag_list(prot.0, &PROT));
                "mprotect"
            }
            MmapCall::Read { offset, size } => {
                args.add("offset", offset.to_string());
                args.add("size", size.to_string());
                "mmap_read"
            }
            MmapCall::Write { offset, value } => {
                args.add("offset", offset.to_string());
                args.add("value", datum(value));
                "mmap_write"
            }
        },
        Op::Update { key, value, flags, .. } => {
            args.add("key", datum(key));
            args.add("value", datum(value));
            args.opt("flags", elem_flags(flags));
            "update"
        }
        Op::Lookup { key, flags, .. } => {
            args.add("key", datum(key));
            args.opt("flags", elem_flags(flags));
            "lookup"
        }
        Op::Delete { key, .. } | Op::GetNextKey { key, .. } => {
            args.opt("key", key.as_ref().map(datum));
            if matches!(op, Op::Delete { .. }) {
                "delete"
            } else {
                "get_next_key"
            }
        }
        Op::LookupAndDelete { key, flags, .. } => {
            args.opt("key", key.as_ref().map(datum));
            args.opt("flags", elem_flags(flags));
            "lookup_and_delete"
        }
        Op::Push { value, flags, .. } => {
            args.add("value", datum(value));
            args.opt("flags", elem_flags(flags));
            "push"
        }
        Op::Peek { value, .. } => {
            args.opt("value", value.as_ref().map(datum));
            "peek"
        }
        Op::UpdateBatch { entries, flags, .. } => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{{key: {}, value: {}}}", datum(k), datum(v)))
                .collect();
            args.add("entries", format!("[{}]", parts.join(", ")));
            args.opt("flags", elem_flags(flags));
            "update_batch"
        }
        Op::LookupBatch { batch, flags, .. } => {
            args.add("batch", batch.to_string());
            args.opt("flags", elem_flags(flags));
            "lookup_batch"
        }
        Op::LookupAndDeleteBatch { batch, flags, .. } => {
            args.add("batch", batch.to_string());
            args.opt("flags", elem_flags(flags));
            "lookup_and_delete_batch"
        }
        Op::DeleteBatch { keys, .. } => {
            let parts: Vec<String> = keys.iter().map(datum).collect();
            args.add("keys", format!("[{}]", parts.join(", ")));
            "delete_batch"
        }
        Op::Traffic { packets, .. } => {
            args.add("packets", packets.to_string());
            "traffic"
        }
        Op::Cgroup { call } => match call {
            CgroupCall::Attach {
                cgroup, attach_type, ..
            }
            | CgroupCall::Detach {
                cgroup, attach_type, ..
            } => {
                args.add("cgroup", quoted(&cgroup.name));
                args.add("attach_type", attach_type.to_string());
                if matches!(call, CgroupCall::Attach { .. }) {
                    "attach_to_cgroup"
                } else {
                    "detach_from_cgroup"
                }
            }
            CgroupCall::Send { cgroup, packets } => {
                args.add("cgroup", quoted(&cgroup.name));
                args.add("packets", packets.to_string());
                "send_from_cgroup"
            }
            CgroupCall::TestRun { repeat, .. } => {
                args.add("repeat", repeat.to_string());
                "cgroup_skb_test_run"
            }
        },
        Op::Pin { path, .. } => {
            args.add("path", quoted(path));
            "pin"
        }
        Op::Redirect {
            key, dev_name, packets, ..
        } => {
            args.add("key", key.to_string());
            args.add("dev", quoted(dev_name));
            args.add("packets", packets.to_string());
            "redirect"
        }
        Op::GetPinned { path, .. } => {
            args.add("path", quoted(path));
            "get_pinned"
        }
        Op::AttachToMap { attach: a, .. } => {
            args.add("program", a.program.name().into());
            args.add(
                "attach_type",
                SOCK_ATTACH_TYPES.name(a.attach_type.0).unwrap_or("?").into(),
            );
            args.add("key", a.key.to_string());
            args.opt("flags", (a.flags.0 != 0).then(|| flag_list(a.flags.0, &REDIRECT_FLAGS)));
            "attach_to_map"
        }
        Op::Send(send) => {
            args.add("from", quoted(&send.from.name));
            args.add("data", quoted(&String::from_utf8_lossy(&send.data)));
            let watch: Vec<String> = send.watch.iter().map(|o| quoted(&o.name)).collect();
            args.add("watch", format!("[{}]", watch.join(", ")));
            "send"
        }
        Op::Prog { program, call, .. } => {
            let flags = |f: u64, table: &Table| (f != 0).then(|| flag_list(f, table));
            let name = match call {
                ProgCall::Lookup { key } | ProgCall::Delete { key } => {
                    args.add("key", datum(key));
                    if matches!(call, ProgCall::Lookup { .. }) {
                        "lookup"
                    } else {
                        "delete"
                    }
                }
                ProgCall::Update { key, value, flags: f } => {
                    args.add("key", datum(key));
                    args.add("value", datum(value));
                    args.opt("flags", flags(*f, &ELEM_FLAGS));
                    "update"
                }
                ProgCall::Push { value, flags: f } => {
                    args.add("value", datum(value));
                    args.opt("flags", flags(*f, &ELEM_FLAGS));
                    "push"
                }
                ProgCall::RingbufOutput { data, flags: f, keep } => {
                    args.add("value", datum(data));
                    args.opt("flags", flags(*f, &RINGBUF_FLAGS));
                    args.opt("keep", keep.then(|| "true".to_string()));
                    "ringbuf_output"
                }
                ProgCall::Pop => "pop",
                // A case cannot give for_each flags: they are always 0.
                ProgCall::ForEach { .. } => "for_each",
                ProgCall::Peek { value } => {
                    args.opt("value", value.as_ref().map(datum));
                    "peek"
                }
                ProgCall::LookupPercpu { key, cpu } => {
                    args.add("key", datum(key));
                    args.add("cpu", cpu.to_string());
                    "lookup_percpu"
                }
                ProgCall::CurrentTaskUnderCgroup { index } => {
                    args.add("index", index.to_string());
                    "current_task_under_cgroup"
                }
                ProgCall::GetStackid { flags: f } => {
                    args.opt("flags", flags(*f & !0xff, &STACKID_FLAGS));
                    args.opt("skip", (*f & 0xff != 0).then(|| (*f & 0xff).to_string()));
                    "get_stackid"
                }
                ProgCall::UserRingbufDrain { flags: f } => {
                    args.opt("flags", flags(*f, &RINGBUF_FLAGS));
                    "user_ringbuf_drain"
                }
                ProgCall::RedirectMap { key, flags: f } => {
                    args.add("key", datum(key));
                    args.add("flags", f.to_string());
                    "redirect_map"
                }
                ProgCall::TailCall { key } => {
                    args.add("key", datum(key));
                    "tail_call"
                }
                ProgCall::PerfEventOutput { data, index } => {
                    args.add("value", datum(data));
                    args.opt("index", index.map(|i| i.to_string()));
                    "perf_event_output"
                }
            };
            args.add("program", quoted(program));
            args.0.insert(0, format!("op: {name}"));
            "prog"
        }
    };
    format!("{kind}: {{{}}}", args.0.join(", "))
}

/// The `name: value` arguments of a step's flow mapping.
struct Args(Vec<String>);

impl Args {
    fn add(&mut self, name: &str, value: String) {
        self.0.push(format!("{name}: {value}"));
    }

    fn opt(&mut self, name: &str, value: Option<String>) {
        if let Some(value) = value {
            self.add(name, value);
        }
    }
}

/// The case as a case file.
pub fn to_yaml(case: &Case) -> String {
    let mut out = format!(
        "about: {}\nsource: {}\n{}maps:",
        quoted(&case.about),
        quoted(&case.source),
        if case.differential { "differential: true\n" } else { "" }
    );
    if case.maps.is_empty() {
        out += " {}";
    }
    out += "\n";
    for m in &case.maps {
        out += &format!("  {}: {}\n", quoted(&m.name), map_decl(m, &case.maps));
    }
    if !case.objects.is_empty() {
        out += "objects:\n";
        for o in &case.objects {
            out += &format!("  {}: {}\n", quoted(&o.name), o.kind.written(|i| quoted(&case.objects[i].name)));
        }
    }
    out += "steps:";
    if case.steps.is_empty() {
        out += " []";
    }
    out += "\n";
    for step in &case.steps {
        out += &format!("  - {}\n", op(&step.op, &case.maps));
        if let Some(e) = &step.expect {
            out += &format!("    expect: {}\n", expect(e));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::parse_case;
    use std::path::Path;

    /// Every case of the library survives parse → render → parse unchanged.
    #[test]
    fn the_library_round_trips() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
        let lib = crate::case::load_library(&root).unwrap();
        assert!(!lib.cases.is_empty());
        for case in &lib.cases {
            let text = to_yaml(case);
            let again =
                parse_case(&case.file, &case.id, &text).unwrap_or_else(|e| panic!("{}: {e:?}\n{text}", case.id));
            assert_eq!(format!("{:?}", again.maps), format!("{:?}", case.maps), "{}", case.id);
            let ops = |c: &Case| format!("{:?}", c.steps.iter().map(|s| (&s.op, &s.expect)).collect::<Vec<_>>());
            assert_eq!(ops(&again), ops(case), "{}\n{text}", case.id);
            assert_eq!((&again.about, &again.source), (&case.about, &case.source));
            assert_eq!(again.differential, case.differential, "{}", case.id);
        }
    }
}
