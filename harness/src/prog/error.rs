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
/// After a rejection every kernel still prints its statistics (`processed N insns …`, and by
/// kernel `verification time`, `stack depth`, `subprog 0 (name) …`, `insns processed`).
/// 7.3 may add a structured report after the classic error line (`Verification failed:
/// …`, `Reason:`, `At:`, source context, `Suggestion:`). The reason is the last line before
/// that report, or else before the statistics (anchored on the last `processed ` line, so
/// statistics a future kernel adds are skipped too), that is not a known statistics line:
/// the classic one-line error, comparable across kernels. None for an empty log.
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
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("Verification failed:") || l.starts_with("Suggestion:"))
        .or_else(|| lines.iter().rposition(|l| l.starts_with("processed ")))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .rev()
        .find(|l| !STATS.iter().any(|t| l.starts_with(t)))
        .map(|l| l.to_string())
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
        // 7.3 prints a structured report after the classic line.
        let report = "20: (85) call bpf_map_lookup_elem#1\ninvalid access to packet, off=40 size=0, R2(id=0,off=40,r=1320)\n\
                      R2 min value is outside of the allowed memory range\n\nVerification failed: Memory Safety: Access outside bounds\n\n\
                      Reason:\n  The verifier cannot prove offset + access_size <= object_size.\nAt:\n  mc_keyed @ keyed.c:31:9\n\
                      \x20 Instruction context:\n      18 | (18) r1 = 0xffff88800518f400\n\
                      processed 21 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n";
        assert_eq!(
            verifier_reason(report).as_deref(),
            Some("R2 min value is outside of the allowed memory range")
        );
        let hint = "12: (85) call bpf_map_lookup_elem#1\nR2 offset is outside of the packet\nSuggestion:\n\
                    \x20   Add or adjust a bounds check that proves offset + access_size stays within the object.\n\
                    processed 13 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n";
        assert_eq!(
            verifier_reason(hint).as_deref(),
            Some("R2 offset is outside of the packet")
        );
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
