//! Every integration test in one binary: one link of the library instead of thirty, and one
//! shared `support` module (in-process server, raw HTTP client, auth helpers).

mod support;

mod alerts_engine;
mod auth_lockout;
mod auth_login;
mod auth_matrix;
mod auth_ratelimit;
mod auth_secrets;
mod auth_setup;
mod auth_tokens;
mod config_api;
mod config_auth;
mod config_connect;
mod config_crash;
mod config_discovery;
mod config_export;
mod config_robustness;
mod config_setup;
mod config_store;
mod foundation_http;
mod foundation_process;
mod http_adversarial;
mod http_server;
mod loop_bounds;
mod monitor_api;
mod monitor_demo;
mod monitor_derive;
mod monitor_layering;
mod monitor_poll_pbs_pmg;
mod monitor_poll_pve;
mod monitor_runtime;
mod monitor_scheduler;
mod monitor_sim;
mod poll_budget;
mod poll_connected;
mod poll_failover;
mod poll_lifecycle;
mod proxmox_clients;
mod proxmox_fixtures;
mod sim_admin;
mod sim_estate;
mod state_store;
mod tls_https;
mod ws_feed;
