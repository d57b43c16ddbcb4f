package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Finished groups against one vector at a time, and that against the tree written out in scalars: the same bits. */
class LaneSumsTest {
    @Test
    void groupSumsEqualOneVectorAtATimeBitForBit() {
        SplittableRandom rnd = new SplittableRandom(11);
        int l = FloatVector.SPECIES_PREFERRED.length(), rowsOfA = 3;
        for (int count : new int[] {LaneSums.GROUP, 1, 7, LaneSums.GROUP - 1}) {
            LaneSums sums = new LaneSums(rowsOfA);
            float[][][] put = new float[rowsOfA][count][l];
            for (int i = 0; i < rowsOfA; i++)
                for (int q = 0; q < count; q++) {
                    // magnitudes far apart, so that any other order of the adds rounds differently
                    for (int k = 0; k < l; k++) put[i][q][k] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-3, 6)));
                    if (q == 2) java.util.Arrays.fill(put[i][q], -0f); // 0 + (−0) + ... is +0, as the scalar sum gives
                    sums.put(i, q, FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, put[i][q], 0));
                }
            for (int i = 0; i < rowsOfA; i++) {
                float[] total = sums.finish(i, count);
                for (int q = 0; q < count; q++)
                    assertThat(Float.floatToRawIntBits(total[q])).as("count %d, row %d, output %d", count, i, q)
                            .isEqualTo(Float.floatToRawIntBits(VectorMath.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, put[i][q], 0))));
            }
        }
    }

    @Test
    void vectorSumIsTheTreeOfItsLanes() {
        SplittableRandom rnd = new SplittableRandom(12);
        int l = FloatVector.SPECIES_PREFERRED.length();
        for (int trial = 0; trial < 200; trial++) {
            float[] v = new float[l];
            for (int k = 0; k < l; k++) v[k] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-3, 6)));
            float[] tree = v.clone(); // lane l + h onto lane l, h = L/2, L/4, ..., 1; then 0 + lane 0
            for (int h = l / 2; h > 0; h /= 2)
                for (int k = 0; k < h; k++) tree[k] = tree[k] + tree[k + h];
            float sum = VectorMath.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, v, 0));
            assertThat(Float.floatToRawIntBits(sum)).as("trial %d", trial).isEqualTo(Float.floatToRawIntBits(0f + tree[0]));
        }
    }
}
