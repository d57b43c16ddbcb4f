package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 16×16 block of fp32 transposed in registers: sixteen rows are loaded as vectors and come out as
 * sixteen columns. Used for packing B = Wᵀ (a row-major weight read down its columns). Four rounds of
 * two-source lane selects (vpermt2ps on AVX-512) swap ever larger sub-blocks: 1×1, 2×2, 4×4, 8×8.
 * Copying through a tile element by element ran at ≈ 1.2 Gfloat/s here; this, at 3–6.
 * Only for 16-lane vectors ({@link #AVAILABLE}); otherwise {@link Gemm} keeps its scalar tile.
 */
final class Transpose16 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final boolean AVAILABLE = S.length() == 16;
    /** Round b keeps lanes j with (j & b) == 0 of the first row and takes the rest from the second row's lanes j − b (LOW), or the reverse (HIGH). */
    private static final FloatVector[] LOW = new FloatVector[4], HIGH = new FloatVector[4];

    static {
        if (AVAILABLE) {
            for (int s = 0; s < 4; s++) {
                int b = 1 << s;
                float[] lo = new float[16], hi = new float[16];
                for (int j = 0; j < 16; j++) {
                    lo[j] = (j & b) == 0 ? j : 16 + j - b;
                    hi[j] = (j & b) == 0 ? j + b : 16 + j;
                }
                LOW[s] = FloatVector.fromArray(S, lo, 0);
                HIGH[s] = FloatVector.fromArray(S, hi, 0);
            }
        }
    }

    private Transpose16() {}

    /**
     * Reads src[off + r·stride], 16 floats each, for rows r = 0..15, and writes dst[dstOff + c·ld + r]
     * = element (r, c): the block transposed. Written out pair by pair on purpose: sixteen named locals
     * stay in registers, while a FloatVector[] of them was boxed and ran many times slower. Heap arrays
     * only: callers copy other storage into an L1-resident tile first, which keeps this one body
     * monomorphic wherever it is inlined.
     */
    static void block(float[] src, int off, int stride, float[] dst, int dstOff, int ld) {
        FloatVector v0 = FloatVector.fromArray(S, src, off + 0 * stride);
        FloatVector v1 = FloatVector.fromArray(S, src, off + 1 * stride);
        FloatVector v2 = FloatVector.fromArray(S, src, off + 2 * stride);
        FloatVector v3 = FloatVector.fromArray(S, src, off + 3 * stride);
        FloatVector v4 = FloatVector.fromArray(S, src, off + 4 * stride);
        FloatVector v5 = FloatVector.fromArray(S, src, off + 5 * stride);
        FloatVector v6 = FloatVector.fromArray(S, src, off + 6 * stride);
        FloatVector v7 = FloatVector.fromArray(S, src, off + 7 * stride);
        FloatVector v8 = FloatVector.fromArray(S, src, off + 8 * stride);
        FloatVector v9 = FloatVector.fromArray(S, src, off + 9 * stride);
        FloatVector v10 = FloatVector.fromArray(S, src, off + 10 * stride);
        FloatVector v11 = FloatVector.fromArray(S, src, off + 11 * stride);
        FloatVector v12 = FloatVector.fromArray(S, src, off + 12 * stride);
        FloatVector v13 = FloatVector.fromArray(S, src, off + 13 * stride);
        FloatVector v14 = FloatVector.fromArray(S, src, off + 14 * stride);
        FloatVector v15 = FloatVector.fromArray(S, src, off + 15 * stride);
        FloatVector lo = LOW[0], hi = HIGH[0], x;
        x = lo.selectFrom(v0, v1); v1 = hi.selectFrom(v0, v1); v0 = x;
        x = lo.selectFrom(v2, v3); v3 = hi.selectFrom(v2, v3); v2 = x;
        x = lo.selectFrom(v4, v5); v5 = hi.selectFrom(v4, v5); v4 = x;
        x = lo.selectFrom(v6, v7); v7 = hi.selectFrom(v6, v7); v6 = x;
        x = lo.selectFrom(v8, v9); v9 = hi.selectFrom(v8, v9); v8 = x;
        x = lo.selectFrom(v10, v11); v11 = hi.selectFrom(v10, v11); v10 = x;
        x = lo.selectFrom(v12, v13); v13 = hi.selectFrom(v12, v13); v12 = x;
        x = lo.selectFrom(v14, v15); v15 = hi.selectFrom(v14, v15); v14 = x;
        lo = LOW[1]; hi = HIGH[1];
        x = lo.selectFrom(v0, v2); v2 = hi.selectFrom(v0, v2); v0 = x;
        x = lo.selectFrom(v1, v3); v3 = hi.selectFrom(v1, v3); v1 = x;
        x = lo.selectFrom(v4, v6); v6 = hi.selectFrom(v4, v6); v4 = x;
        x = lo.selectFrom(v5, v7); v7 = hi.selectFrom(v5, v7); v5 = x;
        x = lo.selectFrom(v8, v10); v10 = hi.selectFrom(v8, v10); v8 = x;
        x = lo.selectFrom(v9, v11); v11 = hi.selectFrom(v9, v11); v9 = x;
        x = lo.selectFrom(v12, v14); v14 = hi.selectFrom(v12, v14); v12 = x;
        x = lo.selectFrom(v13, v15); v15 = hi.selectFrom(v13, v15); v13 = x;
        lo = LOW[2]; hi = HIGH[2];
        x = lo.selectFrom(v0, v4); v4 = hi.selectFrom(v0, v4); v0 = x;
        x = lo.selectFrom(v1, v5); v5 = hi.selectFrom(v1, v5); v1 = x;
        x = lo.selectFrom(v2, v6); v6 = hi.selectFrom(v2, v6); v2 = x;
        x = lo.selectFrom(v3, v7); v7 = hi.selectFrom(v3, v7); v3 = x;
        x = lo.selectFrom(v8, v12); v12 = hi.selectFrom(v8, v12); v8 = x;
        x = lo.selectFrom(v9, v13); v13 = hi.selectFrom(v9, v13); v9 = x;
        x = lo.selectFrom(v10, v14); v14 = hi.selectFrom(v10, v14); v10 = x;
        x = lo.selectFrom(v11, v15); v15 = hi.selectFrom(v11, v15); v11 = x;
        lo = LOW[3]; hi = HIGH[3];
        x = lo.selectFrom(v0, v8); v8 = hi.selectFrom(v0, v8); v0 = x;
        x = lo.selectFrom(v1, v9); v9 = hi.selectFrom(v1, v9); v1 = x;
        x = lo.selectFrom(v2, v10); v10 = hi.selectFrom(v2, v10); v2 = x;
        x = lo.selectFrom(v3, v11); v11 = hi.selectFrom(v3, v11); v3 = x;
        x = lo.selectFrom(v4, v12); v12 = hi.selectFrom(v4, v12); v4 = x;
        x = lo.selectFrom(v5, v13); v13 = hi.selectFrom(v5, v13); v5 = x;
        x = lo.selectFrom(v6, v14); v14 = hi.selectFrom(v6, v14); v6 = x;
        x = lo.selectFrom(v7, v15); v15 = hi.selectFrom(v7, v15); v7 = x;
        v0.intoArray(dst, dstOff + 0 * ld);
        v1.intoArray(dst, dstOff + 1 * ld);
        v2.intoArray(dst, dstOff + 2 * ld);
        v3.intoArray(dst, dstOff + 3 * ld);
        v4.intoArray(dst, dstOff + 4 * ld);
        v5.intoArray(dst, dstOff + 5 * ld);
        v6.intoArray(dst, dstOff + 6 * ld);
        v7.intoArray(dst, dstOff + 7 * ld);
        v8.intoArray(dst, dstOff + 8 * ld);
        v9.intoArray(dst, dstOff + 9 * ld);
        v10.intoArray(dst, dstOff + 10 * ld);
        v11.intoArray(dst, dstOff + 11 * ld);
        v12.intoArray(dst, dstOff + 12 * ld);
        v13.intoArray(dst, dstOff + 13 * ld);
        v14.intoArray(dst, dstOff + 14 * ld);
        v15.intoArray(dst, dstOff + 15 * ld);
    }
}
