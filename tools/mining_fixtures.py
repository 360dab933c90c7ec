#!/usr/bin/env python3
"""Generate tests/data/mining_peers.txt: the peers' mined triplets, losses and gradients for the miners.

Definitions of record: SEMANTICS.md ("Pairwise distances and online mining"). Kept out of CI (needs torch and
pytorch-metric-learning); the Rust test tests/mining.rs parses the output without Python and without JSON.

Peers, all in float64 on the CPU, the gradient from `loss.backward()` into a fresh `x.grad`:
  * pml_batch_hard:  pytorch_metric_learning.miners.BatchHardMiner + losses.TripletMarginLoss
  * pml_semihard:    miners.TripletMarginMiner(margin, type_of_triplets="semihard") + TripletMarginLoss(margin)
  * pml_easy_hard:   miners.BatchEasyHardMiner() (its defaults: easy positives, semi-hard negatives)
                     + TripletMarginLoss
  * pml_all:         TripletMarginLoss with no miner (every valid triplet: the batch-all peer)
  * tf_semihard:     a torch port of TF Addons' triplet_semihard_loss (tensorflow_addons/losses/triplet.py):
                     pdist, the `pdist_tile > pdist^T` mask, masked_minimum / masked_maximum, the loss
                     sum(relu(margin + d_ap - d_neg) * mask_positives) / num_positives.
PML's loss uses its default AvgNonZeroReducer (the crate's Reduction::MeanActive); the TF port divides by the
number of positive pairs (the crate's Reduction::Mean over one triplet per pair: every anchor here has a
negative, so no pair is dropped, see SEMANTICS.md).

Distances: PML's LpDistance(normalize_embeddings=False) computes torch.cdist (the matmul form, which cancels)
and then `** power`. Here a subclass computes the difference form sum((x - y)^2): for power 2 that sum itself
(PML would give (sqrt(s))^2, equal in float64 to rounding), for power 1 its square root with gradient 0 at
s = 0 (cdist's backward rule and SEMANTICS.md's). The TF port uses the same difference form.

Differences the script avoids rather than papers over (SEMANTICS.md lists them): ties in distances (TF splits
the gradient, the crate takes the lowest row), v = 0 (TF passes a gradient), NaN, anchors without a negative
(TF uses distance 0). Every case is redrawn until every decision has a gap of at least 1e-3: distinct
distances in a row differ by 1e-3, |v| > 1e-3 and |d_an - d_ap - margin| > 1e-3 for every triplet.

Format (one record per line, fields separated by single spaces; '#' lines are comments):
    case <name>
    config peer=<pml_batch_hard|pml_semihard|pml_easy_hard|pml_all|tf_semihard> margin=<f>
           distance=<squared|exact> soft=<0|1> reduction=<mean_active|mean>       (one line)
    shape <N> <D>
    x <N*D float32 values, row-major>
    labels <N ints>
    triplets <3k ints: the peer's mined (a, p, n), sorted>
    loss <1 float>
    grad <N*D floats>
    end
Inputs are float32 values (so the crate reads them exactly); results are float64 printed with '%.17g'.

Usage:  .venv/bin/python tools/mining_fixtures.py
"""

import os
import sys

import numpy as np
import torch
import pytorch_metric_learning as pml
from pytorch_metric_learning import distances, losses, miners

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches", "peers"))
from tf_semihard import dist_mat, tf_semihard_parts  # noqa: E402
OUT = os.path.join(ROOT, "tests", "data", "mining_peers.txt")
GAP = 1e-3


class DiffLp(distances.LpDistance):
    """LpDistance in the difference form (see the module docstring)."""

    def compute_mat(self, query_emb, ref_emb):
        if ref_emb is None:
            ref_emb = query_emb
        s = ((query_emb[:, None, :] - ref_emb[None, :, :]) ** 2).sum(-1)
        if self.power == 2:
            return s
        pos = s > 0
        return torch.where(pos, s, torch.ones_like(s)).sqrt() * pos

    def forward(self, query_emb, ref_emb=None):
        # compute_mat already returns the final distance (no `** power` afterwards).
        return self.compute_mat(query_emb, ref_emb)


def tf_semihard(labels, x, margin, squared):
    """TF Addons' triplet_semihard_loss (the shared port) and the triplets it chose: per positive pair
    (a, p), the negative at distance semi_hard[a, p]."""
    loss, pdist, semi_hard, mask_positives, adjacency_not = tf_semihard_parts(labels, x, margin, squared)
    n = x.shape[0]
    trip = []
    for a in range(n):
        for p in range(n):
            if mask_positives[a, p] > 0:
                d = semi_hard[a, p].item()
                cands = [j for j in range(n) if adjacency_not[a, j] and abs(pdist[a, j].item() - d) < 1e-9]
                assert len(cands) == 1, "no tie by construction"
                trip.append((a, p, cands[0]))
    return loss, trip


