package dev.lora4j.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * The one thread pool of lora4j. Kernels split work into a few contiguous chunks, several per thread
 * so that a core running slower than the others (common on a shared machine) takes fewer, never into
 * many small tasks.
 *
 * <p>A decode step makes a hundred or more parallel calls of a few tens of microseconds each, so
 * waking a parked thread per call (what a general pool does) would cost as much as the work. Here
 * the caller works too, and the workers spin for a while after each call before they park, so
 * back-to-back calls find them awake. Chunks are claimed from a shared counter; what a chunk computes
 * depends only on its index, never on which thread runs it, so results do not depend on timing.
 * The thread count is set once per process ({@link #setThreads}); nested calls, and calls from a
 * second thread while the pool is busy, run inline.
 */
public final class Parallel {
    /** How long an idle worker spins before it parks: longer than the gaps between a decode step's calls. */
    private static final long SPIN_NANOS = 200_000;
    /**
     * More ranges than threads: a core of a shared machine runs 10-15% slower for seconds at a time,
     * and with one range per thread the others would wait for it at the end of every call.
     */
    static final int RANGES_PER_THREAD = 4;

    private static volatile Pool pool = new Pool(Runtime.getRuntime().availableProcessors());
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private Parallel() {}

    /** Sets the number of threads that work on a call, the caller included (1 = everything on the caller's thread). */
    public static synchronized void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (threads == pool.threads) return;
        Pool old = pool;
        pool = new Pool(threads);
        old.shutdown();
    }

    /** True on a thread running a chunk of {@link #forChunks}: nested parallel calls run inline there. */
    public static boolean inside() {
        return INSIDE.get();
    }

    public static int threads() {
        return pool.threads;
    }

    /** Runs body(chunk) for chunk in [0, chunks), in parallel; returns when all are done. */
    public static void forChunks(int chunks, IntConsumer body) {
        if (chunks <= 0) return;
        Pool p = pool;
        if (chunks == 1 || p.threads == 1 || INSIDE.get() || !p.lock.tryLock()) {
            for (int c = 0; c < chunks; c++) body.accept(c);
            return;
        }
        try {
            p.run(chunks, body);
        } finally {
            p.lock.unlock();
        }
    }

    /**
     * Splits [0, n) into up to {@link #RANGES_PER_THREAD} contiguous ranges per thread (at least
     * {@code grain} items each) and runs body(from, to) on each, ranges claimed as threads come free.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        forRange(n, grain, RANGES_PER_THREAD, body);
    }

    /** {@link #forRange(int, int, RangeBody)} with up to {@code perThread} ranges a thread. */
    public static void forRange(int n, int grain, int perThread, RangeBody body) {
        int chunks = Math.max(1, Math.min(INSIDE.get() ? 1 : perThread * threads(), n / Math.max(1, grain)));
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

    /** One call: its chunks are claimed from {@code next}; {@code done} counts the finished ones. */
    private static final class Job {
        final int chunks;
        IntConsumer body; // cleared when the call returns, so the pool holds on to nothing it captured
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        volatile Throwable failure;

        Job(int chunks, IntConsumer body) {
            this.chunks = chunks;
            this.body = body;
        }

        /** Claims and runs chunks until none are left. */
        void work() {
            INSIDE.set(true);
            try {
                for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
                    try {
                        body.accept(c);
                    } catch (Throwable t) {
                        if (failure == null) failure = t;
                    }
                    done.incrementAndGet();
                }
            } finally {
                INSIDE.set(false);
            }
        }
    }

    /** threads − 1 workers beside the calling thread; one call at a time (the lock). */
    private static final class Pool {
        final int threads;
        final ReentrantLock lock = new ReentrantLock();
        final Worker[] workers;
        volatile Job job; // the latest call; a worker that comes late finds nothing left to claim
        volatile boolean stopped;

        Pool(int threads) {
            this.threads = threads;
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this);
                workers[i].setName("lora4j-" + i);
                workers[i].setDaemon(true);
                workers[i].start();
            }
        }

        void run(int chunks, IntConsumer body) {
            Job j = new Job(chunks, body);
            job = j;
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            j.work();
            while (j.done.get() < chunks) Thread.onSpinWait();
            j.body = null;
            Throwable t = j.failure;
            if (t instanceof RuntimeException e) throw e;
            if (t instanceof Error e) throw e;
            if (t != null) throw new RuntimeException(t);
        }

        void shutdown() {
            stopped = true;
            for (Worker w : workers) LockSupport.unpark(w);
        }
    }

    private static final class Worker extends Thread {
        private final Pool pool;
        volatile boolean parked;

        Worker(Pool pool) {
            this.pool = pool;
        }

        @Override
        public void run() {
            Job seen = pool.job;
            while (!pool.stopped) {
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while (pool.job == seen && !pool.stopped) {
                    if (System.nanoTime() < spinUntil) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        if (pool.job == seen && !pool.stopped) LockSupport.park(this);
                        parked = false;
                    }
                }
                if (pool.stopped) return;
                seen = pool.job;
                seen.work();
            }
        }
    }
}
