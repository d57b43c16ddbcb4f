package dev.lora4j.spark;

import java.io.Serializable;

/**
 * The examples one partition holds (ids, and labels with null entries for the ids themselves). The
 * driver lays the data out, so it knows which partition holds each example, and where, without asking.
 */
record ExampleBlock(int[][] ids, int[][] labels) implements Serializable {
    /** The size examples at indices example(0), example(1), ... of d. */
    static ExampleBlock of(dev.lora4j.data.TokenDataset d, int size, java.util.function.IntUnaryOperator example) {
        int[][] ids = new int[size][], labels = new int[size][];
        for (int i = 0; i < size; i++) {
            int e = example.applyAsInt(i);
            ids[i] = d.examples().get(e);
            labels[i] = d.labels() == null ? null : d.labels().get(e);
        }
        return new ExampleBlock(ids, labels);
    }

    int size() {
        return ids.length;
    }
}
