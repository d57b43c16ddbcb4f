package dev.lora4j.encoder;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.train.Optimizer;
import dev.lora4j.train.Parameter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Embedding fine-tuning with LoRA, as sentence-transformers' MultipleNegativesRankingLoss trains it: a batch of
 * (anchor, positive) pairs, each anchor's positive the right answer among all the batch's positives, the loss the
 * cross-entropy of scale·cos(anchor, positive_j) over j (scale 20). Forward and backward:
 * <pre>
 *   e = normalize(mean over tokens(hidden))          (2B, C)  anchors then positives
 *   S = scale·E_a·E_pᵀ                               (B, B)
 *   L = mean_i CE(S_i, i);  dS = (softmax(S) − I)/B;  dE_a = scale·dS·E_p;  dE_p = scale·dSᵀ·E_a
 *   d(pooled) = (dE − e·(e·dE))/‖pooled‖;  d(hidden of each token) = d(pooled)/n
 * </pre>
 * The adapter is saved as a PEFT LoRA adapter (task_type FEATURE_EXTRACTION, target_modules the encoder's
 * module names) that {@link #load} puts back on the encoder.
 */
public final class EmbeddingTuner {
    public static final float SCALE = 20f;

    private final Bert base, model;
    private final LoraConfig config;
    private final Map<String, LoraLinear> modules = new LinkedHashMap<>();
    private final List<Parameter> params = new ArrayList<>();

    public EmbeddingTuner(Bert base, LoraConfig config, long seed) {
        this.base = base;
        this.model = base.withLora(config, seed, modules);
        this.config = config.targets() != null ? config : config.toBuilder().targets(new LoraConfig.TargetList(List.of("query", "value"))).build();
        for (LoraLinear l : modules.values()) {
            params.add(new Parameter(l.name() + ".lora_A", l.a(), l.gradA()));
            params.add(new Parameter(l.name() + ".lora_B", l.b(), l.gradB()));
        }
    }

    /** The encoder with its adapters. */
    public Bert model() {
        return model;
    }

    public Map<String, LoraLinear> modules() {
        return modules;
    }

    public List<Parameter> parameters() {
        return params;
    }

    /**
     * One step's loss and gradients (accumulated into the adapters) for pairs of token ids (with their special
     * tokens): anchors[i] matches positives[i].
     */
    public double lossAndGradients(List<int[]> anchors, List<int[]> positives) {
        int b = anchors.size(), C = model.config().dim();
        if (b < 2 || positives.size() != b) throw new Lora4jException("a contrastive batch needs at least 2 pairs, got " + b);
        List<int[]> all = new ArrayList<>(anchors);
        all.addAll(positives);
        Bert.Packed packed = Bert.Packed.of(all);
        int[] start = packed.start();
        for (LoraLinear l : modules.values()) l.setTraining(true, null);
        Bert.Pass pass = model.forwardTraining(packed);
        float[] hidden = pass.hidden();
        double[][] pooled = new double[2 * b][C], e = new double[2 * b][C];
        double[] norms = new double[2 * b];
        for (int i = 0; i < 2 * b; i++) {
            int n = start[i + 1] - start[i];
            for (int r = start[i]; r < start[i + 1]; r++) for (int d = 0; d < C; d++) pooled[i][d] += hidden[r * C + d];
            double sq = 0;
            for (int d = 0; d < C; d++) {
                pooled[i][d] /= n;
                sq += pooled[i][d] * pooled[i][d];
            }
            norms[i] = Math.max(Math.sqrt(sq), 1e-12);
            for (int d = 0; d < C; d++) e[i][d] = pooled[i][d] / norms[i];
        }
        double loss = 0;
        double[][] dS = new double[b][b];
        for (int i = 0; i < b; i++) {
            double[] s = new double[b];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < b; j++) {
                for (int d = 0; d < C; d++) s[j] += e[i][d] * e[b + j][d];
                s[j] *= SCALE;
                max = Math.max(max, s[j]);
            }
            for (int j = 0; j < b; j++) sum += Math.exp(s[j] - max);
            loss += (max + Math.log(sum) - s[i]) / b;
            for (int j = 0; j < b; j++) dS[i][j] = (Math.exp(s[j] - max) / sum - (i == j ? 1 : 0)) / b;
        }
        double[][] dE = new double[2 * b][C];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
                for (int d = 0; d < C; d++) {
                    dE[i][d] += SCALE * dS[i][j] * e[b + j][d];
                    dE[b + j][d] += SCALE * dS[i][j] * e[i][d];
                }
        float[] dHidden = new float[hidden.length];
        for (int i = 0; i < 2 * b; i++) {
            double dot = 0;
            for (int d = 0; d < C; d++) dot += e[i][d] * dE[i][d];
            int n = start[i + 1] - start[i];
            for (int d = 0; d < C; d++) {
                float g = (float) ((dE[i][d] - e[i][d] * dot) / norms[i] / n);
                for (int r = start[i]; r < start[i + 1]; r++) dHidden[r * C + d] = g;
            }
        }
        model.backward(pass, dHidden);
        for (LoraLinear l : modules.values()) l.setTraining(false, null);
        return loss;
    }

    /** Trains on pairs of texts (the encoder's tokenizer, at most maxTokens each) for steps of batchSize pairs; listener hears each step's loss. */
    public void train(List<String[]> pairs, int steps, int batchSize, int maxTokens, Optimizer optimizer, float lr, java.util.function.ObjDoubleConsumer<Integer> listener) {
        if (model.tokenizer() == null) throw new Lora4jException("the encoder directory has no tokenizer.json");
        if (pairs.size() < 2) throw new Lora4jException("contrastive training needs at least 2 pairs, got " + pairs.size());
        List<int[][]> encoded = new ArrayList<>();
        for (String[] p : pairs) encoded.add(new int[][] {Bert.truncate(model.tokenizer().encodeWithSpecialTokens(p[0]), maxTokens),
                Bert.truncate(model.tokenizer().encodeWithSpecialTokens(p[1]), maxTokens)});
        EpochOrder order = new EpochOrder(pairs.size(), 0);
        for (int step = 1; step <= steps; step++) {
            List<int[]> a = new ArrayList<>(), p = new ArrayList<>();
            for (int i : order.next(batchSize)) {
                a.add(encoded.get(i)[0]);
                p.add(encoded.get(i)[1]);
            }
            for (Parameter x : params) Arrays.fill(x.grad(), 0f);
            double loss = lossAndGradients(a, p);
            optimizer.step(params, lr);
            listener.accept(step, loss);
        }
    }

    /**
     * Retrieval accuracy of an encoder on pairs: the share of anchors whose own positive is the nearest (by cosine) of
     * all the pairs' positives (recall@1, the in-batch task over the whole set).
     */
    public static double recallAt1(Bert model, List<String[]> pairs, int maxTokens) {
        if (pairs.isEmpty()) throw new Lora4jException("no pairs to evaluate");
        int n = pairs.size(), c = model.config().dim();
        List<String> anchors = new ArrayList<>(), positives = new ArrayList<>();
        for (String[] p : pairs) {
            anchors.add(p[0]);
            positives.add(p[1]);
        }
        float[] a = embedAll(model, anchors, maxTokens), p = embedAll(model, positives, maxTokens);
        int hits = 0;
        for (int i = 0; i < n; i++) {
            int best = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double s = 0, na = 0, np = 0;
                for (int d = 0; d < c; d++) {
                    s += (double) a[i * c + d] * p[j * c + d];
                    na += (double) a[i * c + d] * a[i * c + d];
                    np += (double) p[j * c + d] * p[j * c + d];
                }
                s /= Math.sqrt(na * np);
                if (s > bestScore) {
                    bestScore = s;
                    best = j;
                }
            }
            if (best == i) hits++;
        }
        return (double) hits / n;
    }

    private static float[] embedAll(Bert model, List<String> texts, int maxTokens) {
        int c = model.config().dim();
        float[] out = new float[texts.size() * c];
        for (int s = 0; s < texts.size(); s += 32) {
            List<String> part = texts.subList(s, Math.min(texts.size(), s + 32));
            System.arraycopy(model.embed(part, maxTokens), 0, out, s * c, part.size() * c);
        }
        return out;
    }

    /** The adapter as PEFT writes one for a BertModel (task_type FEATURE_EXTRACTION). */
    public void save(Path dir, String baseModel) throws IOException {
        EncoderAdapter.save(dir, config, "FEATURE_EXTRACTION", List.of(), baseModel, EncoderAdapter.tensors(modules, "", Map.of()));
    }

    /** The encoder with a saved adapter (PEFT's files, as {@link #save} writes them) on it. */
    public static Bert load(Bert base, Path dir) {
        return EncoderAdapter.load(base, dir, java.util.Set.of(), new LinkedHashMap<>(), "", java.util.Set.of());
    }
}
