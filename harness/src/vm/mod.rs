//! Booting kernels with virtme-ng (vng) under QEMU.
//!
//! A boot runs `vng --run KERNEL … --exec CMD` in its own process group (QEMU is a grandchild
//! of vng, so killing vng alone would leave it behind), reads the console through a pipe,
//! stops early on a kernel crash, and kills the whole group at the deadline. The guest
//! command's exit status and any results come back through the shared `--rwdir`.

pub mod console;
pub mod events;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::kernels::Kernel;
use events::{emit, Events, VmEvent};

/// How QEMU runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl std::str::FromStr for Accel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Accel> {
        match s.to_ascii_lowercase().as_str() {
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => bail!("unknown accelerator {s:?} (kvm or tcg)"),
        }
    }
}

/// Guest vCPUs: fixed, so per-CPU map results are the same on every machine.
pub const DEFAULT_CPUS: u32 = 2;
pub const DEFAULT_MEMORY_MB: u32 = 1024;
/// The file in the rwdir where the guest wrapper writes the command's exit status.
pub const EXIT_STATUS_FILE: &str = ".mapconform-exit-status";

/// Finds vng: `$MAPCONFORM_VNG`, else `<repo>/.venv/bin/vng`, else `vng` on PATH.
pub fn vng_path() -> Result<PathBuf> {
    let env = std::env::var_os("MAPCONFORM_VNG").map(PathBuf::from);
    let venv = crate::kernels::repo_root().join(".venv/bin/vng");
    vng_lookup(env.as_deref(), &venv, std::env::var_os("PATH").as_deref())
}

fn vng_lookup(env: Option<&Path>, venv: &Path, path: Option<&std::ffi::OsStr>) -> Result<PathBuf> {
    if let Some(p) = env {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("$MAPCONFORM_VNG is {} but no such file exists", p.display());
    }
    if venv.is_file() {
        return Ok(venv.to_path_buf());
    }
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            if dir.join("vng").is_file() {
                return Ok(dir.join("vng"));
            }
        }
    }
    bail!(
        "virtme-ng (vng) not found: set $MAPCONFORM_VNG, or create {} (`scripts/run setup`), or put vng on PATH",
        venv.display()
    )
}

/// The accelerator to use: `$MAPCONFORM_ACCEL` (kvm|tcg) if set, else KVM only if a real
/// kernel boots under it (probed once per process with `kernel`), else TCG. Returns the
/// choice and the reason.
pub fn detect_accel(kernel: &Kernel) -> (Accel, String) {
    static DETECTED: OnceLock<(Accel, String)> = OnceLock::new();
    if let Ok(v) = std::env::var("MAPCONFORM_ACCEL") {
        if let Ok(a) = v.parse() {
            return (a, "set by $MAPCONFORM_ACCEL".into());
        }
    }
    DETECTED.get_or_init(|| probe_kvm(kernel)).clone()
}

/// Boots `kernel` directly with QEMU under KVM, as vng would (`-cpu host`), with no root fs:
/// reaching the "no root / no init" panic within a few seconds means KVM works. Paravirtual
/// nested KVM (PVM) fails here at once ("KVM internal error").
fn probe_kvm(kernel: &Kernel) -> (Accel, String) {
    let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm");
    if let Err(e) = dev {
        return (Accel::Tcg, format!("/dev/kvm unusable: {e}"));
    }
    if kernel.boot_image.is_dir() {
        return (Accel::Tcg, "KVM not probed (kernel is a source tree)".into());
    }
    let expr = duct::cmd!(
        "qemu-system-x86_64",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-machine",
        "q35",
        "-m",
        "256",
        "-smp",
        "1",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-kernel",
        &kernel.boot_image,
        "-append",
        "console=ttyS0 panic=-1 init=/mapconform-kvm-probe"
    )
    .stdin_null()
    .stderr_to_stdout()
    .unchecked();
    let t0 = Instant::now();
    match run_limited(expr, Duration::from_secs(15), |l| l.contains("Kernel panic")) {
        Ok((_, RunEnd::Matched)) => (
            Accel::Kvm,
            format!("KVM probe booted in {:.1}s", t0.elapsed().as_secs_f64()),
        ),
        Ok((log, end)) => {
            let why = log
                .lines()
                .find(|l| l.contains("KVM") || l.contains("kvm") || l.contains("failed"))
                .unwrap_or("");
            (
                Accel::Tcg,
                format!("KVM probe failed ({end:?}) {why}").trim().to_string(),
            )
        }
        Err(e) => (Accel::Tcg, format!("KVM probe could not run: {e:#}")),
    }
}

