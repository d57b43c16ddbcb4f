package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.bench.MatmulBench;
import dev.lora4j.bench.TrainBench;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks: matmul, train, serve, streams, decode, tokenize.",
                "'matmul': fp32 GEMM GFLOP/s on the shapes of a GPT-2-small training step in the",
                "layouts forward and backward use (NN, NT = A·Bᵀ, TN = Aᵀ·B). bench/matmul.sh runs it beside OpenBLAS."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "WHAT", description = "What to measure: matmul, train (training throughput and peak memory), serve (forward latency with merged, unmerged and mixed adapters), tokenize (tokenizer load time and encode tokens/s), streams (concurrent decode streams through the continuous batcher, 1 or 16 adapters: tokens/s end to end and while decoding, time to first token, per-token latency) or decode (prompt and decode tokens/s beside the measured read bandwidth).")
    String what;

    @Option(names = "--model", paramLabel = "DIR", description = "train, serve, decode: the checkpoint (bench/train_torch.py make writes a random GPT-2-small one).")
    java.nio.file.Path model;

    @Option(names = "--batch-size", defaultValue = "4", description = "train: batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seq-len", defaultValue = "256", description = "train, serve: sequence length; decode: prompt length (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--r", defaultValue = "8", description = "train: LoRA rank (default: ${DEFAULT-VALUE}).")
    int r;

    @Option(names = "--target", description = "train: modules to adapt (default: the model type's default).")
    String target;

    @Option(names = "--steps", defaultValue = "6", description = "train: timed steps after 2 warm-up steps; serve: repetitions; decode, streams: new tokens (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--full", description = "train: full fine-tuning instead of LoRA (the baseline).")
    boolean full;

    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();
    @picocli.CommandLine.Mixin
    QuantizeOption quantize = new QuantizeOption();

    @Option(names = "--seconds", defaultValue = "1.5", paramLabel = "S", description = "Time per case, warm-up included (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Print one JSON object per case instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if (quantize.quantize != null && !what.equals("decode") && !what.equals("streams"))
            throw new dev.lora4j.Lora4jException("bench: --quantize applies to decode and streams (time training over a quantized base with lora4j train --quantize)");
        if (what.equals("train")) return train();
        if (what.equals("serve")) return serve();
        if (what.equals("decode")) return decode();
        if (what.equals("streams")) return streams();
        if (what.equals("tokenize")) return tokenize();
        if (!what.equals("matmul")) throw new dev.lora4j.Lora4jException("bench: unknown benchmark '" + what + "' (expected matmul, train, serve, streams, decode or tokenize)");
        if (casesFromStdin) return matmulFromStdin();
        if (!json) System.out.printf("fp32 matmul, %s, %d thread(s)%n%-22s %10s %10s%n", Kernels.describe(), Parallel.threads(), "M x K x N layout", "GFLOP/s", "ms");
        for (MatmulBench.Case cs : MatmulBench.gpt2SmallCases()) {
            MatmulBench.Result r = MatmulBench.run(cs, seconds);
            if (json) System.out.println(matmulJson(r));
            else System.out.printf("%-22s %10.1f %10.2f%n", cs, r.gflops(), r.millis());
        }
        return 0;
    }

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenize: a tokenizer.json (or a model directory).")
    Path tokenizerFile;

    @Option(names = "--text", paramLabel = "FILE", description = "tokenize: text to encode, one document a line (\\n inside a line stands for a newline).")
    Path textFile;

    /** Load time of a tokenizer.json and single-thread encode throughput over a text file, one JSON line. */
    private int tokenize() throws Exception {
        if (tokenizerFile == null || textFile == null) throw new dev.lora4j.Lora4jException("bench tokenize needs --tokenizer FILE and --text FILE");
        var r = dev.lora4j.bench.TokenizeBench.run(tokenizerFile, textFile);
        System.out.println(new ObjectMapper().writeValueAsString(Map.of("impl", "lora4j", "load_ms", r.loadMillis(), "tokens", r.tokens(),
                "tokens_per_s", r.tokensPerSecond())));
        return 0;
    }

    @Option(names = "--cases-from-stdin", description = "matmul: read cases 'M K N LAYOUT' from stdin, one a line, and answer each with a JSON line (for a driver that alternates lora4j and its anchor case by case).")
    boolean casesFromStdin;

    private int matmulFromStdin() throws Exception {
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isBlank()) continue;
            String[] f = line.trim().split("\\s+");
            if (f.length != 4 || !f[3].matches("[NT][NT]"))
                throw new dev.lora4j.Lora4jException("stdin: expected 'M K N LAYOUT' (LAYOUT one of NN, NT, TN, TT), got '" + line + "'");
            MatmulBench.Case cs;
            try {
                cs = new MatmulBench.Case(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]), f[3]);
            } catch (NumberFormatException e) {
                throw new dev.lora4j.Lora4jException("stdin: expected 'M K N LAYOUT' with whole numbers, got '" + line + "'");
            }
            System.out.println(matmulJson(MatmulBench.run(cs, seconds)));
            System.out.flush();
        }
        return 0;
    }

    private static String matmulJson(MatmulBench.Result r) throws Exception {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("m", r.shape().m());
        o.put("k", r.shape().k());
        o.put("n", r.shape().n());
        o.put("layout", r.shape().layout());
        o.put("gflops", r.gflops());
        o.put("ms", r.millis());
        return new ObjectMapper().writeValueAsString(o);
    }

    private int train() throws Exception {
        if (model == null) throw new dev.lora4j.Lora4jException("bench train needs --model DIR");
        var targets = target == null ? null : dev.lora4j.lora.LoraConfig.parseTargets(target);
        TrainBench.Result res = TrainBench.run(model, full, targets, r, batchSize, seqLen, steps);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("impl", "lora4j");
        o.put("mode", full ? "full" : "lora");
        o.put("tokens_per_s", res.tokensPerSecond());
        o.put("seconds_per_step", res.secondsPerStep());
        o.put("peak_rss_bytes", res.peakRssBytes());
        o.put("trainable", res.trainable());
        o.put("threads", Parallel.threads());
        if (json) System.out.println(new ObjectMapper().writeValueAsString(o));
        else System.out.printf(java.util.Locale.ROOT, "%s training, %d x %d: %.1f tokens/s (%.3f s/step), peak RSS %.2f GiB, %,d trainable%n",
                full ? "full" : "LoRA (r = " + r + ")", batchSize, seqLen, res.tokensPerSecond(), res.secondsPerStep(),
                res.peakRssBytes() / 1073741824.0, res.trainable());
        return 0;
    }

    @Option(names = "--streams", split = ",", defaultValue = "1,4,16,32", description = "streams: concurrent streams per case (default: ${DEFAULT-VALUE}).")
    int[] streams;

    private int streams() throws Exception {
        if (model == null) throw new dev.lora4j.Lora4jException("bench streams needs --model DIR");
        for (int c : streams) if (c < 1 || c > 1024) throw new dev.lora4j.Lora4jException("--streams must be in [1, 1024], got " + c);
        if (steps < 2 || steps > 4096) throw new dev.lora4j.Lora4jException("--steps (new tokens a stream) must be in [2, 4096], got " + steps);
        if (!json) System.out.printf("%8s %9s %12s %12s %10s %10s %12s %12s%n", "streams", "adapters", "tokens/s", "decode tok/s", "ttft p50", "ttft p99", "ms/tok p50", "ms/tok p99");
        for (var r : dev.lora4j.bench.StreamsBench.run(model, quantize.type(), streams, steps)) {
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("impl", "lora4j");
                o.put("streams", r.streams());
                o.put("adapters", r.adapters());
                o.put("tokens_per_s", r.tokensPerSecond());
                o.put("decode_tokens_per_s", r.decodeTokensPerSecond());
                o.put("ttft_ms_p50", r.ttftP50());
                o.put("ttft_ms_p99", r.ttftP99());
                o.put("ms_per_token_p50", r.perTokenP50());
                o.put("ms_per_token_p99", r.perTokenP99());
                o.put("threads", Parallel.threads());
                System.out.println(new ObjectMapper().writeValueAsString(o));
            } else System.out.printf(java.util.Locale.ROOT, "%8d %9d %12.1f %12.1f %10.1f %10.1f %12.1f %12.1f%n", r.streams(), r.adapters(),
                    r.tokensPerSecond(), r.decodeTokensPerSecond(), r.ttftP50(), r.ttftP99(), r.perTokenP50(), r.perTokenP99());
        }
        return 0;
    }

    private int decode() throws Exception {
        if (model == null) throw new dev.lora4j.Lora4jException("bench decode needs --model DIR");
        try (dev.lora4j.model.Transformer m = dev.lora4j.model.Quantization.load(model, quantize.type(), q -> System.err.println(q.describe()))) {
            var res = dev.lora4j.bench.DecodeBench.run(m, seqLen, steps, 3);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("impl", "lora4j");
            o.put("quantize", quantize.type() == null ? null : quantize.type().label);
            o.put("prompt_tokens_per_s", res.promptTokensPerSecond());
            o.put("decode_tokens_per_s", res.decodeTokensPerSecond());
            o.put("weight_bytes", res.weightBytes());
            o.put("bandwidth_gb_per_s", res.bandwidthBytesPerSecond() / 1e9);
            o.put("fraction_of_bandwidth_limit", res.fractionOfLimit());
            o.put("weights_copied_for_decoding", res.weightsOnHeap());
            o.put("threads", Parallel.threads());
            if (json) System.out.println(new ObjectMapper().writeValueAsString(o));
            else System.out.printf(java.util.Locale.ROOT, "batch 1, %d-token prompt: prompt %.0f tokens/s; decode %.1f tokens/s, reading %.0f MB of weights a token%n"
                            + "read bandwidth %.1f GB/s, so decode runs at %.0f%% of its bandwidth limit (%.1f tokens/s)%n",
                    seqLen, res.promptTokensPerSecond(), res.decodeTokensPerSecond(), res.weightBytes() / 1e6,
                    res.bandwidthBytesPerSecond() / 1e9, 100 * res.fractionOfLimit(), res.bandwidthBytesPerSecond() / res.weightBytes());
        }
        return 0;
    }

    private int serve() throws Exception {
        if (model == null) throw new dev.lora4j.Lora4jException("bench serve needs --model DIR");
        try (dev.lora4j.model.Transformer base = dev.lora4j.model.Transformer.load(model)) {
            var rows = dev.lora4j.bench.ServeBench.run(base, seqLen, steps);
            ObjectMapper om = new ObjectMapper();
            if (!json) System.out.printf("forward latency, %d tokens a sequence, %d thread(s), best of %d%n| | batch | ms | relative |%n|---|---:|---:|---:|%n",
                    seqLen, Parallel.threads(), steps);
            for (var r : rows) {
                if (json) System.out.println(om.writeValueAsString(r));
                else System.out.printf(java.util.Locale.ROOT, "| %s | %d | %.1f | %.2f |%n", r.what(), r.batch(), r.millis(), r.relative());
            }
        }
        return 0;
    }
}
