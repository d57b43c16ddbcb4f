package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.Arrays;

/**
 * The LM head and the causal-LM cross-entropy, forward and backward side by side, from the final
 * normalised hidden states a.h (B·T, C) to the loss sum and dL/dh in a.dh (B·T, C). The (B·T, V) logits
 * never exist whole: Activations' logits buffer holds a block of them, sized for the way used below.
 * Targets are checked by the caller (−100 or any negative: ignored).
 */
final class HeadLoss {
    private HeadLoss() {}

    /**
     * A frozen head, a block of the vocabulary at a time over all B·T rows: each block of head rows is
     * read once for every row (in row chunks the whole head would be packed again for every chunk), at
     * full matmul speed. Per row it keeps a running log-sum-exp L and, for backward, a running
     * softmax-weighted sum of head rows (acc, in a.dh), rescaled as L grows, as in online softmax:
     * <pre>
     *   L' = log(e^L + Σ_block e^z),   acc' = acc·e^(L − L') + Σ_block e^(z − L')·head_j
     * </pre>
     * so that at the end acc = Σ_j softmax_j·head_j and dL/dh = scale·(acc − head[target]).
     *
     * <p>With a soft cap (Gemma 2) the logits are z = cap·tanh(l/cap) of the head's l, and each term of acc and
     * the target's carry dz/dl = 1 − (z/cap)². perPosition (B·T, may be null) receives each counted position's
     * loss, 0 where the target is ignored.
     *
     * <p>rows (may be null) replace some of the head's rows (trainable tokens): their logits come from their own values,
     * acc gets each one's difference from the head's row, and their gradient, Σ scale·dz/dl·(softmax − onehot)·h, is
     * taken from their logits kept aside (B·T, k) once the final log-sum-exp is known.
     */
    static Transformer.LossSum byVocabularyBlocks(Mat head /* (V, C) */, float cap /* 0 = none */, int[] targets, int bt, Activations a,
                                                  float gradScale, double[] perPosition, TokenRows rows) {
        int v = head.rows(), dim = head.cols();
        int block = Math.max(1, Math.min(Math.min(v, Activations.VOCAB_BLOCK), Activations.LOGIT_ROWS * v / bt));
        float[] logits = a.logits(bt * block);
        boolean backward = gradScale != 0f;
        Mat hidden = Mat.of(a.h, 0, bt, dim);
        int k = rows == null ? 0 : rows.ids().length;
        float[] zRows = k == 0 ? null : new float[bt * k], delta = backward && k > 0 ? rows.values().clone() : null;
        if (k > 0) Kernels.matmul(hidden, Mat.of(rows.values(), 0, k, dim).t(), zRows, 0, k, false); // (BT, k)
        if (delta != null) {
            float[] row = new float[dim];
            for (int s = 0; s < k; s++) {
                head.copyRow(rows.ids()[s], 0, row, 0, dim);
                for (int j = 0; j < dim; j++) delta[s * dim + j] -= row[j];
            }
        }
        float[] lse = new float[bt], targetLogit = new float[bt], rescale = new float[bt], targetSlope = new float[bt];
        Arrays.fill(targetSlope, 1f);
        Arrays.fill(lse, Float.NEGATIVE_INFINITY);
        if (backward) Arrays.fill(a.dh, 0, bt * dim, 0f);
        for (int v0 = 0; v0 < v; v0 += block) {
            int vb = Math.min(block, v - v0), first = v0;
            Mat wb = head.rows(v0, vb);
            Kernels.matmul(hidden, wb.t(), logits, 0, vb, false); // z (BT, vb)
            for (int s = 0; s < k; s++) {
                int id = rows.ids()[s];
                if (id >= first && id < first + vb) for (int r = 0; r < bt; r++) logits[r * vb + id - first] = zRows[r * k + s];
            }
            Parallel.forRange(bt, 8, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int target = targets[r], off = r * vb;
                    if (target < 0) { // ignored: e^(z − L) = 0 keeps its acc at 0
                        if (backward) Arrays.fill(logits, off, off + vb, 0f);
                        continue;
                    }
                    if (cap != 0f) softcap(logits, off, vb, cap);
                    if (target >= first && target < first + vb) {
                        float z = logits[off + target - first] / (cap != 0f ? cap : 1f);
                        targetLogit[r] = logits[off + target - first];
                        if (cap != 0f) targetSlope[r] = 1f - z * z;
                    }
                    float was = lse[r], now = logAddExp(was, Kernels.ops().logSumExp(logits, off, vb));
                    lse[r] = now;
                    if (backward) {
                        rescale[r] = (float) Math.exp((double) was - now); // 0 for the first block
                        if (cap == 0f) Kernels.ops().expMinus(logits, off, vb, now);
                        else for (int j = off; j < off + vb; j++) {
                            float z = logits[j] / cap;
                            logits[j] = (float) Math.exp(logits[j] - now) * (1f - z * z);
                        }
                    }
                }
            });
            if (backward) {
                Parallel.forRange(bt, 8, (r0, r1) -> {
                    for (int r = r0; r < r1; r++)
                        if (targets[r] >= 0 && rescale[r] != 1f)
                            for (int j = r * dim; j < (r + 1) * dim; j++) a.dh[j] *= rescale[r];
                });
                Kernels.matmul(Mat.of(logits, 0, bt, vb), wb, a.dh, 0, dim, true); // acc += e^(z − L)·head_block
                if (k > 0) replacedRowsPart(rows, delta, first, vb, bt, dim, logits, a);
            }
        }
        double sum = 0;
        long count = 0;
        for (int r = 0; r < bt; r++)
            if (targets[r] >= 0) {
                double loss = (double) lse[r] - targetLogit[r];
                sum += loss;
                count++;
                if (perPosition != null) perPosition[r] = loss;
            } else if (perPosition != null) perPosition[r] = 0;
        if (backward) {
            Parallel.forRange(bt, 8, (r0, r1) -> {
                float[] row = new float[dim];
                for (int r = r0; r < r1; r++) {
                    if (targets[r] < 0) continue; // its acc stayed 0
                    int slot = k == 0 ? -1 : rows.slot(targets[r]);
                    if (slot >= 0) System.arraycopy(rows.values(), slot * dim, row, 0, dim);
                    else head.copyRow(targets[r], 0, row, 0, dim);
                    for (int j = 0; j < dim; j++) a.dh[r * dim + j] = gradScale * (a.dh[r * dim + j] - targetSlope[r] * row[j]);
                }
            });
        }
        if (backward && k > 0 && rows.grad() != null) replacedRowsGradient(rows, zRows, lse, cap, targets, bt, hidden, gradScale);
        return new Transformer.LossSum(sum, count);
    }

    /** acc (a.dh) += e^(z − L)·(values − head row) for the replaced ids in the block [first, first + vb): a (BT, kb)·(kb, C) product. */
    private static void replacedRowsPart(TokenRows rows, float[] delta, int first, int vb, int bt, int dim, float[] logits, Activations a) {
        int k = rows.ids().length, kb = 0;
        int[] in = new int[k];
        for (int s = 0; s < k; s++) if (rows.ids()[s] >= first && rows.ids()[s] < first + vb) in[kb++] = s;
        if (kb == 0) return;
        float[] p = new float[bt * kb], d = new float[kb * dim];
        for (int j = 0; j < kb; j++) {
            int col = rows.ids()[in[j]] - first;
            for (int r = 0; r < bt; r++) p[r * kb + j] = logits[r * vb + col];
            System.arraycopy(delta, in[j] * dim, d, j * dim, dim);
        }
        Kernels.matmul(Mat.of(p, 0, bt, kb), Mat.of(d, 0, kb, dim), a.dh, 0, dim, true);
    }

    /** grad (k, C) += Dᵀ·h with D(r, s) = scale·dz/dl·(e^(z − L_r) − [target_r = id_s]) (0 for ignored rows): one (k, BT)·(BT, C) product. */
    private static void replacedRowsGradient(TokenRows rows, float[] zRows, float[] lse, float cap, int[] targets, int bt, Mat hidden, float gradScale) {
        int k = rows.ids().length, dim = hidden.cols();
        float[] d = new float[bt * k];
        for (int r = 0; r < bt; r++) {
            if (targets[r] < 0) continue;
            for (int s = 0; s < k; s++) {
                float z = zRows[r * k + s], slope = 1f;
                if (cap != 0f) {
                    z = cap * (float) Math.tanh(z / cap);
                    slope = 1f - (z / cap) * (z / cap);
                }
                d[r * k + s] = gradScale * slope * ((float) Math.exp(z - lse[r]) - (targets[r] == rows.ids()[s] ? 1f : 0f));
            }
        }
        Kernels.matmul(Mat.of(d, 0, bt, k).t(), hidden, rows.grad(), 0, dim, true);
    }

    /** z = cap·tanh(z/cap) over z[off, off + n). */
    static void softcap(float[] z, int off, int n, float cap) {
        for (int j = off; j < off + n; j++) z[j] = cap * (float) Math.tanh(z[j] / cap);
    }

    /** log(e^a + e^b), with e^−∞ = 0. */
    private static float logAddExp(float a, float b) {
        if (a == Float.NEGATIVE_INFINITY) return b;
        double hi = Math.max(a, b), lo = Math.min(a, b);
        return (float) (hi + Math.log1p(Math.exp(lo - hi)));
    }

    /**
     * A trained head (full fine-tuning), LOGIT_ROWS rows at a time: its own gradient,
     * dHead (V, C) += dlogitsᵀ·h, needs each row's final softmax. A tied head's gradient is the token
     * embedding's. With a soft cap, as above.
     */
    static Transformer.LossSum byRowChunks(Mat head /* (V, C) */, float cap /* 0 = none */, float[] headGrad, int[] targets, int bt,
                                           Activations a, float gradScale) {
        int v = head.rows(), dim = head.cols();
        boolean backward = gradScale != 0f;
        float[] logits = a.logits(Math.multiplyExact(Math.min(bt, Activations.LOGIT_ROWS), v));
        double sum = 0;
        long count = 0;
        for (int r0 = 0; r0 < bt; r0 += Activations.LOGIT_ROWS) {
            int rows = Math.min(Activations.LOGIT_ROWS, bt - r0), first = r0;
            Mat h = new Mat(a.h, null, (long) r0 * dim, rows, dim, dim, 1);
            Kernels.matmul(h, head.t(), logits, 0, v, false);
            double[] part = new double[rows];
            Parallel.forRange(rows, 8, (i0, i1) -> {
                float[] slope = cap != 0f ? new float[v] : null;
                for (int i = i0; i < i1; i++) {
                    int target = targets[first + i], off = i * v;
                    if (target < 0) {
                        if (backward) Arrays.fill(logits, off, off + v, 0f);
                        continue;
                    }
                    if (cap != 0f) {
                        softcap(logits, off, v, cap);
                        for (int j = 0; j < v; j++) {
                            float z = logits[off + j] / cap;
                            slope[j] = 1f - z * z;
                        }
                    }
                    part[i] = Kernels.ops().crossEntropy(logits, off, v, target);
                    if (backward) { // dL/dlogits = scale·(softmax − onehot)(·dz/dl with a cap)
                        Kernels.ops().softmax(logits, off, v);
                        logits[off + target] -= 1f;
                        for (int j = 0; j < v; j++) logits[off + j] *= gradScale;
                        if (cap != 0f) for (int j = 0; j < v; j++) logits[off + j] *= slope[j];
                    }
                }
            });
            for (int i = 0; i < rows; i++) {
                if (targets[first + i] >= 0) count++;
                sum += part[i];
            }
            if (backward) {
                Mat dlogits = Mat.of(logits, 0, rows, v);
                Kernels.matmul(dlogits, head, a.dh, r0 * dim, dim, false);
                Kernels.matmul(dlogits.t(), h, headGrad, 0, dim, true);
            }
        }
        return new Transformer.LossSum(sum, count);
    }
}
