package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.WeightPanels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;

/**
 * A frozen linear map y = x·Wᵀ + b, named by its Hugging Face module path (e.g.
 * {@code model.layers.0.self_attn.q_proj}, {@code transformer.h.0.attn.c_attn}).
 *
 * <p>The one place where GPT-2's Conv1D orientation is handled: nn.Linear stores W as (out, in),
 * Conv1D as (in, out) ({@code fanInFanOut}, PEFT's name for it). {@link #wT()} hides the difference.
 *
 * <p>For decoding, the weight may also be held as a heap copy in panels of outputs ({@link #decodeCopy},
 * filled by {@link Transformer#copyWeightsForDecoding}); a multiply of a few rows then reads that copy.
 */
public record Linear(String name, Tensor weight, float[] bias /* (out) or null */, int in, int out, boolean fanInFanOut,
                     DecodeCopy decodeCopy) implements Projection {

    /** A frozen linear with no decoding copy yet. */
    public Linear(String name, Tensor weight, float[] bias, int in, int out, boolean fanInFanOut) {
        this(name, weight, bias, in, out, fanInFanOut, new DecodeCopy());
    }

    /** The weight's heap copy for decoding, once made; the weight is frozen, so the copy never goes stale. */
    public static final class DecodeCopy {
        private volatile WeightPanels panels;

        public WeightPanels panels() {
            return panels;
        }

        void set(WeightPanels panels) {
            this.panels = panels;
        }
    }

    /** The checkpoint name of this linear's bias: its weight's name with ".bias" for ".weight". */
    public String biasName() {
        String w = weight.name();
        return w.endsWith(".weight") ? w.substring(0, w.length() - ".weight".length()) + ".bias" : w + ".bias";
    }

    /** The weight as an (in, out) matrix: the B operand of y = x·B. */
    public Mat wT() {
        Mat w = weight.mat();
        return fanInFanOut ? w : w.t();
    }

    @Override
    public Linear base() {
        return this;
    }

    /** Rows up to which a forward pass reads the decoding copy of the weights (batched decode steps). */
    public static final int DECODE_ROWS = 32;

    /**
     * In a ragged pass ({@link Transformer#forwardRagged}): how many leading rows go through the decode
     * kernel, the rest through the GEMM, whatever the total. Unbound: all rows through the decode kernel
     * up to {@link #DECODE_ROWS} rows, none beyond. Each kernel sums a row the same way whatever else is
     * in its call, so this keeps each sequence of a ragged pass on the kernel it would get alone.
     */
    static final ScopedValue<Integer> DECODE_KERNEL_ROWS = ScopedValue.newInstance();

    /** y(rows, out) at y[yOff] with row stride ldy: y = x·Wᵀ + b (or y += ..., when accumulate). */
    @Override
    public void forward(Mat x /* (rows, in) */, float[] y, int yOff, int ldy, boolean accumulate) {
        WeightPanels panels = decodeCopy.panels();
        int n = x.rows(), decode = DECODE_KERNEL_ROWS.isBound() ? Math.min(n, DECODE_KERNEL_ROWS.get()) : n <= DECODE_ROWS ? n : 0;
        if (weight.quant() == null && panels == null) decode = 0;
        // a decode step of a batch reads the heap panels (the packed path would re-pack the mapped weights every call)
        Mat head = decode == n ? x : x.rows(0, decode);
        if (decode > 0 && weight.quant() != null) Kernels.matmulTransposed(head, weight.quant(), y, yOff, ldy, accumulate);
        else if (decode > 0) Kernels.matmulTransposed(head, panels, y, yOff, ldy, accumulate);
        if (decode < n) Kernels.matmul(decode == 0 ? x : x.rows(decode, n - decode), wT(), y, yOff + decode * ldy, ldy, accumulate);
        if (bias != null) {
            Parallel.forRange(x.rows(), 64, (r0, r1) -> {
                for (int r = r0; r < r1; r++) Kernels.ops().axpy(1f, bias, 0, y, yOff + r * ldy, out);
            });
        }
    }

    /** dx (+)= dy·W. The weight is frozen: no weight gradient. */
    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        Kernels.matmul(dy, wT().t(), dx, dxOff, lddx, accumulate);
    }

    public long parameterCount() {
        return (long) in * out + (bias == null ? 0 : out);
    }
}
