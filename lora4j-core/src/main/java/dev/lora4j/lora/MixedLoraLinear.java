package dev.lora4j.lora;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.Ops;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.List;

/**
 * One frozen linear serving several adapters at once (the S-LoRA / Punica idea): the base matmul runs
 * over every row of the batch, then each row gets the low-rank part of its own adapter (Punica's BGMV):
 * u = s·A·x, then y += Bᵀ-rows weighted by u. Each row is computed by itself, with the same operations
 * whatever else is in the batch, so a sequence's outputs do not depend on its neighbours; at r = 8 this
 * is under 2% of the base matmul's arithmetic. Rows routed to -1 get the base alone.
 *
 * <p>A DoRA adapter's rows get PEFT's form, y = W0·x + b + (g − 1)⊙W0·x + g⊙s·B·A·x with g = m/‖W0 + s·B·A‖:
 * the base output of those rows is computed once more without the bias, all of them in one pass.
 *
 * <p>Built as a snapshot: each adapter's A and Bᵀ (and DoRA's g) are copied when the mixed model is made (Bᵀ so that
 * the second product streams rows). Inference only; nothing of a call is kept in the layer, so one model
 * serves any number of threads at once.
 */
public final class MixedLoraLinear implements Projection {
    private final Linear base;
    private final LowRank[] adapters; // index = route id; null where that adapter does not adapt this module
    private final int maxRank;
    private final Linear plain; // the base without its bias, when some adapter is DoRA; else null

    /** An adapter's factors as this layer uses them: A (r, in) and Bᵀ (r, out), row-major; DoRA's g (out) or null; s·b_B (lora_bias) or null. */
    private record LowRank(float[] a, float[] bT, int rank, float scale, float[] g, float[] scaledBias) {
        static LowRank of(LoraLinear l) {
            int r = l.rank(), out = l.out();
            float[] b = l.b(), bT = new float[r * out];
            for (int j = 0; j < out; j++)
                for (int q = 0; q < r; q++) bT[q * out + j] = b[j * r + q];
            float[] g = null;
            if (l.dora()) {
                float[] n = l.weightNorm();
                g = new float[out];
                for (int o = 0; o < out; o++) g[o] = l.magnitude()[o] / n[o];
            }
            float[] sb = null;
            if (l.biasB() != null) {
                sb = new float[out];
                for (int o = 0; o < out; o++) sb[o] = l.scale() * l.biasB()[o];
            }
            return new LowRank(l.a().clone(), bT, r, l.scale(), g, sb);
        }
    }

    /**
     * Which adapter each sequence of the current call uses (an index into the adapters, -1 for the base
     * alone). It belongs to the call, not to the model: bound for the call's extent by
     * {@link AdapterSet.Mixed#call}, so threads sharing one model each route their own batch.
     */
    static final ScopedValue<int[]> SEQUENCE_ADAPTERS = ScopedValue.newInstance();

    MixedLoraLinear(Linear base, List<LoraLinear> adapters) {
        this.base = base;
        this.adapters = new LowRank[adapters.size()];
        int rank = 0;
        boolean dora = false;
        for (int k = 0; k < adapters.size(); k++)
            if (adapters.get(k) != null) {
                this.adapters[k] = LowRank.of(adapters.get(k));
                rank = Math.max(rank, adapters.get(k).rank());
                dora |= adapters.get(k).dora();
            }
        this.maxRank = rank;
        this.plain = dora ? new Linear(base.name(), base.weight(), null, base.in(), base.out(), base.fanInFanOut(), base.decodeCopy()) : null;
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
        int per = rows / perSequence.length;
        int[] doraRows = plain == null ? new int[0] : java.util.stream.IntStream.range(0, rows)
                .filter(i -> perSequence[i / per] >= 0 && adapters[perSequence[i / per]] != null && adapters[perSequence[i / per]].g() != null).toArray();
        if (doraRows.length > 0) { // yᵢ += (g − 1)⊙W0·xᵢ
            float[] xs = new float[doraRows.length * in], t = new float[doraRows.length * out];
            for (int d = 0; d < doraRows.length; d++) x.copyRow(doraRows[d], 0, xs, d * in, in);
            plain.forward(Mat.of(xs, 0, doraRows.length, in), t, 0, out, false);
            Parallel.forRange(doraRows.length, 4, (d0, d1) -> {
                for (int d = d0; d < d1; d++) {
                    float[] g = adapters[perSequence[doraRows[d] / per]].g();
                    int at = yOff + doraRows[d] * ldy;
                    for (int o = 0; o < out; o++) y[at + o] += (g[o] - 1f) * t[d * out + o];
                }
            });
        }
        Ops ops = Kernels.ops();
        Parallel.forRange(rows, 4, (i0, i1) -> {
            float[] xi = new float[in], u = new float[maxRank], low = plain == null ? null : new float[out];
            for (int i = i0; i < i1; i++) {
                int k = perSequence[i / per];
                LowRank l = k < 0 ? null : adapters[k];
                if (l == null) continue;
                x.copyRow(i, 0, xi, 0, in);
                ops.dotRows(xi, 0, l.a(), 0, in, l.rank(), in, u, 0);                        // u = A·xᵢ       (r)
                for (int q = 0; q < l.rank(); q++) u[q] *= l.scale();
                if (l.g() == null) {
                    ops.axpyRows(u, 0, l.rank(), l.bT(), 0, out, y, yOff + i * ldy, out);    // yᵢ += Σ_q u_q·Bᵀ[q, :]
                    if (l.scaledBias() != null) ops.axpy(1f, l.scaledBias(), 0, y, yOff + i * ldy, out);
                    continue;
                }
                java.util.Arrays.fill(low, 0f);
                ops.axpyRows(u, 0, l.rank(), l.bT(), 0, out, low, 0, out);
                for (int o = 0; o < out; o++) y[yOff + i * ldy + o] += l.g()[o] * low[o];   // yᵢ += g⊙s·B·A·xᵢ
            }
        });
    }

    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        throw new UnsupportedOperationException("mixed-adapter batches are for inference; train one adapter at a time");
    }
}
