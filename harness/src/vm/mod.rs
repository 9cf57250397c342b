//! Booting kernels with virtme-ng (vng) under QEMU.
//!
//! A boot runs `vng --run KERNEL … --exec CMD` in its own process group (QEMU is a grandchild
//! of vng, so killing vng alone would leave it behind), reads the console through a pipe,
//! stops early on a kernel crash, and kills the whole group at the deadline. The guest
//! command's exit status and any results come back through the shared `--rwdir`.

pub mod accel;
pub mod console;
pub mod events;
mod kernel;
pub mod modules;
mod outcome_text;
pub mod pool;
mod process;
pub mod root;
mod version_shim;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub use accel::{choose_accel, detect_accel, Accel};
use events::{emit, Events, VmEvent};
pub use kernel::Kernel;
pub use pool::{boot_many, default_jobs, run_parallel};
pub use process::install_interrupt_handler;
use process::{run_limited, RunEnd};

/// Guest vCPUs: fixed, so per-CPU map results are the same on every machine.
pub const DEFAULT_CPUS: u32 = 2;
pub const DEFAULT_MEMORY_MB: u32 = 1024;
/// The file in the rwdir where the guest wrapper writes the command's exit status.
pub const EXIT_STATUS_FILE: &str = ".mapconform-exit-status";

/// Finds vng: `$MAPCONFORM_VNG`, else `<repo>/.venv/bin/vng`, else `vng` on PATH.
pub fn vng_path() -> Result<PathBuf> {
    let env = std::env::var_os("MAPCONFORM_VNG").map(PathBuf::from);
    let venv = crate::repo_root().join(".venv/bin/vng");
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

/// What to boot and run.
#[derive(Debug, Clone)]
pub struct BootRequest {
    pub kernel: Kernel,
    /// `None`: [`detect_accel`].
    pub accel: Option<Accel>,
    pub cpus: u32,
    pub memory_mb: u32,
    pub deadline: Duration,
    /// Run as root in the guest; it sees the root file system read-only and
    /// `$MAPCONFORM_RWDIR` read-write. Paths in it are guest paths.
    pub command: Vec<String>,
    /// Host directory shared read-write (at [`BootRequest::guest_rwdir`]); created if missing.
    pub rwdir: PathBuf,
    /// `None`: the host's root (vng's default). `Some(dir)`: a minimal root prepared by
    /// [`root::prepare`]; the rwdir then appears at [`root::GUEST_OUT`].
    pub root: Option<PathBuf>,
    /// Host folders shared read-only: (guest path, host path).
    pub rodirs: Vec<(PathBuf, PathBuf)>,
    /// A host file ([`crate::shared_log::create`]) the guest gets as shared memory (an
    /// ivshmem device), where its writes outlive a crash without a 9p round trip.
    pub shared_log: Option<PathBuf>,
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
            root: None,
            rodirs: vec![],
            shared_log: None,
            extra_vng_args: vec![],
        }
    }

    /// Where the guest sees the rwdir: the same path with the host's root, a fixed one in
    /// a minimal root.
    pub fn guest_rwdir(&self) -> PathBuf {
        match self.root {
            None => self.rwdir.clone(),
            Some(_) => PathBuf::from(root::GUEST_OUT),
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

/// The guest-side command string: exports the rwdir (a guest path), runs `command`,
/// records its status.
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
        format!("--rwdir={}={}", req.guest_rwdir().display(), req.rwdir.display()),
        // a crash reboots, and vng's QEMU (-no-reboot) then exits
        "--append=panic=-1".into(),
        // After vng's `loglevel=7` (`--verbose`, which the harness needs for the console):
        // NOTICE and above still reach it (the "Linux version" banner, warnings, oopses,
        // panics: what `console` and the outcome look for), the ~400 INFO lines of a boot
        // do not, each one written a byte at a time to the emulated UART.
        "--append=loglevel=6".into(),
        // A loaded host makes the guest's clocksource watchdog find the TSC "unstable"
        // (seen under TCG) and switch to the HPET, whose every read is an emulated MMIO
        // access; the TCG guest's TSC follows the host clock, so keep it.
        "--append=tsc=reliable".into(),
        // Grace periods by IPI instead of waiting for every CPU's next tick: map-in-map
        // updates (`maybe_wait_bpf_programs()`: synchronize_rcu), interface and socket
        // teardown (synchronize_net) wait for one each. Under TCG a normal grace period is
        // tens of ms; measured on 6.12, four sessions each: cases 5.09 s -> 4.86 s (median).
        // The guarantee is the same, only the wait is shorter.
        "--append=rcupdate.rcu_expedited=1".into(),
        // No boot-time self-tests of the crypto API's algorithms (no map uses it): 8 fewer
        // module requests, each a busybox run of vng's initramfs `modprobe` stub, and
        // `/init` ~0.1 s sooner under TCG (6.12: 3.02 s -> 2.89 s uptime at the command,
        // medians of four). Ignored with fips=1 (crypto/testmgr.c).
        "--append=cryptomgr.notests".into(),
        // Plain indirect branches instead of retpolines (and no RSB filling at each context
        // switch): every map operation goes through `map->ops`, and a retpoline costs TCG
        // a few extra blocks per call. Measured on 6.12, four sessions each: cases 4.48 s ->
        // 4.24 s, command at 3.83 s -> 3.44 s uptime (medians). Only Spectre v2: the
        // verifier's Spectre v1/v4 sanitising follows `mitigations=` and CAP_PERFMON
        // (bpf_bypass_spec_v1/v4), which this leaves alone; the JIT only swaps a
        // retpoline thunk for `jmp *%rcx` in tail calls.
        "--append=spectre_v2=off".into(),
        // Without it vng looks for virtiofsd first and waits 6-10 s before falling back
        // to 9p wherever virtiofsd is not installed (measured: `--dry-run` 6.7 s vs 0.6 s).
        "--force-9p".into(),
    ];
    if let Some(root) = &req.root {
        a.extend(["--root".into(), root.display().to_string()]);
    }
    for (guest, host) in &req.rodirs {
        a.push(format!("--rodir={}={}", guest.display(), host.display()));
    }
    if accel == Accel::Tcg {
        // vng's TCG default `-cpu max` makes old kernels' userspace much slower
        a.extend(["--disable-kvm".into(), "--qemu-opts=-cpu qemu64".into()]);
    }
    if let Some(opts) = req.shared_log.as_deref().and_then(crate::shared_log::qemu_opts) {
        a.push(format!("--qemu-opts={opts}"));
    }
    a.extend(req.extra_vng_args.iter().cloned());
    a.extend(["--exec".into(), guest_script(&req.command, &req.guest_rwdir())]);
    a
}

