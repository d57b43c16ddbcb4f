package dev.lora4j.spark;

import java.io.Serializable;

/**
 * The examples one partition holds: a contiguous run of the data set, from index first on, with their
 * labels (null entries: the ids themselves). Training data is cut into as many blocks as partitions,
 * so the driver knows which partition holds each example without asking.
 */
record ExampleBlock(int first, int[][] ids, int[][] labels) implements Serializable {
    int size() {
        return ids.length;
    }
}
