package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.model.Linear;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

import java.util.SplittableRandom;

/**
 * PiSSA and OLoRA (PEFT's init_lora_weights "pissa", "pissa_niter_N", "olora"): A and B start as a
 * rank-r part of W0 itself, and what is frozen is the rest, W_res = W0 − s·B0·A0, so the model starts
 * exactly where the base is. W0 is taken as (out, in), whatever its storage.
 * <ul>
 * <li>PiSSA: W0 = U·S·Vᵀ; B0 = U_r·√(S_r/s), A0 = √(S_r/s)·V_rᵀ, so s·B0·A0 is W0's best rank-r part. With
 * niter, the top r come from a randomized SVD (Halko et al., niter power iterations), as torch's svd_lowrank.</li>
 * <li>OLoRA: W0 = Q·R (thin QR); B0 = Q[:, :r], A0 = R[:r, :].</li>
 * </ul>
 */
final class ResidualInit {
    private ResidualInit() {}

    /** A0 (r, in) and B0 (out, r). */
    record Factors(float[] a, float[] b) {}

    static Factors of(LoraConfig.Init init, int niter, Linear base, int r, double s, SplittableRandom rng) {
        int out = base.out(), in = base.in();
        if (r > Math.min(out, in))
            throw new Lora4jException(base.name() + ": " + init.name().toLowerCase(java.util.Locale.ROOT) + " needs r ≤ min(out, in) = "
                    + Math.min(out, in) + ", got " + r);
        double[] w = weight(base);
        return switch (init) {
            case PISSA -> niter > 0 ? pissa(randomizedSvd(w, out, in, r, niter, rng), r, s) : pissa(exactSvd(w, out, in), r, s);
            case OLORA -> olora(w, out, in, r);
            default -> throw new IllegalArgumentException(init + " is not a residual initialisation");
        };
    }

    /** W0 − s·B0·A0 as a frozen linear on the heap, in the base's storage orientation (fp32). */
    static Linear residual(Linear base, Factors f, float s) {
        int out = base.out(), in = base.in(), r = f.a().length / in;
        double[] w = weight(base);
        float[] res = new float[out * in];
        for (int o = 0; o < out; o++)
            for (int j = 0; j < in; j++) {
                double ba = 0;
                for (int k = 0; k < r; k++) ba += (double) f.b()[o * r + k] * f.a()[k * in + j];
                float v = (float) (w[o * in + j] - s * ba);
                if (base.fanInFanOut()) res[j * out + o] = v;
                else res[o * in + j] = v;
            }
        Tensor t = base.fanInFanOut() ? Tensor.of(base.weight().name(), res, in, out) : Tensor.of(base.weight().name(), res, out, in);
        return new Linear(base.name(), t, base.bias(), in, out, base.fanInFanOut());
    }

    /** W0 as (out, in) doubles. */
    private static double[] weight(Linear base) {
        int out = base.out(), in = base.in();
        Mat m = base.weight().mat();
        double[] w = new double[out * in];
        float[] row = new float[base.fanInFanOut() ? out : in];
        if (base.fanInFanOut())
            for (int j = 0; j < in; j++) {
                m.copyRow(j, 0, row, 0, out);
                for (int o = 0; o < out; o++) w[o * in + j] = row[o];
            }
        else
            for (int o = 0; o < out; o++) {
                m.copyRow(o, 0, row, 0, in);
                for (int j = 0; j < in; j++) w[o * in + j] = row[j];
            }
        return w;
    }

    /** Top singular triplets: U (out, k) and Vᵀ (k, in) row-major, S descending. */
    private record Triplets(double[] u, double[] s, double[] vt, int k, int out, int in) {}

    private static Triplets exactSvd(double[] w, int out, int in) {
        dev.lora4j.analysis.Svd svd = dev.lora4j.analysis.Svd.of(w, out, in);
        int k = svd.k();
        double[] vt = new double[k * in];
        for (int j = 0; j < in; j++) for (int c = 0; c < k; c++) vt[c * in + j] = svd.v()[j * k + c];
        return new Triplets(svd.u(), svd.s(), vt, k, out, in);
    }

