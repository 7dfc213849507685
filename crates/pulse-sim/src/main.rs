//! `pulse-sim`: a Proxmox VE / PBS / PMG simulator for demos and benchmarks.
//!
//! ```text
//! pulse-sim --nodes 50 --guests 3000 --https-port 0 --http-port 0 --seed 7
//! pulse-sim --nodes 50 --guests 3000 --pace pveproxy --latency-ms 15 --workers 3
//! ```
//! `--pace pveproxy` answers PVE requests like a real `pveproxy` (few workers, per-request
//! latency, keep-alive of 100 requests / 5 s idle, closed after an error); request counts per
//! path family are at `GET /__sim/requests`.
//! Prints the HTTPS fingerprint, credentials and every listening address, then serves until
//! killed. PBS and PMG listen on the given ports + 1 and + 2 (or OS-chosen ports for 0).

use pulse_sim::Product;
use pulse_sim::{Pace, SimConfig, Simulator, TOKEN_ID};
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: pulse-sim [--nodes N] [--guests M] [--https-port P] [--http-port P] [--seed S] [--no-ceph]\n                 [--pace fast|pveproxy] [--latency-ms MS] [--workers N]"
    );
    std::process::exit(2);
}

fn main() {
    let mut cfg = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--nodes" => cfg.nodes = value().parse().unwrap_or_else(|_| usage()),
            "--guests" => cfg.guests = value().parse().unwrap_or_else(|_| usage()),
            "--https-port" => cfg.https_port = value().parse().unwrap_or_else(|_| usage()),
            "--http-port" => cfg.http_port = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => cfg.seed = value().parse().unwrap_or_else(|_| usage()),
            "--no-ceph" => cfg.ceph = false,
            "--pace" => cfg.pace = Pace::parse(&value()).unwrap_or_else(|| usage()),
            "--latency-ms" => {
                let ms: u64 = value().parse().unwrap_or_else(|_| usage());
                if let Pace::Pveproxy(p) = &mut cfg.pace {
                    p.latency = Duration::from_millis(ms);
                }
            }
            "--workers" => {
                let n: usize = value().parse().unwrap_or_else(|_| usage());
                if let Pace::Pveproxy(p) = &mut cfg.pace {
                    p.workers = n.max(1);
                }
            }
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let sim = match Simulator::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pulse-sim: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "pulse-sim: {} nodes, {} guests, seed {}, pace {:?}",
        cfg.nodes, cfg.guests, cfg.seed, cfg.pace
    );
    println!("fingerprint: {}", sim.fingerprint());
    println!("user: {}  password: {}", sim.user(), sim.password());
    println!("token: {TOKEN_ID}  secret: {}", sim.token_secret());
    for product in [Product::Pve, Product::Pbs, Product::Pmg] {
        println!(
            "{:<4} https: {}  http: {}",
            product.as_str(),
            sim.https_url(product),
            sim.http_url(product)
        );
    }
    loop {
        std::thread::park();
    }
}
