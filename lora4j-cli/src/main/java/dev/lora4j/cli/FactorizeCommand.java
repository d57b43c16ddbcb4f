package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.analysis.Svd;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "factorize", mixinStandardHelpOptions = true,
        description = {"Low-rank factorisation of one weight matrix by truncated SVD.",
                "M ≈ A·B at each rank, with the",
                "relative Frobenius error, the energy kept, and the effective rank; --out writes the factors."})
final class FactorizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model directory.")
    Path model;

    @Option(names = {"--module", "--tensor"}, required = true, paramLabel = "NAME",
            description = "A module, as every other command names it (e.g. model.layers.0.self_attn.q_proj: its weight), or a 2-D tensor of the checkpoint.")
    String tensor;

    @Option(names = "--ranks", split = ",", defaultValue = "1,2,4,8,16,32,64", description = "Ranks (default: ${DEFAULT-VALUE}).")
    List<Integer> ranks;

    @Option(names = "--out", paramLabel = "DIR", description = "Write factors.safetensors (A_r (m, r) = U·Σ, B_r (r, n) = Vᵀ per rank), with the report and error-vs-rank.png.")
    Path out;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--report", paramLabel = "DIR", description = "Write DIR/index.html with the table, error against rank, and the spectrum.")
    Path report;

    @Override
    public Integer call() throws Exception {
        try (ModelFiles ck = ModelFiles.open(model)) {
            if (!ck.has(tensor) && ck.has(tensor + ".weight")) tensor = tensor + ".weight"; // a module: its weight
            if (!ck.has(tensor)) {
                String[] parts = tensor.split("\\.");
                String tail = parts.length >= 2 ? parts[parts.length - 2] + "." + parts[parts.length - 1] : tensor;
                List<String> close = ck.names().stream()
                        .sorted(Comparator.<String>comparingInt(n -> n.endsWith(tail) ? 0 : 1).thenComparingInt(n -> distance(n, tensor)))
                        .limit(5).toList();
                throw new Lora4jException(model + ": no tensor '" + tensor + "'; closest: " + String.join(", ", close));
            }
            Tensor t = ck.tensor(tensor);
            if (t.rank() != 2) throw new Lora4jException(tensor + " has shape " + t.shapeString() + "; factorize needs a 2-D tensor");
            int m = t.dim(0), n = t.dim(1);
            for (int r : ranks)
                if (r < 1 || r > Math.min(m, n)) throw new Lora4jException("rank " + r + " is not possible for " + tensor + " (" + m + " x " + n + "): 1.." + Math.min(m, n));
            float[] f = t.toArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            Svd svd = Svd.of(d, m, n);
            double total = 0;
            for (double s : svd.s()) total += s * s;
            ObjectMapper om = new ObjectMapper();
            ObjectNode root = om.createObjectNode();
            root.put("tensor", tensor);
            root.putArray("shape").add(m).add(n);
            root.put("effective_rank", svd.effectiveRank());
            var rows = root.putArray("ranks");
            if (!json) System.out.printf(Locale.ROOT, "%s %s, effective rank %.2f%n%6s %12s %10s%n", tensor, t.shapeString(), svd.effectiveRank(), "rank", "rel. error", "energy");
            Map<String, Tensor> factors = new LinkedHashMap<>();
            for (int r : ranks) {
                double kept = 0;
                for (int i = 0; i < r; i++) kept += svd.s()[i] * svd.s()[i];
                double err = svd.relativeError(r), energy = total == 0 ? 1 : kept / total;
                rows.addObject().put("rank", r).put("relative_error", err).put("energy", energy);
                if (!json) System.out.printf(Locale.ROOT, "%6d %12.6f %10.6f%n", r, err, energy);
                if (out != null) {
                    float[] a = new float[m * r], b = new float[r * n];
                    for (int i = 0; i < m; i++) for (int j = 0; j < r; j++) a[i * r + j] = (float) (svd.u()[i * svd.k() + j] * svd.s()[j]);
                    for (int j = 0; j < r; j++) for (int i = 0; i < n; i++) b[j * n + i] = (float) svd.v()[i * svd.k() + j];
                    factors.put("A_" + r, Tensor.of("A_" + r, a, m, r));
                    factors.put("B_" + r, Tensor.of("B_" + r, b, r, n));
                }
            }
            if (out != null && Files.exists(out) && (!Files.isDirectory(out) || !isEmpty(out)))
                throw new Lora4jException(out + ": exists and is not an empty directory; --out takes a new directory");
            dev.lora4j.lab.Report rep = null;
            if (report != null || out != null) {
                rep = new dev.lora4j.lab.Report("lora4j factorize: " + tensor);
                rep.paragraph(model + ": " + tensor + " " + t.shapeString() + ", effective rank " + String.format(Locale.ROOT, "%.2f", svd.effectiveRank()));
                List<List<String>> table = new java.util.ArrayList<>();
                double[][] curve = new double[svd.k()][], spectrum = new double[svd.k()][];
                for (int r = 1; r <= svd.k(); r++) {
                    curve[r - 1] = new double[] {r, svd.relativeError(r)};
                    spectrum[r - 1] = new double[] {r, svd.s()[r - 1]};
                }
                for (int r : ranks) table.add(List.of(Integer.toString(r), String.format(Locale.ROOT, "%.6f", svd.relativeError(r))));
                rep.table(List.of("rank", "relative Frobenius error"), table);
                rep.lines("error-vs-rank.png", "relative error of the best rank-k approximation", "rank k", "‖M − M_k‖_F / ‖M‖_F",
                        Map.of("error", curve), false);
                rep.lines("spectrum.png", "singular values", "index", "singular value", Map.of("σ", spectrum), true);
            }
            if (out != null) {
                // the factors and their report, all or nothing (a full disk leaves no half of it)
                dev.lora4j.lab.Report withFactors = report == null ? rep : null;
                dev.lora4j.io.AtomicFiles.writeDirectory(out, dir -> {
                    SafeTensorsWriter.write(dir.resolve("factors.safetensors"), factors, DType.F32, Map.of("tensor", tensor));
                    if (withFactors != null) withFactors.write(dir);
                });
            }
            if (report != null) rep.write(report);
            Path reportDir = report != null ? report : out;
            if (reportDir != null && !json) System.out.println("report: " + reportDir.resolve("index.html"));
            if (json) System.out.println(om.writeValueAsString(root));
        }
        return 0;
    }

    private static boolean isEmpty(Path dir) throws java.io.IOException {
        try (var entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] tmp = prev;
            prev = cur;
            cur = tmp;
        }
        return prev[b.length()];
    }
}
