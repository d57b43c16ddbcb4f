package dev.lora4j.train;

import java.util.List;

/**
 * The optimizer and its hyper-parameters (PyTorch's AdamW or SGD). Errors name the command-line option.
 *
 * @param kind        AdamW (default) or SGD
 * @param lr          peak learning rate (default 2e-4); the schedule scales it per step
 * @param weightDecay decoupled for AdamW, L2 for SGD (default 0)
 * @param beta1       AdamW's first-moment decay (default 0.9)
 * @param beta2       AdamW's second-moment decay (default 0.999)
 * @param eps         AdamW's denominator term (default 1e-8)
 * @param momentum    SGD's momentum (default 0)
 * @param loraplusLrRatio LoRA+: LoRA's B matrices learn at this multiple of lr (PEFT's loraplus_lr_ratio; default 1, plain LoRA)
 */
public record OptimizerConfig(Kind kind, double lr, double weightDecay, double beta1, double beta2, double eps, double momentum,
                              double loraplusLrRatio) {

    public enum Kind { ADAMW, SGD }

    public OptimizerConfig {
        if (kind == null) throw new dev.lora4j.Lora4jException("--optimizer must be given (adamw or sgd)");
        Check.positiveFinite("--lr", lr);
        Check.nonNegativeFinite("--weight-decay", weightDecay);
        Check.inUnit("--betas (beta1)", beta1);
        Check.inUnit("--betas (beta2)", beta2);
        Check.positiveFinite("--eps", eps);
        Check.inUnit("--momentum", momentum);
        Check.positiveFinite("--loraplus-lr-ratio", loraplusLrRatio);
        if (loraplusLrRatio > 1e4) throw new dev.lora4j.Lora4jException("--loraplus-lr-ratio must be at most 1e4 (the paper uses about 16), got " + loraplusLrRatio);
    }

    /** AdamW with PyTorch's defaults and lr 2e-4. */
    public static OptimizerConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().kind(kind).lr(lr).weightDecay(weightDecay).betas(beta1, beta2).eps(eps).momentum(momentum).loraplusLrRatio(loraplusLrRatio);
    }

    /** A fresh optimizer (zero state) over these parameters. */
    public Optimizer create(List<Parameter> params) {
        return switch (kind) {
            case ADAMW -> new Optimizer.AdamW(params, (float) beta1, (float) beta2, (float) eps, (float) weightDecay,
                    Optimizer.loraPlus(params, loraplusLrRatio));
            case SGD -> new Optimizer.Sgd(params, (float) momentum, (float) weightDecay, Optimizer.loraPlus(params, loraplusLrRatio));
        };
    }

    public static final class Builder {
        private Kind kind = Kind.ADAMW;
        private double lr = 2e-4, weightDecay, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum, loraplusLrRatio = 1;

        private Builder() {}

        public Builder kind(Kind v) {
            kind = v;
            return this;
        }

        public Builder lr(double v) {
            lr = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder betas(double b1, double b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        public Builder eps(double v) {
            eps = v;
            return this;
        }

        public Builder momentum(double v) {
            momentum = v;
            return this;
        }

        public Builder loraplusLrRatio(double v) {
            loraplusLrRatio = v;
            return this;
        }

        public OptimizerConfig build() {
            return new OptimizerConfig(kind, lr, weightDecay, beta1, beta2, eps, momentum, loraplusLrRatio);
        }
    }
}
