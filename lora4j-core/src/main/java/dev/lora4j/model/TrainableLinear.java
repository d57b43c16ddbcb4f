package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;

/**
 * A linear map whose weight and bias are trained (full fine-tuning): a heap copy of the frozen
 * linear, with gradients in the weight's own storage orientation ((out, in), or (in, out) for
 * GPT-2's Conv1D), so they and the weights are written back under the checkpoint's names unchanged.
 */
public record TrainableLinear(Linear base, float[] weightGrad, float[] biasGrad /* or null */) implements Projection {

    public static TrainableLinear of(Linear frozen) {
        Tensor w = frozen.weight();
        Linear copy = new Linear(frozen.name(), Tensor.of(w.name(), w.toArray().clone(), w.shape()),
                frozen.bias() == null ? null : frozen.bias().clone(), frozen.in(), frozen.out(), frozen.fanInFanOut());
        return new TrainableLinear(copy, new float[Math.toIntExact(w.numel())], frozen.bias() == null ? null : new float[frozen.out()]);
    }

    @Override
    public void forward(Mat x, float[] y, int yOff, int ldy, boolean accumulate) {
        base.forward(x, y, yOff, ldy, accumulate);
    }

    /** dx (+)= dy·W; dW += dyᵀ·x (or xᵀ·dy for Conv1D); db += Σ_rows dy. */
    @Override
    public void backward(Mat x, Mat dy, float[] dx, int dxOff, int lddx, boolean accumulate) {
        base.backward(x, dy, dx, dxOff, lddx, accumulate);
        if (base.fanInFanOut()) Kernels.matmul(x.t(), dy, weightGrad, 0, out(), true);
        else Kernels.matmul(dy.t(), x, weightGrad, 0, in(), true);
        if (biasGrad != null)
            for (int r = 0; r < dy.rows(); r++)
                for (int j = 0; j < out(); j++) biasGrad[j] += dy.get(r, j);
    }
}
