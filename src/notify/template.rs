//! The Go-template subset Pulse's webhook templates are written in (`{{.Level}}`,
//! `{{if eq .Level "critical"}}…{{else}}…{{end}}`, `{{.Level | title}}`, `{{printf "%.1f" .Value}}`,
//! `range`, `with`, variables, trim markers, comments), over `serde_json::Value` data.
//!
//! Why our own: gtmpl (the one Rust Go-template crate) has had no release since 2021 and stores
//! whole floats as integers, which breaks `printf "%.0f"` in 10 of Pulse's 11 built-in templates
//! (`../shared/research/rust-stack.md` §1c). This is ~600 lines and exactly what we need.
//!
//! Safety: rendering in [`Mode::Json`] escapes every action's output as the inside of a JSON
//! string, so a `"`, a newline or a control character in an alert message can never break the
//! payload or inject fields; the caller then validates the result as JSON. `jsonString` /
//! `toJson` produce complete JSON values and are emitted as they are.

use super::template_funcs::{call, truthy, walk};
pub use super::template_funcs::{json_escape, print};
use serde_json::Value;
use std::collections::HashMap;

/// A helper for callers that hold a map of parsed templates.
pub type Cache = HashMap<String, Template>;

/// How action output is written into the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As Go's text/template does (plain-text bodies, URLs).
    Text,
    /// Escaped for the inside of a JSON string.
    Json,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipe {
    /// `$x :=` / `$i, $v :=`.
    decl: Vec<String>,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    Sub(Pipe),
}

/// A parsed template; parse once at save time (errors refuse the save), render per alert.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

const MAX_OUTPUT: usize = 1 << 20;
const MAX_RANGE: usize = 10_000;

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let pieces = split(src)?;
        let mut p = Parser { pieces, at: 0 };
        let (nodes, end) = p.block()?;
        match end {
            None => Ok(Template { nodes }),
            Some(e) => Err(format!("unexpected {{{{{e}}}}}")),
        }
    }

    pub fn render(&self, data: &Value, mode: Mode) -> Result<String, String> {
        let mut r = Render {
            out: String::new(),
            vars: vec![("$".to_string(), data.clone())],
            mode,
        };
        r.nodes(&self.nodes, data)?;
        Ok(r.out)
    }
}

/// Parses and renders in one step.
pub fn render(src: &str, data: &Value, mode: Mode) -> Result<String, String> {
    Template::parse(src)?.render(data, mode)
}

enum Piece {
    Text(String),
    Action(String),
}

