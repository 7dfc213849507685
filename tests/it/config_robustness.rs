//! Hostile input never panics: random bytes and mutations of valid documents are fed to every
//! decoder and validator of the config layer, which must answer with values or errors.

use pulse::config::export::open_export;
use pulse::config::metadata::{GuestKey, GuestMetadataStore, GuestMetadataUpdate};
use pulse::config::model::host::normalize_host;
use pulse::config::model::node_edit::NodeRequest;
use pulse::config::model::nodes::{NodeType, NodesConfig};
use pulse::config::system::SystemSettings;
use pulse::setup::script::{render, ScriptParams};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A valid document with a few bytes changed, inserted or cut off.
    fn mutate(&mut self, doc: &[u8]) -> Vec<u8> {
        let mut d = doc.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(4) {
                0 if !d.is_empty() => {
                    let i = self.below(d.len());
                    d[i] = b"{}[]\",:0-9aZ\\ntrue"[self.below(18)];
                }
                1 => {
                    let i = self.below(d.len() + 1);
                    d.insert(i, self.next() as u8);
                }
                2 => {
                    let keep = self.below(d.len() + 1);
                    d.truncate(keep);
                }
                _ if !d.is_empty() => {
                    let i = self.below(d.len());
                    d.remove(i);
                }
                _ => {}
            }
        }
        d
    }

    fn text(&mut self, max: usize) -> String {
        const ALPHABET: &[u8] = b"abcXYZ0123456789.:-_/[]@!?#%' \"$`;\\\n\t\x7f";
        let len = self.below(max);
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
}

const NODES: &str = r#"{"pveInstances":[{"Name":"a","Host":"https://h:8006","User":"u@pam","Password":"p",
 "VerifySSL":false,"MonitorPhysicalDisks":null,"ClusterEndpoints":[{"NodeID":"n","Online":true,"LastSeen":"2024-01-01T00:00:00Z"}]}],
 "pbsInstances":[{"Name":"b","Host":"h","TokenName":"x@pbs!t","TokenValue":"v"}],"pmgInstances":[]}"#;
const SYSTEM: &str = r#"{"pbsPollingInterval":60,"discoveryConfig":{"max_concurrent":5,"subnet_blocklist":["169.254.0.0/16"]},"theme":"dark"}"#;
const METADATA: &str =
    r#"{"a-1":{"id":"a-1","customUrl":"https://x","tags":["t"]},"b-2":{"description":"d"}}"#;
const REQUEST: &str = r#"{"type":"pve","name":"n","host":"10.0.0.1:8006","user":"root","password":"p","verifySSL":true}"#;

#[test]
fn decoders_survive_random_and_mutated_input() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let noise = rng.bytes(200);
        let _ = NodesConfig::decode(&noise);
        let _ = SystemSettings::decode(&noise);
        let _ = GuestMetadataStore::decode(&noise);
        if let Ok(cfg) = NodesConfig::decode(&rng.mutate(NODES.as_bytes())) {
            // Whatever decodes must encode and decode to the same value.
            assert_eq!(NodesConfig::decode(&cfg.encode().unwrap()).unwrap(), cfg);
        }
        if let Ok(s) = SystemSettings::decode(&rng.mutate(SYSTEM.as_bytes())) {
            assert_eq!(SystemSettings::decode(&s.encode().unwrap()).unwrap(), s);
        }
        if let Ok(m) = GuestMetadataStore::decode(&rng.mutate(METADATA.as_bytes())) {
            assert_eq!(GuestMetadataStore::decode(&m.encode().unwrap()).unwrap(), m);
        }
    }
}

#[test]
fn validators_survive_hostile_requests() {
    let mut rng = Rng(42);
    let mut nodes = NodesConfig::default();
    let mut settings = SystemSettings::default();
    let mut metadata = GuestMetadataStore::default();
    for _ in 0..3000 {
        if let Ok(req) = serde_json::from_slice::<NodeRequest>(&rng.mutate(REQUEST.as_bytes())) {
            let _ = nodes.add_node(&req);
            let _ = nodes.update_node("pve-0", &req);
        }
        let text = rng.text(60);
        for t in NodeType::ALL {
            if let Ok(h) = normalize_host(t, &text) {
                assert!(
                    !h.contains(char::is_whitespace) && h.starts_with("http"),
                    "{h:?}"
                );
            }
        }
        let _ = GuestKey::parse(&text);
        if let Ok(patch) =
            serde_json::from_slice::<serde_json::Value>(&rng.mutate(SYSTEM.as_bytes()))
        {
            let before = settings.clone();
            if settings.apply_update(&patch).is_err() {
                assert_eq!(
                    settings, before,
                    "a rejected update must not change anything"
                );
            }
        }
        let update = GuestMetadataUpdate {
            custom_url: Some(text.clone()),
            description: None,
            tags: None,
        };
        let _ = metadata.set("g", &update);
    }
    assert!(
        !nodes.pve.is_empty(),
        "some mutated requests are still valid"
    );
}

#[test]
fn rendered_scripts_only_embed_safe_values() {
    let mut rng = Rng(7);
    let mut rendered = 0;
    for i in 0..2000 {
        let params = ScriptParams {
            node_type: NodeType::ALL[i % 3],
            host: Some(rng.text(40)),
            pulse_url: format!("http://{}", rng.text(30)),
            backup_perms: i % 2 == 0,
            auth_token: (i % 5 == 0).then(|| rng.text(70)),
            now: 1_700_000_000,
        };
        if let Ok(script) = render(&params) {
            rendered += 1;
            for line in script.lines().take(16).filter(|l| l.contains("='")) {
                let value = line.split_once("='").unwrap().1.strip_suffix('\'').unwrap();
                assert!(
                    !value.contains(['\'', '"', '$', '`', '\\', ';', ' ']),
                    "unsafe value in {line:?}"
                );
            }
        }
    }
    assert!(rendered > 0);
}

#[test]
fn export_decoder_rejects_garbage_without_panicking() {
    let mut rng = Rng(99);
    for _ in 0..30 {
        let noise = rng.text(120);
        assert!(open_export(&noise, "passphrase").is_err());
    }
}
