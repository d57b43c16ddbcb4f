package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.merge.Combiner;
import dev.lora4j.merge.Merger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "combine", mixinStandardHelpOptions = true,
        description = {"Combine weighted adapters into one new PEFT adapter.",
                "linear (equal ranks; weighted sums of A and of B, as PEFT does), cat (ranks concatenated; the exact",
                "weighted sum of updates), svd (that sum truncated to --rank)."})
final class CombineCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The base all adapters were made for.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR[:WEIGHT]", description = "PEFT adapter, optionally weighted (at least two).")
    List<String> adapters;

    @Option(names = "--method", defaultValue = "cat", description = "linear, cat or svd (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--rank", defaultValue = "0", description = "svd: the rank of the result (default: the sum of the ranks).")
    int rank;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "New adapter directory (must not exist).")
    Path out;

    @Override
    public Integer call() throws Exception {
        Combiner.Method m = switch (method.toLowerCase()) {
            case "linear" -> Combiner.Method.LINEAR;
            case "cat" -> Combiner.Method.CAT;
            case "svd" -> Combiner.Method.SVD;
            default -> throw new Lora4jException("--method must be linear, cat or svd, got '" + method + "'");
        };
        List<Merger.Weighted> specs = adapters.stream().map(Merger.Weighted::parse).toList();
        if (rank < 0) throw new Lora4jException("--rank must be >= 0 (0: the sum of the ranks), got " + rank);
        if (rank != 0 && m != Combiner.Method.SVD)
            throw new Lora4jException("--rank applies to --method svd only; " + method + " keeps the adapters' own ranks");
        int r = rank;
        if (m == Combiner.Method.SVD && r == 0)
            for (Merger.Weighted w : specs) r += dev.lora4j.lora.PeftAdapter.readConfig(w.dir()).r();
        Combiner.combine(model, specs, m, r, out);
        System.out.println("combined " + adapters.size() + " adapters (" + method + ") into " + out);
        return 0;
    }
}
