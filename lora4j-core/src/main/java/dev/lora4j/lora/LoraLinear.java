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
    private float[] u = new float[0];       // s·A·x̃, (rows, r)
    private float[] du = new float[0];      // (rows, r)
    private float[] dxd = new float[0];     // du·A before the dropout mask, (rows, in); only with dropout

    public LoraLinear(Linear base, int r, float scale, float dropout, float[] a, float[] b) {
        if (a.length != r * base.in() || b.length != base.out() * r)
            throw new IllegalArgumentException(base.name() + ": LoRA A must be " + r + "x" + base.in() + " and B " + base.out() + "x" + r);
        this.base = base;
        this.r = r;
        this.scale = scale;
        this.dropout = dropout;
        this.a = a;
        this.b = b;
        this.gradA = new float[a.length];
        this.gradB = new float[b.length];
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

    /** Training mode applies dropout (seeded by {@code rng}); inference mode does not. */
    public void setTraining(boolean training, SplittableRandom rng) {
        this.training = training;
        if (rng != null) this.rng = rng;
    }

    public long parameterCount() {
        return a.length + b.length;
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        base.forward(x, y, yOff, ldy, accumulate);
        int rows = x.rows(), in = in();
        if (!training) { // nothing kept: u belongs to this call
            float[] uc = new float[rows * r];
            Kernels.matmul(x, Mat.of(a, 0, r, in).t(), uc, 0, r, false);   // u = x·Aᵀ     (rows, r)
            for (int i = 0; i < uc.length; i++) uc[i] *= scale;             // u = s·x·Aᵀ
            Kernels.matmul(Mat.of(uc, 0, rows, r), Mat.of(b, 0, out(), r).t(), y, yOff, ldy, true); // y += u·Bᵀ
            return;
        }
        if (u.length < rows * r) {
            u = new float[rows * r];
            du = new float[rows * r];
        }
        Mat xd = x;
        if (dropout > 0f) {
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
            xd = Mat.of(dropped, 0, rows, in);
        }
        Kernels.matmul(xd, Mat.of(a, 0, r, in).t(), u, 0, r, false);   // u = x̃·Aᵀ   (rows, r)
        for (int i = 0; i < rows * r; i++) u[i] *= scale;              // u = s·x̃·Aᵀ
        Kernels.matmul(Mat.of(u, 0, rows, r), Mat.of(b, 0, out(), r).t(), y, yOff, ldy, true); // y += u·Bᵀ
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        base.backward(x, dy, dx, dxOff, lddx, accumulate);
        if (!training) throw new IllegalStateException(name() + ": backward needs a forward pass in training mode");
        int rows = x.rows(), in = in(), out = out();
        boolean dropped = training && dropout > 0f;
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
                    for (int j = 0; j < in; j++) dx[dxOff + i * lddx + j] += tmp[i * in + j] * mask[i * in + j];
            });
        }
    }

    public void zeroGrad() {
        java.util.Arrays.fill(gradA, 0f);
        java.util.Arrays.fill(gradB, 0f);
    }
}
