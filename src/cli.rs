//! Command-line parsing for the `pulse` binary. Plain and explicit: a handful of commands, and
//! anything unknown is an error (exit code 2) with a message saying what was not understood.
//! `pulse config export|import|info` is carried out by [`config_command`].

pub mod config_command;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Start the server (the default).
    Serve,
    Version,
    Help,
    /// Read a password from stdin, print its bcrypt (cost 12) hash.
    HashPassword,
    /// `pulse config export|import|info ...`: encrypted configuration backups.
    Config(Vec<String>),
}

pub const USAGE: &str = "\
Pulse - monitoring for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway

Usage:
  pulse [serve]           start the server (default)
  pulse hash-password     read a password from stdin, print a bcrypt hash (cost 12)
  pulse config export -o FILE [-p PASSPHRASE]
  pulse config import -i FILE [-p PASSPHRASE] [-f]
  pulse config info       encrypted configuration backup (passphrase also from PULSE_PASSPHRASE)
  pulse --version         print the version
  pulse --help            print this help

Configuration comes from the environment and <data dir>/.env:
  PULSE_DATA_DIR      data directory (default /etc/pulse)
  FRONTEND_PORT       HTTP port (fallback PORT, default 7655)
  PULSE_BIND_ADDRESS  listen address (default 0.0.0.0)
  LOG_LEVEL           debug, info, warn, error (default info)
  PULSE_MOCK_MODE     true: poll the built-in demo cluster
";

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let args: Vec<String> = args.into_iter().collect();
    if args.first().map(String::as_str) == Some("config") {
        return Ok(Command::Config(args[1..].to_vec()));
    }
    let mut cmd: Option<Command> = None;
    for a in &args {
        let next = match a.as_str() {
            "--version" | "-v" | "version" => Command::Version,
            "--help" | "-h" | "help" => Command::Help,
            "serve" => Command::Serve,
            "hash-password" => Command::HashPassword,
            other if other.starts_with('-') => return Err(format!("unknown flag '{other}'")),
            other => return Err(format!("unknown command '{other}'")),
        };
        if cmd.is_some() {
            return Err(format!("unexpected argument '{a}'"));
        }
        cmd = Some(next);
    }
    Ok(cmd.unwrap_or(Command::Serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Command, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_and_rejects_unknown() {
        assert_eq!(p(&[]), Ok(Command::Serve));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["hash-password"]), Ok(Command::HashPassword));
        assert_eq!(
            p(&["--frobnicate"]),
            Err("unknown flag '--frobnicate'".into())
        );
        assert!(p(&["serve", "extra"]).is_err());
    }
}
