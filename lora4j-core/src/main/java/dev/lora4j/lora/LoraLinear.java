package dev.lora4j.lora;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.SplittableRandom;

/**
 * A LoRA adapter wrapped around a frozen linear map (PEFT semantics):
 * <pre>
 *   y = W0·x + b + s·B·(A·dropout(x))      A (r, in), B (out, r), s = alpha/r (alpha/√r with rsLoRA)
 * </pre>
 * A and B are the only trainable parameters; their gradients accumulate in gradA and gradB. GPT-2's
 * Conv1D needs nothing special here: A and B live in (out, in) orientation whatever W0's storage.
 * In training mode the forward pass keeps what backward needs (the dropped input, u = s·A·x̃) in
 * scratch sized to the rows of the last pass: training runs one batch at a time. In inference mode a
 * pass keeps nothing: its scratch belongs to the call, so threads may share the layer.
 *
 * <p>With a magnitude vector m (out) it is DoRA (PEFT's use_dora): the adapted weight W0 + s·B·A is
 * normalised per output and rescaled by m, so direction (A, B) and magnitude (m) train apart:
 * <pre>
 *   y = g ⊙ (W0·x + s·B·A·x) + b,      g = m / ‖W0 + s·B·A‖ (the norm of each output's row)
 * </pre>
 * The norm is a constant for the gradients (the DoRA paper's §4.3, as PEFT does), and with dropout
 * the base term stays undropped: y = W0·x + b + (g − 1)⊙W0·x̃ + g⊙s·B·A·x̃. m starts at ‖W0‖, so g = 1.
 *
 * <p>With a bias on B (PEFT's lora_bias, plain LoRA only) the adapter adds s·(B·A·x̃ + b_B); b_B starts at 0.
 */
public final class LoraLinear implements Projection {
    private final Linear base;
    private final int r;
    private final float scale, dropout;
    private final float[] a, b;          // (r, in), (out, r): HF's lora_A.weight and lora_B.weight
    private final float[] gradA, gradB;  // same shapes
    private volatile boolean training;
    private SplittableRandom rng = new SplittableRandom(0);
    private float[] dropped = new float[0]; // x̃ = dropout(x), (rows, in); only with dropout
    private float[] mask = new float[0];    // 0 or 1/(1−p) per element of x, (rows, in)
    private boolean repeatMask;             // the next forward pass reuses mask (gradient checkpointing)
    private float[] u = new float[0];       // s·A·x̃, (rows, r)
    private float[] du = new float[0];      // (rows, r)
    private float[] dxd = new float[0];     // du·A before the dropout mask, (rows, in); only with dropout
    // DoRA only
    private final float[] magnitude, gradMagnitude; // m (out), or null for plain LoRA
    private final Linear plain;                     // the base without its bias: W0·x
    private double[] baseNormSq;                    // ‖W0[o, :]‖², once: the base is frozen
    private float[] norm = new float[0];            // training: ‖W0 + s·B·A‖ per output, of the last pass
    private float[] kept = new float[0];            // training: v = W0·x̃ + s·B·A·x̃, (rows, out)
    private volatile float[] inferenceScale;        // g while not training (A, B and m do not change then)
    private final float[] biasB, gradBiasB;         // lora_bias: b_B (out) and its gradient, or null

    public LoraLinear(Linear base, int r, float scale, float dropout, float[] a, float[] b) {
        this(base, r, scale, dropout, a, b, null, null);
    }

    /** With a magnitude (out) this is a DoRA layer; null: plain LoRA. */
    public LoraLinear(Linear base, int r, float scale, float dropout, float[] a, float[] b, float[] magnitude) {
        this(base, r, scale, dropout, a, b, magnitude, null);
    }

