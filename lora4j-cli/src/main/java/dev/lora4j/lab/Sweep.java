package dev.lora4j.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Block;
import dev.lora4j.model.Projection;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.DataConfig;
import dev.lora4j.train.TrainingRun;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The LoRA paper's Tables 5 and 6 on any model and data: train every (targets, rank) configuration,
 * evaluate each, and tabulate. With a parameter budget, each target set gets the rank that spends it.
 * Finished configurations are recorded in sweep.jsonl, so a sweep resumes where it was interrupted.
 */
public final class Sweep {
    public record Config(String targets, int rank) {
        public String name() {
            return targets + "-r" + rank;
        }
    }

    public record Result(Config config, long trainable, double trainLoss, double evalLoss, double evalPerplexity, double seconds) {}

    private Sweep() {}

    /** Target letters (q, k, v, o; "all" for all-linear) to module names for a model type. */
    public static LoraConfig.Targets targets(String letters, String modelType) {
        if (letters.equals("all")) return new LoraConfig.AllLinear();
        List<String> names = new ArrayList<>();
        boolean gpt2 = modelType.equals("gpt2");
        for (char ch : letters.toCharArray()) {
            String m = switch (ch) {
                case 'q', 'k', 'v' -> gpt2 ? "c_attn" : ch + "_proj";
                case 'o' -> gpt2 ? "attn.c_proj" : "o_proj";
                default -> throw new Lora4jException("--targets '" + letters + "': use the letters q, k, v, o (or all)");
            };
            if (!names.contains(m)) names.add(m);
        }
        return new LoraConfig.TargetList(names);
    }

    /** Trainable parameters per unit of rank for a target set: Σ (in + out) over the modules it adapts. */
    static long perRank(Transformer base, LoraConfig.Targets t) {
        LoraConfig probe = LoraConfig.builder().r(1).targets(t).build();
        long n = 0;
        for (Block b : base.blocks()) for (Projection p : b.projections()) if (probe.adapts(p.name())) n += p.in() + p.out();
        if (n == 0) throw new Lora4jException("targets " + t + " match no module of this model");
        return n;
    }

    public static List<Config> plan(Transformer base, List<String> targetSets, List<Integer> ranks, Long budget) {
        List<Config> out = new ArrayList<>();
        targetSets = targetSets == null ? List.of() : targetSets.stream().map(String::strip).filter(t -> !t.isEmpty()).toList();
        if (targetSets.isEmpty() || (budget == null && (ranks == null || ranks.isEmpty())))
            throw new Lora4jException("the sweep is empty: give --targets and --ranks (or --budget)");
        if (budget != null && budget < 1) throw new Lora4jException("--budget must be a positive number of parameters");
        if (ranks != null) for (int r : ranks) if (r < 1) throw new Lora4jException("--ranks must be positive, got " + r);
        for (String t : targetSets) {
            if (budget != null) {
                long r = Math.max(1, Math.round((double) budget / perRank(base, targets(t, base.config().modelType()))));
                out.add(new Config(t, (int) r));
            } else {
                perRank(base, targets(t, base.config().modelType())); // fails early when a target set matches nothing
                for (int r : ranks) out.add(new Config(t, r));
            }
        }
        if (out.isEmpty()) throw new Lora4jException("the sweep is empty: give --targets and --ranks (or --budget)");
        return out;
    }

