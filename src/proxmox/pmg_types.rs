//! Decoded Proxmox Mail Gateway responses. Every PMG statistic may arrive as a number, a
//! numeric string, `""` or `null` (Pulse's `flexibleFloat`/`flexibleInt`), hence `flex` on
//! every numeric field.

use super::flex;
use serde::{Deserialize, Serialize};

pub use super::pve_types::Version;

/// One row of `GET /config/cluster/status?list_single_node=1`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PmgClusterNode {
    #[serde(default, deserialize_with = "flex::i64")]
    pub cid: Option<i64>,
    pub name: String,
    /// `master`, `node` or (standalone) `standalone`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// `GET /nodes/{node}/postfix/queue`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PostfixQueue {
    #[serde(default, deserialize_with = "flex::u64")]
    pub active: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub deferred: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub hold: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub incoming: Option<u64>,
    /// Age in seconds of the oldest queued message.
    #[serde(default, deserialize_with = "flex::i64")]
    pub oldest_age: Option<i64>,
}

/// One row of `GET /nodes/{node}/backup`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PmgBackup {
    pub filename: String,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub timestamp: Option<i64>,
}

/// `GET /statistics/mail` (totals over the default time span).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct MailStatistics {
    #[serde(default, deserialize_with = "flex::f64")]
    pub count: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub count_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub count_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub spamcount_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub spamcount_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub viruscount_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub viruscount_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bounces_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bounces_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bytes_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bytes_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub glcount: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub junk_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub rbl_rejects: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub pregreet_rejects: Option<f64>,
    /// Average processing time in seconds (Pulse reports milliseconds: ×1000).
    #[serde(default, deserialize_with = "flex::f64")]
    pub avptime: Option<f64>,
}

/// One row of `GET /statistics/mailcount?timespan=<seconds>`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct MailCountPoint {
    #[serde(default, deserialize_with = "flex::i64")]
    pub index: Option<i64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub count: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub count_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub count_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub spamcount_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub spamcount_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub viruscount_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub viruscount_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bounces_in: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub bounces_out: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub rbl_rejects: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub pregreet_rejects: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub glcount: Option<f64>,
}

/// One row of `GET /statistics/spamscores`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SpamScore {
    #[serde(default, deserialize_with = "flex::string")]
    pub level: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub ratio: Option<f64>,
}

/// `GET /quarantine/spamstatus` and `/quarantine/virusstatus`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct QuarantineStatus {
    #[serde(default, deserialize_with = "flex::u64")]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub avgbytes: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub avgspam: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub mbytes: Option<f64>,
}
