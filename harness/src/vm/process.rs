//! A child process tree with a deadline: its own process group, its output streamed line
//! by line, the whole group killed at the deadline, on a matching line or on SIGINT/SIGTERM,
//! and reaped, so that no QEMU (vng's grandchild) outlives the harness.

use std::io::{BufRead, BufReader};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// The process (group) ended by itself; its exit status.
    Exited(Option<i32>),
    /// A line matched the stop predicate; the group was killed.
    Matched,
    TimedOut,
}

/// Process groups of the VMs running now, for [`install_interrupt_handler`].
static ACTIVE_GROUPS: [std::sync::atomic::AtomicI32; 64] = [const { std::sync::atomic::AtomicI32::new(0) }; 64];

fn register_group(pgid: i32) -> Option<usize> {
    use std::sync::atomic::Ordering::SeqCst;
    (0..ACTIVE_GROUPS.len()).find(|&i| ACTIVE_GROUPS[i].compare_exchange(0, pgid, SeqCst, SeqCst).is_ok())
}

extern "C" fn on_interrupt(sig: libc::c_int) {
    for g in &ACTIVE_GROUPS {
        let pgid = g.load(std::sync::atomic::Ordering::SeqCst);
        if pgid > 0 {
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    unsafe { libc::_exit(128 + sig) };
}

/// Makes SIGINT/SIGTERM/SIGHUP kill every running VM's process group before the process
/// exits. VMs run in process groups of their own, so a Ctrl-C on the terminal does not reach
/// them; without this handler an interrupted harness would leave QEMU running. Call it once
/// from `main` of a program that boots VMs.
pub fn install_interrupt_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        unsafe { libc::signal(sig, on_interrupt as *const () as libc::sighandler_t) };
    }
}

/// How long, and how many lines, the console is still read after a stop line (a kernel
/// oops): enough for its registers and call trace, which follow the first line.
const AFTER_STOP_WAIT: Duration = Duration::from_secs(3);
const AFTER_STOP_LINES: usize = 150;

