package dev.lora4j.generate;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Continuous batching over one {@link TextGenerator}: one thread owns the model and a KV cache of
 * {@code slots} sequences; each step admits waiting requests into free slots, runs one ragged pass over
 * every active sequence (the prompts of those just admitted, one new token for the others) in which each
 * row uses its own adapter, and samples the next token of each. Requests join and leave between steps; a
 * cancelled one frees its slot at the next step.
 *
 * <p>A request holds the adapter it was submitted with (a {@link LoraModel}) until it ends, so an adapter
 * unloaded or evicted meanwhile still serves the sequences that use it.
 */
public final class ContinuousBatcher implements AutoCloseable {
    /**
     * @param slots             sequences decoded together at most (the batch)
     * @param maxQueue          requests waiting for a slot at most; more are refused ({@link QueueFull})
     * @param maxSequenceLength prompt plus new tokens, at most (bounded by the model's context); sizes the KV cache
     */
    public record Options(int slots, int maxQueue, int maxSequenceLength) {
        public Options {
            if (slots < 1 || slots > 4096) throw new Lora4jException("--max-batch must be in [1, 4096], got " + slots);
            if (maxQueue < 0 || maxQueue > 1_000_000) throw new Lora4jException("--max-queue must be in [0, 1000000], got " + maxQueue);
            if (maxSequenceLength < 2) throw new Lora4jException("--max-seq-len must be at least 2, got " + maxSequenceLength);
        }
    }

    /** The queue is full: try again later (HTTP 429). */
    public static final class QueueFull extends Lora4jException {
        QueueFull(int size) {
            super(size + " requests are waiting already; try again later");
        }
    }

    /** What the batcher reports after each step, for metrics: the sequences in its pass, the prompt tokens among its rows, its time. */
    public interface StepListener {
        void onStep(int sequences, int prefillTokens, long nanos);
    }

    /** One submitted request: its result, its prompt length, and a way to give it up. */
    public static final class Ticket {
        private final TextGenerator.Prepared prepared;
        private final LoraModel adapter;
        private final CompletableFuture<Completion> result = new CompletableFuture<>();
        private final long submittedNanos = System.nanoTime();
        private volatile long firstTokenNanos;
        private volatile boolean cancelled;

        private Ticket(TextGenerator.Prepared prepared, LoraModel adapter) {
            this.prepared = prepared;
            this.adapter = adapter;
        }

        public CompletableFuture<Completion> result() {
            return result;
        }

        public int promptTokens() {
            return prepared.sequence().prompt().length;
        }

        /** Frees the request's slot at the next step; its result completes with a CancellationException. */
        public void cancel() {
            cancelled = true;
        }

        /** Nanoseconds from submission to the first new token, or 0 before it. */
        public long timeToFirstTokenNanos() {
            long f = firstTokenNanos;
            return f == 0 ? 0 : f - submittedNanos;
        }
    }

    /** A sequence in a slot of the cache. */
    private static final class Active {
        final Ticket ticket;
        final int[] seen, out;
        final int total;
        int seenCount, produced;
        int fed; // tokens of seen already in the cache: 0 until the prompt's pass, then seenCount − 1 between steps
        float[] logits; // the last pass's logits, shared by its sequences: this one's start at logitsAt
        int logitsAt;

        Active(Ticket ticket, int capacity) {
            this.ticket = ticket;
            int[] prompt = ticket.prepared.sequence().prompt();
            total = (int) Math.min(capacity, (long) prompt.length + ticket.prepared.sequence().maxNewTokens());
            seen = Arrays.copyOf(prompt, total);
            seenCount = prompt.length;
            out = new int[total - prompt.length];
        }
    }

    /**
     * Prompt tokens admitted into one step's pass at most (one prompt always goes in): a pass holds its
     * rows' activations at once, and the sequences already decoding wait for it.
     */
    static final int PROMPT_TOKENS_PER_STEP = 8192;

    private final TextGenerator generator;
    private final Transformer base;
    private final Options options;
    private final int capacity;
    private final KvCache cache;
    private final Active[] slots;
    private final LinkedBlockingQueue<Ticket> queue = new LinkedBlockingQueue<>();
    private final Thread loop;
    private final StepListener stepListener;
    private final AtomicLong steps = new AtomicLong(), tokens = new AtomicLong(), cancelled = new AtomicLong();
    private volatile boolean closed;
    private volatile int activeCount;
    // the mixed model of the adapters the active sequences use, rebuilt only when that set changes
    private List<LoraModel> routedAdapters = List.of();
    private AdapterSet.Mixed routed;
    private final Map<LoraModel, String> routeNames = new IdentityHashMap<>();
    // the passes' logits, (slots, V), reused step after step (the loop's thread only): per step they were most of
    // what a decode step allocated, and young collections came every few steps
    private float[] logits = new float[0];

