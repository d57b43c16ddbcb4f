package dev.lora4j.demo;

import dev.lora4j.Lora4jException;
import dev.lora4j.lab.Report;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.OwnedDirectory;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.Tokenizer;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.TrainingRun;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The whole LoRA story on the bundled base model, in a few minutes on a laptop's CPU: the base model
 * fails a task it has never seen (rewriting a sentence in the past tense), a LoRA adapter with well under
 * 1% of the parameters trainable learns it, and the adapter is saved, merged (the merged model answers
 * exactly as base + adapter does) and set against full fine-tuning. Everything it writes goes in one
 * output directory: the base it used, the data, the adapter, the merged model, plots and a report.
 */
public final class Demo {
    /** Where the bundled model lives on the classpath (copied from the repository's models/ at build time). */
    static final String BUNDLED = "/models/lora4j-stories/";
    static final List<String> MODEL_FILES = List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md");

    public record Options(Path out, Path model, long steps, int rank, List<String> targets, boolean full, long seed, int trainExamples, int heldOut) {}

    /** A score on the held-out prompts: exact matches and each prompt's answer. */
    record Score(int exact, List<String> answers) {
        double percent() {
            return 100.0 * exact / answers.size();
        }
    }

    private final Options o;
    private final PrintStream out, progress;

    private Demo(Options o, PrintStream out, PrintStream progress) {
        this.o = o;
        this.out = out;
        this.progress = progress;
    }

    public static void run(Options o, PrintStream out, PrintStream progress) throws IOException {
        new Demo(o, out, progress).run();
    }

    /** The output directory: new, empty, or a complete earlier demo's whose files are all listed (replaced); anything else is refused. */
    private void run() throws IOException {
        try (OwnedDirectory owned = OwnedDirectory.claim(o.out(), "demo", true, "--out")) {
            run(owned);
        }
    }

