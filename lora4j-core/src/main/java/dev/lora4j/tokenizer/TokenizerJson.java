package dev.lora4j.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A first load's parse of a tokenizer.json: model.vocab and model.merges (nearly all of the file) go straight
 * into the tables, the rest becomes a tree. A tree of the whole file costs a node per token and per merge, and
 * in a fresh JVM that tree is most of a first load. An object vocabulary (BPE, WordPiece) is read by
 * {@link TableScanner}; a Unigram one, or a file the scanner leaves, from the JSON library's streaming parser.
 * Only well-formed tables take either path: anything unexpected in them (a wrong type, an unknown token in a
 * merge, a score that is not finite) answers null, and the caller parses the file as a tree, whose checks name
 * the problem.
 */
final class TokenizerJson {
    private TokenizerJson() {}

    /** The file without model.vocab and model.merges, and the tables they make. */
    record Streamed(JsonNode rest, TokenizerCache.Tables tables) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Files above this size are streamed from disk, not read whole first. */
    private static final long READ_WHOLE = 256L << 20;

    /** The file's parts, or null when it is not a JSON object with well-formed tables (or cannot be read). */
    static Streamed read(Path file) {
        byte[] json = null;
        try {
            if (Files.size(file) <= READ_WHOLE) json = TokenizerCache.readAll(file);
        } catch (IOException | RuntimeException unreadable) {
            return null;
        }
        if (json != null) {
            Streamed scanned = scanned(json);
            if (scanned != null) return scanned;
        }
        try (JsonParser p = json != null ? JSON.createParser(json) : JSON.createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            ObjectNode rest = JSON.createObjectNode();
            Tables tables = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("model") && (tables != null || p.currentToken() != JsonToken.START_OBJECT)) return null; // the tree path decides
                if (name.equals("model")) {
                    ObjectNode model = JSON.createObjectNode();
                    tables = new Tables();
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        p.nextToken();
                        boolean read = switch (field) {
                            case "vocab" -> tables.vocab(p);
                            case "merges" -> tables.merges(p);
                            default -> {
                                model.set(field, tree(p));
                                yield true;
                            }
                        };
                        if (!read) return null;
                    }
                    rest.set("model", model);
                } else {
                    rest.set(name, tree(p));
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null || tables == null) return null;
            TokenizerCache.Tables built = tables.build(rest);
            return built == null ? null : new Streamed(rest, built);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The tables by {@link TableScanner}, the rest by the JSON library; null where that path does not apply. */
    private static Streamed scanned(byte[] json) {
        TableScanner.Found found = TableScanner.find(json);
        if (found == null) return null;
        try {
            if (!(JSON.readTree(found.rest()) instanceof ObjectNode rest) || !(rest.get("model") instanceof ObjectNode model)) return null;
            model.remove("vocab");
            model.remove("merges");
            if (model.path("type").asText().equals("Unigram")) return null;
            long entriesAtMost = (found.vocabTo() - found.vocabFrom()) / 4, added = rest.path("added_tokens").size();
            TokenizerCache.Tables tables = found.tables(entriesAtMost + added + BpeVocab.MAX_ID_GAP);
            if (tables == null || tables.tokens().idLimit() - 1 > (long) tables.tokens().size() + added + BpeVocab.MAX_ID_GAP) return null;
            return new Streamed(rest, tables);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static JsonNode tree(JsonParser p) throws IOException {
        JsonNode n = JSON.readTree(p);
        return n == null ? NullNode.instance : n;
    }

    /** model.vocab and model.merges as they stream past. */
    private static final class Tables {
        private Map<String, Integer> vocab;         // BPE and WordPiece: token → id; Unigram: piece → its last position
        private double[] scores;                    // Unigram only, the first `pieces` of it
        private int pieces;
        private final List<String> mergeA = new ArrayList<>(), mergeB = new ArrayList<>();
        private boolean mergesSeen;

        /** An object of token: id, or (Unigram) an array of [piece, score]. */
        boolean vocab(JsonParser p) throws IOException {
            if (vocab != null) return false;
            vocab = new HashMap<>();
            if (p.currentToken() == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String token = p.currentName();
                    if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() < 0) return false;
                    vocab.put(token, p.getIntValue());
                }
                return true;
            }
            if (p.currentToken() != JsonToken.START_ARRAY) return false;
            scores = new double[1024];
            while (p.nextToken() == JsonToken.START_ARRAY) {
                if (p.nextToken() != JsonToken.VALUE_STRING) return false;
                String piece = p.getText();
                JsonToken score = p.nextToken();
                if (score != JsonToken.VALUE_NUMBER_FLOAT && score != JsonToken.VALUE_NUMBER_INT) return false;
                double s = p.getDoubleValue();
                if (!Double.isFinite(s) || piece.isEmpty() || piece.codePointCount(0, piece.length()) > Unigram.MAX_PIECE_CODE_POINTS) return false;
                if (pieces == scores.length) scores = java.util.Arrays.copyOf(scores, 2 * pieces);
                vocab.put(piece, pieces);
                scores[pieces++] = s;
                if (p.nextToken() != JsonToken.END_ARRAY) return false;
            }
            return p.currentToken() == JsonToken.END_ARRAY;
        }

        /** An array of "a b" or ["a", "b"], or null. */
        boolean merges(JsonParser p) throws IOException {
            if (mergesSeen) return false;
            mergesSeen = true;
            if (p.currentToken() == JsonToken.VALUE_NULL) return true;
            if (p.currentToken() != JsonToken.START_ARRAY) return false;
            for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                if (t == JsonToken.VALUE_STRING) {
                    String m = p.getText();
                    if (!BpeVocab.isMergeString(m)) return false;
                    int space = m.indexOf(' ');
                    mergeA.add(m.substring(0, space));
                    mergeB.add(m.substring(space + 1));
                } else if (t == JsonToken.START_ARRAY) {
                    if (p.nextToken() != JsonToken.VALUE_STRING) return false;
                    mergeA.add(p.getText());
                    if (p.nextToken() != JsonToken.VALUE_STRING) return false;
                    mergeB.add(p.getText());
                    if (p.nextToken() != JsonToken.END_ARRAY) return false;
                } else {
                    return false;
                }
            }
            return true;
        }

        /** The tables, or null where the tree path's checks would refuse the file (it then says why). */
        TokenizerCache.Tables build(ObjectNode rest) {
            if (vocab == null) return null;
            boolean unigram = rest.path("model").path("type").asText().equals("Unigram");
            if (unigram != (scores != null) || unigram && pieces == 0) return null;
            int maxId = -1;
            for (int id : vocab.values()) maxId = Math.max(maxId, id);
            if (maxId > (long) vocab.size() + rest.path("added_tokens").size() + BpeVocab.MAX_ID_GAP) return null;
            LongLongMap merges = new LongLongMap();
            for (int r = 0; r < mergeA.size(); r++) if (!BpeVocab.addMerge(merges, vocab, mergeA.get(r), mergeB.get(r), r)) return null;
            return new TokenizerCache.Tables(TokenTable.of(vocab), merges, unigram ? java.util.Arrays.copyOf(scores, pieces) : null, null);
        }
    }
}
