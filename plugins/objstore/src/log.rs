//! Debug lines from inside a plugin library.
//!
//! A plugin library has its own copy of every global, so the host's
//! `tracing` subscriber cannot see it. These lines go to standard error
//! when `RUST_LOG` enables `debug` (or `trace`) for the plugin: a bare
//! `debug`, or a directive whose target starts the plugin's crate name
//! (`arca_plugin_azure=debug`, `arca_plugin=debug`). They never carry a
//! secret: callers pass names of settings, not values.

/// Whether `RUST_LOG` (`filter`) enables debug lines for `target`.
pub fn enabled(filter: &str, target: &str) -> bool {
    let mut on = false;
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (t, level) = match directive.rsplit_once('=') {
            Some((t, level)) => (Some(t), level),
            None if is_level(directive) => (None, directive),
            // A bare target enables every level for it.
            None => (Some(directive), "trace"),
        };
        let applies = t.is_none_or(|t| target.starts_with(t));
        if applies && is_level(level) {
            on = matches!(level.to_ascii_lowercase().as_str(), "debug" | "trace");
        }
    }
    on
}

fn is_level(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "off" | "error" | "warn" | "info" | "debug" | "trace"
    )
}

/// Writes `message` to standard error if debug lines are enabled for
/// `target` (a plugin's crate name, e.g. `arca_plugin_azure`).
pub fn debug(target: &str, message: &str) {
    if std::env::var("RUST_LOG").is_ok_and(|f| enabled(&f, target)) {
        eprintln!("DEBUG {target}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::enabled;

    #[test]
    fn directives_select_the_plugin() {
        let t = "arca_plugin_azure";
        assert!(enabled("debug", t));
        assert!(enabled("info,arca_plugin_azure=debug", t));
        assert!(enabled("arca_plugin=trace", t));
        assert!(enabled("arca_plugin_azure", t));
        assert!(!enabled("info", t));
        assert!(!enabled("arca_plugin_s3=debug", t));
        assert!(!enabled("debug,arca_plugin_azure=info", t));
        assert!(!enabled("", t));
    }
}
