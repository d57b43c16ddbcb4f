package dev.lora4j.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** The formats' vector loads: bytes widened to fp32 vectors. Loaded only when a decoder runs vectorized. */
final class QuantVectors {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Bytes that widen into one float vector; vector decoding needs at least 8 lanes. */
    static final boolean AVAILABLE = L >= 8;
    static final VectorSpecies<Byte> BYTES = AVAILABLE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    /** NF4's 16 levels in one vector, where a vector holds 16 floats (table lookups by lane select). */
    static final FloatVector NF4_LEVELS = L == 16 ? FloatVector.fromArray(S, Nf4Matrix.LEVELS, 0) : null;

    private QuantVectors() {}

    /**
     * Σ w[wOff + p]·x[xOff + p] for p < k: four accumulators over runs of 4L, the rest into the first, lanes added
     * in lane order, then the last k % L products. Every quantized decode kernel sums in exactly this order (the
     * fused ones included), so a row's result does not depend on how it was computed or what else ran.
     */
    static float dot(float[] w, int wOff, float[] x, int xOff, int k, float[] lanes) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (; p + 4 * L <= k; p += 4 * L) {
            s0 = FloatVector.fromArray(S, w, wOff + p).fma(FloatVector.fromArray(S, x, xOff + p), s0);
            s1 = FloatVector.fromArray(S, w, wOff + p + L).fma(FloatVector.fromArray(S, x, xOff + p + L), s1);
            s2 = FloatVector.fromArray(S, w, wOff + p + 2 * L).fma(FloatVector.fromArray(S, x, xOff + p + 2 * L), s2);
            s3 = FloatVector.fromArray(S, w, wOff + p + 3 * L).fma(FloatVector.fromArray(S, x, xOff + p + 3 * L), s3);
        }
        for (; p + L <= k; p += L) s0 = FloatVector.fromArray(S, w, wOff + p).fma(FloatVector.fromArray(S, x, xOff + p), s0);
        float sum = finish(s0, s1, s2, s3, lanes);
        for (; p < k; p++) sum += w[wOff + p] * x[xOff + p];
        return sum;
    }

    /** The four accumulators added pairwise, then their lanes in lane order (reduceLanes sums in another order once compiled). */
    static float finish(FloatVector s0, FloatVector s1, FloatVector s2, FloatVector s3, float[] lanes) {
        s0.add(s1).add(s2.add(s3)).intoArray(lanes, 0);
        float sum = 0;
        for (int i = 0; i < L; i++) sum += lanes[i];
        return sum;
    }

    /** L int8 values at index i of a heap array, widened to fp32. */
    static FloatVector bytes(byte[] a, int i) {
        return (FloatVector) ByteVector.fromArray(BYTES, a, i).convertShape(VectorOperators.B2F, S, 0);
    }

    /** L int8 values at a byte offset, widened to fp32. */
    static FloatVector bytes(MemorySegment s, long at) {
        return (FloatVector) ByteVector.fromMemorySegment(BYTES, s, at, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, S, 0);
    }

    /** The low (high = false) or high 4-bit halves of L bytes at a byte offset, as fp32 in 0..15. */
    static FloatVector nibbles(MemorySegment s, long at, boolean high) {
        ByteVector v = ByteVector.fromMemorySegment(BYTES, s, at, ByteOrder.LITTLE_ENDIAN);
        v = high ? v.lanewise(VectorOperators.LSHR, 4) : v.and((byte) 0x0f);
        return (FloatVector) v.convertShape(VectorOperators.B2F, S, 0);
    }

    /** Q5_K's L values as fp32 in 0..31: low (or high) nibbles of the bytes at {@code low}, bit {@code bit} of those at {@code high} as 16. */
    static FloatVector fiveBits(MemorySegment s, long low, boolean highNibbles, long high, int bit) {
        ByteVector lo = raw(s, low);
        lo = highNibbles ? lo.lanewise(VectorOperators.LSHR, 4) : lo.and((byte) 0x0f);
        ByteVector fifth = raw(s, high).lanewise(VectorOperators.LSHR, bit).and((byte) 1).lanewise(VectorOperators.LSHL, 4);
        return (FloatVector) lo.or(fifth).convertShape(VectorOperators.B2F, S, 0);
    }

    /**
     * L positions of the four quarters of a Q6_K half: values (q − 32)·scale_quarter into dst[at + 32·quarter:]. A
     * quarter's low four bits are the low (quarters 0, 1) or high (2, 3) nibbles of the L bytes at {@code low} (0, 2) or
     * {@code low + 32} (1, 3); its high two, bit pair 2·quarter of the L bytes at {@code high}, read once for all four.
     */
    static void sixBitQuarters(MemorySegment s, long low, long high, float[] dst, int at, float c0, float c1, float c2, float c3) {
        ByteVector a = raw(s, low), b = raw(s, low + 32), h = raw(s, high);
        sixBits(a, b, h, 0).mul(c0).intoArray(dst, at);
        sixBits(a, b, h, 1).mul(c1).intoArray(dst, at + 32);
        sixBits(a, b, h, 2).mul(c2).intoArray(dst, at + 64);
        sixBits(a, b, h, 3).mul(c3).intoArray(dst, at + 96);
    }

    /** L bytes at a byte offset. */
    static ByteVector raw(MemorySegment s, long at) {
        return ByteVector.fromMemorySegment(BYTES, s, at, ByteOrder.LITTLE_ENDIAN);
    }

    /** Quarter 0-3 of a Q6_K half at L positions as fp32 q − 32, from its low bytes a (ql), b (ql + 32) and high bits h (qh). */
    static FloatVector sixBits(ByteVector a, ByteVector b, ByteVector h, int quarter) {
        ByteVector q = switch (quarter) {
            case 0 -> a.and((byte) 0x0f).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
            case 1 -> b.and((byte) 0x0f).or(h.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30));
            case 2 -> a.lanewise(VectorOperators.LSHR, 4).or(h.and((byte) 0x30));
            default -> b.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30));
        };
        return (FloatVector) q.sub((byte) 32).convertShape(VectorOperators.B2F, S, 0);
    }
}
