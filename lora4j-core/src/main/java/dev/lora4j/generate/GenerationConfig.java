package dev.lora4j.generate;

import dev.lora4j.Lora4jException;

import java.util.List;

/**
 * How one generation runs, with transformers' defaults: greedy unless a temperature is given, no top-k
 * or top-p cut, no repetition penalty, the model's own end-of-sequence ids. Built with {@link #builder()}:
 * <pre>{@code
 * GenerationConfig.builder().maxNewTokens(64).temperature(0.7).topP(0.9).seed(7).stop("\n\n").build()
 * }</pre>
 *
 * @param maxNewTokens      at most this many new tokens (default 256); the model's context may end it sooner
 * @param temperature       0 (default) is greedy decoding; above 0, sampling at that temperature
 * @param topK              keep only the k most likely tokens (0, default: all)
 * @param topP              keep the smallest set of tokens whose probability reaches p (1, default: all)
 * @param repetitionPenalty transformers' repetition penalty (1, default: none)
 * @param seed              the sampling seed (default 0); the same seed gives the same text
 * @param stopStrings       generation ends before the first of these the text would contain; the text returned stops short of it
 * @param eosIds            ids that end a sequence; null (default) means the model's (config.json and
 *                          generation_config.json's eos_token_id, one id or a list as Llama 3 stores it)
 */
public record GenerationConfig(int maxNewTokens, double temperature, int topK, double topP, double repetitionPenalty, long seed,
                               List<String> stopStrings, List<Integer> eosIds) {
    public static final GenerationConfig DEFAULT = builder().build();

    public GenerationConfig {
        if (maxNewTokens < 1 || maxNewTokens > 1 << 20) throw new Lora4jException("maxNewTokens must be in [1, " + (1 << 20) + "], got " + maxNewTokens);
        if (!(temperature >= 0) || !Double.isFinite(temperature)) throw new Lora4jException("temperature must be a finite number >= 0, got " + temperature);
        if (topK < 0) throw new Lora4jException("topK must be >= 0 (0: no cut), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new Lora4jException("topP must be in (0, 1], got " + topP);
        if (!(repetitionPenalty > 0) || !Double.isFinite(repetitionPenalty))
            throw new Lora4jException("repetitionPenalty must be a finite number > 0, got " + repetitionPenalty);
        stopStrings = List.copyOf(stopStrings);
        for (String s : stopStrings) if (s.isEmpty()) throw new Lora4jException("a stop string must not be empty");
        eosIds = eosIds == null ? null : List.copyOf(eosIds);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.repetitionPenalty = repetitionPenalty;
        b.seed = seed;
        b.stopStrings = stopStrings;
        b.eosIds = eosIds;
        return b;
    }

    public static final class Builder {
        private int maxNewTokens = 256, topK;
        private double temperature, topP = 1, repetitionPenalty = 1;
        private long seed;
        private List<String> stopStrings = List.of();
        private List<Integer> eosIds;

        private Builder() {}

        public Builder maxNewTokens(int n) {
            maxNewTokens = n;
            return this;
        }

        public Builder temperature(double t) {
            temperature = t;
            return this;
        }

        public Builder topK(int k) {
            topK = k;
            return this;
        }

        public Builder topP(double p) {
            topP = p;
            return this;
        }

        public Builder repetitionPenalty(double p) {
            repetitionPenalty = p;
            return this;
        }

        public Builder seed(long s) {
            seed = s;
            return this;
        }

        public Builder stop(String... strings) {
            stopStrings = List.of(strings);
            return this;
        }

        public Builder stopStrings(List<String> strings) {
            stopStrings = List.copyOf(strings);
            return this;
        }

        /** Ids that end a sequence instead of the model's; an empty list: none (run to maxNewTokens). */
        public Builder eosIds(List<Integer> ids) {
            eosIds = ids;
            return this;
        }

        public GenerationConfig build() {
            return new GenerationConfig(maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, stopStrings, eosIds);
        }
    }
}
