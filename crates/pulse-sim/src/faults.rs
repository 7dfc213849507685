//! The runtime fault table, shared by the connection threads.

use super::config::Fault;
use pulse_wire::Product;
use serde::{Deserialize, Serialize};

/// One injected fault: applies to `product` (or all) and paths starting with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub prefix: String,
    pub fault: Fault,
}

#[derive(Debug, Default)]
pub struct FaultTable {
    rules: Vec<FaultRule>,
}

impl FaultTable {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules
            .retain(|r| !(r.prefix == rule.prefix && r.product == rule.product));
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The fault for a request, longest matching prefix first. `WrongCertificate` is handled
    /// at the TLS layer and never returned here.
    pub fn lookup(&self, product: Product, path: &str) -> Option<Fault> {
        self.rules
            .iter()
            .filter(|r| applies(r, product) && path.starts_with(&r.prefix))
            .filter(|r| r.fault != Fault::WrongCertificate)
            .max_by_key(|r| r.prefix.len())
            .map(|r| r.fault.clone())
    }

    /// True when the product's HTTPS listener should present the wrong certificate.
    pub fn wrong_cert(&self, product: Product) -> bool {
        self.rules
            .iter()
            .any(|r| applies(r, product) && r.fault == Fault::WrongCertificate)
    }
}

fn applies(rule: &FaultRule, product: Product) -> bool {
    rule.product
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case(product.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_product_filters() {
        let mut t = FaultTable::default();
        t.add(FaultRule {
            product: None,
            prefix: "/nodes".into(),
            fault: Fault::Hang,
        });
        t.add(FaultRule {
            product: Some("pve".into()),
            prefix: "/nodes/pve1".into(),
            fault: Fault::Status { status: 500 },
        });
        assert_eq!(
            t.lookup(Product::Pve, "/nodes/pve1/status"),
            Some(Fault::Status { status: 500 })
        );
        assert_eq!(
            t.lookup(Product::Pbs, "/nodes/pve1/status"),
            Some(Fault::Hang)
        );
        assert_eq!(t.lookup(Product::Pve, "/version"), None);
        t.add(FaultRule {
            product: Some("pbs".into()),
            prefix: String::new(),
            fault: Fault::WrongCertificate,
        });
        assert!(t.wrong_cert(Product::Pbs));
        assert!(!t.wrong_cert(Product::Pve));
        t.clear();
        assert!(t.rules().is_empty());
    }
}
