//! Progress for people: one line per kernel that moves through fetching, booting, running
//! its cases and done (with its time and how it ended), drawn with indicatif when stderr is
//! a terminal. Anywhere else (CI logs, pipes, `2>file`) it is the plain lines of
//! [`events::print_events`], without the per-case chatter.
//!
//! It only consumes [`VmEvent`]s, the same ones every producer already sends.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::vm::events::{self, VmEvent};
use crate::vm::Outcome;

/// Shows `rx`'s events on stderr until every sender is gone. `kernels`: ids known in
/// advance, shown as waiting in this order (others get a line when they first appear).
/// `$MAPCONFORM_PROGRESS=plain` forces plain lines on a terminal too.
pub fn show_events(rx: Receiver<VmEvent>, kernels: &[String]) {
    let plain = std::env::var("MAPCONFORM_PROGRESS").is_ok_and(|v| v == "plain");
    if plain || !std::io::stderr().is_terminal() {
        return events::print_events(rx);
    }
    let mut bars = Bars::new(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    for id in kernels {
        let bar = bars.bar(id);
        bar.set_style(waiting());
        bar.set_message("waiting");
    }
    for ev in rx {
        bars.apply(&ev);
    }
    bars.finish();
}

/// The kernels' lines, by event id.
struct Bars {
    multi: MultiProgress,
    by_id: HashMap<String, ProgressBar>,
    width: usize,
}

fn spinner() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}")
        .expect("a valid template")
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

/// Not started: no spinner and no clock, nothing moves until it starts.
fn waiting() -> ProgressStyle {
    ProgressStyle::with_template("· {prefix:.bold} {msg:.dim}").expect("a valid template")
}

fn counter() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner:.cyan} {prefix:.bold} running [{bar:24.cyan/blue}] {pos}/{len} {msg} {elapsed:.dim}",
    )
    .expect("a valid template")
    .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
    .progress_chars("=> ")
}

fn finished() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {msg}").expect("a valid template")
}

impl Bars {
    fn new(multi: MultiProgress) -> Bars {
        Bars {
            multi,
            by_id: HashMap::new(),
            width: 6,
        }
    }

    /// `id`'s line, made on first use. Long ids (paths) are shortened to their last parts.
    fn bar(&mut self, id: &str) -> &ProgressBar {
        if !self.by_id.contains_key(id) {
            let bar = self.multi.add(ProgressBar::new_spinner().with_style(spinner()));
            let label = short_label(id);
            self.width = self.width.max(label.chars().count());
            bar.set_prefix(label);
            self.by_id.insert(id.to_string(), bar);
            // keep the columns aligned as longer labels arrive
            for (id, bar) in &self.by_id {
                bar.set_prefix(format!("{:<w$}", short_label(id), w = self.width));
            }
        }
        &self.by_id[id]
    }

