package dev.lora4j.train;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.quant.QuantType;

import java.nio.file.Path;

/**
 * A training run as {@code lora4j train} makes it, from files to files: the model directory, the data,
 * the output directory, what is trained (LoRA or every weight) and how ({@link TrainConfig}). Stored in
 * every checkpoint's trainer_state.json ({@link OptionsJson}), so that a resumed run continues with
 * exactly the same settings; the same JSON is what {@code lora4j train --config} reads.
 *
 * @param model       Hugging Face model directory
 * @param out         output directory (adapter or full checkpoint, metrics.jsonl, checkpoints)
 * @param data        the examples
 * @param lora        the adapters to train (ignored with full)
 * @param full        full fine-tuning: every weight trained, out receives a complete checkpoint
 * @param initAdapter start from this PEFT adapter (its r, alpha and targets) instead of fresh adapters, or null
 * @param train       optimizer, schedule, batches and cadences
 * @param quantize    the frozen base quantized at load (QLoRA: int8 or nf4), or null for the weights as stored
 * @param ia3         train IA³ vectors instead of LoRA (targets null: the model type's defaults), or null
 * @param bottleneck  train Houlsby bottleneck adapters instead of LoRA, or null
 * @param promptTuning train a soft prompt instead of LoRA, or null
 * @param prefixTuning train a prefix of keys and values instead of LoRA, or null
 */
