package dev.lora4j.train;

import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Transformer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What training updates: a model to run forward and backward, its trainable parameters (values and
 * gradients), and its training mode. LoRA adapters over a frozen base ({@link #lora}) and full
 * fine-tuning ({@link FullModel}) are the two kinds.
 */
public interface Trainable {
    /** The model whose loss is computed; backward accumulates into {@link #parameters()}' gradients. */
    Transformer model();

    List<Parameter> parameters();

    void zeroGrad();

    /** Training mode applies dropout, seeded by seed; inference mode does not. */
    void setTraining(boolean training, long seed);

    /** One line saying what is trained, as PEFT's print_trainable_parameters does. */
    String summary();

    /** The LoRA adapters trained, or null when the model's own weights are (full fine-tuning). */
    default LoraModel adapter() {
        return null;
    }

    /** LoRA's A and B of every adapted module, and DoRA's magnitude, under PEFT's names (module.lora_A, .lora_B, .lora_magnitude_vector). */
    static Trainable lora(LoraModel lm) {
        List<Parameter> params = new ArrayList<>();
        for (LoraLinear l : lm.modules().values()) {
            params.add(new Parameter(l.name() + ".lora_A", l.a(), l.gradA()));
            params.add(new Parameter(l.name() + ".lora_B", l.b(), l.gradB()));
            if (l.dora()) params.add(new Parameter(l.name() + ".lora_magnitude_vector", l.magnitude(), l.gradMagnitude()));
            if (l.biasB() != null) params.add(new Parameter(l.name() + ".lora_B.bias", l.biasB(), l.gradBiasB()));
        }
        params.addAll(lm.embeddingParameters()); // modules_to_save, trainable tokens
        List<Parameter> fixed = List.copyOf(params);
        return new Trainable() {
            public Transformer model() { return lm.model(); }
            public List<Parameter> parameters() { return fixed; }
            public void zeroGrad() { lm.zeroGrad(); }
            public void setTraining(boolean training, long seed) { lm.setTraining(training, seed); }
            public String summary() { return lm.trainableLine(); }
            public LoraModel adapter() { return lm; }
        };
    }

    /** IA³'s vectors, named module.ia3_l. */
    static Trainable ia3(dev.lora4j.ia3.Ia3Model m) {
        return withoutDropout(m.model(), m.parameters(), m.trainableLine());
    }

    /** Bottleneck adapters' D, b_D, U, b_U. */
    static Trainable bottleneck(dev.lora4j.bottleneck.BottleneckModel m) {
        return withoutDropout(m.model(), m.parameters(), m.trainableLine());
    }

    /** The soft prompt's embeddings, named prompt_embeddings. */
    static Trainable promptTuning(dev.lora4j.prompt.PromptTuningModel m) {
        return withoutDropout(m.model(), m.parameters(), m.trainableLine());
    }

    /** The prefix's keys and values, named prompt_embeddings. */
    static Trainable prefixTuning(dev.lora4j.prompt.PrefixTuningModel m) {
        return withoutDropout(m.model(), m.parameters(), m.trainableLine());
    }

    /** A model whose trainable tensors are params, with no dropout to switch. */
    private static Trainable withoutDropout(Transformer model, List<Parameter> params, String summary) {
        List<Parameter> fixed = List.copyOf(params);
        return new Trainable() {
            public Transformer model() { return model; }
            public List<Parameter> parameters() { return fixed; }
            public void zeroGrad() { for (Parameter p : fixed) java.util.Arrays.fill(p.grad(), 0f); }
            public void setTraining(boolean training, long seed) { }
            public String summary() { return summary; }
        };
    }

    static String fullSummary(long parameters) {
        return String.format(Locale.ROOT, "full fine-tuning: trainable params: %,d || all params: %,d || trainable%%: 100.0000", parameters, parameters);
    }
}
