"""Re-encodes an F32 GGUF (from lora4j export-gguf) with K-quants as llama.cpp's Q4_K_M (or Q5_K_M) mixes them:
Q4_K (Q5_K) for the matrices, Q6_K for the output head and, in the layers llama.cpp gives more bits (the first
eighth, the last eighth and every third between), for attn_v and ffn_down. Token embeddings Q4_K (Q5_K), norms
stay F32. The metadata
is copied byte for byte (only general.file_type changes). The block quantizers are whole-matrix numpy versions of
reference/quant_fixture.py's simple ones: any valid block decodes by the format's definition, which is all a
speed benchmark needs.

    /usr/bin/python3 bench/kquant_gguf.py IN_F32.gguf OUT.gguf [q4_k_m|q5_k_m]
"""
import os
import struct
import sys

import numpy as np

F32, Q4_K, Q5_K, Q6_K = 0, 12, 13, 14
f32 = np.float32
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def roundf(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def fp16(x):
    return np.asarray(x, dtype=f32).astype(np.float16)


def q4_k(w, five=False):
    top = 31 if five else 15
    subs = w.reshape(-1, 8, 32)
    mins = np.maximum(f32(0), -subs.min(axis=2)).astype(f32)
    scale = ((subs.max(axis=2) + mins) / f32(top)).astype(f32)
    dh, mh = fp16(scale.max(axis=1) / f32(63)), fp16(mins.max(axis=1) / f32(63))
    d, dmin = dh.astype(f32)[:, None], mh.astype(f32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d == 0, 0, np.minimum(63, roundf(scale / d))).astype(np.int32)
        mq = np.where(dmin == 0, 0, np.minimum(63, roundf(mins / dmin))).astype(np.int32)
        d1, m1 = (d * sc).astype(f32)[:, :, None], (dmin * mq).astype(f32)[:, :, None]
        q = np.where(d1 != 0, np.clip(roundf((subs + m1) / d1), 0, top), 0).astype(np.int32)
    scales = np.zeros((len(subs), 12), dtype=np.int32)
    scales[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    scales[:, 4:8] = mq[:, 0:4] | ((mq[:, 4:8] >> 4) << 6)
    scales[:, 8:12] = (sc[:, 4:8] & 0xF) | ((mq[:, 4:8] & 0xF) << 4)
    qs = ((q[:, 0::2] & 0xF) | ((q[:, 1::2] & 0xF) << 4)).reshape(-1, 128)
    parts = [dh[:, None].view(np.uint8), mh[:, None].view(np.uint8), scales.astype(np.uint8)]
    if five:  # Q5_K: each value's fifth bit, bit s of byte l for value l of sub-block s, before the nibbles
        parts.append(sum((q[:, s] >> 4) << s for s in range(8)).astype(np.uint8))
    return np.concatenate(parts + [qs.astype(np.uint8)], axis=1).tobytes()


def q6_k(w):
    sb = w.reshape(-1, 256)
    subs = sb.reshape(-1, 16, 16)
    scale = (np.abs(subs).max(axis=2) / f32(32)).astype(f32)
    dh = fp16(scale.max(axis=1) / f32(127))
    d = dh.astype(f32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d == 0, 0, np.minimum(127, roundf(scale / d))).astype(np.int32)
        ds = (d * sc).astype(f32)[:, :, None]
        q = np.where(ds != 0, np.clip(roundf(subs / ds), -32, 31), 0).astype(np.int32).reshape(-1, 256)
    u = q + 32
    ql, qh = np.zeros((len(sb), 128), dtype=np.int32), np.zeros((len(sb), 64), dtype=np.int32)
    for n in (0, 128):
        q1, q2, q3, q4 = u[:, n:n + 32], u[:, n + 32:n + 64], u[:, n + 64:n + 96], u[:, n + 96:n + 128]
        ql[:, n // 2:n // 2 + 32] = (q1 & 0xF) | ((q3 & 0xF) << 4)
        ql[:, n // 2 + 32:n // 2 + 64] = (q2 & 0xF) | ((q4 & 0xF) << 4)
        qh[:, n // 4:n // 4 + 32] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
    return np.concatenate([ql.astype(np.uint8), qh.astype(np.uint8), sc.astype(np.int8).view(np.uint8), dh[:, None].view(np.uint8)], axis=1).tobytes()


class Reader:
    def __init__(self, buf):
        self.buf, self.at = buf, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.buf, self.at)
        self.at += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("Q")
        s = self.buf[self.at:self.at + n].decode()
        self.at += n
        return s

    def skip_value(self, t):
        if t == 8:
            self.string()
        elif t == 9:
            inner, n = self.take("I"), self.take("Q")
            for _ in range(n):
                self.skip_value(inner)
        else:
            self.at += SCALAR[t]


def more_bits(layer, layers):
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def main():
    src, dst = sys.argv[1], sys.argv[2]
    five = len(sys.argv) > 3 and sys.argv[3] == "q5_k_m"
    base = Q5_K if five else Q4_K
    buf = open(src, "rb").read()
    r = Reader(buf)
    assert r.take("4s") == b"GGUF" and r.take("I") == 3, "a GGUF v3 file"
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    kv_start, file_type_at, layers = r.at, None, 0
    for _ in range(n_kv):
        key, t = r.string(), r.take("I")
        if key == "general.file_type":
            file_type_at = r.at
        if key.endswith(".block_count"):
            layers = struct.unpack_from("<I", buf, r.at)[0]
        r.skip_value(t)
    metadata = bytearray(buf[kv_start:r.at])
    if file_type_at is not None:
        struct.pack_into("<I", metadata, file_type_at - kv_start, 17 if five else 15)
    tensors = []
    for _ in range(n_tensors):
        name, nd = r.string(), r.take("I")
        dims = [r.take("Q") for _ in range(nd)]
        t, off = r.take("I"), r.take("Q")
        assert t == F32, f"{name}: F32 input expected"
        tensors.append((name, dims, off))
    data_start = (r.at + 31) // 32 * 32
    infos, blobs, offset = b"", [], 0
    for name, dims, off in tensors:
        count = int(np.prod(dims))
        w = np.frombuffer(buf, dtype=f32, count=count, offset=data_start + off)
        if len(dims) == 1:
            t, data = F32, w.tobytes()
        else:
            layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
            six = name == "output.weight" or (name.endswith(("attn_v.weight", "ffn_down.weight")) and more_bits(layer, layers))
            t = Q6_K if six else base
            data = q6_k(w) if six else q4_k(w, five)
        n = name.encode()
        infos += struct.pack("<Q", len(n)) + n + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", t, offset)
        blobs.append((offset, data))
        offset = (offset + len(data) + 31) // 32 * 32
    head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + bytes(metadata) + infos
    head += b"\0" * ((len(head) + 31) // 32 * 32 - len(head))
    body = bytearray(offset)
    for at, data in blobs:
        body[at:at + len(data)] = data
    with open(dst + ".tmp", "wb") as f:
        f.write(head + bytes(body))
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    main()
