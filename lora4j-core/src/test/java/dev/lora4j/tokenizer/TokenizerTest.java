package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Byte-level BPE against Hugging Face's Rust tokenizers (reference/tokenizers/make_fixtures.js). */
class TokenizerTest {
    @TempDir
    Path tmp;

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gpt2", "split-bytelevel"})
    void byteLevelEncodesAndDecodesLikeHuggingFace(String name) throws IOException {
        Path dir = TestPaths.fixture("tokenizers").resolve(name);
        Tokenizer tok = Tokenizer.load(dir);
        assertThat(tok.vocabSize()).isEqualTo(50257);
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("cases.json").toFile());
        assertThat(cases.size()).isGreaterThan(15);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            int[] expected = new ObjectMapper().convertValue(c.get("ids"), int[].class);
            assertThat(tok.encode(text)).as("ids of %s", text).containsExactly(expected);
            assertThat(tok.decode(expected)).as("decoding of %s", text).isEqualTo(c.get("decoded").asText());
        }
    }

    /** Llama 2's normalizer layout, and Metaspace pre-tokenizers (prepend first / always, whole / split at "▁"). */
    @ParameterizedTest
    @ValueSource(strings = {"sp-bpe", "metaspace-first", "metaspace-always-split"})
    void sentencePieceBpeEncodesAndDecodesLikeHuggingFace(String kind) throws IOException {
        Path dir = TestPaths.fixture("tokenizers").resolve(kind);
        Tokenizer tok = Tokenizer.load(dir);
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("cases.json").toFile());
        assertThat(cases.size()).isGreaterThan(20);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            assertThat(tok.encode(text)).as("ids of %s", text).containsExactly(new ObjectMapper().convertValue(c.get("ids"), int[].class));
            int[] withSpecial = new ObjectMapper().convertValue(c.get("ids_with_special"), int[].class);
            assertThat(tok.encodeWithSpecialTokens(text)).as("ids with BOS of %s", text).containsExactly(withSpecial);
            assertThat(tok.decode(withSpecial)).as("decoding of %s", text).isEqualTo(c.get("decoded").asText());
        }
    }

    @Test
    void unsupportedKindsNameTheMissingFeature() throws IOException {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"Unigram\"}, \"pre_tokenizer\": {\"type\": \"Metaspace\"}}");
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class).hasMessageContainingAll("Unigram", "Metaspace", "not supported");
        Tokenizer tok = Tokenizer.load(TestPaths.fixture("tokenizers").resolve("gpt2"));
        assertThatThrownBy(() -> tok.decode(new int[] {60000})).hasMessageContaining("token id 60000 is outside the vocabulary");
    }

    /**
     * Merges go one occurrence at a time, lowest rank first, as in Rust tokenizers: with "ab a" ranked
     * before "a b" (ranks not ordered by length, as in Gemma's files), "abab" is [aba, b], where merging
     * every "a b" at once would give [ab, ab]. Expected ids from Rust tokenizers 0.23.2 on this file.
     */
    @Test
    void mergesGoOneOccurrenceAtATimeLowestRankFirst() throws IOException {
        Path f = tmp.resolve("rank.json");
        Files.writeString(f, """
                {"added_tokens": [], "normalizer": null, "post_processor": null,
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
                 "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
                 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "aba": 3}, "merges": ["ab a", "a b"]}}""");
        Tokenizer t = Tokenizer.load(f);
        assertThat(t.encode("abab")).containsExactly(3, 1);
        assertThat(t.encode("ababab")).containsExactly(3, 1, 2);
        assertThat(t.encode("aab")).containsExactly(0, 2);
    }
}
