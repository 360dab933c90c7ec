#!/usr/bin/env python3
"""Writes the committed seed inputs of the `mining` target under fuzz/seeds/mining/.

The byte format is the one fuzz/src/mining.rs decodes (see its module docs; floats as in fuzz/src/lib.rs).
Rerun after changing the format:  python3 fuzz/gen_mining_seeds.py
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAN_INDEX = None  # SPECIALS order is not relied on: a NaN is written as raw bits (tag 3).


def u8(v):
    return bytes([v & 0xFF])


def grid(v):
    """An f32 multiple of 1/16 (tag 0: (p as i16) / 16)."""
    return u8(0) + struct.pack("<I", int(round(v * 16)) & 0xFFFF)


def bits(b):
    return u8(3) + struct.pack("<I", b)


NAN = bits(0x7FC00000)


def case(miner, margin_i=2, dist=0, soft=False, red=2, cap=None, block=None, n=0, dim=0, classes=2,
         extra=False, labels=(), m=0, r_labels=(), x=(), r=(), scratch=2, out=0, overwrite=True, up=1.0):
    s = struct.pack("<I", 1) + u8(miner) + u8(4 * margin_i + 1) + u8(dist)
    if dist == 2:
        s += u8(2)  # eps table entry 2 (1e-3)
    s += u8(int(soft)) + u8(red)
    s += (u8(0) + u8(cap)) if cap is not None else u8(1)
    s += (u8(0) + u8(block)) if block is not None else u8(1)
    s += u8(n) + u8(dim) + u8(classes - 1) + u8(0 if extra else 1)
    s += b"".join(u8(v) for v in labels)
    s += u8(m) + b"".join(u8(v) for v in r_labels)
    s += b"".join(v if isinstance(v, bytes) else grid(v) for v in x)
    s += b"".join(v if isinstance(v, bytes) else grid(v) for v in r)
    s += u8(scratch) + u8(out) + u8(int(overwrite)) + grid(up)
    return s


def seeds():
    s = {}
    x8 = [0, 1, 2, 3, 0.5, -1, 4, 2, -2, 1.5, 0, 0, 3, 3, -0.5, 2]
    for mi, name in enumerate(["batch_hard", "batch_all", "tf_semihard", "pml_semihard", "pml_easy_hard"]):
        s[name] = case(mi, n=8, dim=2, labels=[0, 1, 0, 1, 1, 0, 2, 2], classes=3, x=x8)
        s[name + "_soft_mean"] = case(mi, soft=True, red=1, n=8, dim=2, labels=[0, 1, 0, 1, 1, 0, 2, 2],
                                      classes=3, x=x8, overwrite=False)
        s[name + "_nan_row"] = case(mi, n=4, dim=1, labels=[0, 0, 1, 1], x=[0, 1, NAN, 3])
        s[name + "_reference_cap"] = case(mi, cap=2, n=5, dim=1, labels=[0, 0, 1, 1, 0], m=3,
                                          r_labels=[0, 1, 1], x=[0, 1, 2, 3, 4], r=[0, 2.5, -1])
        s[name + "_exact_blocks"] = case(mi, dist=1, block=3, n=7, dim=3, labels=[0, 1, 2, 0, 1, 2, 0],
                                         classes=3, x=[(i * 7 % 11) / 4 for i in range(21)])
    s["one_class"] = case(1, n=4, dim=2, labels=[1, 1, 1, 1], x=[0, 1, 2, 3, 4, 5, 6, 7])
    s["empty"] = case(0)
    s["bad_labels"] = case(0, n=3, dim=1, extra=True, labels=[0, 1, 0, 1], x=[0, 1, 2])
    s["short_scratch"] = case(1, n=3, dim=1, labels=[0, 1, 0], x=[0, 1, 2], scratch=0)
    s["short_triplets"] = case(1, n=4, dim=1, labels=[0, 1, 0, 1], x=[0, 1, 2, 3], out=1)
    s["eps_on_diff"] = case(0, dist=3, n=3, dim=1, labels=[0, 1, 0], x=[0, 1, 2])
    s["reduction_none"] = case(0, red=3, n=3, dim=1, labels=[0, 1, 0], x=[0, 1, 2])
    s["zero_block"] = case(0, block=0, n=3, dim=1, labels=[0, 1, 0], x=[0, 1, 2])
    return s


def main():
    d = os.path.join(HERE, "seeds", "mining")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    ss = seeds()
    for name, data in ss.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    print("mining: %d seeds" % len(ss))


if __name__ == "__main__":
    main()
