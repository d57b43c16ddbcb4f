package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.Lora4jException;
import dev.lora4j.data.Batch;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.OwnedDirectory;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The training loop, for LoRA adapters or (with --full) every weight: batches in a seeded order, gradient accumulation (the loss is the mean over
 * every target token of the accumulated micro-batches, as one big batch would give), clipping, an
 * optimizer step at the scheduled learning rate, evaluation, checkpoints and the final PEFT adapter.
 *
 * <p>Everything random derives from the seed and the step (data order from (seed, epoch), dropout
 * from (seed, step)), so a run resumed from a checkpoint continues exactly as if never stopped.
 */
public final class Trainer {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    public static final String STATE = "trainer_state.json", OPTIMIZER = "optimizer.safetensors", METRICS = "metrics.jsonl";

    public record Result(long steps, double lastLoss, Path out, boolean interrupted) {}

    /** What is being trained, and how its result is written: a PEFT adapter, or a full HF checkpoint. */
    private record Trainee(Trainable trainable, IoAction save) {
        Transformer model() { return trainable.model(); }
        List<Parameter> parameters() { return trainable.parameters(); }
        void zeroGrad() { trainable.zeroGrad(); }
        void setTraining(boolean training, long seed) { trainable.setTraining(training, seed); }
        String summary() { return trainable.summary(); }
        void save(Path dir) throws IOException { save.writeInto(dir); }
    }

    @FunctionalInterface
    private interface IoAction {
        void writeInto(Path dir) throws IOException;
    }

    private final TrainOptions o;
    private final PrintStream progress;
    private final boolean replaceEarlierRun;
    private final TrainListener listener;

    private Trainer(TrainOptions o, PrintStream progress, boolean replaceEarlierRun, TrainListener listener) {
        this.o = o;
        this.progress = progress;
        this.replaceEarlierRun = replaceEarlierRun;
        this.listener = listener;
    }

    /** Trains from scratch (or from --init-adapter) with these options into a new or empty output directory. */
    public static Result train(TrainOptions o, PrintStream progress) {
        return train(o, progress, false, TrainListener.NONE);
    }

    /**
     * As {@link #train(TrainOptions, PrintStream)}; with replaceEarlierRun, an output directory holding a
     * finished (or interrupted and checkpointed) earlier run is taken over: the files that run listed are
     * deleted first, and a directory holding anything else is refused.
     */
    public static Result train(TrainOptions o, PrintStream progress, boolean replaceEarlierRun, TrainListener listener) {
        return new Trainer(o, progress, replaceEarlierRun, listener).run(null);
    }

    /** Continues the run saved in a checkpoint directory (or the newest checkpoint of an output directory). */
    public static Result resume(Path dir, PrintStream progress, TrainListener listener) {
        return resume(dir, null, progress, listener);
    }

    /**
     * Continues a run with its saved settings, or with steps optimizer steps in all when steps is not
     * null (to train a finished run further; the schedule then runs to the new end).
     */
    public static Result resume(Path dir, Long steps, PrintStream progress, TrainListener listener) {
        Path ckpt;
        TrainOptions o;
        try {
            ckpt = findCheckpoint(dir);
            JsonNode state = dev.lora4j.io.ModelFiles.readJson(ckpt.resolve(STATE));
            o = OptionsJson.read(state.get("options"), ckpt.resolve(STATE));
            if (steps != null) o = o.toBuilder().steps(steps).build();
        } catch (RuntimeException e) {
            listener.onClose(); // the run never started
            throw e;
        }
        return new Trainer(o, progress, false, listener).run(ckpt);
    }

