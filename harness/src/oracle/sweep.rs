//! The generated sweep: one differential case per map type with element helpers,
//! `cases/oracle/<type>.yaml`, from the table [`TYPES`]. Each case runs every operation
//! with a helper counterpart — update with every element flag value 0..7 (invalid ones
//! included: 3 is NOEXIST|EXIST, 4 is BPF_F_LOCK on a map without a spin lock), lookup,
//! delete, push, pop, peek — through bpf(2), and (the case is `differential: true`) the
//! same operation from a program on a twin map built by the same preceding steps.
//!
//! The files are generated, committed and checked for freshness (`harness/tests/oracle.rs`,
//! `mapconform sweep` rewrites them): so the guest bundle, `check`, coverage, the matrix
//! trials, snapshots and the report read them as ordinary cases, and a change of the
//! generator shows as a diff of the steps beside the diff of the snapshots.
//!
//! Each flag value gets its own map (`f0` … `f7`), so every compared operation starts from
//! a state that only that flag's steps built: a seed, the flagged update of an existing
//! key, of an absent key, a lookup of what was written.
use std::fmt::Write;
use std::path::Path;

/// How a map type is exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// lookup/update/delete by key. `present` is the seeded key, `absent` one that is not
    /// in the map (for arrays: an index past `max_entries`, since every index exists).
    Keyed {
        present: &'static str,
        absent: &'static str,
    },
    /// push (with flags), pop, peek.
    QueueStack,
    /// push (add, with flags) and peek (check a value).
    Bloom,
}

/// One row of the sweep table.
#[derive(Debug, Clone, Copy)]
pub struct SweepType {
    /// The map type's case-file name; the case id is `oracle/<name>`.
    pub name: &'static str,
    /// The map's attributes after `type:` (sizes, max_entries, flags).
    pub attrs: &'static str,
    pub shape: Shape,
    /// Where the kernel implements both doors, for the case's `source:`.
    pub source: &'static str,
}

const HASH_KEYS: Shape = Shape::Keyed {
    present: "1",
    absent: "2",
};
const ARRAY_KEYS: Shape = Shape::Keyed {
    present: "0",
    absent: "4",
};
const LPM_KEYS: Shape = Shape::Keyed {
    present: "[{u32: 32}, {be32: 0x0a000001}]",
    absent: "[{u32: 32}, {be32: 0x0a000002}]",
};

/// Every map type of the suite that has element helpers.
pub const TYPES: &[SweepType] = &[
    SweepType {
        name: "hash",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: HASH_KEYS,
        source: "kernel/bpf/syscall.c map_update_elem() bpf_map_update_value(); kernel/bpf/hashtab.c htab_map_update_elem() check_flags(); kernel/bpf/helpers.c",
    },
    SweepType {
        name: "array",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: ARRAY_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/arraymap.c array_map_update_elem() array_map_delete_elem()",
    },
    SweepType {
        name: "percpu_hash",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: HASH_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/hashtab.c bpf_percpu_hash_update() htab_percpu_map_update_elem()",
    },
    SweepType {
        name: "percpu_array",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: ARRAY_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/arraymap.c bpf_percpu_array_update() array_map_update_elem()",
    },
    SweepType {
        name: "lru_hash",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: HASH_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/hashtab.c htab_lru_map_update_elem() check_flags()",
    },
    SweepType {
        name: "lru_percpu_hash",
        attrs: "key_size: 4, value_size: 8, max_entries: 4",
        shape: HASH_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/hashtab.c bpf_percpu_hash_update() htab_lru_percpu_map_update_elem()",
    },
    SweepType {
        name: "lpm_trie",
        attrs: "key_size: 8, value_size: 8, max_entries: 4, flags: no_prealloc",
        shape: LPM_KEYS,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/lpm_trie.c trie_update_elem() trie_lookup_elem() trie_delete_elem()",
    },
    SweepType {
        name: "queue",
        attrs: "key_size: 0, value_size: 4, max_entries: 2",
        shape: Shape::QueueStack,
        source: "kernel/bpf/syscall.c bpf_map_update_value() map_lookup_and_delete_elem(); kernel/bpf/queue_stack_maps.c queue_stack_map_push_elem(); kernel/bpf/helpers.c bpf_map_push_elem()",
    },
    SweepType {
        name: "stack",
        attrs: "key_size: 0, value_size: 4, max_entries: 2",
        shape: Shape::QueueStack,
        source: "kernel/bpf/syscall.c bpf_map_update_value() map_lookup_and_delete_elem(); kernel/bpf/queue_stack_maps.c queue_stack_map_push_elem(); kernel/bpf/helpers.c bpf_map_push_elem()",
    },
    SweepType {
        name: "bloom_filter",
        attrs: "key_size: 0, value_size: 4, max_entries: 8",
        shape: Shape::Bloom,
        source: "kernel/bpf/syscall.c bpf_map_update_value(); kernel/bpf/bloom_filter.c bloom_map_push_elem() bloom_map_peek_elem()",
    },
];

