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
        return new TrainOptions(model, data, out, r, r, 0, null, null, java.util.Map.of(), java.util.Map.of(), LoraConfig.Init.KAIMING, false,
                OptimizerKind.ADAMW, 0, lr, 0, 0.9, 0.999, 1e-8, Schedule.LINEAR, 0, steps, 1, 8, 1, 512, 1.0, 42, true,
                null, 0, 0, null, false, 0, false, 0, false, null);
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