    public ContinuousBatcher(TextGenerator generator, Options options, StepListener stepListener) {
        this.generator = generator;
        this.base = generator.base();
        this.options = options;
        this.stepListener = stepListener;
        this.capacity = Math.min(options.maxSequenceLength(), base.config().maxPositions());
        this.cache = new KvCache(base.config(), options.slots(), capacity);
        this.slots = new Active[options.slots()];
        base.copyWeightsForDecoding();
        loop = Thread.ofPlatform().name("lora4j-batcher").daemon(true).start(this::run);
    }

    /** The longest sequence (prompt and new tokens) a slot holds. */
    public int capacity() {
        return capacity;
    }

    public int queued() {
        return queue.size();
    }

    public int active() {
        return activeCount;
    }

    public long steps() {
        return steps.get();
    }

    /** Requests given up (cancelled by their caller) before they finished, so far. */
    public long cancelled() {
        return cancelled.get();
    }

    /** New tokens produced so far, over all requests. */
    public long tokens() {
        return tokens.get();
    }

    /**
     * Queues a request: its prompt is encoded and checked now (errors are the caller's: a bad request), its
     * adapter resolved by name now. The listener of the request hears its text on the batcher's thread:
     * it must not block.
     */
    public Ticket submit(TextGenerator.Request request) {
        if (closed) throw new Lora4jException("the server is shutting down");
        TextGenerator.Prepared p = generator.prepare(request);
        int[] prompt = p.sequence().prompt();
        if (prompt.length >= capacity)
            throw new Lora4jException("the prompt has " + prompt.length + " tokens; at most " + (capacity - 1) + " fit (the sequence limit is " + capacity + ")");
        int vocab = base.config().vocabSize();
        for (int id : prompt) if (id < 0 || id >= vocab) throw new Lora4jException("token id " + id + " is outside the vocabulary [0, " + vocab + ")");
        Ticket t = new Ticket(p, generator.adapter(request.adapter()));
        synchronized (queue) {
            if (queue.size() >= options.maxQueue()) throw new QueueFull(queue.size());
            queue.add(t);
        }
        return t;
    }

    /** Stops taking requests, cancels those waiting or running, and ends the batcher's thread. */
    @Override
    public void close() {
        closed = true;
        loop.interrupt();
        try {
            loop.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Ticket t; (t = queue.poll()) != null; ) t.result.completeExceptionally(new CancellationException("the server shut down"));
    }

    private void run() {
        while (!closed) {
            try {
                step();
            } catch (InterruptedException e) {
                if (closed) break;
            } catch (RuntimeException | Error e) {
                // a failure of the step fails the requests in it; the batcher keeps serving the next ones
                for (int s = 0; s < slots.length; s++) if (slots[s] != null) finish(s, null, e);
            }
        }
        for (int s = 0; s < slots.length; s++) if (slots[s] != null) finish(s, null, new CancellationException("the server shut down"));
    }

