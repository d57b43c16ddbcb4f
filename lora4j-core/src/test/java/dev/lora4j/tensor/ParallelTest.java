package dev.lora4j.tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The spinning pool: every chunk runs exactly once, failures reach the caller, nesting and a second caller run inline. */
class ParallelTest {
    private static int before;

    @BeforeAll
    static void threeThreads() {
        before = Parallel.threads();
        Parallel.setThreads(3);
    }

    @AfterAll
    static void restore() {
        Parallel.setThreads(before);
    }

    @Test
    void everyChunkRunsExactlyOnceOverManyBackToBackCalls() {
        for (int call = 0; call < 2000; call++) {
            int chunks = 1 + call % 7;
            AtomicIntegerArray runs = new AtomicIntegerArray(chunks);
            Parallel.forChunks(chunks, runs::incrementAndGet);
            for (int c = 0; c < chunks; c++) assertThat(runs.get(c)).as("call %d chunk %d", call, c).isEqualTo(1);
        }
    }

    @Test
    void callsAfterTheWorkersParkedStillComplete() throws InterruptedException {
        Thread.sleep(5); // longer than the spin: the workers park
        AtomicIntegerArray runs = new AtomicIntegerArray(3);
        Parallel.forChunks(3, runs::incrementAndGet);
        assertThat(runs.get(0) + runs.get(1) + runs.get(2)).isEqualTo(3);
    }

    @Test
    void rangesCoverEverythingOnce() {
        int n = 1001;
        AtomicIntegerArray seen = new AtomicIntegerArray(n);
        Parallel.forRange(n, 1, (from, to) -> {
            for (int i = from; i < to; i++) seen.incrementAndGet(i);
        });
        for (int i = 0; i < n; i++) assertThat(seen.get(i)).isEqualTo(1);
    }

    @Test
    void rangesAreSeveralPerThreadButNeverBelowTheGrain() {
        for (int grain : new int[] {1, 300, 2000}) {
            java.util.List<int[]> ranges = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            Parallel.forRange(1001, grain, (from, to) -> ranges.add(new int[] {from, to}));
            int expected = Math.max(1, Math.min(Parallel.RANGES_PER_THREAD * Parallel.threads(), 1001 / grain));
            assertThat(ranges).as("grain %d", grain).hasSize(expected);
            for (int[] r : ranges) assertThat(r[1] - r[0]).as("grain %d", grain).isGreaterThanOrEqualTo(Math.min(grain, 1001));
        }
    }

    @Test
    void aFailureInAnyChunkReachesTheCallerAndThePoolStaysUsable() {
        assertThatThrownBy(() -> Parallel.forChunks(3, c -> {
            if (c == 2) throw new IllegalStateException("chunk two");
        })).isInstanceOf(IllegalStateException.class).hasMessage("chunk two");
        AtomicIntegerArray runs = new AtomicIntegerArray(3);
        Parallel.forChunks(3, runs::incrementAndGet);
        assertThat(runs.get(0) + runs.get(1) + runs.get(2)).isEqualTo(3);
    }

    @Test
    void nestedCallsRunInlineOnTheChunksThread() {
        ConcurrentHashMap<Integer, Boolean> sameThread = new ConcurrentHashMap<>();
        Parallel.forChunks(3, c -> {
            Thread outer = Thread.currentThread();
            assertThat(Parallel.inside()).isTrue();
            Parallel.forChunks(4, d -> sameThread.merge(c, Thread.currentThread() == outer, Boolean::logicalAnd));
        });
        assertThat(sameThread).hasSize(3).doesNotContainValue(false);
        assertThat(Parallel.inside()).isFalse();
    }

    @Test
    void twoCallersAtOnceBothFinish() throws InterruptedException {
        int calls = 500;
        AtomicIntegerArray total = new AtomicIntegerArray(2);
        Thread[] callers = new Thread[2];
        for (int t = 0; t < 2; t++) {
            int id = t;
            callers[t] = new Thread(() -> {
                for (int i = 0; i < calls; i++) Parallel.forChunks(3, c -> total.incrementAndGet(id));
            });
            callers[t].start();
        }
        for (Thread t : callers) t.join(60_000);
        assertThat(total.get(0)).isEqualTo(3 * calls);
        assertThat(total.get(1)).isEqualTo(3 * calls);
    }
}