    private void run(OwnedDirectory owned) throws IOException {
        long t0 = System.nanoTime();
        Path base = o.model() != null ? o.model() : extractBundled(o.out().resolve("base"));
        out.println("lora4j demo: teach a small pretrained model a new skill with LoRA\n");

        // the task: data made by the same generator as the model's text, held-out prompts never trained on
        Stories gen = new Stories(o.seed());
        List<Stories.Example> train = gen.task(o.trainExamples(), Set.of());
        List<Stories.Example> test = new Stories(o.seed() + 1).task(o.heldOut(), presentSentences(train));
        Path data = o.out().resolve("train.jsonl");
        writeJsonl(data, train);
        writeJsonl(o.out().resolve("held-out.jsonl"), test);
        out.printf("Task: given a sentence in the present tense, say its verbs in the past tense. The base model read%n"
                + "stories in both tenses, but was never asked this. %d training examples; %d held-out prompts, sentences%n"
                + "that are not among the training ones (all in %s).%n%n",
                train.size(), test.size(), o.out());

        Tokenizer tok = Tokenizer.load(base);
        Score before, after, merged;
        long baseParams;
        try (Transformer m = Transformer.load(base)) {
            baseParams = m.parameterCount();
            out.printf(Locale.ROOT, "1. The base model (%s, %,d parameters) on the held-out prompts%n", base.getFileName(), baseParams);
            before = score(m, tok, test);
            samples(test, before, 3);
            out.printf(Locale.ROOT, "   exact match: %d/%d (%.0f%%)%n%n", before.exact(), test.size(), before.percent());
        }

        out.printf("2. LoRA training: r = %d on %s, %d steps%n", o.rank(), String.join(", ", o.targets()), o.steps());
        Path adapter = o.out().resolve("adapter");
        long tl = System.nanoTime();
        TrainingRun.start(options(base, data, adapter, false), progress, false, dev.lora4j.lab.CommandLineTraining.install());
        double loraSeconds = (System.nanoTime() - tl) / 1e9;
        long adapterBytes = Files.size(adapter.resolve(PeftAdapter.WEIGHTS));
        long trainable;
        try (Transformer m = Transformer.load(base)) {
            var lora = PeftAdapter.load(adapter, m);
            trainable = lora.trainableParameters();
            out.println("   " + lora.trainableLine());
            out.printf(Locale.ROOT, "   trained in %.0f s%n%n", loraSeconds);
            out.println("3. The model with its adapter on the same held-out prompts");
            after = score(lora.model(), tok, test);
            samples(test, after, 3);
            out.printf(Locale.ROOT, "   exact match: %d/%d (%.0f%%), was %d/%d%n%n", after.exact(), test.size(), after.percent(), before.exact(), test.size());

            out.println("4. Merge: W' = W + (alpha/r)·B·A, written as a complete model");
            Path mergedDir = o.out().resolve("merged");
            Merger.merge(base, List.of(new Merger.Weighted(adapter, 1.0)), mergedDir, "f32");
            try (Transformer mm = Transformer.load(mergedDir)) {
                merged = score(mm, tok, test);
                int same = 0;
                for (int i = 0; i < test.size(); i++) if (merged.answers().get(i).equals(after.answers().get(i))) same++;
                out.printf(Locale.ROOT, "   merged model in %s: %d/%d answers identical to base + adapter; largest logit difference %.1e%n%n",
                        mergedDir, same, test.size(), maxLogitDifference(lora.model(), mm, tok.encode(test.get(0).prompt())));
            }
        }

        Map<String, String> fullRow = null;
        if (o.full()) {
            out.printf("5. Full fine-tuning on the same data and steps (every one of the %,d weights trained)%n", baseParams);
            Path fullDir = o.out().resolve("full");
            long tf = System.nanoTime();
            TrainingRun.start(options(base, data, fullDir, true), progress, false, dev.lora4j.lab.CommandLineTraining.install());
            double fullSeconds = (System.nanoTime() - tf) / 1e9;
            try (Transformer fm = Transformer.load(fullDir)) {
                Score fs = score(fm, tok, test);
                out.printf(Locale.ROOT, "   trained in %.0f s; exact match %d/%d (%.0f%%)%n%n", fullSeconds, fs.exact(), test.size(), fs.percent());
                fullRow = Map.of("seconds", String.format(Locale.ROOT, "%.0f", fullSeconds), "exact", fs.exact() + "/" + test.size(),
                        "bytes", Long.toString(Files.size(fullDir.resolve("model.safetensors"))));
            }
        }

        // memory: what training keeps per trainable weight (the weight, its gradient, AdamW's two moments), fp32
        long loraState = 16L * trainable, fullState = 16L * baseParams;
        out.println((o.full() ? "6" : "5") + ". LoRA against full fine-tuning");
        out.printf(Locale.ROOT, "   %-40s %12s %18s%n", "", "LoRA", "full fine-tuning");
        out.printf(Locale.ROOT, "   %-40s %,12d %,18d%n", "trainable parameters", trainable, baseParams);
        out.printf(Locale.ROOT, "   %-40s %12s %18s%n", "training state (weights, grads, AdamW)", kb(loraState), kb(fullState));
        // a fully fine-tuned model is saved whole, in fp32 (what lora4j train --full writes)
        out.printf(Locale.ROOT, "   %-40s %12s %18s%n", "what is saved", kb(adapterBytes), kb(fullRow != null ? Long.parseLong(fullRow.get("bytes")) : 4L * baseParams));
        if (fullRow != null) {
            out.printf(Locale.ROOT, "   %-40s %12.0f %18s%n", "training time (s)", loraSeconds, fullRow.get("seconds"));
            out.printf(Locale.ROOT, "   %-40s %12s %18s%n", "held-out exact match", after.exact() + "/" + test.size(), fullRow.get("exact"));
        }
        report(base, test, before, after, trainable, baseParams, adapterBytes, loraSeconds, fullRow);
        owned.complete();
        out.printf(Locale.ROOT, "%nDone in %.0f s. In %s:%n", (System.nanoTime() - t0) / 1e9, o.out());
        out.println("   adapter/            the PEFT adapter (adapter_config.json, adapter_model.safetensors), loss.png, metrics.jsonl");
        out.println("   merged/             the base with the adapter merged in, a complete Hugging Face model");
        if (o.full()) out.println("   full/               the fully fine-tuned model");
        out.println("   report/index.html   this run's report: scores, samples, the loss curve");
        out.println("   train.jsonl, held-out.jsonl, base/ (the bundled base model)");
        out.printf("Try it: bin/lora4j generate --model %s --adapter %s --prompt $'%s' --temperature 0%n", base, adapter,
                Stories.prompt("Mia gives a cake to Leo.").replace("\n", "\\n"));
    }

    private TrainOptions options(Path base, Path data, Path outDir, boolean full) {
        double lr = full ? 1e-3 : 1e-2;
        return TrainOptions.builder(base, data, outDir).full(full)
                .lora(LoraConfig.builder().r(o.rank()).alpha(2.0 * o.rank()).targets(new LoraConfig.TargetList(o.targets())).build())
                .train(TrainConfig.builder().lr(lr).schedule(new ScheduleConfig(Schedule.LINEAR, o.steps() / 10)).steps(o.steps())
                        .batchSize(16).seqLen(64).seed(o.seed()).build())
                .build();
    }

