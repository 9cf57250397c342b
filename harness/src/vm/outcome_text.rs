//! How a boot ended, in the words users read (events, `vm`, `run`): "exited 0", "timed
//! out", "kernel panic: …" — never Rust's `Debug` text.

use std::fmt;

use super::Outcome;

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let vng = |status: &Option<i32>| match status {
            Some(code) => format!("vng exited {code}"),
            // killed, or gone before its status was read
            None => "vng gave no exit status".to_string(),
        };
        match self {
            Outcome::Exited(code) => write!(f, "exited {code}"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::KernelPanic(line) if line.is_empty() => f.write_str("kernel panic"),
            Outcome::KernelPanic(line) => write!(f, "kernel panic: {line}"),
            Outcome::NeverStarted { vng_status } => write!(f, "never started ({})", vng(vng_status)),
            Outcome::NoExitStatus { vng_status } => {
                write!(f, "the command left no exit status ({})", vng(vng_status))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_plain_words() {
        let cases = [
            (Outcome::Exited(0), "exited 0"),
            (Outcome::Exited(3), "exited 3"),
            (Outcome::TimedOut, "timed out"),
            (
                Outcome::KernelPanic("Kernel panic - not syncing: sysrq triggered crash".into()),
                "kernel panic: Kernel panic - not syncing: sysrq triggered crash",
            ),
            (
                Outcome::NeverStarted { vng_status: Some(1) },
                "never started (vng exited 1)",
            ),
            (
                Outcome::NoExitStatus { vng_status: None },
                "the command left no exit status (vng gave no exit status)",
            ),
        ];
        for (outcome, text) in cases {
            assert_eq!(outcome.to_string(), text);
        }
    }
}