    fn apply(&mut self, ev: &VmEvent) {
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
        match ev {
            VmEvent::Accel { .. } => {
                let _ = self.multi.println(events::describe(ev));
            }
            VmEvent::Resolving { id, suites } => {
                let bar = self.bar(id);
                bar.reset_elapsed();
                bar.set_style(spinner());
                bar.set_message(format!("resolving in {}", suites.join(", ")));
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            VmEvent::Fetching { id, packages } => {
                let bar = self.bar(id);
                bar.set_style(spinner());
                bar.set_message(format!("fetching {}", packages.join(" ")));
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            VmEvent::Fetched {
                id,
                version,
                download_bytes,
                wall,
                ..
            } => done(
                self.bar(id),
                true,
                format!(
                    "fetched {version}: {} in {:.1}s",
                    mb(*download_bytes),
                    wall.as_secs_f64()
                ),
            ),
            VmEvent::UpToDate { id, version } => done(self.bar(id), true, format!("up to date ({version})")),
            VmEvent::FetchFailed { id, error } => {
                done(self.bar(id), false, format!("fetch failed: {}", first_line(error)))
            }
            VmEvent::Booting { id } => {
                let bar = self.bar(id);
                bar.reset_elapsed();
                bar.set_style(spinner());
                bar.set_message("booting");
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            VmEvent::Running { id, done, total, case } => {
                let bar = self.bar(id);
                if bar.length() != Some(*total as u64) {
                    bar.set_style(counter());
                    bar.set_length(*total as u64);
                }
                bar.set_position(*done as u64);
                bar.set_message(case.clone());
            }
            VmEvent::Booted { id, wall, outcome } => {
                let bar = self.bar(id);
                let cases = match bar.length() {
                    Some(n) if *outcome == Outcome::Exited(0) => format!("{n} cases, "),
                    _ => String::new(),
                };
                let ok = *outcome == Outcome::Exited(0);
                done(bar, ok, format!("done in {:.1}s: {cases}{outcome}", wall.as_secs_f64()));
            }
            VmEvent::Retrying { id, why } => {
                let bar = self.bar(id);
                bar.reset_elapsed();
                bar.set_style(spinner());
                bar.set_length(0);
                bar.set_message(format!("{why} before any case ran: booting once more"));
            }
            VmEvent::Failed { id, error } => done(self.bar(id), false, format!("failed: {}", first_line(error))),
        }
    }

    /// Lines still spinning when the events end (a kernel that never ran) stop where they are.
    fn finish(self) {
        for bar in self.by_id.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

fn done(bar: &ProgressBar, ok: bool, message: String) {
    bar.set_style(finished());
    bar.finish_with_message(format!("{} {message}", if ok { "✓" } else { "✗" }));
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A kernel id as a line's label: matrix ids as they are, paths by their last two parts
/// (`boot/bzImage`, `7.3/vmlinux`).
fn short_label(id: &str) -> String {
    let parts: Vec<&str> = id.trim_end_matches('/').rsplit('/').take(2).collect();
    if parts.len() < 2 || !id.contains('/') {
        return id.to_string();
    }
    format!("…/{}/{}", parts[1], parts[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::Accel;

    /// Every event, in the order a fetch-then-boot produces them, through a hidden draw
    /// target: each line ends finished with its outcome.
    #[test]
    fn lines_end_with_time_and_outcome() {
        let mut bars = Bars::new(MultiProgress::with_draw_target(ProgressDrawTarget::hidden()));
        let evs = [
            VmEvent::Accel {
                accel: Accel::Tcg,
                reason: "set by $MAPCONFORM_ACCEL".into(),
            },
            VmEvent::Resolving {
                id: "6.12".into(),
                suites: vec!["trixie".into()],
            },
            VmEvent::Fetching {
                id: "6.12".into(),
                packages: vec!["linux-image-amd64".into()],
            },
            VmEvent::UpToDate {
                id: "6.12".into(),
                version: "6.12.117-1".into(),
            },
            VmEvent::Booting { id: "6.12".into() },
            VmEvent::Running {
                id: "6.12".into(),
                done: 0,
                total: 2,
                case: "hash/freeze".into(),
            },
            VmEvent::Running {
                id: "6.12".into(),
                done: 2,
                total: 2,
                case: String::new(),
            },
            VmEvent::Booted {
                id: "6.12".into(),
                wall: Duration::from_millis(16_400),
                outcome: Outcome::Exited(0),
            },
            VmEvent::Booting {
                id: "/src/linux/arch/x86/boot/bzImage".into(),
            },
            VmEvent::Booted {
                id: "/src/linux/arch/x86/boot/bzImage".into(),
                wall: Duration::from_secs(420),
                outcome: Outcome::TimedOut,
            },
        ];
        for ev in &evs {
            bars.apply(ev);
        }
        let ok = &bars.by_id["6.12"];
        assert!(ok.is_finished());
        assert_eq!(ok.message(), "✓ done in 16.4s: 2 cases, exited 0");
        let slow = &bars.by_id["/src/linux/arch/x86/boot/bzImage"];
        assert_eq!(slow.message(), "✗ done in 420.0s: timed out");
        assert_eq!(slow.prefix().trim_end(), "…/boot/bzImage");
        let width = |b: &ProgressBar| b.prefix().chars().count();
        assert_eq!(width(ok), width(slow), "labels are padded to one width");
    }

    #[test]
    fn labels() {
        assert_eq!(short_label("6.12"), "6.12");
        assert_eq!(
            short_label("/root/.cache/mapconform/kernels/7.3/vmlinux"),
            "…/7.3/vmlinux"
        );
    }
}
