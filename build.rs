//! Embeds every file under `assets/` into the binary: generates `$OUT_DIR/assets.rs` with one
//! `include_bytes!` per file, so the web UI ships inside the single static binary.

use std::fs;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect(&p, base, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push((format!("/{}", rel.to_string_lossy()), p.clone()));
        }
    }
}

/// FNV-1a, 64 bit: a content fingerprint for cache busting (not security).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `/assets/main.js` → `/assets/main-1a2b3c4d5e6f7a8b.js`.
fn hashed_url(url: &str, bytes: &[u8]) -> String {
    let (stem, ext) = url.rsplit_once('.').unwrap_or((url, ""));
    format!("{stem}-{:016x}.{ext}", fnv1a(bytes))
}

/// The UI's own modules and styles live in `assets/app/`. They are served as `/assets/<name>`
/// under fingerprinted names (cached for a year), and `index.html` (never cached) is rewritten to name them: an
/// import map sends every module import to its fingerprinted file, `<link rel=modulepreload>`
/// fetches all modules at once instead of one import level at a time.
fn fingerprint(files: &mut [(String, PathBuf)], out_dir: &Path) {
    let mut map: Vec<(String, String)> = Vec::new();
    for (url, path) in files.iter_mut() {
        let Some(rest) = url.strip_prefix("/app/") else {
            continue;
        };
        let plain = format!("/assets/{rest}");
        let bytes = fs::read(&*path).expect("read asset");
        let hashed = hashed_url(&plain, &bytes);
        map.push((plain, hashed.clone()));
        *url = hashed;
    }
    let Some(index) = files.iter_mut().find(|(u, _)| u == "/index.html") else {
        return;
    };
    let mut html = fs::read_to_string(&index.1).expect("read index.html");
    let mut imports = String::new();
    let mut preload = String::new();
    for (plain, hashed) in &map {
        if plain.ends_with(".js") {
            if !imports.is_empty() {
                imports.push(',');
            }
            imports.push_str(&format!("\"{plain}\":\"{hashed}\""));
            preload.push_str(&format!("<link rel=\"modulepreload\" href=\"{hashed}\">\n"));
        }
    }
    let block =
        format!("<script type=\"importmap\">{{\"imports\":{{{imports}}}}}</script>\n{preload}");
    for (plain, hashed) in &map {
        html = html.replace(&format!("\"{plain}\""), &format!("\"{hashed}\""));
    }
    html = html.replace("<!--pulse:importmap-->", block.trim_end());
    let out = out_dir.join("index.html");
    fs::write(&out, html).expect("write index.html");
    index.1 = out;
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let assets = root.join("assets");
    println!("cargo:rerun-if-changed=assets");
    let mut files = Vec::new();
    collect(&assets, &assets, &mut files);
    for (_, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    fingerprint(&mut files, &out_dir);
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (url, path) in &files {
        code.push_str(&format!(
            "    ({url:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    fs::write(out_dir.join("assets.rs"), code).expect("write assets.rs");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PULSE_RUSTC_VERSION={version}");
    let build_time = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=PULSE_BUILD_EPOCH={build_time}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