/// What to boot and run.
#[derive(Debug, Clone)]
pub struct BootRequest {
    pub kernel: Kernel,
    /// `None`: [`detect_accel`].
    pub accel: Option<Accel>,
    pub cpus: u32,
    pub memory_mb: u32,
    pub deadline: Duration,
    /// Run as root in the guest; it sees the host root read-only and `$MAPCONFORM_RWDIR`.
    pub command: Vec<String>,
    /// Host directory shared read-write (same path in the guest); created if missing.
    pub rwdir: PathBuf,
    /// Extra `vng` arguments (debugging).
    pub extra_vng_args: Vec<String>,
}

impl BootRequest {
    pub fn new(kernel: Kernel, command: Vec<String>, rwdir: PathBuf) -> BootRequest {
        BootRequest {
            kernel,
            accel: None,
            cpus: DEFAULT_CPUS,
            memory_mb: DEFAULT_MEMORY_MB,
            deadline: Duration::from_secs(300),
            command,
            rwdir,
            extra_vng_args: vec![],
        }
    }
}

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    /// The guest command ran and exited with this status.
    Exited(i32),
    /// The deadline passed; the VM was killed.
    TimedOut,
    /// The kernel crashed (panic, oops, BUG); the VM was stopped. Holds the first crash line.
    KernelPanic(String),
    /// vng/QEMU ended before the kernel printed anything (bad image, bad option…).
    NeverStarted { vng_status: Option<i32> },
    /// The kernel ran but the command left no exit status (init failed, guest hung up…).
    NoExitStatus { vng_status: Option<i32> },
}

/// The result of one boot.
#[derive(Debug, Clone)]
pub struct BootReport {
    pub id: String,
    pub accel: Accel,
    pub outcome: Outcome,
    pub wall: Duration,
    /// Everything vng and the guest console printed (stdout and stderr interleaved).
    pub console: String,
    /// The vng command line used.
    pub command_line: Vec<String>,
}

impl BootReport {
    /// Crash/warning lines and the last 40 lines of the console.
    pub fn excerpt(&self) -> String {
        console::excerpt(&self.console, 40)
    }
}

/// Quotes `argv` for a POSIX shell.
pub fn shell_join(argv: &[String]) -> String {
    shell_words::join(argv)
}

/// The guest-side command string: exports the rwdir, runs `command`, records its status.
pub fn guest_script(command: &[String], rwdir: &Path) -> String {
    let rw = shell_words::quote(&rwdir.display().to_string()).into_owned();
    format!(
        "export MAPCONFORM_RWDIR={rw}; cd /; {}; echo $? > {rw}/{EXIT_STATUS_FILE}",
        shell_join(command)
    )
}

/// The vng arguments for `req` under `accel` (without the vng program itself).
pub fn vng_args(req: &BootRequest, accel: Accel) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--run".into(),
        req.kernel.boot_image.display().to_string(),
        "--verbose".into(),
        "--user".into(),
        "root".into(),
        "--cpus".into(),
        req.cpus.to_string(),
        "--memory".into(),
        format!("{}M", req.memory_mb),
        format!("--rwdir={}", req.rwdir.display()),
        // a crash reboots, and vng's QEMU (-no-reboot) then exits
        "--append=panic=-1".into(),
    ];
    if accel == Accel::Tcg {
        // vng's TCG default `-cpu max` makes old kernels' userspace much slower
        a.extend(["--disable-kvm".into(), "--qemu-opts=-cpu qemu64".into()]);
    }
    a.extend(req.extra_vng_args.iter().cloned());
    a.extend(["--exec".into(), guest_script(&req.command, &req.rwdir)]);
    a
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
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

