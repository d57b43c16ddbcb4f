package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Finishes dot products in groups: each output of a matrix-vector product ends as a vector of partial
 * sums, whose lanes are then added as a tree, {@link VectorMath#sum}'s order: lane l and lane l + L/2
 * first, then l and l + L/4, and so on down to lanes 0 and 1, then 0 + that. Adding the lanes of each
 * vector one by one costs ≈ 50 instructions an output, a fifth of a decode step's 768-long rows; here
 * the vectors of a group are folded in pairs ({@link #fold}: two two-source selects and one add halve
 * the partial sums of two outputs at once), so a group of 16 costs 30 selects and 15 adds, and the 16
 * sums come out together, with the same bits as one at a time.
 */
final class LaneSums {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Outputs finished together. */
    static final int GROUP = 16;
    /** Fold rounds a vector of L lanes takes to one sum: log2(L). */
    static final int ROUNDS = Integer.numberOfTrailingZeros(L);
    /**
     * Round r halves blocks of 2h lanes (h = L >> (r + 1)), one block per output: LOW[r] selects the
     * low h lanes of each block, HIGH[r] the high h; the blocks of the first vector fill the low half of
     * the result, the second's the high half (indices ≥ L pick from the second vector).
     */
    static final FloatVector[] LOW = new FloatVector[ROUNDS], HIGH = new FloatVector[ROUNDS];

    static {
        for (int r = 0; r < ROUNDS; r++) {
            int h = L >> (r + 1), blocks = L / h;
            float[] lo = new float[L], hi = new float[L];
            for (int c = 0; c < blocks; c++) {
                int from = c < blocks / 2 ? 0 : L, block = c % (blocks / 2);
                for (int e = 0; e < h; e++) {
                    lo[c * h + e] = from + block * 2 * h + e;
                    hi[c * h + e] = from + block * 2 * h + h + e;
                }
            }
            LOW[r] = FloatVector.fromArray(S, lo, 0);
            HIGH[r] = FloatVector.fromArray(S, hi, 0);
        }
    }

    private final float[] lanes; // (rows of A, GROUP, L): each output's vector of partial sums
    private final float[] total = new float[GROUP];

    /** Room for a group of outputs for each of {@code rows} rows of A. */
    LaneSums(int rows) {
        lanes = new float[rows * GROUP * L];
    }

    /**
     * Round r of the tree over the outputs held in a and b (each as blocks of 2h partial sums, h = L >> (r + 1)):
     * a's outputs then b's, each now h partial sums.
     */
    static FloatVector fold(FloatVector a, FloatVector b, int r) {
        return LOW[r].selectFrom(a, b).add(HIGH[r].selectFrom(a, b));
    }

    /** Rows of A it has room for. */
    int rows() {
        return lanes.length / (GROUP * L);
    }

    /**
     * Where output q of A's row i is kept in {@link #lanes()}: kernels write their accumulators there
     * themselves, since handing vectors to a method that C2 does not inline boxes them.
     */
    static int at(int i, int q) {
        return (i * GROUP + q) * L;
    }

    float[] lanes() {
        return lanes;
    }

    /** Keeps output q (0 ≤ q < GROUP) of A's row i as its vector of partial sums. */
    void put(int i, int q, FloatVector partial) {
        partial.intoArray(lanes, (i * GROUP + q) * L);
    }

    /** The first {@code count} outputs put for A's row i, each the tree sum of its lanes; valid until the next call. */
    float[] finish(int i, int count) {
        int base = i * GROUP * L;
        if (L == GROUP) {
            // 16 outputs of 16 lanes: four rounds take 8, 4, 2, then 1 vector(s) of 16 outputs' partial sums
            float[] s = lanes;
            FloatVector v0 = fold(FloatVector.fromArray(S, s, base), FloatVector.fromArray(S, s, base + L), 0);
            FloatVector v1 = fold(FloatVector.fromArray(S, s, base + 2 * L), FloatVector.fromArray(S, s, base + 3 * L), 0);
            FloatVector v2 = fold(FloatVector.fromArray(S, s, base + 4 * L), FloatVector.fromArray(S, s, base + 5 * L), 0);
            FloatVector v3 = fold(FloatVector.fromArray(S, s, base + 6 * L), FloatVector.fromArray(S, s, base + 7 * L), 0);
            FloatVector v4 = fold(FloatVector.fromArray(S, s, base + 8 * L), FloatVector.fromArray(S, s, base + 9 * L), 0);
            FloatVector v5 = fold(FloatVector.fromArray(S, s, base + 10 * L), FloatVector.fromArray(S, s, base + 11 * L), 0);
            FloatVector v6 = fold(FloatVector.fromArray(S, s, base + 12 * L), FloatVector.fromArray(S, s, base + 13 * L), 0);
            FloatVector v7 = fold(FloatVector.fromArray(S, s, base + 14 * L), FloatVector.fromArray(S, s, base + 15 * L), 0);
            v0 = fold(v0, v1, 1);
            v2 = fold(v2, v3, 1);
            v4 = fold(v4, v5, 1);
            v6 = fold(v6, v7, 1);
            v0 = fold(v0, v2, 2);
            v4 = fold(v4, v6, 2);
            FloatVector.zero(S).add(fold(v0, v4, 3)).intoArray(total, 0); // 0 + sum, as VectorMath.sum ends
        } else {
            for (int q = 0; q < count; q++) total[q] = VectorMath.sum(FloatVector.fromArray(S, lanes, base + q * L));
        }
        return total;
    }
}
