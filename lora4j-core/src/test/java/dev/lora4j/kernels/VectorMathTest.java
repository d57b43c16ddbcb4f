package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** VectorMath's exp and tanh hold the accuracy its class comment promises, and the edge cases. */
class VectorMathTest {
    private static final int L = VectorMath.L;

    private static float[] apply(java.util.function.UnaryOperator<FloatVector> f, float[] x) {
        float[] padded = java.util.Arrays.copyOf(x, (x.length + L - 1) / L * L), out = new float[padded.length];
        for (int i = 0; i < padded.length; i += L) f.apply(FloatVector.fromArray(VectorMath.S, padded, i)).intoArray(out, i);
        return java.util.Arrays.copyOf(out, x.length);
    }

    @Test
    void expIsWithinTwoUlpOverItsRange() {
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[100_000];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble(-87.3, 88.7);
        float[] y = apply(VectorMath::exp, x);
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            assertThat(Math.abs(y[i] - want)).as("exp(%s) = %s, want %s", x[i], y[i], want).isLessThanOrEqualTo(2 * Math.ulp(want));
        }
    }

    @Test
    void expEdges() {
        float[] x = {0f, -0f, Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -87.31f, -1000f, 88.71f, 1000f, 1f, -1f};
        float[] y = apply(VectorMath::exp, x);
        assertThat(y[0]).isEqualTo(1f);
        assertThat(y[1]).isEqualTo(1f);
        assertThat(y[2]).isNaN();
        assertThat(y[3]).isEqualTo(0f);
        assertThat(y[4]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[5]).isEqualTo(0f);
        assertThat(y[6]).isEqualTo(0f);
        assertThat(y[7]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[8]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Math.abs(y[9] - (float) Math.E)).isLessThanOrEqualTo(Math.ulp((float) Math.E));
        assertThat(Math.abs(y[10] - (float) (1 / Math.E))).isLessThanOrEqualTo(Math.ulp((float) (1 / Math.E)));
    }

    @Test
    void tanhIsOddAndWithin2e7() {
        SplittableRandom r = new SplittableRandom(2);
        float[] x = new float[100_002];
        for (int i = 0; i < x.length - 2; i++) x[i] = (float) r.nextDouble(-20, 20);
        x[x.length - 2] = Float.NaN;
        x[x.length - 1] = -0f;
        float[] y = apply(VectorMath::tanh, x);
        float[] neg = new float[x.length];
        for (int i = 0; i < x.length; i++) neg[i] = -x[i];
        float[] yn = apply(VectorMath::tanh, neg);
        for (int i = 0; i < x.length - 2; i++) {
            assertThat((double) y[i]).as("tanh(%s)", x[i]).isCloseTo(Math.tanh(x[i]), org.assertj.core.data.Offset.offset(2e-7));
            assertThat(yn[i]).isEqualTo(-y[i]);
        }
        assertThat(y[x.length - 2]).isNaN();
        assertThat(y[x.length - 1]).isEqualTo(0f);
    }
}
