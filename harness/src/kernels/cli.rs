//! Command logic behind `mapconform kernels …` and `mapconform vm …` (the clap wiring
//! lives in main.rs).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Result};

use super::{Cache, FetchStatus, Matrix};
use crate::vm;

/// `kernels fetch [IDS] [--force]`: fetches, prints progress; fails if any id failed.
pub fn fetch(ids: &[String], force: bool) -> Result<()> {
    let cache = Cache::from_env()?;
    let matrix = Matrix::load(&Matrix::default_path())?;
    let (tx, rx) = mpsc::channel();
    let shown = match ids.is_empty() {
        true => (matrix.kernels.iter().filter(|k| k.path.is_none()))
            .map(|k| k.id.clone())
            .collect(),
        false => ids.to_vec(),
    };
    let printer = std::thread::spawn(move || crate::ui::show_events(rx, &shown));
    let res = super::fetch(&cache, &matrix, ids, force, Some(&tx));
    drop(tx);
    let _ = printer.join();
    let failed: Vec<_> = res?
        .into_iter()
        .filter_map(|(id, s)| matches!(s, FetchStatus::Failed(_)).then_some(id))
        .collect();
    if !failed.is_empty() {
        bail!("could not fetch kernel(s): {}", failed.join(", "));
    }
    Ok(())
}

/// `kernels list`: a table of the cached kernels.
pub fn list() -> Result<()> {
    let cache = Cache::from_env()?;
    let ks = cache.list()?;
    println!("cache: {}", cache.root.display());
    if ks.is_empty() {
        println!("no kernels cached (run `mapconform kernels fetch`)");
        return Ok(());
    }
    println!("{:<6} {:<26} {:<20} {:>9}", "ID", "RELEASE", "DEBIAN VERSION", "SIZE");
    for k in ks {
        println!(
            "{:<6} {:<26} {:<20} {:>6.1} MB",
            k.record.id,
            k.record.release,
            k.record.meta.version,
            k.size as f64 / 1e6
        );
    }
    Ok(())
}

/// Options of `vm`.
#[derive(Debug, Clone)]
pub struct BootArgs {
    /// Matrix ids or kernel paths.
    pub kernels: Vec<String>,
    pub accel: Option<vm::Accel>,
    pub cpus: u32,
    pub memory_mb: u32,
    pub deadline: Duration,
    pub jobs: usize,
    /// Host results dir; each kernel gets `<rwdir>/<index>-<id>/`.
    pub rwdir: PathBuf,
    pub command: Vec<String>,
    /// Boot on the minimal root ([`vm::root`]) that case runs use, instead of the host's.
    pub minimal_root: bool,
}

/// `vm KERNEL… -- CMD…`: boots each kernel, prints outcome and console excerpt.
pub fn boot(args: &BootArgs) -> Result<()> {
    let cache = Cache::from_env()?;
    let (tx, rx) = mpsc::channel();
    // The minimal root is shared by every kernel: prepared once.
    let exe = std::env::current_exe()?;
    let root = match args.minimal_root {
        true => Some(vm::root::prepare(&cache.root.join(vm::root::CACHE_DIR), &exe)?),
        false => None,
    };
    let mut reqs = Vec::new();
    for (i, spec) in args.kernels.iter().enumerate() {
        let kernel = cache.resolve(spec)?;
        let tag: String = kernel
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
            .collect();
        let mut r = vm::BootRequest::new(kernel, args.command.clone(), args.rwdir.join(format!("{i}-{tag}")));
        r.cpus = args.cpus;
        r.memory_mb = args.memory_mb;
        r.deadline = args.deadline;
        r.accel = args.accel;
        if let Some(root) = &root {
            vm::root::attach(&mut r, root, &exe)?;
        }
        reqs.push(r);
    }
    let ids = reqs.iter().map(|r| r.kernel.id.clone()).collect::<Vec<_>>();
    let printer = std::thread::spawn(move || crate::ui::show_events(rx, &ids));
    if let Some(first) = reqs.first() {
        let accel = vm::choose_accel(args.accel, &first.kernel, Some(&tx));
        reqs.iter_mut().for_each(|r| r.accel = Some(accel));
    }
    let reports = vm::boot_many(&reqs, args.jobs, Some(&tx));
    drop(tx);
    let _ = printer.join();
    let mut bad = 0;
    for (req, rep) in reqs.iter().zip(reports) {
        match rep {
            Ok(rep) => {
                println!(
                    "== {} ({}): {} in {:.1}s; results in {}",
                    rep.id,
                    rep.accel,
                    rep.outcome,
                    rep.wall.as_secs_f64(),
                    req.rwdir.display()
                );
                if std::env::var_os("MAPCONFORM_SHOW_CMD").is_some() {
                    println!("   {}", vm::shell_join(&rep.command_line));
                }
                if rep.outcome != vm::Outcome::Exited(0) {
                    bad += 1;
                    println!("{}", rep.excerpt());
                }
            }
            Err(e) => {
                bad += 1;
                println!("== {}: error: {e:#}", req.kernel.id);
            }
        }
    }
    if bad > 0 {
        bail!("{bad} boot(s) did not exit 0");
    }
    Ok(())
}
