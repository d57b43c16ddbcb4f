package dev.lora4j.bottleneck;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.tensor.Mat;

/**
 * A frozen output projection followed by a Houlsby bottleneck adapter (Houlsby et al. 2019, the adapter layers the
 * LoRA paper compares against): the sub-layer's output z passes through a small two-layer network, added back:
 * <pre>
 *   z = W·x + b                          (rows, d)
 *   h = z·Dᵀ + b_D;  a = gelu(h)         (rows, m)   m ≪ d
 *   y = z + a·Uᵀ + b_U                   (rows, d)
 * backward (z, h, a recomputed from x):
 *   dU += dyᵀ·a;  db_U += Σ dy;  dh = (dy·U) ⊙ gelu'(h);  dD += dhᵀ·z;  db_D += Σ dh
 *   dz = dy + dh·D;  dx = Wᵀ·dz
 * </pre>
 * U and b_U start at 0, so training starts at the base. The extra matrix products run after the base's, in sequence:
 * the added depth (and inference latency) that LoRA avoids; it cannot be merged into W.
 */
public final class BottleneckLinear implements Projection {
    private final Linear base;
    private final int size;
    final float[] down, downBias, up, upBias;             // D (m, d), b_D (m), U (d, m), b_U (d)
    final float[] gDown, gDownBias, gUp, gUpBias;

    public BottleneckLinear(Linear base, int size, float[] down, float[] downBias, float[] up, float[] upBias) {
        int d = base.out();
        if (down.length != size * d || downBias.length != size || up.length != d * size || upBias.length != d)
            throw new IllegalArgumentException(base.name() + ": bottleneck tensors do not fit size " + size + " over width " + d);
        this.base = base;
        this.size = size;
        this.down = down;
        this.downBias = downBias;
        this.up = up;
        this.upBias = upBias;
        gDown = new float[down.length];
        gDownBias = new float[size];
        gUp = new float[up.length];
        gUpBias = new float[d];
    }

    @Override
    public Linear base() {
        return base;
    }

    public int size() {
        return size;
    }

    /** z, h and a of rows of x. */
    private record Inner(float[] z, float[] h, float[] a) {}

    private Inner inner(Mat x) {
        int rows = x.rows(), d = out(), m = size;
        float[] z = new float[rows * d], h = new float[rows * m], a = new float[rows * m];
        base.forward(x, z, 0, d, false);
        for (int r = 0; r < rows; r++) System.arraycopy(downBias, 0, h, r * m, m);
        Kernels.matmul(Mat.of(z, 0, rows, d), Mat.of(down, 0, m, d).t(), h, 0, m, true);
        Kernels.ops().geluErf(a, 0, h, 0, rows * m);
        return new Inner(z, h, a);
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        int rows = x.rows(), d = out(), m = size;
        Inner in = inner(x);
        float[] out = in.z();
        for (int r = 0; r < rows; r++) for (int j = 0; j < d; j++) out[r * d + j] += upBias[j];
        Kernels.matmul(Mat.of(in.a(), 0, rows, m), Mat.of(up, 0, d, m).t(), out, 0, d, true);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++) {
                if (accumulate) y[yOff + r * ldy + j] += out[r * d + j];
                else y[yOff + r * ldy + j] = out[r * d + j];
            }
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        int rows = x.rows(), d = out(), m = size;
        Inner in = inner(x);
        float[] g = new float[rows * d];
        for (int r = 0; r < rows; r++) dy.copyRow(r, 0, g, r * d, d);
        Mat dyM = Mat.of(g, 0, rows, d);
        Kernels.matmul(dyM.t(), Mat.of(in.a(), 0, rows, m), gUp, 0, m, true);            // dU += dyᵀ·a
        for (int r = 0; r < rows; r++) for (int j = 0; j < d; j++) gUpBias[j] += g[r * d + j];
        float[] da = new float[rows * m], dh = new float[rows * m];
        Kernels.matmul(dyM, Mat.of(up, 0, d, m), da, 0, m, false);                        // da = dy·U
        Kernels.ops().geluErfBackward(dh, 0, da, 0, in.h(), 0, rows * m);
        Kernels.matmul(Mat.of(dh, 0, rows, m).t(), Mat.of(in.z(), 0, rows, d), gDown, 0, d, true); // dD += dhᵀ·z
        for (int r = 0; r < rows; r++) for (int j = 0; j < m; j++) gDownBias[j] += dh[r * m + j];
        Kernels.matmul(Mat.of(dh, 0, rows, m), Mat.of(down, 0, m, d), g, 0, d, true);      // dz = dy + dh·D
        base.backward(x, dyM, dx, dxOff, lddx, accumulate);
    }
}
