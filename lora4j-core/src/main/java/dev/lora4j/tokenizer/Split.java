package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The Split pre-tokenizer as Rust tokenizers defines it: the pattern's matches and the text between
 * them become spans (the flags flipped when {@code invert}), which the behavior then turns into pieces:
 * Isolated (every span a piece), Removed (matches dropped), MergedWithPrevious / MergedWithNext (a match
 * joins the span before / after it), Contiguous (runs of matches, and runs of non-matches, joined).
 * Empty pieces are dropped.
 */
record Split(Pattern pattern, Behavior behavior, boolean invert, String origin) {
    enum Behavior { ISOLATED, REMOVED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    static Split of(String origin, JsonNode n) {
        JsonNode p = n.path("pattern");
        Pattern pattern;
        try {
            if (p.has("Regex")) pattern = Pattern.compile("(?U)" + p.get("Regex").asText());
            else if (p.has("String")) pattern = Pattern.compile(Pattern.quote(p.get("String").asText()));
            else throw new Lora4jException(origin + ": Split pre-tokenizer needs a pattern {\"Regex\": ...} or {\"String\": ...}, got " + p);
        } catch (PatternSyntaxException e) {
            throw new Lora4jException(origin + ": the Split pattern is not a regex Java reads: " + e.getDescription());
        }
        return new Split(pattern, behavior(origin, n.path("behavior").asText("")), n.path("invert").asBoolean(false), origin);
    }

    /** The behavior a pre-tokenizer names, by Rust's spelling. */
    static Behavior behavior(String origin, String name) {
        return switch (name) {
            case "Isolated" -> Behavior.ISOLATED;
            case "Removed" -> Behavior.REMOVED;
            case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Behavior.CONTIGUOUS;
            default -> throw new Lora4jException(origin + ": Split behavior '" + name + "' is not one of Isolated, Removed, "
                    + "MergedWithPrevious, MergedWithNext, Contiguous");
        };
    }

    /** Punctuation: each punctuation character (Unicode's P categories, and ASCII's symbols as Rust counts them) a match. */
    static Split punctuation(Behavior b, String origin) {
        return new Split(Pattern.compile("[\\p{IsPunctuation}\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E]"), b, false, origin);
    }

    /** Whitespace: the runs of word characters and the runs of other non-space characters, spaces dropped (Rust's \w+|[^\w\s]+). */
    static Split whitespace(String origin) {
        return new Split(Pattern.compile("(?U)\\w+|[^\\w\\s]+"), Behavior.REMOVED, true, origin);
    }

    /** WhitespaceSplit: the runs of non-whitespace. */
    static Split whitespaceSplit(String origin) {
        return new Split(Pattern.compile("(?U)\\s"), Behavior.REMOVED, false, origin);
    }

    /** Digits: each digit a piece, or runs of digits (Contiguous). */
    static Split digits(boolean individual, String origin) {
        return new Split(Pattern.compile("\\p{N}"), individual ? Behavior.ISOLATED : Behavior.CONTIGUOUS, false, origin);
    }

    List<String> apply(String s) {
        // spans: [start, end, match?] covering s, in order
        List<int[]> spans = new ArrayList<>();
        Matcher m = pattern.matcher(new BoundedText(s, origin));
        int prev = 0;
        while (m.find()) {
            if (m.start() > prev) spans.add(new int[] {prev, m.start(), 0});
            spans.add(new int[] {m.start(), m.end(), 1});
            prev = m.end();
        }
        if (prev < s.length()) spans.add(new int[] {prev, s.length(), 0});
        if (invert) for (int[] sp : spans) sp[2] ^= 1;
        List<int[]> pieces = new ArrayList<>();
        switch (behavior) {
            case ISOLATED -> pieces.addAll(spans);
            case REMOVED -> { for (int[] sp : spans) if (sp[2] == 0) pieces.add(sp); }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int[] sp : spans) {
                    if (sp[2] == 1 && !previousMatch && !pieces.isEmpty()) pieces.getLast()[1] = sp[1];
                    else pieces.add(sp.clone());
                    previousMatch = sp[2] == 1;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previousMatch = false; // walking backwards: the span after
                for (int i = spans.size() - 1; i >= 0; i--) {
                    int[] sp = spans.get(i);
                    if (sp[2] == 1 && !previousMatch && !pieces.isEmpty()) pieces.getFirst()[0] = sp[0];
                    else pieces.addFirst(sp.clone());
                    previousMatch = sp[2] == 1;
                }
            }
            case CONTIGUOUS -> {
                int previous = -1;
                for (int[] sp : spans) {
                    if (sp[2] == previous && !pieces.isEmpty()) pieces.getLast()[1] = sp[1];
                    else pieces.add(sp.clone());
                    previous = sp[2];
                }
            }
        }
        List<String> out = new ArrayList<>(pieces.size());
        for (int[] p : pieces) if (p[1] > p[0]) out.add(s.substring(p[0], p[1]));
        return out;
    }
}
