package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A tokenizer.json normalizer, applied to each piece of text between added tokens: the Unicode normal
 * forms (NFC for Qwen3, NFKC, NFD, NFKD), Lowercase, StripAccents, Strip, Prepend, Replace (a string or
 * a regex), SentencePiece's Precompiled rules (T5, XLM-R, ALBERT), and a Sequence of them, in order. Any
 * other normalizer is refused when the file is read, naming it.
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
            case "StripAccents" -> steps.add(UnicodeNormalizer::stripAccents);
            case "Strip" -> {
                boolean left = n.path("strip_left").asBoolean(true), right = n.path("strip_right").asBoolean(true);
                steps.add(s -> strip(s, left, right));
            }
            case "Prepend" -> {
                String prepend = text(origin, n, "prepend");
                steps.add(s -> s.isEmpty() ? s : prepend + s);
            }
            case "Replace" -> {
                String content = text(origin, n, "content");
                JsonNode pattern = n.path("pattern");
                if (pattern.path("String").isTextual()) {
                    String from = pattern.get("String").asText();
                    steps.add(s -> from.isEmpty() ? s : s.replace(from, content));
                } else if (pattern.path("Regex").isTextual()) {
                    Pattern regex;
                    try {
                        regex = Pattern.compile(pattern.get("Regex").asText());
                    } catch (PatternSyntaxException e) {
                        throw new Lora4jException(origin + ": Replace normalizer: pattern " + pattern.get("Regex") + " is not a regex lora4j reads (" + e.getDescription() + ")");
                    }
                    String literal = Matcher.quoteReplacement(content);
                    steps.add(s -> regex.matcher(s).replaceAll(literal));
                } else {
                    throw new Lora4jException(origin + ": Replace normalizer: pattern must be {\"String\": ...} or {\"Regex\": ...}, got " + pattern);
                }
            }
            case "Precompiled" -> steps.add(Precompiled.of(origin, text(origin, n, "precompiled_charsmap")));
            case "Sequence" -> {
                for (JsonNode step : n.path("normalizers")) add(origin, step, steps);
            }
            default -> throw new Lora4jException(origin + ": normalizer '" + n.path("type").asText("") + "' is not supported yet"
                    + " (supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Prepend, Replace, Precompiled, Sequence)");
        }
    }

    private static String text(String origin, JsonNode n, String field) {
        if (!n.path(field).isTextual()) throw new Lora4jException(origin + ": " + n.path("type").asText() + " normalizer: \"" + field + "\" must be a string, got " + n.get(field));
        return n.get(field).asText();
    }

    /** Rust's StripAccents: every combining (non-spacing) mark removed; meant to follow NFD or NFKD. */
    private static String stripAccents(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK).forEach(out::appendCodePoint);
        return out.toString();
    }

    /** Whitespace (Rust's char::is_whitespace) removed from either end. */
    private static String strip(String s, boolean left, boolean right) {
        int a = 0, b = s.length();
        while (left && a < b && BpeVocab.isWhitespace(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
        while (right && b > a && BpeVocab.isWhitespace(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
        return s.substring(a, b);
    }

    @Override
    public String apply(String s) {
        for (UnaryOperator<String> step : steps) s = step.apply(s);
        return s;
    }
}
