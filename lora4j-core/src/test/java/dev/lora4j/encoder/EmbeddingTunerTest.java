package dev.lora4j.encoder;

import dev.lora4j.TestPaths;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.train.Optimizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** LoRA embedding fine-tuning with the in-batch contrastive loss: its gradients, that it learns, and its files. */
class EmbeddingTunerTest {
    @TempDir
    Path tmp;

    static final List<int[]> ANCHORS = List.of(new int[] {2, 7, 9, 30, 4}, new int[] {5, 1, 60, 33, 12, 8}, new int[] {11, 13, 17}),
            POSITIVES = List.of(new int[] {2, 7, 31, 4}, new int[] {5, 1, 59, 12, 8, 3, 44}, new int[] {11, 14, 17, 19});

    /** Every LoRA gradient of the loss against central differences of the loss itself (fp32 forward, so a loose bound). */
    @Test
    void gradientsMatchFiniteDifferencesOfTheLoss() {
        try (Bert base = Bert.load(TestPaths.fixture("bert-tiny"))) {
            EmbeddingTuner t = new EmbeddingTuner(base, LoraConfig.builder().r(2).alpha(4).build(), 3);
            SplittableRandom rnd = new SplittableRandom(5);
            for (LoraLinear l : t.modules().values()) for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) rnd.nextDouble(-0.5, 0.5);
            t.lossAndGradients(ANCHORS, POSITIVES);
            LoraLinear l = t.modules().values().iterator().next();
            float[] gb = l.gradB().clone(), ga = l.gradA().clone();
            for (float[][] pair : new float[][][] {{l.b(), gb}, {l.a(), ga}})
                for (int i = 0; i < pair[0].length; i += 7) {
                    float old = pair[0][i], h = 1e-2f;
                    pair[0][i] = old + h;
                    double up = t.lossAndGradients(ANCHORS, POSITIVES);
                    pair[0][i] = old - h;
                    double down = t.lossAndGradients(ANCHORS, POSITIVES);
                    pair[0][i] = old;
                    double numeric = (up - down) / (2 * h);
                    assertThat((double) pair[1][i]).as("entry %d", i).isCloseTo(numeric, offset(2e-3 + 2e-2 * Math.abs(numeric)));
                }
        }
    }

    /** all-MiniLM-L6-v2 learns made-up pairings (codes for words) it cannot know: the loss falls, and the saved adapter gives the tuned vectors. */
    @Test
    void learnsOnTheRealModelAndSavesAPeftAdapter() throws Exception {
        Path dir = tmp.resolve("minilm");
        try (java.io.InputStream in = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2.onnx")) {
            java.nio.file.Files.copy(in, tmp.resolve("m.onnx"));
        }
        try (java.io.InputStream in = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            java.nio.file.Files.copy(in, tmp.resolve("tokenizer.json"));
        }
        BertOnnx.convert(tmp.resolve("m.onnx"), dir, null, BertConfig.Pooling.MEAN, true);
        String[] words = {"river", "mountain", "violin", "harbour", "lantern", "orchard", "glacier", "compass"};
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < words.length; i++) pairs.add(new String[] {"code " + (char) ('A' + i) + (char) ('Q' + i), "a " + words[i]});
        try (Bert base = Bert.load(dir)) {
            EmbeddingTuner t = new EmbeddingTuner(base, LoraConfig.builder().r(8).alpha(16).build(), 1);
            List<Double> losses = new ArrayList<>();
            t.train(pairs, 30, 8, 32, new Optimizer.AdamW(t.parameters(), 0.9f, 0.999f, 1e-8f, 0f), 2e-3f, (step, loss) -> losses.add(loss));
            assertThat(losses.getLast()).isLessThan(0.5 * losses.getFirst());
            t.save(tmp.resolve("adapter"), dir.toString());
            Bert loaded = EmbeddingTuner.load(base, tmp.resolve("adapter"));
            List<String> texts = List.of("code AQ", "a river");
            float[] tuned = t.model().embed(texts, 32), again = loaded.embed(texts, 32);
            assertThat(again).containsExactly(tuned);
            float[] before = base.embed(texts, 32);
            assertThat(cos(tuned, 0, 384)).isGreaterThan(cos(before, 0, 384) + 0.1);
            // merged into the original ONNX graph, ONNX Runtime computes the tuned embeddings
            BertOnnx.exportMerged(dir.resolve("model.onnx"), t.modules(), tmp.resolve("tuned.onnx"));
            float[] ort = onnxRuntimeEmbeddings(tmp.resolve("tuned.onnx"), base, texts);
            for (int i = 0; i < texts.size(); i++) {
                double dot = 0;
                for (int d = 0; d < 384; d++) dot += (double) ort[i * 384 + d] * tuned[i * 384 + d];
                assertThat(dot).as("cosine of text %d, ONNX Runtime on the exported file vs lora4j", i).isGreaterThan(0.99999);
            }
        }
    }

    /** Mean-pooled, normalised embeddings that ONNX Runtime computes with the file, one text at a time. */
    static float[] onnxRuntimeEmbeddings(Path onnx, Bert tokenizerOwner, List<String> texts) throws Exception {
        var env = ai.onnxruntime.OrtEnvironment.getEnvironment();
        float[] out = new float[texts.size() * 384];
        try (var s = env.createSession(onnx.toString(), new ai.onnxruntime.OrtSession.SessionOptions())) {
            for (int i = 0; i < texts.size(); i++) {
                int[] ids = tokenizerOwner.tokenizer().encodeWithSpecialTokens(texts.get(i));
                long[] l = new long[ids.length], m = new long[ids.length];
                for (int j = 0; j < ids.length; j++) {
                    l[j] = ids[j];
                    m[j] = 1;
                }
                long[] shape = {1, ids.length};
                try (var a = ai.onnxruntime.OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(l), shape);
                     var mk = ai.onnxruntime.OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(m), shape);
                     var ty = ai.onnxruntime.OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(new long[ids.length]), shape);
                     var r = s.run(java.util.Map.of("input_ids", a, "attention_mask", mk, "token_type_ids", ty))) {
                    float[][] h = ((float[][][]) r.get(0).getValue())[0];
                    float[] flat = new float[ids.length * 384];
                    for (int j = 0; j < ids.length; j++) System.arraycopy(h[j], 0, flat, j * 384, 384);
                    System.arraycopy(tokenizerOwner.poolPacked(flat, new int[] {0, ids.length}), 0, out, i * 384, 384);
                }
            }
        }
        return out;
    }

    static double cos(float[] e, int a, int c) {
        double d = 0;
        for (int i = 0; i < c; i++) d += e[a + i] * e[c + i];
        return d;
    }
}
