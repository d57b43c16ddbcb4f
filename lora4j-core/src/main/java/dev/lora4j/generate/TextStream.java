package dev.lora4j.generate;

import dev.lora4j.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * One sequence's new tokens turned into text as they come: decoded whole each time (so bytes split
 * across tokens come out as the characters they make), special tokens left out, cut at the first stop string, and passed to a
 * listener without the tail that could still become a character or a stop string. Also the sequence's
 * stop condition: it ends once its text holds a stop string.
 */
final class TextStream implements java.util.function.IntConsumer, Generator.StopCondition {
    private final Tokenizer tokenizer;
    private final int[] eosIds;
    private final List<String> stops;
    private final TextListener listener;
    private int[] ids = new int[16];
    private int n, emitted;
    private String text = "";
    private boolean stopped;

    TextStream(Tokenizer tokenizer, int[] eosIds, List<String> stops, TextListener listener) {
        this.tokenizer = tokenizer;
        this.eosIds = eosIds;
        this.stops = stops;
        this.listener = listener;
    }

    @Override
    public void accept(int id) {
        for (int e : eosIds) if (e == id) return; // ends the text, is not part of it
        if (n == ids.length) ids = Arrays.copyOf(ids, 2 * n);
        ids[n++] = id;
        String decoded = tokenizer.decode(Arrays.copyOf(ids, n), true); // special tokens are markup, not text (vLLM and HF pipelines skip them too)
        int cut = firstStop(decoded);
        if (cut >= 0) {
            stopped = true;
            decoded = decoded.substring(0, cut);
        }
        text = decoded;
        if (stopped) return; // finish() passes on the rest
        int safe = decoded.endsWith("\uFFFD") ? decoded.lastIndexOf('\uFFFD') : decoded.length();
        safe -= heldForStops(decoded.substring(0, safe));
        if (safe > emitted && decoded.length() >= emitted) {
            listener.onText(decoded.substring(emitted, safe));
            emitted = safe;
        }
    }

    @Override
    public boolean done(int seq, int[] newIds, int count) {
        return stopped;
    }

    /** The final text; what the listener has not heard yet is passed on. */
    String finish() {
        if (text.length() > emitted) listener.onText(text.substring(emitted));
        emitted = text.length();
        return text;
    }

    private int firstStop(String s) {
        int first = -1;
        for (String stop : stops) {
            int at = s.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /** The length of the longest end of s that is the start of a stop string (it may still grow into one). */
    private int heldForStops(String s) {
        int held = 0;
        for (String stop : stops)
            for (int k = Math.min(stop.length() - 1, s.length()); k > held; k--)
                if (s.regionMatches(s.length() - k, stop, 0, k)) {
                    held = k;
                    break;
                }
        return held;
    }
}
