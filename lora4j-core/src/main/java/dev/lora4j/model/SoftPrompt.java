package dev.lora4j.model;

import dev.lora4j.Lora4jException;

/**
 * Prompt tuning's learned embeddings, which a model puts before every sequence as n virtual tokens. Inside the
 * model they are token ids V, V+1, …, V+n−1, one past the vocabulary, at positions 0…n−1: the caller's tokens
 * start at position n, exactly as if the embeddings had been prepended to theirs (PEFT's PROMPT_TUNING).
 *
 * @param embeddings (n, C), the model's input embeddings of the virtual tokens (Gemma scales them by √C as its own)
 * @param grad       (n, C), where training accumulates their gradient; null in inference
 */
public record SoftPrompt(float[] embeddings, float[] grad, int tokens) {
    public SoftPrompt {
        if (tokens < 1 || embeddings.length % tokens != 0)
            throw new IllegalArgumentException(embeddings.length + " floats are not " + tokens + " embeddings");
        if (grad != null && grad.length != embeddings.length) throw new IllegalArgumentException("gradient of " + grad.length + " floats for " + embeddings.length);
    }

    /** tokens (B·T) with the virtual ids before each sequence: (B·(n+T)); every caller's id must lie in [0, vocab). */
    int[] extend(int[] tokens, int b, int t, int vocab) {
        int n = tokens(), tt = n + t;
        int[] out = new int[b * tt];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < n; j++) out[i * tt + j] = vocab + j;
            for (int j = 0; j < t; j++) {
                int tok = tokens[i * t + j];
                if (tok < 0 || tok >= vocab) throw new Lora4jException("token id " + tok + " is outside the vocabulary [0, " + vocab + ")");
                out[i * tt + n + j] = tok;
            }
        }
        return out;
    }

    /** targets (B·T) with −100 (nothing to predict) at each sequence's virtual positions: (B·(n+T)). */
    int[] extendTargets(int[] targets, int b, int t) {
        int n = tokens(), tt = n + t;
        int[] out = new int[b * tt];
        for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(out, i * tt, i * tt + n, -100);
            System.arraycopy(targets, i * t, out, i * tt + n, t);
        }
        return out;
    }

    /** The rows (B·(n+T), width) of the caller's positions only: (B·T, width). */
    float[] strip(float[] rows, int b, int t, int width) {
        int n = tokens(), tt = n + t;
        float[] out = new float[Math.multiplyExact(b * t, width)];
        for (int i = 0; i < b; i++) System.arraycopy(rows, (i * tt + n) * width, out, i * t * width, t * width);
        return out;
    }

    double[] strip(double[] rows, int b, int t) {
        int n = tokens(), tt = n + t;
        double[] out = new double[b * t];
        for (int i = 0; i < b; i++) System.arraycopy(rows, i * tt + n, out, i * t, t);
        return out;
    }

    /** The virtual tokens' ids for a model of this vocabulary: V…V+n−1. */
    int[] ids(int vocab) {
        int[] ids = new int[tokens()];
        for (int j = 0; j < ids.length; j++) ids[j] = vocab + j;
        return ids;
    }
}
