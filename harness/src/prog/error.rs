//! Errors of the program layer, and the one-line reason taken from a verifier log.

use std::error::Error as StdError;

/// What went wrong loading or running a test program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProgError {
    /// The kernel refused the object: BPF_PROG_LOAD (verifier) or creating the object's
    /// own maps/BTF. `reason` is one line, for a verifier rejection the line of the log
    /// that says why (e.g. "cannot pass map_type 1 into func bpf_map_push_elem#87").
    #[error("load failed (errno {errno:?}): {reason}")]
    Load { errno: Option<i32>, reason: String },
    /// BPF_PROG_TEST_RUN failed with this errno.
    #[error("BPF_PROG_TEST_RUN failed: errno {errno}")]
    Run { errno: i32 },
    /// Anything else (harness limits, bpffs, attach, socket errors...).
    #[error("{0}")]
    Other(String),
}

/// The first raw OS error found along an error's source chain.
pub(crate) fn errno_of(err: &(dyn StdError + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return Some(n);
            }
        }
        cur = e.source();
    }
    None
}

/// An error and its sources on one line.
pub(crate) fn one_line(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// The line of a verifier log that says why the program was rejected.
///
/// The log (level DEBUG|STATS, aya's default) prints each instruction as `N: (op) …`; the
/// verifier reports the problem right after the instruction it failed on, so the reason is
/// the first line after the last instruction line. Later lines are not it: 7.3 adds hints
/// ("Add or adjust a bounds check …"), and every kernel prints its statistics
/// (`processed N insns …`, and by kernel `verification time`, `stack depth`,
/// `subprog 0 (name) …`, `insns processed`). Logs without instruction lines (a program
/// refused before verification, e.g. for its BTF) fall back to the last line before the
/// statistics. None for an empty log.
pub fn verifier_reason(log: &str) -> Option<String> {
    const STATS: &[&str] = &[
        "processed ",
        "verification time",
        "stack depth",
        "max_states_per_insn",
        "-- END PROG LOAD LOG --",
        "peak_states",
        "mark_read",
        "subprog ",
        "insns processed",
    ];
    let is_stats = |l: &&str| STATS.iter().any(|t| l.starts_with(t));
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if let Some(last_insn) = lines.iter().rposition(|l| is_instruction(l)) {
        if let Some(reason) = lines[last_insn + 1..].iter().find(|l| !is_stats(l)) {
            return Some(reason.to_string());
        }
    }
    let before_stats = match lines.iter().rposition(|l| l.starts_with("processed ")) {
        Some(anchor) => &lines[..anchor],
        None => &lines[..],
    };
    before_stats.iter().rev().find(|l| !is_stats(l)).map(|l| l.to_string())
}

/// `18: (85) call bpf_map_push_elem#87` — an instruction line of a verifier log.
fn is_instruction(line: &str) -> bool {
    let Some((index, rest)) = line.split_once(": (") else { return false };
    !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && rest.contains(')')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_from_log() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n; int mc_queue_stack(struct xdp_md *ctx)\n\
                   18: (85) call bpf_map_push_elem#87\n\
                   cannot pass map_type 1 into func bpf_map_push_elem#87\n\
                   processed 19 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n\
                   -- END PROG LOAD LOG --\n";
        assert_eq!(
            verifier_reason(log).as_deref(),
            Some("cannot pass map_type 1 into func bpf_map_push_elem#87")
        );
        let old = "0: (85) call unknown#195\ninvalid func unknown#195\nprocessed 1 insns (limit 1000000) \
                   max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(verifier_reason(old).as_deref(), Some("invalid func unknown#195"));
        assert_eq!(verifier_reason("\n\n"), None);
        // 7.3 prints a hint after the reason.
        let hint = "12: (85) call bpf_map_lookup_elem#1\nR2 offset is outside of the packet\n\
                    Add or adjust a bounds check that proves offset + access_size stays within the object.\n\
                    processed 13 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n";
        assert_eq!(verifier_reason(hint).as_deref(), Some("R2 offset is outside of the packet"));
        // Refused before any instruction was verified.
        let btf = "number of funcs in func_info doesn't match number of subprogs\n";
        assert_eq!(
            verifier_reason(btf).as_deref(),
            Some("number of funcs in func_info doesn't match number of subprogs")
        );
        // 7.x print more statistics after the rejection, some before the `processed` line.
        let new = "18: (85) call bpf_map_push_elem#87\ncannot pass map_type 1 into func bpf_map_push_elem#87\n\
                   verification time 120 usec\nstack depth 0\nsubprog 0 (mc_queue_stack) main insns_self 20 insns_total 20 stack 0\n\
                   processed 19 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n\
                   insns processed 19\nsomething a future kernel prints\n";
        assert_eq!(
            verifier_reason(new).as_deref(),
            Some("cannot pass map_type 1 into func bpf_map_push_elem#87")
        );
    }

    #[test]
    fn errno_chain() {
        let io = std::io::Error::from_raw_os_error(22);
        assert_eq!(errno_of(&io), Some(22));
        assert!(one_line(&io).contains("Invalid argument"));
    }
}
