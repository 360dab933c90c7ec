"""A port of tensorflow_addons.losses.triplet_semihard_loss to torch (its masked_minimum / masked_maximum and
its n^2 x n tiles included), shared by the mining peer script (timed, float32) and tools/mining_fixtures.py
(parity fixtures, float64)."""

import torch


def dist_mat(x, squared):
    """Pairwise distances in the difference form; the Euclidean one with a 0 (sub)gradient at 0."""
    s = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    if squared:
        return s
    pos = s > 0
    return torch.where(pos, s, torch.ones_like(s)).sqrt() * pos


def tf_semihard_parts(labels, x, margin, squared):
    """TF's loss, and what it chose: (loss, pdist, semi_hard, mask_positives, adjacency_not), all in x's
    dtype. The loss is the mean over positive pairs of max(0, margin + d_ap - semi_hard)."""
    pdist = dist_mat(x, squared)
    lab = labels.reshape(-1, 1)
    adjacency = lab == lab.T
    adjacency_not = ~adjacency
    n = x.shape[0]
    dt = x.dtype

    def masked_maximum(data, mask):
        axis_minimums = data.min(1, keepdim=True).values
        return ((data - axis_minimums) * mask).max(1, keepdim=True).values + axis_minimums

    def masked_minimum(data, mask):
        axis_maximums = data.max(1, keepdim=True).values
        return ((data - axis_maximums) * mask).min(1, keepdim=True).values + axis_maximums

    pdist_tile = pdist.repeat(n, 1)
    mask = adjacency_not.repeat(n, 1) & (pdist_tile > pdist.T.reshape(-1, 1))
    mask_final = (mask.sum(1, keepdim=True) > 0).reshape(n, n).T
    negatives_outside = masked_minimum(pdist_tile, mask.to(dt)).reshape(n, n).T
    negatives_inside = masked_maximum(pdist, adjacency_not.to(dt)).repeat(1, n)
    semi_hard = torch.where(mask_final, negatives_outside, negatives_inside)
    loss_mat = margin + pdist - semi_hard
    mask_positives = adjacency.to(dt) - torch.eye(n, dtype=dt)
    loss = torch.clamp_min(loss_mat * mask_positives, 0.0).sum() / mask_positives.sum()
    return loss, pdist, semi_hard, mask_positives, adjacency_not
