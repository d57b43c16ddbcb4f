package dev.lora4j.kernels;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** Every SIMD row kernel against its scalar twin on awkward sizes; tolerances scale with n. */
class OpsTest {
    final Ops simd = new SimdOps(), scalar = new ScalarOps();

    static float[] random(int n, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextDouble(-scale, scale);
        return a;
    }

    static void close(float[] actual, float[] expected, float tol) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) assertThat(actual[i]).as("index %d", i).isCloseTo(expected[i], offset(tol));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 13, 63, 65, 207, 4097})
    void kernelsMatch(int n) {
        float tol = 2e-6f * (float) Math.sqrt(n) + 1e-6f;
        float[] x = random(n + 3, n, 4);
        // softmax
        float[] s1 = x.clone(), s2 = x.clone();
        simd.softmax(s1, 3, n);
        scalar.softmax(s2, 3, n);
        close(s1, s2, 1e-6f);
        float sum = 0;
        for (int i = 3; i < n + 3; i++) sum += s1[i];
        assertThat(sum).isCloseTo(1f, offset(1e-4f));
        // e^(x − c): relative to the scalar twin, and the definition at one point
        float c = simd.logSumExp(x, 3, n);
        float[] e1 = x.clone(), e2 = x.clone();
        simd.expMinus(e1, 3, n, c);
        scalar.expMinus(e2, 3, n, c);
        for (int i = 3; i < n + 3; i++) assertThat(e1[i]).as("index %d", i).isCloseTo(e2[i], offset(2e-7f * Math.max(1f, e2[i]) + 1e-12f));
        assertThat(e2[3]).isEqualTo((float) Math.exp(x[3] - c));
        // logsumexp / cross-entropy
        assertThat(simd.logSumExp(x, 3, n)).isCloseTo(scalar.logSumExp(x, 3, n), offset(1e-5f));
        assertThat(simd.crossEntropy(x, 3, n, n - 1)).isCloseTo(scalar.crossEntropy(x, 3, n, n - 1), offset(1e-5f));
        // layer norm and rms norm
        float[] g = random(n, 11, 1), b = random(n, 12, 1);
        float[] o1 = new float[n + 1], o2 = new float[n + 1];
        float[] st1 = simd.layerNorm(o1, 1, x, 3, g, b, n, 1e-5f), st2 = scalar.layerNorm(o2, 1, x, 3, g, b, n, 1e-5f);
        close(o1, o2, tol * 4);
        close(st1, st2, tol);
        float r1 = simd.rmsNorm(o1, 1, x, 3, g, n, 1e-6f), r2 = scalar.rmsNorm(o2, 1, x, 3, g, n, 1e-6f);
        assertThat(r1).isCloseTo(r2, offset(tol));
        close(o1, o2, tol * 4);
        // activations
        float[] a1 = new float[n], a2 = new float[n];
        simd.geluTanh(a1, 0, x, 3, n);
        scalar.geluTanh(a2, 0, x, 3, n);
        close(a1, a2, 1e-5f);
        simd.geluErf(a1, 0, x, 3, n);
        scalar.geluErf(a2, 0, x, 3, n);
        assertThat(a1).containsExactly(a2); // the same operations in the same order, lane by lane
        float[] up = random(n, 13, 2);
        simd.swiglu(a1, 0, x, 3, up, 0, n);
        scalar.swiglu(a2, 0, x, 3, up, 0, n);
        close(a1, a2, 1e-5f);
        // axpy, dot
        float[] y1 = random(n, 14, 1), y2 = y1.clone();
        simd.axpy(0.37f, x, 3, y1, 0, n);
        scalar.axpy(0.37f, x, 3, y2, 0, n);
        close(y1, y2, 1e-6f);
        // axpy over rows: against the scalar twin, and bit for bit against SIMD axpy row by row
        for (int rows : new int[] {1, 5, 16, 70}) {
            int ld = n + 3;
            float[] w = random(rows + 1, 24, 1), m = random(rows * ld, 25, 1), out1 = random(n, 26, 1), out2 = out1.clone(), out3 = out1.clone();
            simd.axpyRows(w, 1, rows, m, 2, ld, out1, 0, n);
            scalar.axpyRows(w, 1, rows, m, 2, ld, out2, 0, n);
            for (int r = 0; r < rows; r++) simd.axpy(w[1 + r], m, 2 + r * ld, out3, 0, n);
            close(out1, out2, 1e-6f * rows);
            assertThat(out1).as("rows %d", rows).containsExactly(out3);
            // one vector against many rows: against the scalar twin, and bit for bit against SIMD dot row by row
            float[] d1 = new float[rows + 1], d2 = new float[rows + 1], d3 = new float[rows + 1];
            simd.dotRows(x, 3, m, 2, ld, rows, n, d1, 1);
            scalar.dotRows(x, 3, m, 2, ld, rows, n, d2, 1);
            for (int r = 0; r < rows; r++) d3[1 + r] = simd.dot(x, 3, m, 2 + r * ld, n);
            close(d1, d2, tol * 16);
            assertThat(d1).as("rows %d", rows).containsExactly(d3);
        }
        assertThat(simd.dot(x, 3, up, 0, n)).isCloseTo(scalar.dot(x, 3, up, 0, n), offset(tol * 16));
        // rope on a head of size 2n
        float[] h1 = random(2 * n + 1, 15, 1), h2 = h1.clone(), cos = random(n + 2, 16, 1), sin = random(n + 2, 17, 1);
        simd.rope(h1, 1, cos, sin, 2, n);
        scalar.rope(h2, 1, cos, sin, 2, n);
        close(h1, h2, 1e-6f);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 13, 63, 65, 207, 4097})
    void backwardKernelsMatch(int n) {
        float tol = 2e-6f * (float) Math.sqrt(n) + 1e-6f;
        float[] x = random(n + 2, n + 1, 3), dout = random(n + 1, n + 2, 1), g = random(n, 21, 1.5f);
        // layer norm and rms norm backward, with and without weight gradients
        float[] stats = new float[2], tmp = new float[n + 2];
        float[] st = scalar.layerNorm(tmp, 2, x, 2, g, random(n, 22, 1), n, 1e-5f);
        float[] dx1 = random(n + 3, 23, 1), dx2 = dx1.clone(), dg1 = new float[n], dg2 = new float[n], db1 = new float[n], db2 = new float[n];
        simd.layerNormBackward(dx1, 3, dout, 1, x, 2, st[0], st[1], g, dg1, db1, n);
        scalar.layerNormBackward(dx2, 3, dout, 1, x, 2, st[0], st[1], g, dg2, db2, n);
        close(dx1, dx2, tol * 4);
        close(dg1, dg2, tol);
        close(db1, db2, tol);
        float rstd = scalar.rmsNorm(tmp, 2, x, 2, g, n, 1e-6f);
        simd.rmsNormBackward(dx1, 3, dout, 1, x, 2, rstd, g, dg1, n);
        scalar.rmsNormBackward(dx2, 3, dout, 1, x, 2, rstd, g, dg2, n);
        close(dx1, dx2, tol * 4);
        close(dg1, dg2, tol);
        // activations
        float[] a1 = new float[n + 1], a2 = new float[n + 1], up = random(n, 24, 2);
        simd.geluErfBackward(a1, 1, dout, 1, x, 2, n);
        scalar.geluErfBackward(a2, 1, dout, 1, x, 2, n);
        close(a1, a2, 1e-5f);
        for (int i = 2; i < n + 2; i++) { // against central differences of the forward, in double
            double xv = x[i], h = 1e-3, slope = (geluErf(xv + h) - geluErf(xv - h)) / (2 * h);
            assertThat((double) a2[i - 1]).as("gelu' at %f", xv).isCloseTo(dout[i - 1] * slope, offset(2e-5 * Math.max(1, Math.abs(dout[i - 1] * slope))));
        }
        simd.geluTanhBackward(a1, 1, dout, 1, x, 2, n);
        scalar.geluTanhBackward(a2, 1, dout, 1, x, 2, n);
        close(a1, a2, 1e-5f);
        float[] u1 = new float[n], u2 = new float[n];
        simd.swigluBackward(a1, 1, u1, 0, dout, 1, x, 2, up, 0, n);
        scalar.swigluBackward(a2, 1, u2, 0, dout, 1, x, 2, up, 0, n);
        close(a1, a2, 1e-5f);
        close(u1, u2, 1e-5f);
        // softmax backward
        float[] p = x.clone();
        scalar.softmax(p, 2, n);
        float[] d1 = dout.clone(), d2 = dout.clone();
        simd.softmaxBackward(d1, 1, p, 2, n);
        scalar.softmaxBackward(d2, 1, p, 2, n);
        close(d1, d2, 1e-6f);
        // rope backward undoes rope
        float[] h = random(2 * n, 25, 1), h0 = h.clone(), cos = new float[n], sin = new float[n];
        for (int i = 0; i < n; i++) {
            cos[i] = (float) Math.cos(0.3 * i);
            sin[i] = (float) Math.sin(0.3 * i);
        }
        simd.rope(h, 0, cos, sin, 0, n);
        simd.ropeBackward(h, 0, cos, sin, 0, n);
        close(h, h0, 1e-5f);
    }

    @Test
    void scalarKernelsAreTheDefinitions() {
        float[] x = {0f, (float) Math.log(3)};
        scalar.softmax(x, 0, 2);
        assertThat(x[0]).isCloseTo(0.25f, offset(1e-7f));
        assertThat(x[1]).isCloseTo(0.75f, offset(1e-7f));
        float[] out = new float[1];
        scalar.geluTanh(out, 0, new float[] {1f}, 0, 1);
        assertThat(out[0]).isCloseTo(0.8411920f, offset(1e-6f)); // torch gelu(tanh) at 1
        float[] ln = new float[2];
        scalar.layerNorm(ln, 0, new float[] {1f, 3f}, 0, new float[] {1f, 1f}, new float[] {0f, 0f}, 2, 0f);
        assertThat(ln).containsExactly(-1f, 1f);
    }

    /** The rational erf behind the exact GELU, against erf in double (a Taylor series, and the continued fraction of erfc far out). */
    @Test
    void erfIsWithinAFewUlpsOfTheDefinition() {
        double worst = 0;
        for (int i = -80000; i <= 80000; i++) {
            float x = i * 1e-4f;
            double e = erf(x), got = ScalarOps.erf(x);
            worst = Math.max(worst, Math.abs(got - e));
        }
        assertThat(worst).isLessThan(5e-7); // 3 fp32 ulps at 1
        float[] out = new float[1];
        scalar.geluErf(out, 0, new float[] {1f}, 0, 1);
        assertThat(out[0]).isCloseTo(0.8413447f, offset(2e-7f)); // torch gelu (erf) at 1
    }

    static double geluErf(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    static double erf(double x) {
        double a = Math.abs(x);
        if (a < 3) {
            double term = a, sum = a;
            for (int n = 1; n < 200 && Math.abs(term) > 1e-18; n++) {
                term *= -a * a / n;
                sum += term / (2 * n + 1);
            }
            return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
        }
        double t = a;
        for (int n = 80; n >= 1; n--) t = a + n / 2.0 / t;
        return Math.signum(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / t);
    }

    @Test
    void providerHonoursTheSwitch() {
        assertThat(Kernels.SIMD).isEqualTo(!"false".equals(System.getProperty("lora4j.simd")));
        assertThat(Kernels.ops()).isInstanceOf(Kernels.SIMD ? SimdOps.class : ScalarOps.class);
    }
}
