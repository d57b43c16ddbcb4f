package dev.lora4j.train;

/**
 * How a model is trained, whatever it is and wherever its data comes from: the optimizer, the
 * schedule, the batches, the length of the run and its cadences. Errors name the command-line option.
 *
 * @param optimizer    AdamW at lr 2e-4 by default
 * @param schedule     linear decay without warm-up by default
 * @param steps        optimizer steps; 0 (default) means "run {@code epochs} epochs"
 * @param epochs       passes over the data when steps is 0 (default 1)
 * @param batchSize    examples per micro-batch (default 8)
 * @param gradAccum    micro-batches per optimizer step (default 1); the loss is the mean over all their target tokens
 * @param seqLen       examples are truncated to this many tokens (default 512; the model's context bounds it too)
 * @param maxGradNorm  global gradient-norm clipping; 0 disables (default 1)
 * @param seed         seed of initialisation, data order and dropout (default 42)
 * @param shuffle      a seeded shuffle of the examples each epoch (default true)
 * @param evalEvery    evaluate every N steps, and at the end; 0 (default): at the end only, when there is eval data
 * @param saveEvery    a resumable checkpoint every N steps; 0 (default): none
 * @param logEvery     a progress line every N steps when not on a terminal; 0 (default): about 20 a run
 * @param gradientCheckpointing  keep only each block's input and recompute the rest in backward: less activation memory for
 *                     one more forward pass of the blocks, the same gradients to the bit (default false)
 */
public record TrainConfig(OptimizerConfig optimizer, ScheduleConfig schedule, long steps, int epochs, int batchSize, int gradAccum,
                          int seqLen, double maxGradNorm, long seed, boolean shuffle, long evalEvery, long saveEvery, long logEvery,
                          boolean gradientCheckpointing) {

    static final long MAX_STEPS = 1L << 40;

    public TrainConfig {
        if (optimizer == null) optimizer = OptimizerConfig.defaults();
        if (schedule == null) schedule = ScheduleConfig.defaults();
        Check.atLeast("--steps", steps, 0, MAX_STEPS);
        Check.atLeast("--epochs", epochs, 1, 1_000_000);
        Check.atLeast("--batch-size", batchSize, 1, 1 << 16);
        Check.atLeast("--grad-accum", gradAccum, 1, 1 << 20);
        Check.atLeast("--seq-len", seqLen, 1, 1 << 20);
        Check.nonNegativeFinite("--max-grad-norm", maxGradNorm);
        Check.atLeast("--eval-every", evalEvery, 0, MAX_STEPS);
        Check.atLeast("--save-every", saveEvery, 0, MAX_STEPS);
        Check.atLeast("--log-every", logEvery, 0, MAX_STEPS);
        if ((long) batchSize * seqLen > 1L << 24)
            throw new dev.lora4j.Lora4jException("--batch-size × --seq-len must be at most " + (1 << 24) + " tokens a micro-batch, got "
                    + batchSize + " × " + seqLen);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().optimizer(optimizer).schedule(schedule).steps(steps).epochs(epochs).batchSize(batchSize).gradAccum(gradAccum)
                .seqLen(seqLen).maxGradNorm(maxGradNorm).seed(seed).shuffle(shuffle).evalEvery(evalEvery).saveEvery(saveEvery).logEvery(logEvery)
                .gradientCheckpointing(gradientCheckpointing);
    }

    /** Optimizer steps in one pass over n examples. */
    public long stepsPerEpoch(int n) {
        long micro = (n + batchSize - 1) / batchSize;
        return Math.max(1, (micro + gradAccum - 1) / gradAccum);
    }

    /** The run's length in optimizer steps over n examples. */
    public long totalSteps(int n) {
        return steps > 0 ? steps : epochs * stepsPerEpoch(n);
    }

    /** TrainConfig by name, with the defaults listed on the record. */
    public static final class Builder {
        private OptimizerConfig optimizer = OptimizerConfig.defaults();
        private ScheduleConfig schedule = ScheduleConfig.defaults();
        private long steps;
        private int epochs = 1, batchSize = 8, gradAccum = 1, seqLen = 512;
        private double maxGradNorm = 1.0;
        private long seed = 42;
        private boolean shuffle = true, gradientCheckpointing;
        private long evalEvery, saveEvery, logEvery;

        private Builder() {}

        public Builder optimizer(OptimizerConfig v) {
            optimizer = v;
            return this;
        }

        /** AdamW (the default optimizer) at this learning rate. */
        public Builder lr(double v) {
            optimizer = optimizer.toBuilder().lr(v).build();
            return this;
        }

        public Builder schedule(ScheduleConfig v) {
            schedule = v;
            return this;
        }

        public Builder steps(long v) {
            steps = v;
            return this;
        }

        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder gradAccum(int v) {
            gradAccum = v;
            return this;
        }

        public Builder seqLen(int v) {
            seqLen = v;
            return this;
        }

        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder shuffle(boolean v) {
            shuffle = v;
            return this;
        }

        public Builder evalEvery(long v) {
            evalEvery = v;
            return this;
        }

        public Builder saveEvery(long v) {
            saveEvery = v;
            return this;
        }

        public Builder logEvery(long v) {
            logEvery = v;
            return this;
        }

        public Builder gradientCheckpointing(boolean v) {
            gradientCheckpointing = v;
            return this;
        }

        public TrainConfig build() {
            return new TrainConfig(optimizer, schedule, steps, epochs, batchSize, gradAccum, seqLen, maxGradNorm, seed, shuffle,
                    evalEvery, saveEvery, logEvery, gradientCheckpointing);
        }
    }
}