    /** With biasB (out), B carries a bias (lora_bias); plain LoRA only. */
    public LoraLinear(Linear base, int r, float scale, float dropout, float[] a, float[] b, float[] magnitude, float[] biasB) {
        if (a.length != r * base.in() || b.length != base.out() * r)
            throw new IllegalArgumentException(base.name() + ": LoRA A must be " + r + "x" + base.in() + " and B " + base.out() + "x" + r);
        if (magnitude != null && magnitude.length != base.out())
            throw new IllegalArgumentException(base.name() + ": DoRA's magnitude must have " + base.out() + " entries, got " + magnitude.length);
        if (biasB != null && (biasB.length != base.out() || magnitude != null))
            throw new IllegalArgumentException(base.name() + ": lora_B's bias must have " + base.out() + " entries, and DoRA has none");
        this.biasB = biasB;
        this.gradBiasB = biasB == null ? null : new float[biasB.length];
        this.base = base;
        this.r = r;
        this.scale = scale;
        this.dropout = dropout;
        this.a = a;
        this.b = b;
        this.gradA = new float[a.length];
        this.gradB = new float[b.length];
        this.magnitude = magnitude;
        this.gradMagnitude = magnitude == null ? null : new float[magnitude.length];
        this.plain = magnitude == null ? null : new Linear(base.name(), base.weight(), null, base.in(), base.out(), base.fanInFanOut(), base.decodeCopy());
    }

    /** A DoRA layer whose magnitude starts where DoRA starts it: ‖W0 + s·B·A‖ of each output (so g = 1). */
    public static LoraLinear dora(Linear base, int r, float scale, float dropout, float[] a, float[] b) {
        LoraLinear l = new LoraLinear(base, r, scale, dropout, a, b, new float[base.out()]);
        System.arraycopy(l.weightNorm(), 0, l.magnitude, 0, base.out());
        return l;
    }

    @Override
    public Linear base() {
        return base;
    }

    public int rank() {
        return r;
    }

    public float scale() {
        return scale;
    }

    public float dropout() {
        return dropout;
    }

    /** lora_A (r, in), live: the optimizer updates it in place. */
    public float[] a() {
        return a;
    }

    /** lora_B (out, r), live. */
    public float[] b() {
        return b;
    }

    public float[] gradA() {
        return gradA;
    }

    public float[] gradB() {
        return gradB;
    }

    /** DoRA's magnitude m (out), live; null for plain LoRA. */
    public float[] magnitude() {
        return magnitude;
    }

    public float[] gradMagnitude() {
        return gradMagnitude;
    }

    public boolean dora() {
        return magnitude != null;
    }

    /** lora_B's bias (out), live; null without lora_bias. */
    public float[] biasB() {
        return biasB;
    }

    public float[] gradBiasB() {
        return gradBiasB;
    }

    /** Training mode applies dropout (seeded by {@code rng}); inference mode does not. */
    public void setTraining(boolean training, SplittableRandom rng) {
        this.training = training;
        inferenceScale = null; // A, B or m may have been trained since it was computed
        if (rng != null) this.rng = rng;
    }

    public long parameterCount() {
        return a.length + b.length + (magnitude == null ? 0 : magnitude.length) + (biasB == null ? 0 : biasB.length);
    }

    /**
     * ‖W0[o, :] + s·(B·A)[o, :]‖ for every output o (PEFT's weight_norm), without forming ΔW:
     * ‖W0_o‖² + 2s·B_o·(W0·Aᵀ)_o + s²·B_o·(A·Aᵀ)·B_oᵀ, the products in fp32 kernels and the sum in double.
     */
    public float[] weightNorm() {
        int in = in(), out = out();
        double[] w2 = baseNormSq();
        Mat am = Mat.of(a, 0, r, in);
        float[] pT = new float[r * out], gram = new float[r * r];
        Kernels.matmul(am, base.wT(), pT, 0, out, false);  // A·W0ᵀ = (W0·Aᵀ)ᵀ   (r, out)
        Kernels.matmul(am, am.t(), gram, 0, r, false);     // A·Aᵀ               (r, r)
        float[] n = new float[out];
        Parallel.forRange(out, 256, (o0, o1) -> {
            for (int o = o0; o < o1; o++) {
                double cross = 0, quad = 0;
                for (int k = 0; k < r; k++) {
                    double bk = b[o * r + k], gb = 0;
                    cross += bk * pT[k * out + o];
                    for (int l = 0; l < r; l++) gb += gram[k * r + l] * (double) b[o * r + l];
                    quad += bk * gb;
                }
                n[o] = (float) Math.sqrt(Math.max(0, w2[o] + 2.0 * scale * cross + (double) scale * scale * quad));
            }
        });
        return n;
    }

