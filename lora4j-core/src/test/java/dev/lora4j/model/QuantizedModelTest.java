package dev.lora4j.model;

import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.quant.QuantType;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A quantized base computes what the same model with its weights dequantized to fp32 computes: the
 * prompt's pass (weights dequantized as the matmul packs them), the decode step (rows dequantized as they
 * stream) and LoRA's backward pass through the frozen quantized weights. The quantization error itself is
 * the formats' business (QuantFormatsTest); here only the kernels around them are on trial.
 */
class QuantizedModelTest {
    static Transformer base;

    @BeforeAll
    static void load() {
        base = Transformer.load(TestPaths.bundledModel());
    }

    @AfterAll
    static void close() {
        base.close();
    }

    /** The quantized model with every quantized tensor replaced by its fp32 values. */
    static Transformer dequantized(Transformer q) {
        List<Block> blocks = new ArrayList<>();
        for (Block b : q.blocks())
            blocks.add(b.map(n -> n, p -> {
                Linear l = (Linear) p;
                if (l.weight().quant() == null) return l;
                return new Linear(l.name(), Tensor.of(l.weight().name(), l.weight().toArray(), l.out(), l.in()), l.bias(), l.in(), l.out(), false);
            }));
        Tensor wte = plain(q.tokenEmbedding()), head = q.head() == q.tokenEmbedding() ? wte : plain(q.head());
        return new Transformer(q.config(), wte, q.positionEmbedding(), blocks, q.finalNorm(), head, q.source());
    }

    static Tensor plain(Tensor t) {
        return t.quant() == null ? t : Tensor.of(t.name(), t.toArray(), t.shape());
    }

    static double relativeError(float[] got, float[] want) {
        double d = 0, n = 0;
        for (int i = 0; i < want.length; i++) {
            d += Math.pow(got[i] - want[i], 2);
            n += Math.pow(want[i], 2);
        }
        return Math.sqrt(d / n);
    }

    static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(vocab);
        return t;
    }

    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"INT8", "NF4", "Q8_0", "Q4_0"})
    void forwardDecodeAndLoraGradientsEqualTheDequantizedModel(QuantType type) {
        Quantization.Result r = Quantization.apply(base, type);
        Transformer q = r.model(), ref = dequantized(q);
        assertThat(r.report().quantized()).as(r.report().describe()).isEqualTo(6 * 7 + 1); // every projection, and the tied embedding
        assertThat(r.report().bytesAfter()).isLessThan(r.report().bytesBefore() / (type == QuantType.INT8 || type == QuantType.Q8_0 ? 1 : 3));
        int v = q.config().vocabSize(), b = 3, t = 20;
        int[] ids = tokens(b * t, v, 5);

        // the prompt's pass: packed matmuls over dequantized panels
        float[] got = q.forward(ids, b, t, new Activations(q.config(), b, t, false));
        float[] want = ref.forward(ids, b, t, new Activations(ref.config(), b, t, false));
        assertThat(relativeError(got, want)).as("%s logits", type).isLessThan(1e-5);

        // decode steps of three sequences at once: rows dequantized as they stream
        KvCache cq = new KvCache(q.config(), b, t), cr = new KvCache(ref.config(), b, t);
        int[] seqs = {0, 1, 2};
        for (int s = 0; s < t; s++) {
            int[] step = {ids[s], ids[t + s], ids[2 * t + s]};
            float[] lq = q.forwardCached(step, seqs, 1, cq), lr = ref.forwardCached(step, seqs, 1, cr);
            assertThat(relativeError(lq, lr)).as("%s decode step %d", type, s).isLessThan(1e-5);
            // the same sequence alone gives the same logits, bit for bit: nothing depends on the batch
            if (s == 0) {
                KvCache alone = new KvCache(q.config(), 1, t);
                float[] one = q.forwardCached(new int[] {ids[t]}, new int[] {0}, 1, alone);
                assertThat(one).containsExactly(java.util.Arrays.copyOfRange(lq, v, 2 * v));
            }
        }

        // LoRA's backward pass through the frozen quantized weights
        LoraConfig cfg = LoraConfig.builder().r(4).alpha(8).build().withTargetsFor(q.config().modelType());
        LoraModel lq = LoraModel.inject(q, cfg, 11), lr = LoraModel.inject(ref, cfg, 11);
        List<int[]> rows = List.of(java.util.Arrays.copyOfRange(ids, 0, t), java.util.Arrays.copyOfRange(ids, t, 2 * t));
        Batch batch = Batch.of(rows, 0, 2, t);
        for (LoraModel lm : List.of(lq, lr)) {
            for (LoraLinear l : lm.modules().values()) java.util.Arrays.fill(l.b(), 0.01f); // B ≠ 0, so A's gradients are not zero
            lm.zeroGrad();
            lm.setTraining(true, 0);
            lm.model().loss(batch.tokens(), batch.targets(), 2, t, new Activations(q.config(), 2, t, true), 1f / batch.targetCount());
        }
        for (String name : lq.modules().keySet()) {
            LoraLinear a = lq.modules().get(name), c = lr.modules().get(name);
            assertThat(relativeError(a.gradA(), c.gradA())).as("%s %s lora_A grad", type, name).isLessThan(1e-4);
            assertThat(relativeError(a.gradB(), c.gradB())).as("%s %s lora_B grad", type, name).isLessThan(1e-4);
        }
    }
}
