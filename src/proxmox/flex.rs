//! Serde helpers for the loose typing of real Proxmox payloads.
//!
//! Proxmox is written in Perl (PVE, PMG) and Rust (PBS); the Perl side sends numbers as JSON
//! strings whenever a value went through a string operation (`"cpus": "2"`, `"loadavg":
//! ["0.50", ...]`), `vmid` is a number in one endpoint and a string in the next, `wearout` is a
//! number or `"N/A"`, PMG statistics may be `""` or `null`. Every helper here accepts all of
//! those spellings and maps what cannot be a number to `None` instead of failing the whole poll.
//!
//! Use with `#[serde(default, deserialize_with = "flex::f64")]` on an `Option<_>` field.

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// One JSON scalar, whatever its spelling. Arrays and objects become `Other`.
enum Scalar {
    Float(f64),
    Int(i64),
    UInt(u64),
    Str(String),
    Bool(bool),
    Null,
    Other,
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        let v = match self {
            Scalar::Float(f) => *f,
            Scalar::Int(i) => *i as f64,
            Scalar::UInt(u) => *u as f64,
            Scalar::Str(s) => parse_num(s)?,
            Scalar::Bool(b) => f64::from(u8::from(*b)),
            Scalar::Null | Scalar::Other => return None,
        };
        v.is_finite().then_some(v)
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::UInt(u) => i64::try_from(*u).ok(),
            _ => {
                let f = self.as_f64()?;
                (f >= i64::MIN as f64 && f <= i64::MAX as f64).then_some(f.trunc() as i64)
            }
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::UInt(u) => Some(*u),
            Scalar::Int(i) => u64::try_from(*i).ok(),
            _ => {
                let f = self.as_f64()?;
                (f >= 0.0 && f <= u64::MAX as f64).then_some(f.trunc() as u64)
            }
        }
    }
}

/// Parses `"12"`, `" 3.5 "`, `"\"81\""` and `"81%"` (quotes and a trailing percent sign are
/// seen in `wearout` on some SMART backends).
fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim().trim_matches('"').trim_end_matches('%').trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok()
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a numeric string, a boolean or null")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Number, numeric string, `""` or `null` → `Option<f64>`.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(scalar(d)?.as_f64())
}

/// Number (floats truncated), numeric string or `null` → `Option<u64>`; negatives → `None`.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(scalar(d)?.as_u64())
}

/// Number (floats truncated), numeric string or `null` → `Option<i64>`.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(scalar(d)?.as_i64())
}

/// `0/1`, `true/false`, `"0"/"1"` → `Option<bool>` (Proxmox's Perl booleans).
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Bool(b) => Some(b),
        Scalar::Str(s) => match s.trim() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" | "" => Some(false),
            other => parse_num(other).map(|n| n != 0.0),
        },
        other => other.as_f64().map(|n| n != 0.0),
    })
}

/// String or number → `Option<String>` (numbers rendered without a trailing `.0`).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Str(s) => Some(s),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::UInt(u) => Some(u.to_string()),
        Scalar::Float(f) => Some(f.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Null | Scalar::Other => None,
    })
}

/// A guest id that is a number in `/cluster/resources` and a string in `/nodes/{n}/lxc`.
pub fn vmid<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    opt_vmid(d)?.ok_or_else(|| de::Error::custom("vmid is not a positive integer"))
}

/// Like [`vmid`] for rows that may lack one (node and storage rows of `/cluster/resources`).
pub fn opt_vmid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(scalar(d)?.as_u64().and_then(|v| u32::try_from(v).ok()))
}

/// An array whose items are numbers or numeric strings (`loadavg`). Unparseable items are
/// dropped; `null` or a non-array gives an empty list.
pub fn f64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of numbers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element_seed(ScalarSeed)? {
                if let Some(v) = item.as_f64() {
                    out.push(v);
                }
            }
            Ok(out)
        }
        fn visit_unit<E>(self) -> Result<Vec<f64>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Vec<f64>, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<f64>, D::Error> {
            d.deserialize_any(ListVisitor)
        }
        fn visit_str<E>(self, _: &str) -> Result<Vec<f64>, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(ListVisitor)
}

struct ScalarSeed;
impl<'de> de::DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        scalar(d)
    }
}

/// SSD wear as Proxmox reports it in `/nodes/{n}/disks/list`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wearout {
    /// Remaining life in percent (100 = new), as sent: not clamped here.
    Percent(f64),
    /// `"N/A"` (spinning disks, virtual disks, no SMART data).
    NotAvailable,
}

/// `wearout` as number, `"N/A"`, `"81"`, `"\"81\""` or `"81%"`; absent/`null` → `None`.
pub fn wearout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Wearout>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Null | Scalar::Other => None,
        Scalar::Str(s) => match parse_num(&s) {
            Some(v) => Some(Wearout::Percent(v)),
            None => Some(Wearout::NotAvailable),
        },
        other => other.as_f64().map(Wearout::Percent),
    })
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
/// Needs `#[serde(default)]` on the field so absence yields `None`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A list that may arrive as `null` or as a non-list (the guest agent answers some calls
/// with an object when it is not ready): anything but an array becomes an empty list;
/// items that fail to decode are skipped so one odd filesystem does not hide the others.
pub fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|v| T::deserialize(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A map whose values may be of mixed kinds (Ceph's `daemons` holds a `"summary": ""` string
/// beside the daemon objects): entries that do not decode as `T` are skipped.
pub fn lenient_map<'de, D, T>(d: D) -> Result<std::collections::BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Object(items) => items
            .into_iter()
            .filter_map(|(k, v)| T::deserialize(v).ok().map(|t| (k, t)))
            .collect(),
        _ => std::collections::BTreeMap::new(),
    })
}

