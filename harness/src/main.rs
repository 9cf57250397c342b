//! The `mapconform` command line. Each subcommand is a thin shell over the library.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mapconform::case::{load_library, Library};
use mapconform::kernels::{self, Cache};
use mapconform::matrix::{self, KernelRun, Options, Target};
use mapconform::outcome::RunReport;
use mapconform::{exec, report, vm};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mapconform",
    version,
    about = "Conformance suite for Linux eBPF maps across kernel versions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate case files without running them.
    Check {
        /// Case files or folders (default: the repository's `cases/`).
        paths: Vec<PathBuf>,
    },
    /// Run cases on this kernel (`--host`) or in VMs (`--kernel`, `--matrix`) and print
    /// what each kernel did.
    Run {
        /// Run on the kernel this command runs on (needs root or CAP_BPF).
        #[arg(long, conflicts_with_all = ["kernel", "matrix"])]
        host: bool,
        /// Boot these kernels: matrix ids (from the cache) or paths to a bzImage, vmlinux or
        /// built kernel tree. Comma separated or repeated.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
        /// Boot every kernel of the matrix and print a cases × kernels summary.
        #[arg(long)]
        matrix: bool,
        /// Compare each kernel's results with the committed snapshots of this matrix kernel
        /// (default for matrix kernels: their own snapshots).
        #[arg(long)]
        compare_to: Option<String>,
        /// Only cases whose id contains this text.
        filter: Option<String>,
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// kvm or tcg (default: use KVM only where it really works).
        #[arg(long)]
        accel: Option<vm::Accel>,
        /// Boots at once (default: host CPUs / 2 guest vCPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Seconds before a VM is killed.
        #[arg(long)]
        deadline: Option<u64>,
    },
    /// Print the coverage table: cases per map type and operation (Markdown or JSON).
    Coverage {
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = CoverageFormat::Markdown)]
        format: CoverageFormat,
    },
    /// The kernel matrix and the kernel cache.
    Kernels {
        #[command(subcommand)]
        command: KernelsCommand,
    },
    /// Boot kernels and run an arbitrary command in each (debugging).
    Vm {
        /// Kernel id(s) (comma separated) or path(s).
        #[arg(value_delimiter = ',', required = true)]
        kernels: Vec<String>,
        #[arg(long)]
        accel: Option<vm::Accel>,
        #[arg(long, default_value_t = 300)]
        deadline: u64,
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Results directory (shared with the guest as $MAPCONFORM_RWDIR).
        #[arg(long, default_value = "target/vm-results")]
        rwdir: PathBuf,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Inside a guest: run cases and write the JSON run report (the runner contract).
    #[command(hide = true)]
    Guest {
        #[arg(long)]
        cases: PathBuf,
        #[arg(long)]
        out: PathBuf,
        filter: Option<String>,
    },
}

#[derive(Subcommand)]
enum KernelsCommand {
    /// Download matrix kernels (all, or the given ids) into the cache.
    Fetch {
        ids: Vec<String>,
        /// Fetch again even if the cached version is current.
        #[arg(long)]
        force: bool,
    },
    /// Show the cached kernels.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum CoverageFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Yaml,
    Json,
}

