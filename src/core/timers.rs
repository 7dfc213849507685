//! A min-heap of deadlines. The event loop sleeps until the earliest one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

pub struct TimerHeap<T> {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    items: std::collections::HashMap<u64, T>,
    seq: u64,
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
            items: Default::default(),
            seq: 0,
        }
    }
}

impl<T> TimerHeap<T> {
    pub fn schedule(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq)));
        self.items.insert(self.seq, item);
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns every item due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Vec<T> {
        let mut due = Vec::new();
        while let Some(Reverse((at, seq))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            if let Some(item) = self.items.remove(&seq) {
                due.push(item);
            }
        }
        due
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        h.schedule(t0 + Duration::from_secs(2), "b");
        h.schedule(t0 + Duration::from_secs(1), "a");
        h.schedule(t0 + Duration::from_secs(5), "c");
        assert_eq!(h.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(h.pop_due(t0).is_empty());
        assert_eq!(h.pop_due(t0 + Duration::from_secs(3)), vec!["a", "b"]);
        assert_eq!(h.len(), 1);
    }
}
