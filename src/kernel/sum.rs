//! The crate's repeatable `f64` sum: items are summed in order inside fixed blocks of [`BLOCK`] items
//! (block `b` holds items `b·BLOCK .. (b + 1)·BLOCK`), and the block sums are folded in block order.
//!
//! A multi-core version can give each thread whole blocks and fold the block sums in order afterwards:
//! the result is then the same bits for any number of threads. The block boundaries are fixed by the
//! item's position (an anchor's row, a triplet's number), never by how many items contributed, so an
//! item that contributes nothing is still added (as `0`).

/// Items per block.
pub(crate) const BLOCK: usize = 256;

/// Accumulators for `K` sums over the same items `0, 1, 2, …` (one block counter for all of them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockSums<const K: usize> {
    /// The folded sums of the finished blocks, in block order.
    total: [f64; K],
    /// The running sums of the current block.
    block: [f64; K],
    /// Items in the current block.
    items: usize,
}

impl<const K: usize> Default for BlockSums<K> {
    fn default() -> Self {
        Self {
            total: [0.0; K],
            block: [0.0; K],
            items: 0,
        }
    }
}

impl<const K: usize> BlockSums<K> {
    /// Adds the next item's `K` values.
    #[inline(always)]
    pub(crate) fn add(&mut self, x: [f64; K]) {
        for k in 0..K {
            self.block[k] = if self.items == 0 {
                x[k]
            } else {
                self.block[k] + x[k]
            };
        }
        self.items += 1;
        if self.items == BLOCK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for k in 0..K {
            self.total[k] += self.block[k];
            self.block[k] = 0.0;
        }
        self.items = 0;
    }

    /// The sums of every item added: the finished blocks' sums folded in order, then the last block's.
    pub(crate) fn totals(mut self) -> [f64; K] {
        if self.items > 0 {
            self.flush();
        }
        self.total
    }
}

/// An accumulator for one sum over items `0, 1, 2, …` (added in that order).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockSum(BlockSums<1>);

impl BlockSum {
    /// Adds the next item.
    #[inline(always)]
    pub(crate) fn add(&mut self, x: f64) {
        self.0.add([x]);
    }

    /// The sum of every item added: the finished blocks' sums folded in order, then the last block's.
    pub(crate) fn total(self) -> f64 {
        self.0.totals()[0]
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
