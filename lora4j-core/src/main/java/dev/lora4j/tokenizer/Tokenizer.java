package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;

/** Text to token ids and back, as Hugging Face's tokenizers do for a tokenizer.json. */
public interface Tokenizer {
    /** The ids of text, without the special tokens a post-processor adds. */
    int[] encode(String text);

    /** The ids of text with the post-processor's special tokens (e.g. BOS), as encode(add_special_tokens=True). */
    default int[] encodeWithSpecialTokens(String text) {
        return encode(text);
    }

    /**
     * Text of ids. Byte-level tokenizers keep special tokens as their text; SentencePiece-style and
     * WordPiece ones leave them out (the defaults these kinds have always had here).
     */
    String decode(int[] ids);

    /** Text of ids as Rust tokenizers' decode(ids, skip_special_tokens) gives it: special added tokens left out when asked. */
    String decode(int[] ids, boolean skipSpecialTokens);

    int vocabSize();

    /**
     * The tokenizer of a model directory, or null when it has no tokenizer.json; of a GGUF file, the one its
     * metadata holds (tokenizer.ggml.*), or null when it holds none.
     */
    static Tokenizer ofModel(Path modelDir) {
        if (isGguf(modelDir)) {
            JsonNode j = ggufTokenizerJson(modelDir);
            return j == null ? null : of(modelDir, j);
        }
        return Files.exists(modelDir.resolve("tokenizer.json")) ? load(modelDir) : null;
    }

    /** The tokenizer.json a GGUF file's tokenizer.ggml.* metadata amounts to, or null when it has none. */
    static JsonNode ggufTokenizerJson(Path file) {
        try (var f = dev.lora4j.io.gguf.GgufFile.open(file)) {
            var vocab = dev.lora4j.io.gguf.GgufVocab.read(f);
            return vocab == null ? null : vocab.toTokenizerJson(file);
        }
    }

    /** Whether a model path is a GGUF file rather than a checkpoint directory. */
    static boolean isGguf(Path model) {
        return Files.isRegularFile(model) && model.getFileName().toString().endsWith(".gguf");
    }

    /**
     * Reads a tokenizer.json (or the one in a model directory); unsupported kinds name the missing feature.
     * Its vocabulary and merges are kept as tables in the user's cache (see README, "Tokenizer cache"), so
     * later loads of the same file map them back instead of parsing them.
     */
    static Tokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        return TokenizerCache.load(file, TokenizerCache.directory()).tokenizer();
    }

    /** The tokenizer a tokenizer.json's content describes; {@code file} names it in messages. */
    static Tokenizer of(Path file, JsonNode j) {
        return TokenizerBuilder.build(file, j, null);
    }
}