    /**
     * The top r triplets of W (out, in) from a range found by random projection: Y = W·Ω (Ω in × q, q = r), then
     * niter rounds of Y = W·(Wᵀ·Q) with re-orthonormalisation, and the SVD of the small Qᵀ·W.
     */
    private static Triplets randomizedSvd(double[] w, int out, int in, int r, int niter, SplittableRandom rng) {
        DMatrixRMaj a = new DMatrixRMaj(out, in, true, w), omega = new DMatrixRMaj(in, r);
        for (int i = 0; i < omega.data.length; i++) omega.data[i] = rng.nextGaussian();
        DMatrixRMaj q = orthonormal(mult(a, omega));
        for (int it = 0; it < niter; it++) {
            DMatrixRMaj z = orthonormal(multTransA(a, q)); // Wᵀ·Q (in, r)
            q = orthonormal(mult(a, z));                    // W·Z  (out, r)
        }
        DMatrixRMaj small = multTransA(q, a);               // Qᵀ·W (r, in)
        dev.lora4j.analysis.Svd svd = dev.lora4j.analysis.Svd.of(small.data, r, in);
        int k = svd.k();
        DMatrixRMaj ub = new DMatrixRMaj(r, k, true, svd.u()), u = new DMatrixRMaj(out, k);
        CommonOps_DDRM.mult(q, ub, u);
        double[] vt = new double[k * in];
        for (int j = 0; j < in; j++) for (int c = 0; c < k; c++) vt[c * in + j] = svd.v()[j * k + c];
        return new Triplets(u.data, svd.s(), vt, k, out, in);
    }

    private static DMatrixRMaj mult(DMatrixRMaj x, DMatrixRMaj y) {
        DMatrixRMaj c = new DMatrixRMaj(x.numRows, y.numCols);
        CommonOps_DDRM.mult(x, y, c);
        return c;
    }

    private static DMatrixRMaj multTransA(DMatrixRMaj x, DMatrixRMaj y) {
        DMatrixRMaj c = new DMatrixRMaj(x.numCols, y.numCols);
        CommonOps_DDRM.multTransA(x, y, c);
        return c;
    }

    /** An orthonormal basis of y's columns (thin QR's Q). */
    private static DMatrixRMaj orthonormal(DMatrixRMaj y) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(y.numRows, y.numCols);
        if (!qr.decompose(y.copy())) throw new Lora4jException("QR decomposition failed (" + y.numRows + " x " + y.numCols + ")");
        return qr.getQ(null, true);
    }

    private static Factors pissa(Triplets t, int r, double s) {
        int out = t.out(), in = t.in(), k = t.k();
        float[] a = new float[r * in], b = new float[out * r];
        for (int c = 0; c < r; c++) {
            double root = Math.sqrt(t.s()[c] / s);
            for (int j = 0; j < in; j++) a[c * in + j] = (float) (root * t.vt()[c * in + j]);
            for (int o = 0; o < out; o++) b[o * r + c] = (float) (t.u()[o * k + c] * root);
        }
        return new Factors(a, b);
    }

    private static Factors olora(double[] w, int out, int in, int r) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(out, in);
        if (!qr.decompose(new DMatrixRMaj(out, in, true, w.clone()))) throw new Lora4jException("QR decomposition failed (" + out + " x " + in + ")");
        DMatrixRMaj q = qr.getQ(null, true), rr = qr.getR(null, true); // (out, k), (k, in)
        float[] a = new float[r * in], b = new float[out * r];
        for (int c = 0; c < r; c++) {
            for (int j = 0; j < in; j++) a[c * in + j] = (float) rr.get(c, j);
            for (int o = 0; o < out; o++) b[o * r + c] = (float) q.get(o, c);
        }
        return new Factors(a, b);
    }
}
