package dev.lora4j.spark;

import java.io.Serializable;

/**
 * The examples one partition holds (ids, and labels with null entries for the ids themselves). The
 * driver lays the data out, so it knows which partition holds each example, and where, without asking.
 */
record ExampleBlock(int partition, int[][] ids, int[][] labels) implements Serializable {
    int size() {
        return ids.length;
    }
}
