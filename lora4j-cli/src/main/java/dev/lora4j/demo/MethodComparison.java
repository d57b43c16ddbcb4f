package dev.lora4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.Lora4jException;
import dev.lora4j.bottleneck.BottleneckConfig;
import dev.lora4j.bottleneck.BottleneckModel;
import dev.lora4j.data.TextEncoder;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.ia3.Ia3Config;
import dev.lora4j.ia3.Ia3Model;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.OwnedDirectory;
import dev.lora4j.lab.Report;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Transformer;
import dev.lora4j.cli.Main;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.prompt.PrefixTuningConfig;
import dev.lora4j.prompt.PrefixTuningModel;
import dev.lora4j.prompt.PromptTuningConfig;
import dev.lora4j.prompt.PromptTuningModel;
import dev.lora4j.tokenizer.Tokenizer;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.OptionsJson;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.TrainingRun;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The seed's comparison, measured: the same base, data, steps, batches and schedule for each method (LoRA, IA³, Houlsby
 * bottleneck adapters, prompt tuning, prefix tuning, full fine-tuning), and for each the trainable parameters, what is
 * saved, the training state, training speed, eval loss, the task's score, the context left to the caller, and the
 * latency of a generated token at batch 1, unmerged and merged where the method merges, beside the base model's own.
 */
public final class MethodComparison {
    public enum Method {
        LORA("LoRA", 1e-2), IA3("IA³", 3e-2), BOTTLENECK("bottleneck adapters", 1e-2), PROMPT("prompt tuning", 3e-1), PREFIX("prefix tuning", 1e-1), FULL("full fine-tuning", 1e-3);

        final String label;
        final double lr;

        Method(String label, double lr) {
            this.label = label;
            this.lr = lr;
        }

        public static Method parse(String s) {
            for (Method m : values()) if (m.name().equalsIgnoreCase(s.strip())) return m;
            throw new Lora4jException("--methods: unknown method '" + s + "' (expected lora, ia3, bottleneck, prompt, prefix or full)");
        }
    }

    /**
     * @param data     training data, or null for the demo's task (made here, with its held-out prompts scored by exact match)
     * @param evalData evaluation data for user data (required with data)
     */
    public record Options(Path out, Path model, Path data, Path evalData, List<Method> methods, long steps, int rank, int bottleneckSize,
                          int virtualTokens, long seed, int latencyTokens) {}

    /**
     * One method's measurements (NaN where there is none); peakRssBytes: the training process's peak resident memory
     * (0: not trained); context: the positions left to the caller's tokens.
     */
    record Row(String method, long trainable, long savedBytes, long stateBytes, long peakRssBytes, double tokensPerSecond, double trainSeconds,
               double evalLoss, String score, int context, double msPerToken, double msPerTokenMerged) {}

    private final Options o;
    private final PrintStream out, progress;

    private MethodComparison(Options o, PrintStream out, PrintStream progress) {
        this.o = o;
        this.out = out;
        this.progress = progress;
    }

    public static void run(Options o, PrintStream out, PrintStream progress) throws IOException {
        try (OwnedDirectory owned = OwnedDirectory.claim(o.out(), "compare-methods", true, "--out")) {
            new MethodComparison(o, out, progress).run();
            owned.complete();
        }
    }

