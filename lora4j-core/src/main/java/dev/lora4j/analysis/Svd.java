package dev.lora4j.analysis;

import dev.lora4j.Lora4jException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * A thin SVD (EJML, double precision) with singular values sorted descending: M (m × n) = U·diag(s)·Vᵀ,
 * U (m × k), V (n × k), k = min(m, n).
 */
public record Svd(int m, int n, double[] s, double[] u /* (m, k) row-major */, double[] v /* (n, k) row-major */) {

    public int k() {
        return s.length;
    }

    public static Svd of(double[] matrix, int m, int n) {
        SingularValueDecomposition_F64<DMatrixRMaj> d = DecompositionFactory_DDRM.svd(m, n, true, true, true);
        if (!d.decompose(new DMatrixRMaj(m, n, true, matrix.clone()))) throw new Lora4jException("SVD did not converge (" + m + " x " + n + ")");
        DMatrixRMaj uu = d.getU(null, false), vv = d.getV(null, false);
        double[] sv = d.getSingularValues();
        int k = Math.min(m, n);
        Integer[] order = new Integer[sv.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(sv[b], sv[a]));
        double[] s = new double[k], u = new double[m * k], v = new double[n * k];
        for (int j = 0; j < k; j++) {
            int c = order[j];
            s[j] = sv[c];
            for (int i = 0; i < m; i++) u[i * k + j] = uu.get(i, c);
            for (int i = 0; i < n; i++) v[i * k + j] = vv.get(i, c);
        }
        return new Svd(m, n, s, u, v);
    }

    /** Relative Frobenius error of the best rank-r approximation: √(Σ_{i≥r} sᵢ²) / √(Σ sᵢ²). */
    public double relativeError(int r) {
        double all = 0, tail = 0;
        for (int i = 0; i < s.length; i++) {
            all += s[i] * s[i];
            if (i >= r) tail += s[i] * s[i];
        }
        return all == 0 ? 0 : Math.sqrt(tail / all);
    }

    /** Effective rank (Roy and Vetterli): exp of the entropy of the normalised singular values. */
    public double effectiveRank() {
        double sum = 0;
        for (double x : s) sum += x;
        if (sum == 0) return 0;
        double h = 0;
        for (double x : s) if (x > 0) h -= x / sum * Math.log(x / sum);
        return Math.exp(h);
    }

    /** ‖U_rᵀ·W·V_r‖_F for W (m × n): W projected onto this SVD's top-r left and right singular vectors. */
    public double project(double[] w, int r) {
        int k = k();
        double total = 0;
        for (int a = 0; a < r; a++) {
            double[] wv = new double[m]; // W·v_a
            for (int i = 0; i < m; i++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += w[i * n + j] * v[j * k + a];
                wv[i] = acc;
            }
            for (int b = 0; b < r; b++) {
                double acc = 0;
                for (int i = 0; i < m; i++) acc += u[i * k + b] * wv[i];
                total += acc * acc;
            }
        }
        return Math.sqrt(total);
    }
}
