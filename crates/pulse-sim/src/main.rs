//! `pulse-sim`: a Proxmox VE / PBS / PMG simulator for demos and benchmarks.
//!
//! ```text
//! pulse-sim --nodes 50 --guests 3000 --https-port 0 --http-port 0 --seed 7
//! ```
//! Prints the HTTPS fingerprint, credentials and every listening address, then serves until
//! killed. PBS and PMG listen on the given ports + 1 and + 2 (or OS-chosen ports for 0).

use pulse_sim::Product;
use pulse_sim::{SimConfig, Simulator, TOKEN_ID};

fn usage() -> ! {
    eprintln!(
        "usage: pulse-sim [--nodes N] [--guests M] [--https-port P] [--http-port P] [--seed S] [--no-ceph]"
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
        "pulse-sim: {} nodes, {} guests, seed {}",
        cfg.nodes, cfg.guests, cfg.seed
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
