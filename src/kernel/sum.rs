//! The crate's repeatable `f64` sum: items are summed in order inside fixed blocks of [`BLOCK`] items
//! (block `b` holds items `b·BLOCK .. (b + 1)·BLOCK`), and the block sums are folded in block order.
//!
//! A multi-core version can give each thread whole blocks and fold the block sums in order afterwards:
//! the result is then the same bits for any number of threads. The block boundaries are fixed by the
//! item's position (an anchor's row, a triplet's number), never by how many items contributed, so an
//! item that contributes nothing is still added (as `0`).

/// Items per block.
pub(crate) const BLOCK: usize = 256;

/// An accumulator for one sum over items `0, 1, 2, …` (added in that order).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockSum {
    /// The folded sums of the finished blocks, in block order.
    total: f64,
    /// The running sum of the current block.
    block: f64,
    /// Items in the current block.
    items: usize,
}

impl BlockSum {
    /// Adds the next item.
    #[inline(always)]
    pub(crate) fn add(&mut self, x: f64) {
        self.block = if self.items == 0 { x } else { self.block + x };
        self.items += 1;
        if self.items == BLOCK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.total += self.block;
        self.block = 0.0;
        self.items = 0;
    }

    /// The sum of every item added: the finished blocks' sums folded in order, then the last block's.
    pub(crate) fn total(mut self) -> f64 {
        if self.items > 0 {
            self.flush();
        }
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_fold_in_order() {
        // 600 items: blocks of 256, 256, 88; each block is summed from its first item.
        let item =
            |i: usize| 1.0 + (i as f64) * 1e-17 + if i.is_multiple_of(7) { 1e16 } else { 0.0 };
        let mut s = BlockSum::default();
        for i in 0..600 {
            s.add(item(i));
        }
        let block = |r: core::ops::Range<usize>| {
            let mut b = item(r.start);
            for i in r.start + 1..r.end {
                b += item(i);
            }
            b
        };
        let want = ((0.0 + block(0..256)) + block(256..512)) + block(512..600);
        assert_eq!(s.total().to_bits(), want.to_bits());
        assert_eq!(BlockSum::default().total(), 0.0);
    }
}
