//! Reading a guest's console log: crash detection and the excerpt worth showing.

/// Console lines that mean the kernel crashed (a panic, an oops, a kernel BUG). Soft-lockup
/// warnings ("watchdog: BUG: soft lockup") are not crashes: slow TCG guests print them.
pub fn crash_line(line: &str) -> bool {
    const PATTERNS: &[&str] = &[
        "Kernel panic - not syncing",
        "Oops: ",
        "kernel BUG at ",
        "BUG: unable to handle",
        "BUG: kernel NULL pointer",
        "general protection fault",
    ];
    PATTERNS.iter().any(|p| line.contains(p))
}

/// The last line of an oops or panic report (after RIP, registers and the call trace).
pub fn report_end(line: &str) -> bool {
    line.contains("---[ end trace") || line.contains("---[ end Kernel panic")
}

/// Lines worth a look besides crashes (included in the excerpt, not fatal).
fn notable_line(line: &str) -> bool {
    crash_line(line) || line.contains("WARNING: CPU:") || line.contains("BUG: ") || line.contains("Call Trace:")
}

/// The relevant part of a console log: each crash report whole (from its first line to its
/// end marker, at most 60 lines), each warning line with a few lines after it (at most 100
/// lines in all), then the last `tail` lines.
pub fn excerpt(console: &str, tail: usize) -> String {
    let lines: Vec<&str> = console.lines().collect();
    let tail_start = lines.len().saturating_sub(tail);
    let mut out = Vec::new();
    let mut budget = 100usize;
    let mut i = 0;
    while i < tail_start && budget > 0 {
        if notable_line(lines[i]) {
            let end = if crash_line(lines[i]) {
                let report = lines[i..]
                    .iter()
                    .position(|l| report_end(l))
                    .map_or(60, |n| (n + 1).min(60));
                i + report
            } else {
                i + 8
            }
            .min(tail_start);
            for l in &lines[i..end] {
                if budget == 0 {
                    break;
                }
                out.push(*l);
                budget -= 1;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    if !out.is_empty() && tail_start > 0 {
        out.push("[…]");
    }
    out.extend(&lines[tail_start..]);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_lines() {
        assert!(crash_line(
            "[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs"
        ));
        assert!(crash_line("[    3.0] Oops: 0000 [#1] PREEMPT SMP NOPTI"));
        assert!(crash_line(
            "[    3.0] BUG: kernel NULL pointer dereference, address: 0000000000000008"
        ));
        assert!(crash_line("[    3.0] kernel BUG at mm/slub.c:123!"));
        assert!(!crash_line(
            "[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:1]"
        ));
        assert!(!crash_line("[    0.0] Linux version 6.12.117+deb13-amd64"));
    }

    #[test]
    fn excerpt_keeps_crash_and_tail() {
        let mut log: Vec<String> = (0..200).map(|i| format!("line {i}")).collect();
        log[50] = "[    3.0] BUG: kernel NULL pointer dereference".into();
        log[51] = "[    3.0] Oops: 0002 [#1] SMP".into();
        log[52] = "[    3.0] RIP: 0010:htab_map_update_elem+0x1f/0x300".into();
        log[56] = "[    3.0] ---[ end trace 0000000000000000 ]---".into();
        let ex = excerpt(&log.join("\n"), 40);
        let lines: Vec<_> = ex.lines().collect();
        // the whole report, from its first line to its end marker
        assert_eq!(lines[0], "[    3.0] BUG: kernel NULL pointer dereference");
        assert_eq!(lines[1], "[    3.0] Oops: 0002 [#1] SMP");
        assert_eq!(lines[2], "[    3.0] RIP: 0010:htab_map_update_elem+0x1f/0x300");
        assert_eq!(lines[6], "[    3.0] ---[ end trace 0000000000000000 ]---");
        assert_eq!(lines[7], "[…]");
        assert_eq!(lines.len(), 7 + 1 + 40);
        assert_eq!(*lines.last().unwrap(), "line 199");
        // a short clean log comes back whole
        assert_eq!(excerpt("a\nb", 40), "a\nb");
    }
}
