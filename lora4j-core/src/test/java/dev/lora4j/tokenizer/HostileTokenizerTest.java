package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** tokenizer.json files are downloaded, so untrusted: bounded work and memory whatever they hold. */
class HostileTokenizerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path tmp;

    ObjectNode base() throws IOException {
        return (ObjectNode) JSON.readTree(TestPaths.fixture("tokenizers/split-bytelevel").resolve("tokenizer.json").toFile());
    }

    Path write(ObjectNode j) throws IOException {
        Path f = tmp.resolve("tokenizer.json");
        JSON.writeValue(f.toFile(), j);
        return f;
    }

    @Test
    void aBacktrackingPreTokenizerRegexStopsWithAClearError() throws IOException {
        ObjectNode j = base();
        ((ObjectNode) j.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern")).put("Regex", "((a+)+)+b");
        Tokenizer t = Tokenizer.load(write(j));
        assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                assertThatThrownBy(() -> t.encode("a".repeat(37) + "c")).isInstanceOf(Lora4jException.class)
                        .hasMessageContainingAll("tokenizer.json", "catastrophic backtracking"));
        assertThat(t.encode("aab")).isNotEmpty(); // the same pattern on text it handles
    }

    @Test
    void manyAddedTokensOnALongLineAreFoundInLinearTime() throws IOException {
        ObjectNode j = base();
        ArrayNode added = j.putArray("added_tokens");
        int first = 60_000;
        for (int i = 0; i < 300; i++)
            added.addObject().put("id", first + i).put("content", "<tok" + i + ">").put("special", true);
        Tokenizer t = Tokenizer.load(write(j));
        String line = "hello world, ".repeat(80_000) + "<tok7>" + "<tok299>" + " end"; // over 1 MB
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> t.encode(line));
        assertThat(ids).contains(first + 7, first + 299);
        assertThat(t.encode("a<tok12>b<tok1>")).containsSubsequence(first + 12, first + 1);
    }

    /** A Unigram lattice walks as far as the pieces go: long pieces and long words stay bounded, longer pieces are refused. */
    @Test
    void unigramWorkStaysBoundedOnLongPiecesAndWords() throws IOException {
        ObjectNode j = (ObjectNode) JSON.readTree(TestPaths.fixture("tokenizers/unigram-xlmr").resolve("tokenizer.json").toFile());
        ArrayNode vocab = (ArrayNode) j.get("model").get("vocab");
        vocab.addArray().add("a".repeat(Unigram.MAX_PIECE_CODE_POINTS)).add(-5.0);
        Tokenizer t = Tokenizer.load(write(j));
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> t.encode("a".repeat(200_000) + " " + "\u4e00".repeat(200_000)));
        assertThat(ids).contains(vocab.size() - 1); // the long piece
        vocab.addArray().add("b".repeat(Unigram.MAX_PIECE_CODE_POINTS + 1)).add(-5.0);
        Path f = write(j);
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class)
                .hasMessageContainingAll(f.toString(), "model.vocab[" + (vocab.size() - 1) + "]", "1025 code points");
    }

    @Test
    void hugeTokenIdsAreRefusedWithoutAllocating() throws IOException {
        ObjectNode j = base();
        j.putArray("added_tokens").addObject().put("id", 400_000_000).put("content", "<huge>").put("special", true);
        Path f = write(j);
        assertThatThrownBy(() -> Tokenizer.load(f)).isInstanceOf(Lora4jException.class)
                .hasMessageContainingAll(f.toString(), "<huge>", "400000000", "far beyond");
    }
}
