package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.Lora4jException;
import dev.lora4j.data.LabelledTexts;
import dev.lora4j.encoder.Bert;
import dev.lora4j.encoder.SequenceClassifier;
import dev.lora4j.encoder.SequenceClassifier.Method;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.lora.LoraConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code train --task seq-cls} and {@code eval --task seq-cls}: a BERT-family encoder with a classification head on
 * {"text", "label"} lines, trained as a linear probe (--probe), with LoRA (the default) or fully (--full).
 */
final class SequenceClassification {
    /** The train options that mean something for a classifier; any other given with --task seq-cls is refused by name. */
    static final Set<String> TRAIN_OPTIONS = Set.of("--task", "--model", "--data", "--out", "--r", "--alpha", "--dropout", "--target", "--lr",
            "--weight-decay", "--steps", "--epochs", "--batch-size", "--seq-len", "--max-grad-norm", "--seed", "--eval-data", "--eval-split",
            "--full", "--probe", "--threads", "--log-every");

    private SequenceClassification() {}

    /** The learning rate a method trains at unless --lr says otherwise. */
    static double defaultLr(Method m) {
        return switch (m) {
            case PROBE -> 1e-2;
            case LORA -> 1e-3;
            case FULL -> 5e-5;
        };
    }

    record TrainRequest(Path model, Path data, Path out, Method method, LoraConfig lora, SequenceClassifier.Training training, int maxTokens,
                        Path evalData, double evalSplit, long logEvery) {}

    static void train(TrainRequest q) throws IOException {
        if (q.maxTokens() < 2) throw new Lora4jException("--seq-len must be at least 2 for a classifier, got " + q.maxTokens());
        if (!(q.evalSplit() >= 0 && q.evalSplit() < 1)) throw new Lora4jException("--eval-split must be in [0, 1), got " + q.evalSplit());
        if (Files.exists(q.out()) && (!Files.isDirectory(q.out()) || hasEntries(q.out())))
            throw new Lora4jException(q.out() + ": exists and is not an empty directory");
        LabelledTexts all = LabelledTexts.read(q.data());
        LabelledTexts train = all, eval = q.evalData() != null ? LabelledTexts.read(q.evalData()) : null;
        if (eval == null && q.evalSplit() > 0) {
            int held = (int) Math.round(all.size() * q.evalSplit());
            if (held < 1 || held >= all.size()) throw new Lora4jException("--eval-split " + q.evalSplit() + " leaves " + held + " of " + all.size() + " examples for evaluation");
            train = new LabelledTexts(all.texts().subList(0, all.size() - held), all.labels().subList(0, all.size() - held));
            eval = new LabelledTexts(all.texts().subList(all.size() - held, all.size()), all.labels().subList(all.size() - held, all.size()));
        }
        List<String> classes = train.classes();
        if (classes.size() < 2) throw new Lora4jException(q.data() + ": a classifier needs at least 2 distinct labels, found " + classes);
        try (Bert base = Bert.load(q.model())) {
            SequenceClassifier c = SequenceClassifier.create(base, q.method(), classes, q.lora(), q.training().seed());
            List<int[]> x = encode(c, train, q.maxTokens());
            int[] y = train.indices(classes, q.data());
            long total = q.training().totalSteps(y.length), every = q.logEvery() > 0 ? q.logEvery() : Math.max(1, total / 20);
            System.err.printf(Locale.ROOT, "%s: %d examples, %d classes; %s, %,d trainable parameters (head over %s); %d steps of %d%n", q.data(), y.length,
                    classes.size(), q.method().label(), c.trainableParameters(), c.pooling().name().toLowerCase(Locale.ROOT), total, Math.min(q.training().batchSize(), y.length));
            long t0 = System.nanoTime();
            double[] lastLoss = {Double.NaN};
            c.train(x, y, q.training(), s -> {
                lastLoss[0] = s.loss();
                if (s.step() == 1 || s.step() % every == 0 || s.step() == s.totalSteps())
                    System.err.printf(Locale.ROOT, "step %d/%d  loss %.4f  lr %.3g%n", s.step(), s.totalSteps(), s.loss(), s.lr());
            });
            double seconds = (System.nanoTime() - t0) / 1e9;
            long trainTokens = 0;
            for (int[] s : x) trainTokens += s.length;
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("method", q.method().label());
            results.put("trainable_parameters", c.trainableParameters());
            results.put("steps", total);
            results.put("train_seconds", seconds);
            results.put("train_loss", lastLoss[0]);
            SequenceClassifier.Evaluation e = null;
            if (eval != null) {
                e = c.evaluate(encode(c, eval, q.maxTokens()), eval.indices(classes, q.evalData() != null ? q.evalData() : q.data()));
                results.put("eval", evaluationJson(e));
            }
            c.save(q.out(), q.model());
            AtomicFiles.writeString(q.out().resolve("train_results.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(results) + "\n");
            System.out.printf(Locale.ROOT, "trained %s in %.1f s (%d steps, %,d example tokens an epoch)%n", q.method().label(), seconds, total, trainTokens);
            if (e != null) System.out.println(describe(e));
            System.out.println("saved " + q.out());
        }
    }

    static void eval(Path model, Path adapter, Path data, int maxTokens, boolean json) throws IOException {
        if (maxTokens < 2) throw new Lora4jException("--seq-len must be at least 2 for a classifier, got " + maxTokens);
        LabelledTexts d = LabelledTexts.read(data);
        try (Bert base = Bert.load(model)) {
            SequenceClassifier c = SequenceClassifier.load(base, model, adapter);
            long t0 = System.nanoTime();
            SequenceClassifier.Evaluation e = c.evaluate(encode(c, d, maxTokens), d.indices(c.classes(), data));
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.println(describe(e) + String.format(Locale.ROOT, "  (%.2f s)", seconds));
            if (json) {
                Map<String, Object> o = evaluationJson(e);
                o.put("seconds", seconds);
                System.out.println(new ObjectMapper().writeValueAsString(o));
            }
        }
    }

    private static List<int[]> encode(SequenceClassifier c, LabelledTexts d, int maxTokens) {
        List<int[]> out = new ArrayList<>();
        for (String t : d.texts()) out.add(c.encode(t, maxTokens));
        return out;
    }

    private static String describe(SequenceClassifier.Evaluation e) {
        return String.format(Locale.ROOT, "accuracy %.4f  macro-F1 %.4f  loss %.4f  examples %d", e.accuracy(), e.macroF1(), e.loss(), e.n());
    }

    private static Map<String, Object> evaluationJson(SequenceClassifier.Evaluation e) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("accuracy", e.accuracy());
        o.put("macro_f1", e.macroF1());
        o.put("loss", e.loss());
        o.put("examples", e.n());
        return o;
    }

    private static boolean hasEntries(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }
}
