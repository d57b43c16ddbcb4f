package dev.lora4j.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A tokenizer.json through GGUF metadata and back (what export-gguf writes and what lora4j reads from
 * a GGUF model) encodes and decodes as the original: byte-level BPE (tokens and merges) and
 * SentencePiece-style BPE (scores; the merges rebuilt from them).
 */
class GgufVocabTest {
    @TempDir
    Path tmp;

    Tokenizer roundTrip(Path modelDir, JsonNode config, int vocab) throws Exception {
        GgufWriter w = new GgufWriter().put("general.architecture", "llama");
        GgufVocab.of(modelDir, config, vocab).writeTo(w);
        Path file = tmp.resolve("vocab.gguf");
        w.write(file);
        try (GgufFile f = GgufFile.open(file)) {
            GgufVocab v = GgufVocab.read(f);
            assertThat(v.tokens()).hasSize(vocab);
            return dev.lora4j.tokenizer.TokenizerAccess.of(file, v.toTokenizerJson(file));
        }
    }

    @Test
    void byteLevelVocabularyRoundTrips() throws Exception {
        Path dir = TestPaths.bundledModel();
        Tokenizer original = Tokenizer.load(dir), back = roundTrip(dir, new ObjectMapper().readTree(dir.resolve("config.json").toFile()), 511);
        for (String text : List.of("Once upon a time, Mia saw a big dog.", "  two  spaces\nnew line\t tab", "ünïcödé 😀 <|endoftext|> end", ""))
            assertThat(back.encode(text)).as(text).containsExactly(original.encode(text));
        int[] ids = original.encode("Mia takes the cup and walks home.");
        assertThat(back.decode(ids, false)).isEqualTo(original.decode(ids, false));
    }

    @Test
    void sentencePieceVocabularyRoundTrips() throws Exception {
        Path dir = TestPaths.fixture("tokenizers").resolve("sp-bpe");
        Tokenizer original = Tokenizer.load(dir);
        Tokenizer back = roundTrip(dir, new ObjectMapper().readTree("{\"bos_token_id\": 1, \"eos_token_id\": 2}"), original.vocabSize());
        for (JsonNode c : new ObjectMapper().readTree(dir.resolve("cases.json").toFile())) {
            int[] want = new ObjectMapper().convertValue(c.get("ids"), int[].class);
            assertThat(back.encode(c.get("text").asText())).as(c.get("text").asText()).containsExactly(want);
            assertThat(back.decode(want, true)).isEqualTo(c.get("decoded").asText());
            assertThat(back.decode(want, false)).isEqualTo(original.decode(want, false));
        }
    }

    /** Qwen3's real tokenizer.json (NFC, Qwen2's split pattern) through GGUF ("qwen2" pre-tokenizer) gives Rust tokenizers' ids. */
    @Test
    void qwenVocabularyRoundTripsAsQwen2() throws Exception {
        Path src = TestPaths.repo("lora4j-core/src/test/resources/tokenizers/qwen3"), dir = tmp.resolve("qwen3");
        Files.createDirectories(dir);
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
        int vocab = Tokenizer.load(dir).vocabSize();
        GgufVocab v = GgufVocab.of(dir, new ObjectMapper().createObjectNode(), vocab);
        assertThat(v.pre()).isEqualTo("qwen2");
        Tokenizer back = roundTrip(dir, new ObjectMapper().createObjectNode(), vocab);
        int checked = 0;
        for (String line : Files.readAllLines(src.resolve("cases.jsonl"))) {
            JsonNode c = new ObjectMapper().readTree(line);
            assertThat(back.encode(c.get("text").asText())).as(c.get("text").asText()).containsExactly(new ObjectMapper().convertValue(c.get("ids"), int[].class));
            checked++;
        }
        assertThat(checked).isGreaterThan(20);
    }

    @Test
    void badVocabulariesAreRefusedByName() throws Exception {
        Path dir = tmp.resolve("m");
        Files.createDirectories(dir);
        assertThatThrownBy(() -> GgufVocab.of(dir, new ObjectMapper().createObjectNode(), 10))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("no tokenizer.json; llama.cpp needs the vocabulary");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 12}, \"merges\": []}}");
        assertThatThrownBy(() -> GgufVocab.of(dir, new ObjectMapper().createObjectNode(), 10))
                .hasMessageContaining("token 'a' has id 12, outside the model's vocabulary of 10");
    }
}
