package dev.lora4j.bench;

import dev.lora4j.data.Batch;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.FullModel;
import dev.lora4j.train.Optimizer;
import dev.lora4j.train.Parameter;
import dev.lora4j.train.Trainable;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Training throughput (LoRA, or full fine-tuning as the baseline): forward, backward and an AdamW step on random token ids, timed per step
 * after two warm-up steps, and the process's peak resident memory (VmHWM) at the end.
 */
public final class TrainBench {
    public record Result(double tokensPerSecond, double secondsPerStep, long peakRssBytes, long trainable) {}

    private TrainBench() {}

    /**
     * Loads the model at modelDir and times LoRA on targets (null: the model type's default) at rank r,
     * or full fine-tuning of every weight; the benchmark owns the model it loads.
     */
    public static Result run(Path modelDir, boolean full, LoraConfig.Targets targets, int r, int batch, int seqLen, int steps) {
        Transformer base = Transformer.load(modelDir);
        try {
            return run(base, full, targets, r, batch, seqLen, steps);
        } finally {
            base.close();
        }
    }

    private static Result run(Transformer base, boolean full, LoraConfig.Targets targets, int r, int batch, int seqLen, int steps) {
        Trainable trained;
        if (full) {
            trained = FullModel.of(base);
            base.close(); // the heap copy is all that is used from here
        } else {
            LoraConfig.Targets t = targets != null ? targets : LoraConfig.defaultTargets(base.config().modelType());
            LoraConfig cfg = LoraConfig.builder().r(r).alpha(2.0 * r).targets(t).build();
            trained = Trainable.lora(LoraModel.inject(base, cfg, 0));
        }
        trained.setTraining(true, 0);
        List<Parameter> params = trained.parameters();
        Transformer model = trained.model();
        Optimizer opt = new Optimizer.AdamW(params, 0.9f, 0.999f, 1e-8f, 0f);
        SplittableRandom rnd = new SplittableRandom(0);
        List<int[]> rows = new ArrayList<>();
        for (int i = 0; i < batch; i++) rows.add(rnd.ints(seqLen, 0, base.config().vocabSize()).toArray());
        Batch b = Batch.of(rows, 0, batch, seqLen);
        Activations act = new Activations(base.config(), batch, seqLen, true);
        double total = 0;
        for (int s = 0; s < steps + 2; s++) {
            long t0 = System.nanoTime();
            trained.zeroGrad();
            model.loss(b.tokens(), b.targets(), batch, seqLen, act, 1f / b.targetCount());
            opt.step(params, 1e-4f);
            if (s >= 2) total += (System.nanoTime() - t0) / 1e9;
        }
        double perStep = total / steps;
        return new Result(batch * seqLen / perStep, perStep, dev.lora4j.train.ProcessMemory.peakRssBytes(), params.stream().mapToLong(p -> p.value().length).sum());
    }
}
