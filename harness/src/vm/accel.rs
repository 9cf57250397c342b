//! Which accelerator QEMU uses: KVM only where a real kernel boots under it, else TCG.
//!
//! `/dev/kvm` existing is not enough: a paravirtual nested KVM (PVM) accepts the device but
//! crashes ordinary guests at once, so a short probe boot decides.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::events::{emit, Events, VmEvent};
use super::process::{run_limited, RunEnd};
use super::Kernel;

/// How QEMU runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// The word users type (`--accel tcg`) and read; also the snapshot header's `accel:`.
impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
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
    match run_limited(expr, Duration::from_secs(15), |l| l.contains("Kernel panic"), |_| true) {
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
                format!("KVM probe failed ({}): {why}", probe_end(end))
                    .trim_end_matches([' ', ':'])
                    .to_string(),
            )
        }
        Err(e) => (Accel::Tcg, format!("KVM probe could not run: {e:#}")),
    }
}

/// How the probe's QEMU ended, in words (the probe wants "Kernel panic" and got this).
fn probe_end(end: RunEnd) -> String {
    match end {
        RunEnd::Exited(Some(code)) => format!("QEMU exited {code}"),
        // the pipe closed before the exit status could be read, or a signal
        RunEnd::Exited(None) => "QEMU ended without an exit status".into(),
        RunEnd::Matched => "the kernel panicked".into(),
        RunEnd::TimedOut => "no panic within 15 s".into(),
    }
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

    #[test]
    fn accel_reads_and_prints_as_one_lowercase_word() {
        for a in [Accel::Kvm, Accel::Tcg] {
            assert_eq!(a.to_string().parse::<Accel>().unwrap(), a);
        }
        assert_eq!(Accel::Tcg.to_string(), "tcg");
        assert_eq!(probe_end(RunEnd::Exited(None)), "QEMU ended without an exit status");
        assert_eq!(probe_end(RunEnd::Exited(Some(1))), "QEMU exited 1");
    }
}
