package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tokenizer tables kept in the cache: read back, they give the parsed tokenizer's ids and texts for every
 * model kind (RealTokenizerTest checks the real families the same way); a damaged, foreign or stale entry is
 * never read, and a cache that cannot be written only costs time.
 */
class TokenizerCacheTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @org.junit.jupiter.api.AfterEach
    void writesEndBeforeTheTemporaryDirectoryGoes() {
        TokenizerCache.awaitWrites();
    }

    @TempDir
    Path tmp;

    /** Unigram (scores and the prefix table), SentencePiece-style and byte-level BPE, against Rust's ids. */
    @ParameterizedTest
    @ValueSource(strings = {"unigram-xlmr", "unigram-t5", "sp-bpe", "gpt2"})
    void tablesReadBackGiveTheSameIdsAndTexts(String kind) throws IOException {
        Path dir = TestPaths.fixture("tokenizers").resolve(kind), cache = tmp.resolve("cache");
        assertThat(TokenizerCache.load(dir.resolve("tokenizer.json"), cache).fromCache()).isFalse();
        var loaded = TokenizerCache.load(dir.resolve("tokenizer.json"), cache);
        assertThat(loaded.fromCache()).isTrue();
        Tokenizer tok = loaded.tokenizer();
        JsonNode cases = JSON.readTree(dir.resolve("cases.json").toFile());
        assertThat(cases.size()).isGreaterThan(10);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            int[] ids = JSON.convertValue(c.get("ids"), int[].class);
            assertThat(tok.encode(text)).as("ids of %s", text).containsExactly(ids);
            if (c.has("ids_with_special")) assertThat(tok.encodeWithSpecialTokens(text)).containsExactly(JSON.convertValue(c.get("ids_with_special"), int[].class));
            if (c.has("decoded") && c.has("ids_with_special"))
                assertThat(tok.decode(JSON.convertValue(c.get("ids_with_special"), int[].class))).isEqualTo(c.get("decoded").asText());
        }
    }

    @Test
    void wordPieceTablesReadBack() throws IOException {
        Path file = tmp.resolve("tokenizer.json"), cache = tmp.resolve("cache");
        Files.writeString(file, """
                {"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                           "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "play": 3, "##ing": 4, "##ed": 5, "the": 6, "game": 7}},
                 "normalizer": {"type": "BertNormalizer", "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"},
                 "added_tokens": [{"id": 1, "content": "[CLS]", "special": true}, {"id": 2, "content": "[SEP]", "special": true}]}""");
        Tokenizer parsed = TokenizerCache.load(file, cache).tokenizer();
        var cached = TokenizerCache.load(file, cache);
        assertThat(cached.fromCache()).isTrue();
        String text = "The game played PLAYING xyz [SEP] the";
        assertThat(cached.tokenizer().encode(text)).containsExactly(parsed.encode(text)).containsExactly(6, 7, 3, 5, 3, 4, 0, 2, 6);
        assertThat(cached.tokenizer().decode(parsed.encode(text))).isEqualTo(parsed.decode(parsed.encode(text)));
    }

    /** Each damage: a byte flipped inside, the file cut short, emptied, or its header changed. */
    @ParameterizedTest
    @ValueSource(strings = {"flipped", "truncated", "empty", "header"})
    void aDamagedEntryIsIgnoredAndWrittenAgain(String damage) throws IOException {
        Path file = TestPaths.fixture("tokenizers").resolve("gpt2").resolve("tokenizer.json"), cache = tmp.resolve("cache");
        int[] expected = TokenizerCache.load(file, cache).tokenizer().encode("Hello world, it's lora4j!");
        TokenizerCache.awaitWrites();
        Path entry;
        try (var entries = Files.list(cache)) {
            entry = entries.findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(entry);
        Consumer<byte[]> write = b -> {
            try {
                Files.write(entry, b);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        switch (damage) {
            case "flipped" -> {
                bytes[bytes.length / 2] ^= 0x10;
                write.accept(bytes);
            }
            case "truncated" -> write.accept(java.util.Arrays.copyOf(bytes, bytes.length / 2));
            case "empty" -> write.accept(new byte[0]);
            default -> {
                bytes[8] ^= 0x01; // the header: the source size the entry claims
                write.accept(bytes);
            }
        }
        var again = TokenizerCache.load(file, cache);
        assertThat(again.fromCache()).as("a damaged entry is not read").isFalse();
        assertThat(again.tokenizer().encode("Hello world, it's lora4j!")).containsExactly(expected);
        assertThat(TokenizerCache.load(file, cache).fromCache()).as("and it was written again").isTrue();
    }

    /**
     * A first load streams model.vocab and model.merges into the tables; anything malformed there sends it to
     * the tree parse, whose message names the file and the entry. Each case: what is wrong, the message.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
            "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a c\"]                 | model.merges[0] \"a c\": 'c' is not in the vocabulary",
            "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"ab\"]                  | model.merges[0] must be \"a b\" or [\"a\", \"b\"]",
            "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"a\", 3]]              | model.merges[0] must be",
            "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": {\"a\": \"b\"}              | model.merges must be an array, got object",
            "\"vocab\": {\"a\": 0, \"b\": -1, \"ab\": 2}, \"merges\": []                     | model.vocab 'b': the id must be a whole number >= 0, got -1",
            "\"vocab\": {\"a\": 0, \"b\": 1.5, \"ab\": 2}, \"merges\": []                    | model.vocab 'b': the id must be a whole number >= 0, got 1.5",
            "\"vocab\": {\"a\": 0, \"b\": 9999999999}, \"merges\": []                        | model.vocab 'b': the id must be a whole number >= 0",
            "\"vocab\": [[\"a\", 0]], \"merges\": []                                            | model.vocab must be an object of token: id, got array",
            "\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"b\"]]                           | model.vocab[1] must be [piece, score]",
            "\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"\", -2.0]]                      | model.vocab[1] is a piece of 0 code points",
    })
    void malformedTablesAreNamedAsTheTreeParseNamesThem(String model, String message) throws IOException {
        Path file = tmp.resolve("tokenizer.json");
        String type = model.contains("\"type\"") ? "" : "\"type\": \"BPE\", ";
        Files.writeString(file, "{\"model\": {" + type + model + "}, \"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"normalizer\": null}");
        assertThat(TokenizerJson.read(file)).as("the streamed parse declines").isNull();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TokenizerCache.load(file, tmp.resolve("cache")))
                .isInstanceOf(dev.lora4j.Lora4jException.class).hasMessageContainingAll(file.toString(), message.strip());
        assertThat(tmp.resolve("cache")).as("nothing cached for a refused file").doesNotExist();
    }

    @Test
    void anEditedFileIsANewEntry() throws IOException {
        Path file = tmp.resolve("tokenizer.json"), cache = tmp.resolve("cache");
        JsonNode j = JSON.readTree(TestPaths.fixture("tokenizers").resolve("gpt2").resolve("tokenizer.json").toFile());
        Files.writeString(file, j.toString());
        int before = TokenizerCache.load(file, cache).tokenizer().encode("hello").length;
        ((com.fasterxml.jackson.databind.node.ObjectNode) j.get("model").get("vocab")).put("hello", 999_999);
        Files.writeString(file, j.toString());
        var edited = TokenizerCache.load(file, cache);
        assertThat(edited.fromCache()).isFalse();
        assertThat(edited.tokenizer().vocabSize()).isEqualTo(1_000_000);
        assertThat(before).isPositive();
        TokenizerCache.awaitWrites();
        try (var entries = Files.list(cache)) {
            assertThat(entries.count()).isEqualTo(2);
        }
    }

    @Test
    void aCacheThatCannotBeWrittenOnlyCostsTime() throws IOException {
        Path file = TestPaths.fixture("tokenizers").resolve("sp-bpe").resolve("tokenizer.json"), notADirectory = tmp.resolve("cache");
        Files.writeString(notADirectory, "a file where the cache directory would be");
        int[] ids = Tokenizer.load(TestPaths.fixture("tokenizers").resolve("sp-bpe")).encode("Hello world");
        for (int i = 0; i < 2; i++) {
            var loaded = TokenizerCache.load(file, notADirectory);
            assertThat(loaded.fromCache()).isFalse();
            assertThat(loaded.tokenizer().encode("Hello world")).containsExactly(ids);
        }
    }

    @Test
    void theDirectoryFollowsTheSetting() {
        String before = System.getProperty("lora4j.cache");
        try {
            System.setProperty("lora4j.cache", "off");
            assertThat(TokenizerCache.directory()).isNull();
            System.setProperty("lora4j.cache", tmp.toString());
            assertThat(TokenizerCache.directory()).isEqualTo(tmp.resolve("tokenizers"));
            Tokenizer.load(TestPaths.fixture("tokenizers").resolve("gpt2"));
            TokenizerCache.awaitWrites();
            assertThat(tmp.resolve("tokenizers")).isDirectoryContaining(p -> p.getFileName().toString().endsWith(".tables"));
        } finally {
            if (before == null) System.clearProperty("lora4j.cache");
            else System.setProperty("lora4j.cache", before);
        }
    }
}
