package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Finishes dot products in groups: each output of a matrix-vector product ends as a vector of partial
 * sums, whose lanes are then added in lane order (0, 1, ..., L−1, the order {@link VectorMath#sum}
 * uses). Adding the lanes of each vector one by one costs ≈ 50 instructions an output, a fifth of the
 * time of a decode step's 768-long rows; here a group of 16 vectors is transposed in registers
 * ({@link Transpose16}) and its columns added as vectors, so the 16 sums come out together, with the
 * same bits. Groups of other sizes, or other vector widths, fall back to the lane-by-lane sum.
 */
final class LaneSums {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Outputs finished together. */
    static final int GROUP = 16;

    private final float[] lanes; // (rows of A, GROUP, L): each output's vector of partial sums
    private final float[] transposed = new float[GROUP * L], total = new float[GROUP];

    /** Room for a group of outputs for each of {@code rows} rows of A. */
    LaneSums(int rows) {
        lanes = new float[rows * GROUP * L];
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

    /** The first {@code count} outputs put for A's row i, each the sum of its lanes in lane order; valid until the next call. */
    float[] finish(int i, int count) {
        int base = i * GROUP * L;
        if (count == GROUP && Transpose16.AVAILABLE) {
            Transpose16.block(lanes, base, L, transposed, 0, GROUP);
            FloatVector sum = FloatVector.zero(S); // 0 + lane 0 + lane 1 ..., exactly as the scalar sum starts
            for (int l = 0; l < L; l++) sum = sum.add(FloatVector.fromArray(S, transposed, l * GROUP));
            sum.intoArray(total, 0);
        } else {
            for (int q = 0; q < count; q++) {
                float s = 0f;
                for (int l = 0; l < L; l++) s += lanes[base + q * L + l];
                total[q] = s;
            }
        }
        return total;
    }
}
