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

    /**
     * Pre-tokenizers before ByteLevel (reference/tokenizers/make_pretokenizer_fixtures.js): Falcon's sequence (Punctuation
     * contiguous, ByteLevel, Digits, a Split), Whitespace, WhitespaceSplit then Punctuation, Punctuation merged with the
     * previous piece; GPT-2's vocabulary; ids and decodes from Rust tokenizers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"falcon", "whitespace", "whitespace-split-punctuation", "punctuation-merged"})
    void preTokenizersBeforeByteLevelSplitLikeHuggingFace(String name) throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode variant = json.readTree(TestPaths.fixture("tokenizers").resolve("pretokenizers.json").toFile()).get(name);
        var j = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(TestPaths.fixture("tokenizers").resolve("gpt2").resolve("tokenizer.json").toFile());
        j.set("pre_tokenizer", variant.get("pre_tokenizer"));
        Path f = tmp.resolve(name + ".json");
        Files.writeString(f, j.toString());
        Tokenizer tok = Tokenizer.load(f);
        assertThat(variant.get("cases").size()).isGreaterThan(15);
        for (JsonNode c : variant.get("cases")) {
            String text = c.get("text").asText();
            int[] expected = json.convertValue(c.get("ids"), int[].class);
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

    /**
     * Unigram models in T5's and XLM-R's layouts (reference/tokenizers/make_unigram_fixtures.js): a Precompiled
     * normalizer (NFKC and nmt rules, multi-code-point keys, a key that is a prefix of another), a regex Replace,
     * Metaspace alone or after WhitespaceSplit, unknowns fused or falling back to bytes, lstrip on &lt;mask&gt;.
     * Ids with and without the template's special tokens and decodes from Rust tokenizers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"unigram-xlmr", "unigram-t5"})
    void unigramEncodesAndDecodesLikeHuggingFace(String kind) throws IOException {
        sentencePieceBpeEncodesAndDecodesLikeHuggingFace(kind);
    }

    @Test
    void badPrecompiledRulesAreNamed() throws IOException {
        JsonNode j = new ObjectMapper().readTree(TestPaths.fixture("tokenizers").resolve("unigram-xlmr").resolve("tokenizer.json").toFile());
        var precompiled = (com.fasterxml.jackson.databind.node.ObjectNode) j.get("normalizer").get("normalizers").get(0);
        Path f = tmp.resolve("bad.json");
        precompiled.put("precompiled_charsmap", "not base64!");
        Files.writeString(f, j.toString());
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class).hasMessageContainingAll("bad.json", "Precompiled", "not base64");
        precompiled.put("precompiled_charsmap", java.util.Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, 0, 0, 0, 1, 2}));
        Files.writeString(f, j.toString());
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class).hasMessageContainingAll("trie of 255 bytes does not fit");
    }

    @Test
    void unsupportedKindsNameTheMissingFeature() throws IOException {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"WordLevel\"}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class).hasMessageContainingAll("WordLevel", "Whitespace", "not supported");
        Files.writeString(f, "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class).hasMessageContainingAll("pre-tokenizer 'Whitespace'", "Unigram");
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
