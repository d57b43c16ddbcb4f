package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * A byte-level tokenizer's normalizer: the Unicode normal forms (NFC for Qwen3, NFKC, NFD, NFKD),
 * Lowercase, and a Sequence of them, applied in order to each piece of text between added tokens.
 * Any other normalizer is refused when the file is read, naming it.
 */
final class UnicodeNormalizer implements UnaryOperator<String> {
    private final List<UnaryOperator<String>> steps;

    private UnicodeNormalizer(List<UnaryOperator<String>> steps) {
        this.steps = steps;
    }

    static UnicodeNormalizer of(String origin, JsonNode n) {
        List<UnaryOperator<String>> steps = new ArrayList<>();
        add(origin, n, steps);
        return new UnicodeNormalizer(steps);
    }

    private static void add(String origin, JsonNode n, List<UnaryOperator<String>> steps) {
        if (n == null || n.isNull() || n.isMissingNode()) return;
        switch (n.path("type").asText("")) {
            case "NFC" -> steps.add(s -> Normalizer.normalize(s, Normalizer.Form.NFC));
            case "NFD" -> steps.add(s -> Normalizer.normalize(s, Normalizer.Form.NFD));
            case "NFKC" -> steps.add(s -> Normalizer.normalize(s, Normalizer.Form.NFKC));
            case "NFKD" -> steps.add(s -> Normalizer.normalize(s, Normalizer.Form.NFKD));
            case "Lowercase" -> steps.add(s -> s.toLowerCase(Locale.ROOT));
            case "Sequence" -> {
                for (JsonNode step : n.path("normalizers")) add(origin, step, steps);
            }
            default -> throw new Lora4jException(origin + ": normalizer '" + n.path("type").asText("") + "' is not supported yet"
                    + " for byte-level BPE (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)");
        }
    }

    @Override
    public String apply(String s) {
        for (UnaryOperator<String> step : steps) s = step.apply(s);
        return s;
    }
}