    private void run() throws IOException {
        // every method starts from, and every timed model is, fp32: merged and fully trained weights are fp32, and a
        // lower-precision base would decode faster for its narrower weights alone
        Path given = o.model() != null ? o.model() : Demo.extractBundled(o.out().resolve("base-as-shipped"));
        Path base = o.out().resolve("base");
        Merger.convert(given, base, dev.lora4j.tensor.DType.F32);
        Path train = o.data(), eval = o.evalData();
        List<Stories.Example> test = null;
        if (train == null) { // the demo's task: present tense in, past tense out
            List<Stories.Example> examples = new Stories(o.seed()).task(800, Set.of());
            test = new Stories(o.seed() + 1).task(50, Demo.presentSentences(examples));
            train = o.out().resolve("train.jsonl");
            eval = o.out().resolve("held-out.jsonl");
            Demo.writeJsonl(train, examples);
            Demo.writeJsonl(eval, test);
        } else if (eval == null) throw new Lora4jException("compare-methods with --data needs --eval-data (the same formats), to score every method on it");
        Tokenizer tok = test != null ? Tokenizer.load(base) : null;
        List<Row> rows = new ArrayList<>();
        Map<String, Transformer> timed = new LinkedHashMap<>(); // every model whose token latency is measured, at the end, side by side
        List<Transformer> opened = new ArrayList<>();
        try (Transformer m = Transformer.load(base)) {
            m.copyWeightsForDecoding();
            timed.put("base model", m);
            rows.add(new Row("base model", 0, 0, 0, 0, Double.NaN, Double.NaN, evalLoss(m, base, eval), test == null ? "—" : score(m, tok, test),
                    m.config().maxPositions(), Double.NaN, Double.NaN));
            for (Method method : o.methods()) {
                out.printf("%s: training %d steps%n", method.label, o.steps());
                Path dir = o.out().resolve(method.name().toLowerCase(Locale.ROOT));
                long t0 = System.nanoTime();
                trainApart(options(method, base, train, eval, dir), o.out().resolve(method.name().toLowerCase(Locale.ROOT) + "-train.log"));
                double seconds = (System.nanoTime() - t0) / 1e9;
                rows.add(measure(method, m, base, dir, eval, tok, test, seconds, timed, opened));
            }
            out.println("timing generation at batch 1...");
            Map<String, Double> ms = msPerToken(timed);
            List<Row> timedRows = new ArrayList<>();
            for (Row r : rows)
                timedRows.add(new Row(r.method(), r.trainable(), r.savedBytes(), r.stateBytes(), r.peakRssBytes(), r.tokensPerSecond(), r.trainSeconds(), r.evalLoss(), r.score(),
                        r.context(), ms.get(r.method()), ms.getOrDefault(r.method() + " (merged)", Double.NaN)));
            write(timedRows, test != null);
        } finally {
            for (Transformer t : opened) t.close();
        }
    }

    private TrainOptions options(Method m, Path base, Path train, Path eval, Path dir) {
        TrainOptions.Builder b = TrainOptions.builder(base, train, dir)
                .train(TrainConfig.builder().lr(m.lr).schedule(new ScheduleConfig(Schedule.LINEAR, o.steps() / 10)).steps(o.steps())
                        .batchSize(16).seqLen(64).seed(o.seed()).build());
        return switch (m) {
            case LORA -> b.lora(LoraConfig.builder().r(o.rank()).alpha(2.0 * o.rank()).targets(new LoraConfig.TargetList(List.of("q_proj", "v_proj"))).build()).build();
            case IA3 -> b.ia3(new Ia3Config(null, List.of())).build();
            case BOTTLENECK -> b.bottleneck(new BottleneckConfig(o.bottleneckSize(), null)).build();
            case PROMPT -> b.promptTuning(new PromptTuningConfig(o.virtualTokens(), PromptTuningConfig.Init.SAMPLE_VOCAB, null)).build();
            case PREFIX -> b.prefixTuning(new PrefixTuningConfig(o.virtualTokens())).build();
            case FULL -> b.full(true).build();
        };
    }