    private void step() throws InterruptedException {
        long t0 = System.nanoTime();
        List<Integer> admitted = new ArrayList<>();
        int promptBudget = PROMPT_TOKENS_PER_STEP;
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] != null) continue;
            Ticket peeked = admitted.isEmpty() ? null : queue.peek(); // only this thread takes from the queue
            if (peeked != null && peeked.promptTokens() > promptBudget) break;
            Ticket t = activeCount == 0 && admitted.isEmpty() ? queue.poll(100, TimeUnit.MILLISECONDS) : queue.poll();
            if (t == null) break;
            if (t.cancelled) {
                cancelled.incrementAndGet();
                t.result.completeExceptionally(new CancellationException("cancelled before it started"));
                s--;
                continue;
            }
            slots[s] = new Active(t, capacity);
            cache.clear(s);
            admitted.add(s);
            promptBudget -= t.promptTokens();
            activeCount++;
        }
        for (int s = 0; s < slots.length; s++)
            if (slots[s] != null && slots[s].ticket.cancelled) {
                cancelled.incrementAndGet();
                finish(s, null, new CancellationException("cancelled"));
            }
        if (activeCount == 0) return;
        // One ragged pass: the token each sequence under way drew last, then the prompts just admitted,
        // those of up to Linear.DECODE_ROWS tokens before longer ones; each row with its own adapter. Each
        // sequence goes through the kernels it would get in a pass of its own (Transformer.forwardRagged),
        // so its bits are those of generating it alone.
        List<Integer> order = new ArrayList<>();
        for (int s = 0; s < slots.length; s++) if (slots[s] != null && slots[s].fed > 0) order.add(s);
        admitted.removeIf(s -> slots[s] == null);
        admitted.sort(java.util.Comparator.comparingInt(s -> slots[s].seenCount));
        order.addAll(admitted);
        int b = order.size(), rows = 0, prefillTokens = 0;
        int[] seqs = new int[b], lengths = new int[b];
        for (int j = 0; j < b; j++) {
            Active a = slots[order.get(j)];
            seqs[j] = order.get(j);
            lengths[j] = a.seenCount - a.fed;
            rows += lengths[j];
            if (a.fed == 0) prefillTokens += lengths[j];
        }
        AdapterSet.Mixed mixed = routing(); // before names(): it names the routes
        int[] flat = new int[rows];
        String[] routes = new String[rows], perSequence = names(seqs);
        for (int j = 0, r = 0; j < b; j++) {
            Active a = slots[seqs[j]];
            System.arraycopy(a.seen, a.fed, flat, r, lengths[j]);
            Arrays.fill(routes, r, r + lengths[j], perSequence[j]);
            r += lengths[j];
            a.fed = a.seenCount;
        }
        int vocab = base.config().vocabSize();
        if (logits.length < b * vocab) logits = new float[Math.multiplyExact(slots.length, vocab)];
        float[] buffer = logits;
        float[] l = mixed.call(routes, () -> mixed.model().forwardRagged(flat, seqs, lengths, cache, buffer));
        spread(l, seqs);
        // the next token of every sequence; those that end leave their slot
        int[] drawn = new int[b];
        // each sequence draws with its own sampler and generator: in parallel, with the same draws
        Parallel.forChunks(b, j -> {
            Active a = slots[seqs[j]];
            Generator.Sequence sequence = a.ticket.prepared.sequence();
            drawn[j] = sequence.sampler().next(a.logits, a.logitsAt, sequence.drawable(vocab), a.seen, a.seenCount);
        });
        for (int j = 0; j < b; j++) {
            int s = seqs[j], id = drawn[j];
            Active a = slots[s];
            Generator.Sequence seq = a.ticket.prepared.sequence();
            if (a.produced == 0) a.ticket.firstTokenNanos = System.nanoTime();
            a.out[a.produced++] = id;
            a.seen[a.seenCount++] = id;
            tokens.incrementAndGet();
            seq.onToken().accept(id);
            if (contains(seq.eosIds(), id) || seq.stop().done(s, a.out, a.produced)) finish(s, Generator.FinishReason.STOP, null);
            else if (a.seenCount == a.total) finish(s, Generator.FinishReason.LENGTH, null);
        }
        steps.incrementAndGet();
        if (stepListener != null) stepListener.onStep(b, prefillTokens, System.nanoTime() - t0);
    }

    private void spread(float[] logits, int[] seqs) {
        int vocab = base.config().vocabSize();
        for (int j = 0; j < seqs.length; j++) {
            slots[seqs[j]].logits = logits;
            slots[seqs[j]].logitsAt = j * vocab;
        }
    }

    private void finish(int s, Generator.FinishReason reason, Throwable failure) {
        Active a = slots[s];
        slots[s] = null;
        activeCount--;
        if (failure != null) {
            a.ticket.result.completeExceptionally(failure);
            return;
        }
        try {
            String text = a.ticket.prepared.finish();
            a.ticket.result.complete(new Completion(text, Arrays.copyOf(a.out, a.produced), reason, a.ticket.promptTokens()));
        } catch (RuntimeException e) {
            a.ticket.result.completeExceptionally(e);
        }
    }

    /** The route name of each sequence's adapter (null: the base). */
    private String[] names(int[] seqs) {
        String[] names = new String[seqs.length];
        for (int j = 0; j < seqs.length; j++) {
            LoraModel m = slots[seqs[j]].ticket.adapter;
            names[j] = m == null ? null : routeNames.get(m);
        }
        return names;
    }

    /** The mixed model over the adapters of the active sequences; the same object while that set does not change. */
    private AdapterSet.Mixed routing() {
        List<LoraModel> used = new ArrayList<>();
        for (Active a : slots)
            if (a != null && a.ticket.adapter != null && used.stream().noneMatch(m -> m == a.ticket.adapter)) used.add(a.ticket.adapter);
        boolean same = used.size() == routedAdapters.size() && routed != null;
        for (LoraModel m : used) same &= routeNames.containsKey(m);
        if (same) return routed;
        AdapterSet set = new AdapterSet(base);
        routeNames.clear();
        for (LoraModel m : used) {
            String name = "route" + routeNames.size();
            routeNames.put(m, name);
            set.add(name, m);
        }
        routedAdapters = used;
        routed = set.mixed();
        return routed;
    }

    private static boolean contains(int[] ids, int id) {
        for (int e : ids) if (e == id) return true;
        return false;
    }
}
