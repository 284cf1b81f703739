//! Driving the BlueZ stand-in (`bluez_standin.py`: a private system bus with
//! python-dbusmock's bluez5 template and GATT objects) from a test.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The Python that has python-dbusmock: `COHEALTH_TEST_BLUEZ_PYTHON`, else the
/// venv `scripts/test` prepares.
fn python() -> PathBuf {
    match std::env::var_os("COHEALTH_TEST_BLUEZ_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/bluez-standin-venv/bin/python3"
        )),
    }
}

/// A running stand-in; dropped, it stops its bus and mock.
pub struct BlueZ {
    /// `unix:path=…` of the private system bus.
    pub address: String,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl BlueZ {
    /// Starts the bus and the mock, with one adapter `hci0`; panics with what to
    /// do when the stand-in cannot start (never a silent skip).
    pub fn start() -> BlueZ {
        let python = python();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/bluez_standin.py");
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the BlueZ stand-in with {}: {e}. Run scripts/test (it installs \
                     dbus-daemon, python3-dbus, python3-gi and a venv with python-dbusmock) or set \
                     COHEALTH_TEST_BLUEZ_PYTHON",
                    python.display()
                )
            });
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        output.read_line(&mut ready).unwrap();
        let Some(address) = ready.trim().strip_prefix("ready ") else {
            let _ = child.kill();
            panic!("the BlueZ stand-in did not start (said {ready:?}); see its stderr above");
        };
        BlueZ {
            address: address.to_owned(),
            child,
            input,
            output,
        }
    }

    /// Sends one command; returns the value after `ok`, panics on `err`.
    pub fn send(&mut self, command: &str) -> String {
        writeln!(self.input, "{command}").unwrap();
        let mut answer = String::new();
        self.output.read_line(&mut answer).unwrap();
        match answer.trim().strip_prefix("ok") {
            Some(value) => value.trim().to_owned(),
            None => panic!("stand-in `{command}`: {answer:?}"),
        }
    }

    /// Whether the device is connected and has notifications switched on.
    pub fn subscribed(&mut self, mac: &str) -> bool {
        self.send(&format!("state {mac}")) == "connected=1 notifying=1"
    }
}

impl Drop for BlueZ {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.child.wait();
    }
}
