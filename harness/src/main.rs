//! The `mapconform` command line. Each subcommand is a thin shell over the library.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mapconform::case::{load_library, Library};
use mapconform::outcome::RunReport;
use mapconform::{exec, report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mapconform", version, about = "Conformance suite for Linux eBPF maps across kernel versions")]
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
    /// Run cases and print what the kernel did.
    Run {
        /// Run on the kernel this command runs on (needs root or CAP_BPF).
        #[arg(long)]
        host: bool,
        /// Only cases whose id contains this text.
        filter: Option<String>,
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Yaml,
    Json,
}

fn main() -> ExitCode {
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

fn load(paths: &[PathBuf]) -> Result<Library> {
    let mut all = Library { cases: Vec::new(), broken: Vec::new() };
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

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check { paths } => {
            let paths = if paths.is_empty() { vec![default_cases()] } else { paths };
            let lib = load(&paths)?;
            print_broken(&lib);
            println!("{} cases valid, {} files with errors", lib.cases.len(), lib.broken.len());
            Ok(if lib.broken.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Run { host, filter, cases, format } => {
            if !host {
                bail!("say where to run: `--host` runs on this kernel");
            }
            let lib = load(&[cases.unwrap_or_else(default_cases)])?;
            print_broken(&lib);
            let selected: Vec<_> =
                lib.cases.into_iter().filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f))).collect();
            if selected.is_empty() {
                bail!("no case matches {:?}", filter.unwrap_or_default());
            }
            let run = exec::run_all(&selected).context("reading the kernel's CPU layout")?;
            match format {
                Format::Text => print!("{}", report::text(&run)),
                Format::Yaml => print!("{}", serde_saphyr::to_string(&run)?),
                Format::Json => println!("{}", serde_json::to_string_pretty(&run)?),
            }
            let failed = run.cases.iter().filter(|c| !c.passed()).count() + lib.broken.len();
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Guest { cases, out, filter } => {
            let lib = load(&[cases])?;
            let selected: Vec<_> =
                lib.cases.into_iter().filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f))).collect();
            let run: RunReport = exec::run_all(&selected)?;
            let json = serde_json::to_vec(&run)?;
            // Write then rename, so the host never reads half a report.
            let tmp = out.with_extension("partial");
            std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
