//! A private, throwaway PostgreSQL server for tests.
//!
//! Tests of the PostgreSQL store must not depend on a server someone set up beforehand, nor
//! share one with other test runs: each server here lives in its own temp dir, listens on a
//! free port, and is removed when the tests are done. Tests that simulate a crash can `kill`
//! and `restart` it without affecting anyone else.
//!
//! The file is included with `#[path = "..."] mod postgres;` by both the host crate's unit
//! tests and the end-to-end test crate, so it uses only `std` and `tempfile`.

// Each including crate uses only part of this API; the rest would warn there.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Binaries the harness runs; a directory is only used if it has all of them, so that a
/// client-only installation (psql without initdb) is skipped.
const REQUIRED_BINARIES: [&str; 5] = ["initdb", "pg_ctl", "postgres", "psql", "pg_isready"];

/// Where Debian installs each PostgreSQL major version side by side.
const DEBIAN_POSTGRESQL_DIR: &str = "/usr/lib/postgresql";

/// PostgreSQL refuses to run as root, so when tests run as root the server runs as the
/// account Debian's package creates for it.
const SERVER_ACCOUNT: &str = "postgres";

/// Generous enough for a loaded CI machine, short enough that a broken setup fails the test
/// instead of hanging it.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a start is retried when its port turns out to be taken by someone else.
const PORT_ATTEMPTS: u32 = 5;

/// Lines of the server log shown when it fails, enough to include the actual error.
const LOG_TAIL_LINES: usize = 40;

/// libpq settings from the environment that would send psql elsewhere or change the session.
const LIBPQ_ENVIRONMENT: [&str; 9] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSSLMODE",
];

/// A PostgreSQL server owned by the tests: its data lives in a temp dir that disappears with
/// it, so every run starts from an empty cluster.
pub struct PgServer {
    /// Holds the data directory, the unix socket and the log; removed when the server is dropped.
    dir: TempDir,
    /// Fixed for the server's life so that URLs handed out stay valid across `restart`.
    port: u16,
    /// Where initdb, pg_ctl, psql... come from, so every command uses the same version.
    bin_dir: PathBuf,
    /// True when we are root and must run PostgreSQL's binaries as `postgres`.
    run_as_server_account: bool,
}

impl PgServer {
    /// Starts a new server, so a test that needs a server of its own (to kill it, say) does not
    /// disturb the tests sharing `shared()`.
    ///
    /// The cluster uses trust authentication (tests connect without passwords) and keeps
    /// `fsync` on: tests kill and restart the server and expect committed data to survive.
    /// It listens on 127.0.0.1 at a free port, with its unix socket and log in its temp dir.
    /// Panics with the log's tail if it does not accept connections within 30 s.
    pub fn start() -> PgServer {
        let run_as_server_account = running_as_root();
        let mut server = PgServer {
            dir: make_temp_dir(run_as_server_account),
            port: 0,
            bin_dir: find_bin_dir(),
            run_as_server_account,
        };
        server.init_cluster();
        server.port = server.launch_on_free_port();
        // Drop stops the server when the test ends normally; the watchdog covers a test process
        // that is killed or exits without unwinding.
        server.spawn_watchdog();
        server
    }

