package dev.lora4j.analysis;

import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Linear;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The LoRA paper's analyses of what an adapter learned (§7.2, §7.3), per adapted module, with ΔW = s·B·A
 * and W both in (out, in) orientation:
 * ‖ΔW‖_F, ‖W‖_F, ‖UᵀWV‖_F with U, V the top-r singular vectors of ΔW, of W, and of a random Gaussian
 * matrix, the amplification ‖ΔW‖_F / ‖UᵀWV‖_F (ΔW's own subspace), and ΔW's singular values; and the
 * subspace similarity φ(i, j) = ‖U_iᵀU_j‖²_F / min(i, j) of two adapters' A matrices.
 */
public final class Analysis {
    public record Module(String name, int rank, double deltaFro, double wFro, double projDelta, double projW, double projRandom,
                         double amplification, double[] singularValues) {}

    private Analysis() {}

    /** W as (out, in) doubles, whatever its storage orientation. */
    static double[] weight(Linear l) {
        float[] w = l.weight().toArray();
        int in = l.in(), out = l.out();
        double[] d = new double[out * in];
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) d[o * in + i] = l.fanInFanOut() ? w[i * out + o] : w[o * in + i];
        return d;
    }

    /** ΔW = s·B·A, (out, in), in double. */
    static double[] delta(LoraLinear l) {
        int in = l.in(), out = l.out(), r = l.rank();
        double[] d = new double[out * in];
        for (int o = 0; o < out; o++)
            for (int q = 0; q < r; q++) {
                double b = l.scale() * (double) l.b()[o * r + q];
                if (b == 0) continue;
                for (int i = 0; i < in; i++) d[o * in + i] += b * l.a()[q * in + i];
            }
        return d;
    }

    static double fro(double[] m) {
        double s = 0;
        for (double x : m) s += x * x;
        return Math.sqrt(s);
    }

    public static List<Module> analyze(LoraModel adapter, long seed) {
        List<Module> out = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (LoraLinear l : adapter.modules().values()) {
            int m = l.out(), n = l.in(), r = l.rank();
            double[] w = weight(l.base()), d = delta(l);
            Svd sd = Svd.of(d, m, n), sw = Svd.of(w, m, n);
            double[] g = new double[m * n];
            for (int i = 0; i < g.length; i++) g[i] = rnd.nextGaussian();
            Svd sg = Svd.of(g, m, n);
            double deltaFro = fro(d), projDelta = sd.project(w, r);
            out.add(new Module(l.name(), r, deltaFro, fro(w), projDelta, sw.project(w, r), sg.project(w, r),
                    projDelta == 0 ? Double.POSITIVE_INFINITY : deltaFro / projDelta, java.util.Arrays.copyOf(sd.s(), r)));
        }
        return out;
    }

    /**
     * φ(i, j) for i in 1..r1, j in 1..r2: U_i, U_j the top right-singular vectors of A1 (r1 × in) and
     * A2 (r2 × in); φ = ‖U_iᵀ·U_j‖²_F / min(i, j), in [0, 1].
     */
    public static double[][] similarity(float[] a1, int r1, float[] a2, int r2, int in) {
        Svd s1 = Svd.of(toDouble(a1), r1, in), s2 = Svd.of(toDouble(a2), r2, in);
        int k1 = s1.k(), k2 = s2.k();
        double[][] dots = new double[r1][r2]; // (v1_a · v2_b)²
        for (int a = 0; a < r1; a++)
            for (int b = 0; b < r2; b++) {
                double acc = 0;
                for (int x = 0; x < in; x++) acc += s1.v()[x * k1 + a] * s2.v()[x * k2 + b];
                dots[a][b] = acc * acc;
            }
        double[][] phi = new double[r1][r2];
        for (int i = 1; i <= r1; i++)
            for (int j = 1; j <= r2; j++) {
                double sum = 0;
                for (int a = 0; a < i; a++) for (int b = 0; b < j; b++) sum += dots[a][b];
                phi[i - 1][j - 1] = sum / Math.min(i, j);
            }
        return phi;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