/// Whether the QEMU vng runs knows `-device ivshmem-plain` (asked once per process): a
/// build without it would not boot with a [`BootRequest::shared_log`], so ask before
/// giving one.
pub fn qemu_has_ivshmem() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        duct::cmd!("qemu-system-x86_64", "-device", "help")
            .stdin_null()
            .stderr_to_stdout()
            .unchecked()
            .read()
            .is_ok_and(|out| out.contains("\"ivshmem-plain\""))
    })
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
    // vng starts `virtme-run` through PATH: put vng's own bin dir first, and before it the
    // `strings` that spares vng reading the whole image for a release known already.
    let host_path = std::env::var_os("PATH").unwrap_or_default();
    let mut path = vec![
        version_shim::dir(Some(&host_path))?,
        vng.parent().unwrap_or(Path::new("/")).to_path_buf(),
    ];
    path.extend(std::env::split_paths(&host_path));
    let mut expr = duct::cmd(&vng, &args);
    if let (Some(release), true) = (&req.kernel.release, req.kernel.boot_image.is_file()) {
        for (key, value) in version_shim::env(&req.kernel.boot_image, release) {
            expr = expr.env(key, value);
        }
    }
    let expr = expr
        .env("PATH", std::env::join_paths(path)?)
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .dir("/");
    let res = run_limited(
        expr,
        req.deadline,
        |line| {
            events::watch_console(line, &req.kernel.id, events);
            console::crash_line(line)
        },
        console::report_end,
    );
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
            a[..19],
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
                "--rwdir=/tmp/rw dir=/tmp/rw dir",
                "--append=panic=-1",
                "--append=loglevel=6",
                "--append=tsc=reliable",
                "--append=rcupdate.rcu_expedited=1",
                "--append=cryptomgr.notests",
                "--append=spectre_v2=off",
                "--force-9p",
                "--disable-kvm",
                "--qemu-opts=-cpu qemu64",
            ]
        );
        assert_eq!(a[19], "--exec");
        assert_eq!(
            a[20],
            "export MAPCONFORM_RWDIR='/tmp/rw dir'; cd /; sh -c 'uname -r > $MAPCONFORM_RWDIR/release'; \
             echo $? > '/tmp/rw dir'/.mapconform-exit-status"
        );
        // A minimal root: the rwdir moves to a fixed guest path, the shares follow the root.
        let mut min = req.clone();
        min.root = Some("/c/guest-root".into());
        min.rodirs.push(("/mapconform/bin".into(), "/repo/target/debug".into()));
        let m = vng_args(&min, Accel::Tcg);
        let at = |x: &str| m.iter().position(|a| a == x);
        assert!(m.contains(&"--rwdir=/mapconform/out=/tmp/rw dir".to_string()));
        assert_eq!(m[at("--root").unwrap() + 1], "/c/guest-root");
        assert!(m.contains(&"--rodir=/mapconform/bin=/repo/target/debug".to_string()));
        assert!(m
            .last()
            .unwrap()
            .starts_with("export MAPCONFORM_RWDIR=/mapconform/out;"));
        let k = vng_args(&req, Accel::Kvm);
        assert!(!k.iter().any(|x| x == "--disable-kvm" || x.starts_with("--qemu-opts")));
        // The shared log: an ivshmem device over the file.
        let mut log = req.clone();
        log.shared_log = Some("/tmp/mapconform-1/6.12/marks.shm".into());
        let l = vng_args(&log, Accel::Kvm);
        let opts: Vec<&String> = l.iter().filter(|x| x.starts_with("--qemu-opts=")).collect();
        assert!(
            opts.len() == 1 && opts[0].contains("ivshmem-plain,memdev=mapconform-log"),
            "{opts:?}"
        );
        assert_eq!(l.last(), k.last(), "the guest command stays last");
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
}
