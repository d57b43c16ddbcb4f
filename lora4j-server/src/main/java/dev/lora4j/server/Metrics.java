package dev.lora4j.server;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.LongSupplier;

/** The server's numbers in Prometheus' text exposition format (version 0.0.4). */
final class Metrics {
    /** A cumulative histogram with fixed upper bounds. */
    static final class Histogram {
        private final double[] bounds;
        private final AtomicLongArray counts;
        private final DoubleAdder sum = new DoubleAdder();
        private final AtomicLong count = new AtomicLong();

        Histogram(double... bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length);
        }

        void observe(double v) {
            for (int i = 0; i < bounds.length; i++) if (v <= bounds[i]) counts.incrementAndGet(i);
            sum.add(v);
            count.incrementAndGet();
        }

        void write(StringBuilder out, String name, String help) {
            out.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" histogram\n");
            for (int i = 0; i < bounds.length; i++)
                out.append(name).append("_bucket{le=\"").append(number(bounds[i])).append("\"} ").append(counts.get(i)).append('\n');
            out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.get()).append('\n');
            out.append(name).append("_sum ").append(number(sum.sum())).append('\n');
            out.append(name).append("_count ").append(count.get()).append('\n');
        }
    }

    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>(); // "endpoint|status" → count
    final AtomicLong promptTokens = new AtomicLong(), completionTokens = new AtomicLong();
    final Histogram batchRows = new Histogram(1, 2, 4, 8, 16, 32, 64, 128, 256);
    final Histogram timeToFirstToken = new Histogram(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30);
    final Histogram timePerToken = new Histogram(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1);
    private final Map<String, LongSupplier> gauges = new TreeMap<>(), counters = new TreeMap<>();
    private final Map<String, String> help = new TreeMap<>();

    void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "|" + status, k -> new AtomicLong()).incrementAndGet();
    }

    /** A value that goes up and down, read when scraped. */
    void gauge(String name, String help, LongSupplier value) {
        gauges.put(name, value);
        this.help.put(name, help);
    }

    /** A count that only grows, read when scraped. */
    void counter(String name, String help, LongSupplier value) {
        counters.put(name, value);
        this.help.put(name, help);
    }

    String text() {
        StringBuilder out = new StringBuilder();
        out.append("# HELP lora4j_requests_total HTTP requests by endpoint and status\n# TYPE lora4j_requests_total counter\n");
        new TreeMap<>(requests).forEach((k, v) -> {
            String[] p = k.split("\\|");
            out.append("lora4j_requests_total{endpoint=\"").append(p[0]).append("\",status=\"").append(p[1]).append("\"} ").append(v.get()).append('\n');
        });
        counter(out, "lora4j_prompt_tokens_total", "prompt tokens of finished requests", promptTokens.get());
        counter(out, "lora4j_generation_tokens_total", "tokens generated for finished requests", completionTokens.get());
        counters.forEach((name, v) -> counter(out, name, help.get(name), v.getAsLong()));
        gauges.forEach((name, v) -> out.append("# HELP ").append(name).append(' ').append(help.get(name)).append("\n# TYPE ").append(name)
                .append(" gauge\n").append(name).append(' ').append(v.getAsLong()).append('\n'));
        batchRows.write(out, "lora4j_batch_size", "sequences in each step's pass (new tokens and prompts together)");
        timeToFirstToken.write(out, "lora4j_time_to_first_token_seconds", "from a request's arrival to its first new token");
        timePerToken.write(out, "lora4j_time_per_output_token_seconds", "per request, the mean time between new tokens after the first");
        return out.toString();
    }

    private static void counter(StringBuilder out, String name, String help, long v) {
        out.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%s", v);
    }
}
