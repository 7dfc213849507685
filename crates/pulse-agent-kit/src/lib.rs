//! What `pulse-docker-agent` and `pulse-host-agent` share: one command-line contract
//! ([`cli`]), sending a report to every Pulse target ([`send`]), and the report loop with
//! backoff and jitter ([`run`]).

pub mod cli;
pub mod send;
pub mod sys;

use cli::Options;
use pulse_wire::agents::AgentCommand;
use std::io::Write;
use std::time::Duration;

/// What an agent plugs into [`run`].
pub trait Agent {
    /// `/api/agents/docker/report` or `/api/agents/host/report`.
    const PATH: &'static str;
    /// Collects one report, serialised.
    fn collect(&mut self, opts: &Options) -> Result<Vec<u8>, String>;
    /// A command Pulse handed back; `true` means "stop now" (after acknowledging it).
    fn command(
        &mut self,
        _sender: &send::Sender,
        _base: &str,
        _host_id: &str,
        _cmd: &AgentCommand,
    ) -> bool {
        false
    }
}

/// Longest wait after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The interval, doubled per consecutive failure up to [`MAX_BACKOFF`], plus up to 10 %
/// jitter so a fleet restarted together does not report in lock-step.
pub fn next_delay(interval: Duration, failures: u32) -> Duration {
    let base = interval
        .saturating_mul(1u32 << failures.min(10))
        .min(MAX_BACKOFF.max(interval));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let jitter_max = (base.as_millis() as u64 / 10).max(1);
    base + Duration::from_millis(nanos % jitter_max)
}

/// The agent's whole life: parse the command line, then print, send once, or loop.
/// Returns the process exit code.
pub fn run<A: Agent>(
    name: &str,
    agent: &mut A,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> i32 {
    let opts = match cli::parse(name, args, env) {
        Ok(cli::Parsed::Run(o)) => o,
        Ok(cli::Parsed::Help(text)) => {
            let _ = out.write_all(text.as_bytes());
            return 0;
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            return 2;
        }
    };
    if opts.print {
        return match agent.collect(&opts) {
            Ok(body) => {
                let _ = out.write_all(&body);
                let _ = out.write_all(b"\n");
                0
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                1
            }
        };
    }
    let sender = match send::Sender::new(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{name}: {e}");
            return 2;
        }
    };
    let mut failures = 0u32;
    loop {
        let ok = match agent.collect(&opts) {
            Ok(body) => {
                let mut all_ok = true;
                for (base, result) in sender.send_all(A::PATH, &body) {
                    match result {
                        Ok(answer) => {
                            for cmd in &answer.commands {
                                if agent.command(&sender, &base, &answer.host_id, cmd) {
                                    eprintln!("{name}: stopped on request of {base}");
                                    return 0;
                                }
                            }
                        }
                        Err(e) => {
                            all_ok = false;
                            eprintln!("{name}: {base}: {e}");
                        }
                    }
                }
                all_ok
            }
            Err(e) => {
                eprintln!("{name}: collecting the report failed: {e}");
                false
            }
        };
        if opts.once {
            return if ok { 0 } else { 1 };
        }
        failures = if ok { 0 } else { failures.saturating_add(1) };
        std::thread::sleep(next_delay(opts.interval, failures));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let i = Duration::from_secs(30);
        let d0 = next_delay(i, 0);
        assert!(d0 >= i && d0 <= i + Duration::from_secs(3));
        assert!(next_delay(i, 1) >= Duration::from_secs(60));
        assert!(next_delay(i, 20) <= MAX_BACKOFF + Duration::from_secs(30));
    }
}
