package dev.lora4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Pre-tokenized examples from JSONL, one {@code {"input_ids": [...]}} object per line, used as given
 * (no BOS/EOS added). Blank lines are skipped; anything else that is not such an object is an error
 * naming file:line. Ids are checked against the vocabulary when one is given.
 */
public record TokenDataset(Path source, List<int[]> examples, List<String> adapters /* per example, null entries: none */) {

    /** Whether any example names the adapter it is to be run with ({"adapter": "NAME"}). */
    public boolean routed() {
        return adapters.stream().anyMatch(java.util.Objects::nonNull);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public static TokenDataset readJsonl(Path file, int vocabSize) {
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        List<int[]> out = new ArrayList<>();
        List<String> adapters = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int no = 0;
            while ((line = r.readLine()) != null) {
                no++;
                if (line.isBlank()) continue;
                JsonNode n = parse(file, no, line);
                out.add(ids(file, no, n, vocabSize));
                JsonNode a = n.get("adapter");
                if (a != null && !a.isNull() && !a.isTextual()) throw new Lora4jException(file + ":" + no + ": \"adapter\" must be a string (an adapter name)");
                adapters.add(a == null || a.isNull() ? null : a.asText());
            }
        } catch (IOException e) {
            throw new Lora4jException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new Lora4jException(file + ": no examples (expected JSONL lines with \"input_ids\")");
        return new TokenDataset(file, List.copyOf(out), java.util.Collections.unmodifiableList(adapters));
    }

    private static JsonNode parse(Path file, int no, String line) {
        String where = file + ":" + no;
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new Lora4jException(where + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) throw new Lora4jException(where + ": expected a JSON object with \"input_ids\"");
        return n;
    }

    private static int[] ids(Path file, int no, JsonNode n, int vocabSize) {
        String where = file + ":" + no;
        JsonNode ids = n.get("input_ids");
        if (ids == null || !ids.isArray()) throw new Lora4jException(where + ": missing \"input_ids\" array");
        int[] a = new int[ids.size()];
        for (int i = 0; i < a.length; i++) {
            JsonNode v = ids.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt())
                throw new Lora4jException(where + ": input_ids[" + i + "] is " + v + ", expected an integer token id");
            a[i] = v.asInt();
            if (vocabSize > 0 && (a[i] < 0 || a[i] >= vocabSize))
                throw new Lora4jException(where + ": token id " + a[i] + " at input_ids[" + i + "] is outside the vocabulary [0, " + vocabSize + ")");
        }
        return a;
    }
}
