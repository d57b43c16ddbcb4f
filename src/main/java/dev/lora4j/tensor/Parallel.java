package dev.lora4j.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/**
 * The one thread pool of lora4j. Kernels split work into a few contiguous chunks (one per thread),
 * never into many small tasks: on 2 cores, scheduling overhead would eat the gain.
 * The thread count is set once per process ({@link #setThreads}); nested calls run inline.
 */
public final class Parallel {
    private static volatile ForkJoinPool pool = newPool(Runtime.getRuntime().availableProcessors());
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private Parallel() {}

    private static ForkJoinPool newPool(int threads) {
        return new ForkJoinPool(threads, p -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("lora4j-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** Sets the number of worker threads (1 = everything on the caller's thread). */
    public static synchronized void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (threads == pool.getParallelism()) return;
        ForkJoinPool old = pool;
        pool = newPool(threads);
        old.shutdown();
    }

    /** True on a worker thread inside {@link #forChunks}: nested parallel calls run inline there. */
    public static boolean inside() {
        return INSIDE.get();
    }

    public static int threads() {
        return pool.getParallelism();
    }

    /** Runs body(chunk) for chunk in [0, chunks), in parallel; returns when all are done. */
    public static void forChunks(int chunks, IntConsumer body) {
        if (chunks <= 0) return;
        if (chunks == 1 || threads() == 1 || INSIDE.get()) {
            for (int c = 0; c < chunks; c++) body.accept(c);
            return;
        }
        pool.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                RecursiveAction[] tasks = new RecursiveAction[chunks];
                for (int c = 0; c < chunks; c++) {
                    int chunk = c;
                    tasks[c] = new RecursiveAction() {
                        @Override
                        protected void compute() {
                            INSIDE.set(true);
                            try {
                                body.accept(chunk);
                            } finally {
                                INSIDE.set(false);
                            }
                        }
                    };
                }
                invokeAll(tasks);
            }
        });
    }

    /**
     * Splits [0, n) into one contiguous range per thread (at least {@code grain} items each) and
     * runs body(from, to) on each.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int chunks = Math.max(1, Math.min(INSIDE.get() ? 1 : threads(), n / Math.max(1, grain)));
        if (chunks == 1) {
            if (n > 0) body.run(0, n);
            return;
        }
        forChunks(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }
}
