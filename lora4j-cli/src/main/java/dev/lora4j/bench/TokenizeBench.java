package dev.lora4j.bench;

import dev.lora4j.Lora4jException;
import dev.lora4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A tokenizer's load time (the first load in this JVM, as a process that starts and tokenizes pays it;
 * from the tokenizer cache when it holds the file's tables, see LORA4J_CACHE) and its encode throughput on
 * one thread: every document of a text file encoded without special tokens, best of five passes after one
 * warm-up pass. The JSON library is loaded before the clock starts, as in every command by the time it reads
 * a tokenizer (it has read config.json) and as node has loaded Rust's binding before bench/tokenizer_speed.js
 * times it. bench/tokenizers.sh runs Rust tokenizers on the same files beside it.
 */
public final class TokenizeBench {
    public record Result(double loadMillis, long tokens, double tokensPerSecond) {}

    private TokenizeBench() {}

    public static Result run(Path tokenizer, Path text) throws IOException {
        if (!Files.isRegularFile(text)) throw new Lora4jException(text + ": file not found");
        new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"config\": [1, 2.5, true, null]}");
        long t0 = System.nanoTime();
        Tokenizer t = Tokenizer.load(tokenizer);
        double load = (System.nanoTime() - t0) / 1e6;
        List<String> docs = Files.readAllLines(text, StandardCharsets.UTF_8).stream().filter(l -> !l.isEmpty()).map(l -> l.replace("\\n", "\n")).toList();
        long tokens = 0, best = Long.MAX_VALUE;
        for (int pass = 0; pass < 6; pass++) {
            long start = System.nanoTime(), n = 0;
            for (String d : docs) n += t.encode(d).length;
            if (pass > 0) best = Math.min(best, System.nanoTime() - start);
            tokens = n;
        }
        return new Result(load, tokens, tokens / (best / 1e9));
    }
}