    /** Greedy answers (up to the end-of-text token) to every held-out prompt, and how many are exactly right. */
    static Score score(Transformer m, Tokenizer tok, List<Stories.Example> test) {
        int eos = m.config().vocabSize() - 1;
        int exact = 0;
        List<String> answers = new ArrayList<>();
        for (Stories.Example e : test) {
            int[][] ids = Generator.generate(m, new int[][] {tok.encode(e.prompt())}, 32, new Sampler(0, 0, 1, 1, new SplittableRandom(0)), eos,
                    id -> {}, (seq, newIds, n) -> tok.decode(java.util.Arrays.copyOf(newIds, n)).contains("\n"));
            String answer = tok.decode(java.util.Arrays.stream(ids[0]).filter(id -> id != eos).toArray());
            if (answer.contains("\n")) answer = answer.substring(0, answer.indexOf('\n'));
            answers.add(answer);
            if (answer.strip().equals(e.answer().strip())) exact++;
        }
        return new Score(exact, answers);
    }

    private void samples(List<Stories.Example> test, Score s, int n) {
        for (int i = 0; i < Math.min(n, test.size()); i++) {
            Stories.Example e = test.get(i);
            String answer = s.answers().get(i).strip();
            out.printf("   %-34s -> %s%n", Stories.sentenceOf(e.prompt()),
                    (answer.isEmpty() ? "(nothing)" : answer) + (answer.equals(e.answer().strip()) ? "  [right]" : "  [wrong; expected: " + e.answer().strip() + "]"));
        }
    }

    private static double maxLogitDifference(Transformer a, Transformer b, int[] ids) {
        float[] x = a.forward(ids, 1, ids.length, new Activations(a.config(), 1, ids.length, false));
        float[] y = b.forward(ids, 1, ids.length, new Activations(b.config(), 1, ids.length, false));
        double d = 0;
        for (int i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
        return d;
    }

    private Path report(Path base, List<Stories.Example> test, Score before, Score after, long trainable, long params, long adapterBytes,
                        double seconds, Map<String, String> full) throws IOException {
        Report r = new Report("lora4j demo: a LoRA adapter learns to put verbs in the past tense");
        r.paragraph(String.format(Locale.ROOT, "Base model %s (%,d parameters). LoRA r = %d on %s: %,d trainable parameters (%.2f%%), "
                + "%d steps in %.0f s; adapter file %s.", base, params, o.rank(), String.join(", ", o.targets()), trainable, 100.0 * trainable / params, o.steps(), seconds, kb(adapterBytes)));
        Map<String, Double> bars = new LinkedHashMap<>();
        bars.put("base model", before.percent());
        bars.put("base + LoRA adapter", after.percent());
        if (full != null) bars.put("full fine-tuning", 100.0 * Integer.parseInt(full.get("exact").split("/")[0]) / test.size());
        r.bars("exact-match.png", "held-out exact match (%)", "%", bars);
        List<double[]> pts = new ArrayList<>();
        for (String line : Files.readAllLines(o.out().resolve("adapter").resolve(TrainingRun.METRICS))) {
            var j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            if (j.has("loss") && j.has("step") && !j.has("eval_loss")) pts.add(new double[] {j.get("step").asDouble(), j.get("loss").asDouble()});
        }
        r.lines("loss.png", "LoRA training loss", "step", "loss", Map.of("train", pts.toArray(double[][]::new)), false);
        List<List<String>> rows = new ArrayList<>();
        for (int i = 0; i < test.size(); i++)
            rows.add(List.of(test.get(i).prompt().replace("\n", " / "), before.answers().get(i).strip(), after.answers().get(i).strip(), test.get(i).answer().strip()));
        r.heading("Held-out samples");
        r.table(List.of("prompt", "base model", "with the adapter", "expected"), rows);
        return r.write(o.out().resolve("report"));
    }

    private static String kb(long bytes) {
        return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0) : String.format(Locale.ROOT, "%.1f KB", bytes / 1024.0);
    }

    static Set<String> presentSentences(List<Stories.Example> examples) {
        Set<String> s = new HashSet<>();
        for (Stories.Example e : examples) s.add(Stories.sentenceOf(e.prompt()));
        return s;
    }

    static void writeJsonl(Path file, List<Stories.Example> examples) throws IOException {
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        StringBuilder s = new StringBuilder();
        for (Stories.Example e : examples)
            s.append(om.writeValueAsString(Map.of("prompt", e.prompt(), "completion", e.answer() + Pretrain.EOS))).append('\n');
        AtomicFiles.writeString(file, s.toString());
    }

    /** Copies the bundled model out of the jar. */
    static Path extractBundled(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : MODEL_FILES) {
            try (InputStream in = Demo.class.getResourceAsStream(BUNDLED + f)) {
                if (in == null) throw new Lora4jException("the bundled model is missing from the jar (" + BUNDLED + f + "); rebuild with ./mvnw package");
                Files.copy(in, dir.resolve(f));
            }
        }
        return dir;
    }
}