/// Map types of the suite left out, and why: no element helper does what their syscall
/// operations do.
pub const WITHOUT_ELEMENT_HELPERS: &[(&str, &str)] = &[
    (
        "array_of_maps",
        "syscall values are inner map fds in and ids out; a program may look up but not update or delete (the verifier refuses)",
    ),
    (
        "hash_of_maps",
        "syscall values are inner map fds in and ids out; a program may look up but not update or delete (the verifier refuses)",
    ),
    (
        "ringbuf",
        "no element operations on either side: bpf(2) element commands are refused, programs use bpf_ringbuf_output/reserve",
    ),
];

/// An element flag value as the case format writes it (`None` for 0).
pub fn flags_yaml(flags: u64) -> Option<String> {
    let mut names = Vec::new();
    if flags & 1 != 0 {
        names.push("noexist");
    }
    if flags & 2 != 0 {
        names.push("exist");
    }
    if flags & 4 != 0 {
        names.push("lock");
    }
    match names.len() {
        0 => None,
        1 => Some(names[0].to_string()),
        _ => Some(format!("[{}]", names.join(", "))),
    }
}

/// The flag values swept: every combination of NOEXIST, EXIST and LOCK.
pub const FLAG_VALUES: std::ops::RangeInclusive<u64> = 0..=7;

fn with_flags(args: String, flags: u64) -> String {
    match flags_yaml(flags) {
        Some(f) => format!("{args}, flags: {f}"),
        None => args,
    }
}

/// A value on map type `ty`: per-CPU maps get a different value per CPU (2 CPUs), so the
/// slot-0 normalisation has something to tell apart.
fn value(t: &SweepType, v: u64) -> String {
    if t.name.contains("percpu") {
        format!("{{percpu: [{v}, {}]}}", v + 10)
    } else {
        v.to_string()
    }
}

/// The case file of one table row.
pub fn case_yaml(t: &SweepType) -> String {
    let mut maps = String::new();
    let mut steps = String::new();
    let mut step = |s: String| {
        let _ = writeln!(steps, "  - {s}");
    };
    let attrs = t.attrs;
    let ty = t.name;
    match t.shape {
        Shape::Keyed { present, absent } => {
            for f in FLAG_VALUES {
                let m = format!("f{f}");
                let _ = writeln!(maps, "  {m}: {{type: {ty}, {attrs}}}");
                step(format!("update: {{map: {m}, key: {present}, value: {}}}", value(t, 1)));
                step(format!(
                    "update: {{{}}}",
                    with_flags(format!("map: {m}, key: {present}, value: {}", value(t, 2)), f)
                ));
                step(format!(
                    "update: {{{}}}",
                    with_flags(format!("map: {m}, key: {absent}, value: {}", value(t, 3)), f)
                ));
                step(format!("lookup: {{map: {m}, key: {present}}}"));
            }
            let _ = writeln!(maps, "  d: {{type: {ty}, {attrs}}}");
            step(format!("lookup: {{map: d, key: {absent}}}"));
            step(format!("update: {{map: d, key: {present}, value: {}}}", value(t, 5)));
            step(format!("lookup: {{map: d, key: {present}}}"));
            step(format!("delete: {{map: d, key: {present}}}"));
            step(format!("delete: {{map: d, key: {absent}}}"));
            step(format!("lookup: {{map: d, key: {present}}}"));
        }
        Shape::QueueStack => {
            for f in FLAG_VALUES {
                let m = format!("f{f}");
                let _ = writeln!(maps, "  {m}: {{type: {ty}, {attrs}}}");
                step(format!("push: {{map: {m}, value: 1}}"));
                // Room for one more, then full (if that push took).
                step(format!("push: {{{}}}", with_flags(format!("map: {m}, value: 2"), f)));
                step(format!("push: {{{}}}", with_flags(format!("map: {m}, value: 3"), f)));
                step(format!("peek: {{map: {m}}}"));
            }
            let _ = writeln!(maps, "  p: {{type: {ty}, {attrs}}}");
            step("pop: {map: p}".into());
            step("peek: {map: p}".into());
            step("push: {map: p, value: 5}".into());
            step("push: {map: p, value: 6}".into());
            step("peek: {map: p}".into());
            step("pop: {map: p}".into());
            step("pop: {map: p}".into());
            step("pop: {map: p}".into());
        }
        Shape::Bloom => {
            for f in FLAG_VALUES {
                let m = format!("f{f}");
                let _ = writeln!(maps, "  {m}: {{type: {ty}, {attrs}}}");
                step(format!("push: {{{}}}", with_flags(format!("map: {m}, value: 1"), f)));
                step(format!("peek: {{map: {m}, value: 1}}"));
            }
            let _ = writeln!(maps, "  c: {{type: {ty}, {attrs}}}");
            step("peek: {map: c, value: 9}".into());
            step("push: {map: c, value: 9}".into());
            step("peek: {map: c, value: 9}".into());
        }
    }
    format!(
        "# Generated by `mapconform sweep` from harness/src/oracle/sweep.rs: do not edit by hand.\n\
         # Every operation with a helper counterpart, element flags 0..7, through bpf(2) and, on a\n\
         # twin map built by the same preceding steps, from a program (see README, the case format).\n\
         about: \"differential oracle sweep of {ty}: each op through bpf(2) and through the helper, flags 0-7\"\n\
         source: \"{}\"\n\
         differential: true\n\
         maps:\n{maps}steps:\n{steps}",
        t.source
    )
}