    static Path findCheckpoint(Path dir) {
        if (Files.isRegularFile(dir.resolve(STATE))) return dir;
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("checkpoint-\\d+") && Files.isRegularFile(p.resolve(STATE)))
                    .max(java.util.Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(11))))
                    .orElseThrow(() -> new Lora4jException(dir + ": no " + STATE + " and no checkpoint-N directory to resume from"));
        } catch (IOException e) {
            throw new Lora4jException(dir + ": cannot read: " + e.getMessage());
        }
    }

    private Result run(Path resumeFrom) {
        // a new run owns its output directory whole; a resumed one continues its own, locked against a second writer
        try (OwnedDirectory owned = resumeFrom == null ? claimOutput() : OwnedDirectory.lock(o.out(), "train")) {
            try {
                return run(resumeFrom, owned);
            } finally {
                owned.complete(); // whatever ended the run, every file in the directory is this run's (only kill -9 skips this)
            }
        } catch (IOException e) {
            throw new Lora4jException(o.out() + ": write failed: " + e.getMessage(), e);
        } finally {
            listener.onClose();
        }
    }

    private OwnedDirectory claimOutput() {
        if (!replaceEarlierRun && Files.isDirectory(o.out()) && Files.exists(o.out().resolve(OwnedDirectory.MANIFEST)))
            throw new Lora4jException(o.out() + ": holds an earlier training run; continue it with --resume " + o.out()
                    + ", replace it with --overwrite, or choose a new --out");
        return OwnedDirectory.claim(o.out(), "train", replaceEarlierRun, "--out");
    }

    private Result run(Path resumeFrom, OwnedDirectory owned) {
        // a full fine-tuning checkpoint is itself a complete HF checkpoint: resume loads the weights from it
        Path weights = o.full() && resumeFrom != null ? resumeFrom : o.model();
        try (Transformer base = Transformer.load(weights)) {
            int vocab = base.config().vocabSize();
            dev.lora4j.data.TextEncoder tok = dev.lora4j.data.TextEncoder.ofModel(o.model(), o.chatTemplate());
            TokenDataset data = TokenDataset.read(o.data(), vocab, o.skipBadLines(), tok);
            if (data.skipped() > 0) progress.printf("%s: %d bad lines skipped%n", o.data(), data.skipped());
            TokenDataset evalData = o.evalData() == null ? null : TokenDataset.read(o.evalData(), vocab, o.skipBadLines(), tok);
            if (o.evalSplit() > 0) {
                TokenDataset[] parts = data.split(o.evalSplit(), o.seed());
                data = parts[0];
                evalData = parts[1];
            }
            int t = Math.min(o.seqLen(), base.config().maxPositions());
            if (o.pack()) {
                data = data.packed(t);
                if (evalData != null) evalData = evalData.packed(t);
            }
            if (targetTokens(data, t) == 0)
                throw new Lora4jException(o.data() + ": no example has a token to learn (examples of one token, or every label -100"
                        + " within --seq-len " + t + "): there is nothing to train on");
            Trainee trainee;
            if (o.full()) {
                FullModel full = FullModel.of(base);
                trainee = new Trainee(full, dir -> full.save(dir, o.model()));
            } else {
                LoraModel lm = buildAdapters(base, resumeFrom);
                trainee = new Trainee(Trainable.lora(lm), dir -> PeftAdapter.save(dir, lm, o.model().toString()));
            }
            List<Parameter> params = trainee.parameters();
            Optimizer opt = switch (o.optimizer()) {
                case ADAMW -> new Optimizer.AdamW(params, (float) o.beta1(), (float) o.beta2(), (float) o.eps(), (float) o.weightDecay());
                case SGD -> new Optimizer.Sgd(params, (float) o.momentum(), (float) o.weightDecay());
            };
            long start = 0;
            if (resumeFrom != null) start = restoreOptimizer(resumeFrom, opt);
            progress.println(trainee.summary());
            return loop(base, trainee, params, opt, data, evalData, start);
        } catch (IOException e) {
            throw new Lora4jException(o.out() + ": write failed: " + e.getMessage(), e);
        }
    }

    private LoraModel buildAdapters(Transformer base, Path resumeFrom) {
        if (resumeFrom != null) return PeftAdapter.load(resumeFrom, base, o.dropout());
        if (o.initAdapter() != null) return PeftAdapter.load(o.initAdapter(), base, o.dropout());
        LoraConfig.Targets targets = o.targets() != null ? o.targets() : LoraConfig.defaultTargets(base.config().modelType());
        LoraConfig cfg = new LoraConfig(o.r(), o.alpha(), o.dropout(), targets, o.layers(), o.rankPattern(), o.alphaPattern(), o.init(), o.rslora());
        return LoraModel.inject(base, cfg, o.seed());
    }

    private Result loop(Transformer base, Trainee lm, List<Parameter> params, Optimizer opt, TokenDataset dataset,
                        TokenDataset evalData, long start) throws IOException {
        List<int[]> data = dataset.examples();
        int n = data.size(), bsz = o.batchSize(), t = 1;
        for (int[] e : data) t = Math.max(t, Math.min(Math.min(o.seqLen(), base.config().maxPositions()), e.length));
        long total = o.totalSteps(n), microPerEpoch = (n + bsz - 1) / bsz;
        if (start >= total) {
            progress.printf("the run is at step %d of %d: nothing to train; give --steps N (more than %d) with --resume to train further%n",
                    start, total, start);
            return new Result(start, Double.NaN, o.out(), false);
        }
        Activations act = new Activations(base.config(), bsz, t, true);
        Transformer model = lm.model();
        Map<Long, int[]> orders = new LinkedHashMap<>();
        List<TrainListener.Point> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
        readCurves(curve, evalCurve, start);
        long t0 = System.nanoTime(), tokensSeen = 0, firstStepEnd = 0;
        double lastLoss = Double.NaN;
        long step = start;
        boolean interrupted = false;
        for (; step < total; step++) {
            if (listener.stopRequested()) {
                interrupted = true;
                break;
            }
            float lr = (float) (o.lr() * o.schedule().factor(step, o.warmupSteps(), total));
            lm.zeroGrad();
            List<Batch> micro = new ArrayList<>();
            long count = 0;
            for (int a = 0; a < o.gradAccum(); a++) {
                long mi = step * o.gradAccum() + a, epoch = mi / microPerEpoch;
                int[] order = orders.computeIfAbsent(epoch, e -> order(n, e));
                if (orders.size() > 2) orders.remove(orders.keySet().iterator().next());
                List<int[]> rows = new ArrayList<>(), rowLabels = new ArrayList<>();
                int first = (int) (mi % microPerEpoch) * bsz;
                for (int r = first; r < Math.min(n, first + bsz); r++) {
                    rows.add(data.get(order[r]));
                    rowLabels.add(dataset.labels().get(order[r]));
                }
                Batch b = Batch.of(rows, rowLabels, 0, bsz, t);
                micro.add(b);
                count += b.targetCount();
            }
            double sum = 0;
            for (int a = 0; a < micro.size(); a++) {
                Batch b = micro.get(a);
                if (b.targetCount() == 0) continue;
                lm.setTraining(true, o.seed() * 1_000_003L + step * 31 + a);
                sum += model.loss(b.tokens(), b.targets(), bsz, t, act, 1f / count).sum();
                tokensSeen += b.tokenCount();
            }
            double loss = sum / Math.max(1, count);
            if (!Double.isFinite(loss))
                throw new Lora4jException("loss is " + loss + " at step " + (step + 1) + "; stopped without saving this step"
                        + " (the last good checkpoint, if any, is in " + o.out() + "); try a lower --lr or --max-grad-norm");
            double gradNorm = Optimizer.clipGradNorm(params, o.maxGradNorm());
            opt.step(params, lr);
            requireFinite(params, step + 1, gradNorm);
            lastLoss = loss;
            curve.add(new TrainListener.Point(step + 1, loss));
            double secs = (System.nanoTime() - t0) / 1e9;
            double tps = tokensSeen / Math.max(secs, 1e-9);
            metric(Map.of("step", step + 1, "loss", loss, "lr", lr, "grad_norm", gradNorm, "tokens_per_s", tps, "elapsed_s", secs));
            // the first step of a run carries the JIT's warm-up: the ETA counts the steps after it
            if (step == start) firstStepEnd = System.nanoTime();
            double eta = step == start ? Double.NaN : (System.nanoTime() - firstStepEnd) / 1e9 / (step - start) * (total - step - 1);
            progressLine(step + 1, total, loss, lr, tps, eta);
            if (evalData != null && o.evalEvery() > 0 && (step + 1) % o.evalEvery() == 0) evaluate(lm, evalData, step + 1, evalCurve);
            if (o.saveEvery() > 0 && (step + 1) % o.saveEvery() == 0 && step + 1 < total) saveCheckpoint(lm, opt, step + 1);
        }
        if (interrupted) {
            saveCheckpoint(lm, opt, step);
            progress.printf("%ninterrupted: checkpoint saved in %s; continue with --resume %s%n", o.out().resolve("checkpoint-" + step), o.out());
        } else {
            if (evalData != null && (o.evalEvery() == 0 || total % o.evalEvery() != 0)) evaluate(lm, evalData, total, evalCurve);
            lm.save(o.out());
            saveCheckpointIfNeeded(lm, opt, total);
            if (console()) progress.println();
            progress.printf(Locale.ROOT, "done: %d steps, last loss %.4f; saved in %s%n", total, lastLoss, o.out());
        }
        if (!curve.isEmpty()) listener.onFinish(o.out(), curve, evalCurve);
        return new Result(step, lastLoss, o.out(), interrupted);
    }

    /** The tokens whose prediction counts in the loss: positions 1.. of each example (truncated to t) not labelled -100. */
    static long targetTokens(TokenDataset data, int t) {
        long n = 0;
        for (int i = 0; i < data.examples().size(); i++) {
            int[] ids = data.examples().get(i), labels = data.labels() == null ? null : data.labels().get(i);
            for (int j = 1; j < Math.min(t, ids.length); j++) if (labels == null || labels[j] != -100) n++;
        }
        return n;
    }

    /** An update that made any weight NaN or infinite stops the run before anything of that step is saved. */
    private void requireFinite(List<Parameter> params, long step, double gradNorm) {
        for (Parameter p : params) {
            float[] v = p.value();
            for (int i = 0; i < v.length; i++) {
                if (Float.isFinite(v[i])) continue;
                throw new Lora4jException(String.format(Locale.ROOT, "step %d made %s[%d] %s (gradient norm %.4g, lr %s);"
                        + " stopped without saving this step (the last good checkpoint, if any, is in %s); try a lower --lr or --max-grad-norm",
                        step, p.name(), i, v[i], gradNorm, o.lr(), o.out()));
            }
        }
    }

    /** The order of the examples in an epoch: a seeded shuffle, or as given. */
    private int[] order(int n, long epoch) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        if (!o.shuffle()) return idx;
        SplittableRandom r = new SplittableRandom(o.seed() * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        return idx;
    }

    private void evaluate(Trainee lm, TokenDataset evalData, long step, List<TrainListener.Point> evalCurve) throws IOException {
        lm.setTraining(false, 0);
        Evaluator.Result r = Evaluator.evaluate(lm.model(), evalData.examples(), evalData.labels(), o.seqLen(), o.batchSize());
        evalCurve.add(new TrainListener.Point(step, r.loss()));
        metric(Map.of("step", step, "eval_loss", r.loss(), "eval_perplexity", r.perplexity()));
        if (console()) progress.println();
        progress.printf(Locale.ROOT, "eval at step %d: loss %.4f, perplexity %.3f%n", step, r.loss(), r.perplexity());
    }

    private void saveCheckpointIfNeeded(Trainee lm, Optimizer opt, long step) throws IOException {
        if (o.saveEvery() > 0) saveCheckpoint(lm, opt, step);
    }

    /** out/checkpoint-STEP: the adapter, the optimizer state and the trainer state, written into a temporary directory then renamed. */
    private void saveCheckpoint(Trainee lm, Optimizer opt, long step) throws IOException {
        Path dir = o.out().resolve("checkpoint-" + step), tmp = o.out().resolve(".checkpoint-" + step + ".tmp");
        AtomicFiles.deleteTree(tmp);
        lm.save(tmp);
        Map<String, Tensor> state = new LinkedHashMap<>();
        List<float[]> arrays = opt.state();
        for (int i = 0; i < arrays.size(); i++) state.put("state." + i, Tensor.of("state." + i, arrays.get(i), arrays.get(i).length));
        SafeTensorsWriter.write(tmp.resolve(OPTIMIZER), state, DType.F32, Map.of("steps", Long.toString(opt.steps())));
        var root = JSON.createObjectNode();
        root.put("global_step", step);
        root.set("options", OptionsJson.write(o));
        AtomicFiles.writeString(tmp.resolve(STATE), JSON.writeValueAsString(root) + "\n");
        AtomicFiles.deleteTree(dir);
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    }

    private long restoreOptimizer(Path ckpt, Optimizer opt) {
        JsonNode state = dev.lora4j.io.ModelFiles.readJson(ckpt.resolve(STATE));
        try (SafeTensors st = SafeTensors.open(ckpt.resolve(OPTIMIZER))) {
            List<float[]> arrays = new ArrayList<>();
            for (int i = 0; st.has("state." + i); i++) arrays.add(st.tensor("state." + i).toArray());
            if (arrays.size() != opt.state().size())
                throw new Lora4jException(ckpt.resolve(OPTIMIZER) + ": holds " + arrays.size() + " state tensors, the optimizer needs " + opt.state().size());
            opt.restore(arrays, Long.parseLong(st.metadata().getOrDefault("steps", "0")));
        }
        return state.path("global_step").asLong();
    }


    private void metric(Map<String, Object> values) throws IOException {
        Files.writeString(o.out().resolve(METRICS), new ObjectMapper().writeValueAsString(new java.util.TreeMap<>(values)) + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Reloads the curve of steps before a resume from metrics.jsonl, dropping lines past the checkpoint. */
    private void readCurves(List<TrainListener.Point> curve, List<TrainListener.Point> evalCurve, long start) throws IOException {
        Path m = o.out().resolve(METRICS);
        if (!Files.exists(m)) return;
        List<String> keep = new ArrayList<>();
        int torn = 0;
        // a run killed mid-write (kill -9, a full disk) may leave a torn last line: it is dropped, not fatal
        for (String line : new String(Files.readAllBytes(m), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            if (line.isBlank()) continue;
            JsonNode j;
            try {
                j = JSON.readTree(line);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                j = null;
            }
            if (j == null || !j.isObject() || !j.path("step").canConvertToLong()) {
                torn++;
                continue;
            }
            long s = j.path("step").asLong();
            if (s > start) continue;
            keep.add(line);
            if (j.has("loss")) curve.add(new TrainListener.Point(s, j.get("loss").asDouble()));
            if (j.has("eval_loss")) evalCurve.add(new TrainListener.Point(s, j.get("eval_loss").asDouble()));
        }
        if (torn > 0) progress.printf("%s: %d unreadable line%s (a torn write?) dropped%n", m, torn, torn == 1 ? "" : "s");
        AtomicFiles.writeString(m, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
    }

    private static boolean console() {
        return System.console() != null;
    }

    private void progressLine(long step, long total, double loss, float lr, double tps, double etaSeconds) {
        long every = o.logEvery() > 0 ? o.logEvery() : Math.max(1, total / 20);
        String line = String.format(Locale.ROOT, "%s step %d/%d  loss %.4f  lr %.3e  %,.0f tok/s  ETA %s",
                bar(step, total), step, total, loss, lr, tps, hms(etaSeconds));
        if (console()) progress.print("\r" + line + "   ");
        else if (step % every == 0 || step == total || step == 1) progress.println(line);
        progress.flush();
    }

    /** A 20-character progress bar: [=======>            ]. */
    static String bar(long step, long total) {
        int filled = (int) (20 * step / Math.max(1, total));
        return "[" + "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled == 20 ? "=" : ">") : "") + " ".repeat(20 - filled) + "]";
    }

    static String hms(double seconds) {
        if (Double.isNaN(seconds)) return "-:--:--";
        long s = Math.max(0, Math.round(seconds));
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
