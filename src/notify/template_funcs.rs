//! Values and functions of the webhook template language (`template.rs`): Go's truthiness,
//! printing and comparison rules, the helper functions Pulse's templates call (`title`,
//! `upper`, `printf`, `urlquery`, `jsonString`, …) and a float-correct `printf`.

use serde_json::Value;

/// `.A.B` on a value: a missing key is Go's `<no value>` for maps (null here, printed as such).
pub(super) fn walk(v: &Value, fields: &[String]) -> Value {
    let mut cur = v;
    for f in fields {
        match cur.get(f) {
            Some(x) => cur = x,
            None => return Value::Null,
        }
    }
    cur.clone()
}

pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's `%v` of a value.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => fmt_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn fmt_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

pub(super) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

pub(super) fn cmp(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => num(a)
            .partial_cmp(&num(b))
            .ok_or_else(|| "incomparable numbers".to_string()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!("incompatible types for comparison: {a} and {b}")),
    }
}

pub(super) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => num(a) == num(b),
        _ => a == b,
    }
}

pub(super) fn s(v: &Value) -> String {
    print(v)
}

pub(super) fn call(name: &str, a: &[Value]) -> Result<Value, String> {
    let need = |n: usize| -> Result<(), String> {
        if a.len() < n {
            Err(format!("{name}: wants at least {n} argument(s)"))
        } else {
            Ok(())
        }
    };
    let text = |f: &dyn Fn(&str) -> String| -> Result<Value, String> {
        need(1)?;
        Ok(Value::String(f(&a
            .iter()
            .map(s)
            .collect::<Vec<_>>()
            .join(""))))
    };
    use std::cmp::Ordering::*;
    Ok(match name {
        "eq" => {
            need(2)?;
            Value::Bool(a[1..].iter().any(|x| equal(&a[0], x)))
        }
        "ne" => {
            need(2)?;
            Value::Bool(!equal(&a[0], &a[1]))
        }
        "lt" => {
            need(2)?;
            Value::Bool(cmp(&a[0], &a[1])? == Less)
        }
        "le" => {
            need(2)?;
            Value::Bool(cmp(&a[0], &a[1])? != Greater)
        }
        "gt" => {
            need(2)?;
            Value::Bool(cmp(&a[0], &a[1])? == Greater)
        }
        "ge" => {
            need(2)?;
            Value::Bool(cmp(&a[0], &a[1])? != Less)
        }
        "and" => {
            need(1)?;
            a.iter()
                .find(|x| !truthy(x))
                .unwrap_or(&a[a.len() - 1])
                .clone()
        }
        "or" => {
            need(1)?;
            a.iter()
                .find(|x| truthy(x))
                .unwrap_or(&a[a.len() - 1])
                .clone()
        }
        "not" => {
            need(1)?;
            Value::Bool(!truthy(&a[0]))
        }
        "len" => {
            need(1)?;
            Value::from(match &a[0] {
                Value::String(x) => x.len(),
                Value::Array(x) => x.len(),
                Value::Object(x) => x.len(),
                Value::Null => 0,
                other => return Err(format!("len of {other}")),
            })
        }
        "index" => {
            need(1)?;
            let mut cur = a[0].clone();
            for k in &a[1..] {
                cur = match (&cur, k) {
                    (Value::Array(v), _) => {
                        let i = num(k).ok_or("index: bad index")? as usize;
                        v.get(i).cloned().ok_or("index out of range")?
                    }
                    (Value::Object(m), _) => m.get(&s(k)).cloned().unwrap_or(Value::Null),
                    _ => return Err("index of a non-collection".into()),
                };
            }
            cur
        }
        "printf" => {
            need(1)?;
            Value::String(sprintf(&s(&a[0]), &a[1..]))
        }
        "print" => Value::String(a.iter().map(s).collect::<Vec<_>>().join("")),
        "println" => Value::String(a.iter().map(s).collect::<Vec<_>>().join(" ") + "\n"),
        "title" => text(&|x| {
            // Pulse's `title`: first letter upper, the rest lower.
            let mut c = x.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })?,
        "upper" => text(&|x| x.to_uppercase())?,
        "lower" => text(&|x| x.to_lowercase())?,
        "trim" => text(&|x| x.trim().to_string())?,
        "urlquery" | "urlencode" => text(&query_escape)?,
        "urlpath" | "pathescape" => text(&path_escape)?,
        "js" => text(&|x| json_escape(x))?,
        "html" => text(&|x| {
            x.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
        })?,
        "jsonString" => {
            need(1)?;
            Value::String(serde_json::to_string(&s(&a[0])).unwrap_or_default())
        }
        "toJson" => {
            need(1)?;
            Value::String(serde_json::to_string(&a[0]).unwrap_or_default())
        }
        "replace" => {
            need(3)?;
            Value::String(s(&a[2]).replace(&s(&a[0]), &s(&a[1])))
        }
        "contains" => {
            need(2)?;
            Value::Bool(s(&a[1]).contains(&s(&a[0])))
        }
        "default" => {
            need(2)?;
            if truthy(&a[1]) {
                a[1].clone()
            } else {
                a[0].clone()
            }
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}

/// The inside of a JSON string for `s`.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const PATH: &percent_encoding::AsciiSet = &QUERY
    .remove(b'@')
    .remove(b':')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$');

/// Go's `url.QueryEscape` (space → `+`).
pub(super) fn query_escape(x: &str) -> String {
    percent_encoding::utf8_percent_encode(x, QUERY)
        .to_string()
        .replace("%20", "+")
}

/// Go's `url.PathEscape`.
pub(super) fn path_escape(x: &str) -> String {
    percent_encoding::utf8_percent_encode(x, PATH).to_string()
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %.Nf %g %q %x %t %%`, with an
/// optional width and `-` flag. Numeric strings format as numbers (negatives survive).
pub(super) fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        loop {
            match it.peek() {
                Some('-') => left = true,
                Some('0') => zero = true,
                Some('+') => plus = true,
                _ => break,
            }
            it.next();
        }
        let mut width = String::new();
        while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(*d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(*d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let mut body = match verb {
            'd' => match num(arg) {
                Some(f) => format!("{}", f.trunc() as i64),
                None => format!("%!d({})", s(arg)),
            },
            'f' | 'F' => match num(arg) {
                Some(f) => format!("{:.*}", prec.unwrap_or(6), f),
                None => format!("%!f({})", s(arg)),
            },
            'g' => match num(arg) {
                Some(f) => match prec {
                    Some(p) => format!("{:.*}", p, f),
                    None => fmt_float(f),
                },
                None => format!("%!g({})", s(arg)),
            },
            'q' => serde_json::to_string(&s(arg)).unwrap_or_default(),
            'x' => match num(arg) {
                Some(f) if matches!(arg, Value::Number(_)) => format!("{:x}", f as i64),
                _ => s(arg).bytes().map(|b| format!("{b:02x}")).collect(),
            },
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                other => format!("%!t({})", s(other)),
            },
            _ => {
                let t = s(arg);
                match prec {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
        };
        if plus && matches!(verb, 'd' | 'f' | 'g') && !body.starts_with('-') {
            body.insert(0, '+');
        }
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if left {
                body.push_str(&" ".repeat(pad));
            } else if zero && matches!(verb, 'd' | 'f' | 'g') {
                let neg = body.starts_with('-') || body.starts_with('+');
                let at = usize::from(neg);
                body.insert_str(at, &"0".repeat(pad));
            } else {
                body.insert_str(0, &" ".repeat(pad));
            }
        }
        out.push_str(&body);
    }
    for extra in next {
        out.push_str(&format!("%!(EXTRA {})", s(extra)));
    }
    out
}
