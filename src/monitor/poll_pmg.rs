//! One poll of a Proxmox Mail Gateway: version, cluster nodes with their mail queues, mail
//! statistics (day totals, hourly counts, spam scores), quarantine sizes, and the nodes'
//! configuration backups. Runs on a poll worker thread.

use super::poll_pve::classify;
use super::scheduler::PollError;
use crate::proxmox::pmg_types::{
    MailCountPoint, MailStatistics, PmgBackup, PmgClusterNode, PostfixQueue, QuarantineStatus,
    SpamScore,
};
use crate::proxmox::pve_types::Version;
use crate::proxmox::ProxmoxError;
use crate::state::backups::PMGBackup;
use crate::state::pmg::{
    PMGInstance, PMGMailCountPoint, PMGMailStats, PMGNodeStatus, PMGQuarantine, PMGQueueStatus,
    PMGSpamBucket,
};
use crate::util::time::UtcTime;

/// The PMG calls a poll makes (the real `PmgClient` has the same methods).
pub trait PmgApi {
    fn version(&mut self) -> Result<Version, ProxmoxError>;
    fn cluster_status(&mut self) -> Result<Vec<PmgClusterNode>, ProxmoxError>;
    fn postfix_queue(&mut self, node: &str) -> Result<PostfixQueue, ProxmoxError>;
    fn node_backups(&mut self, node: &str) -> Result<Vec<PmgBackup>, ProxmoxError>;
    fn mail_statistics(&mut self) -> Result<MailStatistics, ProxmoxError>;
    fn mail_count(&mut self, timespan_secs: u64) -> Result<Vec<MailCountPoint>, ProxmoxError>;
    fn spam_scores(&mut self) -> Result<Vec<SpamScore>, ProxmoxError>;
    fn spam_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError>;
    fn virus_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError>;
}

fn n(v: Option<f64>) -> f64 {
    v.filter(|f| f.is_finite()).unwrap_or(0.0)
}

fn count(v: Option<u64>) -> i64 {
    v.map_or(0, |c| i64::try_from(c).unwrap_or(i64::MAX))
}

