package dev.lora4j.encoder;

import java.util.SplittableRandom;

/**
 * Example indices 0..n−1 handed out a batch at a time, every epoch in a fresh order from a seeded generator (the same
 * seed, the same batches). A batch that runs past the end of an epoch continues into the next one.
 */
final class EpochOrder {
    private final int[] order;
    private final SplittableRandom rnd;
    private int at;

    EpochOrder(int n, long seed) {
        order = java.util.stream.IntStream.range(0, n).toArray();
        rnd = new SplittableRandom(seed);
        at = n;
    }

    /** The next min(size, n) indices. */
    int[] next(int size) {
        int[] batch = new int[Math.min(size, order.length)];
        for (int i = 0; i < batch.length; i++) {
            if (at == order.length) {
                for (int k = order.length - 1; k > 0; k--) {
                    int j = rnd.nextInt(k + 1), t = order[k];
                    order[k] = order[j];
                    order[j] = t;
                }
                at = 0;
            }
            batch[i] = order[at++];
        }
        return batch;
    }
}
