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
 * Token-id examples, one per line of a JSONL file: {@code {"input_ids": [...]}} used as given (no BOS/EOS
 * added), or text, prompt + completion or chat messages encoded with the model's tokenizer and chat
 * template ({@link TextEncoder}), with optional {@code "labels"} (same length; −100 = not counted in the loss; the
 * label at position i+1 is the target of position i, as Hugging Face shifts them) and {@code "adapter"}.
 * Blank lines are skipped; anything else that is not such an object is an error naming file:line, or,
 * with skipBad, is counted in {@link #skipped()} and left out. Ids are checked against the vocabulary.
 */
public record TokenDataset(Path source, List<int[]> examples, List<int[]> labels /* per example, null: the ids */,
                           List<String> adapters /* per example, null entries: none */, int skipped) {

    /** Whether any example names the adapter it is to be run with ({"adapter": "NAME"}). */
    public boolean routed() {
        return adapters.stream().anyMatch(java.util.Objects::nonNull);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public static TokenDataset readJsonl(Path file, int vocabSize) {
        return readJsonl(file, vocabSize, false);
    }

    public static TokenDataset readJsonl(Path file, int vocabSize, boolean skipBad) {
        return read(file, vocabSize, skipBad, TextEncoder.NONE);
    }

    /**
     * Reads JSONL (lines with "input_ids" (+ "labels"), "text", "prompt" + "completion" (the loss then on
     * the completion only), or "messages" (a chat through the chat template, the loss on the assistant
     * turns only)) or plain .txt (one example per non-empty line). Text needs a tokenizer; texts and
     * prompts get the special tokens its post-processor defines (e.g. Llama's BOS), and texts and
     * completions end with the EOS token when the encoder appends it (TRL's SFTTrainer does). Data that needed the
     * tokenizer is cached beside the file ({@link TokenCache}), so the next run reads ids, not text.
     */
    public static TokenDataset read(Path file, int vocabSize, boolean skipBad, TextEncoder format) {
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        if (format.tokenizer() == null) return parse(file, vocabSize, skipBad, format);
        String key = TokenCache.key(file, vocabSize, skipBad, format);
        TokenDataset cached = TokenCache.load(file, key, vocabSize);
        if (cached != null) return cached;
        TokenDataset ds = parse(file, vocabSize, skipBad, format);
        TokenCache.store(file, key, ds);
        return ds;
    }

    private static TokenDataset parse(Path file, int vocabSize, boolean skipBad, TextEncoder format) {
        dev.lora4j.tokenizer.Tokenizer tokenizer = format.tokenizer();
        if (file.getFileName().toString().endsWith(".txt")) return readText(file, vocabSize, format);
        List<int[]> out = new ArrayList<>(), labels = new ArrayList<>();
        List<String> adapters = new ArrayList<>();
        int skipped = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int no = 0;
            while ((line = r.readLine()) != null) {
                no++;
                if (line.isBlank()) continue;
                try {
                    JsonNode n = parse(file, no, line);
                    int[] ids, lab;
                    if (n.has("input_ids")) {
                        ids = ids(file, no, n, vocabSize);
                        lab = labels(file, no, n, ids.length, vocabSize);
                    } else {
                        int[][] enc = n.has("messages") ? encodeMessages(file + ":" + no, n, format) : encodeText(file, no, n, format);
                        ids = checkIds(file, no, enc[0], vocabSize);
                        lab = enc[1];
                    }
                    JsonNode a = n.get("adapter");
                    if (a != null && !a.isNull() && !a.isTextual()) throw new Lora4jException(file + ":" + no + ": \"adapter\" must be a string (an adapter name)");
                    out.add(ids);
                    labels.add(lab);
                    adapters.add(a == null || a.isNull() ? null : a.asText());
                } catch (Lora4jException bad) {
                    if (!skipBad) throw bad;
                    skipped++;
                }
            }
        } catch (IOException e) {
            throw new Lora4jException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty())
            throw new Lora4jException(file + ": no examples (expected JSONL lines with \"input_ids\")" + (skipped > 0 ? "; " + skipped + " bad lines skipped" : ""));
        return new TokenDataset(file, List.copyOf(out), java.util.Collections.unmodifiableList(labels), java.util.Collections.unmodifiableList(adapters), skipped);
    }

    /** {ids, labels} of a "text" or "prompt" + "completion" line (labels null: all ids count). */
    private static int[][] encodeText(Path file, int no, JsonNode n, TextEncoder format) {
        dev.lora4j.tokenizer.Tokenizer tok = format.tokenizer();
        String where = file + ":" + no;
        boolean text = n.hasNonNull("text"), pc = n.hasNonNull("prompt") || n.hasNonNull("completion");
        if (!text && !pc) throw new Lora4jException(where + ": expected \"input_ids\", \"text\", \"prompt\" and \"completion\", or \"messages\"");
        if (tok == null) throw new Lora4jException(where + ": text needs the model's tokenizer.json, and the model directory has none");
        if (text) {
            if (!n.get("text").isTextual()) throw new Lora4jException(where + ": \"text\" must be a string");
            return new int[][] {format.endWithEos(tok.encodeWithSpecialTokens(n.get("text").asText())), null};
        }
        if (!n.path("prompt").isTextual() || !n.path("completion").isTextual())
            throw new Lora4jException(where + ": \"prompt\" and \"completion\" must both be strings");
        int[] p = tok.encodeWithSpecialTokens(n.get("prompt").asText()), c = format.endWithEos(tok.encode(n.get("completion").asText()));
        int[] ids = new int[p.length + c.length], lab = new int[ids.length];
        System.arraycopy(p, 0, ids, 0, p.length);
        System.arraycopy(c, 0, ids, p.length, c.length);
        java.util.Arrays.fill(lab, 0, p.length, Batch.IGNORE);
        System.arraycopy(c, 0, lab, p.length, c.length);
        return new int[][] {ids, lab};
    }

    /** {ids, labels} of a "messages" line: [{"role": ..., "content": ...}, ...]. */
    private static int[][] encodeMessages(String where, JsonNode n, TextEncoder format) {
        JsonNode ms = n.get("messages");
        if (!ms.isArray() || ms.isEmpty()) throw new Lora4jException(where + ": \"messages\" must be a non-empty array of {\"role\", \"content\"}");
        List<dev.lora4j.tokenizer.ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            if (!m.path("role").isTextual() || !m.path("content").isTextual())
                throw new Lora4jException(where + ": messages[" + i + "] must have string \"role\" and \"content\"");
            out.add(new dev.lora4j.tokenizer.ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
        }
        return format.encodeChat(where, out);
    }

    private static int[] checkIds(Path file, int no, int[] ids, int vocabSize) {
        for (int id : ids)
            if (vocabSize > 0 && (id < 0 || id >= vocabSize))
                throw new Lora4jException(file + ":" + no + ": the tokenizer gives id " + id + ", outside the model's vocabulary [0, " + vocabSize + ")");
        return ids;
    }

    private static TokenDataset readText(Path file, int vocabSize, TextEncoder format) {
        dev.lora4j.tokenizer.Tokenizer tok = format.tokenizer();
        if (tok == null) throw new Lora4jException(file + ": a .txt file needs the model's tokenizer.json, and the model directory has none");
        List<int[]> out = new ArrayList<>();
        try {
            int no = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                no++;
                if (!line.isBlank()) out.add(checkIds(file, no, format.endWithEos(tok.encodeWithSpecialTokens(line)), vocabSize));
            }
        } catch (IOException e) {
            throw new Lora4jException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new Lora4jException(file + ": no text");
        return new TokenDataset(file, List.copyOf(out), java.util.Collections.nCopies(out.size(), null), java.util.Collections.nCopies(out.size(), null), 0);
    }

    private static int[] labels(Path file, int no, JsonNode n, int length, int vocabSize) {
        JsonNode l = n.get("labels");
        if (l == null || l.isNull()) return null;
        String where = file + ":" + no;
        if (!l.isArray() || l.size() != length) throw new Lora4jException(where + ": \"labels\" must be an array as long as input_ids (" + length + ")");
        int[] a = new int[length];
        for (int i = 0; i < length; i++) {
            JsonNode v = l.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new Lora4jException(where + ": labels[" + i + "] is " + v + ", expected an integer");
            a[i] = v.asInt();
            if (a[i] != Batch.IGNORE && (a[i] < 0 || (vocabSize > 0 && a[i] >= vocabSize)))
                throw new Lora4jException(where + ": labels[" + i + "] = " + a[i] + " is neither -100 nor a token id in [0, " + vocabSize + ")");
        }
        return a;
    }

    /**
     * Examples concatenated and cut into blocks of exactly t tokens (Hugging Face's group_texts: the
     * remainder is dropped unless it is the only block).
     */
    public TokenDataset packed(int t) {
        int total = examples.stream().mapToInt(e -> e.length).sum();
        int[] ids = new int[total], lab = new int[total];
        int pos = 0;
        for (int i = 0; i < examples.size(); i++) {
            int[] e = examples.get(i), l = labels.get(i);
            System.arraycopy(e, 0, ids, pos, e.length);
            System.arraycopy(l != null ? l : e, 0, lab, pos, e.length);
            pos += e.length;
        }
        List<int[]> blocks = new ArrayList<>(), blockLabels = new ArrayList<>();
        int n = Math.max(1, total / t);
        for (int b = 0; b < n; b++) {
            int from = b * t, to = Math.min(total, from + t);
            blocks.add(java.util.Arrays.copyOfRange(ids, from, to));
            blockLabels.add(java.util.Arrays.copyOfRange(lab, from, to));
        }
        return new TokenDataset(source, List.copyOf(blocks), List.copyOf(blockLabels), java.util.Collections.nCopies(blocks.size(), null), skipped);
    }

    /** What to do with an example longer than the sequence length (TRL's truncation side, or leaving it out). */
    public enum Truncation {
        /** keep its first tokens (Hugging Face's default side) */
        RIGHT,
        /** keep its last tokens */
        LEFT,
        /** leave the example out */
        DROP;

        public static Truncation parse(String s) {
            for (Truncation t : values()) if (t.name().equalsIgnoreCase(s)) return t;
            throw new Lora4jException("--truncation must be right, left or drop, got '" + s + "'");
        }
    }

    /** Examples with more than t tokens. */
    public int longerThan(int t) {
        int n = 0;
        for (int[] e : examples) if (e.length > t) n++;
        return n;
    }

    /** Tokens in all examples. */
    public long tokens() {
        long n = 0;
        for (int[] e : examples) n += e.length;
        return n;
    }

    /** The tokens whose prediction counts in the loss: positions 1.. of each example (cut to t) not labelled -100. */
    public long targetTokens(int t) {
        return targetTokens(t, Truncation.RIGHT);
    }

    /** {@link #targetTokens(int)} with the examples longer than t cut (or left out) as {@code mode} says. */
    public long targetTokens(int t, Truncation mode) {
        long n = 0;
        for (int i = 0; i < examples.size(); i++) {
            int[] ids = examples.get(i), l = labels == null ? null : labels.get(i);
            if (ids.length > t && mode == Truncation.DROP) continue;
            int from = ids.length > t && mode == Truncation.LEFT ? ids.length - t : 0, to = Math.min(ids.length, from + t);
            for (int j = from + 1; j < to; j++) if (l == null || l[j] != Batch.IGNORE) n++;
        }
        return n;
    }

    /** Every example cut to at most t tokens as {@code mode} says (ids and labels alike; RIGHT is what batching does anyway). */
    public TokenDataset truncated(int t, Truncation mode) {
        if (longerThan(t) == 0) return this;
        List<int[]> e = new ArrayList<>(), l = new ArrayList<>();
        List<String> a = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            int[] ids = examples.get(i), lab = labels == null ? null : labels.get(i);
            if (ids.length > t) {
                if (mode == Truncation.DROP) continue;
                int from = mode == Truncation.LEFT ? ids.length - t : 0;
                ids = java.util.Arrays.copyOfRange(ids, from, from + t);
                if (lab != null) lab = java.util.Arrays.copyOfRange(lab, from, from + t);
            }
            e.add(ids);
            l.add(lab);
            a.add(adapters == null ? null : adapters.get(i));
        }
        if (e.isEmpty()) throw new Lora4jException((source == null ? "the data" : source.toString()) + ": every example is longer than --seq-len " + t
                + " and --truncation drop leaves none");
        return new TokenDataset(source, List.copyOf(e), java.util.Collections.unmodifiableList(l), java.util.Collections.unmodifiableList(a), skipped);
    }

    /** One line for the log: examples, tokens, the tokens that count in the loss within t, and how many are longer than t. */
    public String summary(int t) {
        return summary(t, Truncation.RIGHT);
    }

    /** {@link #summary(int)}, the target tokens counted as they will be once longer examples are cut as {@code mode} says. */
    public String summary(int t, Truncation mode) {
        return String.format(java.util.Locale.ROOT, "%,d examples, %,d tokens, %,d target tokens within --seq-len %d, %,d longer than that",
                examples.size(), tokens(), targetTokens(t, mode), t, longerThan(t));
    }

    /** Splits off a held-out fraction (chosen by a seeded shuffle): {train, eval}. */
    public TokenDataset[] split(double evalFraction, long seed) {
        int n = examples.size(), held = (int) Math.round(n * evalFraction);
        if (held < 1 || held >= n) throw new Lora4jException("--eval-split " + evalFraction + " of " + n + " examples leaves no training or no evaluation examples");
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        java.util.Collections.shuffle(java.util.Arrays.asList(idx), new java.util.Random(seed));
        List<Integer> ev = new ArrayList<>(java.util.Arrays.asList(idx).subList(0, held)), tr = new ArrayList<>(java.util.Arrays.asList(idx).subList(held, n));
        java.util.Collections.sort(ev);
        java.util.Collections.sort(tr);
        return new TokenDataset[] {subset(tr), subset(ev)};
    }

    private TokenDataset subset(List<Integer> idx) {
        List<int[]> e = new ArrayList<>(), l = new ArrayList<>();
        List<String> a = new ArrayList<>();
        for (int i : idx) {
            e.add(examples.get(i));
            l.add(labels.get(i));
            a.add(adapters.get(i));
        }
        return new TokenDataset(source, List.copyOf(e), java.util.Collections.unmodifiableList(l), java.util.Collections.unmodifiableList(a), skipped);
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