    /** Runs (or resumes) the sweep in out; trainTemplate supplies everything but targets, rank and output directory. */
    public static List<Result> run(Path modelDir, Path evalData, List<Config> plan, TrainOptions template, double alpha, Path out, PrintStream progress)
            throws IOException {
        Files.createDirectories(out);
        Path log = out.resolve("sweep.jsonl");
        ObjectMapper om = new ObjectMapper();
        Map<String, Result> done = new LinkedHashMap<>();
        if (Files.exists(log))
            for (String line : Files.readAllLines(log)) {
                if (line.isBlank()) continue;
                JsonNode j = om.readTree(line);
                Config c = new Config(j.get("targets").asText(), j.get("rank").asInt());
                done.put(c.name(), new Result(c, j.get("trainable").asLong(), j.get("train_loss").asDouble(), j.get("eval_loss").asDouble(),
                        j.get("eval_perplexity").asDouble(), j.get("seconds").asDouble()));
            }
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            Config c = plan.get(i);
            if (done.containsKey(c.name())) {
                progress.printf("[%d/%d] %s: done before, skipped%n", i + 1, plan.size(), c.name());
                results.add(done.get(c.name()));
                continue;
            }
            progress.printf("[%d/%d] %s: training%n", i + 1, plan.size(), c.name());
            Path runDir = out.resolve("runs").resolve(c.name());
            AtomicFiles.deleteTree(runDir); // an interrupted configuration starts again
            long t0 = System.nanoTime();
            LoraConfig.Targets targets;
            try (Transformer base = Transformer.load(modelDir)) {
                targets = targets(c.targets(), base.config().modelType());
            }
            DataConfig d = template.data();
            TrainOptions o = template.toBuilder().out(runDir).initAdapter(null).full(false)
                    .lora(template.lora().toBuilder().r(c.rank()).alpha(alpha > 0 ? alpha : 2.0 * c.rank()).targets(targets)
                            .rankPattern(Map.of()).alphaPattern(Map.of()).build())
                    .data(d.toBuilder().eval(null).evalSplit(0).build())
                    .train(template.train().toBuilder().evalEvery(0).saveEvery(0).build()).build();
            TrainingRun.Result tr = TrainingRun.start(o, progress, false, CommandLineTraining.install());
            try (Transformer base = Transformer.load(modelDir)) {
                LoraModel lm = PeftAdapter.load(runDir, base);
                TokenDataset ev = TokenDataset.read(evalData, base.config().vocabSize(), d.skipBadLines(),
                        dev.lora4j.data.TextEncoder.ofModel(modelDir, d.chatTemplate()).withAppendEos(d.appendEos())); // text and prompt/completion too, labels kept
                Evaluator.Result er = Evaluator.evaluate(lm.model(), ev.examples(), ev.labels(), template.train().seqLen(), template.train().batchSize());
                Result r = new Result(c, lm.trainableParameters(), tr.lastLoss(), er.loss(), er.perplexity(), (System.nanoTime() - t0) / 1e9);
                ObjectNode j = om.createObjectNode().put("targets", c.targets()).put("rank", c.rank()).put("trainable", r.trainable())
                        .put("train_loss", r.trainLoss()).put("eval_loss", r.evalLoss()).put("eval_perplexity", r.evalPerplexity()).put("seconds", r.seconds());
                Files.writeString(log, om.writeValueAsString(j) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                progress.printf(Locale.ROOT, "[%d/%d] %s: eval loss %.4f (%,d trainable)%n", i + 1, plan.size(), c.name(), r.evalLoss(), r.trainable());
                results.add(r);
            }
        }
        writeTables(results, out);
        return results;
    }

    static void writeTables(List<Result> results, Path out) throws IOException {
        StringBuilder md = new StringBuilder("| targets | r | trainable | train loss | eval loss | eval perplexity |\n|---|---:|---:|---:|---:|---:|\n");
        StringBuilder csv = new StringBuilder("targets,rank,trainable,train_loss,eval_loss,eval_perplexity,seconds\n");
        for (Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %,d | %.4f | %.4f | %.3f |%n", r.config().targets(), r.config().rank(), r.trainable(),
                    r.trainLoss(), r.evalLoss(), r.evalPerplexity()));
            csv.append(String.format(Locale.ROOT, "%s,%d,%d,%.6f,%.6f,%.6f,%.2f%n", r.config().targets(), r.config().rank(), r.trainable(),
                    r.trainLoss(), r.evalLoss(), r.evalPerplexity(), r.seconds()));
        }
        AtomicFiles.writeString(out.resolve("sweep.md"), md.toString());
        AtomicFiles.writeString(out.resolve("sweep.csv"), csv.toString());
    }

    /** The report: the table and eval loss against rank, one line per target set. */
    public static void report(List<Result> results, Path dir) throws IOException {
        Report rep = new Report("lora4j sweep");
        List<List<String>> rows = new ArrayList<>();
        Map<String, List<double[]>> byTarget = new LinkedHashMap<>();
        for (Result r : results) {
            rows.add(List.of(r.config().targets(), Integer.toString(r.config().rank()), String.format(Locale.ROOT, "%,d", r.trainable()),
                    String.format(Locale.ROOT, "%.4f", r.evalLoss()), String.format(Locale.ROOT, "%.3f", r.evalPerplexity())));
            byTarget.computeIfAbsent(r.config().targets(), k -> new ArrayList<>()).add(new double[] {r.config().rank(), r.evalLoss()});
        }
        rep.table(List.of("targets", "r", "trainable", "eval loss", "eval perplexity"), rows);
        Map<String, double[][]> series = new LinkedHashMap<>();
        byTarget.forEach((k, v) -> series.put(k, v.toArray(double[][]::new)));
        rep.lines("eval-loss-vs-rank.png", "evaluation loss against rank", "rank r", "eval loss", series, false);
        rep.write(dir);
    }

}