    /** ‖W0[o, :]‖² per output, whatever the weight's storage (Conv1D's (in, out), bf16, quantized). */
    private synchronized double[] baseNormSq() {
        if (baseNormSq != null) return baseNormSq;
        int in = in(), out = out();
        Mat w = base.weight().mat();
        double[] sq = new double[out];
        float[] row = new float[base.fanInFanOut() ? out : in];
        if (base.fanInFanOut()) // (in, out): each stored row adds to every output
            for (int j = 0; j < in; j++) {
                w.copyRow(j, 0, row, 0, out);
                for (int o = 0; o < out; o++) sq[o] += (double) row[o] * row[o];
            }
        else
            for (int o = 0; o < out; o++) {
                w.copyRow(o, 0, row, 0, in);
                double s = 0;
                for (float v : row) s += (double) v * v;
                sq[o] = s;
            }
        return baseNormSq = sq;
    }

    /** g = m / ‖W0 + s·B·A‖ per output: computed each training pass (keeping the norm), once while not training. */
    private float[] doraScale() {
        if (!training) {
            float[] g = inferenceScale;
            if (g == null) {
                float[] n = weightNorm();
                g = new float[n.length];
                for (int o = 0; o < g.length; o++) g[o] = magnitude[o] / n[o];
                inferenceScale = g;
            }
            return g;
        }
        norm = weightNorm();
        float[] g = new float[norm.length];
        for (int o = 0; o < g.length; o++) g[o] = magnitude[o] / norm[o];
        return g;
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        if (magnitude != null) {
            doraForward(x, y, yOff, ldy, accumulate);
            return;
        }
        base.forward(x, y, yOff, ldy, accumulate);
        int rows = x.rows(), in = in();
        if (!training) { // nothing kept: u belongs to this call
            float[] uc = new float[rows * r];
            Kernels.matmul(x, Mat.of(a, 0, r, in).t(), uc, 0, r, false);   // u = x·Aᵀ     (rows, r)
            for (int i = 0; i < uc.length; i++) uc[i] *= scale;             // u = s·x·Aᵀ
            Kernels.matmul(Mat.of(uc, 0, rows, r), Mat.of(b, 0, out(), r).t(), y, yOff, ldy, true); // y += u·Bᵀ
            addBiasB(y, yOff, ldy, rows);
            return;
        }
        keepRows(rows);
        Mat xd = dropout(x);
        Kernels.matmul(xd, Mat.of(a, 0, r, in).t(), u, 0, r, false);   // u = x̃·Aᵀ   (rows, r)
        for (int i = 0; i < rows * r; i++) u[i] *= scale;              // u = s·x̃·Aᵀ
        Kernels.matmul(Mat.of(u, 0, rows, r), Mat.of(b, 0, out(), r).t(), y, yOff, ldy, true); // y += u·Bᵀ
        addBiasB(y, yOff, ldy, rows);
    }

    /** y += s·b_B on every row (lora_bias). */
    private void addBiasB(float[] y, int yOff, int ldy, int rows) {
        if (biasB == null) return;
        for (int i = 0; i < rows; i++) Kernels.ops().axpy(scale, biasB, 0, y, yOff + i * ldy, out());
    }

    private void keepRows(int rows) {
        if (u.length < rows * r) {
            u = new float[rows * r];
            du = new float[rows * r];
        }
    }

