package dev.lora4j.model;

import java.util.ArrayList;
import java.util.List;

/** One pre-norm transformer block: x += attention(norm1(x)); x += mlp(norm2(x)). */
public record Block(int index, Norm norm1, Attention attention, Norm norm2, Mlp mlp) {

    /** Every projection of the block, in module order (attention inputs, attention output, MLP). */
    public List<Projection> projections() {
        List<Projection> out = new ArrayList<>(attention.inputs());
        out.add(attention.output());
        switch (mlp) {
            case Mlp.Gelu g -> out.addAll(List.of(g.fc(), g.proj()));
            case Mlp.SwiGlu s -> out.addAll(List.of(s.gate(), s.up(), s.down()));
        }
        return out;
    }
}
