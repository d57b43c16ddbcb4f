package dev.lora4j;

import java.util.function.ToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;

/** Central finite differences in double, the reference of every backward pass's check. */
public final class FiniteDifferences {
    private FiniteDifferences() {}

    public static double[] d(float[] a) {
        double[] o = new double[a.length];
        for (int i = 0; i < a.length; i++) o[i] = a[i];
        return o;
    }

    /** Central differences of f at x, in double. */
    public static double[] numeric(ToDoubleFunction<double[]> f, double[] x) {
        double eps = 1e-5;
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double old = x[i];
            x[i] = old + eps;
            double up = f.applyAsDouble(x);
            x[i] = old - eps;
            double down = f.applyAsDouble(x);
            x[i] = old;
            g[i] = (up - down) / (2 * eps);
        }
        return g;
    }

    /**
     * Central differences of loss at the given entries of values, for code that computes in float: each entry is moved
     * by ±h in place and restored. Returns one difference per index.
     */
    public static double[] numericInPlace(float[] values, int[] indices, java.util.function.DoubleSupplier loss, float h) {
        double[] g = new double[indices.length];
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            float keep = values[i];
            values[i] = keep + h;
            double up = loss.getAsDouble();
            values[i] = keep - h;
            double down = loss.getAsDouble();
            values[i] = keep;
            g[k] = (up - down) / (2.0 * h);
        }
        return g;
    }

    /** L = Σ w ⊙ layer(x) over rows of x: a loss whose gradient with respect to the layer's output is w. */
    public static double weightedOutput(dev.lora4j.model.Projection layer, float[] x, float[] w, int rows) {
        float[] y = new float[rows * layer.out()];
        layer.forward(dev.lora4j.tensor.Mat.of(x, 0, rows, layer.in()), y, 0, layer.out(), false);
        double s = 0;
        for (int i = 0; i < y.length; i++) s += (double) w[i] * y[i];
        return s;
    }

    /** Every index of values, for {@link #numericInPlace}. */
    public static int[] all(float[] values) {
        return java.util.stream.IntStream.range(0, values.length).toArray();
    }

    /** analytic[indices[k]] within abs + rel·|numeric[k]| of numeric[k], each named. */
    public static void assertNear(String what, float[] analytic, int[] indices, double[] numeric, double abs, double rel) {
        for (int k = 0; k < indices.length; k++)
            assertThat((double) analytic[indices[k]]).as("%s[%d]", what, indices[k]).isCloseTo(numeric[k], org.assertj.core.data.Offset.offset(abs + rel * Math.abs(numeric[k])));
    }

    public static void assertClose(String what, float[] analytic, double[] numeric) {
        double num = 0, den = 0;
        for (int i = 0; i < numeric.length; i++) {
            num += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
            den += numeric[i] * numeric[i];
        }
        assertThat(den).as("%s: gradient is not trivially zero", what).isGreaterThan(1e-8);
        assertThat(Math.sqrt(num / den)).as("%s: relative error against finite differences", what).isLessThan(2e-4);
    }
}
