package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.model.TrainableLinear;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.train.Optimizer;
import dev.lora4j.train.Parameter;
import dev.lora4j.train.Schedule;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Sequence classification over a BERT-family encoder, as transformers' BertForSequenceClassification and PEFT's
 * SEQ_CLS task do it: a sentence vector f per sequence, logits z = W·f + b (the "classifier", which PEFT trains and
 * saves whole: modules_to_save), cross-entropy against the label. f is BertPooler's tanh(Wp·h[CLS] + bp) when the
 * checkpoint has a pooler; otherwise (sentence-transformers exports such as all-MiniLM-L6-v2 ship none) the encoder's
 * sentence pooling (mean over the tokens or [CLS]), not normalised. No dropout: runs are deterministic.
 * <pre>
 *   f = pool(hidden)                                  (B, C)
 *   z = f·Wᵀ + b                                      (B, K)
 *   L = mean_i CE(z_i, y_i);  dz = (softmax(z) − onehot(y)) / B
 *   dW += dzᵀ·f;  db += Σ_i dz_i;  df = dz·W
 *   pooler:  dpre = df ⊙ (1 − f²);  dh[CLS] = dpre·Wp   (Wp's own gradient when it is trained)
 *   mean:    dh[r] = df / n for each of the sequence's n rows;  CLS: dh[first] = df
 * </pre>
 * Three ways to train it ({@link Method}): the head alone over the frozen encoder (a linear probe, its vectors computed
 * once), LoRA adapters plus the head, or every weight plus the head (full fine-tuning).
 */
public final class SequenceClassifier {
    /** What training changes: the head only, LoRA adapters and the head, or everything. */
    public enum Method {
        PROBE, LORA, FULL;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Where the head's sentence vector comes from: BertPooler (frozen with the base), the encoder's sentence pooling, or
     * (RoBERTa) the head's own dense layer over the first token, RobertaClassificationHead's, trained with the head.
     */
    public enum HeadPooling { POOLER, MEAN, CLS, DENSE }

    /** The head modules PEFT puts in modules_to_save for SEQ_CLS (its classifier is "classifier" in BERT, "score" elsewhere). */
    public static final List<String> MODULES_TO_SAVE = List.of("classifier", "score");
    /** The labels and the head's pooling, beside the adapter or checkpoint (transformers keeps labels in config.json's id2label). */
    public static final String HEAD_CONFIG = "classifier_config.json";
    private static final String HEAD = "classifier", DENSE = "classifier.dense", OUT_PROJ = "classifier.out_proj";
    private static final int INFERENCE_BATCH = 32;

    private final Bert encoder;
    private final Method method;
    private final HeadPooling pooling;
    private final List<String> classes;
    private final LoraConfig lora; // null unless LORA
    private final String out;                                 // the output layer's name: classifier (BERT) or classifier.out_proj (RoBERTa)
    private final float[] weight, bias, weightGrad, biasGrad; // (K, C), (K)
    private final TrainableLinear dense;                      // RoBERTa's head dense layer (C, C), else null
    private final Map<String, LoraLinear> modules;
    private final Map<String, Parameter> encoderParams; // FULL: every weight of the encoder, by checkpoint name
    private final List<Parameter> params = new ArrayList<>();

    /** head: the head's tensors by checkpoint name, as {@link #headShapes} lists them. */
    private SequenceClassifier(Bert encoder, Method method, List<String> classes, LoraConfig lora, Map<String, float[]> head,
                               Map<String, LoraLinear> modules, Map<String, Parameter> encoderParams) {
        this.encoder = encoder;
        this.method = method;
        this.pooling = poolingOf(encoder);
        this.classes = List.copyOf(classes);
        this.lora = lora;
        int c = encoder.config().dim();
        this.out = pooling == HeadPooling.DENSE ? OUT_PROJ : HEAD;
        this.weight = head.get(out + ".weight");
        this.bias = head.get(out + ".bias");
        this.weightGrad = new float[weight.length];
        this.biasGrad = new float[bias.length];
        this.dense = pooling != HeadPooling.DENSE ? null
                : TrainableLinear.of(new Linear(DENSE, Tensor.of(DENSE + ".weight", head.get(DENSE + ".weight"), c, c), head.get(DENSE + ".bias"), c, c, false));
        this.modules = modules;
        this.encoderParams = encoderParams;
        params.addAll(encoderParams.values());
        for (LoraLinear l : modules.values()) {
            params.add(new Parameter(l.name() + ".lora_A", l.a(), l.gradA()));
            params.add(new Parameter(l.name() + ".lora_B", l.b(), l.gradB()));
        }
        if (dense != null) {
            params.add(new Parameter(DENSE + ".weight", dense.base().weight().heapArray(), dense.weightGrad()));
            params.add(new Parameter(DENSE + ".bias", dense.base().bias(), dense.biasGrad()));
        }
        params.add(new Parameter(out + ".weight", weight, weightGrad));
        params.add(new Parameter(out + ".bias", bias, biasGrad));
    }

    /** Where the base model sits in the task model PEFT wraps (BertForSequenceClassification.bert, RobertaForSequenceClassification.roberta). */
    static String wrappedPrefix(Bert encoder) {
        return encoder.config().roberta() ? "roberta." : "bert.";
    }

    private static HeadPooling poolingOf(Bert encoder) {
        if (encoder.config().roberta()) return HeadPooling.DENSE;
        if (encoder.pooler() != null) return HeadPooling.POOLER;
        return encoder.config().pooling() == BertConfig.Pooling.CLS ? HeadPooling.CLS : HeadPooling.MEAN;
    }

    /** The head's tensors and their shapes, by the names transformers gives them, for k classes over encoder. */
    static Map<String, int[]> headShapes(Bert encoder, int k) {
        int c = encoder.config().dim();
        Map<String, int[]> m = new LinkedHashMap<>();
        if (poolingOf(encoder) == HeadPooling.DENSE) {
            m.put(DENSE + ".weight", new int[] {c, c});
            m.put(DENSE + ".bias", new int[] {c});
            m.put(OUT_PROJ + ".weight", new int[] {k, c});
            m.put(OUT_PROJ + ".bias", new int[] {k});
        } else {
            m.put(HEAD + ".weight", new int[] {k, c});
            m.put(HEAD + ".bias", new int[] {k});
        }
        return m;
    }

    /**
     * A new classifier over base for classes, trained by method: the head drawn as transformers initialises it
     * (N(0, 0.02²), bias 0), LoRA (lora's settings; PEFT's BERT default targets query and value) drawn from seed.
     */
    public static SequenceClassifier create(Bert base, Method method, List<String> classes, LoraConfig lora, long seed) {
        if (classes.size() < 2) throw new Lora4jException("a classifier needs at least 2 classes, got " + classes.size() + " " + classes);
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, float[]> head = new LinkedHashMap<>();
        headShapes(base, classes.size()).forEach((name, shape) -> {
            float[] v = new float[Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
            if (shape.length == 2) for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * 0.02);
            head.put(name, v);
        });
        Map<String, LoraLinear> modules = new LinkedHashMap<>();
        Map<String, Parameter> encoderParams = new LinkedHashMap<>();
        Bert encoder = switch (method) {
            case PROBE -> base;
            case LORA -> base.withLora(lora, rng.nextLong(), modules);
            case FULL -> base.trainable(encoderParams);
        };
        LoraConfig used = method != Method.LORA ? null : lora.targets() != null ? lora
                : lora.toBuilder().targets(new LoraConfig.TargetList(List.of("query", "value"))).build();
        return new SequenceClassifier(encoder, method, classes, used, head, modules, encoderParams);
    }

    public Method method() {
        return method;
    }

    public HeadPooling pooling() {
        return pooling;
    }

    public List<String> classes() {
        return classes;
    }

    /** The encoder as this classifier runs it (with its adapters, or its trained copy). */
    public Bert encoder() {
        return encoder;
    }

    public List<Parameter> parameters() {
        return params;
    }

    public long trainableParameters() {
        return params.stream().mapToLong(p -> p.value().length).sum();
    }

    // ------------------------------------------------------------------ forward and backward

    /** The sentence vectors f (B, C) of packed hidden states, and for the pooler the [CLS] rows it read. */
    private record Pooled(float[] f, float[] cls) {}

    private Pooled pool(float[] hidden, int[] start) {
        int b = start.length - 1, c = encoder.config().dim();
        float[] f = new float[b * c];
        if (pooling == HeadPooling.MEAN) {
            for (int s = 0; s < b; s++) {
                int n = start[s + 1] - start[s];
                for (int d = 0; d < c; d++) {
                    double sum = 0;
                    for (int r = start[s]; r < start[s + 1]; r++) sum += hidden[r * c + d];
                    f[s * c + d] = (float) (sum / n);
                }
            }
            return new Pooled(f, null);
        }
        float[] cls = new float[b * c];
        for (int s = 0; s < b; s++) System.arraycopy(hidden, start[s] * c, cls, s * c, c);
        if (pooling == HeadPooling.CLS) return new Pooled(cls, cls);
        poolerLayer().forward(Mat.of(cls, 0, b, c), f, 0, c, false);
        for (int i = 0; i < f.length; i++) f[i] = (float) Math.tanh(f[i]);
        return new Pooled(f, cls);
    }

    /** dL/d(hidden) (N, C) from dL/df (B, C), the pooler's weight gradient accumulated when it is trained. */
    private float[] poolBackward(Pooled p, float[] df, int[] start, int rows) {
        int b = start.length - 1, c = encoder.config().dim();
        float[] dHidden = new float[rows * c];
        if (pooling == HeadPooling.MEAN) {
            for (int s = 0; s < b; s++) {
                int n = start[s + 1] - start[s];
                for (int r = start[s]; r < start[s + 1]; r++)
                    for (int d = 0; d < c; d++) dHidden[r * c + d] = df[s * c + d] / n;
            }
            return dHidden;
        }
        float[] dCls = df;
        if (pooling == HeadPooling.POOLER || pooling == HeadPooling.DENSE) {
            float[] dPre = new float[b * c];
            for (int i = 0; i < dPre.length; i++) dPre[i] = df[i] * (1 - p.f()[i] * p.f()[i]);
            dCls = new float[b * c];
            poolerLayer().backward(Mat.of(p.cls(), 0, b, c), Mat.of(dPre, 0, b, c), dCls, 0, c, false);
        }
        for (int s = 0; s < b; s++) System.arraycopy(dCls, s * c, dHidden, start[s] * c, c);
        return dHidden;
    }

    /** The dense + tanh layer over the first token: BertPooler's, or RoBERTa's head's own. */
    private Projection poolerLayer() {
        return pooling == HeadPooling.DENSE ? dense : encoder.pooler();
    }

    /** z (B, K) = f·Wᵀ + b, in double. */
    private double[] logitsOf(float[] f, int b) {
        int c = encoder.config().dim(), k = classes.size();
        double[] z = new double[b * k];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < k; j++) {
                double s = bias[j];
                for (int d = 0; d < c; d++) s += (double) f[i * c + d] * weight[j * c + d];
                z[i * k + j] = s;
            }
        return z;
    }

    /** The head's mean cross-entropy over f (B, C) with labels y; accumulates dW, db and, when df is given, writes dL/df. */
    private double head(float[] f, int[] y, float[] df) {
        int b = y.length, c = encoder.config().dim(), k = classes.size();
        double[] z = logitsOf(f, b);
        double loss = 0;
        for (int i = 0; i < b; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < k; j++) max = Math.max(max, z[i * k + j]);
            for (int j = 0; j < k; j++) sum += Math.exp(z[i * k + j] - max);
            loss += (max + Math.log(sum) - z[i * k + y[i]]) / b;
            for (int j = 0; j < k; j++) {
                double dz = (Math.exp(z[i * k + j] - max) / sum - (j == y[i] ? 1 : 0)) / b;
                biasGrad[j] += (float) dz;
                for (int d = 0; d < c; d++) {
                    weightGrad[j * c + d] += (float) (dz * f[i * c + d]);
                    if (df != null) df[i * c + d] += (float) (dz * weight[j * c + d]);
                }
            }
        }
        return loss;
    }

    /**
     * One batch's mean cross-entropy, its gradients accumulated into every trainable parameter. Sequences are token ids
     * with their special tokens; y their class indices.
     */
    public double lossAndGradients(List<int[]> sequences, int[] y) {
        if (sequences.size() != y.length || y.length == 0) throw new IllegalArgumentException(sequences.size() + " sequences, " + y.length + " labels");
        checkLabels(y);
        if (method == Method.PROBE) return head(features(sequences), y, null);
        Bert.Packed packed = Bert.Packed.of(sequences);
        for (LoraLinear l : modules.values()) l.setTraining(true, null);
        try {
            Bert.Pass pass = encoder.forwardTraining(packed);
            Pooled p = pool(pass.hidden(), packed.start());
            float[] df = new float[p.f().length];
            double loss = head(p.f(), y, df);
            encoder.backward(pass, poolBackward(p, df, packed.start(), packed.ids().length));
            return loss;
        } finally {
            for (LoraLinear l : modules.values()) l.setTraining(false, null);
        }
    }

    private void checkLabels(int[] y) {
        for (int v : y) if (v < 0 || v >= classes.size()) throw new IllegalArgumentException("label index " + v + " outside [0, " + classes.size() + ")");
    }

    /** The head's input vectors (B, C) of sequences, the encoder run for inference in batches. */
    public float[] features(List<int[]> sequences) {
        int c = encoder.config().dim();
        float[] out = new float[sequences.size() * c];
        for (int s = 0; s < sequences.size(); s += INFERENCE_BATCH) {
            Bert.Packed packed = Bert.Packed.of(sequences.subList(s, Math.min(sequences.size(), s + INFERENCE_BATCH)));
            float[] f = pool(encoder.hiddenPacked(packed), packed.start()).f();
            System.arraycopy(f, 0, out, s * c, f.length);
        }
        return out;
    }

    /** Logits (B, K) of sequences. */
    public double[] logits(List<int[]> sequences) {
        return logitsOf(features(sequences), sequences.size());
    }

    /** Token ids of a text as the classifier reads it: the encoder's tokenizer with its special tokens, at most maxTokens. */
    public int[] encode(String text, int maxTokens) {
        if (encoder.tokenizer() == null) throw new Lora4jException("the encoder directory has no tokenizer.json");
        return Bert.truncate(encoder.tokenizer().encodeWithSpecialTokens(text), maxTokens);
    }

    // ------------------------------------------------------------------ training and evaluation

    /** How a run trains: AdamW (β 0.9, 0.999, eps 1e-8) with transformers' linear decay to 0, gradients clipped. */
    public record Training(int epochs, long steps, int batchSize, double lr, double weightDecay, double maxGradNorm, long seed) {
        public Training {
            if (epochs < 1) throw new Lora4jException("--epochs must be at least 1, got " + epochs);
            if (steps < 0) throw new Lora4jException("--steps must not be negative, got " + steps);
            if (batchSize < 1) throw new Lora4jException("--batch-size must be at least 1, got " + batchSize);
            if (!(lr > 0) || !Double.isFinite(lr)) throw new Lora4jException("--lr must be a positive finite number, got " + lr);
            if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) throw new Lora4jException("--weight-decay must be a finite number ≥ 0, got " + weightDecay);
            if (!(maxGradNorm >= 0) || !Double.isFinite(maxGradNorm)) throw new Lora4jException("--max-grad-norm must be a finite number ≥ 0, got " + maxGradNorm);
        }

        public static Builder builder() {
            return new Builder();
        }

        public static final class Builder {
            private int epochs = 3, batchSize = 16;
            private long steps, seed = 42;
            private double lr = 1e-3, weightDecay, maxGradNorm = 1.0;

            public Builder epochs(int v) { epochs = v; return this; }
            public Builder steps(long v) { steps = v; return this; }
            public Builder batchSize(int v) { batchSize = v; return this; }
            public Builder lr(double v) { lr = v; return this; }
            public Builder weightDecay(double v) { weightDecay = v; return this; }
            public Builder maxGradNorm(double v) { maxGradNorm = v; return this; }
            public Builder seed(long v) { seed = v; return this; }

            public Training build() {
                return new Training(epochs, steps, batchSize, lr, weightDecay, maxGradNorm, seed);
            }
        }

        /** The run's optimizer steps over n examples: steps, or the epochs' worth of batches. */
        public long totalSteps(int n) {
            return steps > 0 ? steps : (long) epochs * ((n + batchSize - 1) / batchSize);
        }
    }

    /** One optimizer step as a listener hears it. */
    public record Step(long step, long totalSteps, double loss, double lr, double tokensPerSecond) {}

    /** Trains on sequences with class indices y; listener hears every step. */
    public void train(List<int[]> sequences, int[] y, Training t, java.util.function.Consumer<Step> listener) {
        if (sequences.size() != y.length || y.length == 0) throw new Lora4jException("no training examples");
        checkLabels(y);
        long total = t.totalSteps(y.length);
        float[] cached = method == Method.PROBE ? features(sequences) : null; // the frozen encoder's vectors, once
        int c = encoder.config().dim();
        EpochOrder order = new EpochOrder(y.length, t.seed());
        Optimizer opt = new Optimizer.AdamW(params, 0.9f, 0.999f, 1e-8f, (float) t.weightDecay());
        SplittableRandom dropout = new SplittableRandom(t.seed() ^ 0x5DEECE66DL);
        for (LoraLinear l : modules.values()) l.setTraining(false, dropout.split()); // seeds lora_dropout's masks
        {
            for (long step = 0; step < total; step++) {
                long t0 = System.nanoTime();
                int[] batch = order.next(t.batchSize());
                int[] by = new int[batch.length];
                for (int i = 0; i < batch.length; i++) by[i] = y[batch[i]];
                for (Parameter p : params) Arrays.fill(p.grad(), 0f);
                double loss;
                long tokens = 0;
                if (cached != null) {
                    float[] f = new float[batch.length * c];
                    for (int i = 0; i < batch.length; i++) System.arraycopy(cached, batch[i] * c, f, i * c, c);
                    loss = head(f, by, null);
                } else {
                    List<int[]> seqs = new ArrayList<>();
                    for (int i : batch) {
                        seqs.add(sequences.get(i));
                        tokens += sequences.get(i).length;
                    }
                    loss = lossAndGradients(seqs, by);
                }
                if (!Double.isFinite(loss)) throw new Lora4jException("step " + (step + 1) + ": the loss is " + loss + "; lower --lr");
                Optimizer.clipGradNorm(params, t.maxGradNorm());
                double lr = t.lr() * Schedule.LINEAR.factor(step, 0, total);
                opt.step(params, (float) lr);
                double seconds = (System.nanoTime() - t0) / 1e9;
                listener.accept(new Step(step + 1, total, loss, lr, tokens / Math.max(seconds, 1e-9)));
            }
        }
    }

    /** Loss, accuracy and macro-averaged F1 over n examples. */
    public record Evaluation(int n, double loss, double accuracy, double macroF1) {}

    public Evaluation evaluate(List<int[]> sequences, int[] y) {
        checkLabels(y);
        int k = classes.size(), n = y.length;
        double[] z = logits(sequences);
        double loss = 0;
        int correct = 0;
        int[] tp = new int[k], predicted = new int[k], actual = new int[k];
        for (int i = 0; i < n; i++) {
            int best = 0;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < k; j++) if (z[i * k + j] > max) {
                max = z[i * k + j];
                best = j;
            }
            for (int j = 0; j < k; j++) sum += Math.exp(z[i * k + j] - max);
            loss += (max + Math.log(sum) - z[i * k + y[i]]) / n;
            predicted[best]++;
            actual[y[i]]++;
            if (best == y[i]) {
                correct++;
                tp[best]++;
            }
        }
        double f1 = 0;
        for (int j = 0; j < k; j++) f1 += actual[j] + predicted[j] == 0 ? 0 : 2.0 * tp[j] / (actual[j] + predicted[j]);
        return new Evaluation(n, loss, (double) correct / n, f1 / k);
    }

    // ------------------------------------------------------------------ files

    /**
     * Saves what was trained. PROBE and LORA: a PEFT adapter (task_type SEQ_CLS, the classifier in modules_to_save and
     * under {@code base_model.model.classifier.*}; a probe's adapter targets no module). FULL: a complete checkpoint
     * (config.json naming BertForSequenceClassification with id2label, model.safetensors with every weight and
     * {@code classifier.*}, the base's tokenizer and sentence-transformers files). Both get {@value #HEAD_CONFIG}.
     */
    public void save(Path dir, Path baseDir) throws IOException {
        Map<String, Tensor> head = new LinkedHashMap<>();
        Map<String, Parameter> values = new LinkedHashMap<>();
        params.forEach(p -> values.put(p.name(), p));
        headShapes(encoder, classes.size()).forEach((name, shape) -> head.put(name, Tensor.of(name, values.get(name).value(), shape)));
        if (method != Method.FULL) {
            LoraConfig config = lora != null ? lora : LoraConfig.builder().targets(new LoraConfig.TargetList(List.of())).build();
            Files.createDirectories(dir);
            writeHeadConfig(dir);
            Map<String, Tensor> saved = new LinkedHashMap<>();
            head.forEach((name, t) -> saved.put(EncoderAdapter.PREFIX + name, t));
            EncoderAdapter.save(dir, config, "SEQ_CLS", MODULES_TO_SAVE, baseDir.toString(), EncoderAdapter.tensors(modules, wrappedPrefix(encoder), saved));
            return;
        }
        AtomicFiles.writeDirectory(dir, tmp -> {
            try (var files = Files.list(baseDir)) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    // the weights are written below; an ONNX export of the base (import-onnx keeps one) would not be this model
                    if (n.endsWith(".safetensors") || n.endsWith(".onnx") || n.equals("config.json") || n.equals(HEAD_CONFIG)) continue;
                    if (Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.copy(f, tmp.resolve(n));
                    else if (Files.isDirectory(f, java.nio.file.LinkOption.NOFOLLOW_LINKS) && Files.exists(f.resolve("config.json"))) {
                        Files.createDirectories(tmp.resolve(n)); // sentence-transformers' module folders (1_Pooling)
                        Files.copy(f.resolve("config.json"), tmp.resolve(n).resolve("config.json"));
                    }
                }
            }
            ObjectNode config = (ObjectNode) ModelFiles.readJson(baseDir.resolve("config.json"));
            config.putArray("architectures").add(encoder.config().classPrefix() + "ForSequenceClassification");
            ObjectNode id2label = config.putObject("id2label"), label2id = config.putObject("label2id");
            for (int i = 0; i < classes.size(); i++) {
                id2label.put(Integer.toString(i), classes.get(i));
                label2id.put(classes.get(i), i);
            }
            Files.writeString(tmp.resolve("config.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(config) + "\n");
            writeHeadConfig(tmp);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Parameter p : encoderParams.values()) tensors.put(p.name(), Tensor.of(p.name(), p.value(), p.value().length));
            SafeTensorsWriter.write(tmp.resolve("model.safetensors"), reshaped(tensors, head), DType.F32, Map.of("format", "pt"));
        });
    }

    /** The encoder's weights in their checkpoint shapes (the parameters hold them flat), then the head's. */
    private Map<String, Tensor> reshaped(Map<String, Tensor> flat, Map<String, Tensor> head) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        ModelFiles source = encoder.source();
        for (var e : flat.entrySet()) {
            String name = e.getKey();
            int[] shape = source.has(name) ? source.tensor(name).shape() : e.getValue().shape();
            out.put(name, Tensor.of(name, e.getValue().toArray(), shape));
        }
        out.putAll(head);
        return out;
    }

    private void writeHeadConfig(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = json.createObjectNode();
        o.put("method", method.label());
        o.put("pooling", pooling.name().toLowerCase(Locale.ROOT));
        classes.forEach(o.putArray("labels")::add);
        AtomicFiles.writeString(dir.resolve(HEAD_CONFIG), json.writeValueAsString(o) + "\n");
    }

    /**
     * A saved classifier: an adapter directory (as {@link #save} writes for PROBE and LORA) over base, or, with
     * adapter null, a classifier checkpoint (lora4j's --full output, or transformers' BertForSequenceClassification:
     * classifier.weight with labels from {@value #HEAD_CONFIG} or config.json's id2label) that base was loaded from.
     */
    public static SequenceClassifier load(Bert base, Path baseDir, Path adapter) {
        Path dir = adapter != null ? adapter : baseDir;
        String first = headShapes(base, 2).keySet().iterator().next();
        if (adapter == null && !base.source().has(first))
            throw new Lora4jException(baseDir + ": no " + first + " (a sequence classifier checkpoint, or give --adapter with a SEQ_CLS adapter)");
        List<String> classes = readClasses(dir, adapter == null ? baseDir.resolve("config.json") : null);
        checkPooling(dir, base);
        Map<String, int[]> shapes = headShapes(base, classes.size());
        Map<String, float[]> head = new LinkedHashMap<>();
        if (adapter == null) {
            shapes.forEach((name, shape) -> head.put(name, base.source().tensor(name, shape).toArray().clone()));
            return new SequenceClassifier(base, Method.FULL, classes, null, head, new LinkedHashMap<>(), new LinkedHashMap<>());
        }
        Map<String, LoraLinear> modules = new LinkedHashMap<>();
        Set<String> keys = new java.util.LinkedHashSet<>();
        shapes.keySet().forEach(n -> keys.add(EncoderAdapter.PREFIX + n));
        Bert adapted = EncoderAdapter.load(base, adapter, Set.copyOf(MODULES_TO_SAVE), modules, wrappedPrefix(base), keys);
        Path file = adapter.resolve(dev.lora4j.lora.PeftAdapter.WEIGHTS);
        try (var st = dev.lora4j.io.SafeTensors.open(file)) {
            shapes.forEach((name, shape) -> {
                float[] v = st.tensor(EncoderAdapter.PREFIX + name).toArray().clone();
                if (v.length != Arrays.stream(shape).reduce(1, (x, y) -> x * y))
                    throw new Lora4jException(file + ": " + EncoderAdapter.PREFIX + name + " must be " + Arrays.toString(shape) + " for " + classes.size()
                            + " labels over width " + base.config().dim() + ", holds " + v.length + " values");
                head.put(name, v);
            });
        }
        LoraConfig lora = modules.isEmpty() ? null : dev.lora4j.lora.PeftAdapter.readConfig(adapter, Set.copyOf(MODULES_TO_SAVE));
        return new SequenceClassifier(adapted, modules.isEmpty() ? Method.PROBE : Method.LORA, classes, lora, head, modules, new LinkedHashMap<>());
    }

    private static List<String> readClasses(Path dir, Path hfConfig) {
        Path head = dir.resolve(HEAD_CONFIG);
        if (Files.exists(head)) {
            JsonNode labels = ModelFiles.readJson(head).path("labels");
            if (!labels.isArray() || labels.size() < 2) throw new Lora4jException(head + ": 'labels' must list at least 2 class names");
            List<String> out = new ArrayList<>();
            labels.forEach(l -> out.add(l.asText()));
            return out;
        }
        if (hfConfig != null && Files.exists(hfConfig)) {
            JsonNode id2label = ModelFiles.readJson(hfConfig).path("id2label");
            List<String> out = new ArrayList<>();
            for (int i = 0; i < id2label.size(); i++) {
                JsonNode l = id2label.get(Integer.toString(i));
                if (l == null) throw new Lora4jException(hfConfig + ": id2label lacks id " + i);
                out.add(l.asText());
            }
            if (out.size() >= 2) return out;
        }
        throw new Lora4jException(dir + ": no " + HEAD_CONFIG + " (the classifier's labels)" + (hfConfig != null ? " and no id2label in config.json" : ""));
    }

    /** The head's pooling as saved must be the one this base gives (a pooler in the checkpoint, or its sentence pooling). */
    private static void checkPooling(Path dir, Bert base) {
        Path head = dir.resolve(HEAD_CONFIG);
        HeadPooling pooling = poolingOf(base);
        if (!Files.exists(head)) {
            if (pooling != HeadPooling.POOLER && pooling != HeadPooling.DENSE)
                throw new Lora4jException(dir + ": a classifier without " + HEAD_CONFIG + " reads BertPooler's output, but the checkpoint has no pooler.dense");
            return;
        }
        String saved = ModelFiles.readJson(head).path("pooling").asText("");
        String here = pooling.name().toLowerCase(Locale.ROOT);
        if (!saved.equals(here))
            throw new Lora4jException(head + ": the classifier was trained on '" + saved + "' sentence vectors, but this base gives '" + here + "'");
    }
}