/// Polls one PMG. `Err` only when `/version` fails; the other parts are left out when their
/// call fails. Backups are `None` when no node's backup list could be read (keep the old one).
pub fn poll_pmg(
    api: &mut dyn PmgApi,
    name: &str,
    host: &str,
    now_ms: i64,
) -> Result<(PMGInstance, Option<Vec<PMGBackup>>), PollError> {
    let version = api.version().map_err(|e| classify(&e))?;
    let now = UtcTime::from_unix_ms(now_ms);
    let cluster = api.cluster_status().unwrap_or_default();
    let mut nodes = Vec::with_capacity(cluster.len());
    for member in &cluster {
        let queue = api.postfix_queue(&member.name).ok().map(|q| {
            let (active, deferred, hold, incoming) = (
                count(q.active),
                count(q.deferred),
                count(q.hold),
                count(q.incoming),
            );
            PMGQueueStatus {
                active,
                deferred,
                hold,
                incoming,
                total: active + deferred + hold + incoming,
                oldest_age: q.oldest_age.unwrap_or(0).max(0),
                updated_at: now,
            }
        });
        nodes.push(PMGNodeStatus {
            name: member.name.clone(),
            status: "online".to_string(),
            role: member.kind.clone().unwrap_or_default(),
            queue_status: queue,
            ..PMGNodeStatus::default()
        });
    }

    let backup_nodes: Vec<String> = if cluster.is_empty() {
        vec![name.to_string()]
    } else {
        cluster.iter().map(|m| m.name.clone()).collect()
    };
    let mut backups: Option<Vec<PMGBackup>> = None;
    for node in &backup_nodes {
        let Ok(list) = api.node_backups(node) else {
            continue;
        };
        let out = backups.get_or_insert_with(Vec::new);
        for b in list {
            let ts = b.timestamp.unwrap_or(0);
            out.push(PMGBackup {
                id: format!("pmg-{name}-{node}-{ts}"),
                instance: name.to_string(),
                node: node.clone(),
                filename: b.filename,
                backup_time: UtcTime::from_unix(ts),
                size: count(b.size),
            });
        }
    }

    let mail_stats = api.mail_statistics().ok().map(|s| PMGMailStats {
        timeframe: "day".to_string(),
        count_total: n(s.count),
        count_in: n(s.count_in),
        count_out: n(s.count_out),
        spam_in: n(s.spamcount_in),
        spam_out: n(s.spamcount_out),
        virus_in: n(s.viruscount_in),
        virus_out: n(s.viruscount_out),
        bounces_in: n(s.bounces_in),
        bounces_out: n(s.bounces_out),
        bytes_in: n(s.bytes_in),
        bytes_out: n(s.bytes_out),
        greylist_count: n(s.glcount),
        junk_in: n(s.junk_in),
        average_process_time_ms: n(s.avptime) * 1000.0,
        rbl_rejects: n(s.rbl_rejects),
        pregreet_rejects: n(s.pregreet_rejects),
        updated_at: now,
    });
    let mail_count = api
        .mail_count(86_400)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let t = p.time.unwrap_or(0);
            PMGMailCountPoint {
                timestamp: UtcTime::from_unix(t),
                count: n(p.count),
                count_in: n(p.count_in),
                count_out: n(p.count_out),
                spam_in: n(p.spamcount_in),
                spam_out: n(p.spamcount_out),
                virus_in: n(p.viruscount_in),
                virus_out: n(p.viruscount_out),
                rbl_rejects: n(p.rbl_rejects),
                pregreet: n(p.pregreet_rejects),
                bounces_in: n(p.bounces_in),
                bounces_out: n(p.bounces_out),
                greylist: n(p.glcount),
                index: p.index.unwrap_or(0),
                timeframe: "hour".to_string(),
                window_start: UtcTime::from_unix(t),
                window_end: UtcTime::from_unix(t + 3600),
            }
        })
        .collect();
    let spam_distribution = api
        .spam_scores()
        .unwrap_or_default()
        .into_iter()
        .map(|s| PMGSpamBucket {
            score: s.level.unwrap_or_default(),
            count: count(s.count) as f64,
        })
        .collect();
    let spam = api.spam_quarantine().ok();
    let virus = api.virus_quarantine().ok();
    let quarantine = (spam.is_some() || virus.is_some()).then(|| PMGQuarantine {
        spam: count(spam.and_then(|q| q.count)),
        virus: count(virus.and_then(|q| q.count)),
        ..PMGQuarantine::default()
    });

    let inst = PMGInstance {
        id: format!("pmg-{name}"),
        name: name.to_string(),
        host: host.to_string(),
        status: "online".to_string(),
        version: version.version.unwrap_or_else(|| "unknown".to_string()),
        nodes,
        mail_stats,
        mail_count,
        spam_distribution,
        quarantine,
        connection_health: "healthy".to_string(),
        last_seen: now,
        last_updated: now,
    };
    Ok((inst, backups))
}

impl PmgApi for crate::proxmox::PmgClient {
    fn version(&mut self) -> Result<Version, ProxmoxError> {
        crate::proxmox::PmgClient::version(self)
    }
    fn cluster_status(&mut self) -> Result<Vec<PmgClusterNode>, ProxmoxError> {
        crate::proxmox::PmgClient::cluster_status(self)
    }
    fn postfix_queue(&mut self, node: &str) -> Result<PostfixQueue, ProxmoxError> {
        crate::proxmox::PmgClient::postfix_queue(self, node)
    }
    fn node_backups(&mut self, node: &str) -> Result<Vec<PmgBackup>, ProxmoxError> {
        crate::proxmox::PmgClient::node_backups(self, node)
    }
    fn mail_statistics(&mut self) -> Result<MailStatistics, ProxmoxError> {
        crate::proxmox::PmgClient::mail_statistics(self)
    }
    fn mail_count(&mut self, timespan_secs: u64) -> Result<Vec<MailCountPoint>, ProxmoxError> {
        crate::proxmox::PmgClient::mail_count(self, timespan_secs)
    }
    fn spam_scores(&mut self) -> Result<Vec<SpamScore>, ProxmoxError> {
        crate::proxmox::PmgClient::spam_scores(self)
    }
    fn spam_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        crate::proxmox::PmgClient::spam_quarantine(self)
    }
    fn virus_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        crate::proxmox::PmgClient::virus_quarantine(self)
    }
}
