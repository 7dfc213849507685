//! Headless Chromium driven over the DevTools protocol (CDP) with tungstenite: launch with
//! `--remote-debugging-port=0`, read the port from `DevToolsActivePort`, open one page target
//! in flat-session mode, then evaluate JavaScript, wait for conditions and take screenshots.
//! Every console error, uncaught exception, failed load and HTTP error answer is recorded, and
//! every request URL, so tests can assert "no errors" and "nothing left the server".
#![allow(dead_code)]

use serde_json::{json, Value};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// The browser binary: `PULSE_CHROMIUM` or Debian's `chromium`.
pub fn chromium_path() -> String {
    std::env::var("PULSE_CHROMIUM").unwrap_or_else(|_| "chromium".to_string())
}

pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    profile: PathBuf,
    /// Console errors, exceptions and failed loads, in order.
    pub errors: Vec<String>,
    /// HTTP answers with status ≥ 400: (status, URL).
    pub http_errors: Vec<(u16, String)>,
    /// Every URL the page requested.
    pub requests: Vec<String>,
}

impl Browser {
    /// Starts a fresh profile with a `width`×`height` viewport.
    pub fn launch(width: u32, height: u32) -> Browser {
        let profile = super::temp_dir("chromium");
        // Its own process group: Debian's `chromium` is a wrapper script, and on drop the
        // whole group (wrapper, browser, zygotes, renderers) must go, not just the script.
        let mut child = Command::new(chromium_path())
            .process_group(0)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); install Debian's chromium (.ci/run does)",
                    chromium_path()
                )
            });
        let port_file = profile.join("DevToolsActivePort");
        // Generous: on a loaded 2-core machine a cold Chromium start has taken over 30 s.
        let deadline = Instant::now() + Duration::from_secs(120);
        let (port, path) = loop {
            if let Ok(s) = std::fs::read_to_string(&port_file) {
                let mut lines = s.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().to_string(), path.trim().to_string());
                }
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("chromium exited early: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "chromium never wrote DevToolsActivePort"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect to CDP");
        stream
            .set_read_timeout(Some(Duration::from_secs(180)))
            .unwrap();
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .unwrap_or_else(|e| panic!("CDP handshake: {e}"));
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            profile,
            errors: Vec::new(),
            http_errors: Vec::new(),
            requests: Vec::new(),
        };
        let target = b.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().unwrap().to_string();
        let att = b.call_browser(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        );
        b.session = att["sessionId"].as_str().unwrap().to_string();
        for m in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            b.call(m, json!({}));
        }
        b.set_viewport(width, height);
        b
    }

    pub fn set_viewport(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}),
        );
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        match self.try_send(method, params, session) {
            Ok(v) => v,
            Err(e) => panic!("CDP {method} failed: {e}"),
        }
    }

    /// As `send`, with the protocol's error as a value.
    fn try_send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .expect("CDP send");
        loop {
            let m = self.read();
            if m["id"].as_u64() == Some(id) {
                if let Some(e) = m.get("error") {
                    return Err(e.clone());
                }
                return Ok(m["result"].clone());
            }
            self.event(&m);
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("CDP read") {
                Message::Text(t) => return serde_json::from_str(&t).expect("CDP JSON"),
                Message::Close(_) => panic!("CDP connection closed"),
                _ => {}
            }
        }
    }

    /// Records what the test asserts on: errors, failed loads, request URLs.
    fn event(&mut self, m: &Value) {
        let p = &m["params"];
        match m["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let text = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("exception");
                self.errors.push(format!("exception: {text}"));
            }
            "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| {
                                v["value"]
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v["description"].to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.errors
                    .push(format!("console.error: {}", args.join(" ")));
            }
            // "Failed to load resource: 401" is the network log's echo of an answer we
            // already record (with its URL) in http_errors.
            "Log.entryAdded"
                if p["entry"]["level"] == "error" && p["entry"]["source"] != "network" =>
            {
                self.errors.push(format!(
                    "log: {} {}",
                    p["entry"]["text"].as_str().unwrap_or(""),
                    p["entry"]["url"].as_str().unwrap_or("")
                ));
            }
            "Network.requestWillBeSent" => {
                if let Some(u) = p["request"]["url"].as_str() {
                    self.requests.push(u.to_string());
                }
            }
            "Network.responseReceived" => {
                let status = p["response"]["status"].as_u64().unwrap_or(0) as u16;
                if status >= 400 {
                    let url = p["response"]["url"].as_str().unwrap_or("").to_string();
                    self.http_errors.push((status, url));
                }
            }
            "Network.loadingFailed" => {
                let text = p["errorText"].as_str().unwrap_or("");
                // A navigation (reload after sign-in) cancels what the old page had in flight.
                if text != "net::ERR_ABORTED" && p["canceled"] != true {
                    self.errors
                        .push(format!("load failed: {text} ({})", p["type"]));
                }
            }
            _ => {}
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    /// Drains pending events for about `ms` milliseconds.
    pub fn pump(&mut self, ms: u64) {
        // A cheap round trip per step keeps reading events without a second socket mode.
        let deadline = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < deadline {
            self.call("Runtime.evaluate", json!({"expression": "1"}));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait("document.readyState === 'complete'", 30);
    }

    /// Evaluates `expr` (promises awaited) and returns its JSON value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating {expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is truthy; returns its value.
    pub fn wait(&mut self, expr: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let probe =
            format!("(() => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }})()");
        loop {
            // A probe that runs while the page navigates (a sign-in reloads it) loses its
            // document: that is "not yet", not a failure. Only probes are retried: they have
            // no side effects.
            let r = self.try_send(
                "Runtime.evaluate",
                json!({"expression": probe, "returnByValue": true, "awaitPromise": true}),
                true,
            );
            let v = match r {
                Ok(r) => r["result"]["value"].clone(),
                Err(e) if navigated(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                Err(e) => panic!("CDP Runtime.evaluate failed: {e}"),
            };
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s waiting for: {expr}\nerrors: {:?}",
                self.errors
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `selector` (scrolled into view).
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let ok = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.scrollIntoView({{block: 'center'}}); e.click(); return true; }})()"
        ));
        assert_eq!(ok, json!(true), "no element matches {selector}");
    }

    /// Presses a key as the keyboard would (trusted events: focus moves on Tab).
    /// `key` is one of Tab, Enter, Escape, ArrowDown, ArrowUp.
    pub fn press(&mut self, key: &str) {
        let code = match key {
            "Tab" => 9,
            "Enter" => 13,
            "Escape" => 27,
            "ArrowUp" => 38,
            "ArrowDown" => 40,
            other => panic!("no key code for {other}"),
        };
        let text = if key == "Enter" { "\r" } else { "" };
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code, "text": if kind == "keyDown" { text } else { "" }}),
            );
        }
    }

    /// Types into an input as a user would (value set + input event).
    pub fn fill(&mut self, selector: &str, text: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let val = serde_json::to_string(text).unwrap();
        let ok = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.focus(); e.value = {val}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
        ));
        assert_eq!(ok, json!(true), "no input matches {selector}");
    }

    /// Saves a PNG of the viewport (or the full page) to `path`.
    pub fn screenshot(&mut self, path: &Path, full_page: bool) {
        let mut params = json!({"format": "png"});
        if full_page {
            let m = self.call("Page.getLayoutMetrics", json!({}));
            let size = &m["cssContentSize"];
            params["captureBeyondViewport"] = json!(true);
            params["clip"] = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        }
        let r = self.call("Page.captureScreenshot", params);
        let png = data_encoding::BASE64
            .decode(r["data"].as_str().unwrap().as_bytes())
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely first (no response awaited), then end the whole process group.
        let close = json!({"id": u64::MAX, "method": "Browser.close"});
        let _ = self.ws.send(Message::Text(close.to_string().into()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: signals the process group we created for this browser, nothing else.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Where screenshots go: `target/ui-screenshots/` (kept as test artefacts).
pub fn artefact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/ui-screenshots")
        .join(name)
}

/// The protocol's answer when the page navigated away under an evaluation.
fn navigated(e: &Value) -> bool {
    let m = e["message"].as_str().unwrap_or("");
    m.contains("navigated or closed")
        || m.contains("Execution context was destroyed")
        || m.contains("Cannot find context")
}
