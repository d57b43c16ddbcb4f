package dev.lora4j.merge;

import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Weighted combinations of adapters into one new PEFT adapter (PEFT's add_weighted_adapter). The new
 * adapter has lora_alpha = r, so its scale is 1 and each source's scale sᵢ is folded into its factors:
 * <ul>
 *   <li>linear (equal ranks): A = Σ √wᵢ·sᵢ·Aᵢ, B = Σ √wᵢ·Bᵢ, PEFT's weighted sums (not the exact sum of updates);</li>
 *   <li>cat: A = [w₁s₁A₁; w₂s₂A₂; …], B = [B₁ B₂ …], ranks concatenated: exactly Σ wᵢ·sᵢ·Bᵢ·Aᵢ;</li>
 *   <li>svd: ΔW = Σ wᵢ·sᵢ·Bᵢ·Aᵢ truncated to rank R by SVD (EJML): B = U_R·Σ_R, A = V_Rᵀ.</li>
 * </ul>
 */
public final class Combiner {
    public enum Method { LINEAR, CAT, SVD }

    private Combiner() {}

    /** Combines adapters (all over base) into a new LoraModel. */
    public static LoraModel combine(Transformer base, List<LoraModel> adapters, List<Double> weights, Method method, int svdRank) {
        for (LoraModel a : adapters)
            if (a.config().dora() || a.config().loraBias())
                throw new Lora4jException("DoRA and lora_bias adapters do not combine here (magnitudes and biases are not factors); combine plain LoRA adapters");
            else if (a.embeddings() != null)
                throw new Lora4jException("adapters that train the embedding or the LM head (modules_to_save, trainable tokens) do not combine: their tensors replace the base's");
        Set<String> modules = new LinkedHashSet<>();
        for (LoraModel a : adapters) modules.addAll(a.modules().keySet());
        Map<String, float[][]> factors = new LinkedHashMap<>();
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (String module : modules) {
            List<LoraLinear> parts = new ArrayList<>();
            List<Double> w = new ArrayList<>();
            for (int i = 0; i < adapters.size(); i++) {
                LoraLinear l = adapters.get(i).modules().get(module);
                if (l != null) {
                    parts.add(l);
                    w.add(weights.get(i));
                }
            }
            float[][] ab = switch (method) {
                case LINEAR -> linear(module, parts, w);
                case CAT -> cat(parts, w);
                case SVD -> svd(module, parts, w, svdRank);
            };
            factors.put(module, ab);
            ranks.put(module, ab[0].length / parts.getFirst().in());
        }
        int r = ranks.values().stream().max(Integer::compare).orElseThrow();
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        ranks.forEach((m, rm) -> {
            if (rm != r) {
                rankPattern.put(m.replace(".", "\\."), rm);
                alphaPattern.put(m.replace(".", "\\."), (double) rm);
            }
        });
        LoraConfig cfg = LoraConfig.builder().r(r).alpha(r).targets(new LoraConfig.TargetList(List.copyOf(modules)))
                .rankPattern(rankPattern).alphaPattern(alphaPattern).build();
        return LoraModel.of(base, cfg, lin -> factors.get(lin.name()));
    }

    private static float[][] linear(String module, List<LoraLinear> parts, List<Double> w) {
        int r = parts.getFirst().rank();
        for (LoraLinear l : parts)
            if (l.rank() != r) throw new Lora4jException("combine --method linear needs equal ranks; " + module + " has ranks "
                    + parts.stream().map(LoraLinear::rank).toList() + " (use cat or svd)");
        float[] a = new float[parts.getFirst().a().length], b = new float[parts.getFirst().b().length];
        for (int k = 0; k < parts.size(); k++) {
            LoraLinear l = parts.get(k);
            double sw = Math.sqrt(w.get(k));
            for (int i = 0; i < a.length; i++) a[i] += (float) (sw * l.scale() * l.a()[i]);
            for (int i = 0; i < b.length; i++) b[i] += (float) (sw * l.b()[i]);
        }
        return new float[][] {a, b};
    }

    private static float[][] cat(List<LoraLinear> parts, List<Double> w) {
        int in = parts.getFirst().in(), out = parts.getFirst().out(), r = parts.stream().mapToInt(LoraLinear::rank).sum();
        float[] a = new float[r * in], b = new float[out * r];
        int row = 0;
        for (int k = 0; k < parts.size(); k++) {
            LoraLinear l = parts.get(k);
            float f = (float) (w.get(k) * l.scale());
            for (int i = 0; i < l.rank() * in; i++) a[row * in + i] = f * l.a()[i];
            for (int o = 0; o < out; o++) System.arraycopy(l.b(), o * l.rank(), b, o * r + row, l.rank());
            row += l.rank();
        }
        return new float[][] {a, b};
    }

    private static float[][] svd(String module, List<LoraLinear> parts, List<Double> w, int rank) {
        Linear base = parts.getFirst().base();
        int in = base.in(), out = base.out();
        if (rank < 1 || rank > Math.min(in, out))
            throw new Lora4jException("--rank " + rank + " is not possible for " + module + " (" + out + " x " + in + "): at most " + Math.min(in, out));
        double[] delta = new double[out * in];
        for (int k = 0; k < parts.size(); k++) {
            LoraLinear l = parts.get(k);
            float[] d = new float[out * in];
            Kernels.matmul(Mat.of(l.b(), 0, out, l.rank()), Mat.of(l.a(), 0, l.rank(), in), d, 0, in, false);
            double f = w.get(k) * l.scale();
            for (int i = 0; i < d.length; i++) delta[i] += f * d[i];
        }
        DMatrixRMaj m = new DMatrixRMaj(out, in, true, delta);
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(out, in, true, true, true);
        if (!svd.decompose(m)) throw new Lora4jException("SVD did not converge for " + module);
        DMatrixRMaj u = svd.getU(null, false), v = svd.getV(null, false);
        double[] s = svd.getSingularValues();
        Integer[] order = new Integer[s.length];
        for (int i = 0; i < s.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
        float[] a = new float[rank * in], b = new float[out * rank];
        for (int j = 0; j < rank; j++) {
            int c = order[j];
            for (int o = 0; o < out; o++) b[o * rank + j] = (float) (u.get(o, c) * s[c]);
            for (int i = 0; i < in; i++) a[j * in + i] = (float) v.get(i, c);
        }
        return new float[][] {a, b};
    }

    /** Reads, combines and writes a new PEFT adapter directory (atomically: a temporary directory renamed into place). */
    public static void combine(Path modelDir, List<Merger.Weighted> specs, Method method, int rank, Path out) throws IOException {
        if (specs.size() < 2) throw new Lora4jException("combine needs at least two --adapter");
        if (Files.exists(out)) throw new Lora4jException(out + ": exists; combine writes a new adapter directory");
        try (Transformer base = Transformer.load(modelDir)) {
            List<LoraModel> adapters = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (Merger.Weighted w : specs) {
                adapters.add(PeftAdapter.load(w.dir(), base));
                weights.add(w.weight());
            }
            LoraModel combined = combine(base, adapters, weights, method, rank);
            AtomicFiles.writeDirectory(out, dir -> PeftAdapter.save(dir, combined, modelDir.toString()));
        }
    }
}