public record TrainOptions(Path model, Path out, DataConfig data, LoraConfig lora, boolean full, Path initAdapter, TrainConfig train,
                           QuantType quantize, dev.lora4j.ia3.Ia3Config ia3, dev.lora4j.bottleneck.BottleneckConfig bottleneck,
                           dev.lora4j.prompt.PromptTuningConfig promptTuning, dev.lora4j.prompt.PrefixTuningConfig prefixTuning) {

    public TrainOptions {
        if (model == null) throw new Lora4jException("--model must be given");
        if (out == null) throw new Lora4jException("--out must be given");
        if (data == null) throw new Lora4jException("--data must be given");
        if (lora == null) lora = LoraConfig.builder().build();
        if (train == null) train = TrainConfig.builder().build();
        if (full && initAdapter != null) throw new Lora4jException("--full trains every weight; it cannot start from --init-adapter");
        if (full && train != null && train.optimizer().loraplusLrRatio() != 1)
            throw new Lora4jException("--loraplus-lr-ratio speeds up LoRA's B matrices; --full trains no adapter");
        if (full && lora != null && lora.dora()) throw new Lora4jException("--dora decomposes LoRA's update; --full trains every weight instead");
        if (quantize != null && lora.init().residual())
            throw new Lora4jException("--init " + lora.initName() + " takes its start from the base weights and freezes the rest; with --quantize the rest would be quantized again (not supported)");
        if (full && quantize != null) throw new Lora4jException("--quantize freezes the base in " + quantize.label + "; --full trains every weight");
        if (bottleneck != null && (full || ia3 != null || initAdapter != null || train.optimizer().loraplusLrRatio() != 1 || lora.dora() || lora.loraBias()
                || lora.init() != LoraConfig.Init.KAIMING))
            throw new Lora4jException("--bottleneck-size trains bottleneck adapters alone: not with --full, --ia3, --init-adapter, --loraplus-lr-ratio, --dora, --lora-bias or --init");
        if ((promptTuning != null || prefixTuning != null) && (full || ia3 != null || bottleneck != null || initAdapter != null
                || train.optimizer().loraplusLrRatio() != 1 || lora.dora() || lora.loraBias() || lora.init() != LoraConfig.Init.KAIMING
                || (promptTuning != null && prefixTuning != null)))
            throw new Lora4jException((promptTuning != null ? "--prompt-tuning trains a soft prompt" : "--prefix-tuning trains a prefix") + " alone: not with --full, --ia3,"
                    + " --bottleneck-size, --" + (promptTuning != null ? "prefix" : "prompt") + "-tuning, --init-adapter, --loraplus-lr-ratio, --dora, --lora-bias or --init");
        if (!lora.embeddings().none() && (full || ia3 != null || bottleneck != null || promptTuning != null || prefixTuning != null || initAdapter != null))
            throw new Lora4jException("--modules-to-save and --trainable-token-indices train beside fresh LoRA adapters: not with --full, --ia3, --bottleneck-size,"
                    + " --prompt-tuning, --prefix-tuning or --init-adapter (which brings its own)");
        if (ia3 != null && full) throw new Lora4jException("--ia3 trains scaling vectors over a frozen base; --full trains every weight instead");
        if (ia3 != null && initAdapter != null) throw new Lora4jException("--init-adapter starts from a LoRA adapter; --ia3 starts its vectors at 1");
        if (ia3 != null && train.optimizer().loraplusLrRatio() != 1) throw new Lora4jException("--loraplus-lr-ratio speeds up LoRA's B matrices; --ia3 has none");
        if (ia3 != null && (lora.dora() || lora.loraBias() || lora.init() != LoraConfig.Init.KAIMING))
            throw new Lora4jException("--dora, --lora-bias and --init shape LoRA adapters; --ia3 trains none");
        if (quantize != null && quantize != QuantType.INT8 && quantize != QuantType.NF4)
            throw new Lora4jException("--quantize takes int8 or nf4, not " + quantize.label);
    }

    /**
     * LoRA on the model type's default targets at rank r (alpha = r, scale 1) with the command line's defaults
     * (AdamW, linear decay, batch 8, 512 tokens, clipping at 1, seed 42, shuffled), for steps steps at learning rate lr.
     */
    public static TrainOptions lora(Path model, Path data, Path out, int r, long steps, double lr) {
        return builder(model, data, out).lora(LoraConfig.builder().r(r).alpha(r).build()).train(TrainConfig.builder().steps(steps).lr(lr).build()).build();
    }

    /** A builder with the command line's defaults: LoRA as {@link LoraConfig#builder()}, training as {@link TrainConfig#builder()}. */
    public static Builder builder(Path model, Path data, Path out) {
        return new Builder().model(model).data(DataConfig.of(data)).out(out);
    }

    public Builder toBuilder() {
        return new Builder().model(model).out(out).data(data).lora(lora).full(full).initAdapter(initAdapter).train(train).quantize(quantize).ia3(ia3).bottleneck(bottleneck)
                .promptTuning(promptTuning).prefixTuning(prefixTuning);
    }

    public static final class Builder {
        private Path model, out, initAdapter;
        private DataConfig data;
        private LoraConfig lora = LoraConfig.builder().build();
        private boolean full;
        private TrainConfig train = TrainConfig.builder().build();
        private QuantType quantize;
        private dev.lora4j.ia3.Ia3Config ia3;
        private dev.lora4j.bottleneck.BottleneckConfig bottleneck;
        private dev.lora4j.prompt.PromptTuningConfig promptTuning;
        private dev.lora4j.prompt.PrefixTuningConfig prefixTuning;

        /** Train a prefix of keys and values instead of LoRA adapters (null, the default: LoRA). */
        public Builder prefixTuning(dev.lora4j.prompt.PrefixTuningConfig v) {
            prefixTuning = v;
            return this;
        }

        /** Train a soft prompt instead of LoRA adapters (null, the default: LoRA). */
        public Builder promptTuning(dev.lora4j.prompt.PromptTuningConfig v) {
            promptTuning = v;
            return this;
        }

        /** Train Houlsby bottleneck adapters instead of LoRA adapters (null, the default: LoRA). */
        public Builder bottleneck(dev.lora4j.bottleneck.BottleneckConfig v) {
            bottleneck = v;
            return this;
        }

        private Builder() {}

        /** Train IA³ vectors instead of LoRA adapters (null, the default: LoRA). */
        public Builder ia3(dev.lora4j.ia3.Ia3Config v) {
            ia3 = v;
            return this;
        }

        public Builder model(Path v) {
            model = v;
            return this;
        }

        public Builder out(Path v) {
            out = v;
            return this;
        }

        public Builder data(DataConfig v) {
            data = v;
            return this;
        }

        public Builder lora(LoraConfig v) {
            lora = v;
            return this;
        }

        public Builder full(boolean v) {
            full = v;
            return this;
        }

        public Builder initAdapter(Path v) {
            initAdapter = v;
            return this;
        }

        public Builder train(TrainConfig v) {
            train = v;
            return this;
        }

        /** Quantize the frozen base at load (int8 or nf4), or null (the default) for the weights as stored. */
        public Builder quantize(QuantType v) {
            quantize = v;
            return this;
        }

        public TrainOptions build() {
            return new TrainOptions(model, out, data, lora, full, initAdapter, train, quantize, ia3, bottleneck, promptTuning, prefixTuning);
        }
    }
}
