//! What `/proc` says about processes: the table of them (parent, group,
//! state, CPU time) and their memory figures.

/// One line of `/proc/<pid>/stat`.
#[derive(Debug)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub state: char,
    /// User and system CPU time, in clock ticks.
    pub ticks: u64,
    /// The same of its children that have ended and been waited for (a
    /// server's finished sessions).
    pub child_ticks: u64,
}

/// Every process on the machine.
pub fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| parse_stat(pid, &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?))
        .collect()
}

/// Parses `/proc/<pid>/stat`: the command name, in parentheses, may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(pid: u32, text: &str) -> Option<Proc> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some(Proc {
        pid,
        state: f.first()?.chars().next()?,
        ppid: u32::try_from(num(1)?).ok()?,
        pgrp: u32::try_from(num(2)?).ok()?,
        ticks: num(11)? + num(12)?,
        child_ticks: num(13)? + num(14)?,
    })
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.split_whitespace().next()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_are_parsed() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 1 0 5 1000 200";
        let p = parse_stat(42, line);
        assert_eq!(
            p.as_ref().map(|p| (p.ppid, p.pgrp, p.state, p.ticks, p.child_ticks)),
            Some((7, 42, 'S', 280, 0))
        );
        assert!(parse_stat(1, "garbage").is_none());
    }

    #[test]
    fn this_process_is_seen() {
        let me = std::process::id();
        assert!(processes().iter().any(|p| p.pid == me));
        assert!(status_kib(me, "VmHWM").is_some_and(|k| k > 0));
    }
}
