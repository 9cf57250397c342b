//! `mapconform shell KERNEL [CASE]`: an interactive root shell in a VM of KERNEL with the
//! case's maps created and pinned under `/sys/fs/bpf/mapconform/<map>`, to poke at them
//! with `bpftool`.
//!
//! vng runs a command (`--exec`) only without a terminal, so the shell is vng's own console
//! session (no `--exec`, stdin and stdout inherited) whose login shell (`--shell`) is a
//! small script in the shared rwdir: it runs `mapconform pin-maps` (the guest half, below),
//! then execs bash. The guest sees the host's root — bash, bpftool, this binary and the
//! case file are where they are on the host — not the minimal root the matrix boots with.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::case::{Case, Op, Step};
use crate::kernels::Kernel;
use crate::outcome::Outcome;
use crate::vm::{self, Accel, BootRequest};

/// Where `shell` pins the case's maps in the guest.
pub const PIN_DIR: &str = "/sys/fs/bpf/mapconform";

/// The guest half (`mapconform pin-maps`): mounts bpffs, creates `case`'s maps with the
/// executor exactly as `run` does (after running the case's own steps with
/// `after_steps`), pins each at `dir/<map name>` and returns one line per map. The pins
/// keep the maps alive after this process exits.
pub fn pin_maps(case: &Case, dir: &Path, after_steps: bool) -> Result<Vec<String>> {
    crate::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for map in &case.maps {
        // a pin from an earlier call would make this one fail with EEXIST
        let _ = std::fs::remove_file(dir.join(&map.name));
    }
    let pins = (0..case.maps.len()).map(|map| {
        let path = dir.join(&case.maps[map].name).display().to_string();
        Step::new(Op::Pin { map, path }, None, 0, &case.maps)
    });
    // The executor creates every map no `create` step names, then runs the steps: pins
    // are steps like any other, so this is `run`'s own map creation (and the executor
    // leaves these pins in place, unlike a case's).
    let steps = match after_steps {
        true => case.steps.iter().cloned().chain(pins).collect(),
        false => pins.collect(),
    };
    let case = Case { steps, ..case.clone() };
    let env = crate::exec::Env::detect().context("reading the kernel's CPU layout")?;
    let result = crate::exec::run_case_keeping_pins(&case, env);
    // the pins are the last steps, one per map in declaration order
    let pinned = &result.steps[result.steps.len() - case.maps.len()..];
    let mut lines = Vec::new();
    for (def, step) in case.maps.iter().zip(pinned) {
        let kind = def.map_type;
        lines.push(match &step.result {
            Outcome::Ok => format!("{}: {kind} map pinned at {}", def.name, dir.join(&def.name).display()),
            // a map whose creation failed is not pinned: the reason is the creation's answer
            Outcome::NotRun(why) => format!("{}: {kind} map not pinned: {why}", def.name),
            other => format!("{}: {kind} map not pinned: {other}", def.name),
        });
    }
    Ok(lines)
}

/// What `shell` boots.
#[derive(Debug, Clone)]
pub struct ShellRequest {
    pub kernel: Kernel,
    /// The case file whose maps to pin (absolute host path; the guest sees the same).
    pub case: Option<PathBuf>,
    pub after_steps: bool,
    pub accel: Accel,
    /// This binary (the guest runs it from the host's root).
    pub exe: PathBuf,
}

/// Boots `req` with the terminal attached and returns when the guest powers off (`exit`).
pub fn run(req: &ShellRequest) -> Result<std::process::ExitStatus> {
    let vng = vm::vng_path()?;
    let rwdir = tempfile::Builder::new().prefix("mapconform-shell-").tempdir()?;
    let script = rwdir.path().join("login");
    std::fs::write(&script, login_script(req, rwdir.path()))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let args = shell_vng_args(req, rwdir.path(), &script);
    // vng starts `virtme-run` through PATH: vng's own bin dir first (as vm::boot does)
    let mut path = vec![vng.parent().unwrap_or(Path::new("/")).to_path_buf()];
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let status = std::process::Command::new(&vng)
        .args(&args)
        .env("PATH", std::env::join_paths(path)?)
        .current_dir("/")
        .status()
        .with_context(|| format!("running {}", vng.display()))?;
    Ok(status)
}

