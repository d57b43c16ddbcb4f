package dev.lora4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.generate.GenerationConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** OpenAI's sampling parameters to a {@link GenerationConfig}, each checked by name (a 400 naming the parameter). */
final class Params {
    private Params() {}

    static GenerationConfig generation(JsonNode body, boolean chat, int capacity) {
        GenerationConfig.Builder b = GenerationConfig.builder();
        // OpenAI's legacy completions default to 16 new tokens; chat to as many as the sequence limit leaves
        JsonNode max = body.hasNonNull("max_completion_tokens") ? body.get("max_completion_tokens") : body.get("max_tokens");
        String maxName = body.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int maxTokens = max == null || max.isNull() ? (chat ? capacity : 16) : integer(max, maxName, 1, 1 << 20);
        b.maxNewTokens(Math.min(maxTokens, capacity));
        b.temperature(number(body, "temperature", 1.0, 0, 2));
        b.topP(number(body, "top_p", 1.0, Double.MIN_VALUE, 1));
        int topK = body.hasNonNull("top_k") ? integer(body.get("top_k"), "top_k", -1, 1 << 20) : 0;
        b.topK(Math.max(0, topK)); // vLLM: -1 means no cut, as 0 does here
        b.repetitionPenalty(number(body, "repetition_penalty", 1.0, Double.MIN_VALUE, 100));
        b.seed(body.hasNonNull("seed") ? seed(body.get("seed")) : ThreadLocalRandom.current().nextLong());
        for (String unsupported : List.of("presence_penalty", "frequency_penalty"))
            if (number(body, unsupported, 0, -2, 2) != 0)
                throw OpenAiServer.ApiError.invalid("'" + unsupported + "' is not supported (use repetition_penalty)", unsupported);
        if (OpenAiServer.bool(body, "logprobs", false) || body.hasNonNull("logprobs") && body.get("logprobs").isNumber())
            throw OpenAiServer.ApiError.invalid("'logprobs' is not supported", "logprobs");
        JsonNode stop = body.get("stop");
        List<String> stops = new ArrayList<>();
        if (stop != null && !stop.isNull()) {
            if (stop.isTextual()) stops.add(stop.asText());
            else if (stop.isArray() && stop.size() <= 16) for (JsonNode s : stop) {
                if (!s.isTextual() || s.asText().isEmpty()) throw OpenAiServer.ApiError.invalid("'stop' entries must be non-empty strings", "stop");
                stops.add(s.asText());
            }
            else throw OpenAiServer.ApiError.invalid("'stop' must be a string or a list of at most 16 strings", "stop");
            if (stops.stream().anyMatch(String::isEmpty)) throw OpenAiServer.ApiError.invalid("'stop' must not be empty", "stop");
        }
        b.stopStrings(stops);
        if (OpenAiServer.bool(body, "ignore_eos", false)) b.eosIds(List.of()); // vLLM's extension: run to max_tokens
        return b.build();
    }

    private static int integer(JsonNode v, String name, int min, int maxValue) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > maxValue)
            throw OpenAiServer.ApiError.invalid("'" + name + "' must be an integer in [" + min + ", " + maxValue + "], got " + v, name);
        return v.asInt();
    }

    private static double number(JsonNode body, String name, double absent, double min, double max) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return absent;
        if (!v.isNumber() || !(v.asDouble() >= min && v.asDouble() <= max))
            throw OpenAiServer.ApiError.invalid("'" + name + "' must be a number in [" + min + ", " + max + "], got " + v, name);
        return v.asDouble();
    }

    private static long seed(JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw OpenAiServer.ApiError.invalid("'seed' must be an integer, got " + v, "seed");
        return v.asLong();
    }
}
