package dev.lora4j.generate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Continuous batching: requests joining and leaving a running batch, each with its own adapter, get
 * exactly what the same requests get one at a time (sampled ones too: each has its own seeded sampler).
 */
class ContinuousBatcherTest {
    static TextGenerator g;

    @BeforeAll
    static void load() {
        g = TextGenerator.load(dev.lora4j.TestPaths.bundledModel());
        for (int k = 0; k < 3; k++) g.addAdapter("a" + k, TextGeneratorTest.randomAdapter(g.base(), 10 + k));
    }

    @AfterAll
    static void close() {
        g.close();
    }

    @Test
    void requestsJoiningARunningBatchGetWhatTheyGetAlone() throws Exception {
        List<TextGenerator.Request> rs = TextGeneratorTest.requests();
        List<Completion> alone = new ArrayList<>();
        for (TextGenerator.Request r : rs) alone.add(g.generate(r));
        for (int slots : new int[] {1, 3, 16}) {
            List<Long> rows = new java.util.concurrent.CopyOnWriteArrayList<>();
            try (ContinuousBatcher b = new ContinuousBatcher(g, new ContinuousBatcher.Options(slots, 64, 256),
                    (n, prefill, nanos) -> rows.add((long) n))) {
                List<ContinuousBatcher.Ticket> tickets = new ArrayList<>();
                for (int i = 0; i < rs.size(); i++) {
                    tickets.add(b.submit(rs.get(i)));
                    if (i % 5 == 4) Thread.sleep(5); // later requests join a batch already decoding
                }
                for (int i = 0; i < rs.size(); i++) {
                    Completion c = tickets.get(i).result().get(60, TimeUnit.SECONDS);
                    assertThat(c.ids()).as("request %d with %d slots", i, slots).containsExactly(alone.get(i).ids());
                    assertThat(c.text()).isEqualTo(alone.get(i).text());
                    assertThat(c.finishReason()).isEqualTo(alone.get(i).finishReason());
                    assertThat(tickets.get(i).timeToFirstTokenNanos()).isPositive();
                }
                assertThat(rows.stream().mapToLong(Long::longValue).max().orElse(0)).isLessThanOrEqualTo(slots);
                if (slots > 1) assertThat(rows.stream().mapToLong(Long::longValue).max().orElse(0)).isGreaterThan(1);
            }
        }
    }

