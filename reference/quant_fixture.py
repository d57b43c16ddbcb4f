"""Quantized weight formats written from their definitions, independently of lora4j: int8 with one absmax
scale per output row; NF4 (the QLoRA paper: 4-bit NormalFloat, blocks of 64, block absmaxes double
quantized with bitsandbytes' 8-bit dynamic map in blocks of 256 after subtracting their mean); and
GGML's Q8_0, Q4_0, Q4_K, Q5_K and Q6_K blocks as llama.cpp's ggml-quants.c lays them out. Every arithmetic
step is float32 in the order written, so the dequantized values are exact bit patterns.

Writes fixtures/quant.json: for each format, the input rows, the quantized bytes (base64) and the
dequantized values. lora4j must produce the same bytes (int8, NF4, Q8_0, Q4_0) and the same values
(all seven) bit for bit. The Q4_K, Q5_K and Q6_K quantizers here are simple ones (any valid block decodes by
the same rule); lora4j only reads those formats.

    /usr/bin/python3 reference/quant_fixture.py
"""
import base64
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lora4j-core", "src", "test", "resources", "fixtures")
f32 = np.float32

# QLoRA's NF4 code book (Dettmers et al. 2023, appendix E; bitsandbytes' table).
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=f32)


def dynamic_map():
    """bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), in float64, then float32."""
    data = []
    for i in range(7):
        n = 2 ** i + 1
        step = (1.0 - 0.1) / (n - 1)
        b = [0.1 + k * step for k in range(n - 1)] + [1.0]
        means = [(b[k] + b[k + 1]) / 2.0 for k in range(n - 1)]
        p = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0][i]
        data += [p * m for m in means] + [-p * m for m in means]
    data += [0.0, 1.0]
    return np.array(sorted(data), dtype=np.float64).astype(f32)


DYN = dynamic_map()


def nearest(table, v):
    """Index of the table value nearest v (in float64), the lower index on a tie."""
    d = np.abs(table.astype(np.float64) - float(v))
    return int(np.argmin(d))


def fp16(x):
    return np.array([x], dtype=f32).astype(np.float16)


