package dev.lora4j.data;

import java.util.List;

/**
 * B examples laid out as one (B, T) batch: each row an example truncated to T and padded with 0,
 * and the target each position must predict (the next token; −100 past the end, so padding and the
 * last token are never counted). Rows past the end of the example list are all padding.
 */
public record Batch(int[] tokens /* (B·T) */, int[] targets /* (B·T) */, int b, int t, long targetCount, long tokenCount) {
    public static final int IGNORE = -100;

    public static Batch of(List<int[]> examples, int first, int b, int t) {
        return of(examples, null, first, b, t);
    }

    /** As {@link #of(List, int, int, int)}, with per-example labels (null list or null entries: the ids themselves). */
    public static Batch of(List<int[]> examples, List<int[]> labels, int first, int b, int t) {
        int[] tokens = new int[b * t], targets = new int[b * t];
        java.util.Arrays.fill(targets, IGNORE);
        long count = 0, real = 0;
        for (int r = 0; r < b; r++) {
            if (first + r >= examples.size()) continue;
            int[] e = examples.get(first + r);
            int[] l = labels == null || labels.get(first + r) == null ? e : labels.get(first + r);
            int n = Math.min(t, e.length);
            System.arraycopy(e, 0, tokens, r * t, n);
            for (int i = 0; i + 1 < n; i++) targets[r * t + i] = l[i + 1];
            count += targets(e, l, t);
            real += n;
        }
        return new Batch(tokens, targets, b, t, count, real);
    }

    /** The tokens of example (labels: its labels, null for the ids themselves) that count in the loss once truncated to t. */
    public static long targets(int[] example, int[] labels, int t) {
        int[] l = labels == null ? example : labels;
        long count = 0;
        for (int i = 1; i < Math.min(t, example.length); i++) if (l[i] != IGNORE) count++;
        return count;
    }
}
