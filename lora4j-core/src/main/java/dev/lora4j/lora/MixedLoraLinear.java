package dev.lora4j.lora;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.tensor.Mat;

import java.util.List;

/**
 * One frozen linear serving several adapters at once (the S-LoRA / Punica idea): the base matmul runs
 * over every row of the batch, then each adapter's low-rank part is applied to the rows routed to it,
 * as one pair of small matmuls per adapter: on a view when its rows are contiguous (a sequence), else
 * gathered into one block and scattered back. Rows routed to -1 get the base alone. Inference only;
 * nothing of a call is kept in the layer, so one model serves any number of threads at once.
 */
public final class MixedLoraLinear implements Projection {
    private final Linear base;
    private final List<LoraLinear> adapters;  // index = route id; null where that adapter does not adapt this module

    /**
     * Which adapter each sequence of the current call uses (an index into the adapters, -1 for the base
     * alone). It belongs to the call, not to the model: bound for the call's extent by
     * {@link AdapterSet.Mixed#call}, so threads sharing one model each route their own batch.
     */
    static final ScopedValue<int[]> SEQUENCE_ADAPTERS = ScopedValue.newInstance();

    MixedLoraLinear(Linear base, List<LoraLinear> adapters) {
        this.base = base;
        this.adapters = adapters;
    }

    @Override
    public Linear base() {
        return base;
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        base.forward(x, y, yOff, ldy, accumulate);
        int rows = x.rows(), in = in(), out = out();
        if (!SEQUENCE_ADAPTERS.isBound())
            throw new IllegalStateException(name() + ": a mixed-adapter model runs inside AdapterSet.Mixed.call(...), which says each sequence's adapter");
        int[] perSequence = SEQUENCE_ADAPTERS.get();
        if (rows % perSequence.length != 0)
            throw new IllegalStateException(name() + ": " + rows + " rows do not split into " + perSequence.length + " sequences");
        int[] route = new int[rows];
        for (int i = 0, per = rows / perSequence.length; i < rows; i++) route[i] = perSequence[i / per];
        for (int k = 0; k < adapters.size(); k++) {
            LoraLinear l = adapters.get(k);
            if (l == null) continue;
            int n = 0;
            for (int r : route) if (r == k) n++;
            if (n == 0) continue;
            int[] rowsOf = new int[n];
            for (int i = 0, j = 0; i < rows; i++) if (route[i] == k) rowsOf[j++] = i;
            int r = l.rank();
            float[] u = new float[n * r];
            if (rowsOf[n - 1] - rowsOf[0] == n - 1) {
                // one contiguous run of rows (a whole sequence, or neighbouring ones): no gather, no scatter
                Mat xs = new Mat(x.array(), x.segment(), x.offset() + (long) rowsOf[0] * x.rowStride(), n, in, x.rowStride(), x.colStride());
                Kernels.matmul(xs, Mat.of(l.a(), 0, r, in).t(), u, 0, r, false);
                for (int i = 0; i < u.length; i++) u[i] *= l.scale();
                Kernels.matmul(Mat.of(u, 0, n, r), Mat.of(l.b(), 0, out, r).t(), y, yOff + rowsOf[0] * ldy, ldy, true);
                continue;
            }
            float[] xg = new float[n * in];                          // gather x rows of adapter k    (n, in)
            for (int j = 0; j < n; j++)
                for (int c = 0; c < in; c++) xg[j * in + c] = x.get(rowsOf[j], c);
            float[] yd = new float[n * out];
            Kernels.matmul(Mat.of(xg, 0, n, in), Mat.of(l.a(), 0, r, in).t(), u, 0, r, false);   // u = x·Aᵀ       (n, r)
            for (int i = 0; i < u.length; i++) u[i] *= l.scale();
            Kernels.matmul(Mat.of(u, 0, n, r), Mat.of(l.b(), 0, out, r).t(), yd, 0, out, false); // s·u·Bᵀ         (n, out)
            for (int j = 0; j < n; j++) Kernels.ops().axpy(1f, yd, j * out, y, yOff + rowsOf[j] * ldy, out); // scatter-add
        }
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        throw new UnsupportedOperationException("mixed-adapter batches are for inference; train one adapter at a time");
    }
}
