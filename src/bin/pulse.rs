//! The `pulse` binary: parse the command line, then serve until SIGTERM/SIGINT.

use pulse::cli::{self, Command};
use pulse::env::RuntimeConfig;
use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cmd = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pulse: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Version => {
            println!("pulse {}", pulse::VERSION);
            ExitCode::SUCCESS
        }
        Command::Help => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::HashPassword => hash_password(),
        Command::Config(args) => config_command(&args),
        Command::Serve => serve(),
    }
}

fn config_command(args: &[String]) -> ExitCode {
    let data_dir = std::env::var("PULSE_DATA_DIR")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| pulse::env::DEFAULT_DATA_DIR.to_string());
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match pulse::cli::config_command::run(args, std::path::Path::new(&data_dir), &env) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pulse config: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        eprintln!("pulse: cannot read a password from stdin");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        eprintln!("pulse: empty password");
        return ExitCode::FAILURE;
    }
    match bcrypt::hash(password, 12) {
        Ok(h) => {
            let _ = writeln!(std::io::stdout(), "{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pulse: hashing failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread before any other starts, so every thread
/// inherits the mask and the signals queue up for `sigwait` here: no async signal handler at
/// all. (SIGHUP's default action would end the process: an admin reloading the certificate
/// with `kill -HUP` must not stop Pulse.)
fn block_shutdown_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a zeroed, locally owned sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Raises the open-files soft limit to the hard limit: every connection is a descriptor on
/// the loop, and the common default soft limit (1024) is below the HTTP cap plus the
/// WebSocket cap. Returns the limit now in force.
fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid, locally owned rlimit struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return wanted.rlim_cur as u64;
            }
        }
        lim.rlim_cur as u64
    }
}

fn serve() -> ExitCode {
    let signals = block_shutdown_signals();
    let nofile = raise_nofile_limit();
    let cfg = match RuntimeConfig::load_from_process() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pulse: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    pulse::log::set_level(cfg.log_level);
    pulse::log_info!(
        "starting pulse",
        version = pulse::VERSION,
        data_dir = cfg.data_dir.display(),
        open_files_limit = nofile
    );
    let running = match pulse::start(cfg) {
        Ok(r) => r,
        Err(e) => {
            pulse::log_error!("cannot start", error = e);
            return ExitCode::FAILURE;
        }
    };
    let mut sig: libc::c_int = 0;
    loop {
        // SAFETY: `signals` is a valid set; sigwait writes the received signal number into `sig`.
        unsafe { libc::sigwait(&signals, &mut sig) };
        if sig != libc::SIGHUP {
            break;
        }
        pulse::log_info!("SIGHUP: reloading the TLS certificate");
        running.reload_tls();
    }
    pulse::log_info!("shutting down", signal = sig);
    running.shutdown();
    pulse::log_info!("shutdown complete");
    ExitCode::SUCCESS
}
