package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API row kernels. Each loop runs whole vectors, then a scalar tail with the same
 * arithmetic as {@link ScalarOps}. exp, tanh and lane sums come from {@link VectorMath}, which gives the same
 * bits in every JIT tier, so training is deterministic.
 */
public final class SimdOps implements Ops {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private final ScalarOps tail = new ScalarOps();

    private static float max(float[] x, int off, int n) {
        // Four independent chains: a lanewise max with Java's NaN and -0.0 rules is several
        // instructions long, and one chain would wait on each. The order cannot change the result.
        int i = 0;
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
        for (; i <= n - 4 * L; i += 4 * L) {
            m0 = m0.max(FloatVector.fromArray(S, x, off + i));
            m1 = m1.max(FloatVector.fromArray(S, x, off + i + L));
            m2 = m2.max(FloatVector.fromArray(S, x, off + i + 2 * L));
            m3 = m3.max(FloatVector.fromArray(S, x, off + i + 3 * L));
        }
        FloatVector m = m0.max(m1).max(m2.max(m3));
        for (; i <= n - L; i += L) m = m.max(FloatVector.fromArray(S, x, off + i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) r = Math.max(r, x[off + i]);
        return r;
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        float max = max(x, off, n);
        FloatVector vmax = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, x, off + i).sub(vmax));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        float sum = VectorMath.sum(acc);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        scale(x, off, n, inv);
    }

    @Override
    public void expMinus(float[] x, int off, int n, float c) {
        int i = 0;
        for (; i <= n - L; i += L) VectorMath.exp(FloatVector.fromArray(S, x, off + i).sub(c)).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] = (float) Math.exp(x[off + i] - c);
    }

    private static void scale(float[] x, int off, int n, float a) {
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(a).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= a;
    }

    @Override
    public float logSumExp(float[] x, int off, int n) {
        float max = max(x, off, n);
        FloatVector vmax = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.add(VectorMath.exp(FloatVector.fromArray(S, x, off + i).sub(vmax)));
        double sum = VectorMath.sum(acc);
        for (; i < n; i++) sum += Math.exp(x[off + i] - max);
        return max + (float) Math.log(sum);
    }

    private static float sum(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.add(FloatVector.fromArray(S, x, off + i));
        float s = VectorMath.sum(acc);
        for (; i < n; i++) s += x[off + i];
        return s;
    }

    @Override
    public float[] layerNorm(float[] out, int outOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        float mean = sum(x, xOff, n) / n;
        FloatVector vm = FloatVector.broadcast(S, mean);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, xOff + i).sub(vm);
            acc = d.fma(d, acc);
        }
        float var = VectorMath.sum(acc);
        for (; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        float rstd = (float) (1.0 / Math.sqrt(var / n + eps));
        i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i).sub(vm).mul(rstd);
            v.fma(FloatVector.fromArray(S, gamma, i), FloatVector.fromArray(S, beta, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = (x[xOff + i] - mean) * rstd * gamma[i] + beta[i];
        return new float[] {mean, rstd};
    }

    @Override
    public float rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float rstd = (float) (1.0 / Math.sqrt(ss / n + eps));
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, x, xOff + i).mul(rstd).mul(FloatVector.fromArray(S, weight, i)).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] = weight[i] * (x[xOff + i] * rstd);
        return rstd;
    }

    @Override
    public void geluTanh(float[] out, int outOff, float[] x, int xOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(ScalarOps.GELU_K);
            VectorMath.tanh(inner).add(1f).mul(v).mul(0.5f).intoArray(out, outOff + i);
        }
        tail.geluTanh(out, outOff + i, x, xOff + i, n - i);
    }

    /** {@link ScalarOps#erf} lane by lane, the same operations in the same order (small enough for C2 to inline). */
    private static FloatVector erf(FloatVector x) {
        float[] a = ScalarOps.ERF_A, b = ScalarOps.ERF_B;
        FloatVector z = x.max(-4f).min(4f), z2 = z.mul(z);
        FloatVector p = FloatVector.broadcast(S, a[0]);
        for (int k = 1; k < a.length; k++) p = p.mul(z2).add(a[k]);
        FloatVector q = FloatVector.broadcast(S, b[0]);
        for (int k = 1; k < b.length; k++) q = q.mul(z2).add(b[k]);
        return z.mul(p).div(q);
    }

    /** {@link ScalarOps#geluErf}'s rational erf, lane by lane with the same operations in the same order. */
    @Override
    public void geluErf(float[] out, int outOff, float[] x, int xOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            erf(v.mul(ScalarOps.INV_SQRT2)).add(1f).mul(v).mul(0.5f).intoArray(out, outOff + i);
        }
        tail.geluErf(out, outOff + i, x, xOff + i, n - i);
    }

    /** {@link ScalarOps#geluErfBackward}: the same erf, the density's exp from {@link VectorMath#exp}. */
    @Override
    public void geluErfBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(S, pre, pOff + i);
            FloatVector cdf = erf(x.mul(ScalarOps.INV_SQRT2)).add(1f).mul(0.5f);
            FloatVector pdf = VectorMath.exp(x.mul(x).mul(-0.5f)).mul(ScalarOps.INV_SQRT_2PI);
            cdf.add(x.mul(pdf)).mul(FloatVector.fromArray(S, dact, daOff + i)).intoArray(dpre, dpOff + i);
        }
        tail.geluErfBackward(dpre, dpOff + i, dact, daOff + i, pre, pOff + i, n - i);
    }

    @Override
    public void swiglu(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, gateOff + i);
            FloatVector sig = VectorMath.sigmoid(g);
            g.mul(sig).mul(FloatVector.fromArray(S, up, upOff + i)).intoArray(out, outOff + i);
        }
        tail.swiglu(out, outOff + i, gate, gateOff + i, up, upOff + i, n - i);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.broadcast(S, a), FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /**
     * Column blocks of four vectors stay in registers while every row is added into them, so y is read
     * and written once instead of once per row. Each element gets the same fused multiply-adds in the
     * same order as {@link #axpy} row by row, so the bits are the same.
     */
    @Override
    public void axpyRows(float[] a, int aOff, int rows, float[] x, int xOff, int ld, float[] y, int yOff, int n) {
        int c = 0;
        for (; c <= n - 4 * L; c += 4 * L) {
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + c), y1 = FloatVector.fromArray(S, y, yOff + c + L);
            FloatVector y2 = FloatVector.fromArray(S, y, yOff + c + 2 * L), y3 = FloatVector.fromArray(S, y, yOff + c + 3 * L);
            for (int r = 0; r < rows; r++) {
                FloatVector ar = FloatVector.broadcast(S, a[aOff + r]);
                int xr = xOff + r * ld + c;
                y0 = FloatVector.fromArray(S, x, xr).fma(ar, y0);
                y1 = FloatVector.fromArray(S, x, xr + L).fma(ar, y1);
                y2 = FloatVector.fromArray(S, x, xr + 2 * L).fma(ar, y2);
                y3 = FloatVector.fromArray(S, x, xr + 3 * L).fma(ar, y3);
            }
            y0.intoArray(y, yOff + c);
            y1.intoArray(y, yOff + c + L);
            y2.intoArray(y, yOff + c + 2 * L);
            y3.intoArray(y, yOff + c + 3 * L);
        }
        for (; c <= n - L; c += L) {
            FloatVector y0 = FloatVector.fromArray(S, y, yOff + c);
            for (int r = 0; r < rows; r++) y0 = FloatVector.fromArray(S, x, xOff + r * ld + c).fma(FloatVector.broadcast(S, a[aOff + r]), y0);
            y0.intoArray(y, yOff + c);
        }
        for (; c < n; c++) {
            float s = y[yOff + c];
            for (int r = 0; r < rows; r++) s += a[aOff + r] * x[xOff + r * ld + c];
            y[yOff + c] = s;
        }
    }

    /** dotRows' partial sums, one per thread: a decode step calls it per sequence, head and layer. */
    private static final ThreadLocal<LaneSums> ONE_ROW = ThreadLocal.withInitial(() -> new LaneSums(1));

    /**
     * Each row's products go into one vector, and sixteen rows' vectors are summed across their lanes
     * at once ({@link LaneSums}), so the rows stream front to back without a reduction per row. Rows go
     * four at a time: one row's multiply-adds form a chain (each waits for the last), four rows' chains
     * run side by side. Each output equals {@link #dot} of its row, bit for bit.
     */
    @Override
    public void dotRows(float[] q, int qOff, float[] x, int xOff, int ld, int rows, int n, float[] out, int outOff) {
        int nv = n - n % L;
        if (nv == 0) { // rows shorter than a vector (tiny heads)
            for (int r = 0; r < rows; r++) out[outOff + r] = dot(q, qOff, x, xOff + r * ld, n);
            return;
        }
        LaneSums sums = ONE_ROW.get();
        for (int g = 0; g < rows; g += LaneSums.GROUP) {
            int count = Math.min(LaneSums.GROUP, rows - g), r = g;
            float[] lanes = sums.lanes();
            for (; r + 4 <= g + count; r += 4) { // four rows at once: four independent chains of multiply-adds
                int x0 = xOff + r * ld, x1 = x0 + ld, x2 = x1 + ld, x3 = x2 + ld;
                FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                for (int d = 0; d < nv; d += L) {
                    FloatVector qd = FloatVector.fromArray(S, q, qOff + d);
                    a0 = qd.fma(FloatVector.fromArray(S, x, x0 + d), a0);
                    a1 = qd.fma(FloatVector.fromArray(S, x, x1 + d), a1);
                    a2 = qd.fma(FloatVector.fromArray(S, x, x2 + d), a2);
                    a3 = qd.fma(FloatVector.fromArray(S, x, x3 + d), a3);
                }
                a0.intoArray(lanes, LaneSums.at(0, r - g));
                a1.intoArray(lanes, LaneSums.at(0, r - g + 1));
                a2.intoArray(lanes, LaneSums.at(0, r - g + 2));
                a3.intoArray(lanes, LaneSums.at(0, r - g + 3));
            }
            for (; r < g + count; r++) {
                int xr = xOff + r * ld;
                FloatVector acc = FloatVector.zero(S);
                for (int d = 0; d < nv; d += L) acc = FloatVector.fromArray(S, q, qOff + d).fma(FloatVector.fromArray(S, x, xr + d), acc);
                sums.put(0, r - g, acc);
            }
            float[] total = sums.finish(0, count);
            for (int j = 0; j < count; j++) {
                float s = total[j];
                for (int d = nv, xr = xOff + (g + j) * ld; d < n; d++) s += q[qOff + d] * x[xr + d];
                out[outOff + g + j] = s;
            }
        }
    }

    @Override
    public float dot(float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) acc = FloatVector.fromArray(S, x, xOff + i).fma(FloatVector.fromArray(S, y, yOff + i), acc);
        float s = VectorMath.sum(acc);
        for (; i < n; i++) s += x[xOff + i] * y[yOff + i];
        return s;
    }

    @Override
    public void rope(float[] x, int off, float[] cos, float[] sin, int tableOff, int half) {
        int i = 0;
        for (; i <= half - L; i += L) {
            FloatVector x1 = FloatVector.fromArray(S, x, off + i), x2 = FloatVector.fromArray(S, x, off + half + i);
            FloatVector c = FloatVector.fromArray(S, cos, tableOff + i), s = FloatVector.fromArray(S, sin, tableOff + i);
            x1.mul(c).sub(x2.mul(s)).intoArray(x, off + i);
            x2.mul(c).add(x1.mul(s)).intoArray(x, off + half + i);
        }
        for (; i < half; i++) {
            float x1 = x[off + i], x2 = x[off + half + i];
            float c = cos[tableOff + i], s = sin[tableOff + i];
            x[off + i] = x1 * c - x2 * s;
            x[off + half + i] = x2 * c + x1 * s;
        }
    }

    @Override
    public void layerNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float mean, float rstd,
                                  float[] gamma, float[] dgamma, float[] dbeta, int n) {
        FloatVector vm = FloatVector.broadcast(S, mean), sg = FloatVector.zero(S), sgx = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, x, xOff + i).sub(vm).mul(rstd);
            FloatVector g = FloatVector.fromArray(S, dout, dOff + i).mul(FloatVector.fromArray(S, gamma, i));
            sg = sg.add(g);
            sgx = g.fma(xhat, sgx);
        }
        float sumG = VectorMath.sum(sg), sumGx = VectorMath.sum(sgx);
        for (int j = i; j < n; j++) {
            float xhat = (x[xOff + j] - mean) * rstd, g = dout[dOff + j] * gamma[j];
            sumG += g;
            sumGx += g * xhat;
        }
        float meanG = sumG / n, meanGx = sumGx / n;
        i = 0;
        for (; i <= n - L; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, x, xOff + i).sub(vm).mul(rstd);
            FloatVector d = FloatVector.fromArray(S, dout, dOff + i);
            FloatVector g = d.mul(FloatVector.fromArray(S, gamma, i));
            g.sub(meanG).sub(xhat.mul(meanGx)).mul(rstd).add(FloatVector.fromArray(S, dx, dxOff + i)).intoArray(dx, dxOff + i);
            if (dgamma != null) d.fma(xhat, FloatVector.fromArray(S, dgamma, i)).intoArray(dgamma, i);
            if (dbeta != null) d.add(FloatVector.fromArray(S, dbeta, i)).intoArray(dbeta, i);
        }
        for (; i < n; i++) {
            float xhat = (x[xOff + i] - mean) * rstd, g = dout[dOff + i] * gamma[i];
            dx[dxOff + i] += rstd * (g - meanG - xhat * meanGx);
            if (dgamma != null) dgamma[i] += dout[dOff + i] * xhat;
            if (dbeta != null) dbeta[i] += dout[dOff + i];
        }
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float rstd,
                                float[] weight, float[] dweight, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L)
            acc = FloatVector.fromArray(S, dout, dOff + i).mul(FloatVector.fromArray(S, weight, i)).fma(FloatVector.fromArray(S, x, xOff + i), acc);
        float sumGx = VectorMath.sum(acc);
        for (int j = i; j < n; j++) sumGx += dout[dOff + j] * weight[j] * x[xOff + j];
        float c = rstd * rstd * sumGx / n;
        i = 0;
        for (; i <= n - L; i += L) {
            FloatVector d = FloatVector.fromArray(S, dout, dOff + i), xv = FloatVector.fromArray(S, x, xOff + i);
            FloatVector g = d.mul(FloatVector.fromArray(S, weight, i));
            g.sub(xv.mul(c)).mul(rstd).add(FloatVector.fromArray(S, dx, dxOff + i)).intoArray(dx, dxOff + i);
            if (dweight != null) d.mul(xv).mul(rstd).add(FloatVector.fromArray(S, dweight, i)).intoArray(dweight, i);
        }
        for (; i < n; i++) {
            float g = dout[dOff + i] * weight[i];
            dx[dxOff + i] += rstd * (g - x[xOff + i] * c);
            if (dweight != null) dweight[i] += dout[dOff + i] * x[xOff + i] * rstd;
        }
    }

    @Override
    public void geluTanhBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(S, pre, pOff + i);
            FloatVector x2 = x.mul(x);
            FloatVector t = x2.mul(0.044715f).mul(x).add(x).mul(ScalarOps.GELU_K);
            t = VectorMath.tanh(t);
            FloatVector inner = x2.mul(3f * 0.044715f).add(1f).mul(ScalarOps.GELU_K);
            FloatVector one = FloatVector.broadcast(S, 1f);
            FloatVector d = t.add(1f).mul(0.5f).add(x.mul(0.5f).mul(one.sub(t.mul(t))).mul(inner));
            d.mul(FloatVector.fromArray(S, dact, daOff + i)).intoArray(dpre, dpOff + i);
        }
        tail.geluTanhBackward(dpre, dpOff + i, dact, daOff + i, pre, pOff + i, n - i);
    }

    @Override
    public void swigluBackward(float[] dgate, int dgOff, float[] dup, int duOff, float[] dact, int daOff,
                               float[] gate, int gOff, float[] up, int uOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, gOff + i), d = FloatVector.fromArray(S, dact, daOff + i);
            FloatVector sig = VectorMath.sigmoid(g);
            FloatVector dsilu = sig.mul(g.mul(FloatVector.broadcast(S, 1f).sub(sig)).add(1f));
            d.mul(FloatVector.fromArray(S, up, uOff + i)).mul(dsilu).intoArray(dgate, dgOff + i);
            d.mul(g).mul(sig).intoArray(dup, duOff + i);
        }
        tail.swigluBackward(dgate, dgOff + i, dup, duOff + i, dact, daOff + i, gate, gOff + i, up, uOff + i, n - i);
    }

    @Override
    public void softmaxBackward(float[] dp, int dOff, float[] p, int pOff, int n) {
        float dot = dot(dp, dOff, p, pOff, n);
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, dp, dOff + i).sub(dot).mul(FloatVector.fromArray(S, p, pOff + i)).intoArray(dp, dOff + i);
        for (; i < n; i++) dp[dOff + i] = p[pOff + i] * (dp[dOff + i] - dot);
    }

    @Override
    public void ropeBackward(float[] x, int off, float[] cos, float[] sin, int tableOff, int half) {
        tail.ropeBackward(x, off, cos, sin, tableOff, half); // O(D) per head: not worth a vector path
    }
}