/// Guest-count default for parallel boots: host CPUs / guest vCPUs, so that the guests'
/// vCPUs do not outnumber the host's cores (two 2-vCPU guests on 2 cores were measured at
/// barely 10% more throughput than one after another), and no more guests than the
/// available memory holds (guest RAM plus ~512 MiB for QEMU and vng each). At least 1.
pub fn default_jobs(cpus_per_guest: u32) -> usize {
    let host = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let by_cpu = host / cpus_per_guest.max(1) as usize;
    let by_memory = available_memory_mb().map_or(usize::MAX, |mb| (mb / (DEFAULT_MEMORY_MB as u64 + 512)) as usize);
    by_cpu.min(by_memory).max(1)
}

/// MemAvailable from /proc/meminfo, in MiB.
fn available_memory_mb() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Runs `expr` in its own process group, streaming its output; kills the whole group at the
/// deadline or when `stop(line)` holds. Returns the output and how it ended. No process of
/// the group is left when this returns (checked).
fn run_limited(expr: duct::Expression, limit: Duration, stop: impl Fn(&str) -> bool) -> Result<(String, RunEnd)> {
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
                if stop(&line) {
                    end = Some(RunEnd::Matched);
                }
                log.push_str(&line);
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

/// Boots `req`, runs its command, and reports. Blocks until the VM is gone.
pub fn boot(req: &BootRequest, events: Events) -> Result<BootReport> {
    let vng = vng_path()?;
    let accel = match req.accel {
        Some(a) => a,
        None => detect_accel(&req.kernel).0,
    };
    std::fs::create_dir_all(&req.rwdir).with_context(|| format!("creating rwdir {}", req.rwdir.display()))?;
    let rwdir = std::fs::canonicalize(&req.rwdir)?;
    let status_file = rwdir.join(EXIT_STATUS_FILE);
    let _ = std::fs::remove_file(&status_file);
    let req = BootRequest { rwdir, ..req.clone() };
    let args = vng_args(&req, accel);
    let mut command_line = vec![vng.display().to_string()];
    command_line.extend(args.iter().cloned());

    emit(
        events,
        VmEvent::Booting {
            id: req.kernel.id.clone(),
        },
    );
    let t0 = Instant::now();
    // vng starts `virtme-run` through PATH: put vng's own bin dir first
    let mut path = vec![vng.parent().unwrap_or(Path::new("/")).to_path_buf()];
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let expr = duct::cmd(&vng, &args)
        .env("PATH", std::env::join_paths(path)?)
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .dir("/");
    let res = run_limited(expr, req.deadline, console::crash_line);
    let wall = t0.elapsed();
    let (console, end) = match res {
        Ok(r) => r,
        Err(e) => {
            emit(
                events,
                VmEvent::Failed {
                    id: req.kernel.id.clone(),
                    error: format!("{e:#}"),
                },
            );
            return Err(e.context(format!("running {}", vng.display())));
        }
    };
    let outcome = match end {
        RunEnd::TimedOut => Outcome::TimedOut,
        RunEnd::Matched => Outcome::KernelPanic(
            console
                .lines()
                .find(|l| console::crash_line(l))
                .unwrap_or("")
                .trim()
                .to_string(),
        ),
        RunEnd::Exited(vng_status) => match std::fs::read_to_string(&status_file) {
            Ok(s) => match s.trim().parse() {
                Ok(code) => Outcome::Exited(code),
                Err(_) => Outcome::NoExitStatus { vng_status },
            },
            Err(_) if !console.contains("Linux version") => Outcome::NeverStarted { vng_status },
            Err(_) => Outcome::NoExitStatus { vng_status },
        },
    };
    let _ = std::fs::remove_file(&status_file);
    emit(
        events,
        VmEvent::Booted {
            id: req.kernel.id.clone(),
            wall,
            outcome: outcome.clone(),
        },
    );
    Ok(BootReport {
        id: req.kernel.id.clone(),
        accel,
        outcome,
        wall,
        console,
        command_line,
    })
}

/// Boots several requests, at most `jobs` at a time; reports in request order.
pub fn boot_many(reqs: &[BootRequest], jobs: usize, events: Events) -> Vec<Result<BootReport>> {
    let results: Vec<std::sync::Mutex<Option<Result<BootReport>>>> =
        reqs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    run_parallel(reqs.len(), jobs, |i| {
        *results[i].lock().unwrap() = Some(boot(&reqs[i], events))
    });
    results.into_iter().map(|m| m.into_inner().unwrap().unwrap()).collect()
}

/// Runs `work(i)` for every `i < count` on at most `jobs` threads; each thread takes the next
/// index when it finishes one, so a slow boot does not hold back the others.
pub fn run_parallel(count: usize, jobs: usize, work: impl Fn(usize) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= count {
                    break;
                }
                work(i);
            });
        }
    });
}