    /// One server for every test of the process, so that each test pays for a database, not
    /// for a whole cluster.
    ///
    /// Statics are never dropped, so this server is stopped by a watchdog instead: a detached
    /// shell that polls this process's pid and, once it is gone, stops the server
    /// (`pg_ctl stop -m immediate`) and removes its temp dir, so no server outlives the tests.
    /// Tests that `kill` the server should use `start()` instead of sharing this one.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(PgServer::start)
    }

    /// A new, empty database, so that tests sharing a server never see each other's rows.
    /// Returns its URL, `postgres://postgres@127.0.0.1:<port>/<name>`.
    pub fn create_database(&self) -> String {
        static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);
        let number = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
        // The pid keeps names apart should several test processes ever use one server.
        let name = format!("wasmhook_test_{number}_{}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The port the server listens on, for tests that build their own connection settings.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`): no checkpoint,
    /// open connections cut. Returns once it is down; the data directory is kept for `restart`.
    /// Stopping a server that is already down does nothing.
    pub fn kill(&self) {
        let output = self.stop_immediately();
        if self.is_running() {
            panic!(
                "could not stop the test PostgreSQL server:\n{}\n{}",
                describe_output(&output),
                self.log_tail()
            );
        }
    }

    /// Starts the server again after `kill`, on the same port and data directory so that URLs
    /// handed out before stay valid; returns once it accepts connections again (crash recovery
    /// included). Retries for a few seconds if the port is briefly taken.
    pub fn restart(&self) {
        for attempt in 1..=PORT_ATTEMPTS {
            match self.launch(self.port) {
                Ok(()) => return,
                Err(LaunchError::PortInUse) if attempt < PORT_ATTEMPTS => {
                    thread::sleep(Duration::from_secs(1));
                }
                Err(error) => panic!("could not restart the test PostgreSQL server: {error}"),
            }
        }
    }

    /// Runs one SQL statement with psql on `database` (a name, or a URL from
    /// `create_database`) so tests can look at rows directly, without a client library.
    /// Returns psql's unaligned, tuples-only output (`psql -XAtq -c`) without the final
    /// newline; panics with psql's stderr when the statement or the connection fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = self
            .command("psql")
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-c", sql])
            .output()
            .expect("psql to run");
        if !output.status.success() {
            panic!(
                "psql failed on {database} running {sql:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim_end()
            );
        }
        let stdout = String::from_utf8(output.stdout).expect("psql output to be UTF-8");
        stdout.trim_end_matches('\n').to_owned()
    }

    /// Creates the cluster. `--no-sync` skips flushing the fresh cluster to disk (a crash of
    /// the machine during tests loses nothing of value); the C locale avoids depending on which
    /// locales the machine has.
    fn init_cluster(&self) {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
            .args(["--no-locale", "--no-sync"])
            .output()
            .expect("initdb to run");
        if !output.status.success() {
            panic!("initdb failed:\n{}", describe_output(&output));
        }
    }

    /// Starts the server on a port nobody uses; another process may grab the port between our
    /// probe and the server's bind, in which case another port is tried.
    fn launch_on_free_port(&self) -> u16 {
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match self.launch(port) {
                Ok(()) => return port,
                Err(LaunchError::PortInUse) => continue,
                Err(error) => panic!("could not start the test PostgreSQL server: {error}"),
            }
        }
        panic!("could not start the test PostgreSQL server: every port tried was taken");
    }

    /// Starts the server on `port` and waits until it accepts TCP connections, telling a taken
    /// port (worth retrying) from other failures (worth reporting).
    fn launch(&self, port: u16) -> Result<(), LaunchError> {
        let log_start = self.log_len();
        let output = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", &STARTUP_TIMEOUT.as_secs().to_string()])
            .arg("-o")
            .arg(self.server_options(port))
            .output()
            .expect("pg_ctl to run");
        if !output.status.success() {
            // Only this attempt's part of the log says why this attempt failed.
            if self.log_since(log_start).contains("Address already in use") {
                return Err(LaunchError::PortInUse);
            }
            return Err(LaunchError::Failed(format!(
                "pg_ctl start failed:\n{}\n{}",
                describe_output(&output),
                self.log_tail()
            )));
        }
        self.wait_until_accepting(port)
    }

    /// Options for the postgres process. pg_ctl hands them to a shell, hence the quotes around
    /// the socket directory.
    fn server_options(&self, port: u16) -> String {
        format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{}' \
             -c max_connections=200",
            self.dir.path().display()
        )
    }

    /// pg_ctl's own wait looks at the pid file; polling pg_isready over TCP checks what the
    /// tests will actually use.
    fn wait_until_accepting(&self, port: u16) -> Result<(), LaunchError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let status = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pg_isready to run");
            if status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LaunchError::Failed(format!(
                    "the server did not accept connections on port {port} within {} s\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Immediate mode is what a crash looks like to the data directory, and is also the
    /// quickest way to get rid of a server whose data is about to be deleted.
    fn stop_immediately(&self) -> Output {
        self.command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-m",
                "immediate",
                "-w",
                "-t",
                &STARTUP_TIMEOUT.as_secs().to_string(),
            ])
            .output()
            .expect("pg_ctl to run")
    }

    /// `pg_ctl status` exits with 0 only while a postmaster runs on the data directory.
    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("pg_ctl to run")
            .success()
    }

    /// Starts a watchdog that stops the server and removes its temp dir once this process is
    /// gone. It runs as the current user, not as `postgres`, because `kill -0` on a process of
    /// another user fails and would look like the test process had exited.
    fn spawn_watchdog(&self) {
        const SCRIPT: &str = r#"pid=$1; dir=$2; shift 2
(
    while kill -0 "$pid" 2>/dev/null; do sleep 1; done
    "$@"
    rm -rf "$dir"
) >/dev/null 2>&1 &"#;
        let stop = self.argv("pg_ctl").into_iter().chain([
            OsString::from("stop"),
            OsString::from("-D"),
            self.data_dir().into_os_string(),
            OsString::from("-m"),
            OsString::from("immediate"),
        ]);
        let dir = self.dir.path().as_os_str().to_owned();
        super::watchdog::start(
            "wasmhook-postgres-watchdog",
            SCRIPT,
            std::iter::once(dir).chain(stop),
        );
    }

    /// A command running one of PostgreSQL's binaries, as `postgres` when we are root. It runs
    /// in the temp dir because the `postgres` account may not be allowed into the tests'
    /// working directory, and without libpq settings from the environment that would send
    /// it elsewhere.
    fn command(&self, binary: &str) -> Command {
        let argv = self.argv(binary);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).current_dir(self.dir.path());
        for variable in LIBPQ_ENVIRONMENT {
            command.env_remove(variable);
        }
        command
    }

    /// The start of the command line running `binary`, shared by `command` and the watchdog.
    fn argv(&self, binary: &str) -> Vec<OsString> {
        let binary = self.bin_dir.join(binary).into_os_string();
        if self.run_as_server_account {
            ["runuser", "-u", SERVER_ACCOUNT, "--"]
                .into_iter()
                .map(OsString::from)
                .chain([binary])
                .collect()
        } else {
            vec![binary]
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Outside the data directory so that it survives a failed initdb and can be shown.
    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn log_len(&self) -> usize {
        fs::read(self.log_file()).map_or(0, |log| log.len())
    }

    fn log_since(&self, start: usize) -> String {
        let log = fs::read(self.log_file()).unwrap_or_default();
        String::from_utf8_lossy(log.get(start..).unwrap_or_default()).into_owned()
    }

    /// The end of the server log, which is where the reason for a failure is.
    fn log_tail(&self) -> String {
        let log = self.log_since(0);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!("--- tail of {} ---\n{tail}", self.log_file().display())
    }
}

impl Drop for PgServer {
    /// Stops the server so it does not outlive its test; errors are ignored because the server
    /// may already be down (after `kill`, or a failed start). The temp dir goes right after.
    fn drop(&mut self) {
        let _ = self.stop_immediately();
    }
}

/// Why a start failed: a taken port is worth retrying, anything else is reported.
enum LaunchError {
    PortInUse,
    Failed(String),
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::PortInUse => formatter.write_str("the port is already in use"),
            LaunchError::Failed(message) => formatter.write_str(message),
        }
    }
}