/// Runs `expr` in its own process group, streaming its output; kills the whole group at the
/// deadline, or once `stop(line)` has held and the report that follows has been read (until
/// `report_end(line)`, [`AFTER_STOP_LINES`] lines or [`AFTER_STOP_WAIT`]). Returns the output
/// and how it ended. No process of the group is left when this returns (checked).
pub(crate) fn run_limited(
    expr: duct::Expression,
    limit: Duration,
    stop: impl Fn(&str) -> bool,
    report_end: impl Fn(&str) -> bool,
) -> Result<(String, RunEnd)> {
    use std::os::unix::process::CommandExt;
    // Orphans of the group (QEMU, once vng is killed) become our children, so that we can
    // reap them: otherwise they linger as zombies until init gets to them.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
    let expr = expr.before_spawn(|cmd| {
        cmd.process_group(0);
        // if this thread's process dies, take vng down too (QEMU then loses its console)
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Ok(())
    });
    let reader = Arc::new(expr.reader().context("starting process")?);
    let pgid = *reader.pids().first().context("no pid")? as libc::pid_t;
    let slot = register_group(pgid);
    let (tx, rx) = mpsc::channel::<String>();
    let r2 = reader.clone();
    let pump = std::thread::spawn(move || {
        let mut br = BufReader::new(&*r2);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match br.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let t0 = Instant::now();
    let mut log = String::new();
    let mut end = None;
    while end.is_none() {
        let left = limit.saturating_sub(t0.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                log.push_str(&line);
                if stop(&line) {
                    end = Some(RunEnd::Matched);
                    // The first line of an oops says little; RIP, registers and the call
                    // trace follow. Read them before the kill, within bounds.
                    let until = Instant::now() + AFTER_STOP_WAIT;
                    for _ in 0..AFTER_STOP_LINES {
                        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                            Ok(more) => {
                                log.push_str(&more);
                                if report_end(&more) {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => end = Some(RunEnd::TimedOut),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if end.is_some() {
        kill_group(pgid);
        // collect what is still in the pipe (a panic's trace)
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
            log.push_str(&line);
        }
    }
    let _ = pump.join();
    let status = match reader.try_wait() {
        Ok(Some(out)) => out.status.code(),
        _ => {
            let _ = reader.kill();
            None
        }
    };
    // the group may outlive its leader (QEMU is vng's grandchild): make sure it is gone
    kill_group(pgid);
    reap_group(pgid);
    if let Some(i) = slot {
        ACTIVE_GROUPS[i].store(0, std::sync::atomic::Ordering::SeqCst);
    }
    Ok((log, end.unwrap_or(RunEnd::Exited(status))))
}

/// SIGKILLs process group `pgid` and waits (up to 10 s) until none of it is left.
fn kill_group(pgid: libc::pid_t) {
    unsafe {
        if libc::kill(-pgid, 0) != 0 {
            return;
        }
        libc::kill(-pgid, libc::SIGKILL);
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if group_members(pgid).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "warning: process group {pgid} still has processes after SIGKILL: {:?}",
        group_members(pgid)
    );
}

/// Reaps the zombies of group `pgid` that were reparented to us (we are a subreaper), and
/// waits (up to 10 s) until no process of the group, zombie or not, is left.
fn reap_group(pgid: libc::pid_t) {
    let t0 = Instant::now();
    loop {
        unsafe { while libc::waitpid(-pgid, std::ptr::null_mut(), libc::WNOHANG) > 0 {} }
        if group_members_all(pgid, true).is_empty() || t0.elapsed() > Duration::from_secs(10) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Live (non-zombie) processes of group `pgid`, from /proc.
fn group_members(pgid: libc::pid_t) -> Vec<i32> {
    group_members_all(pgid, false)
}

fn group_members_all(pgid: libc::pid_t, zombies: bool) -> Vec<i32> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // fields after the ")" : state ppid pgrp …
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[2] == pgid.to_string() && (zombies || f[0] != "Z") {
            out.push(pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::console;

    #[test]
    fn run_limited_kills_the_whole_group() {
        // a grandchild that would outlive its parent
        let expr = duct::cmd!("sh", "-c", "sleep 300 & sleep 300 & echo started; wait").unchecked();
        let t0 = Instant::now();
        let (log, end) = run_limited(expr, Duration::from_secs(1), |_| false, |_| false).unwrap();
        assert_eq!(end, RunEnd::TimedOut);
        assert!(log.contains("started"));
        assert!(t0.elapsed() < Duration::from_secs(8));
        let out = std::process::Command::new("pgrep")
            .args(["-f", "^sleep 300$"])
            .output()
            .unwrap();
        assert!(
            out.stdout.is_empty(),
            "left behind: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // An oops: what follows its first line is read (until the end marker), then the kill.
        let expr = duct::cmd!(
            "sh",
            "-c",
            "echo a; echo 'Oops: 0000 [#1] SMP'; echo 'RIP: 0010:f+0x1'; echo 'Call Trace:'; \
             echo '---[ end trace 0000000000000000 ]---'; echo later; sleep 300"
        )
        .unchecked();
        let t0 = Instant::now();
        let (log, end) = run_limited(expr, Duration::from_secs(30), console::crash_line, console::report_end).unwrap();
        assert_eq!(end, RunEnd::Matched);
        assert!(log.contains("RIP: 0010:f+0x1") && log.contains("Call Trace:"), "{log}");
        assert!(t0.elapsed() < Duration::from_secs(15));
        // A crash line with nothing after it: killed after the bounded wait, not at the deadline.
        let expr = duct::cmd!("sh", "-c", "echo 'Kernel panic - not syncing: x'; sleep 300").unchecked();
        let t0 = Instant::now();
        let (_, end) = run_limited(expr, Duration::from_secs(60), console::crash_line, console::report_end).unwrap();
        assert_eq!(end, RunEnd::Matched);
        assert!(t0.elapsed() < AFTER_STOP_WAIT + Duration::from_secs(12));
        let (_, end) = run_limited(
            duct::cmd!("sh", "-c", "exit 3").unchecked(),
            Duration::from_secs(30),
            |_| false,
            |_| false,
        )
        .unwrap();
        assert_eq!(end, RunEnd::Exited(Some(3)));
    }
}
