//! Layering: the state model must not depend on the monitor (issue #10). What both need
//! (instance kinds, poll error classes) lives in `state::instance`.

#[test]
fn state_never_uses_the_monitor() {
    let dir = format!("{}/src/state", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("src/state exists").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(
                !text.contains("crate::monitor"),
                "{} depends on the monitor",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "only {checked} files looked at");
}
