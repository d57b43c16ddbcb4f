package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.analysis.Analysis;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Transformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.lora4j.lab.Report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = {"What an adapter learned (LoRA paper §7).",
                "Per module ‖ΔW‖_F, ‖W‖_F, ‖UᵀWV‖_F for the top-r singular",
                "vectors of ΔW, of W and of a random matrix, the amplification ‖ΔW‖_F/‖UᵀWV‖_F, ΔW's singular values;",
                "with --compare, the subspace similarity φ(i, j) of the two adapters' A matrices."})
final class AnalyzeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The base checkpoint.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "The PEFT adapter to analyse.")
    Path adapter;

    @Option(names = "--compare", paramLabel = "DIR", description = "A second adapter over the same base, for subspace similarity.")
    Path compare;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random reference matrices (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object {\"modules\": [...]} (with \"similarity\" under --compare).")
    boolean json;

    @Option(names = "--report", paramLabel = "DIR", description = "Write DIR/index.html: the table, amplification and norm charts, similarity heat maps.")
    Path report;

    @Override
    public Integer call() throws Exception {
        try (Transformer base = Transformer.load(model)) {
            LoraModel a = PeftAdapter.load(adapter, base);
            LoraModel b = compare == null ? null : PeftAdapter.load(compare, base);
            ObjectMapper om = new ObjectMapper();
            List<Analysis.Module> modules = Analysis.analyze(a, seed);
            Report rep = new Report("lora4j analyze: " + adapter.getFileName());
            ObjectNode root = om.createObjectNode();
            ArrayNode mods = root.putArray("modules");
            rep.heading("Per module");
            if (!json) System.out.printf("%-44s %4s %10s %10s %10s %10s %10s %8s%n", "module", "r", "|dW|_F", "|W|_F", "dW-proj", "W-proj", "rand-proj", "amplif.");
            for (Analysis.Module m : modules) {
                ObjectNode o = mods.addObject();
                o.put("name", m.name());
                o.put("rank", m.rank());
                o.put("delta_fro", m.deltaFro());
                o.put("w_fro", m.wFro());
                o.put("proj_delta", m.projDelta());
                o.put("proj_w", m.projW());
                o.put("proj_random", m.projRandom());
                o.put("amplification", m.amplification());
                ArrayNode sv = o.putArray("singular_values");
                for (double s : m.singularValues()) sv.add(s);
                if (!json) System.out.printf(Locale.ROOT, "%-44s %4d %10.4f %10.4f %10.4f %10.4f %10.4f %8.2f%n", m.name(), m.rank(), m.deltaFro(),
                        m.wFro(), m.projDelta(), m.projW(), m.projRandom(), m.amplification());
            }
            if (report != null) {
                List<List<String>> rows = new ArrayList<>();
                Map<String, Double> amp = new LinkedHashMap<>(), ratio = new LinkedHashMap<>();
                for (Analysis.Module m : modules) {
                    rows.add(List.of(m.name(), Integer.toString(m.rank()), f(m.deltaFro()), f(m.wFro()), f(m.projDelta()), f(m.projW()),
                            f(m.projRandom()), f(m.amplification())));
                    amp.put(m.name(), m.amplification());
                    ratio.put(m.name(), m.deltaFro() / m.wFro());
                }
                rep.paragraph("Base " + model + ", adapter " + adapter + ". U, V: the top-r singular vectors of ΔW (ΔW-proj), of W (W-proj), "
                        + "of a random Gaussian matrix (random-proj); amplification = ‖ΔW‖_F / ‖UᵀWV‖_F with ΔW's own U, V (LoRA paper §7.3).");
                rep.table(List.of("module", "r", "‖ΔW‖_F", "‖W‖_F", "ΔW-proj", "W-proj", "random-proj", "amplification"), rows);
                rep.bars("amplification.png", "amplification factor per module", "‖ΔW‖_F / ‖UᵀWV‖_F", amp);
                rep.bars("delta-vs-w.png", "‖ΔW‖_F / ‖W‖_F per module", "ratio", ratio);
            }
            if (b != null) {
                rep.heading("Subspace similarity with " + compare.getFileName());
                ObjectNode sim = root.putObject("similarity");
                for (LoraLinear la : a.modules().values()) {
                    LoraLinear lb = b.modules().get(la.name());
                    if (lb == null) continue;
                    double[][] phi = Analysis.similarity(la.a(), la.rank(), lb.a(), lb.rank(), la.in());
                    ArrayNode rows = sim.putArray(la.name());
                    for (double[] row : phi) {
                        ArrayNode r = rows.addArray();
                        for (double x : row) r.add(x);
                    }
                    if (!json) System.out.printf(Locale.ROOT, "similarity %s: phi(1,1) = %.3f, phi(%d,%d) = %.3f%n", la.name(), phi[0][0],
                            la.rank(), lb.rank(), phi[la.rank() - 1][lb.rank() - 1]);
                    if (report != null) rep.heatMap("similarity-" + la.name() + ".png", "phi(i, j), " + la.name(), "j (" + compare.getFileName() + ")",
                            "i (" + adapter.getFileName() + ")", phi);
                }
                if (sim.isEmpty()) throw new Lora4jException(compare + ": shares no adapted module with " + adapter);
            }
            if (report != null) {
                rep.write(report);
                if (!json) System.out.println("report: " + report.resolve("index.html"));
            }
            if (json) System.out.println(om.writeValueAsString(root));
        }
        return 0;
    }

    private static String f(double x) {
        return String.format(Locale.ROOT, "%.4f", x);
    }
}