/// Splits the source into text and action pieces, applying `{{-` / `-}}` trimming.
fn split(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[open + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        let body_start = if trim_left { 1 } else { 0 };
        let close = find_close(&after[body_start..])
            .ok_or_else(|| "unclosed action: missing }}".to_string())?;
        let mut body = &after[body_start..body_start + close];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        let body = body.trim();
        if !(body.starts_with("/*") && body.ends_with("*/")) {
            out.push(Piece::Action(body.to_string()));
        }
        rest = &after[body_start + close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        out.push(Piece::Text(text.to_string()));
    }
    Ok(out)
}

/// The `}}` that closes an action, skipping string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

struct Parser {
    pieces: Vec<Piece>,
    at: usize,
}

impl Parser {
    /// Nodes up to an `else…` or `end` (returned as the terminating keyword text).
    fn block(&mut self) -> Result<(Vec<Node>, Option<String>), String> {
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let piece = &self.pieces[self.at];
            self.at += 1;
            match piece {
                Piece::Text(t) => nodes.push(Node::Text(t.clone())),
                Piece::Action(a) => {
                    let a = a.clone();
                    let (word, rest) = split_word(&a);
                    match word {
                        "end" | "else" => return Ok((nodes, Some(a))),
                        "if" => nodes.push(self.if_chain(rest)?),
                        "range" | "with" => {
                            let pipe = parse_pipe(rest)?;
                            let (body, end) = self.block()?;
                            let other = self.else_part(end, word)?;
                            nodes.push(if word == "range" {
                                Node::Range(pipe, body, other)
                            } else {
                                Node::With(pipe, body, other)
                            });
                        }
                        "define" | "template" | "block" | "break" | "continue" => {
                            return Err(format!("{{{{{word}}}}} is not supported"))
                        }
                        "" => return Err("empty action {{}}".into()),
                        _ => nodes.push(Node::Action(parse_pipe(&a)?)),
                    }
                }
            }
        }
        Ok((nodes, None))
    }

    fn if_chain(&mut self, cond: &str) -> Result<Node, String> {
        let mut arms = Vec::new();
        let mut pipe = parse_pipe(cond)?;
        loop {
            let (body, end) = self.block()?;
            arms.push((pipe, body));
            let end = end.ok_or("missing {{end}} for {{if}}")?;
            let (word, rest) = split_word(&end);
            if word == "end" {
                return Ok(Node::If(arms, Vec::new()));
            }
            let (w2, rest2) = split_word(rest);
            if w2 == "if" {
                pipe = parse_pipe(rest2)?;
                continue;
            }
            let (other, end) = self.block()?;
            match end.as_deref().map(split_word) {
                Some(("end", _)) => return Ok(Node::If(arms, other)),
                _ => return Err("missing {{end}} after {{else}}".into()),
            }
        }
    }

    fn else_part(&mut self, end: Option<String>, what: &str) -> Result<Vec<Node>, String> {
        let end = end.ok_or_else(|| format!("missing {{{{end}}}} for {{{{{what}}}}}"))?;
        if split_word(&end).0 == "end" {
            return Ok(Vec::new());
        }
        let (other, end) = self.block()?;
        match end.as_deref().map(split_word) {
            Some(("end", _)) => Ok(other),
            _ => Err(format!("missing {{{{end}}}} for {{{{{what}}}}}")),
        }
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.find(|c: char| c.is_whitespace()) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Ident(String),
    Bar,
    Open,
    Close,
    Assign,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < c.len() && c[*i] == '.' {
            *i += 1;
            let start = *i;
            while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
                *i += 1;
            }
            if *i > start {
                f.push(c[start..*i].iter().collect());
            }
        }
        f
    };
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                out.push(Tok::Bar);
                i += 1
            }
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Assign);
                i += 2
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1
            }
            '.' => out.push(Tok::Dot(fields(&mut i))),
            '$' => {
                let start = i;
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                let name: String = c[start..i].iter().collect();
                out.push(Tok::Var(name, fields(&mut i)));
            }
            '"' => {
                let start = i;
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= c.len() {
                    return Err("unterminated string".into());
                }
                i += 1;
                let lit: String = c[start..i].iter().collect();
                let v: Value =
                    serde_json::from_str(&lit).map_err(|_| format!("bad string {lit}"))?;
                out.push(Tok::Lit(v));
            }
            '`' => {
                let start = i + 1;
                i += 1;
                while i < c.len() && c[i] != '`' {
                    i += 1;
                }
                if i >= c.len() {
                    return Err("unterminated raw string".into());
                }
                out.push(Tok::Lit(Value::String(c[start..i].iter().collect())));
                i += 1;
            }
            '\'' => {
                // A character constant is a number in Go.
                let ch = *c.get(i + 1).ok_or("bad character constant")?;
                if c.get(i + 2) != Some(&'\'') {
                    return Err("bad character constant".into());
                }
                out.push(Tok::Lit(Value::from(ch as u32)));
                i += 3;
            }
            d if d.is_ascii_digit()
                || (d == '-' && c.get(i + 1).is_some_and(|n| n.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.' || c[i] == '_') {
                    i += 1;
                }
                let s: String = c[start..i].iter().collect();
                let v = if let Ok(n) = s.parse::<i64>() {
                    Value::from(n)
                } else {
                    let f: f64 = s.parse().map_err(|_| format!("bad number {s}"))?;
                    Value::from(f)
                };
                out.push(Tok::Lit(v));
            }
            a if a.is_alphabetic() || a == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                out.push(match w.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    _ => Tok::Ident(w),
                });
            }
            other => return Err(format!("unexpected character {other:?} in action")),
        }
    }
    Ok(out)
}

fn parse_pipe(s: &str) -> Result<Pipe, String> {
    let toks = lex(s)?;
    let mut at = 0;
    let pipe = pipe_of(&toks, &mut at)?;
    if at != toks.len() {
        return Err(format!("unexpected {:?} in {s:?}", toks[at]));
    }
    Ok(pipe)
}

