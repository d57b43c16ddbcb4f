package dev.lora4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * One pre-norm transformer block: x += attention(norm1(x)); x += mlp(norm2(x)). Gemma 2 and 3 also
 * normalise each half's output before adding it (sandwich norms): x += postAttention(attention(norm1(x))),
 * x += postMlp(mlp(norm2(x))).
 */
public record Block(int index, Norm norm1, Attention attention, Norm norm2, Mlp mlp,
                    Norm postAttentionNorm /* null without sandwich norms */, Norm postMlpNorm /* null likewise */) {

    public Block(int index, Norm norm1, Attention attention, Norm norm2, Mlp mlp) {
        this(index, norm1, attention, norm2, mlp, null, null);
    }

    public boolean sandwich() {
        return postAttentionNorm != null;
    }

    /** Every projection of the block, in module order (attention inputs, attention output, MLP). */
    public List<Projection> projections() {
        List<Projection> out = new ArrayList<>(attention.inputs());
        out.add(attention.output());
        switch (mlp) {
            case Mlp.Gelu g -> out.addAll(List.of(g.fc(), g.proj()));
            case Mlp.SwiGlu s -> out.addAll(List.of(s.gate(), s.up(), s.down()));
            case Mlp.FusedSwiGlu s -> out.addAll(List.of(s.gateUp(), s.down()));
            case Mlp.GeGlu g -> out.addAll(List.of(g.gate(), g.up(), g.down()));
        }
        return out;
    }

    /**
     * The same block with its norms and projections replaced (e.g. wrapped in LoRA adapters, made
     * trainable, merged), visited in module order: norm1, attention inputs, attention output, the head norms
     * of q and k (Qwen3, Gemma 3), the post-attention norm (Gemma 2, 3), norm2, MLP, the post-MLP norm.
     */
    public Block map(UnaryOperator<Norm> norms, UnaryOperator<Projection> projections) {
        Norm n1 = norms.apply(norm1);
        Attention a = attention;
        List<Projection> inputs = new ArrayList<>();
        for (Projection p : a.inputs()) inputs.add(projections.apply(p));
        Attention na = a.withProjections(inputs, projections.apply(a.output()));
        if (a.normalisesHeads()) na = na.withHeadNorms(norms.apply(a.qNorm()), norms.apply(a.kNorm()));
        Norm postA = postAttentionNorm == null ? null : norms.apply(postAttentionNorm);
        Norm n2 = norms.apply(norm2);
        Mlp m = switch (mlp) {
            case Mlp.Gelu g -> {
                Projection fc = projections.apply(g.fc());
                yield new Mlp.Gelu(fc, projections.apply(g.proj()));
            }
            case Mlp.SwiGlu g -> {
                Projection gate = projections.apply(g.gate()), up = projections.apply(g.up());
                yield new Mlp.SwiGlu(gate, up, projections.apply(g.down()));
            }
            case Mlp.FusedSwiGlu g -> {
                Projection gateUp = projections.apply(g.gateUp());
                yield new Mlp.FusedSwiGlu(gateUp, projections.apply(g.down()));
            }
            case Mlp.GeGlu g -> {
                Projection gate = projections.apply(g.gate()), up = projections.apply(g.up());
                yield new Mlp.GeGlu(gate, up, projections.apply(g.down()));
            }
        };
        return new Block(index, n1, na, n2, m, postA, postMlpNorm == null ? null : norms.apply(postMlpNorm));
    }
}
