package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Finished groups against the lane-by-lane sum that decoding used before: the same bits, whole groups or not. */
class LaneSumsTest {
    @Test
    void groupSumsEqualTheLaneByLaneSumBitForBit() {
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
}
