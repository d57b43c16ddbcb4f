package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The first load's scanner of model.vocab and model.merges against the same tables built from the JSON
 * library's tree of the file: real files, escapes and every UTF-8 length, random vocabularies; and every
 * input it must leave to the general path (which names the problem) answers null.
 */
class TableScannerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama3_1", "qwen3", "llama2", "gpt2", "deepseek_v3", "gemma3", "mistral_nemo", "gpt4", "minilm", "gpt2_added"})
    void realFilesGiveTheTreesTables(String family) throws IOException {
        byte[] json;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(TestPaths.repo("lora4j-core/src/test/resources/tokenizers/" + family + "/tokenizer.json.gz")))) {
            json = in.readAllBytes();
        }
        assertSameTables(json);
    }

    @Test
    void escapesAndEveryUtf8Length() throws IOException {
        String vocab = """
                {"a": 0, "b": 1, "ab": 2, "\\u0120x": 3, "\\u0120": 4, "x": 5, "\\u0120xab": 6, "é": 7, "€": 8, "😀": 9,
                 "\\ud83d\\ude00é": 10, "\\"q\\\\/\\/": 11, "\\n\\t\\r\\b\\f": 12, "é€": 13, "": 14, "ÄÖ": 15}""";
        for (String merges : new String[] {
                "[\"a b\", \"\\u0120 x\", \"\\u0120x ab\", \"é €\", \"😀 é\"]",
                "[[\"a\", \"b\"], [\"\\u0120\", \"x\"], [\"\\u0120x\", \"ab\"], [\"é\", \"€\"], [\"\\ud83d\\ude00\", \"é\"], [\"a\", \"b\"]]",
                "[]", "null"}) {
            assertSameTables(file("{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": " + vocab + ", \"merges\": " + merges + "}}"));
            assertSameTables(file("{\"model\": {\"merges\": " + merges + ",\n\t\"type\": \"BPE\",  \"vocab\" : " + vocab + " } , \"added_tokens\": [] }  \n"));
        }
        assertSameTables(file("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}"));
        assertSameTables(file("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"##a\": 1}}}"));
    }

    @Test
    void randomVocabulariesAsTheJsonLibraryWritesThem() throws IOException {
        Random random = new Random(17);
        int[] ranges = {0x20, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF, 0x00, 0x1F};
        for (int round = 0; round < 20; round++) {
            ObjectNode vocab = JSON.createObjectNode();
            ArrayNode merges = JSON.createArrayNode();
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < 300; i++) {
                StringBuilder s = new StringBuilder();
                for (int n = 1 + random.nextInt(4), c = 0; c < n; c++) {
                    int r = 2 * random.nextInt(ranges.length / 2);
                    s.appendCodePoint(ranges[r] + random.nextInt(ranges[r + 1] - ranges[r] + 1));
                }
                if (ids.putIfAbsent(s.toString(), ids.size()) == null) vocab.put(s.toString(), ids.get(s.toString()));
            }
            var tokens = ids.keySet().stream().filter(t -> !t.contains(" ")).sorted().toList();
            for (int i = 0; i + 1 < tokens.size(); i += 2) {
                String a = tokens.get(i), b = tokens.get(i + 1);
                if (!vocab.has(a + b)) vocab.put(a + b, ids.size() + i);
                if (random.nextBoolean()) merges.add(a + " " + b);
                else merges.add(JSON.createArrayNode().add(a).add(b));
            }
            ObjectNode root = JSON.createObjectNode();
            root.putObject("model").put("type", "BPE").set("vocab", vocab);
            ((ObjectNode) root.get("model")).set("merges", merges);
            assertSameTables(JSON.writeValueAsBytes(root));
            assertSameTables(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        }
    }

    @Test
    void leavesToTheGeneralPathWhatItDoesNotReadExactly() {
        String[] refused = {
                // not this shape
                "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}}", "{\"model\": {\"merges\": []}}", "{}", "[]",
                "{\"model\": {\"vocab\": {\"a\": 0}}} x", "{\"model\": {\"vocab\": {\"a\": 0}}, \"model\": {}}",
                "{\"model\": {\"vocab\": {\"a\": 0}, \"vocab\": {\"b\": 0}}}", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": {}}}",
                "{\"model\": {\"voc\\u0061b\": {\"a\": 0}}}", "{\"model\": {\"vocab\": {\"a\": 0}}",
                // ids
                "{\"model\": {\"vocab\": {\"a\": -1}}}", "{\"model\": {\"vocab\": {\"a\": 1.0}}}", "{\"model\": {\"vocab\": {\"a\": 01}}}",
                "{\"model\": {\"vocab\": {\"a\": 2147483648}}}", "{\"model\": {\"vocab\": {\"a\": 1e2}}}", "{\"model\": {\"vocab\": {\"a\": \"1\"}}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}}}", "{\"model\": {\"vocab\": {\"a\": 0, \"a\": 1}}}", "{\"model\": {\"vocab\": {\"a\": 0,}}}",
                "{\"model\": {\"vocab\": {\"a\": 99999999}}}",
                // strings
                "{\"model\": {\"vocab\": {\"a\\x\": 0}}}", "{\"model\": {\"vocab\": {\"a\\u00g0\": 0}}}", "{\"model\": {\"vocab\": {\"a\tb\": 0}}}",
                // merges
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a  b\"]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b \"]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\" a\"]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"a\", \"b\", \"c\"]]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\",]}}",
                "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [1]}}",
        };
        for (String json : refused) assertThat(tables(json.getBytes(StandardCharsets.UTF_8))).as(json).isNull();
        // malformed UTF-8: an overlong form, an encoded surrogate, a byte no sequence starts with, a cut sequence
        for (int[] bad : new int[][] {{0xC0, 0x80}, {0xE0, 0x80, 0x80}, {0xED, 0xA0, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xE2, 0x82}, {0x80}, {0xF4, 0x90, 0x80, 0x80}}) {
            byte[] json = "{\"model\": {\"vocab\": {\"a____\": 0}}}".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 4; i++) json[23 + i] = i < bad.length ? (byte) bad[i] : (byte) 'x';
            assertThat(tables(json)).as(java.util.Arrays.toString(bad)).isNull();
        }
    }

    private static TokenizerCache.Tables tables(byte[] json) {
        TableScanner.Found found = TableScanner.find(json);
        return found == null ? null : found.tables(1 << 20);
    }

    private static byte[] file(String json) {
        return json.getBytes(StandardCharsets.UTF_8);
    }

    /** The scanner's tables equal those built from the library's tree: every token's id, every merge's rank and result. */
    private static void assertSameTables(byte[] json) throws IOException {
        JsonNode model = JSON.readTree(json).get("model");
        Map<String, Integer> vocab = new HashMap<>();
        model.get("vocab").properties().forEach(e -> vocab.put(e.getKey(), e.getValue().intValue()));
        LongLongMap expected = new LongLongMap();
        int r = 0;
        for (JsonNode m : model.path("merges")) {
            String a = m.isArray() ? m.get(0).asText() : m.asText().substring(0, m.asText().indexOf(' '));
            String b = m.isArray() ? m.get(1).asText() : m.asText().substring(m.asText().indexOf(' ') + 1);
            assertThat(BpeVocab.addMerge(expected, vocab, a, b, r++)).isTrue();
        }
        TokenizerCache.Tables t = tables(json);
        assertThat(t).as("scanned").isNotNull();
        assertThat(t.tokens().size()).isEqualTo(vocab.size());
        vocab.forEach((text, id) -> {
            assertThat(t.tokens().id(text)).as(text).isEqualTo(id);
            assertThat(t.tokens().token(id)).isEqualTo(text);
        });
        assertThat(t.merges().size()).isEqualTo(expected.size());
        long[] keys = expected.keys();
        for (int i = 0; i < keys.length; i++) if (keys[i] != Long.MIN_VALUE) assertThat(t.merges().get(keys[i])).isEqualTo(expected.values()[i]);
    }
}