/// The accelerator for a run: `requested`, or else the detected one, announced on `events`.
pub fn choose_accel(requested: Option<Accel>, kernel: &Kernel, events: Events) -> Accel {
    requested.unwrap_or_else(|| {
        let (accel, reason) = detect_accel(kernel);
        emit(events, VmEvent::Accel { accel, reason });
        accel
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel() -> Kernel {
        Kernel {
            id: "6.12".into(),
            release: Some("6.12.117+deb13-amd64".into()),
            version: Some("6.12.117-1".into()),
            boot_image: "/c/kernels/6.12/vmlinux".into(),
            modules: Some("/c/kernels/6.12/lib/modules/6.12.117+deb13-amd64".into()),
        }
    }

    #[test]
    fn vng_command_line_tcg() {
        let req = BootRequest::new(
            kernel(),
            vec!["sh".into(), "-c".into(), "uname -r > $MAPCONFORM_RWDIR/release".into()],
            "/tmp/rw dir".into(),
        );
        let a = vng_args(&req, Accel::Tcg);
        assert_eq!(
            a[..13],
            [
                "--run",
                "/c/kernels/6.12/vmlinux",
                "--verbose",
                "--user",
                "root",
                "--cpus",
                "2",
                "--memory",
                "1024M",
                "--rwdir=/tmp/rw dir",
                "--append=panic=-1",
                "--disable-kvm",
                "--qemu-opts=-cpu qemu64",
            ]
        );
        assert_eq!(a[13], "--exec");
        assert_eq!(
            a[14],
            "export MAPCONFORM_RWDIR='/tmp/rw dir'; cd /; sh -c 'uname -r > $MAPCONFORM_RWDIR/release'; \
             echo $? > '/tmp/rw dir'/.mapconform-exit-status"
        );
        let k = vng_args(&req, Accel::Kvm);
        assert!(!k.iter().any(|x| x == "--disable-kvm" || x.starts_with("--qemu-opts")));
    }

    #[test]
    fn vng_lookup_order() {
        let d = tempfile::tempdir().unwrap();
        let venv = d.path().join("venv/vng");
        let pathdir = d.path().join("bin");
        std::fs::create_dir_all(&pathdir).unwrap();
        std::fs::write(pathdir.join("vng"), "").unwrap();
        let path = std::env::join_paths([&pathdir]).unwrap();
        assert_eq!(vng_lookup(None, &venv, Some(&path)).unwrap(), pathdir.join("vng"));
        std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
        std::fs::write(&venv, "").unwrap();
        assert_eq!(vng_lookup(None, &venv, Some(&path)).unwrap(), venv);
        let err = vng_lookup(Some(Path::new("/nonexistent/vng")), &venv, None).unwrap_err();
        assert!(err.to_string().contains("MAPCONFORM_VNG"));
        let err = vng_lookup(None, Path::new("/nonexistent/.venv/bin/vng"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$MAPCONFORM_VNG") && err.contains("/nonexistent/.venv/bin/vng") && err.contains("PATH"),
            "{err}"
        );
    }

    #[test]
    fn run_limited_kills_the_whole_group() {
        // a grandchild that would outlive its parent
        let expr = duct::cmd!("sh", "-c", "sleep 300 & sleep 300 & echo started; wait").unchecked();
        let t0 = Instant::now();
        let (log, end) = run_limited(expr, Duration::from_secs(1), |_| false).unwrap();
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
        let expr = duct::cmd!("sh", "-c", "echo a; echo 'Kernel panic - not syncing: x'; sleep 300").unchecked();
        let (_, end) = run_limited(expr, Duration::from_secs(30), console::crash_line).unwrap();
        assert_eq!(end, RunEnd::Matched);
        let (_, end) = run_limited(
            duct::cmd!("sh", "-c", "exit 3").unchecked(),
            Duration::from_secs(30),
            |_| false,
        )
        .unwrap();
        assert_eq!(end, RunEnd::Exited(Some(3)));
    }
}
