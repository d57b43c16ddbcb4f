package dev.lora4j.encoder;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tokenizer.Tokenizer;

import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Sentence-embedding throughput of all-MiniLM-L6-v2, lora4j against ONNX Runtime on the same ONNX file, same token
 * ids, batches of 32, the same number of threads; the two alternated, best of the rounds. A benchmark, not a test:
 * bench/embed.sh runs it. Arguments: [texts file] [threads] [rounds].
 */
public final class EmbedBench {
    public static void main(String[] args) throws Exception {
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2, rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3, batch = 32;
        Parallel.setThreads(threads);
        Path tmp = Files.createTempDirectory("lora4j-embed-bench"), onnx = tmp.resolve("model.onnx");
        try (InputStream in = EmbedBench.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2.onnx")) {
            Files.copy(in, onnx);
        }
        try (InputStream in = EmbedBench.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            Files.copy(in, tmp.resolve("tokenizer.json"));
        }
        BertOnnx.convert(onnx, tmp.resolve("hf"), null, BertConfig.Pooling.MEAN, true);
        List<String> texts = new ArrayList<>();
        for (String l : Files.readAllLines(Path.of(args.length > 0 ? args[0] : "README.md"))) if (l.length() > 20) texts.add(l.length() > 300 ? l.substring(0, 300) : l);
        texts = texts.subList(0, Math.min(texts.size(), 512));
        try (Bert bert = Bert.load(tmp.resolve("hf"))) {
            Tokenizer tok = bert.tokenizer();
            List<int[][]> batches = new ArrayList<>(); // {ids, mask, {b, t}}
            long tokens = 0;
            for (int s = 0; s < texts.size(); s += batch) {
                List<String> part = texts.subList(s, Math.min(texts.size(), s + batch));
                List<int[]> enc = new ArrayList<>();
                int t = 0;
                for (String x : part) {
                    int[] ids = tok.encodeWithSpecialTokens(x);
                    enc.add(ids);
                    t = Math.max(t, ids.length);
                    tokens += ids.length;
                }
                int b = part.size();
                int[] ids = new int[b * t], mask = new int[b * t];
                for (int i = 0; i < b; i++) for (int j = 0; j < enc.get(i).length; j++) {
                    ids[i * t + j] = enc.get(i)[j];
                    mask[i * t + j] = 1;
                }
                batches.add(new int[][] {ids, mask, {b, t}});
            }
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            OrtSession.SessionOptions so = new OrtSession.SessionOptions();
            so.setIntraOpNumThreads(threads);
            so.setInterOpNumThreads(1);
            double bestOurs = Double.MAX_VALUE, bestOrt = Double.MAX_VALUE;
            try (OrtSession session = env.createSession(onnx.toString(), so)) {
                for (int round = -1; round < rounds; round++) { // round -1 warms both up
                    long t0 = System.nanoTime();
                    for (int[][] bt : batches) {
                        int b = bt[2][0], t = bt[2][1];
                        bert.pool(bert.hidden(bt[0], new int[b * t], bt[1], b, t), bt[1], b, t);
                    }
                    long t1 = System.nanoTime();
                    for (int[][] bt : batches) {
                        int b = bt[2][0], t = bt[2][1];
                        long[] ids = new long[b * t], mask = new long[b * t];
                        for (int i = 0; i < ids.length; i++) {
                            ids[i] = bt[0][i];
                            mask[i] = bt[1][i];
                        }
                        long[] shape = {b, t};
                        try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
                             OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                             OnnxTensor ty = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * t]), shape);
                             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", ty))) {
                            float[][][] h = (float[][][]) r.get(0).getValue();
                            float[] flat = new float[b * t * 384];
                            for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) System.arraycopy(h[i][j], 0, flat, (i * t + j) * 384, 384);
                            bert.pool(flat, bt[1], b, t); // the same pooling on both sides
                        }
                    }
                    long t2 = System.nanoTime();
                    if (round >= 0) {
                        bestOurs = Math.min(bestOurs, (t1 - t0) / 1e9);
                        bestOrt = Math.min(bestOrt, (t2 - t1) / 1e9);
                    }
                }
            }
            System.out.printf(java.util.Locale.ROOT, "all-MiniLM-L6-v2, %d texts (%d tokens with padding excluded), batches of %d, %d threads, best of %d:%n",
                    texts.size(), tokens, batch, threads, rounds);
            System.out.printf(java.util.Locale.ROOT, "  ONNX Runtime %s  %.1f sentences/s%n", "1.20.0", texts.size() / bestOrt);
            System.out.printf(java.util.Locale.ROOT, "  lora4j              %.1f sentences/s  (%.2fx ONNX Runtime)%n", texts.size() / bestOurs, bestOrt / bestOurs);
        }
    }
}