/// The `{"data": ...}` envelope around every Proxmox API answer. `data` may be `null`
/// (PVE sends `{"data":null}` for errors and for some empty results).
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(default = "none")]
    pub data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, Default)]
    struct Probe {
        #[serde(default, deserialize_with = "f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "u64")]
        u: Option<u64>,
        #[serde(default, deserialize_with = "i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "f64_list")]
        l: Vec<f64>,
        #[serde(default, deserialize_with = "wearout")]
        w: Option<Wearout>,
        #[serde(default, deserialize_with = "nullable")]
        n: Option<Option<String>>,
    }

    #[derive(Deserialize, Debug)]
    struct Guest {
        #[serde(deserialize_with = "vmid")]
        vmid: u32,
    }

    fn probe(json: &str) -> Probe {
        match serde_json::from_str(json) {
            Ok(p) => p,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn numbers_as_strings() {
        let p = probe(r#"{"f":"0.50","u":"2","i":"-1","s":42}"#);
        assert_eq!(p.f, Some(0.5));
        assert_eq!(p.u, Some(2));
        assert_eq!(p.i, Some(-1));
        assert_eq!(p.s.as_deref(), Some("42"));
    }

    #[test]
    fn floats_truncate_into_integers_and_negatives_do_not_fit_u64() {
        let p = probe(r#"{"u":9810897578.66,"i":-1.9}"#);
        assert_eq!(p.u, Some(9_810_897_578));
        assert_eq!(p.i, Some(-1));
        assert_eq!(probe(r#"{"u":-1}"#).u, None);
    }

    #[test]
    fn empty_null_and_garbage_become_none() {
        let p = probe(r#"{"f":"","u":null,"i":"abc","b":null,"s":null}"#);
        assert_eq!(p.f, None);
        assert_eq!(p.u, None);
        assert_eq!(p.i, None);
        assert_eq!(p.b, None);
        assert_eq!(p.s, None);
        assert_eq!(probe(r#"{"f":{"x":1}}"#).f, None);
        assert_eq!(probe(r#"{"f":[1,2]}"#).f, None);
    }

    #[test]
    fn perl_booleans() {
        assert_eq!(probe(r#"{"b":1}"#).b, Some(true));
        assert_eq!(probe(r#"{"b":0}"#).b, Some(false));
        assert_eq!(probe(r#"{"b":"1"}"#).b, Some(true));
        assert_eq!(probe(r#"{"b":true}"#).b, Some(true));
    }

    #[test]
    fn loadavg_strings_or_numbers() {
        assert_eq!(probe(r#"{"l":["0.50","1.00","2"]}"#).l, vec![0.5, 1.0, 2.0]);
        assert_eq!(probe(r#"{"l":[0.02,0.03,0.04]}"#).l, vec![0.02, 0.03, 0.04]);
        assert!(probe(r#"{"l":null}"#).l.is_empty());
        assert_eq!(probe(r#"{"l":["x",1]}"#).l, vec![1.0]);
    }

    #[test]
    fn vmid_string_or_number() {
        let a: Guest = serde_json::from_str(r#"{"vmid":"106"}"#).unwrap_or(Guest { vmid: 0 });
        let b: Guest = serde_json::from_str(r#"{"vmid":101}"#).unwrap_or(Guest { vmid: 0 });
        assert_eq!((a.vmid, b.vmid), (106, 101));
        assert!(serde_json::from_str::<Guest>(r#"{"vmid":"abc"}"#).is_err());
        assert!(serde_json::from_str::<Guest>(r#"{}"#).is_err());
    }

    #[test]
    fn wearout_spellings() {
        assert_eq!(probe(r#"{"w":97}"#).w, Some(Wearout::Percent(97.0)));
        assert_eq!(probe(r#"{"w":"N/A"}"#).w, Some(Wearout::NotAvailable));
        assert_eq!(probe(r#"{"w":"\"81\""}"#).w, Some(Wearout::Percent(81.0)));
        assert_eq!(probe(r#"{"w":"81%"}"#).w, Some(Wearout::Percent(81.0)));
        assert_eq!(probe(r#"{}"#).w, None);
    }

    #[test]
    fn absent_versus_null() {
        assert_eq!(probe(r#"{}"#).n, None);
        assert_eq!(probe(r#"{"n":null}"#).n, Some(None));
        assert_eq!(probe(r#"{"n":"x"}"#).n, Some(Some("x".to_string())));
    }

    #[test]
    fn data_null_and_missing() {
        let e: Envelope<Vec<u32>> =
            serde_json::from_str(r#"{"data":null}"#).unwrap_or(Envelope { data: Some(vec![]) });
        assert!(e.data.is_none());
        let e: Envelope<Vec<u32>> =
            serde_json::from_str(r#"{}"#).unwrap_or(Envelope { data: Some(vec![]) });
        assert!(e.data.is_none());
        let e: Envelope<Vec<u32>> =
            serde_json::from_str(r#"{"data":[1]}"#).unwrap_or(Envelope { data: None });
        assert_eq!(e.data, Some(vec![1]));
    }

    #[test]
    fn lenient_list_accepts_objects_and_skips_bad_items() {
        #[derive(Deserialize)]
        struct W {
            #[serde(default, deserialize_with = "lenient_list")]
            result: Vec<Guest>,
        }
        let w: W =
            serde_json::from_str(r#"{"result":{"error":"x"}}"#).unwrap_or(W { result: vec![] });
        assert!(w.result.is_empty());
        let w: W = serde_json::from_str(r#"{"result":[{"vmid":1},{"vmid":"x"},{"vmid":"3"}]}"#)
            .unwrap_or(W { result: vec![] });
        assert_eq!(
            w.result.iter().map(|g| g.vmid).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }
}