fn pipe_of(t: &[Tok], at: &mut usize) -> Result<Pipe, String> {
    let mut decl = Vec::new();
    // `$x :=` or `$i, $v :=`
    let save = *at;
    while let Some(Tok::Var(name, f)) = t.get(*at) {
        if !f.is_empty() {
            break;
        }
        decl.push(name.clone());
        *at += 1;
        match t.get(*at) {
            Some(Tok::Comma) => *at += 1,
            Some(Tok::Assign) => {
                *at += 1;
                break;
            }
            _ => {
                decl.clear();
                *at = save;
                break;
            }
        }
    }
    let mut cmds = Vec::new();
    let mut args = Vec::new();
    while let Some(tok) = t.get(*at) {
        *at += 1;
        match tok {
            Tok::Close => {
                *at -= 1;
                break;
            }
            Tok::Bar => {
                if args.is_empty() {
                    return Err("missing command before |".into());
                }
                cmds.push(std::mem::take(&mut args));
            }
            Tok::Open => {
                let sub = pipe_of(t, at)?;
                if t.get(*at) != Some(&Tok::Close) {
                    return Err("missing )".into());
                }
                *at += 1;
                args.push(Arg::Sub(sub));
            }
            Tok::Dot(f) => args.push(Arg::Dot(f.clone())),
            Tok::Var(n, f) => args.push(Arg::Var(n.clone(), f.clone())),
            Tok::Lit(v) => args.push(Arg::Lit(v.clone())),
            Tok::Ident(w) => {
                if !is_func(w) {
                    return Err(format!("function {w:?} not defined"));
                }
                args.push(Arg::Func(w.clone()));
            }
            Tok::Assign | Tok::Comma => return Err("unexpected := or ,".into()),
        }
    }
    if args.is_empty() {
        return Err("missing value in pipeline".into());
    }
    cmds.push(args);
    Ok(Pipe { decl, cmds })
}

const FUNCS: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "not",
    "len",
    "index",
    "printf",
    "print",
    "println",
    "title",
    "upper",
    "lower",
    "urlquery",
    "urlencode",
    "urlpath",
    "pathescape",
    "jsonString",
    "toJson",
    "js",
    "html",
    "trim",
    "replace",
    "contains",
    "default",
];

fn is_func(w: &str) -> bool {
    FUNCS.contains(&w)
}

struct Render {
    out: String,
    vars: Vec<(String, Value)>,
    mode: Mode,
}