def robust(x, labels, margin, squared):
    d = dist_mat(torch.from_numpy(x), squared).numpy()
    n = len(labels)
    for a in range(n):
        row = np.sort(np.delete(d[a], a))
        if len(row) > 1 and np.min(np.diff(row)) < GAP:
            return False
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            for q in range(n):
                if labels[q] == labels[a]:
                    continue
                t = d[a, q] - d[a, p]
                if abs(t - margin) < GAP or abs(t) < GAP:
                    return False
    return True


def pml_case(peer, x, labels, margin, squared, soft):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    lt = torch.tensor(labels)
    dist = DiffLp(normalize_embeddings=False, p=2, power=2 if squared else 1)
    loss_fn = losses.TripletMarginLoss(margin=margin, distance=dist, smooth_loss=soft)
    if peer == "pml_all":
        miner = None
    elif peer == "pml_batch_hard":
        miner = miners.BatchHardMiner(distance=dist)
    elif peer == "pml_semihard":
        miner = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=dist)
    elif peer == "pml_easy_hard":
        miner = miners.BatchEasyHardMiner(distance=dist)
    else:
        raise ValueError(peer)
    if miner is None:
        from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

        a, p, n = lmu.get_all_triplets_indices(lt)
        loss = loss_fn(xt, lt)
    else:
        with torch.no_grad():
            idx = miner(xt, lt)
        if len(idx) == 4:
            # BatchEasyHardMiner returns pairs (a, p, a, n) with one negative per anchor.
            a, p, a2, n = idx
            assert torch.equal(a, a2)
        else:
            a, p, n = idx
        loss = loss_fn(xt, lt, idx)
    loss.backward()
    trip = sorted(zip(a.tolist(), p.tolist(), n.tolist()))
    grad = xt.grad if xt.grad is not None else torch.zeros_like(xt)
    return loss.item(), trip, grad.numpy()


def main():
    rng = np.random.default_rng(20261203)
    lines = [
        "# Peer fixtures for the miners (definitions of record: SEMANTICS.md).",
        f"# Generated by tools/mining_fixtures.py with torch {torch.__version__}, "
        f"pytorch-metric-learning {pml.__version__}, numpy {np.__version__}, seed 20261203.",
        "# Format: see the docstring of tools/mining_fixtures.py. Compare with a tolerance.",
    ]
    count = 0
    peers = ["pml_batch_hard", "pml_semihard", "pml_easy_hard", "pml_all", "tf_semihard"]
    for peer in peers:
        for n, dim, classes in [(8, 3, 3), (12, 5, 4), (16, 8, 4), (10, 2, 2)]:
            for margin in [0.2, 1.0]:
                for squared in [True, False]:
                    for soft in [False, True]:
                        if soft and peer == "tf_semihard":
                            continue
                        for _ in range(1000):
                            x = rng.standard_normal((n, dim)).astype(np.float32)
                            labels = [i % classes for i in range(n)]
                            rng.shuffle(labels)
                            if robust(x.astype(np.float64), labels, margin, squared):
                                break
                        else:
                            raise RuntimeError("no robust draw")
                        x64 = x.astype(np.float64)
                        if peer == "tf_semihard":
                            xt = torch.tensor(x64, requires_grad=True)
                            loss, trip = tf_semihard(torch.tensor(labels), xt, margin, squared)
                            loss.backward()
                            loss, grad, red = loss.item(), xt.grad.numpy(), "mean"
                            trip = sorted(trip)
                        else:
                            loss, trip, grad = pml_case(peer, x64, labels, margin, squared, soft)
                            red = "mean_active"
                        name = f"{peer}_N{n}_D{dim}_m{margin}_{'sq' if squared else 'l2'}_soft{int(soft)}"
                        lines.append(f"case {name}")
                        lines.append(
                            f"config peer={peer} margin={margin!r} distance={'squared' if squared else 'exact'} "
                            f"soft={int(soft)} reduction={red}"
                        )
                        lines.append(f"shape {n} {dim}")
                        lines.append("x " + " ".join("%.9g" % v for v in x.reshape(-1)))
                        lines.append("labels " + " ".join(str(v) for v in labels))
                        lines.append("triplets " + " ".join(str(v) for t in trip for v in t))
                        lines.append("loss %.17g" % loss)
                        lines.append("grad " + " ".join("%.17g" % v for v in grad.reshape(-1)))
                        lines.append("end")
                        count += 1
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {count} cases to {OUT}")


if __name__ == "__main__":
    main()