fn main() -> ExitCode {
    vm::install_interrupt_handler();
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mapconform: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The repository's `cases/` folder: `./cases` when run from the repository, else the one
/// next to the sources this binary was built from.
fn default_cases() -> PathBuf {
    let here = PathBuf::from("cases");
    if here.is_dir() {
        return here;
    }
    kernels::repo_root().join("cases")
}

fn load(paths: &[PathBuf]) -> Result<Library> {
    let mut all = Library {
        cases: Vec::new(),
        broken: Vec::new(),
    };
    for path in paths {
        let lib = load_library(path).with_context(|| format!("reading {}", path.display()))?;
        all.cases.extend(lib.cases);
        all.broken.extend(lib.broken);
    }
    Ok(all)
}

fn print_broken(lib: &Library) {
    for (_, errors) in &lib.broken {
        for e in errors {
            println!("error: {e}");
        }
    }
}

fn selected(lib: Library, filter: &Option<String>) -> Vec<mapconform::case::Case> {
    lib.cases
        .into_iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f)))
        .collect()
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check { paths } => {
            let paths = if paths.is_empty() { vec![default_cases()] } else { paths };
            let lib = load(&paths)?;
            print_broken(&lib);
            println!(
                "{} cases valid, {} files with errors",
                lib.cases.len(),
                lib.broken.len()
            );
            Ok(if lib.broken.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run {
            host: true,
            filter,
            cases,
            format,
            ..
        } => {
            let lib = load(&[cases.unwrap_or_else(default_cases)])?;
            print_broken(&lib);
            let broken = lib.broken.len();
            let cases = selected(lib, &filter);
            if cases.is_empty() {
                bail!("no case matches {:?}", filter.unwrap_or_default());
            }
            let run = exec::run_all(&cases).context("reading the kernel's CPU layout")?;
            print_run(&run, format)?;
            let failed = run.cases.iter().filter(|c| !c.passed()).count() + broken;
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run {
            kernel,
            matrix: all,
            compare_to,
            filter,
            cases,
            format,
            accel,
            jobs,
            deadline,
            ..
        } => {
            if kernel.is_empty() && !all {
                bail!("say where to run: `--host`, `--kernel ID|PATH` or `--matrix`");
            }
            let cases_dir = cases.unwrap_or_else(default_cases);
            let lib = load(std::slice::from_ref(&cases_dir))?;
            print_broken(&lib);
            let targets = if all {
                matrix::targets()?
            } else {
                resolve_targets(&kernel)?
            };
            let mut opts = Options::new(std::env::current_exe()?, cases_dir);
            opts.accel = accel;
            opts.jobs = jobs.unwrap_or(opts.jobs);
            opts.deadline = deadline.map(Duration::from_secs).or(opts.deadline);
            let runs = boot_all(&targets, &opts);
            let snapshots = kernels::repo_root().join("snapshots");
            let mut failed = lib.broken.len();
            for (id, run) in &runs {
                match run {
                    Ok(run) => {
                        let mut run = run.clone();
                        run.report
                            .cases
                            .retain(|c| filter.as_ref().is_none_or(|f| c.case.contains(f)));
                        if !all {
                            print_run(&run.report, format)?;
                        }
                        let baseline = compare_to.clone().unwrap_or_else(|| id.clone());
                        let diffs = report::compare(&run.report, &snapshots, &baseline);
                        failed += run.report.cases.iter().filter(|c| !c.passed()).count();
                        if compare_to.is_some() || all {
                            failed += diffs.iter().filter(|d| d.differs()).count();
                            print!("{}", report::comparison_text(id, &baseline, &diffs));
                        }
                    }
                    Err(why) => {
                        failed += 1;
                        println!("{id}: did not run:\n{why}");
                    }
                }
            }
            if all {
                print!("{}", report::matrix_table(&runs, &snapshots));
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Coverage { cases, format } => {
            let lib = load(&[cases.unwrap_or_else(default_cases)])?;
            print_broken(&lib);
            match format {
                CoverageFormat::Markdown => print!("{}", mapconform::coverage::markdown(&lib.cases)),
                CoverageFormat::Json => print!("{}", mapconform::coverage::json(&lib.cases)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Kernels {
            command: KernelsCommand::Fetch { ids, force },
        } => {
            kernels::cli::fetch(&ids, force)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kernels {
            command: KernelsCommand::List,
        } => {
            kernels::cli::list()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Vm {
            kernels,
            accel,
            deadline,
            jobs,
            rwdir,
            command,
        } => {
            kernels::cli::boot(&kernels::cli::BootArgs {
                kernels,
                accel,
                cpus: vm::DEFAULT_CPUS,
                memory_mb: vm::DEFAULT_MEMORY_MB,
                deadline: Duration::from_secs(deadline),
                jobs: jobs.unwrap_or_else(|| vm::default_jobs(vm::DEFAULT_CPUS)),
                rwdir: std::path::absolute(rwdir)?,
                command,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Guest { cases, out, filter } => {
            // bpffs is not mounted in a vng guest: pins and program binding need it.
            mapconform::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
            let lib = load(&[cases])?;
            let run: RunReport = exec::run_all(&selected(lib, &filter))?;
            let json = serde_json::to_vec(&run)?;
            // Write then rename, so the host never reads half a report.
            let tmp = out.with_extension("partial");
            std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--kernel` specs: cached matrix ids or paths.
fn resolve_targets(specs: &[String]) -> Result<Vec<Target>> {
    let cache = Cache::from_env()?;
    Ok(specs
        .iter()
        .map(|spec| Target {
            id: spec.clone(),
            kernel: cache.resolve(spec).map_err(|e| format!("{e:#}")),
        })
        .collect())
}

/// Boot every target (progress on stderr), results in target order.
fn boot_all(targets: &[Target], opts: &Options) -> Vec<(String, Result<KernelRun, String>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let printer = std::thread::spawn(move || vm::events::print_events(rx));
    let results = Mutex::new(Vec::new());
    matrix::run_many(targets, opts, Some(&tx), |id, run| {
        results.lock().unwrap().push((id.to_string(), run))
    });
    drop(tx);
    let _ = printer.join();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(id, _)| targets.iter().position(|t| &t.id == id));
    results
}

fn print_run(run: &RunReport, format: Format) -> Result<()> {
    match format {
        Format::Text => print!("{}", report::text(run)),
        Format::Yaml => print!("{}", serde_saphyr::to_string(run)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(run)?),
    }
    Ok(())
}
