package dev.lora4j.ia3;

import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.tensor.Mat;

/**
 * A frozen linear with IA³'s learned vector l, PEFT's IA3 Linear layer:
 * <pre>
 *   output-scaled:  y = (W·x + b) ⊙ l          l: (out)
 *     backward:     z = W·x + b (recomputed);  dl += Σ_rows dy ⊙ z;  dx = Wᵀ·(dy ⊙ l)
 *   input-scaled (feed-forward modules):  y = W·(x ⊙ l) + b          l: (in)
 *     backward:     g = Wᵀ·dy;  dl += Σ_rows x ⊙ g;  dx = g ⊙ l
 * </pre>
 * Gradients of l are summed over rows in order, on the calling thread (deterministic).
 */
public final class Ia3Linear implements Projection {
    private final Linear base;
    private final boolean feedforward;
    private final float[] scale, grad;

    public Ia3Linear(Linear base, boolean feedforward, float[] scale) {
        int n = feedforward ? base.in() : base.out();
        if (scale.length != n) throw new IllegalArgumentException(base.name() + ": IA³ vector of " + scale.length + ", expected " + n);
        this.base = base;
        this.feedforward = feedforward;
        this.scale = scale;
        this.grad = new float[n];
    }

    @Override
    public Linear base() {
        return base;
    }

    public boolean feedforward() {
        return feedforward;
    }

    /** l: (in) for a feed-forward module, else (out); trained in place. */
    public float[] scale() {
        return scale;
    }

    public float[] grad() {
        return grad;
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        int rows = x.rows(), in = in(), out = out();
        if (feedforward) {
            base.forward(Mat.of(scaledInput(x), 0, rows, in), y, yOff, ldy, accumulate);
            return;
        }
        if (!accumulate) {
            base.forward(x, y, yOff, ldy, false);
            for (int r = 0; r < rows; r++) for (int j = 0; j < out; j++) y[yOff + r * ldy + j] *= scale[j];
            return;
        }
        float[] z = new float[rows * out];
        base.forward(x, z, 0, out, false);
        for (int r = 0; r < rows; r++) for (int j = 0; j < out; j++) y[yOff + r * ldy + j] += z[r * out + j] * scale[j];
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        int rows = x.rows(), in = in(), out = out();
        if (feedforward) {
            float[] g = new float[rows * in], xr = new float[in];
            base.backward(Mat.of(scaledInput(x), 0, rows, in), dy, g, 0, in, false);
            for (int r = 0; r < rows; r++) {
                x.copyRow(r, 0, xr, 0, in);
                for (int j = 0; j < in; j++) {
                    grad[j] += xr[j] * g[r * in + j];
                    float v = g[r * in + j] * scale[j];
                    if (accumulate) dx[dxOff + r * lddx + j] += v;
                    else dx[dxOff + r * lddx + j] = v;
                }
            }
            return;
        }
        float[] z = new float[rows * out], dz = new float[rows * out];
        base.forward(x, z, 0, out, false);
        for (int r = 0; r < rows; r++) {
            dy.copyRow(r, 0, dz, r * out, out);
            for (int j = 0; j < out; j++) {
                grad[j] += dz[r * out + j] * z[r * out + j];
                dz[r * out + j] *= scale[j];
            }
        }
        base.backward(x, Mat.of(dz, 0, rows, out), dx, dxOff, lddx, accumulate);
    }

    private float[] scaledInput(Mat x) {
        int rows = x.rows(), in = in();
        float[] xs = new float[rows * in];
        for (int r = 0; r < rows; r++) {
            x.copyRow(r, 0, xs, r * in, in);
            for (int j = 0; j < in; j++) xs[r * in + j] *= scale[j];
        }
        return xs;
    }

    /** W and b with l folded in: rows (outputs) scaled, or columns (inputs) for a feed-forward module; PEFT's merge. */
    public float[][] merged() {
        float[] w = base.weight().toArray().clone();
        int in = in(), out = out();
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                int at = base.fanInFanOut() ? i * out + o : o * in + i; // Conv1D stores (in, out)
                w[at] *= feedforward ? scale[i] : scale[o];
            }
        float[] b = base.bias() == null ? null : base.bias().clone();
        if (b != null && !feedforward) for (int o = 0; o < out; o++) b[o] *= scale[o];
        return new float[][] {w, b};
    }
}
