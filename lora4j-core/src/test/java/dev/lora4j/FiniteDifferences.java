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
