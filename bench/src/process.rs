//! What a child process costs, read from `/proc`: CPU time, resident memory and bytes written
//! to storage.

use std::time::Duration;

/// User plus system CPU time of process `pid` so far.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; the fields after its `)` are plain.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

/// `getconf CLK_TCK`, 100 on Linux unless configured otherwise.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A `Vm*` line of `/proc/<pid>/status`, in KiB: `VmHWM` is the peak resident set, `VmRSS`
/// the current one.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

/// Starts the peak resident set (`VmHWM`) of `pid` over from its current size, so that the
/// next reading is the peak since now (Linux 4.0 and later); false where the kernel refused.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The CPU a process used between two points of a run.
pub struct CpuMeter {
    pid: u32,
    start: Duration,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            start: cpu_time(pid),
        }
    }

    pub fn used(&self) -> Duration {
        cpu_time(self.pid).saturating_sub(self.start)
    }
}

/// Bytes process `pid` (all its threads) caused to be sent to storage so far: `write_bytes`
/// of `/proc/<pid>/io`, counted as pages are dirtied, so a page dirtied again after it was
/// written out counts again, as it is written again.
pub fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|line| line.strip_prefix("write_bytes:")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes written to the block device holding `path` so far, by every process (sectors
/// written, `/proc/diskstats`), after `syncfs` has sent what the page cache holds of its file
/// system; none where that device is not listed (a file system in memory, a container's
/// overlay).
pub fn device_bytes_written(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let _ = std::process::Command::new("sync")
        .arg("-f")
        .arg(path)
        .status();
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    stats.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let numbers = (
            fields.first()?.parse::<u64>().ok()?,
            fields.get(1)?.parse::<u64>().ok()?,
        );
        // Field 10 of a line (the 7th after the name): sectors written, of 512 bytes each.
        (numbers == (major, minor)).then(|| fields.get(9)?.parse::<u64>().ok().map(|s| s * 512))?
    })
}

/// What a server cost between two points of a run: its CPU, the bytes it wrote, and the bytes
/// that reached the device its data directory is on.
pub struct Meter {
    cpu: CpuMeter,
    written: u64,
    data_dir: std::path::PathBuf,
    device: Option<u64>,
}

/// [`Meter`]'s reading.
pub struct Cost {
    pub cpu: Duration,
    pub written: u64,
    pub device: Option<u64>,
}

impl Meter {
    pub fn start(pid: u32, data_dir: &std::path::Path) -> Meter {
        Meter {
            cpu: CpuMeter::start(pid),
            written: write_bytes(pid),
            data_dir: data_dir.to_owned(),
            device: device_bytes_written(data_dir),
        }
    }

    pub fn read(&self) -> Cost {
        Cost {
            cpu: self.cpu.used(),
            written: write_bytes(self.cpu.pid).saturating_sub(self.written),
            device: device_bytes_written(&self.data_dir)
                .zip(self.device)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }
}
