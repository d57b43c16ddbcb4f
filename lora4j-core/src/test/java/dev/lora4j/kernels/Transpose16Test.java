package dev.lora4j.kernels;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The in-register 16×16 transpose against element-by-element copying. (Packing from fp32 and bf16
 * segments goes through it too; GemmTest covers those sources.)
 */
class Transpose16Test {
    static final int ROWS = 20, STRIDE = 37, LD = 48; // a row stride and an output stride that are not 16

    @Test
    void blockEqualsThePlainTranspose() {
        assumeTrue(Transpose16.AVAILABLE, "needs 16 fp32 lanes");
        SplittableRandom rnd = new SplittableRandom(4);
        float[] src = new float[ROWS * STRIDE];
        for (int i = 0; i < src.length; i++) src[i] = (float) rnd.nextGaussian();
        for (int r0 : new int[] {0, 3})
            for (int c0 : new int[] {0, 5, 21}) {
                float[] out = new float[16 * LD + 7];
                Transpose16.block(src, r0 * STRIDE + c0, STRIDE, out, 7, LD);
                for (int r = 0; r < 16; r++)
                    for (int c = 0; c < 16; c++)
                        assertThat(out[7 + c * LD + r]).as("(%d, %d) from (%d, %d)", r, c, r0, c0)
                                .isEqualTo(src[(r0 + r) * STRIDE + c0 + c]);
            }
    }
}
