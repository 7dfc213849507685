//! Every read endpoint of the history and read-API issues (#13, #18) that takes parameters
//! answers a bad one — a wrong value or one it does not take — with 400 `{error, parameter}`
//! naming it, and still answers 200 without it (the check refuses nothing it should serve).
//! Endpoints that take none ignore what they are sent.

use crate::support::TestServer;

fn assert_names(s: &TestServer, path: &str, param: &str) {
    let r = s.get(path);
    assert_eq!(r.status, 400, "{path}: {}", r.text());
    let v = r.json();
    assert_eq!(v["parameter"], param, "{path}: {v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains(param)),
        "{path}: {v}"
    );
}

#[test]
fn bad_query_parameters_are_400_naming_the_parameter_on_every_read_endpoint() {
    let s = TestServer::start(&[]);
    // (endpoint, a bad value of a parameter it takes) — `None` where it takes none.
    let endpoints: [(&str, Option<(&str, &str)>); 16] = [
        ("/api/charts", Some(("range", "2h"))),
        ("/api/storage-charts", Some(("range", "abc"))),
        ("/api/backups", Some(("vmid", "abc"))),
        ("/api/backups/unified", Some(("type", "disk"))),
        ("/api/backups/pve", Some(("since", "yesterday"))),
        ("/api/backups/pbs", Some(("limit", "0"))),
        ("/api/snapshots", Some(("offset", "-3"))),
        ("/api/diagnostics", None),
        ("/simple-stats", None),
        ("/api/config", None),
        ("/api/config/system", None),
        ("/api/system/settings", None),
        ("/api/settings", None),
        ("/api/guests/metadata", None),
        ("/api/storage", None),
        ("/api/storage/pve1-node1", None),
    ];
    for (path, bad) in endpoints {
        let ok = s.get(path);
        assert!(
            ok.status == 200 || (path.starts_with("/api/storage/") && ok.status == 404),
            "{path}: {}",
            ok.status
        );
        let Some((param, value)) = bad else {
            // An endpoint without parameters ignores what it is sent (clients add
            // cache-busters of every name), as Pulse does.
            let r = s.get(&format!("{path}?t=1700000000&vmdi=100"));
            assert_eq!(r.status, ok.status, "{path}: {}", r.text());
            continue;
        };
        assert_names(&s, &format!("{path}?{param}={value}"), param);
        // A misspelt filter is not silently ignored.
        assert_names(&s, &format!("{path}?vmdi=100"), "vmdi");
        // Named as sent, after percent-decoding.
        assert_names(&s, &format!("{path}?li%6Dit2=1"), "limit2");
    }
    // The usual cache-buster is allowed everywhere.
    assert_eq!(s.get("/api/backups?_=1700000000").status, 200);
    assert_eq!(s.get("/api/charts?range=5m&_=1").status, 200);
    s.stop();
}