    @Override
    public void repeatNextForward() {
        repeatMask = training && dropout != 0f;
    }

    /** x̃ = dropout(x) in training (the mask kept for backward, or the last pass's mask again when repeating it); x itself without dropout. */
    private Mat dropout(Mat x) {
        if (!training || dropout == 0f) return x;
        int rows = x.rows(), in = in();
        boolean repeat = repeatMask;
        repeatMask = false;
        if (repeat && mask.length >= rows * in) {
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < in; j++) dropped[i * in + j] = mask[i * in + j] * x.get(i, j);
            return Mat.of(dropped, 0, rows, in);
        }
        if (repeat) throw new IllegalStateException(name() + ": no earlier forward pass of " + rows + " rows to repeat");
        if (dropped.length < rows * in) {
            dropped = new float[rows * in];
            mask = new float[rows * in];
        }
        float keep = 1f / (1f - dropout);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < in; j++) {
                float m = rng.nextFloat() < dropout ? 0f : keep;
                mask[i * in + j] = m;
                dropped[i * in + j] = m * x.get(i, j);
            }
        return Mat.of(dropped, 0, rows, in);
    }

    /**
     * DoRA: y (+)= g⊙v + b with v = W0·x̃ + s·B·A·x̃, plus W0·x − W0·x̃ when dropout dropped something. In
     * training v, u and the norm are kept for backward; in inference nothing is.
     */
    private void doraForward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        int rows = x.rows(), in = in(), out = out();
        float[] g = doraScale();
        Mat xd = dropout(x);
        boolean dropped = xd != x;
        float[] v = training ? keptRows(rows * out) : new float[rows * out];
        float[] base0 = dropped ? new float[rows * out] : null;    // W0·x − W0·x̃
        plain.forward(xd, v, 0, out, false);                        // v = W0·x̃
        if (dropped) {
            plain.forward(x, base0, 0, out, false);
            for (int i = 0; i < rows * out; i++) base0[i] -= v[i];
        }
        float[] uu;
        if (training) {
            keepRows(rows);
            uu = u;
        } else uu = new float[rows * r];
        Kernels.matmul(xd, Mat.of(a, 0, r, in).t(), uu, 0, r, false);       // u = x̃·Aᵀ
        for (int i = 0; i < rows * r; i++) uu[i] *= scale;                   // u = s·x̃·Aᵀ
        Kernels.matmul(Mat.of(uu, 0, rows, r), Mat.of(b, 0, out, r).t(), v, 0, out, true); // v += u·Bᵀ
        float[] bias = base.bias();
        Parallel.forRange(rows, 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++)
                for (int o = 0; o < out; o++) {
                    float val = g[o] * v[i * out + o];
                    if (bias != null) val += bias[o];
                    if (base0 != null) val += base0[i * out + o];
                    int at = yOff + i * ldy + o;
                    y[at] = accumulate ? y[at] + val : val;
                }
        });
    }

    /** The dropout multipliers (0 or 1/(1 − p)) of the last training pass, (rows, in); for tests. */
    float[] dropoutMask() {
        return mask;
    }

    private float[] keptRows(int n) {
        if (kept.length < n) kept = new float[n];
        return kept;
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        if (!training) throw new IllegalStateException(name() + ": backward needs a forward pass in training mode");
        if (magnitude != null) {
            doraBackward(x, dy, dx, dxOff, lddx, accumulate);
            return;
        }
        base.backward(x, dy, dx, dxOff, lddx, accumulate);
        lowRankBackward(x, dy, dx, dxOff, lddx, null);
        if (biasB != null) { // db_B += s·Σ_rows dy, rows in order
            float[] row = new float[out()];
            for (int i = 0; i < x.rows(); i++) {
                dy.copyRow(i, 0, row, 0, out());
                Kernels.ops().axpy(scale, row, 0, gradBiasB, 0, out());
            }
        }
    }

    /**
     * dB += dyᵀ·u, dA += (s·dy·B)ᵀ·x̃, dx += (s·dy·B)·A (through the dropout mask), plus, when extra is
     * given (rows, in), that too through the mask.
     */
    private void lowRankBackward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, float[] extra) {
        int rows = x.rows(), in = in(), out = out();
        boolean dropped = dropout > 0f;
        Mat xd = dropped ? Mat.of(this.dropped, 0, rows, in) : x;
        Kernels.matmul(dy.t(), Mat.of(u, 0, rows, r), gradB, 0, r, true);          // dB += dyᵀ·(s·x̃Aᵀ)   (out, r)
        Kernels.matmul(dy, Mat.of(b, 0, out, r), du, 0, r, false);                 // du = dy·B            (rows, r)
        for (int i = 0; i < rows * r; i++) du[i] *= scale;                         // du = s·dy·B
        Kernels.matmul(Mat.of(du, 0, rows, r).t(), xd, gradA, 0, in, true);        // dA += duᵀ·x̃          (r, in)
        if (!dropped) {
            Kernels.matmul(Mat.of(du, 0, rows, r), Mat.of(a, 0, r, in), dx, dxOff, lddx, true); // dx += du·A
        } else {
            if (dxd.length < rows * in) dxd = new float[rows * in];
            float[] tmp = dxd;
            Kernels.matmul(Mat.of(du, 0, rows, r), Mat.of(a, 0, r, in), tmp, 0, in, false);
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int i = r0; i < r1; i++)
                    for (int j = 0; j < in; j++)
                        dx[dxOff + i * lddx + j] += (tmp[i * in + j] + (extra == null ? 0f : extra[i * in + j])) * mask[i * in + j];
            });
        }
    }

    /**
     * DoRA: dm += Σ_rows dy⊙v / ‖W0 + s·B·A‖; A and B get the LoRA gradients of g⊙dy; dx = W0ᵀ(g⊙dy) + the
     * low-rank part, or with dropout W0ᵀdy + mask⊙(W0ᵀ((g − 1)⊙dy)) + the low-rank part.
     */
    private void doraBackward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        int rows = x.rows(), out = out();
        float[] n = norm, v = kept, g = new float[out], dyg = new float[rows * out];
        for (int o = 0; o < out; o++) g[o] = magnitude[o] / n[o];
        float[] dyRow = new float[out];
        for (int i = 0; i < rows; i++) { // in row order on one thread: dm's sums are deterministic
            dy.copyRow(i, 0, dyRow, 0, out);
            for (int o = 0; o < out; o++) {
                gradMagnitude[o] += dyRow[o] * v[i * out + o] / n[o];
                dyg[i * out + o] = g[o] * dyRow[o];
            }
        }
        Mat dyScaled = Mat.of(dyg, 0, rows, out);
        if (dropout == 0f) {
            plain.backward(x, dyScaled, dx, dxOff, lddx, accumulate);
            lowRankBackward(x, dyScaled, dx, dxOff, lddx, null);
            return;
        }
        plain.backward(x, dy, dx, dxOff, lddx, accumulate);
        float[] gm1 = new float[rows * out], extra = new float[rows * in()];
        for (int i = 0; i < rows * out; i++) gm1[i] = dyg[i] - dy.get(i / out, i % out);    // (g − 1)⊙dy
        plain.backward(x, Mat.of(gm1, 0, rows, out), extra, 0, in(), false);              // W0ᵀ((g − 1)⊙dy)
        lowRankBackward(x, dyScaled, dx, dxOff, lddx, extra);
    }

    public void zeroGrad() {
        java.util.Arrays.fill(gradA, 0f);
        java.util.Arrays.fill(gradB, 0f);
        if (gradMagnitude != null) java.util.Arrays.fill(gradMagnitude, 0f);
        if (gradBiasB != null) java.util.Arrays.fill(gradBiasB, 0f);
    }
}
