package dev.lora4j.model;

import dev.lora4j.Lora4jException;
import dev.lora4j.kernels.Kernels;

import java.util.HashMap;
import java.util.Map;

/**
 * Rows of the token embedding or of the LM head replaced by trained values (PEFT's trainable tokens): row ids[s] of
 * the matrix reads values[s] instead. In a tied model one TokenRows serves both, as PEFT ties the head's rows to the
 * embedding's.
 *
 * @param ids    the token ids, distinct, in the order of values' rows
 * @param values (k, C)
 * @param grad   (k, C), where training accumulates their gradient; null in inference
 */
public record TokenRows(int[] ids, float[] values, float[] grad, Map<Integer, Integer> slots) {
    public TokenRows(int[] ids, float[] values, float[] grad) {
        this(ids, values, grad, slotsOf(ids));
    }

    public TokenRows {
        if (ids.length == 0 || values.length % ids.length != 0) throw new IllegalArgumentException(values.length + " floats are not " + ids.length + " rows");
        if (grad != null && grad.length != values.length) throw new IllegalArgumentException("gradient of " + grad.length + " floats for " + values.length);
    }

    private static Map<Integer, Integer> slotsOf(int[] ids) {
        Map<Integer, Integer> s = new HashMap<>();
        for (int i = 0; i < ids.length; i++)
            if (s.put(ids[i], i) != null) throw new Lora4jException("token id " + ids[i] + " is listed twice among the trainable tokens");
        return Map.copyOf(s);
    }

    /** The row of values that replaces token id's, or −1. */
    int slot(int id) {
        Integer s = slots.get(id);
        return s == null ? -1 : s;
    }

    int width() {
        return values.length / ids.length;
    }

    /** logits (rows, V) of hidden (rows, C): each replaced id's column becomes hidden·values[s] (before any soft cap). */
    void fixLogits(float[] hidden, int rows, float[] logits, int vocab) {
        int dim = width();
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < ids.length; s++)
                logits[r * vocab + ids[s]] = Kernels.ops().dot(hidden, r * dim, values, s * dim, dim);
    }
}
