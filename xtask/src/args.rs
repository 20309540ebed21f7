//! Hand-parsed task arguments: the tasks take a handful of flags, which does
//! not justify compiling an argument parser before every task.

use crate::project::Result;

/// The arguments after the task name, consumed flag by flag.
#[derive(Debug)]
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(args: &[String]) -> Self {
        Self { rest: args.to_vec() }
    }

    /// Whether the boolean flag `name` (e.g. `--release`) was given.
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// The value of `name`, given as `name value` or `name=value`.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        let Some(i) = self.rest.iter().position(|a| a == name || a.starts_with(&prefix)) else {
            return Ok(None);
        };
        let arg = self.rest.remove(i);
        if let Some(value) = arg.strip_prefix(&prefix) {
            return Ok(Some(value.to_owned()));
        }
        if i < self.rest.len() {
            Ok(Some(self.rest.remove(i)))
        } else {
            Err(format!("{name} needs a value"))
        }
    }

    /// Fails on anything not consumed yet.
    pub fn finish(self) -> Result {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => Err(format!("unexpected argument `{a}`; run `cargo xtask help` for usage")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Args {
        Args::new(&s.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_values_in_both_spellings() {
        let mut a = args(&["--plugins", "local,memory", "--release"]);
        assert!(a.flag("--release"));
        assert_eq!(a.value("--plugins"), Ok(Some("local,memory".to_owned())));
        assert_eq!(a.finish(), Ok(()));
        let mut a = args(&["--plugins=local"]);
        assert!(!a.flag("--release"));
        assert_eq!(a.value("--plugins"), Ok(Some("local".to_owned())));
    }

    #[test]
    fn missing_values_and_leftovers_are_errors() {
        assert!(args(&["--plugins"]).value("--plugins").is_err());
        assert!(args(&["--relase"]).finish().is_err_and(|e| e.contains("--relase")));
    }
}
