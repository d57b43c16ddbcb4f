package dev.lora4j.train;

import dev.lora4j.lora.LoraConfig;

import java.nio.file.Path;
import java.util.List;

/**
 * Everything a training run is made of. Stored in every checkpoint (trainer_state.json), so that
 * {@code --resume} continues with exactly the same settings.
 *
 * @param steps   optimizer steps; 0 means "run {@code epochs} epochs"
 * @param targets null means the model type's default (c_attn for GPT-2, q_proj+v_proj for Llama)
 * @param pack    concatenate the examples into seqLen blocks (Hugging Face's group_texts)
 * @param evalSplit fraction of the data held out for evaluation when evalData is null (0: none)
 * @param chatTemplate a Jinja file overriding the model's chat template for "messages" data (null: the model's)
 */
public record TrainOptions(
        Path model, Path data, Path out,
        int r, double alpha, double dropout, LoraConfig.Targets targets, List<Integer> layers,
        java.util.Map<String, Integer> rankPattern, java.util.Map<String, Double> alphaPattern, LoraConfig.Init init, boolean rslora,
        OptimizerKind optimizer, double momentum, double lr, double weightDecay, double beta1, double beta2, double eps,
        Schedule schedule, long warmupSteps, long steps, int epochs,
        int batchSize, int gradAccum, int seqLen, double maxGradNorm, long seed, boolean shuffle,
        Path evalData, long evalEvery, long saveEvery, Path initAdapter, boolean full, long logEvery,
        boolean pack, double evalSplit, boolean skipBadLines, Path chatTemplate) {

    public enum OptimizerKind { ADAMW, SGD }

    /** Every number checked against its domain, named by its command-line option: a run never starts with a value it cannot honour. */
    public TrainOptions {
        Check.atLeast("--r", r, 1, MAX_RANK);
        Check.positiveFinite("--alpha", alpha);
        Check.inUnit("--dropout", dropout);
        if (layers != null) for (int l : layers) Check.atLeast("--layers", l, 0, Integer.MAX_VALUE);
        if (rankPattern != null) rankPattern.forEach((k, v) -> Check.atLeast("--rank-pattern " + k, v, 1, MAX_RANK));
        if (alphaPattern != null) alphaPattern.forEach((k, v) -> Check.positiveFinite("--alpha-pattern " + k, v));
        Check.inUnit("--momentum", momentum);
        Check.positiveFinite("--lr", lr);
        Check.nonNegativeFinite("--weight-decay", weightDecay);
        Check.inUnit("--betas (beta1)", beta1);
        Check.inUnit("--betas (beta2)", beta2);
        Check.positiveFinite("--eps", eps);
        Check.atLeast("--warmup-steps", warmupSteps, 0, MAX_STEPS);
        Check.atLeast("--steps", steps, 0, MAX_STEPS);
        Check.atLeast("--epochs", epochs, 1, 1_000_000);
        Check.atLeast("--batch-size", batchSize, 1, 1 << 16);
        Check.atLeast("--grad-accum", gradAccum, 1, 1 << 20);
        Check.atLeast("--seq-len", seqLen, 1, 1 << 20);
        Check.nonNegativeFinite("--max-grad-norm", maxGradNorm);
        Check.atLeast("--eval-every", evalEvery, 0, MAX_STEPS);
        Check.atLeast("--save-every", saveEvery, 0, MAX_STEPS);
        Check.atLeast("--log-every", logEvery, 0, MAX_STEPS);
        Check.inUnit("--eval-split", evalSplit);
        if ((long) batchSize * seqLen > 1L << 24)
            throw new dev.lora4j.Lora4jException("--batch-size × --seq-len must be at most " + (1 << 24) + " tokens a micro-batch, got "
                    + batchSize + " × " + seqLen);
    }

    private static final int MAX_RANK = 1 << 16;
    private static final long MAX_STEPS = 1L << 40;

    /**
     * LoRA on the model type's default targets with the CLI's defaults (alpha = r, AdamW, linear decay,
     * batch 8, 512 tokens, gradient clipping at 1, seed 42, shuffled), for steps steps at learning rate lr.
     */
    public static TrainOptions lora(Path model, Path data, Path out, int r, long steps, double lr) {
        return builder(model, data, out).r(r).steps(steps).lr(lr).build();
    }

    /** A builder starting from the command line's defaults (those of {@code lora4j train}); alpha defaults to r. */
    public static Builder builder(Path model, Path data, Path out) {
        return new Builder().model(model).data(data).out(out);
    }

    /** A builder holding these options, to change a few. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.model = model;
        b.data = data;
        b.out = out;
        b.r = r;
        b.alpha = alpha;
        b.dropout = dropout;
        b.targets = targets;
        b.layers = layers;
        b.rankPattern = rankPattern;
        b.alphaPattern = alphaPattern;
        b.init = init;
        b.rslora = rslora;
        b.optimizer = optimizer;
        b.momentum = momentum;
        b.lr = lr;
        b.weightDecay = weightDecay;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.eps = eps;
        b.schedule = schedule;
        b.warmupSteps = warmupSteps;
        b.steps = steps;
        b.epochs = epochs;
        b.batchSize = batchSize;
        b.gradAccum = gradAccum;
        b.seqLen = seqLen;
        b.maxGradNorm = maxGradNorm;
        b.seed = seed;
        b.shuffle = shuffle;
        b.evalData = evalData;
        b.evalEvery = evalEvery;
        b.saveEvery = saveEvery;
        b.initAdapter = initAdapter;
        b.full = full;
        b.logEvery = logEvery;
        b.pack = pack;
        b.evalSplit = evalSplit;
        b.skipBadLines = skipBadLines;
        b.chatTemplate = chatTemplate;
        return b;
    }

    /** TrainOptions by name, with the command line's defaults for everything not set. */
    public static final class Builder {
        private Path model;
        private Path data;
        private Path out;
        private int r = 8;
        private Double alpha; // null: r
        private double dropout;
        private LoraConfig.Targets targets;
        private List<Integer> layers;
        private java.util.Map<String, Integer> rankPattern = java.util.Map.of();
        private java.util.Map<String, Double> alphaPattern = java.util.Map.of();
        private LoraConfig.Init init = LoraConfig.Init.KAIMING;
        private boolean rslora;
        private OptimizerKind optimizer = OptimizerKind.ADAMW;
        private double momentum;
        private double lr = 2e-4;
        private double weightDecay;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double eps = 1e-8;
        private Schedule schedule = Schedule.LINEAR;
        private long warmupSteps;
        private long steps;
        private int epochs = 1;
        private int batchSize = 8;
        private int gradAccum = 1;
        private int seqLen = 512;
        private double maxGradNorm = 1.0;
        private long seed = 42;
        private boolean shuffle = true;
        private Path evalData;
        private long evalEvery;
        private long saveEvery;
        private Path initAdapter;
        private boolean full;
        private long logEvery;
        private boolean pack;
        private double evalSplit;
        private boolean skipBadLines;
        private Path chatTemplate;

        private Builder() {}

        public Builder model(Path v) {
            model = v;
            return this;
        }

        public Builder data(Path v) {
            data = v;
            return this;
        }

        public Builder out(Path v) {
            out = v;
            return this;
        }

        public Builder r(int v) {
            r = v;
            return this;
        }

        public Builder alpha(Double v) {
            alpha = v;
            return this;
        }

        public Builder dropout(double v) {
            dropout = v;
            return this;
        }

        public Builder targets(LoraConfig.Targets v) {
            targets = v;
            return this;
        }

        public Builder layers(List<Integer> v) {
            layers = v;
            return this;
        }

        public Builder rankPattern(java.util.Map<String, Integer> v) {
            rankPattern = v;
            return this;
        }

        public Builder alphaPattern(java.util.Map<String, Double> v) {
            alphaPattern = v;
            return this;
        }

        public Builder init(LoraConfig.Init v) {
            init = v;
            return this;
        }

        public Builder rslora(boolean v) {
            rslora = v;
            return this;
        }

        public Builder optimizer(OptimizerKind v) {
            optimizer = v;
            return this;
        }

        public Builder momentum(double v) {
            momentum = v;
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

        public Builder beta1(double v) {
            beta1 = v;
            return this;
        }

        public Builder beta2(double v) {
            beta2 = v;
            return this;
        }

        public Builder eps(double v) {
            eps = v;
            return this;
        }

        public Builder schedule(Schedule v) {
            schedule = v;
            return this;
        }

        public Builder warmupSteps(long v) {
            warmupSteps = v;
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

        public Builder evalData(Path v) {
            evalData = v;
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

        public Builder initAdapter(Path v) {
            initAdapter = v;
            return this;
        }

        public Builder full(boolean v) {
            full = v;
            return this;
        }

        public Builder logEvery(long v) {
            logEvery = v;
            return this;
        }

        public Builder pack(boolean v) {
            pack = v;
            return this;
        }

        public Builder evalSplit(double v) {
            evalSplit = v;
            return this;
        }

        public Builder skipBadLines(boolean v) {
            skipBadLines = v;
            return this;
        }

        public Builder chatTemplate(Path v) {
            chatTemplate = v;
            return this;
        }

        public TrainOptions build() {
            return new TrainOptions(model, data, out, r, alpha == null ? r : alpha, dropout, targets, layers, rankPattern, alphaPattern, init, rslora, optimizer, momentum, lr, weightDecay, beta1, beta2, eps, schedule, warmupSteps, steps, epochs, batchSize, gradAccum, seqLen, maxGradNorm, seed, shuffle, evalData, evalEvery, saveEvery, initAdapter, full, logEvery, pack, evalSplit, skipBadLines, chatTemplate);
        }
    }

    /** Optimizer steps in one pass over n examples. */
    public long stepsPerEpoch(int n) {
        long micro = (n + batchSize - 1) / batchSize;
        return Math.max(1, (micro + gradAccum - 1) / gradAccum);
    }

    public long totalSteps(int n) {
        return steps > 0 ? steps : epochs * stepsPerEpoch(n);
    }
}
