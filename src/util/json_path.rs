//! Names the field a JSON document failed on. serde_json's errors say "invalid type: string,
//! expected u32 at line 1 column 30"; an admin needs "schedule.cooldown: invalid type ...". We
//! find the field by re-trying ever smaller documents (the failing key alone, then its failing
//! child alone...), which works for any type whose fields all have defaults.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// `error` (from deserialising `root` as `T`) with the path of the field that caused it.
pub fn explain<T: DeserializeOwned>(root: &Value, error: &serde_json::Error) -> String {
    let mut path: Vec<Step> = Vec::new();
    let mut message = strip_position(&error.to_string());
    let mut current = root;
    'descend: loop {
        let children: Vec<(Step, &Value)> = match current {
            Value::Object(m) => m.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (Step::Index(i), v))
                .collect(),
            _ => break,
        };
        for (step, child) in children {
            path.push(step);
            let doc = rebuild(&path, child);
            if let Err(e) = serde_json::from_value::<T>(doc) {
                message = strip_position(&e.to_string());
                current = child;
                continue 'descend;
            }
            path.pop();
        }
        break;
    }
    if path.is_empty() {
        return message;
    }
    format!("{}: {message}", render(&path))
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// The smallest document that holds `leaf` at `path`. Arrays keep only the element under
/// test (at index 0, so its own checks still apply).
fn rebuild(path: &[Step], leaf: &Value) -> Value {
    let mut v = leaf.clone();
    for step in path.iter().rev() {
        v = match step {
            Step::Key(k) => {
                let mut m = Map::new();
                m.insert(k.clone(), v);
                Value::Object(m)
            }
            Step::Index(_) => Value::Array(vec![v]),
        };
    }
    v
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
        list: Vec<Inner>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn err_of(json: &str) -> String {
        let v: Value = serde_json::from_str(json).unwrap();
        let e = serde_json::from_value::<Outer>(v.clone()).unwrap_err();
        explain::<Outer>(&v, &e)
    }

    #[test]
    fn names_nested_fields_and_array_elements() {
        let e = err_of(r#"{"name": "x", "inner": {"count": "many"}}"#);
        assert!(e.starts_with("inner.count: invalid type"), "{e}");
        let e = err_of(r#"{"list": [{"count": 1}, {"count": -1}]}"#);
        assert!(e.starts_with("list[1].count: invalid value"), "{e}");
        assert!(!e.contains("line"), "{e}");
    }
}
