package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.bench.MatmulBench;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks. 'matmul': fp32 GEMM GFLOP/s on the shapes of a GPT-2-small training step in the",
                "layouts forward and backward use (NN, NT = A·Bᵀ, TN = Aᵀ·B). bench/matmul.sh runs it beside OpenBLAS."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "WHAT", description = "What to measure: matmul.")
    String what;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--seconds", defaultValue = "1.5", paramLabel = "S", description = "Time per case, warm-up included (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Print one JSON object per case instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!what.equals("matmul")) throw new dev.lora4j.Lora4jException("bench: unknown benchmark '" + what + "' (expected matmul)");
        if (threads != null) Parallel.setThreads(Options.positive("--threads", threads));
        if (!json) System.out.printf("fp32 matmul, %s, %d thread(s)%n%-22s %10s %10s%n", Kernels.describe(), Parallel.threads(), "M x K x N layout", "GFLOP/s", "ms");
        List<Map<String, Object>> rows = new ArrayList<>();
        ObjectMapper om = new ObjectMapper();
        for (MatmulBench.Case cs : MatmulBench.gpt2SmallCases()) {
            MatmulBench.Result r = MatmulBench.run(cs, seconds);
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("m", cs.m());
                o.put("k", cs.k());
                o.put("n", cs.n());
                o.put("layout", cs.layout());
                o.put("gflops", r.gflops());
                o.put("ms", r.millis());
                System.out.println(om.writeValueAsString(o));
            } else {
                System.out.printf("%-22s %10.1f %10.2f%n", cs, r.gflops(), r.millis());
            }
        }
        return 0;
    }
}