/// The boot flags of every mapconform boot ([`vm::vng_args`]: CPUs, memory, TCG CPU model,
/// 9p), but a console session: no `--exec`, no kernel messages (`--verbose`) over the
/// prompt, and the login shell that pins the maps.
fn shell_vng_args(req: &ShellRequest, rwdir: &Path, script: &Path) -> Vec<String> {
    let boot = BootRequest::new(req.kernel.clone(), vec![], rwdir.to_path_buf());
    let mut args = vm::vng_args(&boot, req.accel);
    if let Some(at) = args.iter().rposition(|a| a == "--exec") {
        args.truncate(at);
    }
    args.retain(|a| a != "--verbose");
    args.extend(["--shell".into(), script.display().to_string()]);
    args
}

/// The guest's login shell: pin the maps, say where they are, become bash.
fn login_script(req: &ShellRequest, rwdir: &Path) -> String {
    let q = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
    let mut pin = format!("{} pin-maps --dir {PIN_DIR}", q(&req.exe));
    if let Some(case) = &req.case {
        pin.push_str(&format!(" --case {}", q(case)));
    }
    if req.after_steps {
        pin.push_str(" --after-steps");
    }
    let about = match &req.case {
        Some(case) => format!("maps of {} under {PIN_DIR}", case.display()),
        None => "bpffs at /sys/fs/bpf".into(),
    };
    format!(
        "#!/bin/sh\n\
         # mapconform shell: the guest's login shell (see harness/src/shell.rs)\n\
         export MAPCONFORM_RWDIR={rw}\n\
         {pin}\n\
         echo 'mapconform shell on '\"$(uname -r)\"': {about}; try: bpftool map show; exit powers off'\n\
         exec bash -i\n",
        rw = q(rwdir),
    )
}

/// A case argument: a case id (`hash/freeze`, below `cases`) or a path to a case file.
pub fn case_file(spec: &str, cases: &Path) -> Result<PathBuf> {
    let as_path = Path::new(spec);
    let file = if as_path.is_file() {
        as_path.to_path_buf()
    } else {
        cases.join(format!("{}.yaml", spec.trim_end_matches(".yaml")))
    };
    if !file.is_file() {
        bail!("no case {spec:?}: neither a file nor {}", file.display());
    }
    Ok(std::path::absolute(file)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ShellRequest {
        ShellRequest {
            kernel: Kernel {
                id: "6.12".into(),
                release: None,
                version: None,
                boot_image: "/c/kernels/6.12/vmlinux".into(),
                modules: None,
            },
            case: Some("/repo/cases/hash/freeze.yaml".into()),
            after_steps: false,
            accel: Accel::Tcg,
            exe: "/repo/target/debug/mapconform".into(),
        }
    }

    #[test]
    fn a_console_session_whose_login_shell_pins_the_maps() {
        let req = request();
        let args = shell_vng_args(&req, Path::new("/tmp/rw"), Path::new("/tmp/rw/login"));
        assert!(!args.iter().any(|a| a == "--exec" || a == "--verbose"), "{args:?}");
        assert_eq!(args[args.len() - 2..], ["--shell", "/tmp/rw/login"]);
        assert!(
            args.iter().any(|a| a == "--disable-kvm"),
            "the TCG flags stay: {args:?}"
        );
        assert!(
            !args.iter().any(|a| a == "--root"),
            "the host's root: bash and bpftool are there"
        );
        let script = login_script(&req, Path::new("/tmp/rw"));
        assert!(script.contains(
            "\n/repo/target/debug/mapconform pin-maps --dir /sys/fs/bpf/mapconform --case /repo/cases/hash/freeze.yaml\n"
        ));
        assert!(script.ends_with("exec bash -i\n"));
    }

    #[test]
    fn cases_by_id_or_path() {
        let cases = crate::kernels::repo_root().join("cases");
        assert_eq!(
            case_file("hash/freeze", &cases).unwrap(),
            cases.join("hash/freeze.yaml")
        );
        let err = case_file("hash/nope", &cases).unwrap_err().to_string();
        assert!(err.contains("hash/nope"), "{err}");
    }
}