def roundf(x):
    """C's roundf: half away from zero (exact: float32 values plus 0.5 in float64)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def int8_rows(w):
    out, vals = bytearray(), []
    for row in w:
        amax = f32(np.max(np.abs(row)))
        d = f32(amax / f32(127))
        inv = f32(f32(1) / d) if d != 0 else f32(0)
        q = np.clip(roundf(row * inv), -127, 127).astype(np.int8)
        out += np.array([d], dtype=f32).tobytes() + q.tobytes()
        vals.append(q.astype(f32) * d)
    return out, np.stack(vals)


def nf4(w):
    flat = w.reshape(-1)
    blocks = flat.reshape(-1, 64)
    absmax = np.max(np.abs(blocks), axis=1).astype(f32)
    codes = np.zeros(blocks.shape, dtype=np.uint8)
    for b, block in enumerate(blocks):
        for j, v in enumerate(block):
            codes[b, j] = 7 if absmax[b] == 0 else nearest(NF4, f32(v / absmax[b]))
    offset = f32(np.mean(absmax.astype(np.float64)))
    centered = (absmax - offset).astype(f32)
    groups = centered.reshape(-1, 256) if centered.size % 256 == 0 else None
    n_groups = (centered.size + 255) // 256
    scales2, q2 = np.zeros(n_groups, dtype=f32), np.zeros(centered.size, dtype=np.uint8)
    for g in range(n_groups):
        part = centered[g * 256:(g + 1) * 256]
        s = f32(np.max(np.abs(part)))
        scales2[g] = s
        for j, c in enumerate(part):
            q2[g * 256 + j] = nearest(DYN, f32(0) if s == 0 else f32(c / s))
    packed = (codes[:, :32] | (codes[:, 32:] << 4)).astype(np.uint8)
    deq_absmax = np.array([f32(f32(DYN[q2[b]] * scales2[b // 256]) + offset) for b in range(len(blocks))], dtype=f32)
    vals = (NF4[codes] * deq_absmax[:, None]).astype(f32)
    data = {"codes": packed.tobytes(), "absmax_codes": q2.tobytes(), "scales2": scales2.tobytes(),
            "offset": np.array([offset], dtype=f32).tobytes()}
    return data, vals.reshape(w.shape)


def q8_0(w):
    out, vals = bytearray(), []
    for block in w.reshape(-1, 32):
        amax = f32(np.max(np.abs(block)))
        d = f32(amax / f32(127))
        inv = f32(f32(1) / d) if d != 0 else f32(0)
        q = roundf((block * inv).astype(f32)).astype(np.int8)
        dh = fp16(d)
        out += dh.tobytes() + q.tobytes()
        vals.append(q.astype(f32) * dh.astype(f32)[0])
    return out, np.concatenate(vals).reshape(w.shape)


def q4_0(w):
    out, vals = bytearray(), []
    for block in w.reshape(-1, 32):
        k = int(np.argmax(np.abs(block)))  # the first of equal magnitudes, as ggml's strict comparison keeps
        d = f32(block[k] / f32(-8))
        inv = f32(f32(1) / d) if d != 0 else f32(0)
        q = np.minimum(15, np.trunc((block * inv).astype(f32) + f32(8.5)).astype(np.int32)).astype(np.uint8)
        dh = fp16(d)
        out += dh.tobytes() + (q[:16] | (q[16:] << 4)).astype(np.uint8).tobytes()
        vals.append((q.astype(np.int32) - 8).astype(f32) * dh.astype(f32)[0])
    return out, np.concatenate(vals).reshape(w.shape)


def q4_k(w):
    return k_quant(w, 4)


def q5_k(w):
    """Q5_K as Q4_K, with 5-bit values: the low four bits in qs as Q4_K's nibbles, the fifth in qh (bit s of byte l
    for value l of sub-block s), between the scales and qs."""
    return k_quant(w, 5)


def k_quant(w, bits):
    top = (1 << bits) - 1
    out, vals = bytearray(), []
    for sb in w.reshape(-1, 256):
        subs = sb.reshape(8, 32)
        mins = np.maximum(f32(0), -np.min(subs, axis=1)).astype(f32)
        scale = ((np.max(subs, axis=1) + mins) / f32(top)).astype(f32)
        d = fp16(np.max(scale) / f32(63)).astype(f32)[0]
        dmin = fp16(np.max(mins) / f32(63)).astype(f32)[0]
        sc = np.array([0 if d == 0 else min(63, int(roundf(s / d))) for s in scale], dtype=np.int32)
        mq = np.array([0 if dmin == 0 else min(63, int(roundf(m / dmin))) for m in mins], dtype=np.int32)
        q = np.zeros((8, 32), dtype=np.int32)
        y = np.zeros((8, 32), dtype=f32)
        for j in range(8):
            d1, m1 = f32(d * f32(sc[j])), f32(dmin * f32(mq[j]))
            if d1 != 0:
                q[j] = np.clip(roundf((subs[j] + m1) / d1), 0, top)
            y[j] = (d1 * q[j].astype(f32)).astype(f32) - m1
        scales = np.zeros(12, dtype=np.int32)
        for j in range(4):
            scales[j] = sc[j] | ((sc[j + 4] >> 4) << 6)
            scales[j + 4] = mq[j] | ((mq[j + 4] >> 4) << 6)
            scales[j + 8] = (sc[j + 4] & 0xF) | ((mq[j + 4] & 0xF) << 4)
        qs = np.concatenate([((q[2 * p] & 0xF) | ((q[2 * p + 1] & 0xF) << 4)) for p in range(4)]).astype(np.uint8)
        out += np.float16(d).tobytes() + np.float16(dmin).tobytes() + scales.astype(np.uint8).tobytes()
        if bits == 5:
            qh = np.zeros(32, dtype=np.int32)
            for j in range(8):
                qh |= (q[j] >> 4) << j
            out += qh.astype(np.uint8).tobytes()
        out += qs.tobytes()
        vals.append(y.reshape(-1))
    return out, np.concatenate(vals).reshape(w.shape)


def q6_k(w):
    out, vals = bytearray(), []
    for sb in w.reshape(-1, 256):
        subs = sb.reshape(16, 16)
        scale = (np.max(np.abs(subs), axis=1) / f32(32)).astype(f32)
        d = fp16(np.max(scale) / f32(127)).astype(f32)[0]
        sc = np.array([0 if d == 0 else min(127, int(roundf(s / d))) for s in scale], dtype=np.int32)
        q = np.zeros(256, dtype=np.int32)
        y = np.zeros(256, dtype=f32)
        for e in range(256):
            ds = f32(d * f32(sc[e // 16]))
            q[e] = 0 if ds == 0 else int(np.clip(roundf(sb[e] / ds), -32, 31))
            y[e] = f32(ds * f32(q[e]))
        u = q + 32
        ql, qh = np.zeros(128, dtype=np.int32), np.zeros(64, dtype=np.int32)
        for n in (0, 128):
            for l in range(32):
                q1, q2, q3, q4 = u[n + l], u[n + l + 32], u[n + l + 64], u[n + l + 96]
                ql[n // 2 + l] = (q1 & 0xF) | ((q3 & 0xF) << 4)
                ql[n // 2 + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4)
                qh[n // 4 + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
        out += ql.astype(np.uint8).tobytes() + qh.astype(np.uint8).tobytes() + sc.astype(np.int8).tobytes() + np.float16(d).tobytes()
        vals.append(y)
    return out, np.concatenate(vals).reshape(w.shape)


def b64(b):
    return base64.b64encode(bytes(b)).decode()


def main():
    rng = np.random.default_rng(20)
    rows, cols = 6, 512
    w = (rng.standard_normal((rows, cols)) * 0.05).astype(f32)
    w[1] = 0  # an all-zero row: zero scales must decode to zeros
    w[2, 7] = 3.0  # an outlier
    w[3, 100] = -2.5
    w[4] = (rng.standard_normal(cols) * 1e-4).astype(f32)  # tiny values
    out = {"rows": rows, "cols": cols, "input": w.reshape(-1).tolist(), "dynamic_map": DYN.tolist(), "formats": {}}
    for name, fn in (("int8", int8_rows), ("q8_0", q8_0), ("q4_0", q4_0), ("q4_k", q4_k), ("q6_k", q6_k), ("q5_k", q5_k)):
        data, vals = fn(w)
        out["formats"][name] = {"bytes": b64(data), "values": vals.reshape(-1).astype(f32).tolist()}
    data, vals = nf4(w)
    out["formats"]["nf4"] = {k: b64(v) for k, v in data.items()}
    out["formats"]["nf4"]["values"] = vals.reshape(-1).astype(f32).tolist()
    with open(os.path.join(OUT, "quant.json"), "w") as f:
        json.dump(out, f)
    print("quant: written", {k: len(v.get("bytes", "")) for k, v in out["formats"].items()})


if __name__ == "__main__":
    main()
