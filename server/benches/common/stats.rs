//! Figures about a process, read from `/proc` (Linux only, as the benches are).

use anyhow::{Context, Result};

/// Seconds of CPU (user + system) a process has used, all its threads together.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is the first, so utime and
    // stime (fields 14 and 15 of proc(5)) are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').context("unreadable /proc stat")?.1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ: 100 on every Linux the project runs on.
    Ok(ticks as f64 / 100.0)
}

/// The process's peak resident memory (VmHWM), in MiB.
pub fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

/// The machine's 1-minute load average: figures taken while something else runs say so.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(f64::NAN)
}
