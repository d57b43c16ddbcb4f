package dev.lora4j.kernels;

import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Mat;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The in-register 16×16 transpose against element-by-element copying, from heap, fp32 and bf16 segments. */
class Transpose16Test {
    static final int ROWS = 20, COLS = 40, STRIDE = 37, LD = 48; // a row stride and an output stride that are not 16

    @Test
    void blockEqualsThePlainTranspose() {
        assumeTrue(Transpose16.AVAILABLE, "needs 16 fp32 lanes");
        SplittableRandom rnd = new SplittableRandom(4);
        float[] heap = new float[ROWS * STRIDE + COLS];
        for (int i = 0; i < heap.length; i++) heap[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f32 = arena.allocate(heap.length * 4L), bf16 = arena.allocate(heap.length * 2L);
            for (int i = 0; i < heap.length; i++) {
                f32.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 4L, heap[i]);
                bf16.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 2L, (short) (Float.floatToRawIntBits(heap[i]) >>> 16));
            }
            Mat[] sources = {Mat.of(heap, 0, ROWS, STRIDE), Mat.of(f32, 0, ROWS, STRIDE), Mat.of(bf16, 0, ROWS, STRIDE, DType.BF16)};
            for (Mat m : sources)
                for (int r0 : new int[] {0, 3})
                    for (int c0 : new int[] {0, 5, 21}) {
                        float[] out = new float[16 * LD + 7];
                        Transpose16.block(m, (long) r0 * STRIDE + c0, STRIDE, out, 7, LD);
                        for (int r = 0; r < 16; r++)
                            for (int c = 0; c < 16; c++)
                                assertThat(out[7 + c * LD + r]).as("%s (%d, %d) from (%d, %d)", m.dtype(), r, c, r0, c0)
                                        .isEqualTo(m.get(r0 + r, c0 + c));
                    }
        }
    }
}