    /**
     * Trains in a JVM of its own, so that the peak resident memory its metrics record is the method's alone: this JVM's
     * Java, options, class path and thread count, running {@code train --config} on the options; its output goes to log.
     */
    private static void trainApart(TrainOptions options, Path log) throws IOException {
        Path config = log.resolveSibling(log.getFileName().toString().replace(".log", "-options.json"));
        AtomicFiles.writeString(config, new ObjectMapper().writeValueAsString(OptionsJson.write(options)) + "\n");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-javaagent")) cmd.add(a); // a debugger's port is taken
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "train", "--config", config.toString(),
                "--threads", Integer.toString(Parallel.threads())));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (p.waitFor() != 0) {
                List<String> lines = Files.readAllLines(log);
                throw new Lora4jException("training failed (" + log + "): " + String.join("\n", lines.subList(Math.max(0, lines.size() - 5), lines.size())));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new Lora4jException("interrupted while training (" + log + ")");
        }
    }

    /** A trained method's row (latency filled in later); the models to time go into timed, any it loads into opened. */
    private Row measure(Method method, Transformer m, Path base, Path dir, Path eval, Tokenizer tok, List<Stories.Example> test, double seconds,
                        Map<String, Transformer> timed, List<Transformer> opened) throws IOException {
        double tps = medianTokensPerSecond(dir.resolve(TrainingRun.METRICS));
        long rss = peakRss(dir.resolve(TrainingRun.METRICS));
        if (method == Method.FULL) {
            Transformer f = Transformer.load(dir);
            opened.add(f);
            f.copyWeightsForDecoding();
            timed.put(method.label, f);
            long n = f.parameterCount();
            return new Row(method.label, n, Files.size(dir.resolve("model.safetensors")), 16L * n, rss, tps, seconds, evalLoss(f, dir, eval),
                    test == null ? "—" : score(f, tok, test), f.config().maxPositions(), Double.NaN, Double.NaN);
        }
        Transformer adapted, merged;
        long trainable;
        switch (method) {
            case LORA -> {
                LoraModel lm = PeftAdapter.load(dir, m);
                adapted = lm.model();
                merged = Merger.mergeInMemory(lm, 1.0);
                trainable = lm.trainableParameters();
            }
            case IA3 -> {
                Ia3Model im = Ia3Model.load(dir, m);
                adapted = im.model();
                merged = im.merged();
                trainable = im.trainableParameters();
            }
            case BOTTLENECK -> {
                BottleneckModel bm = BottleneckModel.load(dir, m);
                adapted = bm.model();
                merged = null; // a layer of its own: nothing to merge into
                trainable = bm.trainableParameters();
            }
            case PROMPT -> {
                PromptTuningModel pm = PromptTuningModel.load(dir, m);
                adapted = pm.model();
                merged = null; // no weight changes: nothing to merge
                trainable = pm.trainableParameters();
            }
            case PREFIX -> {
                PrefixTuningModel pm = PrefixTuningModel.load(dir, m);
                adapted = pm.model();
                merged = null;
                trainable = pm.trainableParameters();
            }
            default -> throw new IllegalStateException(method.name());
        }
        timed.put(method.label, adapted);
        if (merged != null) {
            merged.copyWeightsForDecoding();
            timed.put(method.label + " (merged)", merged);
        }
        return new Row(method.label, trainable, Files.size(dir.resolve(PeftAdapter.WEIGHTS)), 16L * trainable, rss, tps, seconds, evalLoss(adapted, base, eval),
                test == null ? "—" : score(adapted, tok, test), adapted.config().maxPositions(), Double.NaN, Double.NaN);
    }

    private static String score(Transformer m, Tokenizer tok, List<Stories.Example> test) {
        Demo.Score s = Demo.score(m, tok, test);
        return s.exact() + "/" + test.size();
    }

    private static double evalLoss(Transformer m, Path modelDir, Path eval) {
        TokenDataset ds = TokenDataset.read(eval, m.config().vocabSize(), false, TextEncoder.ofModel(modelDir, null)).truncated(64, TokenDataset.Truncation.RIGHT);
        return Evaluator.evaluate(m, ds.examples(), ds.labels(), 64, 16).loss();
    }

    /**
     * Milliseconds per generated token at batch 1 of each model: greedy decoding after a 16-token prompt, timed from the
     * first generated token to the last (the prompt's pass left out); the models take turns, 3 rounds to warm up then 12
     * measured, and each keeps its best (the host is shared and noisy).
     */
    private Map<String, Double> msPerToken(Map<String, Transformer> models) {
        Map<String, Double> best = new LinkedHashMap<>();
        for (int round = 0; round < 15; round++)
            for (var e : models.entrySet()) {
                Transformer m = e.getValue();
                int tokens = Math.min(o.latencyTokens(), m.config().maxPositions() - 17);
                int[] prompt = new SplittableRandom(1).ints(16, 1, m.config().vocabSize() - 1).toArray();
                long[] first = {0}, last = {0};
                int[] n = {0};
                Generator.generate(m, new int[][] {prompt}, tokens, new Sampler(0, 0, 1, 1, new SplittableRandom(0)), -1, id -> {
                    long now = System.nanoTime();
                    if (n[0]++ == 0) first[0] = now;
                    last[0] = now;
                });
                if (round >= 3 && n[0] > 1) best.merge(e.getKey(), (last[0] - first[0]) / 1e6 / (n[0] - 1), Math::min);
            }
        return best;
    }

    /** The largest peak resident memory a training run's metrics record (0 when they record none). */
    private static long peakRss(Path metrics) throws IOException {
        long max = 0;
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(metrics)) max = Math.max(max, json.readTree(line).path("peak_rss_bytes").asLong(0));
        return max;
    }

    private static double medianTokensPerSecond(Path metrics) throws IOException {
        List<Double> v = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(metrics)) {
            var j = json.readTree(line);
            if (j.has("tokens_per_s") && j.path("step").asLong() > 1) v.add(j.get("tokens_per_s").asDouble());
        }
        if (v.isEmpty()) return Double.NaN;
        v.sort(Double::compare);
        return v.get(v.size() / 2);
    }

    private void write(List<Row> rows, boolean demoTask) throws IOException {
        List<String> header = List.of("method", "trainable parameters", "saved", "trainable state", "training peak RSS", "train tokens/s", "train s", "eval loss",
                demoTask ? "held-out exact match" : "task score", "context left", "ms/token (batch 1)", "ms/token merged");
        List<List<String>> table = new ArrayList<>();
        for (Row r : rows)
            table.add(List.of(r.method(), r.trainable() == 0 ? "—" : String.format(Locale.ROOT, "%,d", r.trainable()), r.savedBytes() == 0 ? "—" : kb(r.savedBytes()),
                    r.stateBytes() == 0 ? "—" : kb(r.stateBytes()), r.peakRssBytes() <= 0 ? "—" : kb(r.peakRssBytes()), fmt("%,.0f", r.tokensPerSecond()), fmt("%.0f", r.trainSeconds()), fmt("%.4f", r.evalLoss()),
                    r.score(), String.valueOf(r.context()), fmt("%.3f", r.msPerToken()), Double.isNaN(r.msPerTokenMerged()) ? "—" : fmt("%.3f", r.msPerTokenMerged())));
        StringBuilder md = new StringBuilder("| " + String.join(" | ", header) + " |\n|" + "---|".repeat(header.size()) + "\n");
        for (List<String> t : table) md.append("| ").append(String.join(" | ", t)).append(" |\n");
        AtomicFiles.writeString(o.out().resolve("compare.md"), md.toString());
        AtomicFiles.writeString(o.out().resolve("compare.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rows) + "\n");
        out.println();
        out.print(md);
        Report report = new Report("lora4j compare-methods: the same task, budget and base, trained seven ways");
        report.paragraph(String.format(Locale.ROOT, "%d steps of 16 examples (64 tokens) for every method, linear schedule; trainable state is 16 bytes per "
                + "trainable parameter (fp32 weight, gradient and AdamW's two moments); training peak RSS: the peak resident memory of the training process (each method "
                + "trains in a JVM of its own; the base is mapped, so its pages count as they are read); latency: greedy decoding at batch 1, up to %d tokens after a 16-token prompt, timed from the first generated token to the last, the models taking turns, best of 12.",
                o.steps(), o.latencyTokens()));
        report.table(header, table);
        Map<String, Double> latency = new LinkedHashMap<>(), loss = new LinkedHashMap<>();
        for (Row r : rows) {
            latency.put(r.method(), r.msPerToken());
            if (!Double.isNaN(r.msPerTokenMerged())) latency.put(r.method() + " (merged)", r.msPerTokenMerged());
            loss.put(r.method(), r.evalLoss());
        }
        report.bars("latency.png", "milliseconds per generated token, batch 1", "ms", latency);
        report.bars("eval-loss.png", "eval loss", "loss", loss);
        if (demoTask) {
            Map<String, Double> exact = new LinkedHashMap<>();
            for (Row r : rows) exact.put(r.method(), 100.0 * Integer.parseInt(r.score().split("/")[0]) / Integer.parseInt(r.score().split("/")[1]));
            report.bars("exact-match.png", "held-out exact match (%)", "%", exact);
        }
        Path html = report.write(o.out().resolve("report"));
        out.printf("%nwritten: %s, %s, %s%n", o.out().resolve("compare.md"), o.out().resolve("compare.json"), html);
    }

    private static String fmt(String f, double v) {
        return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, f, v);
    }

    private static String kb(long bytes) {
        return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0) : String.format(Locale.ROOT, "%.1f KB", bytes / 1024.0);
    }

    public static List<Method> methods(List<String> names) {
        List<Method> out = new ArrayList<>();
        for (String n : names) {
            Method m = Method.parse(n);
            if (out.contains(m)) throw new Lora4jException("--methods names " + n + " twice");
            out.add(m);
        }
        if (out.isEmpty()) throw new Lora4jException("--methods names no method");
        return out;
    }
}