/// Every generated case: (file name below `cases/oracle/`, text).
pub fn files() -> Vec<(String, String)> {
    TYPES
        .iter()
        .map(|t| (format!("{}.yaml", t.name), case_yaml(t)))
        .collect()
}

/// Where the committed files differ from what the generator makes: missing, stale or
/// extra files below `dir`, by name. Empty when fresh.
pub fn stale(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let files = files();
    for (name, text) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if &committed == text => {}
            Ok(_) => problems.push(format!("{name} is stale")),
            Err(_) => problems.push(format!("{name} is missing")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !files.iter().any(|(n, _)| *n == name) {
                problems.push(format!("{name} is not generated"));
            }
        }
    }
    problems.sort();
    problems
}

/// Writes every generated case into `dir` (made if needed); returns the paths written.
pub fn write(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    files()
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).map(|()| path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{parse_case, Op};
    use crate::uapi::MapType;

    #[test]
    fn flag_values_are_written_by_name() {
        let all: Vec<Option<String>> = FLAG_VALUES.map(flags_yaml).collect();
        assert_eq!(all[0], None);
        assert_eq!(all[3].as_deref(), Some("[noexist, exist]"));
        assert_eq!(all[4].as_deref(), Some("lock"));
        assert_eq!(all[7].as_deref(), Some("[noexist, exist, lock]"));
    }

    #[test]
    fn every_generated_case_parses_and_sweeps_every_flag_through_both_doors() {
        for t in TYPES {
            let text = case_yaml(t);
            let id = format!("oracle/{}", t.name);
            let case = parse_case(Path::new("x.yaml"), &id, &text).unwrap_or_else(|e| panic!("{id}: {e:?}\n{text}"));
            assert!(case.differential, "{id}");
            assert!(case.maps.iter().all(|m| m.map_type.name() == Some(t.name)));
            // Every flag value 0..7 is swept once per map type, on its own map.
            let mut flags: Vec<u64> = case
                .steps
                .iter()
                .filter_map(|s| match &s.op {
                    Op::Update { flags, .. } | Op::Push { flags, .. } => Some(flags.0),
                    _ => None,
                })
                .collect();
            flags.sort();
            flags.dedup();
            assert_eq!(flags, FLAG_VALUES.collect::<Vec<_>>(), "{id}");
            // Every step has a helper counterpart: the whole case is compared.
            for step in &case.steps {
                let def = &case.maps[step.op.map().expect("sweep steps name a map")];
                assert!(
                    super::super::counterpart(&step.op, def).is_some(),
                    "{id}: {} has no counterpart",
                    step.op.describe(&case.maps)
                );
            }
        }
    }

    #[test]
    fn the_table_covers_every_map_type_of_the_suite_with_element_helpers() {
        let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        for t in [
            MapType::HASH,
            MapType::ARRAY,
            MapType::PERCPU_HASH,
            MapType::PERCPU_ARRAY,
            MapType::LRU_HASH,
            MapType::LRU_PERCPU_HASH,
            MapType::LPM_TRIE,
            MapType::QUEUE,
            MapType::STACK,
            MapType::BLOOM_FILTER,
        ] {
            assert!(names.contains(&t.name().unwrap()), "{t} is not swept");
        }
        for (name, _) in WITHOUT_ELEMENT_HELPERS {
            assert!(!names.contains(name));
        }
    }
}
