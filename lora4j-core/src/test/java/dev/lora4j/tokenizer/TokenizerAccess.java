package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

/** Test access to {@link Tokenizer#of}: a tokenizer from tokenizer.json content held in memory. */
public final class TokenizerAccess {
    private TokenizerAccess() {}

    public static Tokenizer of(Path where, JsonNode json) {
        return Tokenizer.of(where, json);
    }
}