/// The newest PostgreSQL of the Debian layout, else the one on `PATH`, so that a machine with
/// several versions installed uses the same one every time.
fn find_bin_dir() -> PathBuf {
    newest_debian_bin_dir()
        .or_else(bin_dir_on_path)
        .unwrap_or_else(|| {
            panic!(
                "the tests need PostgreSQL's server binaries ({}), found neither in {}/<version>/bin \
                 nor on PATH: install Debian's postgresql package (apt-get install postgresql)",
                REQUIRED_BINARIES.join(", "),
                DEBIAN_POSTGRESQL_DIR
            )
        })
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    fs::read_dir(DEBIAN_POSTGRESQL_DIR)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().to_string_lossy())?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin_dir)| has_required_binaries(bin_dir))
        .max_by(|(left, _), (right, _)| left.cmp(right))
        .map(|(_, bin_dir)| bin_dir)
}

/// Compares "9.6" and "15" as versions, not as strings.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn bin_dir_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| has_required_binaries(dir))
}

fn has_required_binaries(dir: &Path) -> bool {
    REQUIRED_BINARIES
        .iter()
        .all(|binary| dir.join(binary).is_file())
}

/// Whether we are root, which PostgreSQL refuses to run as. Read without libc: from
/// `/proc/self/status`, else from `id -u`.
fn running_as_root() -> bool {
    effective_uid_from_proc()
        .or_else(effective_uid_from_id)
        .is_some_and(|uid| uid == 0)
}

/// The line reads `Uid: <real> <effective> <saved> <filesystem>`.
fn effective_uid_from_proc() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn effective_uid_from_id() -> Option<u32> {
    let output = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// A temp dir under `/tmp`, which every account can traverse (unlike `$TMPDIR`, which may be
/// private to root). When the server runs as `postgres`, that account must own the dir:
/// tempfile creates it mode 0700 for root, and initdb, the log and the socket all go inside.
fn make_temp_dir(run_as_server_account: bool) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("wasmhook-pg-")
        .tempdir_in("/tmp")
        .expect("a temp dir for PostgreSQL to be created under /tmp");
    if run_as_server_account {
        let owner = format!("{SERVER_ACCOUNT}:{SERVER_ACCOUNT}");
        let status = Command::new("chown")
            .args(["-R", &owner])
            .arg(dir.path())
            .status()
            .expect("chown to run");
        check_status(status, "chown of the PostgreSQL temp dir to postgres");
    }
    dir
}

fn check_status(status: ExitStatus, what: &str) {
    if !status.success() {
        panic!("{what} failed ({status})");
    }
}

/// A port that was free a moment ago: the OS picks it, we release it for the server.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a TCP port on 127.0.0.1 to be available")
        .local_addr()
        .expect("a bound listener to have an address")
        .port()
}

fn describe_output(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    )
}
