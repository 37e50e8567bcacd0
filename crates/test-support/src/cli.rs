//! Running the `customs` binary in tests: its exit code, its report on stdout, its stderr.

use std::process::Output;

use serde_json::Value;

/// What one run of the binary gave.
pub struct CliRun {
    /// The exit code.
    pub code: i32,
    /// Standard output: the report, one JSON object per line with `--format json`.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRun {
    /// Reads a finished run. Fails the test when the binary panicked, was killed by a
    /// signal, or wrote anything but UTF-8 to stdout.
    pub fn from_output(out: Output) -> CliRun {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "customs panicked: {stderr}");
        CliRun {
            code: out.status.code().expect("customs exits normally"),
            stdout: String::from_utf8(out.stdout).expect("the report is UTF-8"),
            stderr,
        }
    }

    /// Every JSON report line; a line that is not JSON fails the test.
    pub fn reports(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect()
    }

    /// The one report of a run over one image (fails the test otherwise).
    pub fn report(&self) -> Value {
        let mut r = self.reports();
        assert_eq!(r.len(), 1, "{}", self.stdout);
        r.remove(0)
    }
}
