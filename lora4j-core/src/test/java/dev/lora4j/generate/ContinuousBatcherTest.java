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

    @Test
    void aCancelledRequestFreesItsSlotAndTheOthersGoOn() throws Exception {
        try (ContinuousBatcher b = new ContinuousBatcher(g, new ContinuousBatcher.Options(1, 8, 256), null)) {
            GenerationConfig longer = GenerationConfig.builder().maxNewTokens(200).temperature(0).build();
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
