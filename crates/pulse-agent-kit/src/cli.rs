//! The command line both agents share. Every option has an environment variable of the same
//! name (`--token-file` ↔ `PULSE_TOKEN_FILE`); the command line wins.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Pulse base URLs (`--url`, repeatable; `PULSE_URL` may list several, comma-separated).
    pub urls: Vec<String>,
    pub token: Option<String>,
    pub interval: Duration,
    pub once: bool,
    pub print: bool,
    pub insecure: bool,
    /// `--docker-socket` / `DOCKER_HOST` (the Docker agent only).
    pub docker_socket: Option<String>,
    /// `--agent-id` / `PULSE_AGENT_ID`: overrides the machine id.
    pub agent_id: Option<String>,
}

pub enum Parsed {
    Run(Options),
    Help(String),
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

fn usage(name: &str) -> String {
    format!(
        "usage: {name} --url URL [--url URL...] (--token T | --token-file F) [options]\n\
         \n  --url URL          Pulse server (repeatable)                      PULSE_URL\
         \n  --token T          API token                                      PULSE_TOKEN\
         \n  --token-file F     file holding the API token                     PULSE_TOKEN_FILE\
         \n  --interval 30s     time between reports (ms, s, m, h)             PULSE_INTERVAL\
         \n  --once             send one report and exit                       PULSE_ONCE\
         \n  --print            write the report JSON to stdout, send nothing  PULSE_PRINT\
         \n  --insecure         accept a self-signed Pulse certificate         PULSE_INSECURE\
         \n  --agent-id ID      agent id (default: /etc/machine-id)            PULSE_AGENT_ID\
         \n  --docker-socket P  Docker/Podman socket (docker agent)            DOCKER_HOST\n"
    )
}

/// `30s`, `1m`, `500ms`, `2h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 30s, 1m)"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("invalid duration {s:?} (use e.g. 30s, 1m)")),
    };
    if d < Duration::from_secs(1) || d > Duration::from_secs(86_400) {
        return Err(format!("interval {s:?} must be between 1s and 24h"));
    }
    Ok(d)
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

pub fn parse(
    name: &str,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, String> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let mut urls: Vec<String> = Vec::new();
    let (mut token, mut token_file, mut interval) = (None, None, None);
    let (mut once, mut print, mut insecure) = (false, false, false);
    let (mut socket, mut agent_id) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{key} needs a value"))
        };
        match key {
            "--url" => urls.push(value()?),
            "--token" => token = Some(value()?),
            "--token-file" => token_file = Some(value()?),
            "--interval" => interval = Some(value()?),
            "--docker-socket" => socket = Some(value()?),
            "--agent-id" => agent_id = Some(value()?),
            "--once" => once = true,
            "--print" => print = true,
            "--insecure" => insecure = true,
            "-h" | "--help" => return Ok(Parsed::Help(usage(name))),
            "-V" | "--version" => {
                return Ok(Parsed::Help(format!(
                    "{name} {}\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            other => return Err(format!("unknown option {other}\n{}", usage(name))),
        }
    }
    if urls.is_empty() {
        if let Some(v) = env("PULSE_URL") {
            urls = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
    }
    for u in &mut urls {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(format!("--url {u:?} must start with http:// or https://"));
        }
        while u.ends_with('/') {
            u.pop();
        }
    }
    let token_file = token_file.or_else(|| env("PULSE_TOKEN_FILE"));
    let token = match (token, token_file) {
        (Some(t), _) => Some(t),
        (None, Some(f)) => Some(
            std::fs::read_to_string(&f)
                .map_err(|e| format!("reading token file {f}: {e}"))?
                .trim()
                .to_string(),
        ),
        (None, None) => env("PULSE_TOKEN"),
    };
    let interval = match interval.or_else(|| env("PULSE_INTERVAL")) {
        Some(v) => parse_duration(&v)?,
        None => DEFAULT_INTERVAL,
    };
    let opts = Options {
        once: once || env("PULSE_ONCE").is_some_and(|v| truthy(&v)),
        print: print || env("PULSE_PRINT").is_some_and(|v| truthy(&v)),
        insecure: insecure || env("PULSE_INSECURE").is_some_and(|v| truthy(&v)),
        docker_socket: socket.or_else(|| env("DOCKER_HOST")),
        agent_id: agent_id.or_else(|| env("PULSE_AGENT_ID")),
        urls,
        token,
        interval,
    };
    if !opts.print {
        if opts.urls.is_empty() {
            return Err(format!("--url is required (or PULSE_URL)\n{}", usage(name)));
        }
        if opts.token.as_deref().is_none_or(str::is_empty) {
            return Err("an API token is required: --token, --token-file or PULSE_TOKEN".into());
        }
    }
    Ok(Parsed::Run(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn run(v: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = move |k: &str| env.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
        match parse("agent", &args(v), &get)? {
            Parsed::Run(o) => Ok(o),
            Parsed::Help(_) => Err("help".into()),
        }
    }

    #[test]
    fn flags_and_environment() {
        let o = run(
            &[
                "--url",
                "http://a/",
                "--url=https://b",
                "--token",
                "t",
                "--interval",
                "1m",
                "--once",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(o.urls, ["http://a", "https://b"]);
        assert_eq!(o.interval, Duration::from_secs(60));
        assert!(o.once && !o.print);
        let o = run(
            &[],
            &[
                ("PULSE_URL", "http://x,http://y"),
                ("PULSE_TOKEN", "t"),
                ("PULSE_INSECURE", "true"),
            ],
        )
        .unwrap();
        assert_eq!(o.urls.len(), 2);
        assert!(o.insecure);
        assert!(run(&["--url", "http://a"], &[])
            .unwrap_err()
            .contains("token"));
        assert!(run(&["--url", "ftp://a", "--token", "t"], &[]).is_err());
        assert!(run(&["--print"], &[]).is_ok());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
    }
}