    /**
     * Many prompts arriving together, short ones (prefilled several to a pass) and long ones, with more
     * slots than one decode pass takes: each still gets what it gets alone, sampled draws included.
     */
    @Test
    void promptsPrefilledTogetherAndWideBatchesGetWhatTheyGetAlone() throws Exception {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        int vocab = g.config().vocabSize();
        List<TextGenerator.Request> rs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            int[] prompt = rnd.ints(i % 5 == 0 ? 40 : 5, 0, vocab).toArray();
            rs.add(TextGenerator.Request.ids(prompt).adapter(i % 3 == 0 ? null : "a" + (i % 3))
                    .config(GenerationConfig.builder().maxNewTokens(12).temperature(i % 2 == 0 ? 0 : 1.0).seed(i).eosIds(List.of()).build()));
        }
        List<Completion> alone = new ArrayList<>();
        for (TextGenerator.Request r : rs) alone.add(g.generate(r));
        List<Long> rows = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ContinuousBatcher b = new ContinuousBatcher(g, new ContinuousBatcher.Options(40, 64, 128), (n, prefill, nanos) -> rows.add((long) n))) {
            List<ContinuousBatcher.Ticket> tickets = new ArrayList<>();
            for (TextGenerator.Request r : rs) tickets.add(b.submit(r));
            for (int i = 0; i < rs.size(); i++)
                assertThat(tickets.get(i).result().get(60, TimeUnit.SECONDS).ids()).as("request %d", i).containsExactly(alone.get(i).ids());
        }
        assertThat(rows.stream().mapToLong(Long::longValue).max().orElse(0)).isGreaterThan(dev.lora4j.model.Linear.DECODE_ROWS);
    }

    /**
     * The premise of how the batcher groups prompts: a pass's logits for a sequence are the very bits of
     * that sequence alone while every sequence stays in the kernels it gets alone (short prompts up to
     * Linear.DECODE_ROWS rows in all, long ones together). (Whether a pass of short prompts that crosses
     * into the GEMM differs depends on the shapes: the decode kernel sums each output in one chain over
     * the inputs, as the GEMM does up to its KC, so on this model they agree.)
     */
    @Test
    void groupedPassesGiveEachSequenceItsBitsAloneWithinTheKernelBounds() {
        dev.lora4j.model.Transformer base = g.base();
        base.copyWeightsForDecoding();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(9);
        int vocab = g.config().vocabSize();
        int[][] shortOnes = new int[6][], longOnes = new int[2][];
        for (int i = 0; i < shortOnes.length; i++) shortOnes[i] = rnd.ints(5, 0, vocab).toArray();
        for (int i = 0; i < longOnes.length; i++) longOnes[i] = rnd.ints(40, 0, vocab).toArray();
        assertThat(together(base, shortOnes)).isEqualTo(alone(base, shortOnes));
        assertThat(together(base, longOnes)).isEqualTo(alone(base, longOnes));
    }

    /**
     * One ragged pass (what each step of the batcher runs): two sequences decoding at different positions,
     * a short prompt and a long one (the GEMM's) give each sequence the very bits of its own passes.
     */
    @Test
    void aRaggedPassGivesEachSequenceItsBitsAlone() {
        dev.lora4j.model.Transformer base = g.base();
        base.copyWeightsForDecoding();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(13);
        int vocab = g.config().vocabSize();
        int[][] before = {rnd.ints(7, 0, vocab).toArray(), rnd.ints(36, 0, vocab).toArray()}; // already in the cache
        int[][] now = {{rnd.nextInt(vocab)}, {rnd.nextInt(vocab)}, rnd.ints(5, 0, vocab).toArray(), rnd.ints(40, 0, vocab).toArray()};
        dev.lora4j.model.KvCache cache = new dev.lora4j.model.KvCache(g.config(), 4, 96);
        for (int i = 0; i < before.length; i++) base.forwardCached(before[i], new int[] {i}, before[i].length, cache);
        int[] flat = java.util.stream.Stream.of(now).flatMapToInt(java.util.Arrays::stream).toArray();
        float[] ragged = base.forwardRagged(flat, new int[] {0, 1, 2, 3}, new int[] {1, 1, 5, 40}, cache);
        for (int i = 0; i < now.length; i++) {
            dev.lora4j.model.KvCache own = new dev.lora4j.model.KvCache(g.config(), 1, 96);
            if (i < before.length) base.forwardCached(before[i], new int[] {0}, before[i].length, own);
            float[] alone = base.forwardCached(now[i], new int[] {0}, now[i].length, own);
            assertThat(java.util.Arrays.copyOfRange(ragged, i * vocab, (i + 1) * vocab)).as("sequence %d", i).containsExactly(alone);
        }
        assertThat(cache.length(3)).isEqualTo(40);
        assertThat(cache.length(0)).isEqualTo(8);
        // the same pass into a caller's buffer (the batcher's, reused step after step): its front, the rest untouched
        dev.lora4j.model.KvCache again = new dev.lora4j.model.KvCache(g.config(), 4, 96);
        for (int i = 0; i < before.length; i++) base.forwardCached(before[i], new int[] {i}, before[i].length, again);
        float[] buffer = new float[5 * vocab];
        java.util.Arrays.fill(buffer, Float.NaN);
        assertThat(base.forwardRagged(flat, new int[] {0, 1, 2, 3}, new int[] {1, 1, 5, 40}, again, buffer)).isSameAs(buffer);
        assertThat(java.util.Arrays.copyOf(buffer, 4 * vocab)).containsExactly(ragged);
        assertThat(java.util.Arrays.copyOfRange(buffer, 4 * vocab, 5 * vocab)).containsOnly(Float.NaN);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> base.forwardRagged(new int[] {1}, new int[] {0}, new int[] {1}, again, new float[vocab - 1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logits buffer");
        // a long one before a short one would put the short one's rows in the GEMM
        dev.lora4j.model.KvCache fresh = new dev.lora4j.model.KvCache(g.config(), 2, 96);
        int[] both = java.util.stream.IntStream.concat(java.util.Arrays.stream(now[3]), java.util.Arrays.stream(now[2])).toArray();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> base.forwardRagged(both, new int[] {0, 1}, new int[] {40, 5}, fresh))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("short ones come first");
    }

    private static float[] alone(dev.lora4j.model.Transformer m, int[][] prompts) {
        int vocab = m.config().vocabSize();
        float[] out = new float[prompts.length * vocab];
        for (int i = 0; i < prompts.length; i++)
            System.arraycopy(m.forwardCached(prompts[i], new int[] {0}, prompts[i].length, new dev.lora4j.model.KvCache(m.config(), 1, 64)), 0, out, i * vocab, vocab);
        return out;
    }

    private static float[] together(dev.lora4j.model.Transformer m, int[][] prompts) {
        int n = prompts[0].length;
        int[] flat = new int[prompts.length * n], seqs = new int[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            System.arraycopy(prompts[i], 0, flat, i * n, n);
            seqs[i] = i;
        }
        return m.forwardCached(flat, seqs, n, new dev.lora4j.model.KvCache(m.config(), prompts.length, 64));
    }

    @Test
    void aCancelledRequestFreesItsSlotAndTheOthersGoOn() throws Exception {
        try (ContinuousBatcher b = new ContinuousBatcher(g, new ContinuousBatcher.Options(1, 8, 256), null)) {
            // no end-of-sequence id: the first request cannot finish on its own before it is cancelled
            GenerationConfig longer = GenerationConfig.builder().maxNewTokens(200).temperature(0).eosIds(java.util.List.of()).build();
            ContinuousBatcher.Ticket first = b.submit(TextGenerator.Request.text("Once upon a time").config(longer));
            ContinuousBatcher.Ticket second = b.submit(TextGenerator.Request.text("The dog").adapter("a1")
                    .config(GenerationConfig.builder().maxNewTokens(8).temperature(0).build()));
            first.cancel();
            assertThatThrownBy(() -> first.result().get(30, TimeUnit.SECONDS)).isInstanceOf(CancellationException.class);
            assertThat(second.result().get(30, TimeUnit.SECONDS).ids())
                    .containsExactly(g.generate(TextGenerator.Request.text("The dog").adapter("a1")
                            .config(GenerationConfig.builder().maxNewTokens(8).temperature(0).build())).ids());
        }
    }

    @Test
    void badRequestsAreRefusedAtSubmissionAndAFullQueueSaysSo() throws Exception {
        try (ContinuousBatcher b = new ContinuousBatcher(g, new ContinuousBatcher.Options(1, 1, 64), null)) {
            assertThatThrownBy(() -> b.submit(TextGenerator.Request.ids(1, 2, 999_999))).hasMessageContaining("outside the vocabulary");
            assertThatThrownBy(() -> b.submit(TextGenerator.Request.text("x").adapter("nope"))).hasMessageContaining("no adapter named 'nope'");
            assertThatThrownBy(() -> b.submit(TextGenerator.Request.text("word ".repeat(200)))).hasMessageContaining("at most 63 fit");
            GenerationConfig many = GenerationConfig.builder().maxNewTokens(20).temperature(0).build();
            // the first request's listener holds the batcher's thread: the slot stays taken while the queue fills
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1), started = new java.util.concurrent.CountDownLatch(1);
            List<ContinuousBatcher.Ticket> held = new ArrayList<>();
            held.add(b.submit(TextGenerator.Request.text("Once").config(many).listener(piece -> {
                started.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            })));
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            held.add(b.submit(TextGenerator.Request.text("Once").config(many)));
            assertThatThrownBy(() -> b.submit(TextGenerator.Request.text("Once").config(many))).isInstanceOf(ContinuousBatcher.QueueFull.class);
            release.countDown();
            for (ContinuousBatcher.Ticket t : held) t.result().get(30, TimeUnit.SECONDS);
        }
    }
}
