package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.util.ArrayList;
import java.util.List;

/**
 * A tokenizer.json post-processor, for one sequence (encode with add_special_tokens): the ids it puts
 * before and after the text's. TemplateProcessing (its "single" template: special tokens around $A),
 * RobertaProcessing and BertProcessing (cls, then sep), ByteLevel (offsets only: no ids) and Sequence
 * of these (Llama 3.1: ByteLevel then TemplateProcessing). Any other type is refused when the file is
 * read, naming it.
 */
record PostProcessor(int[] before, int[] after) {
    static final PostProcessor NONE = new PostProcessor(new int[0], new int[0]);

    static PostProcessor of(String origin, JsonNode pp) {
        if (pp == null || pp.isNull() || pp.isMissingNode()) return NONE;
        List<Integer> before = new ArrayList<>(), after = new ArrayList<>();
        add(origin, pp, before, after);
        return new PostProcessor(before.stream().mapToInt(Integer::intValue).toArray(), after.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void add(String origin, JsonNode pp, List<Integer> before, List<Integer> after) {
        switch (pp.path("type").asText("")) {
            case "ByteLevel" -> { } // trims offsets; the ids are untouched
            case "Sequence" -> {
                for (JsonNode step : pp.path("processors")) {
                    List<Integer> b = new ArrayList<>(), a = new ArrayList<>();
                    add(origin, step, b, a);
                    before.addAll(0, b); // each processor wraps what the ones before it made
                    after.addAll(a);
                }
            }
            case "TemplateProcessing" -> {
                JsonNode single = pp.path("single");
                if (!single.isArray()) throw new Lora4jException(origin + ": post_processor TemplateProcessing needs a \"single\" template");
                boolean seenA = false;
                for (JsonNode piece : single) {
                    if (piece.has("Sequence")) {
                        if (!piece.get("Sequence").path("id").asText().equals("A"))
                            throw new Lora4jException(origin + ": post_processor TemplateProcessing: the single template may only hold sequence A, got " + piece);
                        seenA = true;
                    } else if (piece.has("SpecialToken")) {
                        String name = piece.get("SpecialToken").path("id").asText();
                        JsonNode ids = pp.path("special_tokens").path(name).path("ids");
                        if (!ids.isArray() || ids.isEmpty())
                            throw new Lora4jException(origin + ": post_processor TemplateProcessing: special token '" + name + "' has no ids in special_tokens");
                        for (JsonNode id : ids) (seenA ? after : before).add(id.asInt());
                    } else {
                        throw new Lora4jException(origin + ": post_processor TemplateProcessing: unknown template piece " + piece);
                    }
                }
            }
            case "RobertaProcessing", "BertProcessing" -> {
                before.add(tokenId(origin, pp, "cls"));
                after.add(tokenId(origin, pp, "sep"));
            }
            default -> throw new Lora4jException(origin + ": post-processor '" + pp.path("type").asText("") + "' is not supported yet"
                    + " (supported: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
        }
    }

    /** cls or sep: ["token", id]. */
    private static int tokenId(String origin, JsonNode pp, String field) {
        JsonNode t = pp.path(field);
        if (!t.isArray() || t.size() != 2 || !t.get(1).canConvertToInt())
            throw new Lora4jException(origin + ": post_processor " + pp.path("type").asText() + "." + field + " must be [\"token\", id], got " + t);
        return t.get(1).asInt();
    }

    int[] apply(int[] ids) {
        if (before.length == 0 && after.length == 0) return ids;
        int[] out = new int[before.length + ids.length + after.length];
        System.arraycopy(before, 0, out, 0, before.length);
        System.arraycopy(ids, 0, out, before.length, ids.length);
        System.arraycopy(after, 0, out, before.length + ids.length, after.length);
        return out;
    }
}
