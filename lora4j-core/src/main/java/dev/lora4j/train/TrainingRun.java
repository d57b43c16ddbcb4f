package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.Lora4jException;
import dev.lora4j.data.TextEncoder;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.OwnedDirectory;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Quantization;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A training run from files to files, as {@code lora4j train} makes it: loads the model and the data
 * named by {@link TrainOptions}, runs {@link Trainer#fit} and keeps a run directory: progress lines,
 * metrics.jsonl, resumable checkpoint-N directories (adapter or weights, optimizer state, the options),
 * and finally the PEFT adapter (or the full checkpoint). The directory is owned ({@link OwnedDirectory}):
 * a new run claims it whole, a resumed one locks it against a second writer.
 */
public final class TrainingRun {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    public static final String STATE = "trainer_state.json", OPTIMIZER = "optimizer.safetensors", METRICS = "metrics.jsonl";

    /** How a run ended: steps done, the last loss, the output directory, and whether it was stopped (resumable). */
    public record Result(long steps, double lastLoss, Path out, boolean interrupted) {}

    private final TrainOptions o;
    private final PrintStream progress;
    private final boolean replaceEarlierRun;
    private final TrainListener listener;
    private final StepEngine engine;

    private TrainingRun(TrainOptions o, PrintStream progress, boolean replaceEarlierRun, TrainListener listener, StepEngine engine) {
        this.engine = engine;
        this.o = o;
        this.progress = progress;
        this.replaceEarlierRun = replaceEarlierRun;
        this.listener = listener;
    }

    /** Trains from scratch (or from the initial adapter) into a new or empty output directory. */
    public static Result start(TrainOptions o, PrintStream progress) {
        return start(o, progress, false, TrainListener.NONE);
    }

    /**
     * As {@link #start(TrainOptions, PrintStream)}; with replaceEarlierRun, an output directory holding a
     * finished (or interrupted and checkpointed) earlier run is taken over: the files that run listed are
     * deleted first, and a directory holding anything else is refused.
     */
    public static Result start(TrainOptions o, PrintStream progress, boolean replaceEarlierRun, TrainListener listener) {
        return start(o, progress, replaceEarlierRun, listener, StepEngine.LOCAL);
    }

    /** As {@link #start(TrainOptions, PrintStream, boolean, TrainListener)}, the passes run by engine (e.g. on a Spark cluster). */
    public static Result start(TrainOptions o, PrintStream progress, boolean replaceEarlierRun, TrainListener listener, StepEngine engine) {
        return new TrainingRun(o, progress, replaceEarlierRun, listener, engine).run(null);
    }

    /**
     * Continues a run (a checkpoint directory, or the newest checkpoint of an output directory) with its
     * saved settings, or with steps optimizer steps in all when steps is not null (to train a finished
     * run further; the schedule then runs to the new end).
     */
    public static Result resume(Path dir, Long steps, PrintStream progress, TrainListener listener) {
        return resume(dir, steps, progress, listener, StepEngine.LOCAL);
    }

    /** As {@link #resume(Path, Long, PrintStream, TrainListener)}, the passes run by engine. */
    public static Result resume(Path dir, Long steps, PrintStream progress, TrainListener listener, StepEngine engine) {
        return resumeChanged(dir, c -> steps == null ? c : c.toBuilder().steps(steps).build(), progress, listener, engine);
    }

    /**
     * As {@link #resume(Path, Long, PrintStream, TrainListener, StepEngine)}, with what may change on resuming applied to the
     * checkpoint's settings: the number of steps, and gradient checkpointing (memory only: the same bits either way).
     */
    public static Result resumeChanged(Path dir, java.util.function.UnaryOperator<TrainConfig> change, PrintStream progress, TrainListener listener,
                                       StepEngine engine) {
        Path ckpt;
        TrainOptions o;
        try {
            ckpt = findCheckpoint(dir);
            JsonNode state = ModelFiles.readJson(ckpt.resolve(STATE));
            o = OptionsJson.read(state.get("options"), ckpt.resolve(STATE).toString());
            o = o.toBuilder().train(change.apply(o.train())).build();
        } catch (RuntimeException e) {
            listener.onClose(); // the run never started
            throw e;
        }
        return new TrainingRun(o, progress, false, listener, engine).run(ckpt);
    }

    static Path findCheckpoint(Path dir) {
        if (Files.isRegularFile(dir.resolve(STATE))) return dir;
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("checkpoint-\\d{1,18}") && Files.isRegularFile(p.resolve(STATE)))
                    .max(java.util.Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(11))))
                    .orElseThrow(() -> new Lora4jException(dir + ": no " + STATE + " and no checkpoint-N directory to resume from"));
        } catch (IOException e) {
            throw new Lora4jException(dir + ": cannot read: " + e.getMessage());
        }
    }

    private Result run(Path resumeFrom) {
        // a new run claims its output directory only once the model and the data have been read: bad input leaves nothing
        // behind; a resumed one locks its own first, against a second writer
        try {
            engine.check(o);
            if (resumeFrom == null) refuseEarlierRun();
            Path weights = o.full() && resumeFrom != null ? resumeFrom : o.model(); // a full fine-tuning checkpoint is a complete model
            if (resumeFrom != null) {
                try (OwnedDirectory owned = OwnedDirectory.lock(o.out(), "train"); Transformer base = loadBase(weights)) {
                    return trainIn(owned, prepare(base, resumeFrom));
                }
            }
            try (Transformer base = loadBase(weights)) {
                Prepared p = prepare(base, null);
                try (OwnedDirectory owned = OwnedDirectory.claim(o.out(), "train", replaceEarlierRun, "--out")) {
                    return trainIn(owned, p);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            String why = e instanceof UncheckedIOException u ? u.getCause().getMessage() : e.getMessage();
            throw new Lora4jException(why.startsWith(o.out().toString()) ? why : o.out() + ": write failed: " + why, e);
        } finally {
            listener.onClose();
        }
    }

    private Transformer loadBase(Path weights) {
        Transformer t = Quantization.load(weights, o.quantize(), r -> progress.println(r.describe()));
        // Quantizing leaves its temporary rows and buffers dead in the old generation (the collections during the
        // load promoted them); collected now, before training allocates, the old generation stays that much smaller
        // for the whole run, and the resident set with it.
        if (o.quantize() != null) System.gc();
        return t;
    }

    private Result trainIn(OwnedDirectory owned, Prepared p) throws IOException {
        try {
            return train(p);
        } finally {
            owned.complete(); // whatever ended the run, every file in the directory is this run's (only kill -9 skips this)
        }
    }

    private void refuseEarlierRun() {
        if (!replaceEarlierRun && Files.isDirectory(o.out()) && Files.exists(o.out().resolve(OwnedDirectory.MANIFEST)))
            throw new Lora4jException(o.out() + ": holds an earlier training run; continue it with --resume " + o.out()
                    + ", replace it with --overwrite, or choose a new --out");
    }

    /** What is trained, and how its result is written: a PEFT adapter, or a full HF checkpoint. */
    private record Trainee(Trainable trainable, Saver save) {}

    @FunctionalInterface
    private interface Saver {
        void writeInto(Path dir) throws IOException;
    }

    /** Everything a run needs, read and checked before anything is written. */
    private record Prepared(TokenDataset train, TokenDataset eval, Trainee trainee, TrainState from) {}

    private Prepared prepare(Transformer base, Path resumeFrom) {
        Trainee trainee;
        if (o.full()) {
            FullModel full = FullModel.of(base);
            trainee = new Trainee(full, dir -> full.save(dir, o.model()));
        } else if (o.bottleneck() != null) {
            dev.lora4j.bottleneck.BottleneckModel bm = resumeFrom != null ? dev.lora4j.bottleneck.BottleneckModel.load(resumeFrom, base)
                    : dev.lora4j.bottleneck.BottleneckModel.inject(base, o.bottleneck().resolvedFor(base.config().modelType()), o.train().seed());
            trainee = new Trainee(Trainable.bottleneck(bm), dir -> bm.save(dir, o.model().toString()));
        } else if (o.promptTuning() != null) {
            dev.lora4j.prompt.PromptTuningModel pt = resumeFrom != null ? dev.lora4j.prompt.PromptTuningModel.load(resumeFrom, base)
                    : dev.lora4j.prompt.PromptTuningModel.inject(base, o.promptTuning(), dev.lora4j.tokenizer.Tokenizer.ofModel(o.model()), o.train().seed());
            trainee = new Trainee(Trainable.promptTuning(pt), dir -> pt.save(dir, o.model().toString()));
        } else if (o.prefixTuning() != null) {
            dev.lora4j.prompt.PrefixTuningModel pt = resumeFrom != null ? dev.lora4j.prompt.PrefixTuningModel.load(resumeFrom, base)
                    : dev.lora4j.prompt.PrefixTuningModel.inject(base, o.prefixTuning(), o.train().seed());
            trainee = new Trainee(Trainable.prefixTuning(pt), dir -> pt.save(dir, o.model().toString()));
        } else if (o.ia3() != null) {
            dev.lora4j.ia3.Ia3Model ia3 = resumeFrom != null ? dev.lora4j.ia3.Ia3Model.load(resumeFrom, base)
                    : dev.lora4j.ia3.Ia3Model.inject(base, o.ia3().resolvedFor(base.config().modelType()));
            trainee = new Trainee(Trainable.ia3(ia3), dir -> ia3.save(dir, o.model().toString()));
        } else {
            // a PiSSA / OLoRA run's checkpoints hold PEFT's converted adapter: split back into A, B over the residual to resume
            LoraModel lm = resumeFrom != null && o.initAdapter() == null && o.lora().init().residual()
                    ? LoraModel.fromConverted(base, o.lora().withDropout(o.lora().dropout()), PeftAdapter.load(resumeFrom, base, o.lora().dropout()))
                    : resumeFrom != null ? PeftAdapter.load(resumeFrom, base, o.lora().dropout())
                    : o.initAdapter() != null ? PeftAdapter.load(o.initAdapter(), base, o.lora().dropout())
                    : LoraModel.inject(base, o.lora(), o.train().seed());
            trainee = new Trainee(Trainable.lora(lm), dir -> PeftAdapter.save(dir, lm, o.model().toString()));
        }
        Transformer model = trainee.trainable().model(); // a soft prompt leaves fewer positions than the base has
        TokenDataset[] data = readData(model);
        Trainer.requireTargets(data[0], Trainer.seqLen(o.train(), model)); // before the output directory is claimed
        return new Prepared(data[0], data[1], trainee, resumeFrom == null ? TrainState.START : readState(resumeFrom));
    }

    private Result train(Prepared p) throws IOException {
        long total = o.train().totalSteps(p.train().examples().size());
        if (p.from().step() >= total) {
            progress.printf("the run is at step %d of %d: nothing to train; give --steps N (more than %d) with --resume to train further%n",
                    p.from().step(), total, p.from().step());
            return new Result(p.from().step(), Double.NaN, o.out(), false);
        }
        progress.println(p.trainee().trainable().summary());
        RunDirectory dir = new RunDirectory(p.trainee());
        dir.readCurves(p.from().step());
        Trainer.Result r = Trainer.fit(p.trainee().trainable(), p.train(), p.eval(), o.train(), dir.andThen(listener), p.from(), engine);
        if (r.stopped()) {
            progress.printf("%ninterrupted: checkpoint saved in %s; continue with --resume %s%n", o.out().resolve("checkpoint-" + r.steps()), o.out());
        } else {
            p.trainee().save().writeInto(o.out());
            if (console()) progress.println();
            progress.printf(Locale.ROOT, "done: %d steps, last loss %.4f; saved in %s%n", r.steps(), r.lastLoss(), o.out());
        }
        if (!dir.curve.isEmpty()) listener.onFinish(o.out(), dir.curve, dir.evalCurve);
        return new Result(r.steps(), r.lastLoss(), o.out(), r.stopped());
    }

    /** The training and evaluation data ({@code [1]} may be null), read, split and packed as the options say. */
    private TokenDataset[] readData(Transformer base) {
        DataConfig d = o.data();
        int vocab = base.config().vocabSize();
        TextEncoder tok = TextEncoder.ofModel(o.model(), d.chatTemplate()).withAppendEos(d.appendEos());
        TokenDataset train = TokenDataset.read(d.train(), vocab, d.skipBadLines(), tok);
        if (train.skipped() > 0) progress.printf("%s: %d bad lines skipped%n", d.train(), train.skipped());
        TokenDataset eval = d.eval() == null ? null : TokenDataset.read(d.eval(), vocab, d.skipBadLines(), tok);
        if (d.evalSplit() > 0) {
            TokenDataset[] parts = train.split(d.evalSplit(), o.train().seed());
            train = parts[0];
            eval = parts[1];
        }
        int t = Trainer.seqLen(o.train(), base);
        TokenDataset.Truncation cut = d.pack() ? TokenDataset.Truncation.RIGHT : d.truncation(); // packed examples are not cut
        progress.println("data: " + train.summary(t, cut) + (eval == null ? "" : "; evaluation: " + eval.summary(t, cut))
                + (d.evalSplit() > 0 ? " (held out of " + d.train().getFileName() + ")" : ""));
        if (d.pack()) {
            train = train.packed(t);
            if (eval != null) eval = eval.packed(t);
        } else {
            // examples longer than seq-len: cut (their first or last tokens) or left out, as --truncation says
            train = train.truncated(t, d.truncation());
            if (eval != null) eval = eval.truncated(t, d.truncation());
        }
        return new TokenDataset[] {train, eval};
    }

    private TrainState readState(Path ckpt) {
        JsonNode state = ModelFiles.readJson(ckpt.resolve(STATE));
        try (SafeTensors st = SafeTensors.open(ckpt.resolve(OPTIMIZER))) {
            List<float[]> arrays = new ArrayList<>();
            for (int i = 0; st.has("state." + i); i++) arrays.add(st.tensor("state." + i).toArray());
            long optimizerSteps;
            try {
                optimizerSteps = Long.parseLong(st.metadata().getOrDefault("steps", "0"));
            } catch (NumberFormatException e) {
                throw new Lora4jException(ckpt.resolve(OPTIMIZER) + ": metadata 'steps' is not a whole number: " + st.metadata().get("steps"));
            }
            JsonNode step = state.path("global_step");
            if (!step.canConvertToLong() || step.asLong() < 0)
                throw new Lora4jException(ckpt.resolve(STATE) + ": global_step must be a whole number >= 0, got " + step);
            return new TrainState(step.asLong(), arrays, optimizerSteps);
        }
    }

    /** The listener that keeps the run directory: metrics.jsonl, progress lines, checkpoints. */
    private final class RunDirectory implements TrainListener {
        private final Trainee trainee;
        final List<Point> curve = new ArrayList<>(), evalCurve = new ArrayList<>();

        RunDirectory(Trainee trainee) {
            this.trainee = trainee;
        }

        @Override
        public void onStep(Step s) throws IOException {
            curve.add(new Point(s.step(), s.loss()));
            metric(Map.of("step", s.step(), "loss", s.loss(), "lr", (float) s.lr(), "grad_norm", s.gradNorm(), "tokens_per_s", s.tokensPerSecond(),
                    "elapsed_s", s.elapsedSeconds(), "peak_rss_bytes", ProcessMemory.peakRssBytes()));
            progressLine(s);
        }

        @Override
        public void onEval(long step, Evaluator.Result r) throws IOException {
            evalCurve.add(new Point(step, r.loss()));
            metric(Map.of("step", step, "eval_loss", r.loss(), "eval_perplexity", r.perplexity()));
            if (console()) progress.println();
            progress.printf(Locale.ROOT, "eval at step %d: loss %.4f, perplexity %.3f%n", step, r.loss(), r.perplexity());
        }

        /** out/checkpoint-STEP: the adapter, the optimizer state and the trainer state, written into a temporary directory then renamed. */
        @Override
        public void onCheckpoint(TrainState state) throws IOException {
            Path dir = o.out().resolve("checkpoint-" + state.step()), tmp = o.out().resolve(".checkpoint-" + state.step() + ".tmp");
            AtomicFiles.deleteTree(tmp);
            trainee.save().writeInto(tmp);
            Map<String, Tensor> arrays = new LinkedHashMap<>();
            List<float[]> s = state.optimizerState();
            for (int i = 0; i < s.size(); i++) arrays.put("state." + i, Tensor.of("state." + i, s.get(i), s.get(i).length));
            SafeTensorsWriter.write(tmp.resolve(OPTIMIZER), arrays, DType.F32, Map.of("steps", Long.toString(state.optimizerSteps())));
            var root = JSON.createObjectNode();
            root.put("global_step", state.step());
            root.set("options", OptionsJson.write(o));
            AtomicFiles.writeString(tmp.resolve(STATE), JSON.writeValueAsString(root) + "\n");
            AtomicFiles.deleteTree(dir);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        }

        private void metric(Map<String, Object> values) throws IOException {
            Files.writeString(o.out().resolve(METRICS), new ObjectMapper().writeValueAsString(new TreeMap<>(values)) + "\n",
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }

        /** Reloads the curve of steps before a resume from metrics.jsonl, dropping lines past the checkpoint. */
        void readCurves(long start) throws IOException {
            Path m = o.out().resolve(METRICS);
            if (!Files.exists(m)) return;
            List<String> keep = new ArrayList<>();
            int torn = 0;
            // a run killed mid-write (kill -9, a full disk) may leave a torn last line: it is dropped, not fatal
            for (String line : new String(Files.readAllBytes(m), StandardCharsets.UTF_8).split("\n")) {
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
                if (j.has("loss")) curve.add(new Point(s, j.get("loss").asDouble()));
                if (j.has("eval_loss")) evalCurve.add(new Point(s, j.get("eval_loss").asDouble()));
            }
            if (torn > 0) progress.printf("%s: %d unreadable line%s (a torn write?) dropped%n", m, torn, torn == 1 ? "" : "s");
            AtomicFiles.writeString(m, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
        }

        private void progressLine(Step s) {
            long every = o.train().logEvery() > 0 ? o.train().logEvery() : Math.max(1, s.totalSteps() / 20);
            String line = String.format(Locale.ROOT, "%s step %d/%d  loss %.4f  lr %.3e  %,.0f tok/s  ETA %s",
                    bar(s.step(), s.totalSteps()), s.step(), s.totalSteps(), s.loss(), s.lr(), s.tokensPerSecond(), hms(s.etaSeconds()));
            if (console()) progress.print("\r" + line + "   ");
            else if (s.step() % every == 0 || s.step() == s.totalSteps() || s.step() == 1) progress.println(line);
            progress.flush();
        }
    }

    private static boolean console() {
        return System.console() != null;
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