impl Render {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<(), String> {
        for n in nodes {
            if self.out.len() > MAX_OUTPUT {
                return Err("template output too large".into());
            }
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let (v, safe) = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let s = print(&v);
                        if safe || self.mode == Mode::Text {
                            self.out.push_str(&s);
                        } else {
                            self.out.push_str(&json_escape(&s));
                        }
                    }
                }
                Node::If(arms, other) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in arms {
                        if truthy(&self.pipe(cond, dot)?.0) {
                            self.nodes(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(other, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, other) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?.0;
                    if truthy(&v) {
                        self.nodes(body, &v)?;
                    } else {
                        self.nodes(other, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, other) => {
                    let mark = self.vars.len();
                    let v = self
                        .pipe(
                            &Pipe {
                                decl: Vec::new(),
                                cmds: p.cmds.clone(),
                            },
                            dot,
                        )?
                        .0;
                    let items: Vec<(Value, Value)> = match &v {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x.clone()))
                            .collect(),
                        Value::Object(m) => m
                            .iter()
                            .map(|(k, x)| (Value::String(k.clone()), x.clone()))
                            .collect(),
                        Value::Null => Vec::new(),
                        Value::Number(n) => (0..n.as_u64().unwrap_or(0).min(MAX_RANGE as u64))
                            .map(|i| (Value::from(i), Value::from(i)))
                            .collect(),
                        _ => return Err(format!("range can't iterate over {}", print(&v))),
                    };
                    if items.is_empty() {
                        self.nodes(other, dot)?;
                    }
                    for (k, x) in items.into_iter().take(MAX_RANGE) {
                        let inner = self.vars.len();
                        match p.decl.as_slice() {
                            [v] => self.vars.push((v.clone(), x.clone())),
                            [i, v] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((v.clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.nodes(body, &x)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    /// A pipeline's value and whether it is already JSON (from `jsonString` / `toJson`).
    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<(Value, bool), String> {
        let mut prev: Option<Value> = None;
        let mut safe = false;
        for cmd in &p.cmds {
            let (v, s) = self.cmd(cmd, dot, prev.take())?;
            prev = Some(v);
            safe = s;
        }
        let v = prev.unwrap_or(Value::Null);
        if let Some(name) = p.decl.last() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok((v, safe))
    }

    fn cmd(
        &mut self,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<(Value, bool), String> {
        if let Some(Arg::Func(name)) = args.first() {
            let mut vals = Vec::with_capacity(args.len());
            for a in &args[1..] {
                vals.push(self.arg(a, dot)?);
            }
            if let Some(p) = piped {
                vals.push(p);
            }
            let safe = matches!(name.as_str(), "jsonString" | "toJson");
            return Ok((call(name, &vals)?, safe));
        }
        if args.len() > 1 || piped.is_some() {
            return Err("can't give arguments to a non-function".into());
        }
        Ok((self.arg(&args[0], dot)?, false))
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
        Ok(match a {
            Arg::Dot(f) => walk(dot, f),
            Arg::Var(n, f) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable {n}"))?;
                walk(&v, f)
            }
            Arg::Lit(v) => v.clone(),
            Arg::Func(name) => call(name, &[])?,
            Arg::Sub(p) => self.pipe(p, dot)?.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({"Level": "critical", "Message": "CPU \"hot\"\nline2 ✓", "Value": 95.53,
               "Threshold": 80.0, "Neg": -1.5, "Alerts": [{"Name": "a"}, {"Name": "b"}],
               "CustomFields": {"routing_key": "abc"}})
    }

    #[test]
    fn fields_functions_and_control_flow() {
        let d = data();
        let r = |t: &str| render(t, &d, Mode::Text).unwrap();
        assert_eq!(r("{{.Level | title}}"), "Critical");
        assert_eq!(r("{{.Level | upper}}/{{lower \"AB\"}}"), "CRITICAL/ab");
        assert_eq!(
            r("{{printf \"%.0f\" .Threshold}}|{{printf \"%.1f\" .Value}}"),
            "80|95.5"
        );
        assert_eq!(r("{{printf \"%.1f\" .Neg}}"), "-1.5");
        assert_eq!(r("{{.Value}} {{.Threshold}}"), "95.53 80");
        assert_eq!(
            r("{{if eq .Level \"warning\"}}W{{else if eq .Level \"critical\"}}C{{else}}I{{end}}"),
            "C"
        );
        assert_eq!(
            r("{{range $i, $a := .Alerts}}{{$i}}={{$a.Name}};{{end}}"),
            "0=a;1=b;"
        );
        assert_eq!(r("{{range .Alerts}}{{.Name}}{{end}}"), "ab");
        assert_eq!(r("{{with .CustomFields}}{{.routing_key}}{{end}}"), "abc");
        assert_eq!(r("{{.Nope}}"), "<no value>");
        assert_eq!(r("a  {{- /* c */ -}}  b"), "ab");
        assert_eq!(r("{{len .Alerts}} {{index .Alerts 1 \"Name\"}}"), "2 b");
        assert_eq!(r("{{if and (gt .Value 90.0) (lt .Value 99)}}y{{end}}"), "y");
        assert_eq!(
            r("{{urlquery \"a b&c\"}} {{pathescape \"a b/c\"}}"),
            "a+b%26c a%20b%2Fc"
        );
        assert_eq!(r("{{$x := .Level}}{{$x}}"), "critical");
    }

    #[test]
    fn json_mode_escapes_values_and_keeps_json_helpers() {
        let d = data();
        let out = render(
            "{\"m\": \"{{.Message}}\", \"v\": {{.Value}}}",
            &d,
            Mode::Json,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["m"], "CPU \"hot\"\nline2 ✓");
        let out = render("{\"m\": {{jsonString .Message}}}", &d, Mode::Json).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["m"], "CPU \"hot\"\nline2 ✓");
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "{{.Level",
            "{{if .Level}}x",
            "{{end}}",
            "{{nosuchfunc .Level}}",
            "{{\"unterminated}}",
            "{{else}}",
            "{{template \"x\"}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
