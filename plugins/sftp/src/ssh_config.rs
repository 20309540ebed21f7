//! The part of OpenSSH's client configuration (`~/.ssh/config`) a store
//! uses: `Host` blocks with their patterns, and `HostName`, `User`, `Port`,
//! `IdentityFile`, `IdentitiesOnly`, `UserKnownHostsFile` and
//! `StrictHostKeyChecking`. As in OpenSSH, the first value found for a key
//! wins (so specific `Host` blocks go first and `Host *` last), except
//! `IdentityFile`, whose values add up. `Match` blocks are skipped (their
//! conditions are not evaluated), as are keys this store has no use for.

use std::path::{Path, PathBuf};

/// What the configuration says about one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<String>,
    pub identity_files: Vec<String>,
    pub identities_only: Option<bool>,
    pub known_hosts: Option<String>,
    pub strict_host_key_checking: Option<String>,
}

/// Whether `host` matches one `Host` pattern (`*` and `?` wildcards).
fn glob(pattern: &str, host: &str) -> bool {
    let (p, h): (Vec<char>, Vec<char>) = (pattern.chars().collect(), host.chars().collect());
    // Iterative matching with backtracking to the last `*`.
    let (mut pi, mut hi, mut star, mut mark) = (0, 0, None, 0);
    while hi < h.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&h[hi])) {
            pi += 1;
            hi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = hi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            hi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a `Host` line's patterns select `host`: one positive pattern
/// matches and no negated one (`!pattern`) does.
fn host_matches(patterns: &[&str], host: &str) -> bool {
    let mut any = false;
    for pat in patterns {
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(pat, host) {
            any = true;
        }
    }
    any
}

/// Splits a line into its keyword and arguments (`Key value`, `Key=value`,
/// double-quoted arguments).
fn split(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let mut args = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    args.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(cur);
    }
    Some((key.to_ascii_lowercase(), args))
}

/// Looks `host` (as written in the URI) up in the configuration `text`.
pub fn lookup(text: &str, host: &str) -> HostConfig {
    let mut out = HostConfig::default();
    // Lines before the first `Host` apply to every host.
    let mut active = true;
    for line in text.lines() {
        let Some((key, args)) = split(line) else { continue };
        match key.as_str() {
            "host" => {
                let pats: Vec<&str> = args.iter().map(String::as_str).collect();
                active = host_matches(&pats, host);
                continue;
            }
            "match" => {
                active = false;
                continue;
            }
            _ => {}
        }
        if !active {
            continue;
        }
        let Some(first) = args.first().cloned() else { continue };
        let set = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(first.clone());
            }
        };
        match key.as_str() {
            "hostname" => set(&mut out.host_name),
            "user" => set(&mut out.user),
            "port" => set(&mut out.port),
            "identityfile" => out.identity_files.push(first.clone()),
            "identitiesonly" if out.identities_only.is_none() => {
                out.identities_only = Some(first.eq_ignore_ascii_case("yes"));
            }
            "userknownhostsfile" => set(&mut out.known_hosts),
            "stricthostkeychecking" => set(&mut out.strict_host_key_checking),
            _ => {}
        }
    }
    out
}

/// Expands `~/` and the tokens OpenSSH allows in file names (`%d` home,
/// `%u` local user, `%h` host, `%r` remote user, `%%`).
pub fn expand(path: &str, home: Option<&Path>, host: &str, remote_user: &str) -> PathBuf {
    let home_s = home.map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let local_user = std::env::var("USER").unwrap_or_default();
    let mut out = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('d') => out.push_str(&home_s),
                Some('u') => out.push_str(&local_user),
                Some('h') => out.push_str(host),
                Some('r') => out.push_str(remote_user),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    match out.strip_prefix("~/") {
        Some(rest) if home.is_some() => Path::new(&home_s).join(rest),
        _ => PathBuf::from(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# comment
IdentityFile ~/.ssh/global
Host prod-* !prod-old
    HostName %h.example.test
    User deploy
    Port=2200
    IdentityFile \"~/.ssh/prod key\"
Host prod-eu
    User ignored-first-wins
    StrictHostKeyChecking no
Match host other
    User matched
Host *
    UserKnownHostsFile ~/.ssh/kh
    Port 22
";

    #[test]
    fn first_value_wins_and_identity_files_add_up() {
        let c = lookup(CONFIG, "prod-eu");
        assert_eq!(c.host_name.as_deref(), Some("%h.example.test"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port.as_deref(), Some("2200"));
        assert_eq!(c.identity_files, vec!["~/.ssh/global", "~/.ssh/prod key"]);
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("no"));
        assert_eq!(c.known_hosts.as_deref(), Some("~/.ssh/kh"));
    }

    #[test]
    fn negated_patterns_and_match_blocks_do_not_apply() {
        let c = lookup(CONFIG, "prod-old");
        assert_eq!(c.user, None);
        assert_eq!(c.port.as_deref(), Some("22"));
        let c = lookup(CONFIG, "other");
        assert_eq!(c.user, None);
        assert!(glob("a?c*", "abcdef") && !glob("a?c", "abcd") && glob("*", ""));
    }

    #[test]
    fn tokens_and_tilde_expand() {
        let home = Path::new("/h/u");
        assert_eq!(
            expand("~/.ssh/id_%r@%h", Some(home), "h1", "bob"),
            PathBuf::from("/h/u/.ssh/id_bob@h1")
        );
        assert_eq!(expand("%d/k%%", Some(home), "h", "r"), PathBuf::from("/h/u/k%"));
    }
}
